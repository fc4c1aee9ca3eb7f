"""From a :class:`VideoRef` to a model-ready clip: probe, sample indices, decode just those, transform.

:class:`VideoProtocol` holds every setting that changes the pixels a model sees; it is recorded in
``results.json`` (``to_dict``) so a number can always be traced to its input protocol. The defaults are the
official evaluation protocol: 3 frames, segment-midpoint sampling, decord decode squashed to 512x512, short side
268, center crop 224, ImageNet normalisation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from allinone_bench.data.frame_cache import FrameCache
from allinone_bench.data.sampling import SAMPLERS, sample_indices
from allinone_bench.data.transforms import NORMALIZATIONS, Compose, ToFloat, build_clip_transform
from allinone_bench.data.types import VideoRef
from allinone_bench.data.video import AUTO, GIF_SUFFIXES, VideoInfo, read_sampled
from allinone_bench.errors import ConfigError, DataError

VIDEO_BACKENDS = (AUTO, "decord", "pyav")
# Kinds decoded through the protocol's decode_size squash. The official code squashes mp4/avi to 512x512 in
# decord but reads GIFs (imageio) and frame folders at native resolution, so those keep their aspect ratio.
SQUASHED_KINDS = frozenset({"video"})


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"video protocol: {name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class VideoProtocol:
    """How clips are read. Fields: ``num_frames`` sampled per clip; ``sampling`` (``uniform`` | ``rand``);
    ``decode_size`` square squash at decode (``None`` keeps native size); ``resize`` short side; ``crop`` side;
    ``normalize`` (``imagenet`` | ``kinetics``); ``backend`` (``auto`` | ``decord`` | ``pyav``)."""

    num_frames: int = 3
    sampling: str = "uniform"
    decode_size: int | None = 512
    resize: int = 268
    crop: int = 224
    normalize: str = "imagenet"
    backend: str = "auto"

    def __post_init__(self) -> None:
        _positive_int("num_frames", self.num_frames)
        _positive_int("resize", self.resize)
        _positive_int("crop", self.crop)
        if self.decode_size is not None:
            _positive_int("decode_size", self.decode_size)
        if self.sampling not in SAMPLERS:
            raise ConfigError(f"video protocol: sampling must be one of {sorted(SAMPLERS)}, got {self.sampling!r}")
        if self.normalize not in NORMALIZATIONS:
            raise ConfigError(
                f"video protocol: normalize must be one of {sorted(NORMALIZATIONS)}, got {self.normalize!r}"
            )
        if self.backend not in VIDEO_BACKENDS:
            raise ConfigError(f"video protocol: backend must be one of {list(VIDEO_BACKENDS)}, got {self.backend!r}")
        if self.crop > self.resize:
            raise ConfigError(f"video protocol: crop ({self.crop}) cannot exceed resize ({self.resize})")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for results files."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VideoProtocol:
        """Build from a task YAML mapping; unknown keys are an error (a typo must not fall back to a default)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"video protocol: unknown key(s) {unknown}; expected some of {sorted(known)}")
        return cls(**dict(data))


@dataclass(frozen=True)
class LoadedClip:
    """A transformed clip with the frame indices that were decoded and the probed container info."""

    frames: torch.Tensor
    indices: np.ndarray
    info: VideoInfo


class ClipLoader:
    """Turns a :class:`VideoRef` into a ``(T, 3, crop, crop)`` float clip under a :class:`VideoProtocol`.

    ``train=True`` uses a random crop; frame sampling always follows ``protocol.sampling``. Random choices use
    the ``rng`` given to :meth:`load`, else the loader's own generator seeded with ``seed``. Frame directories
    store no timing: their fps comes from ``VideoRef.fps`` (set by the adapter), else ``frames_fps``, so
    ``VideoRef.start/end`` windows work on them.

    ``frame_cache`` (default: the one ``ALLINONE_BENCH_FRAME_CACHE`` names, if any; ``False`` = none) stores the
    uint8 frames after the deterministic transforms; it is used only when the frames are deterministic
    (evaluation with ``uniform`` sampling), so a cached and a decoded clip are identical.
    """

    def __init__(
        self, protocol: VideoProtocol, train: bool = False, *, seed: int = 0, frames_fps: float | None = None,
        frame_cache: FrameCache | None | bool = None,
    ) -> None:
        self.protocol = protocol
        self.train = train
        self.frames_fps = frames_fps
        self.transform: Compose = build_clip_transform(
            resize=protocol.resize, crop=protocol.crop, normalize=protocol.normalize, train=train
        )
        self._rng = np.random.default_rng(seed)
        if frame_cache is None or frame_cache is True:
            frame_cache = FrameCache.from_env()
        deterministic = not train and protocol.sampling == "uniform"
        self.frame_cache: FrameCache | None = frame_cache if frame_cache and deterministic else None
        split = next(i for i, t in enumerate(self.transform.transforms) if isinstance(t, ToFloat))
        self._to_uint8 = Compose(self.transform.transforms[:split])
        self._to_float = Compose(self.transform.transforms[split:])

    def cache_key(self, video: VideoRef) -> str:
        """The frame-cache key of ``video`` under this loader's protocol (backend included: pixels may differ)."""
        return FrameCache.key(video, {**self.protocol.to_dict(), "frames_fps": self.frames_fps, "train": self.train})

    def load_clip(self, video: VideoRef, rng: np.random.Generator | None = None) -> LoadedClip:
        """Decode and transform ``video`` (or read it from the frame cache); also returns the sampled indices."""
        if self.frame_cache is None:
            return self._decode(video, rng)
        key = self.cache_key(video)
        hit = self.frame_cache.get(key)
        if hit is not None:
            info = VideoInfo(**hit.info)
            return LoadedClip(self._to_float(torch.from_numpy(np.array(hit.frames))), hit.indices, info)
        clip = self._decode(video, rng, to_float=False)
        self.frame_cache.put(key, clip.frames.numpy(), clip.indices, asdict(clip.info))
        return LoadedClip(self._to_float(clip.frames), clip.indices, clip.info)

    def _decode(self, video: VideoRef, rng: np.random.Generator | None = None, *,
                to_float: bool = True) -> LoadedClip:
        proto = self.protocol
        gen = rng if rng is not None else self._rng
        window = (video.start, video.end) if video.start is not None or video.end is not None else None

        def choose(info: VideoInfo) -> np.ndarray:
            if window is not None and info.fps is None:
                raise DataError(
                    f"{video.path}: a start/end window needs the clip's fps, which is unknown here "
                    "(frame directories store none; the adapter should set VideoRef.fps)"
                )
            if video.frame_window is not None:  # official Ego4D: segments over the span, then clamp each index
                first, length = video.frame_window
                picked = sample_indices(length, proto.num_frames, proto.sampling, gen) + first
                return np.clip(picked, 0, info.num_frames - 1)
            return sample_indices(info.num_frames, proto.num_frames, proto.sampling, gen, window=window, fps=info.fps)

        path = Path(video.path)
        squash = video.kind in SQUASHED_KINDS and path.suffix.lower() not in GIF_SUFFIXES and not path.is_dir()
        size = proto.decode_size if squash else None
        frames, indices, info = read_sampled(
            video, choose, backend=proto.backend, size=size, fps=video.fps or self.frames_fps
        )
        uint8 = self._to_uint8(frames, gen)
        return LoadedClip(self._to_float(uint8, gen) if to_float else uint8, indices, info)

    def load(self, video: VideoRef, rng: np.random.Generator | None = None) -> torch.Tensor:
        """``(T, 3, crop, crop)`` float32 clip for ``video``; raises ``VideoDecodeError`` on a bad file."""
        return self.load_clip(video, rng).frames
