"""Temporal token rolling, the parameter-free operator that lets per-frame attention see other frames.

Before every block of the joint pass the video tokens of each frame are partly exchanged with the
neighbouring frames (official ``TemporalRoll``, ``v=0``, ``n_div=8``). With ``fold = L_v // 8``:

* position 0 (the vision cls token) stays;
* positions ``1 .. fold`` take the tokens of frame ``t-1`` (circular: frame 0 takes frame ``T-1``'s);
* the last ``fold`` positions take the tokens of frame ``t+1`` (circular: frame ``T-1`` takes frame 0's);
* everything in between stays.

For the distilled S backbone position 1 is the dist token, and it is rolled (as officially). When
``fold == 0`` (tiny test frames with fewer than 8 tokens) nothing moves.
"""

from __future__ import annotations

import torch
from torch import Tensor


def temporal_roll(video_tokens: Tensor, num_frames: int, fold: int) -> Tensor:
    """Roll ``video_tokens`` (B*T, L_v, D), frame-major within a sample, and return a new tensor."""
    bt, lv, d = video_tokens.shape
    if bt % num_frames:
        raise ValueError(f"temporal_roll: leading dim {bt} is not a multiple of num_frames {num_frames}")
    if fold <= 0 or num_frames == 1:
        return video_tokens
    if 1 + 2 * fold > lv:
        raise ValueError(f"temporal_roll: fold {fold} too large for {lv} tokens per frame")
    x = video_tokens.view(bt // num_frames, num_frames, lv, d)
    out = torch.cat(
        [
            x[:, :, :1],
            x[:, :, 1 : 1 + fold].roll(1, dims=1),  # out[:, t] = in[:, t-1]
            x[:, :, 1 + fold : lv - fold],
            x[:, :, lv - fold :].roll(-1, dims=1),  # out[:, t] = in[:, t+1]
        ],
        dim=2,
    )
    return out.view(bt, lv, d)


def roll_source_frames(num_frames: int, num_tokens: int, fold: int) -> Tensor:
    """(T, L_v) integer map: the frame each output position of :func:`temporal_roll` reads from.

    Documentation aid and test oracle: ``temporal_roll`` of a tensor whose values encode their frame equals
    this map.
    """
    t = torch.arange(num_frames)[:, None].expand(num_frames, num_tokens).clone()
    if fold > 0 and num_frames > 1:
        t[:, 1 : 1 + fold] = (t[:, 1 : 1 + fold] - 1) % num_frames
        t[:, num_tokens - fold :] = (t[:, num_tokens - fold :] + 1) % num_frames
    return t
