"""Small seeded models and inputs for the model tests (CPU, a few ms per forward)."""

from __future__ import annotations

from typing import Any

import torch

from allinone_bench.model import AllInOne, build_model

TINY: dict[str, Any] = {"depth": 2, "image_size": 64, "num_frames": 3, "max_text_len": 12, "vocab_size": 300}


def tiny_model(variant: str = "ti", *, seed: int = 0, **overrides: Any) -> AllInOne:
    """A 2-block model on 64 px frames (17 video tokens per frame, fold 2) in eval mode.

    Weights are re-drawn with std 0.1 (init uses 0.02) so that token interactions (the roll, attention across
    frames) move the outputs well above float noise in a 2-block model. ``temporal_embed`` stays zero, as
    in the released checkpoints.
    """
    torch.manual_seed(seed)
    model = build_model(variant, **{**TINY, **overrides}).eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() >= 2 and name != "transformer.temporal_embed":
                param.copy_(torch.randn(param.shape, generator=gen) * 0.1)
    return model


def tiny_inputs(b: int = 2, t: int = 3, size: int = 64, lt: int = 8, seed: int = 1) -> tuple[torch.Tensor, ...]:
    """(video (B,T,3,H,W), ids (B,Lt), mask (B,Lt)); the second sample has 3 padded text positions."""
    gen = torch.Generator().manual_seed(seed)
    video = torch.randn(b, t, 3, size, size, generator=gen)
    ids = torch.randint(1, 300, (b, lt), generator=gen)
    mask = torch.ones(b, lt, dtype=torch.long)
    if b > 1:
        mask[1, lt - 3 :] = 0
    return video, ids, mask
