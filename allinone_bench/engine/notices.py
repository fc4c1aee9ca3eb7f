"""Warnings a run's user must act on: printed once (main process only) and kept for results.json ``warnings``.

Two sources: the harness's own notes (random initialisation, synthetic data, ``--limit``, skipped samples) and
Python warnings raised by libraries during the run. The harness configures libraries so that they have nothing
to warn about on a normal run; a library warning that still fires is shown once, as one plain line naming the
library, instead of a repeated ``UserWarning`` with a source line, and it is recorded with the run's results.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.text import Text

from allinone_bench.engine import dist

LIBRARY_PREFIX = "library warning"


class Notices:
    """Collects the run's warnings; :meth:`note` prints each distinct message once."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.messages: list[str] = []

    def note(self, message: str, style: str = "yellow") -> None:
        if message in self.messages:
            return
        self.messages.append(message)
        if dist.is_main_process():
            self.console.print(Text(message, style=f"bold {style}"), soft_wrap=True)

    @contextmanager
    def capture(self) -> Iterator[Notices]:
        """Route the Python warnings that the active filters let through (Python's defaults, ``-W``,
        ``PYTHONWARNINGS``) inside the block to :meth:`note`, then restore the caller's warning state."""

        def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: Any = None, line: str | None = None) -> None:
            origin = _library(filename)
            self.note(f"{LIBRARY_PREFIX} ({origin}, {category.__name__}): {str(message).strip()}")

        with warnings.catch_warnings():
            warnings.showwarning = show
            yield self


def _library(filename: str) -> str:
    """``torch.utils.data`` from ``.../site-packages/torch/utils/data/dataloader.py`` (best effort)."""
    parts = filename.replace("\\", "/").split("/")
    for anchor in ("site-packages", "dist-packages"):
        if anchor in parts:
            tail = parts[parts.index(anchor) + 1:]
            return ".".join(p for p in tail[:-1]) or tail[-1].removesuffix(".py")
    return parts[-1].removesuffix(".py")
