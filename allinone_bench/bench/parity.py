"""Frame parity of the video backends against decord, and their decode speed, on a real clip and on
geometries re-encoded from it (other sizes, aspect ratios, codecs, containers and keyframe intervals).

Used by ``benchmarks/decode_bench.py --parity VIDEO``; nothing here touches the network. Every backend decodes
the same frame indices (``frames`` uniformly spaced over the clip) at native size and at the official decode
squash; each is compared with decord's frames: max and mean absolute difference in uint8 levels, and the share
of frames that are bit-identical; at native size also the frames that differ from a decode from the start without
seeking (the ground truth of which frame sits at an index). Speed is the official evaluation sample: open the
clip, probe it and decode its 3 segment-midpoint frames squashed to ``size``, median of ``repeats`` runs after one
warm-up, the backends taking turns.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from allinone_bench.data.sampling import sample_indices
from allinone_bench.data.video import probe, read_frames, read_sampled
from allinone_bench.errors import VideoDecodeError

PARITY_BACKENDS = ("decord", "pyav", "torchcodec", "torchcodec_approx")
# (file name, encoder, height, width, keyframe interval or None for the encoder's default)
DERIVED = (
    ("h264_640x360_gop250.mp4", "libx264", 360, 640, None),
    ("mpeg4_320x240_gop12.avi", "mpeg4", 240, 320, 12),
    ("hevc_480x272_gop30.mp4", "libx265", 272, 480, 30),
    ("vp9_426x240_gop60.webm", "libvpx-vp9", 240, 426, 60),
    ("h264_176x144_intra.mkv", "libx264", 144, 176, 1),
)


def derive_clips(source: Path, out_dir: Path) -> list[Path]:
    """Re-encode ``source`` with PyAV into each :data:`DERIVED` geometry (skipping encoders PyAV lacks)."""
    import av

    made = []
    for name, codec, h, w, gop in DERIVED:
        if codec not in av.codecs_available:
            continue
        path = out_dir / name
        with av.open(str(source)) as src, av.open(str(path), "w") as dst:
            in_stream = src.streams.video[0]
            quiet = {"x265-params": "log-level=error"} if codec == "libx265" else {}
            stream = dst.add_stream(codec, rate=in_stream.average_rate or 25, options=quiet)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            if gop is not None:
                stream.codec_context.gop_size = gop
            for frame in src.decode(in_stream):
                rgb = frame.to_ndarray(format="rgb24", width=w, height=h, interpolation="BICUBIC")
                dst.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
            dst.mux(stream.encode())
        made.append(path)
    return made


@dataclass(frozen=True)
class ParityRow:
    """One backend on one clip at one decode size, compared with decord's frames at the same indices."""

    clip: str
    backend: str
    size: str
    max_diff: int | None = None
    mean_diff: float | None = None
    identical: float | None = None  # share of bit-identical frames
    ms_per_clip: float | None = None  # official sample: open + 3 frames at the squash size
    not_sequential: int | None = None  # frames that differ from a no-seek decode (native size only)
    error: str = ""


def sequential_frames(clip: Path, indices: np.ndarray) -> np.ndarray:
    """Frames at ``indices`` by decoding ``clip`` from its start with PyAV, no seeking: which frame sits at an
    index is then beyond doubt (a backend's seek may land elsewhere)."""
    import av

    wanted, out = set(indices.tolist()), {}
    with av.open(str(clip)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                out[i] = frame.to_ndarray(format="rgb24")
    return np.stack([out[i] for i in indices.tolist()])


def sample_ms(clip: Path, backends: tuple[str, ...], size: tuple[int, int], repeats: int) -> dict[str, float]:
    """Median ms of one official evaluation sample (open, probe, 3 segment-midpoint frames at ``size``) per
    backend; backends take turns within each repeat so that a busy machine slows them alike."""
    def sample(backend: str) -> None:
        read_sampled(clip, lambda info: sample_indices(info.num_frames, 3, "uniform"), backend=backend, size=size)

    runs: dict[str, list[float]] = {b: [] for b in backends}
    for b in backends:
        sample(b)  # warm-up
    for _ in range(repeats):
        for b in backends:
            start = time.perf_counter()
            sample(b)
            runs[b].append((time.perf_counter() - start) * 1000)
    return {b: round(statistics.median(r), 1) for b, r in runs.items()}


def parity_rows(clip: Path, *, backends: tuple[str, ...] = PARITY_BACKENDS, frames: int = 16, size: int = 512,
                repeats: int = 3) -> list[ParityRow]:
    """Rows for ``clip``: each backend at native size and at ``size``x``size``, against decord (and, at native
    size, against a sequential decode), with the sample time at ``size``."""
    sizes: list[tuple[str, tuple[int, int] | None]] = [("native", None), (f"{size}x{size}", (size, size))]
    rows = []
    for label, dims in sizes:
        try:
            n = probe(clip, backend="decord").num_frames
            indices = sample_indices(n, min(frames, n), "uniform")
            ref = read_frames(clip, indices, backend="decord", size=dims).astype(np.int16)
        except VideoDecodeError as err:
            rows += [ParityRow(clip.name, b, label, error=f"no decord reference: {err.reason[:100]}") for b in backends]
            continue
        truth = sequential_frames(clip, indices).astype(np.int16) if dims is None else None
        ok = []
        for backend in backends:
            try:
                out = read_frames(clip, indices, backend=backend, size=dims).astype(np.int16)
            except VideoDecodeError as err:
                rows.append(ParityRow(clip.name, backend, label, error=err.reason[:120]))
                continue
            ok.append(backend)
            diff = np.abs(out - ref)
            wrong = None if truth is None else int(sum((o != t).any() for o, t in zip(out, truth, strict=True)))
            rows.append(ParityRow(
                clip.name, backend, label, int(diff.max()), round(float(diff.mean()), 3),
                round(float(np.mean([not d.any() for d in diff])), 3), not_sequential=wrong,
            ))
        if dims is not None and ok:
            ms = sample_ms(clip, tuple(ok), dims, repeats)
            rows = [replace(r, ms_per_clip=ms[r.backend]) if r.size == label and r.backend in ms else r for r in rows]
    return rows
