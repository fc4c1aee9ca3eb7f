"""Mixed precision: one place decides bf16 / fp16 / fp32 from the config and the device.

``auto`` is bf16 autocast wherever the hardware runs bf16 natively, else fp32 (fp16 on GPUs without bf16):

* CUDA: bf16 when ``torch.cuda.is_bf16_supported(including_emulation=False)``, else fp16 with a GradScaler;
* CPU: bf16 when the CPU has AVX512-BF16 or AMX-BF16 (asked of torch's cpuinfo, cross-checked with the
  ``/proc/cpuinfo`` flags), else fp32. Without those instructions CPU bf16 is emulated and slower than fp32.

The choice moves numbers (bf16 keeps 8 mantissa bits), so the resolved name is written into results.json, and
``tests/test_precision.py`` measures agreement of bf16 with fp32 on synthetic tasks. ``fp16`` (the official
training precision) stays available on CUDA.
``auto_fp16`` is the official code's choice (Lightning ``precision=16``: fp16 AMP with loss scaling) on CUDA,
and fp32 on CPU, so the official preset runs everywhere.
"""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from allinone_bench.errors import ConfigError

PrecisionName = Literal["auto", "auto_fp16", "bf16", "fp16", "fp32"]
#: /proc/cpuinfo flags that mean native bf16 arithmetic (dot products) on x86.
NATIVE_BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@dataclass(frozen=True)
class Precision:
    """The resolved precision of a run (never ``auto``); ``reason`` says why ``auto`` chose it."""

    name: Literal["bf16", "fp16", "fp32"]
    device_type: str
    reason: str = "requested"

    @property
    def dtype(self) -> torch.dtype | None:
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.name)

    def autocast(self) -> AbstractContextManager[Any]:
        """``torch.autocast`` for bf16/fp16; a no-op for fp32."""
        if self.dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def grad_scaler(self) -> torch.amp.GradScaler | None:
        """A GradScaler for fp16 on CUDA (bf16 and fp32 need none)."""
        if self.name == "fp16" and self.device_type == "cuda":
            return torch.amp.GradScaler("cuda")
        return None

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "device": self.device_type, "reason": self.reason}


def cpu_flags(path: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The ``flags`` of the first CPU in ``/proc/cpuinfo`` (empty where the file does not exist)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


@functools.lru_cache(maxsize=1)
def cpu_native_bf16() -> tuple[bool, str]:
    """Whether this CPU runs bf16 natively, and the evidence (torch's cpuinfo, else /proc/cpuinfo flags)."""
    probes = {"avx512_bf16": "_is_avx512_bf16_supported", "amx_bf16": "_is_amx_tile_supported"}
    found = [flag for flag, fn in probes.items() if getattr(torch.cpu, fn, lambda: False)()]
    if found:
        return True, f"CPU has {'+'.join(found)} (torch cpuinfo)"
    flags = cpu_flags() & NATIVE_BF16_CPU_FLAGS
    if flags:
        return True, f"CPU has {'+'.join(sorted(flags))} (/proc/cpuinfo)"
    return False, "CPU has neither AVX512-BF16 nor AMX-BF16"


def _cuda_native_bf16(device: torch.device) -> bool:
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # older torch without the keyword
        return bool(torch.cuda.is_bf16_supported())


def resolve_precision(requested: PrecisionName, device: torch.device) -> Precision:
    """Pick the concrete precision for ``device``."""
    if requested in ("auto", "auto_fp16"):
        if device.type == "cuda":
            if requested == "auto" and _cuda_native_bf16(device):
                return Precision("bf16", "cuda", "auto: GPU supports bf16")
            return Precision("fp16", "cuda", f"{requested}: fp16 + GradScaler")
        if device.type == "cpu" and requested == "auto":
            native, why = cpu_native_bf16()
            return Precision("bf16" if native else "fp32", "cpu", f"auto: {why}")
        return Precision("fp32", device.type, f"{requested}: no native low precision used on {device.type}")
    if requested == "fp16" and device.type != "cuda":
        raise ConfigError(
            f"precision fp16 needs a CUDA device (GradScaler); this run is on {device.type}: use bf16 or fp32"
        )
    return Precision(requested, device.type)
