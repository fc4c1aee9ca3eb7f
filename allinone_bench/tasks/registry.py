"""The task registry: every ``tasks/<name>.yaml`` (files starting with ``_`` are shared includes).

Registration is just a file: no ``initialize_tasks()`` call to forget (lm-eval#1304). ``TASK`` on the command
line is a registered name or a path to a YAML file of one's own.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from allinone_bench.errors import ConfigError
from allinone_bench.paths import tasks_dirs
from allinone_bench.tasks.config import TaskConfig, load_task_config


def task_files(directory: Path | None = None) -> dict[str, Path]:
    """``{name: path}`` of the registered tasks, sorted by name.

    Without ``directory``: the search path of :func:`allinone_bench.paths.tasks_dirs` (``ALLINONE_BENCH_TASKS``
    folders, then the built-ins); a task in an earlier folder overrides one of the same name in a later one.
    """
    found: dict[str, Path] = {}
    for root in reversed([directory] if directory is not None else tasks_dirs()):
        if not root.is_dir():
            raise ConfigError(f"{root}: task directory not found (check ALLINONE_BENCH_TASKS)")
        found.update({p.stem: p for p in root.glob("*.yaml") if not p.name.startswith("_")})
    return dict(sorted(found.items()))


def list_tasks(directory: Path | None = None) -> list[str]:
    """Names of the registered tasks."""
    return list(task_files(directory))


def task_path(name_or_path: str | Path, directory: Path | None = None) -> Path:
    """The YAML of a registered task name, or ``name_or_path`` itself if it is an existing ``.yaml`` file."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml"):
        if candidate.is_file():
            return candidate
        raise ConfigError(f"{candidate}: task file not found")
    files = task_files(directory)
    name = str(name_or_path)
    if name not in files:
        close = difflib.get_close_matches(name, list(files), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known tasks: {', '.join(files)}"
        raise ConfigError(f"unknown task {name!r}{hint}")
    return files[name]


def load_task(
    name_or_path: str | Path,
    *,
    synthetic: bool = False,
    overrides: dict[str, Any] | None = None,
    directory: Path | None = None,
) -> TaskConfig:
    """Load and validate a task (``synthetic``: apply its CPU-sized ``synthetic.overrides``)."""
    return load_task_config(task_path(name_or_path, directory), synthetic=synthetic, overrides=overrides)


@dataclass(frozen=True)
class TaskInfo:
    """One row of ``allinone-bench tasks``; ``error`` is set when the YAML does not validate."""

    name: str
    kind: str
    dataset: str
    metrics: tuple[str, ...]
    version: int | None
    path: Path
    error: str | None = None


def describe_tasks(directory: Path | None = None) -> list[TaskInfo]:
    """Every registered task, validated; an invalid one is listed with its error instead of hiding it."""
    rows: list[TaskInfo] = []
    for name, path in task_files(directory).items():
        try:
            cfg = load_task_config(path)
        except ConfigError as err:
            rows.append(TaskInfo(name, "?", "?", (), None, path, str(err)))
            continue
        rows.append(TaskInfo(name, cfg.kind, cfg.dataset.adapter, tuple(cfg.metrics), cfg.version, path))
    return rows
