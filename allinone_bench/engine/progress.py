"""Rich progress bars that only the main process draws (other ranks get a silent stand-in)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from allinone_bench.engine import dist


def make_progress(console: Console | None = None, *, enabled: bool | None = None, transient: bool = True) -> Progress:
    """A progress display with count, elapsed time and ETA; disabled off the main process. Transient by default:
    finished bars are cleared so a 60-epoch synthetic run does not print 60 bars. Off a terminal (CI logs,
    SLURM files) bars are not drawn at all: a live display there only leaves blank lines, and the engine's
    per-epoch lines carry the progress."""
    console = console or Console()
    show = (dist.is_main_process() if enabled is None else enabled) and console.is_terminal
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not show,
        transient=transient,
    )


def add_task(progress: Progress, description: str, total: int | None, **fields: Any) -> Any:
    return progress.add_task(description, total=total, info=fields.pop("info", ""), **fields)
