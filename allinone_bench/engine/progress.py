"""Progress of long loops (decoding, evaluation, training epochs, probe features), drawn the way the output is read.

* On a terminal: rich bars, as before (transient, so a 60-epoch synthetic run does not leave 60 bars).
* Off a terminal (SLURM logs, ``nohup``, CI): no live display, which would only leave blank lines, but one plain
  line per loop about every ``interval_s`` (30 s) and at each 10% step, giving the stage, done/total, rate,
  elapsed time and ETA, so a 3-hour evaluation does not look like a hang. Step lines are at least
  ``interval_s / 10`` apart, so loops that finish in a blink (a 3-batch synthetic epoch) print nothing.
* ``--quiet``: neither. Only the main process (rank 0) draws or prints; on N ranks its line covers its shard.

Every loop goes through :func:`make_progress` + :func:`add_task` (or :func:`track`), and the process-wide
settings come from :func:`configured`, which the CLI enters around a command.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from allinone_bench.engine import dist

T = TypeVar("T")

DEFAULT_INTERVAL_S = 30.0
STEPS = 10  # a line at each 10%


@dataclass(frozen=True)
class ProgressSettings:
    """``quiet``: no bars and no lines; ``interval_s``: seconds between plain lines off a terminal."""

    quiet: bool = False
    interval_s: float = DEFAULT_INTERVAL_S


_settings = ProgressSettings()


def current_settings() -> ProgressSettings:
    return _settings


@contextmanager
def configured(*, quiet: bool | None = None, interval_s: float | None = None) -> Iterator[ProgressSettings]:
    """Use these settings for every loop inside the block (the CLI wraps a command; tests shorten the interval)."""
    global _settings
    if interval_s is not None and not (interval_s > 0 and math.isfinite(interval_s)):
        raise ValueError(f"progress interval must be a positive number of seconds, got {interval_s!r}")
    before = _settings
    _settings = replace(before, **{k: v for k, v in (("quiet", quiet), ("interval_s", interval_s)) if v is not None})
    try:
        yield _settings
    finally:
        _settings = before


def _clock(seconds: float | None) -> str:
    return "-:--:--" if seconds is None or not math.isfinite(seconds) else str(timedelta(seconds=int(seconds)))


@dataclass
class _LineState:
    last_t: float
    last_step: int = 0
    printed: bool = False
    finished: bool = False


class LoggedProgress(Progress):
    """A rich :class:`Progress` that, with its live display off, writes plain progress lines (module docstring)."""

    def __init__(self, *columns: Any, log_console: Console | None, interval_s: float, **kwargs: Any) -> None:
        super().__init__(*columns, **kwargs)
        self._log_console = log_console  # None: no plain lines
        self._interval_s = interval_s
        self._lines: dict[TaskID, _LineState] = {}

    def add_task(self, description: str, start: bool = True, total: float | None = 100.0, completed: int = 0,
                 visible: bool = True, **fields: Any) -> TaskID:
        task_id = super().add_task(description, start=start, total=total, completed=completed, visible=visible,
                                   **fields)
        self._lines[task_id] = _LineState(last_t=self.get_time())
        return task_id

    def update(self, task_id: TaskID, **kwargs: Any) -> None:  # type: ignore[override]
        super().update(task_id, **kwargs)
        self._maybe_log(task_id)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._maybe_log(task_id)

    def _task(self, task_id: TaskID) -> Task:
        return next(t for t in self.tasks if t.id == task_id)

    def _maybe_log(self, task_id: TaskID) -> None:
        state = self._lines.get(task_id)
        if self._log_console is None or state is None or state.finished:
            return
        task = self._task(task_id)
        now, gap = self.get_time(), self._interval_s / STEPS
        since = now - state.last_t
        step = int(STEPS * task.completed / task.total) if task.total else 0
        state.finished = bool(task.total) and task.completed >= task.total  # type: ignore[operator]
        due = (since >= self._interval_s
               or (step > state.last_step and since >= gap)
               or (state.finished and (state.printed or (task.elapsed or 0.0) >= gap)))
        if due:
            state.last_t, state.last_step, state.printed = now, step, True
            self._log_console.print(self.line(task_id), markup=False, highlight=False, soft_wrap=True)

    def line(self, task_id: TaskID) -> str:
        """``[stage] done/total unit (pct%), rate unit/s, elapsed H:MM:SS, ETA H:MM:SS | info``."""
        task = self._task(task_id)
        unit = task.fields.get("unit", "items")
        elapsed = task.elapsed or 0.0
        rate = task.completed / elapsed if elapsed > 0 else None
        done = f"{int(task.completed)}"
        if task.total:
            done += f"/{int(task.total)} {unit} ({int(100 * task.completed / task.total)}%)"  # 99.6% is not 100%
            eta = (task.total - task.completed) / rate if rate else None
        else:
            done += f" {unit}"
            eta = None
        parts = [f"[{task.description}] {done}", f"{rate:.3g} {unit}/s" if rate else f"- {unit}/s",
                 f"elapsed {_clock(elapsed)}", f"ETA {_clock(eta)}"]
        text = ", ".join(parts)
        info = str(task.fields.get("info") or "")
        return f"{text} | {info}" if info else text


def make_progress(console: Console | None = None, *, enabled: bool | None = None, transient: bool = True) -> Progress:
    """The progress display of one loop: count, elapsed time and ETA on a terminal, plain lines elsewhere,
    nothing with ``--quiet`` or off the main process (``enabled`` overrides the main-process check)."""
    console = console or Console(stderr=True)
    settings = current_settings()
    show = (dist.is_main_process() if enabled is None else enabled) and not settings.quiet
    return LoggedProgress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not (show and console.is_terminal),
        transient=transient,
        log_console=console if show and not console.is_terminal else None,
        interval_s=settings.interval_s,
    )


def add_task(progress: Progress, description: str, total: int | None, **fields: Any) -> Any:
    """Add a loop to ``progress``; ``unit`` (default ``items``) names what ``total`` counts in plain lines."""
    fields.setdefault("unit", "items")
    return progress.add_task(description, total=total, info=fields.pop("info", ""), **fields)


def track(items: Iterable[T], description: str, *, total: int | None = None, unit: str = "items",
          console: Console | None = None) -> Iterator[T]:
    """Iterate ``items`` under a progress display (one step per item)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with make_progress(console) as progress:
        task = add_task(progress, description, total, unit=unit)
        for item in items:
            yield item
            progress.advance(task)


__all__ = ["DEFAULT_INTERVAL_S", "LoggedProgress", "ProgressSettings", "add_task", "configured",
           "current_settings", "make_progress", "track"]
