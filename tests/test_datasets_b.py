"""Dataset adapters didemo, activitynet, youcook2, tvc, k400, hmdb51, ucf101: synthetic sets end to end, and
hand-written lines in each official format (including malformed lines and missing videos)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from allinone_bench.data.datasets import MISSING_VIDEO, drop_missing_videos, get_adapter, list_adapters
from allinone_bench.data.types import CaptionSample, ClassificationSample, RetrievalSample
from allinone_bench.errors import AnnotationError, ConfigError

MINE = ("didemo", "activitynet", "youcook2", "tvc", "k400", "hmdb51", "ucf101")
NUM_VIDEOS = 12


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _touch(path: Path) -> Path:
    """A placeholder video file: these tests check paths, not decoding (the synthetic tests decode)."""
    return _write(path, "")


# --------------------------------------------------------------------------------------------------
# Synthetic sets


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth_b")
    for name in MINE:
        get_adapter(name).synthesize(root, num_videos=NUM_VIDEOS, seed=0)
    return root


def test_registered() -> None:
    assert set(MINE) <= set(list_adapters())


@pytest.mark.parametrize("name", MINE)
def test_synthetic_set_loads_and_decodes(synth_root: Path, name: str) -> None:
    from allinone_bench.data.video import read_frames

    adapter_cls = get_adapter(name)
    adapter = adapter_cls(synth_root)
    videos: dict[str, set[Path]] = {}
    for split in adapter_cls.splits:
        loaded = adapter.load(split)
        assert loaded.dataset == name and loaded.split == split and loaded.samples
        assert all(isinstance(s, adapter_cls.sample_type) for s in loaded.samples)
        assert all(p.is_file() for p in loaded.annotation_files)
        kept, dropped = drop_missing_videos(loaded)
        assert dropped == (1 if (name, split) == ("k400", "train") else 0)  # K400 synth lists one absent clip
        assert all(s.video.path.exists() for s in kept.samples)
        videos[split] = {s.video.path for s in kept.samples}
        ref = kept.samples[0].video
        frames = read_frames(ref, [0, 3]) if ref.start is None else read_frames(ref, [0, 17])
        assert frames.shape == (2, 64, 64, 3)
    for other in ("val", "test"):
        assert not videos["train"] & videos[other], f"train overlaps {other}"


def test_synthetic_is_deterministic(tmp_path: Path) -> None:
    for root in (tmp_path / "a", tmp_path / "b"):
        get_adapter("ucf101").synthesize(root, num_videos=6, seed=3)
    lists = sorted((tmp_path / "a" / "ucf101" / "ucfTrainTestlist").iterdir())
    assert lists and all(p.read_bytes() == (tmp_path / "b" / p.relative_to(tmp_path / "a")).read_bytes() for p in lists)


def test_synthetic_paragraphs_are_in_temporal_order(synth_root: Path) -> None:
    """The official JSON lists moments shuffled; the bundle has each paragraph in order: both must agree."""
    for name, by in (("didemo", lambda s: s.video.path), ("activitynet", lambda s: s.id)):
        official = {by(s): s for s in get_adapter(name)(synth_root, annotation="official").load("test").samples}
        bundle = {by(s): s for s in get_adapter(name)(synth_root, annotation="bundle").load("test").samples}
        assert official.keys() == bundle.keys()
        for key, sample in official.items():
            assert len(sample.captions) in (2, 3)
            assert " ".join(sample.captions) == bundle[key].captions[0]


def test_synthetic_didemo_single_mode_and_frames(synth_root: Path) -> None:
    paragraph = get_adapter("didemo")(synth_root).load("val").samples
    single = get_adapter("didemo")(synth_root, text_mode="single").load("val").samples
    assert len(single) == sum(len(s.captions) for s in paragraph)
    assert all(len(s.captions) == 1 and "#" in s.id for s in single)
    exts = {s.video.path.suffix for s in get_adapter("didemo")(synth_root).load("train").samples}
    assert exts == {".mp4", ".avi"}  # .mov names resolved to converted .mov.mp4 files
    anet = get_adapter("activitynet")(synth_root).load("test").samples
    assert all(s.video.kind == "frames" and s.video.path.is_dir() for s in anet)


@pytest.mark.parametrize("name", ["youcook2", "tvc"])
def test_synthetic_caption_windows(synth_root: Path, name: str) -> None:
    samples = get_adapter(name)(synth_root).load("test").samples
    by_video: dict[Path, list[CaptionSample]] = {}
    for s in samples:
        assert s.video.start is not None and s.video.end is not None and s.video.start < s.video.end
        by_video.setdefault(s.video.path, []).append(s)
    # two scenes back to back per clip: two windows, [0, 2] and [2, 4], captioned differently
    assert all(sorted((s.video.start, s.video.end) for s in group) == [(0.0, 2.0), (2.0, 4.0)]
               for group in by_video.values())
    assert all(group[0].captions != group[1].captions for group in by_video.values())


@pytest.mark.parametrize("name", ["k400", "hmdb51", "ucf101"])
def test_synthetic_classes_are_motion_directions(synth_root: Path, name: str) -> None:
    adapter = get_adapter(name)(synth_root)
    train, test = adapter.load("train"), adapter.load("test")
    assert train.class_names == test.class_names and len(train.class_names) == 4
    for split in (train, test):
        assert all(s.label_name == split.class_names[s.label] for s in split.samples)
    assert {s.label for s in train.samples} == set(range(4))
    style = {"k400": lambda c: c == c.lower() and " " in c, "hmdb51": lambda c: c == c.lower() and "_" in c,
             "ucf101": lambda c: c[0].isupper() and " " not in c and "_" not in c}[name]
    assert all(style(c) for c in train.class_names)


def test_synthetic_bundle_forms_match_official(synth_root: Path) -> None:
    def labels(adapter_name: str, which: str, **options: object) -> dict[str, int]:
        return {s.id: s.label for s in get_adapter(adapter_name)(synth_root, **options).load(which).samples}

    assert labels("hmdb51", "train", annotation="bundle") == labels("hmdb51", "train")
    assert labels("hmdb51", "test", annotation="bundle") == labels("hmdb51", "test")
    assert labels("k400", "val", annotation="bundle") == labels("k400", "val")
    assert labels("k400", "train", annotation="bundle") == labels("k400", "train")
    # the other official splits of HMDB51 / UCF101 differ from split 1
    assert labels("hmdb51", "test", split="2") != labels("hmdb51", "test")
    assert labels("ucf101", "test", split=3) != labels("ucf101", "test")


# --------------------------------------------------------------------------------------------------
# DiDeMo official lines


def _didemo_root(tmp_path: Path) -> Path:
    root = tmp_path / "didemo"
    moments = [
        {"annotation_id": 1, "video": "123@N00_456_abc.mov", "description": "the dog jumps",
         "times": [[2, 2], [2, 3], [2, 2], [1, 2]]},
        {"annotation_id": 2, "video": "123@N00_456_abc.mov", "description": "a dog appears",
         "times": [[0, 0], [0, 1], [0, 0], [0, 0]]},
        {"annotation_id": 3, "video": "789@N01_1_def.avi", "description": "a man waves", "times": [[0, 5]] * 4},
        {"annotation_id": 4, "video": "123@N00_456_abc.mov", "description": "the dog runs away ",
         "times": [[4, 5], [4, 5], [5, 5], [4, 4]]},
        {"annotation_id": 5, "video": "555@N02_2_ghi", "description": "a car", "times": [[1, 1]] * 4},
    ]
    _write(root / "test_data.json", json.dumps(moments, indent=1))
    _touch(root / "videos" / "123@N00_456_abc.mp4")  # converted copy: extension substituted
    _touch(root / "video" / "789@N01_1_def.avi")  # the official code's folder name
    return root


def test_didemo_official_paragraphs(tmp_path: Path) -> None:
    root = _didemo_root(tmp_path)
    loaded = get_adapter("didemo")(tmp_path).load("test")
    by_id = {s.id: s for s in loaded.samples}
    assert set(by_id) == {"123@N00_456_abc.mov", "789@N01_1_def.avi", "555@N02_2_ghi"}
    assert by_id["123@N00_456_abc.mov"].captions == ("a dog appears", "the dog jumps", "the dog runs away")
    assert by_id["123@N00_456_abc.mov"].video.path == root / "videos" / "123@N00_456_abc.mp4"
    assert by_id["789@N01_1_def.avi"].video.path == root / "video" / "789@N01_1_def.avi"
    assert loaded.problems == [(str(root / "videos" / "555@N02_2_ghi"), MISSING_VIDEO)]
    single = get_adapter("didemo")(tmp_path, text_mode="single").load("test").samples
    assert [s.id for s in single][:3] == [f"123@N00_456_abc.mov#{n}" for n in range(3)]
    assert all(isinstance(s, RetrievalSample) and len(s.captions) == 1 for s in single)


def test_didemo_bundle_and_errors(tmp_path: Path) -> None:
    root = _didemo_root(tmp_path)
    _write(root / "meta_data" / "DiDeMo_test.tsv",
           "caption\tvideo\na dog appears\t123@N00_456_abc.mp4\nthe dog jumps\t123@N00_456_abc.mp4\n"
           "a bird sings\tclips/42@N03_7_xyz.mov\n")
    _touch(root / "video" / "clips" / "42@N03_7_xyz.m4v")
    bundle = get_adapter("didemo")(tmp_path, annotation="bundle").load("test")
    assert [(s.id, s.captions) for s in bundle.samples] == [
        ("123@N00_456_abc.mp4", ("a dog appears", "the dog jumps")), ("clips/42@N03_7_xyz.mov", ("a bird sings",))]
    assert bundle.samples[1].video.path == root / "video" / "clips" / "42@N03_7_xyz.m4v" and not bundle.problems
    bad_tsv = _write(root / "meta_data" / "DiDeMo_val.tsv", "caption\tvideo\nok\tv.mp4\nno video column\n")
    with pytest.raises(AnnotationError, match=rf"{bad_tsv}:3"):
        get_adapter("didemo")(tmp_path).load("val")  # no val_data.json: auto falls back to the bundle
    bad_json = _write(root / "train_data.json", json.dumps([{"video": "a.mp4", "description": "x"},
                                                            {"video": "b.mp4"}]))
    with pytest.raises(AnnotationError, match=rf"{bad_json} \(record 1\).*description"):
        get_adapter("didemo")(tmp_path).load("train")
    _write(root / "train_data.json", json.dumps([{"video": "a.mp4", "description": "x", "times": [[1]]}]))
    with pytest.raises(AnnotationError, match="times"):
        get_adapter("didemo")(tmp_path).load("train")
    with pytest.raises(AnnotationError, match="missing annotation file .*val_data.json"):
        get_adapter("didemo")(tmp_path, annotation="official").load("val")
    with pytest.raises(ConfigError, match="text_mode"):
        get_adapter("didemo")(tmp_path, text_mode="sentence")


# --------------------------------------------------------------------------------------------------
# ActivityNet Captions


def test_activitynet_official_and_bundle(tmp_path: Path) -> None:
    root = tmp_path / "activitynet"
    _write(root / "val_1.json", json.dumps({
        "v_abc": {"duration": 30.0, "timestamps": [[10.5, 20], [0, 10.5]],
                  "sentences": [" Then he jumps.", "A man runs."]},
        "v_def": {"duration": 9.0, "timestamps": [[0, 9]], "sentences": ["A cat sleeps."]},
        "v_ghi": {"duration": 9.0, "timestamps": [[0, 9]], "sentences": ["Gone."]},
    }))
    _touch(root / "videos" / "abc.mkv")  # downloaded without the v_ prefix
    _touch(root / "activitynet_frames" / "v_def" / "00001.jpg")
    loaded = get_adapter("activitynet")(tmp_path).load("test")  # test -> val_1 (the paper's protocol)
    by_id = {s.id: s for s in loaded.samples}
    assert by_id["v_abc"].captions == ("A man runs.", "Then he jumps.")
    assert by_id["v_abc"].video.path == root / "videos" / "abc.mkv"
    assert by_id["v_def"].video.kind == "frames" and by_id["v_def"].video.path == root / "activitynet_frames" / "v_def"
    assert loaded.problems == [(str(root / "videos" / "v_ghi.mp4"), MISSING_VIDEO)]
    with pytest.raises(AnnotationError, match="val_2.json"):
        get_adapter("activitynet")(tmp_path, test_file="val_2").load("test")

    _write(root / "meta_data" / "val2.jsonl",
           '{"clip_name": "v_def", "caption": ["A cat sleeps.", "It wakes up."]}\n'
           '{"clip_name": "v_abc", "caption": "A man runs. Then he jumps."}\n')
    bundle = get_adapter("activitynet")(tmp_path, annotation="bundle", val_file="val_2").load("val").samples
    assert [(s.id, s.captions) for s in bundle] == [("v_def", ("A cat sleeps.", "It wakes up.")),
                                                    ("v_abc", ("A man runs. Then he jumps.",))]
    frames_only = get_adapter("activitynet")(tmp_path, annotation="bundle", val_file="val_2", video_source="frames")
    assert {s.video.kind for s in frames_only.load("val").samples} == {"frames"}


def test_activitynet_errors(tmp_path: Path) -> None:
    root = tmp_path / "activitynet"
    path = _write(root / "train.json", json.dumps({"v_x": {"timestamps": [[0, 1]], "sentences": ["a", "b"]}}))
    with pytest.raises(AnnotationError, match=rf"{path}: video 'v_x': 1 timestamps for 2 sentences"):
        get_adapter("activitynet")(tmp_path).load("train")
    _write(root / "train.json", json.dumps({"v_x": {"timestamps": [[0]], "sentences": ["a"]}}))
    with pytest.raises(AnnotationError, match="timestamps"):
        get_adapter("activitynet")(tmp_path).load("train")
    bad = _write(root / "meta_data" / "val1.jsonl", '{"clip_name": "v_a", "caption": "x"}\n{"clip_name": "v_b", \n')
    with pytest.raises(AnnotationError, match=rf"{bad}:2"):
        get_adapter("activitynet")(tmp_path).load("val")
    _write(bad, '{"clip_name": "v_a", "caption": 3}\n')
    with pytest.raises(AnnotationError, match=rf"{bad}:1.*caption"):
        get_adapter("activitynet")(tmp_path).load("val")


# --------------------------------------------------------------------------------------------------
# YouCook2


def test_youcook2_segments(tmp_path: Path) -> None:
    root = tmp_path / "youcook2"
    database = {
        "aaa": {"subset": "training", "recipe_type": "113", "duration": 100.0, "video_url": "u",
                "annotations": [{"segment": [5, 12], "id": 0, "sentence": "crack two eggs"},
                                {"segment": [20, 31], "id": 1, "sentence": "whisk the eggs"}]},
        "bbb": {"subset": "validation", "recipe_type": "201", "duration": 50.0, "video_url": "u",
                "annotations": [{"segment": [1, 9], "id": 0, "sentence": "slice bread"},
                                {"segment": [9, 9], "id": 1, "sentence": "empty window"}]},
        "ccc": {"subset": "validation", "recipe_type": "201", "duration": 50.0, "video_url": "u",
                "annotations": [{"segment": [2, 4], "id": 0, "sentence": "pour milk"}]},
    }
    _write(root / "youcookii_annotations_trainval.json", json.dumps({"database": database}))
    _touch(root / "raw_videos" / "training" / "113" / "aaa.mkv")
    _touch(root / "videos" / "bbb.mp4")
    train = get_adapter("youcook2")(tmp_path).load("train")
    assert [(s.id, s.captions, s.video.start, s.video.end) for s in train.samples] == [
        ("aaa_0", ("crack two eggs",), 5.0, 12.0), ("aaa_1", ("whisk the eggs",), 20.0, 31.0)]
    assert train.samples[0].video.path == root / "raw_videos" / "training" / "113" / "aaa.mkv"
    test = get_adapter("youcook2")(tmp_path).load("test")  # test = validation (test labels are not public)
    assert [s.id for s in test.samples] == ["bbb_0", "ccc_0"]
    assert test.samples[0].video.path == root / "videos" / "bbb.mp4"
    reasons = [reason for _, reason in test.problems]
    assert any("empty window" in r for r in reasons) and reasons.count(MISSING_VIDEO) == 1
    assert (str(root / "raw_videos" / "validation" / "201" / "ccc.mp4"), MISSING_VIDEO) in test.problems
    assert [s.id for s in get_adapter("youcook2")(tmp_path).load("val").samples] == ["bbb_0", "ccc_0"]


def test_youcook2_errors(tmp_path: Path) -> None:
    root = tmp_path / "youcook2"
    entry = {"subset": "training", "recipe_type": "1", "annotations": [{"segment": [1], "id": 0, "sentence": "x"}]}
    path = _write(root / "annotations" / "youcookii_annotations_trainval.json", json.dumps({"database": {"v1": entry}}))
    with pytest.raises(AnnotationError, match=rf"{path}: database\['v1'\]\.annotations\[0\].*segment"):
        get_adapter("youcook2")(tmp_path).load("train")
    _write(path, json.dumps({"results": {}}))
    with pytest.raises(AnnotationError, match="'database'"):
        get_adapter("youcook2")(tmp_path).load("train")
    _write(path, "{\n  \"database\": {,\n")
    with pytest.raises(AnnotationError, match=rf"{path}:2"):
        get_adapter("youcook2")(tmp_path).load("train")


# --------------------------------------------------------------------------------------------------
# TVC


_TVC_LINES = [
    {"vid_name": "friends_s01e03_seg02_clip_19", "duration": 61.46, "ts": [16.48, 33.87], "clip_id": 86603,
     "descs": [{"desc": "Rachel hands Ross a cup.", "type": "v", "desc_id": 1},
               {"desc": "Ross thanks Rachel.", "type": "t", "desc_id": 2}]},
    {"vid_name": "s05e02_seg01_clip_00", "duration": 90.0, "ts": [0, 5.5], "clip_id": 7,
     "descs": [{"desc": "Sheldon sits down.", "type": "vt", "desc_id": 3}]},
    {"vid_name": "house_s02e01_seg01_clip_03", "duration": 30.0, "ts": [3, 9], "clip_id": 8,
     "descs": [{"desc": "House walks.", "type": "v", "desc_id": 4}]},
]


def test_tvc_official_lines(tmp_path: Path) -> None:
    root = tmp_path / "tvc"
    _write(root / "data" / "tvc_val_release.jsonl", "".join(json.dumps(x) + "\n" for x in _TVC_LINES))
    _touch(root / "frames" / "friends_frames" / "friends_s01e03_seg02_clip_19" / "00001.jpg")
    _touch(root / "frames" / "frames_hq" / "bbt_frames" / "s05e02_seg01_clip_00" / "00001.jpg")
    test = get_adapter("tvc")(tmp_path).load("test")  # test = val (test descriptions are not public)
    by_id = {s.id: s for s in test.samples}
    first = by_id["86603"]
    assert first.captions == ("Rachel hands Ross a cup.", "Ross thanks Rachel.")
    assert (first.video.kind, first.video.start, first.video.end) == ("frames", 16.48, 33.87)
    assert first.video.path == root / "frames" / "friends_frames" / "friends_s01e03_seg02_clip_19"
    assert by_id["7"].video.path == root / "frames" / "frames_hq" / "bbt_frames" / "s05e02_seg01_clip_00"
    assert [(p, r) for p, r in test.problems] == [
        (str(root / "frames" / "house_s02e01_seg01_clip_03"), MISSING_VIDEO)]
    only_v = get_adapter("tvc")(tmp_path, desc_types="v").load("val")
    assert [s.captions for s in only_v.samples] == [("Rachel hands Ross a cup.",), ("House walks.",)]
    assert any("clip_id 7" in where for where, _ in only_v.problems)
    _touch(root / "videos" / "house_s02e01_seg01_clip_03.mp4")
    videos = get_adapter("tvc")(tmp_path, video_source="videos").load("val").samples
    assert all(s.video.kind == "video" and s.video.path.parent == root / "videos" for s in videos)


def test_tvc_errors(tmp_path: Path) -> None:
    root = tmp_path / "tvc"
    line = dict(_TVC_LINES[0], ts=[3.0])
    path = _write(root / "tvc_train_release.jsonl", json.dumps(_TVC_LINES[1]) + "\n\n" + json.dumps(line) + "\n")
    with pytest.raises(AnnotationError, match=rf"{path}:3: 'ts'"):
        get_adapter("tvc")(tmp_path).load("train")
    _write(path, json.dumps({k: v for k, v in _TVC_LINES[1].items() if k != "descs"}) + "\n")
    with pytest.raises(AnnotationError, match=rf"{path}:1: missing key 'descs'"):
        get_adapter("tvc")(tmp_path).load("train")
    _write(path, '{"vid_name": "x", "ts": [0, 1]\n')
    with pytest.raises(AnnotationError, match=rf"{path}:1: invalid JSON"):
        get_adapter("tvc")(tmp_path).load("train")


# --------------------------------------------------------------------------------------------------
# Kinetics-400


def test_kinetics_official_csv(tmp_path: Path) -> None:
    root = tmp_path / "k400"
    header = "label,youtube_id,time_start,time_end,split,is_cc\n"
    _write(root / "annotations" / "train.csv", header
           + "abseiling,aaaaaaaaaaa,14,24,train,0\n"
           + '"passing American football (in game)",bbbbbbbbbbb,0,10,train,0\n'
           + "air drumming,ccccccccccc,5,15,train,0\n")
    _write(root / "annotations" / "validate.csv", header
           + "air drumming,ddddddddddd,30,40,val,0\nabseiling,eeeeeeeeeee,1,11,val,0\n")
    _touch(root / "train" / "abseiling" / "aaaaaaaaaaa_000014_000024.mp4")
    _touch(root / "train" / "air_drumming" / "ccccccccccc_000005_000015.mp4")  # underscored label folder
    _touch(root / "validate" / "ddddddddddd_000030_000040.mkv")  # flat split folder
    train = get_adapter("k400")(tmp_path).load("train")
    assert train.class_names == ["abseiling", "air drumming", "passing American football (in game)"]
    assert [(s.id, s.label) for s in train.samples] == [
        ("aaaaaaaaaaa_000014_000024", 0), ("bbbbbbbbbbb_000000_000010", 2), ("ccccccccccc_000005_000015", 1)]
    assert isinstance(train.samples[0], ClassificationSample)
    assert train.samples[2].video.path == root / "train" / "air_drumming" / "ccccccccccc_000005_000015.mp4"
    missing = root / "train" / "passing American football (in game)" / "bbbbbbbbbbb_000000_000010.mp4"
    assert train.problems == [(str(missing), MISSING_VIDEO)]
    kept, dropped = drop_missing_videos(train)
    assert dropped == 1 and len(kept.samples) == 2
    test = get_adapter("k400")(tmp_path).load("test")  # test -> validate.csv by default
    assert test.class_names == train.class_names and [s.label for s in test.samples] == [1, 0]
    assert test.samples[0].video.path == root / "validate" / "ddddddddddd_000030_000040.mkv"
    # eeeeeeeeeee: absent, reported (in the split folder that exists), not fatal
    assert test.problems == [(str(root / "validate" / "abseiling" / "eeeeeeeeeee_000001_000011.mp4"), MISSING_VIDEO)]


def test_kinetics_errors(tmp_path: Path) -> None:
    root = tmp_path / "k400"
    train = _write(root / "train.csv", "label,youtube_id,time_start,time_end,split\nabseiling,aaa,x,10,train\n")
    with pytest.raises(AnnotationError, match=rf"{train}:2: time_start"):
        get_adapter("k400")(tmp_path).load("train")
    _write(train, "label,youtube_id,time_start,time_end,split\nabseiling,aaa,0,10,train\n")
    test = _write(root / "test.csv", "youtube_id,time_start,time_end,split\naaa,0,10,test\n")  # 2017: no labels
    with pytest.raises(AnnotationError, match=rf"{test}:2: no 'label' column"):
        get_adapter("k400")(tmp_path, test_file="test").load("test")
    validate = _write(root / "validate.csv", "label,youtube_id,time_start,time_end,split\nnew class,b,0,10,val\n")
    with pytest.raises(AnnotationError, match=rf"{validate}:2: label 'new class'"):
        get_adapter("k400")(tmp_path).load("val")
    _write(root / "meta_data" / "kinetics_label_map.txt", "abseiling\nair drumming\n")
    tsm = _write(root / "meta_data" / "k400_train_tsm.list", "/x/train/abseiling/aaa_000000_000010.mp4\t1\n/y.mp4\t9\n")
    with pytest.raises(AnnotationError, match=rf"{tsm}:2"):
        get_adapter("k400")(tmp_path, annotation="bundle").load("train")


# --------------------------------------------------------------------------------------------------
# HMDB51


def _hmdb_root(tmp_path: Path) -> Path:
    root = tmp_path / "hmdb51"
    splits = root / "testTrainMulti_7030_splits"
    _write(splits / "wave_test_split1.txt", "Wave_hello_wave_u_cm_np1_fr_med_0.avi 1 \n"
                                            "bye_wave_f_nm_np1_ri_bad_1.avi 2 \n"
                                            "x_wave_u_nm_np1_fr_goo_2.avi 0 \n")
    _write(splits / "brush_hair_test_split1.txt", "April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1 \n")
    _write(splits / "wave_test_split2.txt", "Wave_hello_wave_u_cm_np1_fr_med_0.avi 2 \n")
    _write(splits / "brush_hair_test_split2.txt", "April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1 \n")
    _touch(root / "videos" / "wave" / "Wave_hello_wave_u_cm_np1_fr_med_0.avi")
    _touch(root / "April_09_brush_hair_u_nm_np1_ba_goo_0.avi")  # flat at the root, as the official code reads
    return root


def test_hmdb51_official_splits(tmp_path: Path) -> None:
    root = _hmdb_root(tmp_path)
    train = get_adapter("hmdb51")(tmp_path).load("train")
    assert train.class_names == ["brush_hair", "wave"]
    assert [(s.id, s.label, s.label_name) for s in train.samples] == [
        ("April_09_brush_hair_u_nm_np1_ba_goo_0", 0, "brush_hair"), ("Wave_hello_wave_u_cm_np1_fr_med_0", 1, "wave")]
    assert train.samples[0].video.path == root / "April_09_brush_hair_u_nm_np1_ba_goo_0.avi"
    assert train.problems == []
    test = get_adapter("hmdb51")(tmp_path).load("test")
    assert [s.id for s in test.samples] == ["bye_wave_f_nm_np1_ri_bad_1"]
    assert test.problems == [(str(root / "videos" / "wave" / "bye_wave_f_nm_np1_ri_bad_1.avi"), MISSING_VIDEO)]
    split2 = get_adapter("hmdb51")(tmp_path, split="2").load("test")
    assert [s.id for s in split2.samples] == ["Wave_hello_wave_u_cm_np1_fr_med_0"]
    with pytest.raises(ConfigError, match="split"):
        get_adapter("hmdb51")(tmp_path, split=4)
    with pytest.raises(AnnotationError, match="_test_split3.txt"):
        get_adapter("hmdb51")(tmp_path, split=3).load("train")


def test_hmdb51_bundle_and_errors(tmp_path: Path) -> None:
    root = _hmdb_root(tmp_path)
    meta = root / "meta_data"
    _write(meta / "hmdb51_classInd.txt", "1 brush_hair\n2 wave\n")
    _write(meta / "hmdb51_rgb_val_split_1.txt", "/cluster/rawframes/wave/bye_wave_f_nm_np1_ri_bad_1 85 1\n")
    val = get_adapter("hmdb51")(tmp_path, annotation="bundle").load("val")
    assert [(s.id, s.label) for s in val.samples] == [("bye_wave_f_nm_np1_ri_bad_1", 1)]
    bad = _write(meta / "hmdb51_rgb_train_split_1.txt", "/a/brush_hair/v0 10 0\n/a/wave/v1 10 2\n")
    with pytest.raises(AnnotationError, match=rf"{bad}:2"):
        get_adapter("hmdb51")(tmp_path, annotation="bundle").load("train")
    with pytest.raises(ConfigError, match="split 1"):
        get_adapter("hmdb51")(tmp_path, annotation="bundle", split=2).load("train")
    bad_split = _write(root / "testTrainMulti_7030_splits" / "wave_test_split1.txt", "a.avi 1\nb.avi 3\n")
    with pytest.raises(AnnotationError, match=rf"{bad_split}:2"):
        get_adapter("hmdb51")(tmp_path).load("train")


# --------------------------------------------------------------------------------------------------
# UCF101


def test_ucf101_official_lists(tmp_path: Path) -> None:
    root = tmp_path / "ucf101"
    lists = root / "ucfTrainTestlist"
    _write(lists / "classInd.txt", "1 ApplyEyeMakeup\r\n2 HandstandPushups\r\n")
    _write(lists / "trainlist01.txt", "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\r\n"
                                      "HandStandPushups/v_HandStandPushups_g09_c02.avi 2\r\n")
    _write(lists / "testlist01.txt", "HandStandPushups/v_HandStandPushups_g01_c01.avi\r\n"
                                     "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c03.avi\r\n")
    _touch(root / "UCF-101" / "HandStandPushups" / "v_HandStandPushups_g01_c01.avi")
    train = get_adapter("ucf101")(tmp_path).load("train")
    assert train.class_names == ["ApplyEyeMakeup", "HandstandPushups"]
    assert [(s.id, s.label) for s in train.samples] == [("v_ApplyEyeMakeup_g08_c01", 0),
                                                        ("v_HandStandPushups_g09_c02", 1)]
    assert len(train.problems) == 2  # listed, not downloaded: reported, not fatal
    test = get_adapter("ucf101")(tmp_path).load("test")
    assert [(s.id, s.label) for s in test.samples] == [("v_HandStandPushups_g01_c01", 1),
                                                       ("v_ApplyEyeMakeup_g01_c03", 0)]
    assert test.samples[0].video.path == root / "UCF-101" / "HandStandPushups" / "v_HandStandPushups_g01_c01.avi"
    assert test.problems == [(str(root / "UCF-101" / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g01_c03.avi"), MISSING_VIDEO)]
    with pytest.raises(AnnotationError, match="testlist02.txt"):
        get_adapter("ucf101")(tmp_path, split=2).load("test")


def test_ucf101_errors(tmp_path: Path) -> None:
    lists = tmp_path / "ucf101" / "ucfTrainTestlist"
    _write(lists / "classInd.txt", "1 ApplyEyeMakeup\n2 Archery\n")
    train = _write(lists / "trainlist01.txt",
                   "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\nArchery/v_Archery_g01_c01.avi 1\n")
    with pytest.raises(AnnotationError, match=rf"{train}:2: label '1' does not match class 'Archery'"):
        get_adapter("ucf101")(tmp_path).load("train")
    test = _write(lists / "testlist01.txt",
                  "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\nBowling/v_Bowling_g01_c01.avi\n")
    with pytest.raises(AnnotationError, match=rf"{test}:2: class folder 'Bowling'"):
        get_adapter("ucf101")(tmp_path).load("test")
    _write(lists / "classInd.txt", "1 ApplyEyeMakeup\n3 Archery\n")
    with pytest.raises(AnnotationError, match="classInd.txt:2"):
        get_adapter("ucf101")(tmp_path).load("test")


def test_holdout_val_is_carved_from_train(synth_root: Path) -> None:
    for name in ("youcook2", "tvc", "hmdb51", "ucf101"):
        adapter = get_adapter(name)(synth_root, val_source="holdout")
        train = {s.id for s in adapter.load("train").samples}
        val = {s.id for s in adapter.load("val").samples}
        full = {s.id for s in get_adapter(name)(synth_root).load("train").samples}
        assert val and train and not train & val and train | val == full, name
