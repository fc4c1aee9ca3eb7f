"""Ego4D multiple choice: mc_val.csv and EgoMCQ on hand-written lines in the released layouts, the official
frame offsets around ``frame_loc``, clip-option scoring, and the inter/intra accuracies end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from allinone_bench.data.datasets import get_adapter
from allinone_bench.data.pipeline import ClipLoader, VideoProtocol
from allinone_bench.data.synthetic import write_mp4
from allinone_bench.data.tokenizer import load_tokenizer
from allinone_bench.data.types import MultipleChoiceSample, VideoRef
from allinone_bench.engine import RunOptions, run_task
from allinone_bench.errors import AnnotationError
from allinone_bench.metrics import build_metrics
from allinone_bench.model import build_model
from allinone_bench.report.results import read_results
from allinone_bench.tasks import get_kind, load_task

# mc_val.csv as pandas writes it: header, then quoted Python-literal columns.
MC_VAL = '''question,answers
"('a1b2c3d4-0000-0000-0000-000000000001', 30, 1.0, '#C C opens the door')","[('a1b2c3d4-0000-0000-0000-000000000001', 30, '#C C cuts bread'), ('a1b2c3d4-0000-0000-0000-000000000001', 31, '#C C opens the door'), ('x', 2, '#C C washes a cup'), ('y', 3, '#C C drops a pen'), ('z', 4, '#C C reads')]"
"('e5f6a7b8-0000-0000-0000-000000000002', 500, 2.0, '#C C sits')","[('q', 1, '#C C walks'), ('q', 1, '#C C runs'), ('q', 1, '#C C jumps'), ('q', 1, '#C C eats'), ('q', 1, '#C C sleeps')]"
'''

EGOMCQ = {
    "0": {"query": {"video_uid": "v1", "clip_start": 10.5, "clip_end": 11.5, "clip_text": "#C C picks a knife",
                    "tag_verb": "[1]", "tag_noun": "[2]"},
          "choices": {str(k): {"video_uid": f"v{k + 1}", "clip_start": 1.0 * k, "clip_end": 1.0 * k + 1.0,
                               "clip_text": f"text {k}"} for k in range(5)},
          "answer": 0, "types": 1},
    "1": {"query": {"video_uid": "v2", "clip_start": 3.0, "clip_end": 4.0, "clip_text": "#C C stirs the pot"},
          "choices": {str(k): {"video_uid": "v2", "clip_start": -0.5 + k, "clip_end": 0.5 + k,
                               "clip_text": f"other {k}"} for k in range(5)},
          "answer": 3, "types": 2},
}


def _ego(tmp_path: Path) -> Path:
    root = tmp_path / "ego4d"
    (root / "meta_data").mkdir(parents=True)
    (root / "meta_data" / "mc_val.csv").write_text(MC_VAL)
    (root / "egomcq.json").write_text(json.dumps(EGOMCQ))
    return root


def test_mc_val_rows_labels_and_frame_windows(tmp_path: Path) -> None:
    root = _ego(tmp_path)
    split = get_adapter("ego4d_mc")(tmp_path).load("test")
    assert len(split.samples) == 1  # the second row's gt text is no option: listed, not silently labelled 0
    assert any("gt text" in reason for _, reason in split.problems)
    sample = split.samples[0]
    assert sample.options[1] == "#C C opens the door" and sample.answer == 1 and len(sample.options) == 5
    assert sample.video.path == root / "videos" / "a1b2c3d4-0000-0000-0000-000000000001.mp4"
    assert sample.video.frame_window == (30 - 60, 120)
    with pytest.raises(AnnotationError, match="zero-shot only"):
        get_adapter("ego4d_mc")(tmp_path).load("train")


def test_mc_val_bad_literal_names_the_line(tmp_path: Path) -> None:
    root = _ego(tmp_path)
    (root / "meta_data" / "mc_val.csv").write_text('question,answers\n"__import__(\'os\')","[]"\n')
    with pytest.raises(AnnotationError, match=r"mc_val.csv:2: column 'question' is not a Python literal"):
        get_adapter("ego4d_mc")(tmp_path).load("test")


def test_official_offsets_around_frame_loc_are_clamped_per_index(tmp_path: Path) -> None:
    video = write_mp4(tmp_path / "v.mp4", np.zeros((160, 32, 32, 3), dtype=np.uint8), fps=8)
    loader = ClipLoader(VideoProtocol(num_frames=3, decode_size=None, resize=32, crop=32))
    # sample_frames(3, 120) uniform = [19, 59, 99]; + frame_loc - 60
    for loc, expected in ((30, [0, 29, 69]), (100, [59, 99, 139]), (150, [109, 149, 159])):
        clip = loader.load_clip(VideoRef(video, frame_window=(loc - 60, 120)))
        assert clip.indices.tolist() == expected


def test_egomcq_reads_clips_types_and_answers(tmp_path: Path) -> None:
    root = _ego(tmp_path)
    split = get_adapter("ego4d_egomcq")(tmp_path).load("test")
    inter, intra = split.samples
    assert inter.question == "#C C picks a knife" and inter.answer == 0 and inter.group == "inter"
    assert [v.path.name for v in inter.option_videos] == [f"v{k}.mp4" for k in range(1, 6)]
    assert intra.group == "intra" and intra.answer == 3
    assert intra.option_videos[0] == VideoRef(root / "videos" / "v2.mp4", start=0.0, end=0.5)  # negative start -> 0
    bad = dict(EGOMCQ, **{"2": {**EGOMCQ["0"], "types": 3}})
    (root / "egomcq.json").write_text(json.dumps(bad))
    with pytest.raises(AnnotationError, match="types 3"):
        get_adapter("ego4d_egomcq")(tmp_path).load("test")


def test_clip_options_are_scored_with_the_query_text() -> None:
    cfg = load_task("ego4d_egomcq", synthetic=True, overrides={"protocol.text.max_len": 8})
    kind = get_kind("multiple_choice")(cfg, load_tokenizer())
    torch.manual_seed(0)
    model = build_model("ti", depth=1, patch_size=8, image_size=32, num_frames=2, max_text_len=8).eval()
    clips = torch.randn(5, 2, 3, 32, 32)
    refs = tuple(VideoRef(Path(f"{k}.mp4")) for k in range(5))
    sample = MultipleChoiceSample("q", refs[0], tuple("abcde"), 2, question="a red square", option_videos=refs)
    item = kind._item(sample, lambda ref, _option: clips[int(ref.path.stem)])
    batch = kind.collate([item])
    with torch.no_grad():
        scores = kind.option_scores(model, batch)[0]
        ids, mask = kind.encode_text(["a red square"] * 5)
        alone = model.rank_score(model(clips, ids, mask).cls_feats)
    torch.testing.assert_close(scores, alone, rtol=1e-4, atol=1e-5)


def test_group_accuracy_by_hand() -> None:
    records = [{"id": "a", "scores": [0.1, 0.9], "answer": 1, "group": "inter"},
               {"id": "b", "scores": [0.8, 0.2], "answer": 1, "group": "inter"},
               {"id": "c", "scores": [0.3, 0.7, 0.1], "answer": 1, "group": "intra"}]
    (metric,) = build_metrics(["mc_acc_inter", "mc_acc_intra"])
    metric.process(records)
    out = metric.compute()
    assert out["mc_acc_inter"] == 50.0 and out["mc_acc_intra"] == 100.0 and out["n_inter"] == 2


@pytest.mark.parametrize("task", ["ego4d_mc", "ego4d_egomcq"])
def test_zero_shot_runs_end_to_end(tmp_path: Path, task: str) -> None:
    result = run_task(RunOptions(task=task, output_dir=tmp_path / "runs", count_flops=False, zero_shot=True,
                                 overrides={"synthetic.num_videos": 8}))
    data = read_results(result.results_path)
    assert data["n_samples"]["evaluated"] == len(result.records) == 8
    assert all(len(r["scores"]) == 5 for r in result.records)  # all 5 options scored
    right = [r["pred"] == r["answer"] for r in result.records]
    assert data["metrics"]["mc_acc"] == pytest.approx(100.0 * np.mean(right))
    if task == "ego4d_egomcq":
        for group in ("inter", "intra"):
            mine = [r["pred"] == r["answer"] for r in result.records if r["group"] == group]
            assert data["metrics"][f"mc_acc_{group}"] == pytest.approx(100.0 * np.mean(mine))
