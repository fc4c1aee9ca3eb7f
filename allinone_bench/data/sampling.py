"""Segment-based frame sampling (TSN style), as All-in-One's ``sample_frames`` does it, minus its bugs.

The clip (or a time window of it) is cut into ``T`` equal segments with
``edges = np.linspace(0, n, T + 1).astype(int)``; segment ``k`` covers frames ``[edges[k], edges[k+1])``.

* ``uniform``: the segment midpoint ``(edges[k] + edges[k+1] - 1) // 2``, exactly the official value
  (e.g. 300 frames, T=3 -> [49, 149, 249]). Deterministic; the protocol default for evaluation.
* ``rand``: one frame drawn uniformly from each segment with a seeded :class:`numpy.random.Generator`.
  Corrections to the official code, which drew from ``range(start, end - 1)``: the last frame of each segment
  can be chosen, and a one-frame segment does not crash.

Videos with fewer than ``T`` frames (the official code returns fewer indices and breaks collation) get segments
stretched to one frame each, so exactly ``T`` non-decreasing indices come back, with repeats.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from allinone_bench.errors import ConfigError, DataError

Sampler = Callable[[np.ndarray, np.ndarray, "np.random.Generator | None"], np.ndarray]


def _uniform(starts: np.ndarray, ends: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    return (starts + ends - 1) // 2


def _rand(starts: np.ndarray, ends: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    if rng is None:
        raise ValueError("sampling 'rand' needs a seeded numpy Generator (rng=np.random.default_rng(seed))")
    return rng.integers(starts, ends)  # high is exclusive; ends > starts always


SAMPLERS: dict[str, Sampler] = {"uniform": _uniform, "rand": _rand}


def window_to_frames(
    num_frames: int, window: tuple[float | None, float | None], fps: float
) -> tuple[int, int]:
    """Frame range ``[first, stop)`` covering the ``(start, end)`` seconds window, clipped to the video.

    ``None`` for either bound means the video's start/end. The range always holds at least one frame, so a
    window past the end of the video collapses onto its last frame rather than failing.
    """
    if fps is None or not fps > 0:
        raise ValueError(f"a time window needs the video's fps (> 0), got {fps!r}")
    start_s, end_s = window
    first = 0 if start_s is None else int(math.floor(max(start_s, 0.0) * fps))
    stop = num_frames if end_s is None else int(math.ceil(end_s * fps))
    first = min(first, num_frames - 1)
    stop = min(max(stop, first + 1), num_frames)
    return first, stop


def segment_bounds(num_frames: int, num_segments: int) -> tuple[np.ndarray, np.ndarray]:
    """Start (inclusive) and end (exclusive) frame of each of ``num_segments`` equal segments."""
    edges = np.linspace(0, num_frames, num_segments + 1).astype(np.int64)
    starts = edges[:-1]
    ends = np.maximum(edges[1:], starts + 1)  # only widens segments of videos shorter than num_segments
    return starts, ends


def sample_indices(
    num_frames_in_video: int,
    T: int,
    mode: str,
    rng: np.random.Generator | None = None,
    window: tuple[float | None, float | None] | None = None,
    fps: float | None = None,
) -> np.ndarray:
    """Indices (int64 array of length ``T``, non-decreasing) of the frames to decode.

    ``mode`` names a sampler in :data:`SAMPLERS`; ``rng`` is required for ``rand``. ``window=(start, end)``
    (seconds, needs ``fps``) restricts sampling to that part of the clip; returned indices are absolute.
    """
    if mode not in SAMPLERS:
        raise ConfigError(f"unknown frame sampling {mode!r}; expected one of {sorted(SAMPLERS)}")
    if T < 1:
        raise ConfigError(f"number of frames to sample must be >= 1, got {T}")
    if num_frames_in_video < 1:
        raise DataError(f"cannot sample {T} frames from a video with {num_frames_in_video} frames")
    first, stop = 0, num_frames_in_video
    if window is not None and (window[0] is not None or window[1] is not None):
        first, stop = window_to_frames(num_frames_in_video, window, fps)  # type: ignore[arg-type]
    starts, ends = segment_bounds(stop - first, T)
    return (SAMPLERS[mode](starts, ends, rng) + first).astype(np.int64)
