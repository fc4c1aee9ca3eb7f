"""Read the results.json files of finished runs, and pool runs that differ only by seed.

The engine writes one ``OUTPUT/TASK/RUN_ID/results.json`` per run. Every file is validated into the one
results model (:class:`~allinone_bench.report.schema.Results`, older schema versions migrated) and wrapped
in a :class:`RunRecord` that remembers where it came from; a malformed file raises a :class:`BenchError` naming
it and the dotted key. Runs repeated with different seeds form a :class:`RunGroup` with mean and std.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from allinone_bench.errors import BenchError
from allinone_bench.report.results import load_results
from allinone_bench.report.schema import FlopsInfo, ModelInfo, Results, SampleCounts

RESULTS_FILENAME = "results.json"


@dataclass(frozen=True)
class RunRecord:
    """One finished run: its validated :class:`Results` and the file it was read from."""

    path: Path
    results: Results

    @property
    def run_id(self) -> str:
        return self.results.run_id

    @property
    def task(self) -> str:
        return self.results.task

    @property
    def seed(self) -> int:
        return self.results.seed

    @property
    def model(self) -> ModelInfo:
        return self.results.model

    @property
    def flops(self) -> FlopsInfo | None:
        return self.results.flops

    @property
    def metrics(self) -> dict[str, float]:
        """The metrics that have a value (a metric undefined on the split is stored as null)."""
        return {k: v for k, v in self.results.metrics.items() if v is not None and math.isfinite(v)}

    @property
    def protocol(self) -> dict[str, Any]:
        return self.results.protocol.model_dump()

    @property
    def frames(self) -> int:
        return self.results.protocol.frames

    @property
    def zero_shot(self) -> bool:
        return self.results.zero_shot

    @property
    def n_samples(self) -> SampleCounts:
        return self.results.n_samples

    @property
    def limited(self) -> bool:
        """Whether the run evaluated a ``--limit`` subset (a smoke run, not comparable to full runs)."""
        return self.results.n_samples.limit is not None

    @property
    def synthetic(self) -> bool:
        """Whether the run evaluated on the synthetic stand-in data."""
        return self.results.data.synthetic

    @property
    def date(self) -> datetime:
        """When the run finished (``timing.finished``, ISO 8601, UTC when no zone is given)."""
        return _aware(datetime.fromisoformat(self.results.timing.finished))

    def flat_protocol(self) -> dict[str, Any]:
        """The protocol with nested blocks flattened to dotted keys (``video.num_frames``)."""
        return flatten(self.protocol)

    def lookup(self, dotted: str) -> Any:
        """Value of a dotted run field such as ``metrics.t2v_R@1``, ``model.params``, ``protocol.frames``,
        ``data.options.cut`` or ``flops.gmacs`` (properties included); None when absent. Leaderboard files
        name run fields this way."""
        value: Any = self.results
        for part in dotted.split("."):
            if isinstance(value, BaseModel):
                value = getattr(value, part, None)
            elif isinstance(value, Mapping):
                value = value.get(part)
            else:
                return None
        return value


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"video": {"num_frames": 3}}`` -> ``{"video.num_frames": 3}``."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def load_run(path: str | Path) -> RunRecord:
    """Read one results.json (or the run directory holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILENAME
    return RunRecord(path, load_results(path))


def find_results(runs_dir: str | Path) -> list[Path]:
    """All results.json files under ``runs_dir`` (any depth; the layout is OUTPUT/TASK/RUN_ID), sorted."""
    root = Path(runs_dir)
    if not root.is_dir():
        raise BenchError(f"{root}: runs directory does not exist (expected OUTPUT/TASK/RUN_ID/results.json)")
    return sorted(p for p in root.rglob(RESULTS_FILENAME) if p.is_file())


def load_runs(runs_dir: str | Path, task: str | None = None) -> list[RunRecord]:
    """Every run under ``runs_dir`` (optionally of one task), ordered by task, date and run id."""
    records = [load_run(p) for p in find_results(runs_dir)]
    if task is not None:
        records = [r for r in records if r.task == task]
    return sorted(records, key=lambda r: (r.task, r.date, r.run_id))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


# ----------------------------------------------------------------------------------------------- seed groups


@dataclass(frozen=True)
class MetricStat:
    """Mean and sample standard deviation of one metric over the seeds of a group (std None for one run)."""

    mean: float
    std: float | None
    n: int


@dataclass(frozen=True)
class RunGroup:
    """Runs identical in task, version, weights, protocol and data that differ only by seed."""

    runs: tuple[RunRecord, ...]

    @property
    def first(self) -> RunRecord:
        return self.runs[0]

    @property
    def task(self) -> str:
        return self.first.task

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(r.seed for r in self.runs)

    @property
    def run_ids(self) -> tuple[str, ...]:
        return tuple(r.run_id for r in self.runs)

    def stat(self, metric: str) -> MetricStat | None:
        """Mean ± std of ``metric`` over the runs that report it; None when none does."""
        values = [r.metrics[metric] for r in self.runs if metric in r.metrics and math.isfinite(r.metrics[metric])]
        return _stat(values)

    def stat_of(self, dotted: str) -> MetricStat | None:
        """Mean ± std of any numeric run field (``metrics.x``, ``flops.gmacs``, ``model.params`` ...)."""
        values = []
        for run in self.runs:
            value = run.lookup(dotted)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                values.append(float(value))
        return _stat(values)

    @property
    def seed_label(self) -> str:
        """``seed 0`` for a single run, ``3 seeds`` for a pooled group."""
        if len(self.runs) == 1:
            return f"seed {self.first.seed}"
        return f"{len(self.runs)} seeds"


def _stat(values: list[float]) -> MetricStat | None:
    if not values:
        return None
    std = statistics.stdev(values) if len(values) > 1 else None
    return MetricStat(statistics.fmean(values), std, len(values))


def _is_seed_key(key: str) -> bool:
    return key == "seed" or key.endswith("_seed")


def _canonical(value: Any) -> str:
    def strip(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in sorted(obj.items()) if not _is_seed_key(str(k))}
        if isinstance(obj, (list, tuple)):
            return [strip(v) for v in obj]
        return obj

    return json.dumps(strip(value), sort_keys=True, default=str)


def group_key(run: RunRecord) -> tuple[Any, ...]:
    """What must match for two runs to be seeds of one experiment: task, weights, protocol, zero-shot or not,
    finetuned or not, data (root, split, options, annotation hashes) and sample counts; seed keys inside them
    are ignored. The finetune outcome (epochs run, best epoch, history) differs by seed and is not compared."""
    res = run.results
    return (res.task, res.task_version, res.model.variant, res.model.checkpoint, res.model.sha256,
            res.model.params, _canonical(res.protocol.model_dump()), res.zero_shot,
            bool(res.finetune.get("finetuned")), _canonical(res.data.model_dump()),
            res.n_samples.total, res.n_samples.evaluated, res.n_samples.limit)


def group_by_seed(runs: Iterable[RunRecord]) -> list[RunGroup]:
    """Pool runs that differ only by seed (first-seen order kept; runs in a group sorted by seed)."""
    groups: dict[tuple[Any, ...], list[RunRecord]] = {}
    for run in runs:
        groups.setdefault(group_key(run), []).append(run)
    return [RunGroup(tuple(sorted(members, key=lambda r: (r.seed, r.run_id))))
            for members in groups.values()]
