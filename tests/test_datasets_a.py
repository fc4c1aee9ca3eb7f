"""Dataset adapters msrvtt_ret/qa/mc, msvd_qa, tgif_frameqa/action/transition, lsmdc_mc, and the base readers:
synthetic sets end to end, and hand-written lines in each official format (including malformed ones)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from allinone_bench.data.datasets import MISSING_VIDEO, drop_missing_videos, get_adapter, list_adapters
from allinone_bench.data.datasets.base import holdout_keys, read_csv, read_json_records, read_jsonl, read_tsv
from allinone_bench.data.types import MultipleChoiceSample, OpenQASample, RetrievalSample
from allinone_bench.errors import AnnotationError, ConfigError

MINE = ("msrvtt_ret", "msrvtt_qa", "msrvtt_mc", "msvd_qa", "tgif_frameqa", "tgif_action", "tgif_transition",
        "lsmdc_mc")


# --------------------------------------------------------------------------------------------------
# Synthetic sets (all written into ONE data root: adapters sharing a dataset folder must coexist)


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    for name in MINE:
        get_adapter(name).synthesize(root, num_videos=24, seed=0)
    return root


def test_registry() -> None:
    assert set(MINE) <= set(list_adapters())
    with pytest.raises(ConfigError, match="msrvtt_qa"):  # the message lists the known names
        get_adapter("no_such_dataset")


@pytest.mark.parametrize("name", MINE)
def test_synthetic_set_loads_and_decodes(synth_root: Path, name: str) -> None:
    from allinone_bench.data.video import read_frames

    adapter_cls = get_adapter(name)
    adapter = adapter_cls(synth_root)
    videos_by_split = {}
    for split in adapter_cls.splits:
        loaded = adapter.load(split)
        assert loaded.dataset == name and loaded.split == split
        assert loaded.samples and loaded.problems == []
        assert all(isinstance(s, adapter_cls.sample_type) for s in loaded.samples)
        assert all(p.is_file() for p in loaded.annotation_files)
        paths = adapter.video_paths(split)
        assert all(p.exists() for p in paths)
        videos_by_split[split] = set(paths)
        frames = read_frames(loaded.samples[0].video, [0, 8, 15])
        assert frames.shape == (3, 64, 64, 3)
    if "train" in videos_by_split:
        for other in ("val", "test"):
            assert not videos_by_split["train"] & videos_by_split.get(other, set()), f"train overlaps {other}"


@pytest.mark.parametrize("name", ["msrvtt_qa", "msvd_qa", "tgif_frameqa"])
def test_synthetic_open_qa_labels_and_oov(synth_root: Path, name: str) -> None:
    adapter = get_adapter(name)(synth_root)
    train = adapter.load("train")
    assert train.answer_vocab and all(s.label == train.answer_vocab[s.answer] for s in train.samples)
    test = adapter.load("test")
    oov = [s for s in test.samples if s.label is None]
    assert oov and all(s.answer not in test.answer_vocab for s in oov)
    assert all(s.label == test.answer_vocab[s.answer] for s in test.samples if s.label is not None)
    # questions answered by the scene: a colour question's answer is a colour word
    colour_qs = [s for s in train.samples if "color" in s.question]
    assert colour_qs and {s.answer for s in colour_qs} <= {"red", "green", "blue", "yellow"}


@pytest.mark.parametrize("name", ["msrvtt_mc", "lsmdc_mc", "tgif_action", "tgif_transition"])
def test_synthetic_multiple_choice(synth_root: Path, name: str) -> None:
    adapter = get_adapter(name)(synth_root)
    samples = adapter.load("test").samples
    assert all(len(s.options) == 5 and len(set(s.options)) == 5 and 0 <= s.answer < 5 for s in samples)
    assert len({s.answer for s in samples}) > 1, "answers should not all sit at one position"
    if name.startswith("tgif"):
        assert all(s.question for s in samples)


def test_synthetic_retrieval_captions(synth_root: Path) -> None:
    adapter = get_adapter("msrvtt_ret")(synth_root)
    train = adapter.load("train").samples
    assert all(isinstance(s, RetrievalSample) and len(s.captions) > 1 for s in train)
    test = adapter.load("test").samples
    assert all(len(s.captions) == 1 for s in test)
    all_caps = get_adapter("msrvtt_ret")(synth_root, eval_captions="all").load("test").samples
    assert all(len(s.captions) > 1 for s in all_caps)
    assert all(a.captions[0] in b.captions for a, b in zip(test, all_caps, strict=True))


# --------------------------------------------------------------------------------------------------
# Hand-written official-format files


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not decoded here")


def jsonl(*records: object) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


@pytest.fixture()
def msrvtt_root(tmp_path: Path) -> Path:
    root = tmp_path / "msrvtt"
    anns = [{"image_id": f"video{v}", "caption": f"caption {k} of video {v}", "id": 10 * v + k}
            for v in range(4) for k in range(3)]
    write(root / "annotation/MSR_VTT.json", json.dumps({"info": {}, "annotations": anns}))
    lists = root / "high-quality/structured-symlinks"
    write(lists / "train_list_jsfusion.txt", "video0\nvideo1\n\n")
    write(lists / "val_list_jsfusion.txt", "video2\nvideo3\n")
    write(lists / "train_list_miech.txt", "video0\n")
    write(lists / "test_list_miech.txt", "video3\n")
    with open(lists / "jsfusion_val_caption_idx.pkl", "wb") as fh:
        pickle.dump({"video2": 2, "video3": 1}, fh)
    for v in (0, 1, 2):  # video3.mp4 is missing on purpose
        touch(root / f"videos/all/video{v}.mp4")
    return tmp_path


def test_msrvtt_ret_official_files(msrvtt_root: Path) -> None:
    official = get_adapter("msrvtt_ret")(msrvtt_root, val_source="test")
    train = official.load("train")
    assert [s.id for s in train.samples] == ["video0", "video1"]
    assert train.samples[0].captions == ("caption 0 of video 0", "caption 1 of video 0", "caption 2 of video 0")
    test = official.load("test")
    assert [s.captions for s in test.samples] == [("caption 2 of video 2",), ("caption 1 of video 3",)]
    assert test.problems == [(str(msrvtt_root / "msrvtt/videos/all/video3.mp4"), MISSING_VIDEO)]
    assert [s.id for s in official.load("val").samples] == ["video2", "video3"]
    kept, dropped = drop_missing_videos(test)
    assert dropped == 1 and [s.id for s in kept.samples] == ["video2"]
    every = get_adapter("msrvtt_ret")(msrvtt_root, eval_captions="all").load("test")
    assert all(len(s.captions) == 3 for s in every.samples)
    miech = get_adapter("msrvtt_ret")(msrvtt_root, cut="miech", val_source="test").load("test")
    assert [(s.id, s.captions) for s in miech.samples] == [("video3", ("caption 0 of video 3",))]
    # passing the dataset folder itself also works
    assert len(get_adapter("msrvtt_ret")(msrvtt_root / "msrvtt").load("test").samples) == 2


def test_msrvtt_ret_holdout_val(msrvtt_root: Path) -> None:
    adapter = get_adapter("msrvtt_ret")(msrvtt_root)  # default val_source: holdout
    train, val = adapter.load("train"), adapter.load("val")
    train_ids, val_ids = {s.id for s in train.samples}, {s.id for s in val.samples}
    assert train_ids | val_ids == {"video0", "video1"} and not train_ids & val_ids and len(val_ids) == 1
    assert all(len(s.captions) == 1 for s in val.samples)  # eval protocol on val: one caption
    assert holdout_keys(["b", "a", "c"]) == holdout_keys(["c", "b", "a"])  # order-free
    assert len(holdout_keys([f"v{i}" for i in range(100)])) == 10


def test_msrvtt_ret_caption_index_as_pandas_series(msrvtt_root: Path) -> None:
    import pandas as pd

    path = msrvtt_root / "msrvtt/high-quality/structured-symlinks/jsfusion_val_caption_idx.pkl"
    pd.Series({"video2": 0, "video3": 2}).to_pickle(path)
    test = get_adapter("msrvtt_ret")(msrvtt_root).load("test")
    assert [s.captions[0] for s in test.samples] == ["caption 0 of video 2", "caption 2 of video 3"]


def test_msrvtt_ret_errors(msrvtt_root: Path) -> None:
    lists = msrvtt_root / "msrvtt/high-quality/structured-symlinks"
    with pytest.raises(ConfigError, match="unknown option 'cutt'"):
        get_adapter("msrvtt_ret")(msrvtt_root, cutt="miech")
    with pytest.raises(ConfigError, match="cut='1k'"):
        get_adapter("msrvtt_ret")(msrvtt_root, cut="1k")
    with pytest.raises(ConfigError, match="no split 'dev'"):
        get_adapter("msrvtt_ret")(msrvtt_root).load("dev")
    with open(lists / "jsfusion_val_caption_idx.pkl", "wb") as fh:
        pickle.dump({"video2": 7, "video3": 0}, fh)
    with pytest.raises(AnnotationError, match="caption index 7 of video 'video2' is out of range"):
        get_adapter("msrvtt_ret")(msrvtt_root).load("test")
    write(lists / "val_list_jsfusion.txt", "video2\nvideo9\n")
    with pytest.raises(AnnotationError, match=r"val_list_jsfusion\.txt:2: video 'video9' has no captions"):
        get_adapter("msrvtt_ret")(msrvtt_root, eval_captions="all").load("test")
    (lists / "train_list_jsfusion.txt").unlink()
    layout_hint = r"(?s)missing annotation file .*train_list_jsfusion\.txt\nexpected layout:\nDATA_ROOT/msrvtt/"
    with pytest.raises(AnnotationError, match=layout_hint):
        get_adapter("msrvtt_ret")(msrvtt_root).load("train")


def test_msrvtt_qa_official_lines(tmp_path: Path) -> None:
    meta = tmp_path / "msrvtt/meta_data"
    write(meta / "msrvtt_qa_train.jsonl", jsonl(
        {"answer": "man", "question": "who is talking?", "video_id": "video0", "answer_type": "who"},
        {"answer": "dog", "question": "what runs?", "video_id": "video1"}))
    write(meta / "msrvtt_qa_val.jsonl", jsonl({"answer": "cat", "question": "what sits?", "video_id": "video2"}))
    write(meta / "msrvtt_qa_test.jsonl", jsonl({"answer": "dog", "question": "what barks?", "video_id": "video7010"},
                                               {"answer": "zebra", "question": "what?", "video_id": "video7011"}))
    write(meta / "msrvtt_train_ans2label.json", json.dumps({"man": 0, "dog": 1}))
    adapter = get_adapter("msrvtt_qa")(tmp_path)
    train = adapter.load("train")
    assert [(s.answer, s.label) for s in train.samples] == [("man", 0), ("dog", 1)]
    assert train.samples[0].video.path == tmp_path / "msrvtt/videos/all/video0.mp4"
    assert len(train.problems) == 2 and all(r == MISSING_VIDEO for _, r in train.problems)
    assert [s.answer for s in adapter.load("val").samples] == ["cat"]
    assert [s.label for s in adapter.load("test").samples] == [1, None]
    on_test = get_adapter("msrvtt_qa")(tmp_path, val_file="test").load("val")
    assert [s.question for s in on_test.samples] == ["what barks?", "what?"]
    assert len({s.id for s in on_test.samples}) == 2

    write(meta / "msrvtt_qa_test.jsonl", jsonl({"answer": "dog", "question": "q", "video_id": "video1"})
          + '{"answer": "dog", "question": \n')
    with pytest.raises(AnnotationError, match=r"msrvtt_qa_test\.jsonl:2: invalid JSON"):
        adapter.load("test")
    write(meta / "msrvtt_qa_test.jsonl", jsonl({"answer": "dog", "question": "q", "video_id": "video1"},
                                               {"answer": "dog", "video_id": "video1"}))
    with pytest.raises(AnnotationError, match=r"msrvtt_qa_test\.jsonl:2: missing key 'question'"):
        adapter.load("test")
    write(meta / "msrvtt_qa_test.jsonl", jsonl({"answer": 3, "question": "q", "video_id": "video1"}))
    with pytest.raises(AnnotationError, match=r"msrvtt_qa_test\.jsonl:1: key 'answer' should be str"):
        adapter.load("test")


def test_msrvtt_mc_official_lines(tmp_path: Path) -> None:
    meta = tmp_path / "msrvtt/meta_data"
    options = ["a", "b", "c", "d", "e"]
    write(meta / "msrvtt_mc_test.jsonl", jsonl({"clip_name": "video7010", "options": options, "answer": 3}))
    adapter = get_adapter("msrvtt_mc")(tmp_path)
    (sample,) = adapter.load("test").samples
    assert isinstance(sample, MultipleChoiceSample)
    assert sample.options == tuple(options) and sample.answer == 3 and sample.question == ""
    assert sample.video.path.name == "video7010.mp4"
    with pytest.raises(ConfigError, match="no split 'train'"):
        adapter.load("train")
    write(meta / "msrvtt_mc_test.jsonl", jsonl({"clip_name": "video1", "options": options, "answer": 0},
                                               {"clip_name": "video2", "options": options[:4], "answer": 0}))
    with pytest.raises(AnnotationError, match=r"msrvtt_mc_test\.jsonl:2: key 'options' should have 5 entries"):
        adapter.load("test")
    write(meta / "msrvtt_mc_test.jsonl", jsonl({"clip_name": "video1", "options": options, "answer": 5}))
    with pytest.raises(AnnotationError, match=r":1: answer 5 is not a 0-based index"):
        adapter.load("test")


MSVD_RECORDS = [
    {"answer": "man", "id": 0, "question": "who is singing?", "video_id": 1},
    {"answer": "guitar", "id": 1, "question": "what is played?", "video_id": 2},
    {"answer": "sing", "id": 2, "question": "what does the man do?", "video_id": 1},
]


@pytest.mark.parametrize("layout", ["one_line_array", "pretty_array", "jsonl"])
def test_msvd_qa_formats(tmp_path: Path, layout: str) -> None:
    meta = tmp_path / "msvd/meta_data"
    text = {
        "one_line_array": json.dumps(MSVD_RECORDS),
        "pretty_array": json.dumps(MSVD_RECORDS, indent=2),
        "jsonl": jsonl(*MSVD_RECORDS),
    }[layout]
    for split in ("train", "val", "test"):
        write(meta / f"msvd_{split}_qa_encode.json", text)
    write(meta / "msvd_answer_set.txt", "man\nguitar\nwoman\n")
    write(meta / "msvd_youtube_mapping.txt", "-4wsuPCjDBc_5_15 vid1\nabc_1_9 vid2\n")
    touch(tmp_path / "msvd/YouTubeClips/-4wsuPCjDBc_5_15.avi")
    split = get_adapter("msvd_qa")(tmp_path).load("train")
    assert [(s.id, s.answer, s.label) for s in split.samples] == [("0", "man", 0), ("1", "guitar", 1),
                                                                  ("2", "sing", None)]
    assert split.samples[0].video.path == tmp_path / "msvd/YouTubeClips/-4wsuPCjDBc_5_15.avi"
    assert split.answer_vocab == {"man": 0, "guitar": 1, "woman": 2}
    assert split.problems == [(str(tmp_path / "msvd/YouTubeClips/abc_1_9.avi"), MISSING_VIDEO)]


def test_msvd_qa_errors(tmp_path: Path) -> None:
    meta = tmp_path / "msvd/meta_data"
    write(meta / "msvd_test_qa_encode.json", json.dumps(MSVD_RECORDS + [{"answer": "x", "question": "y",
                                                                        "video_id": 9}]))
    write(meta / "msvd_answer_set.txt", "man\n")
    write(meta / "msvd_youtube_mapping.txt", "-4wsuPCjDBc_5_15 vid1\nabc_1_9 vid2\n")
    adapter = get_adapter("msvd_qa")(tmp_path)
    with pytest.raises(AnnotationError, match=r"msvd_test_qa_encode\.json \(record 3\): video_id 9 has no line 'vid9'"):
        adapter.load("test")
    write(meta / "msvd_youtube_mapping.txt", "-4wsuPCjDBc_5_15 vid1\nbroken-line\n")
    with pytest.raises(AnnotationError, match=r"msvd_youtube_mapping\.txt:2: expected '<youtube_clip_name> vid<N>'"):
        adapter.load("test")


@pytest.fixture()
def tgif_root(tmp_path: Path) -> Path:
    meta = tmp_path / "tgif/meta_data"
    write(meta / "frameqa_train.jsonl", jsonl(*[
        {"gif_name": f"tumblr_{i:03d}", "question": f"what is object {i}?", "answer": "dog" if i % 2 else "cat"}
        for i in range(20)]))
    write(meta / "frameqa_test.jsonl", jsonl({"gif_name": "tumblr_t1", "question": "what color?", "answer": "red"}))
    write(meta / "frameqa_trainval_ans2label.json", json.dumps({"cat": 0, "dog": 1}))
    opts = ["run", "jump", "sit", "wave", "nod"]
    for kind in ("action", "transition"):
        write(meta / f"{kind}_train.jsonl", jsonl(
            *[{"gif_name": f"tumblr_{i:03d}", "question": "what does the man do?", "options": opts, "answer": i % 5}
              for i in range(10)]))
        write(meta / f"{kind}_test.jsonl", jsonl(
            {"gif_name": "tumblr_t1", "question": "what does the cat do after jumping?", "options": opts,
             "answer": "2"}))
    return tmp_path


def test_tgif_frameqa_and_holdout(tgif_root: Path) -> None:
    adapter = get_adapter("tgif_frameqa")(tgif_root)
    train = adapter.load("train")
    assert len(train.samples) == 20 and all(isinstance(s, OpenQASample) for s in train.samples)
    assert train.samples[0].video.path == tgif_root / "tgif/gifs/tumblr_000.gif"
    assert train.samples[0].video.kind == "gif"
    (test,) = adapter.load("test").samples
    assert test.label is None and adapter.load("val").samples == [test]  # official: val reads the test file
    held = get_adapter("tgif_frameqa")(tgif_root, val_source="holdout")
    h_train, h_val = held.load("train").samples, held.load("val").samples
    assert len(h_val) == 2 and len(h_train) == 18
    assert not {s.video.path for s in h_train} & {s.video.path for s in h_val}
    assert held.load("test").samples == [test]


@pytest.mark.parametrize("kind", ["action", "transition"])
def test_tgif_choice_lines(tgif_root: Path, kind: str) -> None:
    adapter = get_adapter(f"tgif_{kind}")(tgif_root)
    train = adapter.load("train").samples
    assert [s.answer for s in train[:6]] == [0, 1, 2, 3, 4, 0]
    (test,) = adapter.load("test").samples
    assert test.answer == 2 and test.question.startswith("what does the cat") and len(test.options) == 5
    path = tgif_root / f"tgif/meta_data/{kind}_test.jsonl"
    write(path, path.read_text() + json.dumps({"gif_name": "g", "question": "q", "options": "abcde",
                                               "answer": 1}) + "\n")
    with pytest.raises(AnnotationError, match=rf"{kind}_test\.jsonl:2: key 'options' should be list"):
        adapter.load("test")


def lsmdc_row(clip: str, options: list[str], answer: str | None = None) -> str:
    """A row in the release's format: clip, 4 time stamps, 5 sentences, and (test file only) the answer."""
    return "\t".join([clip, "00.00.01.000", "00.00.02.000", "00.00.01.000", "00.00.02.000", *options]
                     + ([] if answer is None else [answer]))


def test_lsmdc_mc_official_rows(tmp_path: Path) -> None:
    meta = tmp_path / "lsmdc/meta_data"
    clip = "3009_BATTLE_LOS_ANGELES_00.03.07.170-00.03.09.675"
    opts = ["Someone runs.", 'He says "hi".', "She sits.", "They leave.", "It rains."]
    write(meta / "LSMDC16_multiple_choice_train.csv", lsmdc_row(clip, opts) + "\n")  # no answer: option 0
    write(meta / "LSMDC16_multiple_choice_valid.csv", lsmdc_row("0001_V_00.00.01.000-00.00.02.000", opts) + "\t\n")
    write(meta / "LSMDC16_multiple_choice_test_randomized.csv",
          lsmdc_row("1001_Flight_00.00.01.000-00.00.02.000", opts, "5") + "\n")
    adapter = get_adapter("lsmdc_mc")(tmp_path)
    (sample,) = adapter.load("train").samples
    assert sample.id == clip and sample.answer == 0 and sample.options == tuple(opts)
    assert sample.video.path == tmp_path / f"lsmdc/3009_BATTLE_LOS_ANGELES/{clip}.avi"
    assert adapter.load("val").samples == adapter.load("test").samples  # official: val reads the test file
    assert adapter.load("test").samples[0].answer == 4
    (valid,) = get_adapter("lsmdc_mc")(tmp_path, val_source="valid").load("val").samples  # empty 11th field ok
    assert valid.options[valid.answer] == opts[0] and sorted(valid.options) == sorted(opts)
    assert valid.answer != 0  # shuffled per clip (fixed order): a tie can't favour the right option
    (as_file,) = get_adapter("lsmdc_mc")(tmp_path, val_source="valid", val_order="file").load("val").samples
    assert as_file.answer == 0 and as_file.options == tuple(opts)

    bad = [("LSMDC16_multiple_choice_test_randomized.csv", lsmdc_row("1001_Flight_x", opts),
            r"test_randomized\.csv:1: expected 11 tab-separated fields .* found 10", "test"),
           ("LSMDC16_multiple_choice_test_randomized.csv", lsmdc_row("1001_Flight_x", opts, "0"),
            r"test_randomized\.csv:1: answer 0 in column 10 is not in 1\.\.5", "test"),
           ("LSMDC16_multiple_choice_test_randomized.csv", lsmdc_row("1001_Flight_x", opts, "two"),
            r":1: answer in column 10 is not an integer: 'two'", "test"),
           ("LSMDC16_multiple_choice_train.csv", lsmdc_row(clip, opts, "2"),
            r"train\.csv:1: expected 10 tab-separated fields .* no answer column.*'2'", "train"),
           ("LSMDC16_multiple_choice_train.csv", lsmdc_row(clip, opts) + "\n1001_Flight_x\tonly\tfew",
            r"train\.csv:2: expected at least 10 tab-separated columns, found 3", "train")]
    for name, text, message, split in bad:
        good = (meta / name).read_text()
        write(meta / name, text + "\n")
        with pytest.raises(AnnotationError, match=message):
            adapter.load(split)
        write(meta / name, good)


def test_lsmdc_mc_files_at_the_dataset_root(tmp_path: Path) -> None:
    """The release files as downloaded, without the All-in-One meta_data/ folder."""
    opts = ["a", "b", "c", "d", "e"]
    write(tmp_path / "lsmdc/LSMDC16_multiple_choice_test_randomized.csv",
          lsmdc_row("1001_Flight_00.00.01.000-00.00.02.000", opts, "3") + "\n")
    (sample,) = get_adapter("lsmdc_mc")(tmp_path).load("test").samples
    assert sample.answer == 2
    with pytest.raises(AnnotationError, match=r"(?s)missing annotation file .*LSMDC16_multiple_choice_train\.csv"
                                              r"\nexpected layout"):
        get_adapter("lsmdc_mc")(tmp_path).load("train")


def test_repeated_record_ids_fall_back_to_file_and_line(tmp_path: Path) -> None:
    meta = tmp_path / "msrvtt/meta_data"
    record = {"clip_name": "video1", "options": list("abcde"), "answer": 0, "id": 7}
    write(meta / "msrvtt_mc_test.jsonl", jsonl(record, {**record, "id": 8}))
    assert [s.id for s in get_adapter("msrvtt_mc")(tmp_path).load("test").samples] == ["7", "8"]
    write(meta / "msrvtt_mc_test.jsonl", jsonl(record, record))
    samples = get_adapter("msrvtt_mc")(tmp_path).load("test").samples
    assert [s.id for s in samples] == ["msrvtt_mc_test:1", "msrvtt_mc_test:2"]


def test_duplicate_videos_in_a_split_list_are_rejected(msrvtt_root: Path) -> None:
    write(msrvtt_root / "msrvtt/high-quality/structured-symlinks/val_list_jsfusion.txt", "video2\nvideo2\n")
    with pytest.raises(AnnotationError, match="duplicate sample id 'video2'"):
        get_adapter("msrvtt_ret")(msrvtt_root).load("test")


# --------------------------------------------------------------------------------------------------
# Readers


def test_readers_name_file_and_line(tmp_path: Path) -> None:
    tsv = write(tmp_path / "a.tsv", "h1\th2\nx\ty\n\nz\n")
    rows = read_tsv(tsv, header=True)
    assert [(r.line, r.values) for r in rows] == [(2, ("x", "y")), (4, ("z",))]
    assert rows[0]["h2"] == "y"
    with pytest.raises(AnnotationError, match=r"a\.tsv:4: expected at least 2 columns"):
        rows[1][1]
    csv_file = write(tmp_path / "b.csv", 'q,a\n"x, y",1\n"unterminated,2\n')
    with pytest.raises(AnnotationError, match=r"b\.csv:\d+: malformed line"):
        read_csv(csv_file)
    assert read_csv(write(tmp_path / "c.csv", 'q,a\n"x, y",1\n'))[0]["q"] == "x, y"
    with pytest.raises(AnnotationError, match=r"d\.jsonl:2: expected a JSON object, got list"):
        read_jsonl(write(tmp_path / "d.jsonl", '{"a": 1}\n[1, 2]\n'))
    with pytest.raises(AnnotationError, match=r"e\.json:3: invalid JSON"):
        read_json_records(write(tmp_path / "e.json", '[\n{"a": 1},\n{"a": }\n]'))
    with pytest.raises(AnnotationError, match=r"missing annotation file .*nope\.jsonl"):
        read_jsonl(tmp_path / "nope.jsonl")
    (tmp_path / "f.jsonl").write_bytes(b'{"a": "\xff"}\n')
    with pytest.raises(AnnotationError, match=r"f\.jsonl: not UTF-8"):
        read_jsonl(tmp_path / "f.jsonl")


def test_option_coercion_from_strings(msrvtt_root: Path) -> None:
    from allinone_bench.data.datasets.base import Option

    assert Option(3).coerce("d", "k", "4") == 4
    assert Option(True).coerce("d", "k", "no") is False
    with pytest.raises(ConfigError, match="k='x' is not a valid int"):
        Option(3).coerce("d", "k", "x")
    assert np.isclose(Option(0.5).coerce("d", "k", "0.25"), 0.25)


def test_lsmdc_mc_holdout_val_keeps_movies_apart_from_train(tmp_path: Path) -> None:
    meta = tmp_path / "lsmdc/meta_data"
    opts = ["a", "b", "c", "d", "e"]
    clips = [f"{m:04d}_MOVIE_{m}_00.00.{i:02d}.000-00.00.{i:02d}.900" for m in range(12) for i in range(2)]
    write(meta / "LSMDC16_multiple_choice_train.csv", "\n".join(lsmdc_row(c, opts) for c in clips) + "\n")
    write(meta / "LSMDC16_multiple_choice_test_randomized.csv",
          lsmdc_row("9999_TEST_00.00.01.000-00.00.02.000", opts, "1") + "\n")
    adapter = get_adapter("lsmdc_mc")(tmp_path, val_source="holdout")
    train, val, test = (adapter.load(s).samples for s in ("train", "val", "test"))
    movies = {split: {s.id.rsplit("_", 1)[0] for s in samples} for split, samples in
              (("train", train), ("val", val))}
    assert len(movies["val"]) == 2 and not movies["val"] & movies["train"]  # ceil(10% of 12 movies)
    assert len(train) + len(val) == len(clips) and [s.id for s in test] == ["9999_TEST_00.00.01.000-00.00.02.000"]
    assert all(s.answer == 0 for s in train) and {s.answer for s in val} != {0}  # val options shuffled
