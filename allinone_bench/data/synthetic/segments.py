"""Multi-segment synthetic clips: several scenes back to back, one per sentence or captioned window.

Paragraph retrieval (DiDeMo, ActivityNet) and dense captioning (YouCook2, TVC) need clips whose parts differ;
consecutive scenes are kept distinct so every sentence describes a visible change.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from allinone_bench.data.synthetic.plan import SIZE
from allinone_bench.data.synthetic.scene import Scene, render

__all__ = ["SEGMENT_FRAMES", "paragraph_scenes", "render_segments"]

SEGMENT_FRAMES = 8  # one 1-second (8-frame) segment per sentence


def paragraph_scenes(first: Scene, extra: Sequence[Scene], count: int) -> list[Scene]:
    """``count`` scenes for a multi-segment synthetic video: ``first`` then ``extra``, consecutive ones distinct
    (a repeated scene gets its direction flipped, so every sentence describes a visible change)."""
    flip = {"left": "right", "right": "left", "up": "down", "down": "up"}
    scenes = [first]
    for scene in list(extra)[: count - 1]:
        if scene == scenes[-1]:
            scene = Scene(scene.colour, scene.shape, flip[scene.direction])
        scenes.append(scene)
    return scenes


def render_segments(scenes: Sequence[Scene], seed: int, frames_per_scene: int = SEGMENT_FRAMES) -> np.ndarray:
    """The scenes back to back, ``frames_per_scene`` frames each, as one uint8 ``(T, SIZE, SIZE, 3)`` clip."""
    parts = [render(s, num_frames=frames_per_scene, size=SIZE, seed=seed + k) for k, s in enumerate(scenes)]
    return np.concatenate(parts)
