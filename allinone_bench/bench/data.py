"""``bench data``: decode + transform throughput per video backend, and DataLoader throughput with N workers.

A synthetic clip (a drifting colour gradient with noise, so the codec has real work; 320x240, 30 fps) is written
with PyAV to a temporary directory; every measurement loads it under the official evaluation protocol (3
segment-midpoint frames, squash to 512, short side 268, center crop 224), so the figure is what one evaluation
sample costs. ``benchmarks/decode_bench.py`` compares sampled against whole-clip decoding in more detail.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from allinone_bench.bench.core import Row, measure


def write_clip(path: Path, *, codec: str = "libx264", gop: int | None = None, seconds: int = 10, fps: int = 30,
               h: int = 240, w: int = 320, options: dict[str, str] | None = None) -> Path:
    """A clip whose content changes every frame (a drifting colour gradient with noise)."""
    import av

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w]
    container = av.open(str(path), "w")
    stream = container.add_stream(codec, rate=fps, options=options or {})
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


#: A real-data evaluation on the synthetic test split: the paper's input (512 squash, short side 268, center crop
#: 224) and no in-process clip memo (``cache_clips`` is a synthetic-run shortcut). The model gets 32-pixel patches
#: so its forward stays cheap: the figure is the data side's.
REAL_INPUT = {"protocol.video.decode_size": 512, "protocol.video.resize": 268, "protocol.video.crop": 224,
              "dataset.cache_clips": False, "model.patch_size": 32}


def frame_cache_rows(*, task: str = "msrvtt_qa", repeats: int = 3, real_input: bool = True,
                     msrvtt_clips: bool = True) -> list[Row]:
    """The frame cache's effect on evaluation data time: one evaluation of ``task``'s synthetic test split without
    the cache, then two with an empty one, cold (decode + fill) and warm (read back); each repeat in a fresh
    cache folder, medians reported. Once with the synthetic set's own 64x64 clips and (``msrvtt_clips``) once
    with every clip replaced by a 10 s 320x240 h264 clip (MSR-VTT's frame size and its shortest clip length),
    whose decoding costs about what a real test set's does.

    Data time is the evaluator's data wait with no loader workers, so every clip is loaded in the timed process,
    on one intra-op thread as in a DataLoader worker.
    """
    from allinone_bench.engine.synthetic import ensure_synthetic
    from allinone_bench.tasks import load_task

    settings = REAL_INPUT if real_input else {}
    cfg = load_task(task, synthetic=True, overrides=settings)
    root, _ = ensure_synthetic(cfg.dataset.adapter, cfg.synthetic.num_videos, cfg.synthetic.seed)
    rows = _cache_rows(task, settings, repeats, None, "synthetic 64x64 clips")
    if msrvtt_clips:
        with tempfile.TemporaryDirectory(prefix="bench-clips-") as tmp:
            copy = Path(tmp) / "set"
            shutil.copytree(root, copy)
            clip = write_clip(Path(tmp) / "clip.mp4", seconds=10)
            for video in copy.rglob("*.mp4"):
                shutil.copyfile(clip, video)  # distinct paths: distinct cache entries
            rows += _cache_rows(task, settings, repeats, copy, "10 s 320x240 h264 clips")
    return rows


def _cache_rows(task: str, settings: dict[str, Any], repeats: int, root: Path | None, clips: str) -> list[Row]:
    """Off, cold and warm evaluation rows of :func:`frame_cache_rows` for one set of clips."""
    from unittest import mock

    from allinone_bench.bench.agreement import evaluate_synthetic
    from allinone_bench.bench.core import peak_memory
    from allinone_bench.data.frame_cache import ENV_DIR

    runs: dict[str, list[tuple[float, dict[str, int]]]] = {"off": [], "cold": [], "warm": []}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(max(repeats, 1)):
            with tempfile.TemporaryDirectory(prefix="bench-frame-cache-") as tmp:
                for label, folder in (("off", ""), ("cold", tmp), ("warm", tmp)):
                    with mock.patch.dict(os.environ, {ENV_DIR: folder}):  # empty: no cache
                        _, ev, kind = evaluate_synthetic(task, "fp32", settings, root=root)
                    cache = kind.eval_clips.frame_cache
                    counts = {"decoded": cache.misses, "cache_hits": cache.hits} if cache is not None else {}
                    runs[label].append((ev.data_wait.wait_s, counts))
    finally:
        torch.set_num_threads(threads)
    video = kind.config.protocol.video
    setting = (f"{task} synthetic test split, {clips}; evaluator data wait (0 workers, 1 thread); "
               f"{video.num_frames} frames, squash {video.decode_size}, resize {video.resize}, crop {video.crop}, "
               f"cache_clips {kind.config.dataset.cache_clips}")
    median = {label: statistics.median(w for w, _ in values) for label, values in runs.items()}
    names = {"off": "no frame cache", "cold": "frame cache cold (decode+fill)", "warm": "frame cache warm"}
    return [Row("data", f"eval data, {names[label]}", setting, median[label],
                {**runs[label][-1][1], "share_of_cold": round(median[label] / median["cold"], 4),
                 "share_of_no_cache": round(median[label] / median["off"], 4)},
                round(peak_memory(torch.device("cpu"))[0], 1)) for label in runs]
