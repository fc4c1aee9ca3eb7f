"""Original public releases beside the All-in-One bundle (MSVD-QA, MSRVTT-QA, TGIF-QA, JSFusion's 1k-A csv):
hand-written files in each release's format, which form ``annotation: auto`` picks and records, and files
saved with a byte-order mark and Windows line ends (every adapter)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from allinone_bench.data.datasets import get_adapter, list_adapters
from allinone_bench.data.datasets.base import answer_vocab
from allinone_bench.errors import AnnotationError


def write(path: Path, text: str, newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


QA = [{"answer": "man", "id": 10, "question": "who sings?", "video_id": 1},
      {"answer": "guitar", "id": 11, "question": "what is played?", "video_id": 2},
      {"answer": "man", "id": 12, "question": "who walks?", "video_id": 2}]


def test_answer_vocab_is_by_frequency_then_name() -> None:
    answers = ["b", "a", "c", "a", "b", "d"]
    assert answer_vocab(answers) == {"a": 0, "b": 1, "c": 2, "d": 3}
    assert answer_vocab(answers, 2) == {"a": 0, "b": 1}
    assert answer_vocab(reversed(answers), 3) == answer_vocab(answers, 3)  # file order does not matter


def test_msvd_qa_original_names_and_auto(tmp_path: Path) -> None:
    root = tmp_path / "msvd"
    for split in ("train", "val", "test"):
        write(root / f"{split}_qa.json", json.dumps(QA, separators=(",", ":")))
    write(root / "answer_set.txt", "man\nwoman\n")
    write(root / "youtube_mapping.txt", "-4wsuPCjDBc_5_15 vid1\nabc_1_9 vid2\n")
    adapter = get_adapter("msvd_qa")(tmp_path)
    test = adapter.load("test")
    assert [(s.id, s.answer, s.label) for s in test.samples] == [("10", "man", 0), ("11", "guitar", None),
                                                                 ("12", "man", 0)]
    assert test.samples[1].video.path == root / "YouTubeClips/abc_1_9.avi"
    assert [p.name for p in test.annotation_files] == ["test_qa.json", "youtube_mapping.txt", "answer_set.txt"]
    assert adapter.resolved_options()["annotation"] == "official"
    # the bundle's names hold the same records: same samples, and `bundle` reads them even beside the original
    meta = root / "meta_data"
    write(meta / "msvd_test_qa_encode.json", json.dumps([{**r, "question_encode": "1,2"} for r in QA]))
    write(meta / "msvd_answer_set.txt", "man\nwoman\n")
    write(meta / "msvd_youtube_mapping.txt", "-4wsuPCjDBc_5_15 vid1\nabc_1_9 vid2\n")
    bundle = get_adapter("msvd_qa")(tmp_path, annotation="bundle")
    assert bundle.load("test").samples == test.samples
    assert bundle.resolved_options()["annotation"] == "bundle"
    with pytest.raises(AnnotationError, match=r"(?s)missing annotation file .*msvd_train_qa_encode\.json"
                                              r"\nexpected layout:\nDATA_ROOT/msvd/"):
        bundle.load("train")


def test_msvd_qa_nothing_there_names_both_forms(tmp_path: Path) -> None:
    (tmp_path / "msvd").mkdir()
    with pytest.raises(AnnotationError, match=r"(?s)neither the official release nor the All-in-One bundle .*"
                                              r"test_qa\.json.*msvd_test_qa_encode\.json.*expected layout"):
        get_adapter("msvd_qa")(tmp_path).load("test")


def test_msrvtt_qa_original_json_builds_its_vocabulary(tmp_path: Path) -> None:
    folder = tmp_path / "msrvtt/MSRVTT-QA"  # as unzipped
    train = [{"answer": a, "id": i, "question": f"q{i}", "video_id": i, "category_id": 3}
             for i, a in enumerate(["dog", "man", "dog", "cat", "man", "dog"])]
    write(folder / "train_qa.json", json.dumps(train))
    write(folder / "val_qa.json", json.dumps([{"answer": "cat", "id": 100, "question": "v", "video_id": 7000}]))
    write(folder / "test_qa.json", json.dumps([{"answer": "man", "id": 200, "question": "t", "video_id": 7010},
                                               {"answer": "cat", "id": 201, "question": "u", "video_id": 7011}]))
    adapter = get_adapter("msrvtt_qa")(tmp_path, vocab_size=2)
    test = adapter.load("test")
    assert test.answer_vocab == {"dog": 0, "man": 1}  # the 2 most frequent training answers
    assert [(s.id, s.label, s.video.path.name) for s in test.samples] == [("200", 1, "video7010.mp4"),
                                                                          ("201", None, "video7011.mp4")]
    assert [p.name for p in test.annotation_files] == ["test_qa.json", "train_qa.json"]
    assert adapter.resolved_options() == {"val_file": "val", "annotation": "official", "vocab_size": 2}
    assert len(get_adapter("msrvtt_qa")(tmp_path).load("train").answer_vocab) == 3  # vocab_size 1500 > 3
    assert [s.id for s in get_adapter("msrvtt_qa")(tmp_path, val_file="test").load("val").samples] == ["200", "201"]


def test_resolution_is_recorded_per_split_when_forms_differ(tmp_path: Path) -> None:
    """train from the bundle, test from the original: results.json must say so per split."""
    meta = tmp_path / "msrvtt/meta_data"
    write(meta / "msrvtt_qa_train.jsonl", json.dumps({"answer": "dog", "question": "q", "video_id": "video1"}) + "\n")
    write(meta / "msrvtt_train_ans2label.json", json.dumps({"dog": 0}))
    adapter = get_adapter("msrvtt_qa")(tmp_path)
    adapter.load("train")
    write(tmp_path / "msrvtt/test_qa.json", json.dumps([{"answer": "dog", "id": 1, "question": "q", "video_id": 1}]))
    write(tmp_path / "msrvtt/train_qa.json", json.dumps([{"answer": "dog", "id": 0, "question": "q", "video_id": 1}]))
    adapter.load("test")
    assert adapter.resolved_options()["annotation"] == {"test": "official", "train": "bundle"}


FRAMEQA_HEADER = "gif_name\tquestion\tanswer\ttype\tvid_id\tkey\tdescription"
CHOICE_HEADER = "gif_name\tquestion\ta1\ta2\ta3\ta4\ta5\tanswer\tvid_id\tkey"


@pytest.fixture()
def tgif_release(tmp_path: Path) -> Path:
    """The TGIF-QA release files as its repository ships them (dataset/, tab-separated, CRLF)."""
    folder = tmp_path / "tgif/dataset"
    train = [f"tumblr_{i:03d}\twhat is here ?\t{'dog' if i % 3 else 'cat'}\t0\tFRAMEQA{i}\t{i}\ta dog ." for i in range(20)]
    write(folder / "Train_frameqa_question.csv", "\n".join([FRAMEQA_HEADER, *train]) + "\n", "\r\n")
    write(folder / "Test_frameqa_question.csv",
          f"{FRAMEQA_HEADER}\ntumblr_t1\twhat is red ?\tcar\t1\tFRAMEQA900\t77\ta red car .\n", "\r\n")
    for kind, prefix in (("action", "ACTION"), ("transition", "TRANS")):
        rows = [f"tumblr_{i:03d}\tWhat does the man do 3 times ?\trun\tjump\tsit\twave\tnod\t{i % 5}\t{prefix}{i}\t{i}"
                for i in range(10)]
        write(folder / f"Train_{kind}_question.csv", "\n".join([CHOICE_HEADER, *rows]) + "\n", "\r\n")
        write(folder / f"Test_{kind}_question.csv",
              f"{CHOICE_HEADER}\ntumblr_t1\tWhat does the cat do after jump ?\ta\tb\tc\td\te\t3\t{prefix}99\t5\n",
              "\r\n")
    return tmp_path


def test_tgif_frameqa_from_the_release_csv(tgif_release: Path) -> None:
    adapter = get_adapter("tgif_frameqa")(tgif_release)
    train = adapter.load("train")
    assert len(train.samples) == 20 and train.answer_vocab == {"dog": 0, "cat": 1}
    assert train.samples[1].id == "FRAMEQA1" and train.samples[1].question == "what is here ?"
    assert train.samples[0].video.path == tgif_release / "tgif/gifs/tumblr_000.gif"
    (test,) = adapter.load("test").samples
    assert (test.id, test.answer, test.label) == ("FRAMEQA900", "car", None)
    assert adapter.resolved_options()["annotation"] == "official"
    held = get_adapter("tgif_frameqa")(tgif_release, val_source="holdout")
    h_val = held.load("val")
    assert len(h_val.samples) == 2 and len(held.load("train").samples) == 18
    path = tgif_release / "tgif/dataset/Train_frameqa_question.csv"  # held-out GIFs answer a word of their own
    gifs = {s.video.path.stem for s in h_val.samples}
    lines = [line if line.split("\t")[0] not in gifs else line.replace("\tdog\t", "\tzebra\t").replace(
        "\tcat\t", "\tzebra\t") for line in path.read_text().splitlines()]
    write(path, "\n".join(lines) + "\n", "\r\n")
    assert "zebra" in held.load("train").answer_vocab  # the vocabulary comes from the whole training file


@pytest.mark.parametrize("kind", ["action", "transition"])
def test_tgif_choice_from_the_release_csv(tgif_release: Path, kind: str) -> None:
    adapter = get_adapter(f"tgif_{kind}")(tgif_release)
    assert [s.answer for s in adapter.load("train").samples[:6]] == [0, 1, 2, 3, 4, 0]
    (test,) = adapter.load("test").samples
    assert test.options == ("a", "b", "c", "d", "e") and test.answer == 3 and test.id.endswith("99")
    path = tgif_release / f"tgif/dataset/Test_{kind}_question.csv"
    write(path, f"{CHOICE_HEADER}\ntumblr_t1\tq\ta\tb\tc\td\te\t3\n")
    with pytest.raises(AnnotationError, match=rf"Test_{kind}_question\.csv:2: expected 10 tab-separated fields"):
        adapter.load("test")


def test_jsfusion_csv_alone_is_a_1k_a_test_set(tmp_path: Path) -> None:
    root = tmp_path / "msrvtt"
    write(root / "MSRVTT_JSFUSION_test.csv",
          "key;vid_key;video_id;sentence\nret0;msr9;video9;a man sings\nret1;msr7;video7;a cat sleeps", "\r\n")
    adapter = get_adapter("msrvtt_ret")(tmp_path)
    test = adapter.load("test")
    assert [(s.id, s.captions) for s in test.samples] == [("video9", ("a man sings",)), ("video7", ("a cat sleeps",))]
    assert adapter.resolved_options()["caption_source"] == "jsfusion_csv"
    lists = root / "high-quality/structured-symlinks"
    write(lists / "val_list_jsfusion.txt", "video7\nvideo9\n")  # with the list: its order, same videos
    assert [s.id for s in get_adapter("msrvtt_ret")(tmp_path).load("test").samples] == ["video7", "video9"]
    write(lists / "val_list_jsfusion.txt", "video7\nvideo8\n")
    with pytest.raises(AnnotationError, match=r"MSRVTT_JSFUSION_test\.csv: its videos differ from .*"
                                              r"val_list_jsfusion\.txt \(2 in one only"):
        get_adapter("msrvtt_ret")(tmp_path).load("test")
    with pytest.raises(AnnotationError, match=r"missing annotation file .*MSR_VTT\.json"):
        get_adapter("msrvtt_ret")(tmp_path, caption_source="msrvtt_json").load("test")


def test_synthetic_sets_hold_both_forms_alike(tmp_path: Path) -> None:
    for name in ("msvd_qa", "msrvtt_qa", "tgif_frameqa", "tgif_action", "msrvtt_ret"):
        get_adapter(name).synthesize(tmp_path, num_videos=9, seed=1)

    def key(s: object) -> tuple:
        return tuple(getattr(s, f, None) for f in ("video", "question", "answer", "options", "captions"))

    for name, option in (("msvd_qa", "annotation"), ("msrvtt_qa", "annotation"), ("tgif_frameqa", "annotation"),
                         ("tgif_action", "annotation"), ("msrvtt_ret", "caption_source")):
        values = ("msrvtt_json", "jsfusion_csv") if option == "caption_source" else ("official", "bundle")
        loaded = [get_adapter(name)(tmp_path, **{option: v}).load("test").samples for v in values]
        assert sorted(map(key, loaded[0]), key=str) == sorted(map(key, loaded[1]), key=str), name
        if name.startswith("tgif"):
            assert [s.id for s in loaded[0]][0].startswith(("FRAMEQA", "ACTION"))


ANNOTATION_SUFFIXES = (".json", ".jsonl", ".csv", ".tsv", ".txt", ".list")


@pytest.mark.parametrize("name", sorted(list_adapters()))
def test_bom_and_crlf_are_tolerated_everywhere(tmp_path: Path, name: str) -> None:
    """Every annotation file re-saved as a Windows tool would (BOM + CRLF) parses to the same samples."""
    plain, windows = tmp_path / "plain", tmp_path / "windows"
    for root in (plain, windows):
        get_adapter(name).synthesize(root, num_videos=12, seed=0)
    for path in windows.rglob("*"):
        if path.suffix in ANNOTATION_SUFFIXES and path.is_file():
            text = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            path.write_bytes(b"\xef\xbb\xbf" + text)
    for split in get_adapter(name).splits:
        try:
            a = get_adapter(name)(plain).load(split)
        except AnnotationError as err:  # e.g. TVQA test-public hides its labels: the Windows copy fails alike
            with pytest.raises(AnnotationError) as again:
                get_adapter(name)(windows).load(split)
            assert str(again.value).replace(str(windows), str(plain)) == str(err)
            continue
        b = get_adapter(name)(windows).load(split)

        def rel(sample: object, root: Path) -> tuple:
            videos = (sample.video, *(getattr(sample, "option_videos", None) or ()))
            return sample.id, tuple(str(v.path.relative_to(root)) for v in videos)

        assert [rel(s, plain) for s in a.samples] == [rel(s, windows) for s in b.samples], (name, split)
        strip = {f: None for f in ("video", "option_videos")}
        assert [{**vars(s), **strip} for s in a.samples] == [{**vars(s), **strip} for s in b.samples]
        assert a.class_names == b.class_names and a.answer_vocab == b.answer_vocab
