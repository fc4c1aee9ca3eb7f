"""Clip transforms: small callables composed into the official evaluation and training pipelines.

Each transform maps a clip tensor ``(T, C, H, W)`` to another and accepts an optional
:class:`numpy.random.Generator` so that random ones (``RandomCrop``) are reproducible for a seed and
deterministic ones simply ignore it. The official All-in-One video path ('a100' backend, used by every EVAL.md
command) is: frames (already squashed to 512x512 at decode) -> resize short side to 268 (bilinear, aspect kept)
-> center crop 224 (train: random crop 224, no flip) -> /255 -> ImageNet mean/std.
``normalize: kinetics`` selects pytorchvideo's mean 0.45 / std 0.225 used by the official K400 path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from torchvision.transforms import InterpolationMode

from allinone_bench.data.protocol import OFFICIAL_CROP, OFFICIAL_RESIZE
from allinone_bench.errors import ConfigError

NORMALIZATIONS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "kinetics": ((0.45, 0.45, 0.45), (0.225, 0.225, 0.225)),
}
INTERPOLATIONS: dict[str, InterpolationMode] = {
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
    "nearest": InterpolationMode.NEAREST,
}


class ClipTransform:
    """Base class: ``transform(clip, rng=None) -> clip`` on ``(T, C, H, W)`` tensors."""

    def __call__(self, clip: torch.Tensor, rng: np.random.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class ToTensorClip(ClipTransform):
    """uint8 frames ``(T, H, W, 3)`` (numpy or tensor, as decoders return them) -> uint8 ``(T, 3, H, W)``."""

    def __call__(self, clip: torch.Tensor | np.ndarray, rng: np.random.Generator | None = None) -> torch.Tensor:
        if isinstance(clip, np.ndarray):
            array = np.ascontiguousarray(clip)
            frames = torch.from_numpy(array if array.flags.writeable else array.copy())
        else:
            frames = clip
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"expected frames (T, H, W, 3), got shape {tuple(frames.shape)}")
        return frames.permute(0, 3, 1, 2).contiguous()


class ResizeShortSide(ClipTransform):
    """Scale so the shorter side equals ``size``, keeping the aspect ratio (long side = int(size*long/short),
    the torchvision/PIL ``Resize(int)`` rule the official transform uses). Antialiased like PIL."""

    def __init__(self, size: int, interpolation: str = "bilinear") -> None:
        if interpolation not in INTERPOLATIONS:
            raise ConfigError(f"unknown interpolation {interpolation!r}; expected one of {sorted(INTERPOLATIONS)}")
        self.size = size
        self.interpolation = interpolation

    def __call__(self, clip: torch.Tensor, rng: np.random.Generator | None = None) -> torch.Tensor:
        h, w = clip.shape[-2:]
        short, long = (h, w) if h <= w else (w, h)
        new_long = int(self.size * long / short)
        new_h, new_w = (self.size, new_long) if h <= w else (new_long, self.size)
        if (new_h, new_w) == (h, w):
            return clip
        return TF.resize(clip, [new_h, new_w], interpolation=INTERPOLATIONS[self.interpolation], antialias=True)


class Resize(ClipTransform):
    """Squash to exactly ``(height, width)`` (aspect not kept), as decord's ``width=/height=`` does at decode."""

    def __init__(self, size: tuple[int, int], interpolation: str = "bilinear") -> None:
        self.size = (int(size[0]), int(size[1]))
        self.interpolation = interpolation

    def __call__(self, clip: torch.Tensor, rng: np.random.Generator | None = None) -> torch.Tensor:
        if tuple(clip.shape[-2:]) == self.size:
            return clip
        return TF.resize(clip, list(self.size), interpolation=INTERPOLATIONS[self.interpolation], antialias=True)


def _check_crop(clip: torch.Tensor, size: int) -> tuple[int, int]:
    h, w = clip.shape[-2:]
    if h < size or w < size:
        raise ValueError(f"cannot crop {size}x{size} from frames of {h}x{w}; resize first")
    return h, w


class CenterCrop(ClipTransform):
    """``size x size`` crop at offset ``round((H - size) / 2)`` (torchvision's rule; 268 -> 224 gives 22)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, clip: torch.Tensor, rng: np.random.Generator | None = None) -> torch.Tensor:
        h, w = _check_crop(clip, self.size)
        top, left = int(round((h - self.size) / 2.0)), int(round((w - self.size) / 2.0))
        return clip[..., top : top + self.size, left : left + self.size]


class RandomCrop(ClipTransform):
    """``size x size`` crop at a position drawn from ``rng`` (one position for all frames of the clip)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, clip: torch.Tensor, rng: np.random.Generator | None = None) -> torch.Tensor:
        if rng is None:
            raise ValueError("RandomCrop needs a seeded numpy Generator (rng=np.random.default_rng(seed))")
        h, w = _check_crop(clip, self.size)
        top = int(rng.integers(0, h - self.size + 1))
        left = int(rng.integers(0, w - self.size + 1))
        return clip[..., top : top + self.size, left : left + self.size]


class ToFloat(ClipTransform):
    """uint8 [0, 255] -> float32 [0, 1]."""

    def __call__(self, clip: torch.Tensor, rng: np.random.Generator | None = None) -> torch.Tensor:
        return clip.to(torch.float32).div_(255.0)


class Normalize(ClipTransform):
    """Per-channel ``(x - mean) / std`` on ``(T, 3, H, W)`` floats."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)

    @classmethod
    def named(cls, name: str) -> Normalize:
        """One of :data:`NORMALIZATIONS` (``imagenet`` | ``kinetics``)."""
        if name not in NORMALIZATIONS:
            raise ConfigError(f"unknown normalisation {name!r}; expected one of {sorted(NORMALIZATIONS)}")
        mean, std = NORMALIZATIONS[name]
        return cls(mean, std)

    def __call__(self, clip: torch.Tensor, rng: np.random.Generator | None = None) -> torch.Tensor:
        mean = torch.tensor(self.mean, dtype=clip.dtype, device=clip.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=clip.dtype, device=clip.device).view(1, -1, 1, 1)
        return (clip - mean) / std


@dataclass
class Compose(ClipTransform):
    """Apply ``transforms`` in order, handing each the same ``rng``."""

    transforms: list[ClipTransform]

    def __call__(self, clip: torch.Tensor | np.ndarray, rng: np.random.Generator | None = None) -> torch.Tensor:
        for transform in self.transforms:
            clip = transform(clip, rng)
        return clip  # type: ignore[return-value]

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(t) for t in self.transforms)
        return f"Compose([\n  {inner}\n])"


def build_clip_transform(
    *, resize: int = OFFICIAL_RESIZE, crop: int = OFFICIAL_CROP, normalize: str = "imagenet", train: bool = False
) -> Compose:
    """The official pipeline from decoded uint8 frames ``(T, H, W, 3)`` to a float clip ``(T, 3, crop, crop)``:
    short-side resize, center (eval) or random (train) crop, /255, named normalisation."""
    return Compose(
        [
            ToTensorClip(),
            ResizeShortSide(resize),
            RandomCrop(crop) if train else CenterCrop(crop),
            ToFloat(),
            Normalize.named(normalize),
        ]
    )
