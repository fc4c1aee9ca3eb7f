"""Mixed precision: one place decides bf16 / fp16 / fp32 from the config and the device.

``auto`` is bf16 autocast on CUDA devices that support it (no loss scaling needed), fp16 with a GradScaler on
older GPUs, and fp32 on CPU (CPU autocast is slower than fp32 for these models and changes the numbers).
``auto_fp16`` is the official code's choice (Lightning ``precision=16``: fp16 AMP with loss scaling) on CUDA,
and fp32 on CPU, so the official preset runs everywhere.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Literal

import torch

from allinone_bench.errors import ConfigError

PrecisionName = Literal["auto", "auto_fp16", "bf16", "fp16", "fp32"]


@dataclass(frozen=True)
class Precision:
    """The resolved precision of a run (never ``auto``)."""

    name: Literal["bf16", "fp16", "fp32"]
    device_type: str

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


def resolve_precision(requested: PrecisionName, device: torch.device) -> Precision:
    """Pick the concrete precision for ``device``."""
    if requested in ("auto", "auto_fp16"):
        if device.type == "cuda":
            name = "bf16" if requested == "auto" and torch.cuda.is_bf16_supported() else "fp16"
        else:
            name = "fp32"
        return Precision(name, device.type)  # type: ignore[arg-type]
    if requested == "fp16" and device.type != "cuda":
        raise ConfigError(
            f"precision fp16 needs a CUDA device (GradScaler); this run is on {device.type}: use bf16 or fp32"
        )
    return Precision(requested, device.type)
