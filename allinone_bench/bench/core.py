"""Shared measuring rules of ``allinone-bench bench``: warm-up excluded, median of repeats, peak memory.

Every figure is a :class:`Row`; a suite returns rows, the CLI prints them as a table and writes them as CSV
whose file name states device, dtype and torch version (as timm's benchmark CSVs do), because a figure is only
comparable on the same hardware and software.
"""

from __future__ import annotations

import csv
import platform
import re
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch


@dataclass
class Timing:
    """Seconds per call: median over ``repeats`` after ``warmup`` untimed calls; peak memory in MiB."""

    median_s: float
    repeats: int
    warmup: int
    all_s: list[float]
    peak_mib: float
    peak_kind: str


@dataclass
class Row:
    """One measurement: what (``suite``, ``name``, ``setting``), its time, and any further named figures."""

    suite: str
    name: str
    setting: str
    seconds: float | None
    figures: dict[str, Any] = field(default_factory=dict)
    peak_mib: float | None = None

    def flat(self) -> dict[str, Any]:
        return {"suite": self.suite, "name": self.name, "setting": self.setting, "seconds": self.seconds,
                "peak_mib": self.peak_mib, **self.figures}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory(device: torch.device) -> tuple[float, str]:
    """CUDA: ``max_memory_allocated``; CPU: the process's peak RSS (weights and Python included)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda max allocated"
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / (2**20 if sys.platform == "darwin" else 2**10), "process peak RSS"


def measure(fn: Callable[[], Any], *, device: torch.device, warmup: int = 1, repeats: int = 3) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` timed times; the median is the figure."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(max(repeats, 1)):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    peak, kind = peak_memory(device)
    return Timing(statistics.median(times), len(times), warmup, times, peak, kind)


def device_name(device: torch.device) -> str:
    """The device in words: the GPU's name, or the CPU model from /proc/cpuinfo and the thread count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {torch.get_num_threads()} threads"


def csv_name(suite: str, device: torch.device, dtype: str) -> str:
    """``bench-SUITE-DEVICE-DTYPE-torchVERSION.csv`` with the device's name slugged."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", device_name(device).split(",")[0]).strip("-").lower()
    return f"bench-{suite}-{device.type}-{slug}-{dtype}-torch{torch.__version__.split('+')[0]}.csv"


def write_csv(rows: list[Row], path: Path) -> Path:
    """All rows, one column per figure any row has; written to a temporary file and renamed (atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flat = [r.flat() for r in rows]
    columns = list(dict.fromkeys(k for r in flat for k in r))
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(flat)
    tmp.replace(path)
    return path
