"""``bench data``: decode + transform throughput per video backend, and DataLoader throughput with N workers.

A synthetic clip (a drifting colour gradient with noise, so the codec has real work; 320x240, 30 fps) is written
with PyAV to a temporary directory; every measurement loads it under the official evaluation protocol (3
segment-midpoint frames, squash to 512, short side 268, center crop 224), so the figure is what one evaluation
sample costs. ``benchmarks/decode_bench.py`` compares sampled against whole-clip decoding in more detail.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from allinone_bench.bench.core import Row, measure


def write_clip(path: Path, *, codec: str = "libx264", gop: int | None = None, seconds: int = 10, fps: int = 30,
               h: int = 240, w: int = 320) -> Path:
    """A clip whose content changes every frame (a drifting colour gradient with noise)."""
    import av

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w]
    container = av.open(str(path), "w")
    stream = container.add_stream(codec, rate=fps)
    stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
    if gop is not None:
        stream.codec_context.gop_size = gop
    for i in range(seconds * fps):
        base = np.stack([(xx + 3 * i) % 256, (yy + 2 * i) % 256, (xx + yy + i) % 256], axis=-1)
        noise = rng.integers(0, 24, (h, w, 1))
        frame = av.VideoFrame.from_ndarray(np.clip(base + noise, 0, 255).astype(np.uint8), format="rgb24")
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


class _ClipSet(torch.utils.data.Dataset):
    """``n`` loads of the same clip under ``protocol`` (what a DataLoader worker does per evaluation sample)."""

    def __init__(self, path: Path, n: int, backend: str) -> None:
        self.path, self.n, self.backend = path, n, backend

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> torch.Tensor:
        from allinone_bench.data.pipeline import ClipLoader, VideoProtocol
        from allinone_bench.data.types import VideoRef

        return ClipLoader(VideoProtocol(backend=self.backend)).load(VideoRef(Path(self.path)))


def data_rows(*, backends: tuple[str, ...] = ("decord", "pyav", "torchcodec"), workers: tuple[int, ...] = (0, 2),
              clips: int = 8, seconds: int = 4, warmup: int = 1, repeats: int = 3) -> list[Row]:
    """Clips/s of decode + transform per backend (one process), then of a DataLoader per worker count."""
    from allinone_bench.data.video import BACKENDS, probe
    from allinone_bench.errors import VideoDecodeError
    from allinone_bench.engine.loader import loader_kwargs

    cpu = torch.device("cpu")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
        clip = write_clip(Path(tmp) / "clip.mp4", seconds=seconds)
        setting = f"{seconds} s 320x240 h264 clip, official eval protocol (3 frames, 512 squash, crop 224)"
        for backend in (b for b in backends if b in BACKENDS):
            try:  # an optional backend (torchcodec without FFmpeg) that cannot run here is left out
                probe(clip, backend=backend)
            except VideoDecodeError:
                continue
            one = _ClipSet(clip, 1, backend)
            t = measure(lambda ds=one: ds[0], device=cpu, warmup=warmup, repeats=repeats)
            rows.append(Row("data", f"decode+transform {backend}", setting, t.median_s,
                            {"clips_per_s": round(1 / t.median_s, 1), "workers": 0}, round(t.peak_mib, 1)))
        for n in workers:
            ds = _ClipSet(clip, clips, "auto")
            loader = torch.utils.data.DataLoader(ds, batch_size=4, **loader_kwargs(n, cpu))  # iterated repeatedly
            t = measure(lambda dl=loader: list(dl), device=cpu, warmup=warmup, repeats=repeats)
            rows.append(Row("data", f"DataLoader {n} workers", f"{clips} clips, batch 4, auto backend; {setting}",
                            t.median_s, {"clips_per_s": round(clips / t.median_s, 1), "workers": n},
                            round(t.peak_mib, 1)))
    return rows
