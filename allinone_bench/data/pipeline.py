"""From a :class:`VideoRef` to a model-ready clip: probe, sample indices, decode just those, transform.

:class:`VideoProtocol` (:mod:`allinone_bench.data.protocol`, re-exported here) holds every setting that changes
the pixels a model sees, with the official defaults; it is recorded in ``results.json`` (``to_dict``) so a
number can always be traced to its input protocol.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from allinone_bench.data.frame_cache import FrameCache
from allinone_bench.data.protocol import VideoProtocol
from allinone_bench.data.sampling import sample_indices
from allinone_bench.data.transforms import Compose, ToFloat, build_clip_transform
from allinone_bench.data.types import VideoRef
from allinone_bench.data.video import GIF_SUFFIXES, VideoInfo, read_sampled
from allinone_bench.errors import DataError

__all__ = ["ClipLoader", "LoadedClip", "VideoProtocol"]

# Kinds decoded through the protocol's decode_size squash. The official code squashes mp4/avi to 512x512 in
# decord but reads GIFs (imageio) and frame folders at native resolution, so those keep their aspect ratio.
SQUASHED_KINDS = frozenset({"video"})


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
