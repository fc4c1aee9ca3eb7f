"""``bench model``: forward cost of Ti/S/B (joint, text-only, video-only) and ours against the official-style one.

Random weights (cost does not depend on them), synthetic inputs, ``torch.inference_mode``, the precision that
``precision: auto`` resolves to (or the one asked for). Achieved FLOP/s = 2 x counted MACs (torch.utils.flop_counter
via ``allinone_bench.profile``) x videos/s. The comparison runs B at the paper's input (batch 2, 3 frames, 224 px,
40 text tokens): the official-style reference forward (:mod:`allinone_bench.bench.official`) in fp32 against our
evaluation forward at the default precision and with fp32 forced.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from allinone_bench.bench.core import Row, measure
from allinone_bench.engine.precision import Precision, resolve_precision
from allinone_bench.model import build_model
from allinone_bench.profile import profile_variant

MODES: tuple[str, ...] = ("joint", "text", "video")


def _inputs(batch: int, frames: int, size: int, text_len: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(0)
    video = torch.randn(batch, frames, 3, size, size, generator=gen).to(device)
    ids = torch.randint(1000, 30000, (batch, text_len), generator=gen).to(device)
    return video, ids, torch.ones_like(ids)


def _pass(model: Any, mode: str, video: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> Callable[[], Any]:
    return {"joint": lambda: model(video, ids, mask), "text": lambda: model.encode_text(ids, mask),
            "video": lambda: model.encode_video(video)}[mode]


def _timed(fn: Callable[[], Any], precision: Precision, device: torch.device, warmup: int, repeats: int) -> Any:
    def run() -> Any:
        with torch.inference_mode(), precision.autocast():
            return fn()
    return measure(run, device=device, warmup=warmup, repeats=repeats)


def model_rows(*, variants: tuple[str, ...] = ("ti", "s", "b"), modes: tuple[str, ...] = MODES, batch: int = 2,
               frames: int = 3, image_size: int = 224, text_len: int = 40, precision: str = "auto",
               device: torch.device | None = None, warmup: int = 1, repeats: int = 3) -> list[Row]:
    """One row per (variant, pass): seconds per batch, videos/s, counted GFLOPs per video, achieved GFLOP/s."""
    device = device or torch.device("cpu")
    prec = resolve_precision(precision, device)  # type: ignore[arg-type]
    video, ids, mask = _inputs(batch, frames, image_size, text_len, device)
    rows = []
    for variant in variants:
        torch.manual_seed(0)
        model = build_model(variant, num_frames=frames, max_text_len=text_len, image_size=image_size).to(device)
        model.eval()
        for mode in modes:
            t = _timed(_pass(model, mode, video, ids, mask), prec, device, warmup, repeats)
            macs = profile_variant(variant, mode=mode, frames=frames, text_len=text_len, image_size=image_size).macs
            per_s = batch / t.median_s
            rows.append(Row("model", f"{variant} {mode}", f"batch {batch} x {frames} frames x {image_size}px, "
                            f"text {text_len}, {prec.name}", t.median_s, {
                                "videos_per_s": round(per_s, 2), "gflops_per_video": round(2 * macs / 1e9, 2),
                                "achieved_gflop_per_s": round(2 * macs * per_s / 1e9, 1), "dtype": prec.name,
                                "repeats": t.repeats}, round(t.peak_mib, 1)))
        del model
    return rows


def official_comparison_rows(*, device: torch.device | None = None, warmup: int = 1, repeats: int = 3,
                             variant: str = "b", batch: int = 2, frames: int = 3, text_len: int = 40) -> list[Row]:
    """B at the paper's input: official-style reference fp32, ours fp32 forced, ours at the default (``auto``)."""
    from allinone_bench.bench.official import official_style_forward

    device = device or torch.device("cpu")
    torch.manual_seed(0)
    model = build_model(variant, num_frames=frames, max_text_len=text_len).to(device).eval()
    sd = dict(model.state_dict())
    video, ids, mask = _inputs(batch, frames, 224, text_len, device)
    heads, depth = model.config.num_heads, model.config.depth
    fp32 = resolve_precision("fp32", device)
    auto = resolve_precision("auto", device)
    ref = _timed(lambda: official_style_forward(sd, video, ids, mask, heads=heads, depth=depth), fp32, device,
                 warmup, repeats)
    setting = f"{variant} joint, batch {batch} x {frames} frames x 224px, text {text_len}"
    rows = [Row("official", "official-style reference forward, fp32", setting, ref.median_s,
                {"dtype": "fp32", "speedup_vs_reference": 1.0}, round(ref.peak_mib, 1))]
    with torch.inference_mode():
        base = model(video, ids, mask).cls_feats.float()
    for label, prec in (("ours, fp32 forced", fp32), (f"ours, default (auto -> {auto.name})", auto)):
        t = _timed(lambda: model(video, ids, mask), prec, device, warmup, repeats)
        with torch.inference_mode(), prec.autocast():
            diff = (model(video, ids, mask).cls_feats.float() - base).abs().max().item()
        rows.append(Row("official", label, setting, t.median_s,
                        {"dtype": prec.name, "speedup_vs_reference": round(ref.median_s / t.median_s, 2),
                         "max_abs_diff_cls_vs_fp32": f"{diff:.2e}"}, round(t.peak_mib, 1)))
    return rows
