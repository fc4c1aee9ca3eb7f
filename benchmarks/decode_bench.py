"""Decode cost of sampling 3 frames versus decoding a whole clip, per video backend.

Writes a 10 s 320x240 synthetic clip (moving gradient plus noise, so the codec has real work) with PyAV into a
temporary directory, then times ``read_frames`` for the 3 uniformly sampled frames of the evaluation protocol
and for every frame, with decord and with PyAV. Not part of the test suite; run it by hand:

    python benchmarks/decode_bench.py [--codec libx264|mpeg4] [--gop 30] [--size 512] [--repeats 5]
    python benchmarks/decode_bench.py --parity VIDEO [--derive]   # backends' frames against decord's

``--parity`` compares every backend's frames with decord's on VIDEO (and, with ``--derive``, on re-encodes of it
at other sizes, codecs and keyframe intervals, written to a temporary directory): max/mean |diff|, share of
identical frames, and ms per official evaluation sample (:mod:`allinone_bench.bench.parity`).

Sampled decoding pays for the frames between each target and its preceding keyframe, so the saving grows
as the keyframe interval shrinks (x264's default interval of 250 frames leaves little to skip in 300).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
from rich.console import Console
from rich.table import Table

from allinone_bench.bench.data import write_clip
from allinone_bench.data.sampling import sample_indices
from allinone_bench.data.video import probe, read_frames
from allinone_bench.errors import VideoDecodeError


def time_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn`` in milliseconds (one untimed warm-up call first)."""
    fn()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs)


def parity(video: Path, derive: bool, size: int, repeats: int, console: Console) -> None:
    """Print the parity table of :func:`allinone_bench.bench.parity.parity_rows` for ``video`` (+ re-encodes)."""
    from allinone_bench.bench.parity import ParityRow, derive_clips, parity_rows

    if not video.is_file():
        console.print(f"{video}: not found or not a file (expected a video file to compare the backends on)")
        raise SystemExit(2)
    table = Table(title=f"Frames against decord, {video.name}; ms = open + 3 frames at {size}x{size}, "
                  f"median of {repeats}")
    for column in ("clip", "size", "backend", "max |diff|", "mean |diff|", "identical", "≠ no-seek", "ms/clip"):
        table.add_column(column, justify="left" if column in ("clip", "size", "backend") else "right")
    with tempfile.TemporaryDirectory() as tmp:
        clips = [video] + (derive_clips(video, Path(tmp)) if derive else [])
        for clip in clips:
            rows: list[ParityRow] = parity_rows(clip, size=size, repeats=repeats)
            for r in rows:
                cells = [r.max_diff, r.mean_diff, r.identical, r.not_sequential, r.ms_per_clip]
                shown = [("-" if c is None else str(c)) for c in cells] if not r.error else [f"failed: {r.error}"]
                table.add_row(r.clip, r.size, r.backend, *shown)
            table.add_section()
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--codec", default="libx264", help="PyAV encoder (libx264, h264 or mpeg4)")
    parser.add_argument("--size", type=int, default=None, help="squash to SIZE x SIZE at decode (official: 512)")
    parser.add_argument(
        "--gop", type=int, default=None, help="keyframe interval (codec default: 250 for libx264, 12 for mpeg4)"
    )
    parser.add_argument("--frames", type=int, default=3, help="frames sampled per clip")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--parity", type=Path, default=None, metavar="VIDEO", help="compare backends on VIDEO")
    parser.add_argument("--derive", action="store_true", help="with --parity: also re-encoded geometries")
    args = parser.parse_args()

    console = Console()
    if args.parity is not None:
        console.width = max(console.width, 120)  # the parity table's columns, untruncated
        parity(args.parity, args.derive, args.size or 512, args.repeats, console)
        return
    with tempfile.TemporaryDirectory() as tmp:
        codec = args.codec if args.codec in av.codecs_available else "mpeg4"
        clip = write_clip(Path(tmp) / "clip.mp4", codec=codec, gop=args.gop)
        size = (args.size, args.size) if args.size else None
        table = Table(
            title=f"10 s 320x240 {codec} clip (GOP {args.gop or 'default'}), "
            f"decode size {args.size or 'native'}, median of {args.repeats}"
        )
        for column in ("backend", "frames", f"{args.frames} sampled (ms)", "all frames (ms)", "speed-up"):
            table.add_column(column, justify="right" if column != "backend" else "left")
        for backend in ("decord", "pyav", "torchcodec"):
            try:
                n = probe(clip, backend=backend).num_frames
                sampled = sample_indices(n, args.frames, "uniform")
                few = time_ms(lambda: read_frames(clip, sampled, backend=backend, size=size), args.repeats)
                every = time_ms(lambda: read_frames(clip, np.arange(n), backend=backend, size=size), args.repeats)
            except VideoDecodeError as err:
                table.add_row(backend, "-", "-", "-", f"failed: {err.reason}")
                continue
            table.add_row(backend, str(n), f"{few:.1f}", f"{every:.1f}", f"{every / few:.1f}x")
        console.print(table)


if __name__ == "__main__":
    main()
