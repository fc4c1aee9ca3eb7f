"""Every adapter against the datasets' real release files (annotations only, no videos).

The files live outside the repository, gzipped, in ``<repo>/../shared/realdata/files`` (provenance and row counts
in its ``SOURCES.md``); this module skips when that folder is absent. Each test unpacks the files into a data
root laid out as a user would, loads every split the files allow, and checks the counts per split against
SOURCES.md and every sample's fields against the raw rows, parsed here independently of the adapter.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from allinone_bench.data.datasets import get_adapter
from allinone_bench.errors import AnnotationError

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "files"
pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason=f"real release files not found at {REAL}")


def raw(name: str) -> bytes:
    return gzip.decompress((REAL / f"{name}.gz").read_bytes())


def unpack(root: Path, files: dict[str, str]) -> Path:
    """Write each ``files[target] = source`` (paths relative to the data root and to ``REAL``) un-gzipped."""
    for target, source in files.items():
        path = root / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(raw(source))
    return root


def rows(name: str, delimiter: str = "\t", header: bool = False) -> list[list[str]]:
    """Rows of a delimited file; tab-separated releases take quotes literally, comma csvs quote."""
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(raw(name).decode("utf-8"), newline=""), delimiter=delimiter, quoting=quoting)
    out = [r for r in reader if r]
    return out[1:] if header else out


# ------------------------------------------------------------------------------------------------ LSMDC-MC
def test_lsmdc_mc_valid_and_test(tmp_path: Path) -> None:
    files = {"valid": "LSMDC16_multiple_choice_valid.csv", "test": "LSMDC16_multiple_choice_test_randomized.csv"}
    unpack(tmp_path, {f"lsmdc/{name}": f"lsmdc/{name}" for name in files.values()})  # as downloaded: no meta_data/
    adapter = get_adapter("lsmdc_mc")(tmp_path, val_source="valid", val_order="file")
    val, test = adapter.load("val"), adapter.load("test")
    assert (len(val.samples), len(test.samples)) == (7408, 10053)  # SOURCES.md / README_MC.txt
    for split, key in ((val, "valid"), (test, "test")):
        expected = []
        for r in rows(f"lsmdc/{files[key]}"):
            answer = int(r[10]) - 1 if key == "test" else 0  # valid: correct sentence first, 11th field empty
            assert key == "test" or r[10:] == [""]
            expected.append((r[0], tuple(o.strip() for o in r[5:10]), answer))  # (a few start with a space)
        assert [(s.id, s.options, s.answer) for s in split.samples] == expected
    movie, clip = test.samples[0].video.path.parent.name, test.samples[0].id
    assert clip.startswith(movie + "_") and test.samples[0].video.path.name == f"{clip}.avi"
    shuffled = get_adapter("lsmdc_mc")(tmp_path, val_source="valid").load("val").samples
    assert [s.options[s.answer] for s in shuffled] == [e[1][0] for e in expected_valid(files["valid"])]
    assert Counter(s.answer for s in shuffled).most_common(1)[0][1] < 0.25 * len(shuffled)


def expected_valid(name: str) -> list[tuple[str, tuple[str, ...]]]:
    return [(r[0], tuple(o.strip() for o in r[5:10])) for r in rows(f"lsmdc/{name}")]


# ------------------------------------------------------------------------------------------------ TGIF-QA
TGIF = {"Test_frameqa_question.csv": 13691, "Test_action_question.csv": 2274,
        "Train_action_question.csv": 20471, "Test_transition_question.csv": 6232}


@pytest.fixture(scope="module")
def tgif_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = unpack(tmp_path_factory.mktemp("tgif"), {f"tgif/dataset/{n}": f"tgif/{n}" for n in TGIF})
    # Train_frameqa_question.csv (> 4 MiB) is not stored; FrameQA builds its vocabulary from it: a stand-in
    header = "gif_name\tquestion\tanswer\ttype\tvid_id\tkey\tdescription"
    stand_in = [header, "tumblr_a\twhat is it ?\tdog\t0\tFRAMEQA0\t0\ta dog", "tumblr_b\twho ?\tman\t0\tFRAMEQA1\t1\tx"]
    (root / "tgif/dataset/Train_frameqa_question.csv").write_text("\r\n".join(stand_in) + "\r\n")
    return root


def test_tgif_frameqa_test_file(tgif_root: Path) -> None:
    adapter = get_adapter("tgif_frameqa")(tgif_root)
    test = adapter.load("test")
    assert len(test.samples) == TGIF["Test_frameqa_question.csv"] and test.answer_vocab == {"dog": 0, "man": 1}
    expected = [(r[4], r[0], r[1], r[2]) for r in rows("tgif/Test_frameqa_question.csv", header=True)]
    assert [(s.id, s.video.path.stem, s.question, s.answer) for s in test.samples] == expected
    assert all(s.label == test.answer_vocab.get(s.answer) for s in test.samples)
    assert adapter.resolved_options()["annotation"] == "official"


@pytest.mark.parametrize("name", [n for n in TGIF if "frameqa" not in n])
def test_tgif_choice_files(tgif_root: Path, name: str) -> None:
    kind, split = name.split("_")[1], name.split("_")[0].lower()
    samples = get_adapter(f"tgif_{kind}")(tgif_root).load(split).samples
    assert len(samples) == TGIF[name]
    expected = [(r[8], r[0], r[1], tuple(r[2:7]), int(r[7])) for r in rows(f"tgif/{name}", header=True)]
    assert [(s.id, s.video.path.stem, s.question, s.options, s.answer) for s in samples] == expected


# ------------------------------------------------------------------------------------------------ MSVD-QA
MSVD = {"train": 30933, "val": 6415, "test": 13157}


def test_msvd_qa_original_files(tmp_path: Path) -> None:
    names = [f"{split}_qa.json" for split in MSVD] + ["answer_set.txt", "youtube_mapping.txt"]
    unpack(tmp_path, {f"msvd/{n}": f"msvd/{n}" for n in names})
    adapter = get_adapter("msvd_qa")(tmp_path)
    mapping = dict(reversed(line.split()) for line in raw("msvd/youtube_mapping.txt").decode().splitlines())
    assert len(mapping) == 1970
    loaded = {}
    for split, count in MSVD.items():
        loaded[split] = adapter.load(split)
        records = json.loads(raw(f"msvd/{split}_qa.json"))
        assert len(loaded[split].samples) == len(records) == count
        assert [(s.id, s.question, s.answer, s.video.path.stem) for s in loaded[split].samples] == [
            (str(r["id"]), r["question"], r["answer"], mapping[f"vid{r['video_id']}"]) for r in records]
    vocab = loaded["test"].answer_vocab
    assert len(vocab) == 1000 and adapter.resolved_options()["annotation"] == "official"
    assert sum(s.label is not None for s in loaded["test"].samples) > 0.9 * MSVD["test"]
    # the bundle's names for the same files (the *_encode files add question_encode): the same samples
    bundle = {f"msvd/meta_data/msvd_{s}_qa_encode.json": f"msvd/{s}_qa_encode.json" for s in ("val", "test")}
    unpack(tmp_path, {**bundle, "msvd/meta_data/msvd_answer_set.txt": "msvd/answer_set.txt",
                      "msvd/meta_data/msvd_youtube_mapping.txt": "msvd/youtube_mapping.txt"})
    from_bundle = get_adapter("msvd_qa")(tmp_path, annotation="bundle")
    for split in ("val", "test"):
        assert from_bundle.load(split).samples == loaded[split].samples


# ------------------------------------------------------------------------------------------------ MSR-VTT
def test_msrvtt_split_lists_and_jsfusion_csv(tmp_path: Path) -> None:
    lists = ("train_list_jsfusion", "val_list_jsfusion", "train_list_miech", "test_list_miech")
    unpack(tmp_path, {f"msrvtt/high-quality/structured-symlinks/{n}.txt": f"msrvtt/{n}.txt" for n in lists})
    unpack(tmp_path, {"msrvtt/MSRVTT_JSFUSION_test.csv": "msrvtt/MSRVTT_JSFUSION_test.csv"})
    counts = {}
    for cut in ("jsfusion", "miech"):
        adapter = get_adapter("msrvtt_ret")(tmp_path, cut=cut, val_source="test")
        counts[cut] = {split: len(adapter.video_ids(split)[1]) for split in ("train", "test")}
    assert counts == {"jsfusion": {"train": 9000, "test": 1000}, "miech": {"train": 6656, "test": 1000}}
    adapter = get_adapter("msrvtt_ret")(tmp_path)  # no MSR_VTT.json: the 1k-A captions come from the csv
    test = adapter.load("test")
    csv_rows = rows("msrvtt/MSRVTT_JSFUSION_test.csv", delimiter=";", header=True)
    assert len(test.samples) == len(csv_rows) == 1000
    listed = raw("msrvtt/val_list_jsfusion.txt").decode().split()
    assert [s.id for s in test.samples] == listed  # the list's order
    caption = {r[2]: r[3] for r in csv_rows}
    assert all(s.captions == (caption[s.id],) for s in test.samples)
    assert adapter.resolved_options()["caption_source"] == "jsfusion_csv"
    holdout = get_adapter("msrvtt_ret")(tmp_path)
    train, val = (set(v for _, v in holdout.video_ids(s)[1]) for s in ("train", "val"))
    assert len(val) == 900 and len(train) == 8100 and not train & val


# ------------------------------------------------------------------------------------------------ DiDeMo
@pytest.mark.parametrize(("split", "moments", "videos"), [("test", 4021, 1037), ("val", 4180, 1094)])
def test_didemo(tmp_path: Path, split: str, moments: int, videos: int) -> None:
    unpack(tmp_path, {f"didemo/data/{split}_data.json": f"didemo/{split}_data.json"})  # LocalizingMoments' data/
    records = json.loads(raw(f"didemo/{split}_data.json"))
    paragraphs = get_adapter("didemo")(tmp_path).load(split).samples
    sentences = get_adapter("didemo")(tmp_path, text_mode="single").load(split).samples
    assert (len(records), len(paragraphs), len(sentences)) == (moments, videos, moments)
    by_video: dict[str, list[str]] = defaultdict(list)
    for r in records:
        by_video[r["video"]].append(r["description"].strip())
    assert {s.id: sorted(s.captions) for s in paragraphs} == {v: sorted(d) for v, d in by_video.items()}
    first = paragraphs[0]
    moments_of = [r for r in records if r["video"] == first.id]
    starts = {r["description"].strip(): sorted(t[0] for t in r["times"])[len(r["times"]) // 2] for r in moments_of}
    assert [starts[c] for c in first.captions] == sorted(starts[c] for c in first.captions)  # temporal order


# ------------------------------------------------------------------------------------------------ ActivityNet
@pytest.mark.parametrize(("file", "videos", "sentences"), [("val_1", 4917, 17505), ("val_2", 4885, 17031)])
def test_activitynet_captions(tmp_path: Path, file: str, videos: int, sentences: int) -> None:
    unpack(tmp_path, {f"activitynet/{file}.json": f"activitynet/{file}.json"})
    samples = get_adapter("activitynet")(tmp_path, test_file=file).load("test").samples
    document = json.loads(raw(f"activitynet/{file}.json"))
    assert len(samples) == len(document) == videos and sum(len(s.captions) for s in samples) == sentences
    for sample in samples:
        entry = document[sample.id]
        order = sorted(range(len(entry["sentences"])), key=lambda i: tuple(entry["timestamps"][i]))
        assert sample.captions == tuple(entry["sentences"][i].strip() for i in order)


# ------------------------------------------------------------------------------------------------ YouCook2
def test_youcook2(tmp_path: Path) -> None:
    name = "youcookii_annotations_trainval.json"
    unpack(tmp_path, {f"youcook2/annotations/{name}": f"youcook2/{name}"})
    adapter = get_adapter("youcook2")(tmp_path)
    database = json.loads(raw(f"youcook2/{name}"))["database"]
    for split, subset, videos, segments in (("train", "training", 1333, 10337), ("test", "validation", 457, 3492)):
        loaded = adapter.load(split)
        expected = [(f"{v}_{a['id']}", (a["sentence"].strip(),), float(a["segment"][0]), float(a["segment"][1]))
                    for v, e in database.items() if e["subset"] == subset for a in e["annotations"]]
        assert len(expected) == segments and len({e[0].rsplit("_", 1)[0] for e in expected}) == videos
        assert [(s.id, s.captions, s.video.start, s.video.end) for s in loaded.samples] == expected
        assert not [p for p in loaded.problems if "empty window" in p[1]]


# ------------------------------------------------------------------------------------------------ Kinetics-400
def test_kinetics400_val_and_unlabelled_test(tmp_path: Path) -> None:
    unpack(tmp_path, {"k400/kinetics-400_val.csv": "k400/kinetics-400_val.csv",  # the crawler's names
                      "k400/kinetics-400_test.csv": "k400/kinetics-400_test.csv"})
    adapter = get_adapter("k400")(tmp_path)  # no train.csv: the val csv gives the class list
    test = adapter.load("test")
    table = rows("k400/kinetics-400_val.csv", delimiter=",", header=True)
    assert len(test.samples) == len(table) == 19906 and len(test.class_names or []) == 400
    assert [(s.id, s.label_name) for s in test.samples] == [
        (f"{r[1]}_{int(r[2]):06d}_{int(r[3]):06d}", r[0]) for r in table]
    assert all(test.class_names[s.label] == s.label_name for s in test.samples)  # type: ignore[index]
    with pytest.raises(AnnotationError, match="no 'label' column .*the 2017 test csv"):
        get_adapter("k400")(tmp_path, test_file="test").load("test")
    (tmp_path / "k400/kinetics-400_val.csv").write_bytes(b"\xef\xbb\xbf" + raw("k400/kinetics-400_val.csv"))
    assert get_adapter("k400")(tmp_path).load("test").samples == test.samples  # the header survives a BOM


# ------------------------------------------------------------------------------------------------ HMDB51
def test_hmdb51_official_splits(tmp_path: Path) -> None:
    sources = sorted(p.name[:-3] for p in (REAL / "hmdb51/hmdb51_splits").glob("*.txt.gz"))
    assert len(sources) == 153
    unpack(tmp_path, {f"hmdb51/testTrainMulti_7030_splits/{n}": f"hmdb51/hmdb51_splits/{n}" for n in sources})
    for number in (1, 2, 3):
        adapter = get_adapter("hmdb51")(tmp_path, split=number)
        train, test = adapter.load("train"), adapter.load("test")
        assert (len(train.samples), len(test.samples)) == (3570, 1530)
        names = train.class_names or []
        assert len(names) == 51 and names == sorted(names) and names[0] == "brush_hair"
        assert names.index("climb") < names.index("climb_stairs")  # by class name, not by split-file name
        per_class = Counter(s.label_name for s in train.samples)
        assert set(per_class.values()) == {70} and set(Counter(s.label_name for s in test.samples).values()) == {30}
        expected = {(line.split()[0][:-4], cls) for cls in names
                    for line in raw(f"hmdb51/hmdb51_splits/{cls}_test_split{number}.txt").decode().splitlines()
                    if line.split()[1] == "2"}
        assert {(s.id, s.label_name) for s in test.samples} == expected


# ------------------------------------------------------------------------------------------------ UCF101
@pytest.mark.parametrize(("number", "train_count", "test_count"), [(1, 9537, 3783), (2, 9586, 3734), (3, 9624, 3696)])
def test_ucf101_lists_with_crlf(tmp_path: Path, number: int, train_count: int, test_count: int) -> None:
    names = ["classInd.txt", f"trainlist{number:02d}.txt", f"testlist{number:02d}.txt"]
    unpack(tmp_path, {f"ucf101/ucfTrainTestlist/{n}": f"ucf101/ucf101_splits/{n}" for n in names})
    assert b"\r\n" in raw(f"ucf101/ucf101_splits/{names[1]}")
    adapter = get_adapter("ucf101")(tmp_path, split=number)
    train, test = adapter.load("train"), adapter.load("test")
    assert (len(train.samples), len(test.samples)) == (train_count, test_count)
    assert len(train.class_names or []) == 101
    expected = [(line.split()[0].split("/")[1][:-4], int(line.split()[1]) - 1)
                for line in raw(f"ucf101/ucf101_splits/{names[1]}").decode().splitlines()]
    assert [(s.id, s.label) for s in train.samples] == expected
    assert {s.label for s in test.samples} == set(range(101))
