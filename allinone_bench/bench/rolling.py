"""``bench rolling``: attention cost of temporal token rolling against no rolling and flattened frames (Fig. 3).

The paper (Fig. 3) says the self-attention of token rolling costs "only one third of Flatten". Per block, roll
(and none) attend within each frame: T sequences of Lt + Lv tokens, 2 T (Lt+Lv)^2 D MACs; flatten attends over
one sequence of Lt + T Lv tokens, 2 (Lt + T Lv)^2 D MACs. The ratio is 1/T only when Lt = 0 and approaches it
as Lv >> Lt and T is small, so at T = 3 it is "one third" only approximately; the rows compare the counted ratio
with 1/T ("holds" = within 0.05).
"""

from __future__ import annotations

import torch

from allinone_bench.bench.core import Row, measure
from allinone_bench.engine.precision import resolve_precision
from allinone_bench.model import build_model
from allinone_bench.profile import profile_variant

ROLLINGS: tuple[str, ...] = ("roll", "none", "flatten")


def rolling_rows(*, variant: str = "ti", frames: tuple[int, ...] = (3, 8), text_len: int = 40, batch: int = 1,
                 precision: str = "auto", device: torch.device | None = None, warmup: int = 1,
                 repeats: int = 3) -> list[Row]:
    """Counted attention and total MACs and the joint-forward time for each rolling mode and frame count."""
    device = device or torch.device("cpu")
    prec = resolve_precision(precision, device)  # type: ignore[arg-type]
    rows = []
    for t in frames:
        gen = torch.Generator().manual_seed(0)
        video = torch.randn(batch, t, 3, 224, 224, generator=gen).to(device)
        ids = torch.randint(1000, 30000, (batch, text_len), generator=gen).to(device)
        mask = torch.ones_like(ids)
        counted = {r: profile_variant(variant, frames=t, text_len=text_len, rolling=r) for r in ROLLINGS}
        flatten_attn = counted["flatten"].analytic.attention if counted["flatten"].analytic else None
        for rolling in ROLLINGS:
            model = build_model(variant, num_frames=t, max_text_len=text_len, rolling=rolling).to(device).eval()

            def forward(m: torch.nn.Module = model) -> object:
                with torch.inference_mode(), prec.autocast():
                    return m(video, ids, mask)

            timing = measure(forward, device=device, warmup=warmup, repeats=repeats)
            report = counted[rolling]
            attn = report.analytic.attention if report.analytic else None
            ratio = attn / flatten_attn if attn is not None and flatten_attn else None
            rows.append(Row("rolling", f"{variant} {rolling} T={t}", f"batch {batch}, text {text_len}, {prec.name}",
                            timing.median_s, {
                                "attention_gmacs": round(attn / 1e9, 3) if attn is not None else None,
                                "total_gmacs": round(report.macs / 1e9, 3),
                                "attention_vs_flatten": round(ratio, 3) if ratio is not None else None,
                                "paper_1_over_T": round(1 / t, 3),
                                "paper_claim_holds": (None if ratio is None or rolling == "flatten"
                                                      else abs(ratio - 1 / t) <= 0.05),
                                "dtype": prec.name}, round(timing.peak_mib, 1)))
    return rows
