"""The ``results.json`` schema (DESIGN.md "Results file", a contract), defined once as pydantic v2 models.

The engine builds a :class:`Results` and writes it (:mod:`allinone_bench.report.results`); the store reads
every file back into the same model (:mod:`allinone_bench.report.store`); ``table``, ``plot`` and ``results``
only see these models. Each block forbids unknown keys, so a typo or a writer/reader drift fails with the
file and the dotted key named instead of being silently dropped.

Versions (``schema_version``), and how older files are read (:func:`migrate`):

* **1**: the first landing's writer (and any file without ``schema_version``, which is read as 1). Fields
  added while version 1 was current (``data.options``; ``protocol.official``, ``official_changes``,
  ``departures``, ``precision``; a fractional ``selection_split.best_epoch``) have defaults, so older version-1
  files read without them.
* **2**: adds ``n_samples.limit`` (the ``--limit`` a run was cut to, None for a full run). Migration 1 -> 2
  only fills that field with None: every key a version-1 file holds keeps its name and meaning.

A file newer than :data:`SCHEMA_VERSION` is refused with a message saying so, not half-read.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from allinone_bench.report.display import paper_model_name

SCHEMA_VERSION = 2


def plain(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None (JSON has no NaN), paths -> str, numpy/torch scalars and arrays -> lists."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist") and callable(obj.tolist):  # numpy / torch scalars and arrays
        return plain(obj.tolist())
    return obj


#: A free-form JSON object (kind-specific protocol keys, training history): converted to plain JSON on input.
JsonDict = Annotated[dict[str, Any], BeforeValidator(plain)]


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SampleCounts(_Block):
    """``total`` samples in the evaluated split, ``evaluated`` scored, ``skipped`` left out (with reasons);
    ``limit`` is the ``--limit`` the run was cut to (None: the whole split): the first ``limit`` samples by id,
    or a sample drawn with ``limit_seed``."""

    total: int
    evaluated: int
    skipped: int = 0
    skipped_reasons: dict[str, int] = Field(default_factory=dict)
    limit: int | None = None
    limit_seed: int | None = None


class ProtocolInfo(_Block):
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
    video: JsonDict = Field(default_factory=dict)
    extra: JsonDict = Field(default_factory=dict)
    # Departures from the official code (allinone_bench.tasks.departures): per departure, the option values
    # that ran and the official ones; ``official`` = the task's official preset ran, ``official_changes`` =
    # what it changed (dotted key -> [before, after]); ``precision`` = the resolved autocast per stage.
    official: bool = False
    official_changes: JsonDict = Field(default_factory=dict)
    departures: JsonDict = Field(default_factory=dict)
    precision: dict[str, str] = Field(default_factory=dict)


class ModelInfo(_Block):
    """Weights that ran: ``checkpoint`` None = random initialisation; ``params`` counts every parameter."""

    variant: str
    checkpoint: str | None
    sha256: str | None
    params: int
    params_trainable: int | None = None
    config: JsonDict = Field(default_factory=dict)
    load_report: JsonDict | None = None

    @property
    def label(self) -> str:
        """Paper-style model name, e.g. ``All-in-one-B`` for variant ``b`` (``B+`` for a baseplus checkpoint)."""
        return paper_model_name(self.variant, self.checkpoint)


# Scale prefixes of FLOP/MAC units ("GMACs", "GFLOPs", "MACs" ...), to convert any counter unit to GMACs.
_PREFIXES: dict[str, float] = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_PER_MAC: tuple[tuple[str, float], ...] = (("MACs", 1.0), ("MAC", 1.0), ("FLOPs", 2.0), ("FLOPS", 2.0),
                                           ("FLOP", 2.0))


class FlopsInfo(_Block):
    """One forward pass at ``input_shape``; ``value`` in ``unit`` (MACs = fvcore/paper convention)."""

    value: float | None
    unit: str
    counter: str
    input_shape: JsonDict
    macs: int | None = None
    flops: int | None = None
    mode: str = "joint"
    note: str | None = None

    @property
    def gmacs(self) -> float | None:
        """The count in GMACs (the paper's 'FLOPs'); None when there is no count or the unit is unknown.

        ``FLOPs`` units count a multiply-add as two operations (DESIGN.md: FLOPs = 2 x MACs).
        """
        if self.value is None:
            return None
        unit = self.unit.strip()
        for name, per_mac in _PER_MAC:
            prefix = unit[: -len(name)].strip()
            if unit.endswith(name) and prefix in _PREFIXES:
                return self.value * _PREFIXES[prefix] / per_mac / 1e9
        return None


class SelectionInfo(_Block):
    """How the reported model was chosen. ``uses_test`` is True when the selection split is the test split
    (only allowed when the task declares the official protocol that does so, quoted in ``note``)."""

    split: str | None
    split_name: str | None
    metric: str | None
    best_epoch: float | None  # a fraction (e.g. 0.5) when validating inside epochs
    best_value: float | None
    uses_test: bool = False
    note: str | None = None


class DataInfo(_Block):
    """``root`` is the data root or ``"synthetic"``; annotation files with their sha256; ``options`` are the
    adapter's resolved options, defaults included (e.g. which file plays ``val``), since they move numbers."""

    root: str
    adapter: str
    split: str
    synthetic: bool
    annotation_sha256: dict[str, str] = Field(default_factory=dict)
    options: JsonDict = Field(default_factory=dict)
    synthetic_spec: JsonDict | None = None


class Versions(_Block):
    package: str
    torch: str
    python: str
    git_commit: str | None


class Timing(_Block):
    """ISO-8601 UTC start and end of the run, and seconds spent. ``*_data_wait_s``: seconds blocked on the next
    batch (training epochs for finetune, the test evaluation for eval), and ``*_share`` that over the stage's
    time (None when the stage did not run); ``num_workers``: the resolved DataLoader workers per stage."""

    started: str
    finished: str
    total_s: float
    finetune_s: float = 0.0
    eval_s: float = 0.0
    finetune_data_wait_s: float = 0.0
    finetune_data_wait_share: float | None = None
    eval_data_wait_s: float = 0.0
    eval_data_wait_share: float | None = None
    num_workers: dict[str, int] = Field(default_factory=dict)


class Results(_Block):
    """The whole file. ``predictions`` and ``config`` are paths relative to the run directory.

    ``metrics`` may hold NaN in memory (a metric that is undefined on this split); the file stores null.
    """

    task: str
    task_version: int
    kind: str
    run_id: str
    metrics: dict[str, float | None] = Field(min_length=1)
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
    finetune: JsonDict = Field(default_factory=dict)
    config: str = "config.yaml"
    checkpoint_dir: str | None = None
    warnings: list[str] = Field(default_factory=list)
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> str:
        """The file's text: indented JSON, NaN/inf metrics as null."""
        return self.model_dump_json(indent=2) + "\n"


# ----------------------------------------------------------------------------------------------- migration


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 2 added ``n_samples.limit``; a version-1 run always evaluated the whole split."""
    if isinstance(data.get("n_samples"), dict):
        data["n_samples"] = {**data["n_samples"], "limit": None}
    return data


#: ``MIGRATIONS[v]`` turns a version-``v`` mapping into version ``v + 1``.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


class SchemaVersionError(ValueError):
    """A results file of a schema version this reader cannot turn into the current one."""


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """A decoded results file of any known version as the current version (a new mapping; input untouched).

    A file without ``schema_version`` is read as version 1, the first landing's format.
    """
    data = dict(data)
    version = data.get("schema_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SchemaVersionError(f"schema_version must be a positive integer, got {version!r}")
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(f"schema_version {version} is newer than this allinone-bench reads "
                                 f"({SCHEMA_VERSION}); upgrade allinone-bench")
    while version < SCHEMA_VERSION:
        data = MIGRATIONS[version](data)
        version += 1
    data["schema_version"] = SCHEMA_VERSION
    return data


def error_lines(err: Any) -> str:
    """A pydantic ``ValidationError`` as ``dotted.key: message`` items joined by '; ' (first five)."""
    parts = []
    for item in err.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        parts.append(f"{where}: {item['msg']}")
    more = len(err.errors()) - 5
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
