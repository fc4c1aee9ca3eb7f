"""Decode only the sampled frames of a clip: decord by default, PyAV as fallback, torchcodec on request, and
frame directories.

This module is the public face: backend choice, file checks, fallback and errors. The readers themselves
live in :mod:`allinone_bench.data.video_readers` (re-exported here) and are listed in :data:`BACKENDS`
(name -> reader class). A reader is opened once per clip, exposes the container's :class:`VideoInfo` (frame
count and fps, read from the container index, not by decoding) and returns the requested frames as
``uint8 (T, H, W, 3)`` RGB. ``backend="auto"`` picks the frame-directory reader for a
directory, PyAV for GIFs and MPEG-TS (decord cannot read the former and mis-indexes the latter), and decord for
other files, falling back to PyAV when decord cannot open or decode a file (with a warning naming the file and
the backend that ran). ``auto`` never picks torchcodec (:data:`EXPLICIT_ONLY`): its squashed frames differ from
decord's beyond :data:`PARITY_MEAN_TOLERANCE` (README "Performance"), so it runs only when a task names it.

Every failure on a bad file (missing, zero bytes, truncated, not a video) surfaces as
:class:`~allinone_bench.errors.VideoDecodeError` naming the file and the reason, so a data loader worker can skip
or report the clip instead of dying. ``size=(h, w)`` squashes frames at decode time, like the official
``decord.VideoReader(width=512, height=512)``.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from allinone_bench.data.types import VideoRef
from allinone_bench.data.video_readers import (  # all re-exported: callers import them from here
    BACKENDS,
    IMAGE_SUFFIXES,
    DecordReader,
    FrameDirReader,
    FrameReader,
    PyAVReader,
    Size,
    TorchCodecApproxReader,
    TorchCodecReader,
    VideoInfo,
)
from allinone_bench.errors import VideoDecodeError

GIF_SUFFIXES = frozenset({".gif"})
# Containers that ``auto`` never gives to decord: it cannot read GIFs, and on MPEG-TS it opens the file but
# returns frames shifted by several positions (checked with decord 0.6), which is worse than failing.
PYAV_ONLY_SUFFIXES = GIF_SUFFIXES | frozenset({".ts", ".m2ts", ".mts"})
# A backend may stand in for decord only if its frames match decord's: identical at native size, and mean |diff|
# <= PARITY_MEAN_TOLERANCE uint8 levels at the official 512 squash (`benchmarks/decode_bench.py --parity`).
# On bigbuckbunny and 5 re-encodes PyAV passes (mean 0-0.53, max 28 at edges) and torchcodec does not (mean
# 1.18-1.72, max 58: its resize runs after the RGB conversion), though its native frames are identical to decord's.
PARITY_MEAN_TOLERANCE = 0.6
EXPLICIT_ONLY = frozenset({TorchCodecReader.name, TorchCodecApproxReader.name})


def _normalise_size(size: int | Size | None) -> Size | None:
    if size is None:
        return None
    if isinstance(size, int):
        size = (size, size)
    h, w = int(size[0]), int(size[1])
    if h <= 0 or w <= 0:
        raise ValueError(f"decode size must be positive (h, w), got {size}")
    return h, w


AUTO = "auto"


def _as_path_and_kind(source: str | Path | VideoRef) -> tuple[Path, str]:
    if isinstance(source, VideoRef):
        return Path(source.path), source.kind
    path = Path(source)
    if path.is_dir():
        return path, "frames"
    return path, "gif" if path.suffix.lower() in GIF_SUFFIXES else "video"


def candidate_backends(source: str | Path | VideoRef, backend: str = AUTO) -> list[str]:
    """Backends to try, in order, for ``source`` under the ``backend`` choice.

    Frame directories always use ``frames``; an explicit backend applies to files. ``auto`` tries decord then
    PyAV for container files, and PyAV alone for GIFs and MPEG-TS (:data:`PYAV_ONLY_SUFFIXES`); it never tries
    the :data:`EXPLICIT_ONLY` backends.
    """
    if backend != AUTO and backend not in BACKENDS:
        raise ValueError(f"unknown video backend {backend!r}; expected {AUTO!r} or one of {sorted(BACKENDS)}")
    path, kind = _as_path_and_kind(source)
    if kind == "frames" or path.is_dir():
        return ["frames"]
    if backend != AUTO:
        return [backend]
    if kind == "gif" or path.suffix.lower() in PYAV_ONLY_SUFFIXES:
        return ["pyav"]
    return ["decord", "pyav"]


def _check_file(path: Path, kind: str) -> None:
    if not path.exists():
        raise VideoDecodeError(path, "file not found" if kind != "frames" else "frame directory not found")
    if path.is_file() and path.stat().st_size == 0:
        raise VideoDecodeError(path, "empty file (0 bytes)")


def open_video(
    source: str | Path | VideoRef,
    *,
    backend: str = AUTO,
    size: int | Size | None = None,
    fps: float | None = None,
) -> FrameReader:
    """Open ``source`` with the first backend that can index it (see :func:`candidate_backends`).

    ``fps`` is only used for frame directories, which carry no timing of their own.
    """
    return _open_with(source, candidate_backends(source, backend), [], size=size, fps=fps)[0]


def _open_with(
    source: str | Path | VideoRef,
    names: list[str],
    failures: list[str],
    *,
    size: int | Size | None,
    fps: float | None,
) -> tuple[FrameReader, list[str]]:
    """Open with the first of ``names`` that works; returns the reader and the untried names. Each failed
    backend's reason is appended to ``failures``; if all fail, they make up the error."""
    path, kind = _as_path_and_kind(source)
    _check_file(path, kind)
    dims = _normalise_size(size)
    for i, name in enumerate(names):
        try:
            if name == FrameDirReader.name:
                return FrameDirReader(path, dims, fps=fps), names[i + 1 :]
            return BACKENDS[name](path, dims), names[i + 1 :]
        except VideoDecodeError as err:
            failures.append(f"[{name}] {err.reason}")
    raise VideoDecodeError(path, "; ".join(failures))


def read_sampled(
    source: str | Path | VideoRef,
    choose: Callable[[VideoInfo], Sequence[int] | np.ndarray],
    *,
    backend: str = AUTO,
    size: int | Size | None = None,
    fps: float | None = None,
) -> tuple[np.ndarray, np.ndarray, VideoInfo]:
    """Open once, let ``choose(info)`` pick frame indices from the probed length, decode just those.

    Returns ``(frames uint8 (T,H,W,3), indices, info)``. Under ``auto`` a decord failure at open *or* at
    decode time is retried with PyAV; the error lists every backend's reason.
    """
    names = candidate_backends(source, backend)
    failures: list[str] = []
    path, _ = _as_path_and_kind(source)
    while names:
        reader, names = _open_with(source, names, failures, size=size, fps=fps)  # raises when all fail
        with reader:
            indices = np.asarray(choose(reader.info), dtype=np.int64)
            try:
                frames = reader.read(indices)
            except VideoDecodeError as err:
                failures.append(f"[{reader.name}] {err.reason}")
                continue
            if failures:  # a fallback ran: its pixels may differ from the first choice's, so say so
                warnings.warn(f"{path}: decoded with {reader.name} after {'; '.join(failures)}", stacklevel=2)
            return frames, indices, reader.info
    raise VideoDecodeError(path, "; ".join(failures))


def decoder_plan(videos: Iterable[str | Path | VideoRef], backend: str = AUTO) -> dict[str, int]:
    """How many of ``videos`` each backend chain decodes under ``backend`` (e.g. ``{"decord>pyav": 98,
    "pyav": 2}``), for results.json; decode-time fallbacks are reported by a warning."""
    return dict(Counter(">".join(candidate_backends(v, backend)) for v in videos))


def read_frames(
    source: str | Path | VideoRef,
    indices: Sequence[int] | np.ndarray,
    *,
    backend: str = AUTO,
    size: int | Size | None = None,
    fps: float | None = None,
) -> np.ndarray:
    """Decode the frames at ``indices`` of a video file, GIF or frame directory -> uint8 ``(T, H, W, 3)`` RGB."""
    frames, _, _ = read_sampled(source, lambda info: indices, backend=backend, size=size, fps=fps)
    return frames


def probe(source: str | Path | VideoRef, *, backend: str = AUTO, fps: float | None = None) -> VideoInfo:
    """Frame count, fps and native size from the container index (nothing is decoded beyond one frame)."""
    with open_video(source, backend=backend, fps=fps) as reader:
        return reader.info


def probe_num_frames(source: str | Path | VideoRef, *, backend: str = AUTO) -> int:
    """Number of frames in ``source``."""
    return probe(source, backend=backend).num_frames
