"""Which synthetic videos a dataset gets: scenes assigned to disjoint splits, each with its own render seed.

Adapters' ``synthesize`` methods share this so every synthetic dataset has the same shape: balanced scenes,
train/val/test on disjoint videos (train about half), small clips (64x64, 16 frames, 8 fps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from allinone_bench.data.synthetic.scene import Scene, render, sample_scenes

__all__ = ["FPS", "NUM_FRAMES", "SIZE", "SyntheticVideo", "plan_videos", "split_sizes"]

NUM_FRAMES = 16
SIZE = 64
FPS = 8


@dataclass(frozen=True)
class SyntheticVideo:
    """One planned clip: its split, position in the plan, the scene it shows and its render seed."""

    split: str
    index: int
    scene: Scene
    seed: int

    def frames(self, num_frames: int = NUM_FRAMES, size: int = SIZE) -> np.ndarray:
        return render(self.scene, num_frames=num_frames, size=size, seed=self.seed)


def split_sizes(num_videos: int, splits: Sequence[str] = ("train", "val", "test")) -> dict[str, int]:
    """Videos per split: the first split (train) weighs 2, the others 1 each; every split gets at least 1.

    24 videos -> train 12 / val 6 / test 6; 24 over (train, test) -> 16 / 8.
    """
    if num_videos < len(splits):
        raise ValueError(f"need at least {len(splits)} videos for splits {tuple(splits)}, got {num_videos}")
    weights = [2] + [1] * (len(splits) - 1)
    sizes = [max(1, num_videos * w // sum(weights)) for w in weights]
    sizes[0] += num_videos - sum(sizes)
    return dict(zip(splits, sizes, strict=True))


def plan_videos(
    num_videos: int, seed: int = 0, splits: Sequence[str] = ("train", "val", "test")
) -> list[SyntheticVideo]:
    """``num_videos`` clips split per :func:`split_sizes`, train first (it gets the balanced prefix of
    :func:`sample_scenes`, so every colour/shape/direction occurs in train once it has 12+ videos)."""
    scenes = sample_scenes(num_videos, seed)
    plan: list[SyntheticVideo] = []
    for split, count in split_sizes(num_videos, splits).items():
        for _ in range(count):
            index = len(plan)
            render_seed = int(np.random.SeedSequence([seed, index, 0x71D]).generate_state(1)[0])
            plan.append(SyntheticVideo(split, index, scenes[index], render_seed))
    return plan
