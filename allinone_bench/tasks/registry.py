"""The task registry: every ``tasks/<name>.yaml`` (files starting with ``_`` are shared includes).

Registration is just a file: no ``initialize_tasks()`` call to forget (lm-eval#1304). ``TASK`` on the command
line is a registered name or a path to a YAML file of one's own.

Listing (:func:`describe_tasks`) reads only the YAML files (includes resolved) and never imports a task kind,
torch or the metrics, so ``allinone-bench tasks`` starts fast; ``check=True`` runs the full validation.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from allinone_bench.errors import ConfigError
from allinone_bench.paths import tasks_dirs
from allinone_bench.tasks.config import TaskConfig
from allinone_bench.tasks.includes import read_yaml_with_includes
from allinone_bench.tasks.loader import load_task_config


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


class _Dataset(BaseModel):
    model_config = ConfigDict(extra="ignore")
    adapter: str


class _Listing(BaseModel):
    """The keys the listing shows, read from the merged YAML without importing the kind (other keys are
    checked by the full validation, ``check=True``)."""

    model_config = ConfigDict(extra="ignore")
    version: int
    kind: str
    dataset: _Dataset
    metrics: list[str]

    @field_validator("metrics", mode="before")
    @classmethod
    def _metric_names(cls, raw: Any) -> Any:
        """A metric is a name or a mapping with ``name`` (and its options)."""
        if isinstance(raw, list):
            return [m.get("name") if isinstance(m, dict) else m for m in raw]
        return raw


def describe_tasks(directory: Path | None = None, *, check: bool = False) -> list[TaskInfo]:
    """Every registered task; one that does not read is listed with its error instead of hiding it.

    Without ``check`` only the YAML is read (fast, torch-free); with it each task is fully validated.
    """
    rows: list[TaskInfo] = []
    for name, path in task_files(directory).items():
        try:
            if check:
                load_task_config(path)
            info = _Listing.model_validate(read_yaml_with_includes(path))
        except ConfigError as err:
            rows.append(TaskInfo(name, "?", "?", (), None, path, str(err)))
            continue
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            rows.append(TaskInfo(name, "?", "?", (), None, path, f"{path.name}: {where}: {first['msg']}"))
            continue
        rows.append(TaskInfo(name, info.kind, info.dataset.adapter, tuple(info.metrics), info.version, path))
    return rows
