"""Forward throughput (clips/s) and peak memory of an All-in-One variant on this machine.

    python benchmarks/throughput.py --variant b --frames 3 --batch 32            # CUDA + bf16 autocast if present
    python benchmarks/throughput.py --variant ti --batch 4 --device cpu --steps 5

Random weights (cost does not depend on them), synthetic inputs, ``torch.inference_mode``. Prints one line per
setting and, with ``--json``, a JSON record that names device, dtype and torch version (figures are only
comparable on the same hardware and software). Not a test: nothing here asserts a speed.
Table 1 of the paper reports 745 / 285 / 89 (Ti / S / B) "throughput" at 224 px without stating hardware,
batch or pass; compare with care.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import resource
import sys
import time
from dataclasses import asdict, dataclass

import torch

from allinone_bench.model import build_model
from allinone_bench.profile import ArchSpec, analytic_macs


@dataclass
class ThroughputResult:
    variant: str
    mode: str
    frames: int
    text_len: int
    image_size: int
    batch: int
    device: str
    dtype: str
    steps: int
    seconds_per_step: float
    clips_per_s: float
    gmacs_per_clip: float
    achieved_gflops_per_s: float  # 2 x MACs per second
    peak_memory_mib: float
    peak_memory_kind: str
    torch: str
    attention: str


def _pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _peak_memory(device: torch.device) -> tuple[float, str]:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "torch.cuda.max_memory_allocated"
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 / 2**20 if sys.platform == "darwin" else 1 / 2**10  # bytes on macOS, KiB on Linux
    return rss_kib * scale, "process peak RSS (includes Python and weights)"


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run(args: argparse.Namespace) -> ThroughputResult:
    device = _pick_device(args.device)
    use_bf16 = device.type == "cuda" and args.dtype == "bf16"
    dtype = "bf16-autocast" if use_bf16 else "fp32"
    model = build_model(args.variant, num_frames=args.frames, max_text_len=args.text_len,
                        image_size=args.image_size, fused_attn=args.attention == "sdpa").to(device).eval()
    video = torch.randn(args.batch, args.frames, 3, args.image_size, args.image_size, device=device)
    ids = torch.randint(1000, 30000, (args.batch, args.text_len), device=device)
    mask = torch.ones_like(ids)
    passes = {
        "joint": lambda: model(video, ids, mask),
        "video": lambda: model.encode_video(video),
        "text": lambda: model.encode_text(ids, mask),
    }
    forward = passes[args.mode]
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if use_bf16 else contextlib.nullcontext()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with torch.inference_mode(), autocast:
        for _ in range(args.warmup):
            forward()
        _sync(device)
        start = time.perf_counter()
        for _ in range(args.steps):
            forward()
        _sync(device)
        elapsed = time.perf_counter() - start
    per_step = elapsed / args.steps
    macs = analytic_macs(ArchSpec.from_config(model.config), mode=args.mode, frames=args.frames,
                         text_len=args.text_len, batch=1).total
    clips_per_s = args.batch / per_step
    peak, kind = _peak_memory(device)
    return ThroughputResult(
        variant=args.variant, mode=args.mode, frames=args.frames, text_len=args.text_len,
        image_size=args.image_size, batch=args.batch,
        device=_device_name(device),
        dtype=dtype, steps=args.steps, seconds_per_step=per_step, clips_per_s=clips_per_s,
        gmacs_per_clip=macs / 1e9, achieved_gflops_per_s=2 * macs * clips_per_s / 1e9, peak_memory_mib=peak,
        peak_memory_kind=kind, torch=torch.__version__, attention=args.attention,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", default="b", choices=["ti", "s", "b"])
    parser.add_argument("--mode", default="joint", choices=["joint", "video", "text"])
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--text-len", type=int, default=40)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cuda, cuda:1, cpu")
    parser.add_argument("--dtype", default="bf16", choices=["bf16", "fp32"], help="bf16 = autocast, CUDA only")
    parser.add_argument("--attention", default="sdpa", choices=["sdpa", "explicit"])
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = parser.parse_args(argv)
    result = run(args)
    if args.json:
        print(json.dumps(asdict(result)))
        return
    print(f"All-in-One-{result.variant.upper()} {result.mode} pass, batch {result.batch} x {result.frames} frames "
          f"x {result.image_size}px, text {result.text_len}, on {result.device} ({result.dtype}, {result.attention})")
    print(f"  {result.clips_per_s:.1f} clips/s  ({result.seconds_per_step * 1e3:.1f} ms/step over {result.steps} "
          f"steps)  {result.gmacs_per_clip:.2f} GMACs/clip -> {result.achieved_gflops_per_s:.1f} GFLOP/s")
    print(f"  peak memory {result.peak_memory_mib:.0f} MiB ({result.peak_memory_kind})")


if __name__ == "__main__":
    main()
