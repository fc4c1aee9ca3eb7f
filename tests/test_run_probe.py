"""Linear-probe kind (K400, HMDB51, UCF101): scikit-learn probe on frozen features and the official
prompt + pooler + classifier probe, end to end through ``run_task``.

The synthetic probe sets label motion direction, which frozen *random* features cannot separate, so learning
is checked on a set written in HMDB51's official split-file layout whose classes are colours: a probe on the
frozen randomly initialised backbone must find them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from allinone_bench.data.synthetic import COLOURS, DIRECTIONS, SHAPES, Scene, render, write_lines, write_mp4
from allinone_bench.data.tokenizer import load_tokenizer
from allinone_bench.engine import RunOptions, run_task
from allinone_bench.model import build_model
from allinone_bench.report.results import read_results
from allinone_bench.tasks import get_kind, load_task

SMALL = {"synthetic.num_videos": 16}


def _run(tmp_path: Path, task: str, overrides: dict[str, Any], **kwargs: Any) -> Any:
    return run_task(RunOptions(task=task, output_dir=tmp_path / "runs", overrides=overrides, count_flops=False,
                               **kwargs))


def _check(result: Any) -> dict[str, Any]:
    data = read_results(result.results_path)
    for name in ("top1", "top5", "top10"):
        assert 0.0 <= data["metrics"][name] <= 100.0
    assert data["n_samples"]["evaluated"] == len(result.records) > 0
    top1 = 100.0 * np.mean([r["pred"] == r["label"] and r["label_seen"] for r in result.records])
    assert data["metrics"]["top1"] == pytest.approx(top1)
    return data


# ------------------------------------------------------------------------------------------ units
@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_features_are_the_frozen_video_only_pass(pooling: str) -> None:
    cfg = load_task("hmdb51_probe", synthetic=True, overrides={"options.pooling": pooling})
    kind = get_kind("linear_probe")(cfg, load_tokenizer())
    torch.manual_seed(0)
    model = build_model("ti", depth=1, patch_size=8, image_size=32, num_frames=3)
    kind.prepare_model(model, zero_shot=False)
    assert not any(p.requires_grad for p in model.parameters())
    assert not kind.supports_finetune
    model.eval()
    video = torch.randn(2, 3, 3, 32, 32)
    with torch.no_grad():
        feats = torch.stack(kind._features(model, {"video": video}))
        tokens = model.encode_video(video).feats
    expected = tokens[:, 0] if pooling == "cls" else tokens.mean(dim=1)
    torch.testing.assert_close(feats, expected)


# ------------------------------------------------------------------------------------------ end to end
@pytest.mark.slow
@pytest.mark.parametrize("task", ["k400_probe", "hmdb51_probe", "ucf101_probe"])
def test_sklearn_probe_runs_end_to_end(tmp_path: Path, task: str) -> None:
    result = _run(tmp_path, task, SMALL)
    data = _check(result)
    assert not data["finetune"]["finetuned"] and data["model"]["params_trainable"] == 0
    extra = data["protocol"]["extra"]
    assert extra["probe"] == "sklearn" and extra["pooling"] == "vision cls token"
    assert extra["C"] in extra["C_grid"] and data["metrics"]["probe_C"] == extra["C"]
    assert data["metrics"]["n_train"] > 0


@pytest.mark.slow
def test_official_probe_trains_only_pooler_and_classifier(tmp_path: Path) -> None:
    result = _run(tmp_path, "hmdb51_probe", {**SMALL, "options.probe": "official", "finetune.epochs": 1,
                                             "finetune.max_steps": 1})
    data = _check(result)
    assert data["finetune"]["finetuned"] and data["protocol"]["extra"]["prompt"] == "A person is doing [MASK]"
    n_classes = 4  # synthetic HMDB51: four motion classes; classifier = classes + 1 (official 51 + 1)
    assert data["model"]["config"]["qa_labels"] == n_classes + 1
    d = data["model"]["config"]["hidden_size"]
    pooler = d * d + d
    head = (d * (d // 2) + d // 2) + 2 * (d // 2) + ((d // 2) * (n_classes + 1) + n_classes + 1)
    assert data["model"]["params_trainable"] == pooler + head
    assert all(len(r["scores"]) == n_classes + 1 for r in result.records)


# ------------------------------------------------------------------------------------------ learning
def _write_colour_hmdb51(root: Path, train_per_class: int = 6, test_per_class: int = 3) -> Path:
    """HMDB51 official layout (split files + videos/<class>/); class = the colour of a moving shape."""
    base = root / "hmdb51"
    index = 0
    for colour in COLOURS:
        rows = []
        for j in range(train_per_class + test_per_class):
            scene = Scene(colour, SHAPES[j % len(SHAPES)], DIRECTIONS[j % len(DIRECTIONS)])
            name = f"clip{index:03d}_{colour}.avi"
            index += 1
            write_mp4(base / "videos" / colour / name, render(scene, num_frames=8, size=32, seed=index), fps=8)
            rows.append(f"{name} {1 if j < train_per_class else 2} ")
        write_lines(base / "testTrainMulti_7030_splits" / f"{colour}_test_split1.txt", rows)
    return root


@pytest.mark.slow
def test_sklearn_probe_learns_from_frozen_features(tmp_path: Path) -> None:
    root = _write_colour_hmdb51(tmp_path / "data")
    overrides = {"model.variant": "ti", "model.depth": 2, "model.patch_size": 8, "protocol.video.decode_size": None,
                 "protocol.video.resize": 32, "protocol.video.crop": 32, "eval.num_workers": 0,
                 "eval.precision": "fp32"}
    result = run_task(RunOptions(task="hmdb51_probe", data_root=root, output_dir=tmp_path / "runs", seed=0,
                                 overrides=overrides, count_flops=False))
    data = _check(result)
    assert data["metrics"]["n_train"] == 24 and data["n_samples"]["evaluated"] == 12
    assert data["metrics"]["top1"] >= 75.0  # chance: 25%
