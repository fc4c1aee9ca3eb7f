"""Tiny writers for annotation files (JSON, JSON lines, plain lines, delimited rows) used by ``synthesize``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["write_json", "write_jsonl", "write_lines", "write_rows"]


def _prepare(path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write_json(path: Path | str, value: Any, *, indent: int | None = None) -> Path:
    """``value`` as one JSON document (``indent=None``: a single line, like most official files)."""
    path = _prepare(path)
    path.write_text(json.dumps(value, indent=indent) + "\n", encoding="utf-8")
    return path


def write_jsonl(path: Path | str, records: Iterable[Any]) -> Path:
    """One JSON value per line."""
    path = _prepare(path)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def write_lines(path: Path | str, lines: Iterable[str], *, newline: str = "\n") -> Path:
    """Each line followed by ``newline`` (``"\r\n"`` for the releases that ship Windows line ends)."""
    path = _prepare(path)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("".join(f"{line}{newline}" for line in lines))
    return path


def write_rows(path: Path | str, rows: Iterable[Sequence[Any]], delimiter: str = "\t",
               header: Sequence[str] | None = None, *, newline: str = "\n") -> Path:
    """Delimited rows without quoting (fields must not contain the delimiter or newlines)."""
    lines = [] if header is None else [delimiter.join(header)]
    for row in rows:
        fields = [str(v) for v in row]
        bad = [f for f in fields if delimiter in f or "\n" in f]
        if bad:
            raise ValueError(f"field {bad[0]!r} contains the delimiter or a newline")
        lines.append(delimiter.join(fields))
    return write_lines(path, lines, newline=newline)
