"""Write and read ``results.json`` (schema: :mod:`allinone_bench.report.schema`), atomically.

One file per run, ``OUTPUT/TASK/RUN_ID/results.json``. Everything that changes what a number means is in it:
the protocol (frames, sampling, text mode, scoring, rolling, patch permutation), which weights ran (with
sha256), which split selected the model, what data (a real root with annotation hashes, or ``"synthetic"``),
FLOPs with unit and input shape, seed, world size and versions. Reports read it through
:mod:`allinone_bench.report.store`.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from allinone_bench.atomic import atomic_write_text
from allinone_bench.errors import BenchError
from allinone_bench.report.schema import (
    SCHEMA_VERSION,
    DataInfo,
    FlopsInfo,
    ModelInfo,
    ProtocolInfo,
    Results,
    SampleCounts,
    SchemaVersionError,
    SelectionInfo,
    Timing,
    Versions,
    error_lines,
    migrate,
    plain,
)

__all__ = [
    "SCHEMA_VERSION", "DataInfo", "FlopsInfo", "ModelInfo", "ProtocolInfo", "Results", "SampleCounts",
    "SelectionInfo", "Timing", "Versions", "current_versions", "git_commit", "load_results", "parse_results",
    "read_results", "write_predictions", "write_results",
]


def parse_results(raw: Any, source: str | Path = "results.json") -> Results:
    """A decoded results file of any known schema version as the current :class:`Results` (raises
    :class:`BenchError` naming ``source`` and the dotted key)."""
    if not isinstance(raw, dict):
        raise BenchError(f"{source}: malformed results file: top level must be an object, got {type(raw).__name__}")
    try:
        return Results.model_validate(migrate(raw))
    except SchemaVersionError as err:
        raise BenchError(f"{source}: {err}") from None
    except ValidationError as err:
        raise BenchError(f"{source}: malformed results file: {error_lines(err)}") from None


def load_results(path: str | Path) -> Results:
    """Read one results file (or the run directory holding it) into :class:`Results`."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise BenchError(f"{path}: cannot read results file ({err.strerror or err})") from err
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise BenchError(f"{path}: malformed results file: invalid JSON at line {err.lineno} column {err.colno}: "
                         f"{err.msg}") from err
    return parse_results(raw, path)


def read_results(path: str | Path) -> dict[str, Any]:
    """A results file as a plain mapping, validated and migrated to the current schema version."""
    return load_results(path).model_dump(mode="json")


def write_results(path: Path, results: Results) -> Path:
    """Write ``results`` atomically (the model validated it on construction and on every assignment)."""
    atomic_write_text(path, results.to_json())
    return path


def git_commit(start: Path | None = None) -> str | None:
    """The commit of the checkout the package runs from, suffixed ``-dirty`` when tracked files of the package
    differ from it (a number from modified code must not claim a clean commit); ``None`` outside a checkout."""
    root = start or Path(__file__).resolve().parents[2]

    def git(*args: str) -> subprocess.CompletedProcess[str] | None:
        try:
            return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10,
                                  check=False)
        except (OSError, subprocess.SubprocessError):
            return None

    head = git("rev-parse", "HEAD")
    commit = head.stdout.strip() if head is not None and head.returncode == 0 else ""
    if not commit:
        return None
    status = git("status", "--porcelain", "--untracked-files=no", "--", "allinone_bench", "tasks")
    dirty = status is not None and status.returncode == 0 and bool(status.stdout.strip())
    return f"{commit}-dirty" if dirty else commit


def current_versions() -> Versions:
    import platform

    import torch

    from allinone_bench import __version__

    return Versions(package=__version__, torch=torch.__version__, python=platform.python_version(),
                    git_commit=git_commit())


def write_predictions(path: Path, records: list[dict[str, Any]]) -> Path:
    """Per-sample predictions as JSON lines (numpy/torch values converted), written atomically."""
    lines = [json.dumps(plain(r), allow_nan=False) for r in records]
    atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))
    return path

