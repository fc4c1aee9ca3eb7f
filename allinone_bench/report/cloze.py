"""The paper's Fig. 7 (cloze): fill ``[MASK]`` in a sentence about a video with the MLM head, and show where the
mask token looks.

One joint pass of (clip, text): the MLM head (``mlm_score``) on the frame-averaged text features gives the top-k
words for every ``[MASK]``; the attention of the first mask token over the video patches in the LAST block
(averaged over heads; per frame for roll/none, over the whole flattened sequence for flatten) is drawn on each
sampled frame as a heat map. The attention is recomputed from the block's own ``qkv`` weights on its input (a
forward hook), so the fused attention kernel needs no change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from allinone_bench.errors import ConfigError

__all__ = ["ClozeResult", "cloze", "draw_cloze"]


@dataclass
class ClozeResult:
    text: str
    fills: list[list[tuple[str, float]]]  # per [MASK], (word, probability) best first
    attention: np.ndarray  # (T, grid, grid): first mask token's attention to each frame's patches
    frames: np.ndarray  # (T, H, W, 3) uint8, the frames the model saw (denormalised)
    random_init: bool = True
    notes: list[str] = field(default_factory=list)


def _last_block_attention(model: Any, run: Any) -> tuple[Any, torch.Tensor]:
    """Run ``run()`` and return its output plus the last block's attention probabilities (B', heads, L, L)."""
    block = model.transformer.blocks[-1]
    attn = block.attn
    captured: dict[str, torch.Tensor] = {}

    def hook(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> None:
        x = args[0]
        mask = args[1] if len(args) > 1 else kwargs.get("mask")
        b, n, d = x.shape
        q, k, _ = attn.qkv(x).reshape(b, n, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        scores = (q @ k.transpose(-2, -1)) * attn.scale
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        captured["probs"] = scores.softmax(dim=-1)

    handle = attn.register_forward_hook(hook, with_kwargs=True)
    try:
        out = run()
    finally:
        handle.remove()
    return out, captured["probs"]


def cloze(model: Any, tokenizer: Any, clip: torch.Tensor, text: str, *, top_k: int = 5,
          mean: tuple[float, ...] = (0.485, 0.456, 0.406), std: tuple[float, ...] = (0.229, 0.224, 0.225),
          random_init: bool = True) -> ClozeResult:
    """Top-k MLM fills of every ``[MASK]`` in ``text`` for ``clip`` (T, 3, H, W, normalised), and the first
    mask token's last-block attention over each frame's patches."""
    cfg = model.config
    ids, mask = tokenizer.encode([text], cfg.max_text_len)
    positions = (ids[0] == tokenizer.mask_id).nonzero().flatten().tolist()
    if not positions:
        raise ConfigError(f"cloze: the text has no [MASK] token within {cfg.max_text_len} tokens: {text!r}")
    t = clip.shape[0]
    model.eval()
    with torch.no_grad():
        out, probs = _last_block_attention(model, lambda: model(clip[None], ids, mask))
        logits = model.mlm_logits(out.text_feats)[0].float()
    fills = []
    for pos in positions:
        p = logits[pos].softmax(dim=-1)
        values, index = p.topk(top_k)
        words = tokenizer.convert_ids_to_tokens(index)
        fills.append([(w, float(v)) for w, v in zip(words, values, strict=True)])
    lt = ids.shape[1]
    prefix = 2 if cfg.distilled else 1
    lv = model.video_tokens_per_frame
    grid = cfg.image_size // cfg.patch_size
    head_mean = probs.mean(dim=1)  # (B', L, L)
    if cfg.rolling == "flatten":
        row = head_mean[0, positions[0], lt:].reshape(t, lv)
    else:
        row = head_mean[:, positions[0], lt:]  # (T, lv): each frame's own sequence
    attention = row[:, prefix:].reshape(t, grid, grid).numpy()
    pixels = clip * torch.tensor(std).view(1, 3, 1, 1) + torch.tensor(mean).view(1, 3, 1, 1)
    frames = (pixels.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()
    return ClozeResult(text, fills, attention, frames, random_init)


def draw_cloze(result: ClozeResult, out: str | Path, *, title: str = "") -> Path:
    """Frames with the mask token's attention heat map (min-max scaled over all frames), the fills above them,
    and a random-init warning."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    t = len(result.frames)
    fig = Figure(figsize=(max(3.2 * t, 8.0), 4.0 + 0.25 * len(result.fills)), dpi=110)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, t, squeeze=False)[0]
    h, w = result.frames.shape[1:3]
    for i, ax in enumerate(axes):
        ax.imshow(result.frames[i])
        heat = result.attention[i]
        lo, hi = float(result.attention.min()), float(result.attention.max())
        ax.imshow((heat - lo) / max(hi - lo, 1e-12), cmap="jet", alpha=0.45,
                  extent=(0, w, h, 0), interpolation="nearest", vmin=0, vmax=1)
        ax.set_title(f"frame {i + 1}: {100 * heat.sum():.0f}% of the attention", fontsize=9)
        ax.axis("off")
    fills = "\n".join(f"[MASK]{k + 1}: " + ", ".join(f"{w} {p:.2g}" for w, p in f) for k, f in enumerate(result.fills))
    fig.suptitle((title or f'"{result.text}"') + "\n" + fills, fontsize=10)
    if result.random_init:
        fig.text(0.5, 0.04, "RANDOM-INIT MODEL (no checkpoint): fills and attention are meaningless",
                 ha="center", color="red", fontsize=12, weight="bold")
    fig.tight_layout(rect=(0, 0.08, 1, 0.88 - 0.04 * len(result.fills)))
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
