"""A synthetic motion-direction task in TGIF-QA Action's layout, for the temporal-rolling ablation.

The regular synthetic TGIF clips start the shape on the side it moves away from, so one frame gives the answer
away. Here the trajectory's *midpoint* is drawn uniformly whatever the direction, so the set of positions a
clip shows has the same distribution for "left" and "right" (and for "up" and "down"): only the ORDER of the
frames tells them apart. A model that sees frames independently and averages them (``rolling: none``) can at
best find the axis, i.e. 50% accuracy; rolling or flattened attention can reach 100%. Clips have 15 frames so
the 3 uniformly sampled ones (2, 7, 12) sit symmetrically around the midpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from allinone_bench.data.datasets.base import register_adapter
from allinone_bench.data.datasets.tgif import TGIFAction
from allinone_bench.data.synthetic import DIRECTIONS, FPS, plan_videos, render, write_gif, write_jsonl

__all__ = ["MotionDirection"]

_FRAMES = 15
_SIZE = 32
_RADIUS, _TRAVEL = 0.14, 0.30  # as in synthetic.scene: the shape's half-size and travel, fractions of the frame
_OFFSETS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}


@register_adapter("motion_direction")
class MotionDirection(TGIFAction):
    """TGIF Action files (``meta_data/action_{train,test}.jsonl`` + ``gifs/``) under ``DATA_ROOT/motion``."""

    dataset_dir = "motion"

    @classmethod
    def synthesize(cls, out_root: Path, *, num_videos: int = 24, seed: int = 0) -> Path:
        root = Path(out_root) / cls.dataset_dir
        rng = np.random.default_rng([seed, 0x30710])
        options = [f"move {d}" for d in DIRECTIONS] + ["stay still"]
        rows: dict[str, list[dict[str, Any]]] = {"train": [], "test": []}
        low, high = _RADIUS + 0.5 * _TRAVEL + 0.02, 1.0 - _RADIUS - 0.5 * _TRAVEL - 0.02
        for clip in plan_videos(num_videos, seed, splits=("train", "test")):
            direction = DIRECTIONS[clip.index % len(DIRECTIONS)]  # balanced directions
            dx, dy = _OFFSETS[direction]
            mid = rng.uniform(low, high, size=2)
            start = (mid[0] - dx * _TRAVEL / 2, mid[1] - dy * _TRAVEL / 2)
            scene = type(clip.scene)(clip.scene.colour, clip.scene.shape, direction)
            name = f"motion_{clip.index:05d}"
            write_gif(root / "gifs" / f"{name}.gif", render(scene, _FRAMES, _SIZE, clip.seed, start=start), fps=FPS)
            order = rng.permutation(len(options))
            rows[clip.split].append({"gif_name": name, "question": f"where does the {scene.shape} move?",
                                     "options": [options[i] for i in order],
                                     "answer": int(np.flatnonzero(order == DIRECTIONS.index(direction))[0])})
        for split, items in rows.items():
            write_jsonl(root / f"meta_data/action_{split}.jsonl", items)
        return root
