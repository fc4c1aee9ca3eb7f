"""Figures 3, 6 and 7: each renders, rolling cost grows as it should, and the cloze top-k is the MLM head's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from allinone_bench.data.tokenizer import load_tokenizer
from allinone_bench.engine import RunOptions, run_task
from allinone_bench.model import build_model
from allinone_bench.report.cloze import cloze, draw_cloze
from allinone_bench.report.figures import plot_rolling_cost, plot_size_performance, rolling_cost
from allinone_bench.report.store import load_runs

TINY = {"depth": 1, "image_size": 32, "patch_size": 8}


def _png(path: Path) -> tuple[int, int]:
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        return img.size


def test_rolling_cost_counts_and_renders(tmp_path: Path) -> None:
    points = rolling_cost("ti", (1, 2, 4), ("roll", "flatten"), text_len=8, repeats=1, **TINY)
    attn = {(p.mode, p.frames): p.attention_gmacs for p in points}
    assert attn[("roll", 4)] == pytest.approx(4 * attn[("roll", 1)])  # per-frame attention: linear in T
    assert attn[("flatten", 1)] == pytest.approx(attn[("roll", 1)])
    assert attn[("flatten", 4)] > 2 * attn[("roll", 4)]  # one sequence over all frames: ~quadratic
    assert all(p.seconds is not None and p.seconds > 0 for p in points)
    width, height = _png(plot_rolling_cost(points, tmp_path / "cost.png"))
    assert width > 600 and height > 300


def test_size_performance_draws_ours_beside_the_paper(tmp_path: Path) -> None:
    run = run_task(RunOptions(task="ego4d_mc", output_dir=tmp_path / "seed", zero_shot=True, count_flops=False,
                              overrides={"synthetic.num_videos": 8}))
    base = json.loads(run.results_path.read_text())
    for variant, params, acc in (("ti", 12e6, 40.0), ("s", 33e6, 50.0), ("b", 110e6, 60.0)):
        data = json.loads(json.dumps(base))
        data.update(task="tvqa_mc", run_id=f"fake-{variant}", metrics={"mc_acc": acc})
        data["model"].update(variant=variant, params=int(params))
        folder = tmp_path / "runs" / "tvqa_mc" / variant
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps(data))
    path, drawn = plot_size_performance(load_runs(tmp_path / "runs"), tmp_path / "size.png")
    ours = drawn["tvqa_mc"]["ours"]
    assert [(round(x), y) for _, x, y, _ in ours] == [(12, 40.0), (33, 50.0), (110, 60.0)]
    assert drawn["tvqa_mc"]["paper"] == {"s": 63.5, "b": 69.8}  # Table 2d prints S and B
    assert _png(path)[0] > 300


@pytest.mark.parametrize("rolling", ["roll", "flatten"])
def test_cloze_top_k_is_the_mlm_head(tmp_path: Path, rolling: str) -> None:
    torch.manual_seed(0)
    model = build_model("ti", num_frames=2, max_text_len=12, rolling=rolling, **TINY).eval()
    tokenizer = load_tokenizer()
    clip = torch.randn(2, 3, 32, 32)
    text = "a man is [MASK] a [MASK]"
    result = cloze(model, tokenizer, clip, text, top_k=4)
    ids, mask = tokenizer.encode([text], 12)
    with torch.no_grad():
        logits = model.mlm_logits(model(clip[None], ids, mask).text_feats)[0]
    positions = (ids[0] == tokenizer.mask_id).nonzero().flatten().tolist()
    assert len(result.fills) == len(positions) == 2
    for fill, pos in zip(result.fills, positions, strict=True):
        probs, index = logits[pos].softmax(-1).topk(4)
        assert [w for w, _ in fill] == tokenizer.convert_ids_to_tokens(index)
        assert [p for _, p in fill] == pytest.approx(probs.tolist(), rel=1e-5)
    assert result.attention.shape == (2, 4, 4) and (result.attention >= 0).all()
    total = result.attention.sum()
    assert 0 < total <= (1.0 if rolling == "flatten" else 2.0) + 1e-5  # a softmax row per sequence
    assert result.frames.shape == (2, 32, 32, 3)
    assert _png(draw_cloze(result, tmp_path / "cloze.png"))[0] > 200


def test_cloze_without_mask_is_refused() -> None:
    from allinone_bench.errors import ConfigError

    model = build_model("ti", num_frames=1, max_text_len=8, **TINY)
    with pytest.raises(ConfigError, match=r"no \[MASK\]"):
        cloze(model, load_tokenizer(), torch.zeros(1, 3, 32, 32), "a man plays")
