"""TVQA: the adapter on hand-written lines in the released layouts, subtitles, truncation, and an end-to-end run."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from allinone_bench.data.datasets import get_adapter
from allinone_bench.data.datasets.subtitles import read_srt, window_text
from allinone_bench.data.datasets.tvqa import parse_ts
from allinone_bench.data.tokenizer import load_tokenizer
from allinone_bench.data.types import DatasetSplit, MultipleChoiceSample, VideoRef
from allinone_bench.engine import RunOptions, run_task
from allinone_bench.errors import AnnotationError, DataError
from allinone_bench.report.results import read_results
from allinone_bench.tasks import get_kind, load_task

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "files" / "tvqa"

# Hand-written lines in the released field layout (keys in the release's alphabetical order).
TRAIN = [
    '{"a0": "A mug.", "a1": "A pen", "a2": "Her purse", "a3": "A book", "a4": "A beer bottle", "answer_idx": 4, '
    '"q": "What is Robin holding?", "qid": 7, "show_name": "How I Met You Mother", "ts": "1.21-8.49", '
    '"vid_name": "met_s06e22_seg01_clip_02"}',
    '{"a0": "Yes", "a1": "No", "a2": "Maybe", "a3": "Later", "a4": "Never", "answer_idx": 0, '
    '"q": "Does Sheldon agree?", "qid": 8, "show_name": "The Big Bang Theory", "ts": "NaN-NaN", '
    '"vid_name": "s03e21_seg02_clip_08"}',
]
TEST_PUBLIC = ('{"a0": "x", "a1": "y", "a2": "z", "a3": "w", "a4": "v", "q": "Who?", "qid": 9, '
               '"show_name": "Castle", "ts": "0-0", "vid_name": "castle_s02e24_seg02_clip_26"}')
SUBS_JSONL = ('{"vid_name": "met_s06e22_seg01_clip_02", "sub": [{"text": "Ted : hi .", "start": 0.2, "end": 1.0}, '
              '{"text": "Robin : look at this .", "start": 2.0, "end": 3.5}, '
              '{"text": "Ted : bye .", "start": 9.0, "end": 10.0}]}')
SRT = "1\n00:00:00,500 --> 00:00:02,000\n(Sheldon:) Hello.\n\n2\n00:00:03,000 --> 00:00:04,250\n(Penny:) Hi,\nSheldon.\n\n"


def _write(root: Path, subtitles: bool = True) -> Path:
    tvqa = root / "tvqa"
    tvqa.mkdir(parents=True)
    (tvqa / "tvqa_train.jsonl").write_text("\n".join(TRAIN) + "\n")
    (tvqa / "tvqa_val.jsonl").write_text(TRAIN[0])  # no final newline, like the release
    (tvqa / "tvqa_test_public.jsonl").write_text(TEST_PUBLIC)
    if subtitles:
        (tvqa / "tvqa_preprocessed_subtitles.jsonl").write_text(SUBS_JSONL + "\n")
        (tvqa / "tvqa_subtitles").mkdir()
        (tvqa / "tvqa_subtitles" / "s03e21_seg02_clip_08.srt").write_bytes(SRT.encode("iso-8859-1"))
    return tvqa


def test_ts_strings_lists_and_nan() -> None:
    assert parse_ts("48.62-60.02") == (48.62, 60.02)
    assert parse_ts("0-0") == (0.0, 0.0)
    assert parse_ts([12.3, 20]) == (12.3, 20.0)  # TVQA+ form
    assert parse_ts("NaN-NaN") is None
    for bad in ("12.3", "a-b", "5-2", [1.0]):
        with pytest.raises(ValueError):
            parse_ts(bad)


def test_adapter_reads_release_lines_windows_and_subtitles(tmp_path: Path) -> None:
    tvqa = _write(tmp_path)
    adapter = get_adapter("tvqa")(tmp_path, val_source="val")
    split = adapter.load("train")
    first, nan_row = split.samples
    assert first.id == "7" and first.answer == 4 and first.question == "What is Robin holding?"
    assert first.options[0] == "A mug." and len(first.options) == 5
    frames = tvqa / "frames/raw_frames/frames_hq/met_frames/met_s06e22_seg01_clip_02"
    assert first.video == VideoRef(frames, kind="frames", start=1.21, end=8.49, fps=3.0)
    assert first.context == "Robin : look at this ."  # only the line overlapping 1.21-8.49
    assert nan_row.video.start is None and nan_row.video.end is None  # NaN window: the whole clip
    assert "bbt_frames" in str(nan_row.video.path)  # Big Bang Theory names carry no show prefix
    assert nan_row.context == "(Sheldon:) Hello. (Penny:) Hi, Sheldon."  # srt lines, all (no window)
    assert any("NaN-NaN" in reason for _, reason in split.problems)
    with pytest.raises(AnnotationError, match="labels are hidden"):
        adapter.load("test_public")
    with pytest.raises(AnnotationError, match="holdout"):
        adapter.load("holdout")


def test_holdout_moves_whole_clips_out_of_train(tmp_path: Path) -> None:
    _write(tmp_path, subtitles=False)
    adapter = get_adapter("tvqa")(tmp_path)  # val_source=holdout by default
    train, held = adapter.load("train"), adapter.load("holdout")
    assert {s.id for s in train.samples} | {s.id for s in held.samples} == {"7", "8"}
    assert len(held.samples) == 1 and not {s.video.path for s in train.samples} & {s.video.path for s in held.samples}
    assert all(s.context == "" for s in train.samples)  # no subtitle files: no context


def test_srt_reader_and_window() -> None:
    lines = read_srt_text(SRT)
    assert [(s.start, s.end) for s in lines] == [(0.5, 2.0), (3.0, 4.25)]
    assert window_text(lines, 2.5, 2.9) == ""
    assert window_text(lines, 1.9, 3.1) == "(Sheldon:) Hello. (Penny:) Hi, Sheldon."


def read_srt_text(text: str):  # noqa: ANN201 - helper
    import tempfile

    with tempfile.NamedTemporaryFile("wb", suffix=".srt", delete=False) as f:
        f.write(text.encode("iso-8859-1"))
    return read_srt(Path(f.name))


def _kind(subtitles: str, truncation: str, max_len: int):  # noqa: ANN202 - helper
    cfg = load_task("tvqa_mc", overrides={"protocol.text.subtitles": subtitles, "options.truncation": truncation,
                                          "protocol.text.max_len": max_len})
    return get_kind("mc_qa")(cfg, load_tokenizer())


def test_context_first_truncation_keeps_question_and_answer() -> None:
    options = ("he runs to the door", "she sits on the couch", "they leave", "nobody moves", "the dog barks")
    context = " ".join(f"word{i}" for i in range(60))
    sample = MultipleChoiceSample("s", VideoRef(Path("x"), kind="frames"), options, 1, "what happens next?",
                                  context=context)
    tok = load_tokenizer()
    kind = _kind("window", "context_first", 56)
    texts = kind.option_texts(sample)
    for i, text in enumerate(texts):
        assert len(tok.tokenize(text)) <= 54
        assert text.startswith("what happens next?Options: ") and text.endswith("Answer: " + options[i])
        assert "Subtitles: word0 word1" in text and "word59" not in text  # subtitles cut from their end
    short = _kind("window", "context_first", 24).option_texts(sample)[1]
    assert "Subtitles" not in short and short.endswith("Answer: " + options[1])  # then the option list is cut
    assert len(tok.tokenize(short)) <= 22
    assert "Subtitles" not in _kind("none", "context_first", 40).option_texts(sample)[0]  # mode none: no context
    official = _kind("window", "end", 40).option_texts(sample)[0]
    assert official.endswith("Answer: " + options[0]) and len(tok.tokenize(official)) > 38  # cut at encode time
    logged: list[str] = []
    summary = kind.protocol_summary(DatasetSplit("tvqa", "val", [sample]), SimpleNamespace(log=logged.append))
    assert summary.details["subtitles"] == "window" and "Subtitles" in summary.details["prompt_template"]
    assert summary.details["truncated_samples"] == 0 and not logged  # context_first prompts all fit


def test_subtitles_window_without_subtitle_files_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, subtitles=False)
    kind = _kind("window", "context_first", 100)
    with pytest.raises(DataError, match="no subtitle text"):
        kind.check_split(get_adapter("tvqa")(tmp_path).load("train"))


@pytest.mark.skipif(not REAL.is_dir(), reason="real TVQA files not present (../shared/realdata)")
def test_real_test_public_and_tvqa_plus_files(tmp_path: Path) -> None:
    lines = gzip.decompress((REAL / "tvqa_test_public.jsonl.gz").read_bytes()).decode().splitlines()
    windows = [parse_ts(json.loads(line)["ts"]) for line in lines]
    assert len(windows) == 7623 and sum(w is None for w in windows) == 3
    tvqa = tmp_path / "tvqa"
    tvqa.mkdir()
    (tvqa / "tvqa_test_public.jsonl").write_text("\n".join(lines))
    with pytest.raises(AnnotationError, match="labels are hidden"):
        get_adapter("tvqa")(tmp_path).load("test_public")
    (tvqa / "tvqa_plus_val.json").write_bytes(gzip.decompress((REAL / "tvqa_plus_val.json.gz").read_bytes()))
    plus = get_adapter("tvqa")(tmp_path, files="tvqa_plus").load("val")
    assert len(plus.samples) == 3017 and all(0 <= s.answer < 5 for s in plus.samples)
    assert all(s.video.start is not None and "bbt_frames" in str(s.video.path) for s in plus.samples)


def test_run_tvqa_mc_end_to_end_with_subtitles(tmp_path: Path) -> None:
    result = run_task(RunOptions(task="tvqa_mc", output_dir=tmp_path / "runs", count_flops=False, overrides={
        "finetune.epochs": 1, "finetune.max_steps": 1, "protocol.text.subtitles": "window"}))
    data = read_results(result.results_path)
    assert data["protocol"]["extra"]["subtitles"] == "window"
    assert data["n_samples"]["evaluated"] == len(result.records) == 6  # the val file, NaN row included
    acc = 100.0 * sum(r["pred"] == r["answer"] for r in result.records) / len(result.records)
    assert data["metrics"]["mc_acc"] == pytest.approx(acc)
