"""Frame cache for deterministic evaluation: the sampled, transformed uint8 frames of (video, protocol), once.

Evaluating several checkpoints, seeds, precisions or tasks on the same test videos decodes the same frames each
time; decoding is the data side's bottleneck. This cache stores the clip after the deterministic uint8 part of
the transform (decode, squash, short-side resize, center crop) as a ``.npy`` file read back memory-mapped, and
the float part (/255, normalisation) is applied on read. It is only used where frames are deterministic:
evaluation (center crop) with ``uniform`` sampling.

* Key: the video file's identity (resolved path, size, mtime in ns; a directory's newest entry) plus its window
  and fps, a hash of every protocol field that changes pixels, and :data:`PIXELS_VERSION`. Editing or replacing a file changes the key.
* Several processes may fill it at once: each entry is written to a unique temporary name in the same folder and
  renamed into place (``os.replace`` is atomic), metadata first, frames last; an entry exists once its ``.npy``
  does. Two writers of one entry write the same bytes, and the last rename wins.
* Size limit: after a write, when the total exceeds ``max_bytes``, least recently used entries (by mtime,
  refreshed on each hit) are deleted until it is under 90% of the limit.

Enable it for a process with ``ALLINONE_BENCH_FRAME_CACHE=DIR`` (and ``ALLINONE_BENCH_FRAME_CACHE_GB``, default
20); ``allinone-bench data cache TASK`` fills it ahead of evaluation.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from allinone_bench.data.types import VideoRef

ENV_DIR = "ALLINONE_BENCH_FRAME_CACHE"
ENV_GB = "ALLINONE_BENCH_FRAME_CACHE_GB"
DEFAULT_GB = 20.0
#: Part of every key: bump it when a reader or transform changes the pixels it returns, so older entries are
#: never read back (2: PyAV squashes bilinear, as decord does, instead of bicubic).
PIXELS_VERSION = 2


def file_identity(path: Path) -> dict[str, Any]:
    """Resolved path, size and mtime (ns) of a file; for a frame directory, its entry count and newest mtime."""
    path = Path(path).resolve()
    st = path.stat()
    if path.is_dir():
        entries = [p.stat() for p in path.iterdir()]
        return {"path": str(path), "entries": len(entries), "size": sum(e.st_size for e in entries),
                "mtime_ns": max((e.st_mtime_ns for e in entries), default=st.st_mtime_ns)}
    return {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


@dataclass(frozen=True)
class CachedClip:
    """A cache hit: uint8 frames ``(T, 3, H, W)`` (memory-mapped), sampled indices, and the container info."""

    frames: np.ndarray
    indices: np.ndarray
    info: dict[str, Any]


class FrameCache:
    """A folder of ``<key>.npy`` (uint8 frames) + ``<key>.json`` (indices, container info) entries."""

    def __init__(self, root: str | Path, max_bytes: int = int(DEFAULT_GB * 2**30)) -> None:
        self.root = Path(root)
        self.max_bytes = int(max_bytes)
        self.root.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0
        self._approx_bytes: int | None = None  # running total, so a put does not rescan the folder

    @classmethod
    def from_env(cls) -> FrameCache | None:
        """The cache named by ``ALLINONE_BENCH_FRAME_CACHE`` (None when unset)."""
        folder = os.environ.get(ENV_DIR)
        if not folder:
            return None
        gb = float(os.environ.get(ENV_GB, DEFAULT_GB))
        return cls(folder, int(gb * 2**30))

    @staticmethod
    def key(video: VideoRef, protocol: dict[str, Any]) -> str:
        """Hex key of ``video`` (file identity, window, fps) under ``protocol`` (its pixel-changing fields)."""
        ident = {"pixels": PIXELS_VERSION, "file": file_identity(Path(video.path)), "kind": video.kind, "start": video.start,
                 "end": video.end, "fps": video.fps, "protocol": protocol}
        return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:32]

    def _paths(self, key: str) -> tuple[Path, Path]:
        folder = self.root / key[:2]
        return folder / f"{key}.npy", folder / f"{key}.json"

    def get(self, key: str) -> CachedClip | None:
        """The entry, memory-mapped, or None (a half-written or evicted entry is a miss)."""
        npy, meta = self._paths(key)
        try:
            frames = np.load(npy, mmap_mode="r")
            info = json.loads(meta.read_text(encoding="utf-8"))
            os.utime(npy)  # LRU: a hit refreshes the entry
        except (OSError, ValueError):
            self.misses += 1
            return None
        self.hits += 1
        return CachedClip(frames, np.asarray(info.pop("indices"), dtype=np.int64), info)

    def put(self, key: str, frames: np.ndarray, indices: np.ndarray, info: dict[str, Any]) -> None:
        """Store an entry atomically (metadata, then frames), then enforce the size limit."""
        npy, meta = self._paths(key)
        npy.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({**info, "indices": [int(i) for i in indices]})
        self._atomic(meta, lambda fh: fh.write(payload.encode()))
        self._atomic(npy, lambda fh: np.save(fh, np.ascontiguousarray(frames, dtype=np.uint8)))
        if self._approx_bytes is None:
            self._approx_bytes = self.size_bytes()
        else:
            self._approx_bytes += npy.stat().st_size
        if self._approx_bytes > self.max_bytes:
            self.evict()

    @staticmethod
    def _atomic(path: Path, write: Any) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                write(fh)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def entries(self) -> list[tuple[float, int, Path]]:
        """(mtime, bytes, path) of every complete entry's ``.npy``."""
        out = []
        for npy in self.root.glob("*/*.npy"):
            try:
                st = npy.stat()
            except FileNotFoundError:  # evicted by another process meanwhile
                continue
            out.append((st.st_mtime, st.st_size, npy))
        return out

    def size_bytes(self) -> int:
        return sum(size for _, size, _ in self.entries())

    def evict(self) -> int:
        """Delete least recently used entries while over the limit (down to 90% of it); returns how many."""
        entries = self.entries()
        total = sum(size for _, size, _ in entries)
        self._approx_bytes = total
        if total <= self.max_bytes:
            return 0
        removed = 0
        for _, size, npy in sorted(entries):
            if total <= 0.9 * self.max_bytes:
                break
            npy.unlink(missing_ok=True)
            npy.with_suffix(".json").unlink(missing_ok=True)
            total -= size
            removed += 1
        self._approx_bytes = total
        return removed
