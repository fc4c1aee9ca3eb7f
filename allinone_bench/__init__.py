"""allinone-bench: benchmark and evaluation harness for the All-in-One video-language Transformer.

The public Python API (README, "Python API") is importable from here; names resolve lazily so that
``import allinone_bench`` stays cheap (torch loads on first use).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API: dict[str, str] = {
    "load_task": "allinone_bench.tasks",
    "list_tasks": "allinone_bench.tasks",
    "RunOptions": "allinone_bench.engine",
    "run_task": "allinone_bench.engine",
    "build_model": "allinone_bench.model",
    "load_checkpoint": "allinone_bench.model",
    "read_results": "allinone_bench.report.results",
    "load_runs": "allinone_bench.report.store",
}
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'allinone_bench' has no attribute {name!r}")
