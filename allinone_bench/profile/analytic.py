"""Closed-form MAC counts of the All-in-One forward passes.

The model is a plain pre-norm ViT run once per frame on ``[text ; vision prefix ; patches]``, so its matmul
work has a closed form. Per frame and per block, with ``N`` tokens of width ``D`` and MLP ratio ``r``:

    linear layers  (qkv 3ND^2 + proj ND^2 + fc1/fc2 2rND^2) = (4 + 2r) N D^2   (= 12 N D^2 for r = 4)
    attention      (Q K^T and A V, summed over heads)        = 2 N^2 D

plus the patch convolution (``num_patches * D * 3 * p^2`` per frame) and the pooler (``D^2`` per sample, joint
pass only). Everything else (LayerNorm, GELU, softmax, the token roll, the frame mean) is element-wise and is not
a multiply-accumulate in the fvcore / ``torch.utils.flop_counter`` convention, so these formulas equal the
counter exactly; :mod:`allinone_bench.profile.flops` checks that on the real model.

The formulas also let us ask questions without running anything, e.g. at what text length the count for B at
T=3 equals the paper's 58.7 G (:func:`text_len_for_macs`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from allinone_bench.errors import ConfigError

__all__ = [
    "ArchSpec",
    "MacBreakdown",
    "PASS_MODES",
    "analytic_macs",
    "text_len_for_macs",
]

#: The three forward passes the model exposes (contract API): joint ``model(video, ids, mask)``,
#: ``model.encode_video(video)`` and ``model.encode_text(ids, mask)``.
PASS_MODES: tuple[str, ...] = ("joint", "video", "text")


@dataclass(frozen=True)
class ArchSpec:
    """The architecture numbers that determine the MAC count (everything else is irrelevant to it)."""

    hidden_size: int
    depth: int
    num_heads: int
    patch_size: int = 16
    image_size: int = 224
    prefix_tokens: int = 1  # vision cls (+ dist for the distilled S backbone)
    mlp_ratio: float = 4.0
    in_chans: int = 3
    # The reference's text-only pass repeats the text T times (identical copies, T x the cost); ours runs it once.
    text_copies_per_frame: bool = False
    flatten: bool = False  # rolling="flatten" ablation: one sequence of Lt + T*Lv tokens per clip

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    @property
    def video_tokens(self) -> int:
        """Tokens per frame on the video side (``Lv``): prefix tokens + patches (197 for ViT-B/16 at 224)."""
        return self.prefix_tokens + self.num_patches

    @classmethod
    def from_config(cls, config: Any, **changes: Any) -> ArchSpec:
        """Read an :class:`~allinone_bench.model.AllInOneConfig` (or anything with the same attribute names)."""
        prefix = int(getattr(config, "num_prefix_tokens", 2 if getattr(config, "distilled", False) else 1))
        fields = dict(
            hidden_size=int(config.hidden_size),
            depth=int(config.depth),
            num_heads=int(config.num_heads),
            patch_size=int(config.patch_size),
            image_size=int(config.image_size),
            prefix_tokens=prefix,
            mlp_ratio=float(getattr(config, "mlp_ratio", 4.0)),
            flatten=getattr(config, "rolling", "roll") == "flatten",
        )
        fields.update(changes)
        return cls(**fields)


@dataclass(frozen=True)
class MacBreakdown:
    """MACs of one forward pass by kind of work; ``total`` is their sum."""

    patch_embed: int
    linear: int
    attention: int
    pooler: int

    @property
    def total(self) -> int:
        return self.patch_embed + self.linear + self.attention + self.pooler

    def to_dict(self) -> dict[str, int]:
        return {**asdict(self), "total": self.total}


def _check_mode(mode: str) -> None:
    if mode not in PASS_MODES:
        raise ConfigError(f"--mode {mode!r}: expected one of {', '.join(PASS_MODES)}")


def _sequence(spec: ArchSpec, mode: str, frames: int, text_len: int, batch: int) -> tuple[int, int]:
    """(number of per-frame sequences, tokens per sequence) that go through the blocks in ``mode``."""
    if mode == "joint" and spec.flatten:
        return batch, text_len + frames * spec.video_tokens
    if mode == "joint":
        return batch * frames, text_len + spec.video_tokens
    if mode == "video":
        return batch * frames, spec.video_tokens
    return batch * (frames if spec.text_copies_per_frame else 1), text_len


def analytic_macs(
    spec: ArchSpec, *, mode: str = "joint", frames: int = 3, text_len: int = 40, batch: int = 1
) -> MacBreakdown:
    """MACs of one forward pass of ``batch`` clips of ``frames`` frames and ``text_len`` text tokens."""
    _check_mode(mode)
    d = spec.hidden_size
    seqs, n = _sequence(spec, mode, frames, text_len, batch)
    linear = spec.depth * seqs * round((4 + 2 * spec.mlp_ratio) * n * d * d)
    attention = spec.depth * seqs * 2 * n * n * d
    patch = 0
    if mode in ("joint", "video"):
        patch = batch * frames * spec.num_patches * d * spec.in_chans * spec.patch_size**2
    pooler = batch * d * d if mode == "joint" else 0
    return MacBreakdown(patch_embed=patch, linear=linear, attention=attention, pooler=pooler)


def text_len_for_macs(spec: ArchSpec, target_macs: float, *, frames: int = 3, batch: int = 1) -> float:
    """The (real-valued) text length at which the joint pass costs ``target_macs``.

    Solves ``a (2 D N^2 + (4+2r) D^2 N) + fixed = target`` for ``N = Lt + Lv`` with ``a = depth * batch * T``.
    Used to test the hypothesis that the paper's 58.7 G for B counted ~22 text tokens instead of 40.
    """
    if spec.flatten:
        raise ConfigError("text_len_for_macs assumes per-frame attention (rolling 'roll' or 'none'), not 'flatten'")
    d = spec.hidden_size
    fixed = analytic_macs(spec, mode="joint", frames=frames, text_len=0, batch=batch)
    fixed_part = fixed.patch_embed + fixed.pooler
    a = spec.depth * batch * frames
    qa, qb, qc = a * 2 * d, a * (4 + 2 * spec.mlp_ratio) * d * d, fixed_part - target_macs
    disc = qb * qb - 4 * qa * qc
    if disc < 0:
        raise ConfigError(f"no text length gives {target_macs:.4g} MACs for this architecture")
    n = (-qb + math.sqrt(disc)) / (2 * qa)
    return n - spec.video_tokens
