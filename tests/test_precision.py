"""precision: auto picks bf16 only where the hardware runs it natively, and bf16 predicts what fp32 predicts.

Tolerance (stated, measured on a seeded random-init tiny model, the harshest case since its candidate scores
lie close together): retrieval ranks identical for >= 85% of queries and R@1 within 12.5 points (2 of 16
queries); open QA and linear-probe predictions identical for >= 95% of samples, accuracy within 5 points.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from allinone_bench.engine import precision as prec
from allinone_bench.engine.precision import cpu_flags, resolve_precision


def test_cpu_flags_parsed_from_cpuinfo(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16 amx_tile\n\nprocessor\t: 1\n")
    assert {"avx512_bf16", "avx512f"} <= cpu_flags(info)
    assert cpu_flags(tmp_path / "absent") == frozenset()


def test_auto_follows_native_bf16_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = torch.device("cpu")
    monkeypatch.setattr(prec, "cpu_native_bf16", lambda: (False, "no bf16"))
    assert resolve_precision("auto", cpu).name == "fp32"
    monkeypatch.setattr(prec, "cpu_native_bf16", lambda: (True, "CPU has amx_bf16"))
    chosen = resolve_precision("auto", cpu)
    assert chosen.name == "bf16" and chosen.dtype is torch.bfloat16 and "amx_bf16" in chosen.reason
    assert resolve_precision("fp32", cpu).autocast() is not None
    with pytest.raises(Exception, match="fp16 needs a CUDA device"):
        resolve_precision("fp16", cpu)


def test_detection_agrees_with_proc_cpuinfo() -> None:
    prec.cpu_native_bf16.cache_clear()
    native, why = prec.cpu_native_bf16()
    flags = cpu_flags()
    if not flags:
        pytest.skip("no /proc/cpuinfo here")
    assert native == bool(flags & prec.NATIVE_BF16_CPU_FLAGS), why


@pytest.mark.parametrize(("task", "min_identical", "metric", "max_delta"), [
    ("msrvtt_retrieval", 0.85, "t2v_R@1", 12.5),
    ("msrvtt_qa", 0.95, "acc", 5.0),
    ("ucf101_probe", 0.95, "top1", 5.0),
])
def test_bf16_agrees_with_fp32(task: str, min_identical: float, metric: str, max_delta: float) -> None:
    from allinone_bench.bench.agreement import precision_agreement

    result = precision_agreement(task, "bf16")
    assert result.samples >= 8
    assert result.identical >= min_identical, (task, result.identical)
    assert abs(result.metric_delta[metric]) <= max_delta, (task, result.metric_delta)
