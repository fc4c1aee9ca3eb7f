"""The ``results.json`` schema (DESIGN.md "Results file", a contract) as dataclasses, written atomically.

One file per run, ``OUTPUT/TASK/RUN_ID/results.json``. Everything that changes what a number means is in it:
the protocol (frames, sampling, text mode, scoring, rolling, patch permutation), which weights ran (with
sha256), which split selected the model, what data (a real root with annotation hashes, or ``"synthetic"``),
FLOPs with unit and input shape, seed, world size and versions. Readers: :mod:`allinone_bench.report.store`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allinone_bench.errors import BenchError

SCHEMA_VERSION = 1


@dataclass
class SampleCounts:
    """``total`` samples in the evaluated split, ``evaluated`` scored, ``skipped`` left out (with reasons)."""

    total: int
    evaluated: int
    skipped: int = 0
    skipped_reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class ProtocolInfo:
    """The evaluation protocol. ``extra`` holds kind-specific keys (e.g. retrieval ``views``, ``rerank_k``)."""

    frames: int
    sampling: str
    text_mode: str
    scoring: str | None
    rolling: str
    patch_permutation: str
    permutation_seed: int | None = None
    max_text_len: int | None = None
    train_sampling: str | None = None
    video: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    # Departures from the official code (allinone_bench.tasks.departures): per departure, the option values
    # that ran and the official ones; ``official`` = the task's official preset ran, ``official_changes`` =
    # what it changed (dotted key -> [before, after]); ``precision`` = the resolved autocast per stage.
    official: bool = False
    official_changes: dict[str, Any] = field(default_factory=dict)
    departures: dict[str, Any] = field(default_factory=dict)
    precision: dict[str, str] = field(default_factory=dict)


@dataclass
class ModelInfo:
    """Weights that ran: ``checkpoint`` None = random initialisation; ``params`` counts every parameter."""

    variant: str
    checkpoint: str | None
    sha256: str | None
    params: int
    params_trainable: int | None = None
    config: dict[str, Any] = field(default_factory=dict)
    load_report: dict[str, Any] | None = None


@dataclass
class FlopsInfo:
    """One forward pass at ``input_shape``; ``value`` in ``unit`` (MACs = fvcore/paper convention)."""

    value: float | None
    unit: str
    counter: str
    input_shape: dict[str, Any]
    macs: int | None = None
    flops: int | None = None
    mode: str = "joint"
    note: str | None = None


@dataclass
class SelectionInfo:
    """How the reported model was chosen. ``uses_test`` is True when the selection split is the test split
    (only allowed when the task declares the official protocol that does so, quoted in ``note``)."""

    split: str | None
    split_name: str | None
    metric: str | None
    best_epoch: float | None  # a fraction (e.g. 0.5) when validating inside epochs
    best_value: float | None
    uses_test: bool = False
    note: str | None = None


@dataclass
class DataInfo:
    """``root`` is the data root or ``"synthetic"``; annotation files with their sha256; ``options`` are the
    adapter's resolved options, defaults included (e.g. which file plays ``val``), since they move numbers."""

    root: str
    adapter: str
    split: str
    synthetic: bool
    annotation_sha256: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    synthetic_spec: dict[str, Any] | None = None


@dataclass
class Versions:
    package: str
    torch: str
    python: str
    git_commit: str | None


@dataclass
class Timing:
    started: str
    finished: str
    total_s: float
    finetune_s: float = 0.0
    eval_s: float = 0.0


@dataclass
class Results:
    """The whole file. ``predictions`` and ``config`` are paths relative to the run directory."""

    task: str
    task_version: int
    kind: str
    run_id: str
    metrics: dict[str, float]
    n_samples: SampleCounts
    protocol: ProtocolInfo
    model: ModelInfo
    flops: FlopsInfo | None
    seed: int
    world_size: int
    versions: Versions
    timing: Timing
    predictions: str
    selection_split: SelectionInfo
    data: DataInfo
    zero_shot: bool
    finetune: dict[str, Any] = field(default_factory=dict)
    config: str = "config.yaml"
    checkpoint_dir: str | None = None
    warnings: list[str] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))


def _plain(obj: Any) -> Any:
    """JSON-safe: NaN/inf become None (JSON has no NaN), paths become strings."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and callable(obj.item):  # numpy / torch scalars
        return _plain(obj.item())
    return obj


_REQUIRED = tuple(f.name for f in dataclasses.fields(Results) if f.default is dataclasses.MISSING
                  and f.default_factory is dataclasses.MISSING)  # type: ignore[misc]


def validate_results_dict(data: dict[str, Any], source: str = "results.json") -> None:
    """Check a parsed results file has every contract key with the right shape (raises :class:`BenchError`)."""
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise BenchError(f"{source}: missing key(s) {missing}")
    if not isinstance(data["metrics"], dict) or not data["metrics"]:
        raise BenchError(f"{source}: metrics must be a non-empty mapping")
    for name, value in data["metrics"].items():
        if value is not None and not isinstance(value, (int, float)):
            raise BenchError(f"{source}: metrics.{name} must be a number, got {value!r}")
    for block, keys in {
        "n_samples": ("total", "evaluated", "skipped"),
        "protocol": ("frames", "sampling", "text_mode", "scoring", "rolling", "patch_permutation"),
        "model": ("variant", "checkpoint", "sha256", "params"),
        "versions": ("package", "torch", "git_commit"),
    }.items():
        if not isinstance(data[block], dict):
            raise BenchError(f"{source}: {block} must be a mapping")
        absent = [k for k in keys if k not in data[block]]
        if absent:
            raise BenchError(f"{source}: {block} lacks {absent}")
    if data["flops"] is not None:
        absent = [k for k in ("value", "unit", "counter", "input_shape") if k not in data["flops"]]
        if absent:
            raise BenchError(f"{source}: flops lacks {absent}")


def write_results(path: Path, results: Results) -> Path:
    """Validate and write ``results`` atomically (temporary file + ``os.replace``)."""
    from allinone_bench.engine.rundir import atomic_write_text

    data = results.to_dict()
    validate_results_dict(data, str(path))
    atomic_write_text(path, json.dumps(data, indent=2, allow_nan=False) + "\n")
    return path


def read_results(path: Path) -> dict[str, Any]:
    """Parse and validate a results file (the typed reader for reports is ``report.store.load_run``)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise BenchError(f"{path}: cannot read results ({err})") from err
    validate_results_dict(data, str(path))
    return data


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
    from allinone_bench.engine.rundir import atomic_write_text

    lines = [json.dumps(_plain(_jsonable(r)), allow_nan=False) for r in records]
    atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))
    return path


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "tolist") and callable(obj.tolist):  # numpy arrays, tensors
        return obj.tolist()
    return obj
