"""Tasks: YAML-registered benchmark tasks (:mod:`.registry`, :mod:`.config`) and the task kinds that run them
(:mod:`.base`: the :class:`TaskKind` interface; one module per kind).

The names below load on first access (PEP 562), so importing :mod:`allinone_bench.tasks.registry` to list
the tasks does not import torch through :mod:`.base`.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "EvalContext": "base", "LossOutput": "base", "PerSampleKind": "base", "TaskKind": "base",
    "get_kind": "base", "list_kinds": "base", "register_kind": "base",
    "TaskConfig": "config", "load_task_config": "config", "parse_set_args": "config",
    "describe_tasks": "registry", "list_tasks": "registry", "load_task": "registry", "task_path": "registry",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
