"""Tasks: YAML-registered benchmark tasks (:mod:`.registry`, :mod:`.config`) and the task kinds that run them
(:mod:`.base`: the :class:`TaskKind` interface; one module per kind)."""

from __future__ import annotations

from allinone_bench.tasks.base import (
    EvalContext,
    LossOutput,
    PerSampleKind,
    TaskKind,
    get_kind,
    list_kinds,
    register_kind,
)
from allinone_bench.tasks.config import TaskConfig, load_task_config, parse_set_args
from allinone_bench.tasks.registry import describe_tasks, list_tasks, load_task, task_path

__all__ = [
    "EvalContext",
    "LossOutput",
    "PerSampleKind",
    "TaskConfig",
    "TaskKind",
    "describe_tasks",
    "get_kind",
    "list_kinds",
    "list_tasks",
    "load_task",
    "load_task_config",
    "parse_set_args",
    "register_kind",
    "task_path",
]
