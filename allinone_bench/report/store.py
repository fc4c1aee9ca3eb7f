"""Read the results.json files of finished runs into typed records, and pool runs that differ only by seed.

The engine writes one ``OUTPUT/TASK/RUN_ID/results.json`` per run (DESIGN.md, "Results file"). Reports never
trust a loose dict: every file becomes a :class:`RunRecord` here, keys the contract does not name are kept in
``extra`` (so newer writers do not break older readers), and a malformed file raises a :class:`BenchError`
that names it. Runs repeated with different seeds form a :class:`RunGroup` with mean and standard deviation.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from allinone_bench.errors import BenchError
from allinone_bench.report.display import paper_model_name

RESULTS_FILENAME = "results.json"

# Scale prefixes of FLOP/MAC units ("GMACs", "GFLOPs", "MACs" ...), to convert any counter unit to GMACs.
_PREFIXES: dict[str, float] = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}

# Where a protocol key may sit in results.json (first found wins), so readers survive small writer changes.
_PROTOCOL_ALIASES: dict[str, tuple[str, ...]] = {
    "frames": ("frames", "num_frames", "video.num_frames", "video.frames"),
    "zero_shot": ("zero_shot", "zeroshot"),
}

# Keys whose value names a date in results.json, most specific first (top level, then the timing block).
_DATE_KEYS: tuple[str, ...] = ("date", "finished", "finished_at", "end_time", "ended_at", "end", "created_at",
                               "timestamp", "started", "started_at", "start_time", "start")


@dataclass(frozen=True)
class NSamples:
    """How many samples the split has, how many were scored, how many were skipped (e.g. undecodable);
    ``limit``: the run was cut to that many samples per split (``run --limit``), None for a full run."""

    total: int | None = None
    evaluated: int | None = None
    skipped: int | None = None
    limit: int | None = None


@dataclass(frozen=True)
class ModelInfo:
    """Which weights ran: variant (ti|s|b), checkpoint name or path (None = random init), its sha256, #params."""

    variant: str | None = None
    checkpoint: str | None = None
    sha256: str | None = None
    params: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Paper-style model name, e.g. ``All-in-one-B`` for variant ``b`` (``B+`` for a baseplus checkpoint)."""
        return paper_model_name(self.variant, self.checkpoint)


@dataclass(frozen=True)
class FlopsInfo:
    """The FLOP count of one forward pass at ``input_shape``, in the counter's own ``unit``."""

    value: float
    unit: str
    counter: str | None = None
    input_shape: Any = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. mode (joint|video|text), macs, per_op

    @property
    def mode(self) -> str | None:
        """Which forward pass was counted (``joint`` = one video-text pair, the paper's unit), when stated."""
        mode = self.extra.get("mode")
        return None if mode is None else str(mode)

    @property
    def gmacs(self) -> float | None:
        """The count in GMACs (multiply-adds, the paper's 'FLOPs'), or None when the unit is not understood.

        ``FLOPs`` units count a multiply-add as two operations (DESIGN.md: FLOPs = 2 x MACs).
        """
        unit = self.unit.strip()
        for kind, per_mac in (("MACs", 1.0), ("MAC", 1.0), ("FLOPs", 2.0), ("FLOPS", 2.0), ("FLOP", 2.0)):
            if unit.endswith(kind):
                prefix = unit[: -len(kind)].strip()
                if prefix in _PREFIXES:
                    return self.value * _PREFIXES[prefix] / per_mac / 1e9
        return None


@dataclass(frozen=True)
class RunRecord:
    """One finished run, as read from its results.json."""

    path: Path
    run_id: str
    task: str
    task_version: str | None
    metrics: Mapping[str, float]
    n_samples: NSamples
    protocol: Mapping[str, Any]
    model: ModelInfo
    flops: FlopsInfo | None
    seed: int | None
    world_size: int | None
    versions: Mapping[str, Any]
    timing: Mapping[str, Any]
    predictions: str | None
    date: datetime | None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def frames(self) -> Any:
        """Frames per video the run used (``protocol.frames``), or None."""
        return self.protocol_value("frames")

    @property
    def zero_shot(self) -> bool:
        """Whether the run evaluated without finetuning (``protocol.zero_shot``)."""
        value = self.protocol_value("zero_shot")
        return bool(value) if value is not None else bool(self.extra.get("zero_shot", False))

    def protocol_value(self, key: str) -> Any:
        """A protocol key, dotted for nested blocks (``video.num_frames``); known aliases are tried in turn."""
        for name in _PROTOCOL_ALIASES.get(key, (key,)):
            value: Any = self.protocol
            for part in name.split("."):
                value = value.get(part) if isinstance(value, Mapping) else None
            if value is not None:
                return value
        return None

    def flat_protocol(self) -> dict[str, Any]:
        """The protocol with nested blocks flattened to dotted keys (``video.num_frames``)."""
        return flatten(self.protocol)

    def lookup(self, dotted: str) -> Any:
        """Value of a dotted field such as ``metrics.t2v_r1``, ``model.params``, ``protocol.frames`` or
        ``flops.gmacs``; None when absent. Leaderboard files name run fields this way."""
        head, _, rest = dotted.partition(".")
        if head == "metrics":
            return self.metrics.get(rest)
        if head == "protocol":
            return self.protocol_value(rest)
        if head == "model":
            if hasattr(self.model, rest) and rest != "extra":
                return getattr(self.model, rest)
            return self.model.extra.get(rest)
        if head == "flops":
            if self.flops is None:
                return None
            return getattr(self.flops, rest, None)
        if head in ("task", "task_version", "seed", "world_size", "run_id", "predictions", "frames",
                    "zero_shot") and not rest:
            return getattr(self, head)
        value: Any = self.extra.get(head)  # other blocks of the file, e.g. data.synthetic
        for part in rest.split(".") if rest else ():
            value = value.get(part) if isinstance(value, Mapping) else None
        return value

    @property
    def limited(self) -> bool:
        """Whether the run evaluated a ``--limit`` subset (a smoke run, not comparable to full runs)."""
        return self.n_samples.limit is not None

    @property
    def synthetic(self) -> bool:
        """Whether the run evaluated on the synthetic stand-in data (``data.synthetic``)."""
        return bool(self.lookup("data.synthetic"))


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


# ----------------------------------------------------------------------------------------------- parsing


def _fail(path: Path, what: str) -> BenchError:
    return BenchError(f"{path}: malformed results file: {what}")


def _opt_int(path: Path, key: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float)
                                                                         and not value.is_integer()):
        raise _fail(path, f"'{key}' must be an integer, got {value!r}")
    return int(value)


def _opt_str(path: Path, key: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise _fail(path, f"'{key}' must be a string, got {type(value).__name__}")
    return str(value)


def _mapping(path: Path, key: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(path, f"'{key}' must be an object, got {type(value).__name__}")
    return value


def _parse_date(raw: Mapping[str, Any], timing: Mapping[str, Any], path: Path) -> datetime | None:
    for source in (raw, timing):
        for key in _DATE_KEYS:
            value = source.get(key)
            if isinstance(value, str):
                try:
                    return datetime.fromisoformat(value.replace("Z", "+00:00"))
                except ValueError:
                    continue
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 1e9:
                return datetime.fromtimestamp(value, tz=timezone.utc)
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
    except OSError:
        return None


_KNOWN_KEYS = frozenset({"task", "task_version", "metrics", "n_samples", "protocol", "model", "flops", "seed",
                         "world_size", "versions", "timing", "predictions", "predictions_path", "run_id"})


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _parse_flops(path: Path, raw: Any) -> FlopsInfo | None:
    """The ``flops`` block; a null ``value`` (counter failed) falls back to ``macs``/``flops`` or to no count."""
    if raw is None:
        return None
    raw = _mapping(path, "flops", raw)
    value, unit = raw.get("value"), raw.get("unit")
    if value is None:
        if _is_number(raw.get("macs")):
            value, unit = raw["macs"], "MACs"
        elif _is_number(raw.get("flops")):
            value, unit = raw["flops"], "FLOPs"
        elif "value" in raw:
            return None
    if not _is_number(value) or not isinstance(unit, str):
        raise _fail(path, "'flops' needs a numeric 'value' and a string 'unit' (e.g. 'MACs', 'GFLOPs')")
    extra = {k: v for k, v in raw.items() if k not in ("value", "unit", "counter", "input_shape")}
    return FlopsInfo(float(value), unit, _opt_str(path, "flops.counter", raw.get("counter")),
                     raw.get("input_shape"), extra)


def parse_results(raw: Any, path: Path) -> RunRecord:
    """Turn the decoded JSON of one results file into a :class:`RunRecord` (``path`` is used in errors)."""
    if not isinstance(raw, dict):
        raise _fail(path, f"top level must be an object, got {type(raw).__name__}")
    task = raw.get("task")
    if not isinstance(task, str) or not task:
        raise _fail(path, "missing string key 'task'")
    metrics_raw = raw.get("metrics")
    if not isinstance(metrics_raw, dict):
        raise _fail(path, "missing object 'metrics' (metric name -> number)")
    metrics: dict[str, float] = {}
    for name, value in metrics_raw.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(path, f"metric '{name}' must be a number, got {value!r}")
        metrics[str(name)] = float(value)

    ns = _mapping(path, "n_samples", raw.get("n_samples"))
    n_samples = NSamples(*(_opt_int(path, f"n_samples.{k}", ns.get(k))
                           for k in ("total", "evaluated", "skipped", "limit")))

    model_raw = _mapping(path, "model", raw.get("model"))
    model = ModelInfo(
        variant=_opt_str(path, "model.variant", model_raw.get("variant")),
        checkpoint=_opt_str(path, "model.checkpoint", model_raw.get("checkpoint")),
        sha256=_opt_str(path, "model.sha256", model_raw.get("sha256")),
        params=_opt_int(path, "model.params", model_raw.get("params")),
        extra={k: v for k, v in model_raw.items() if k not in ("variant", "checkpoint", "sha256", "params")},
    )

    flops = _parse_flops(path, raw.get("flops"))

    timing = _mapping(path, "timing", raw.get("timing"))
    predictions = raw.get("predictions", raw.get("predictions_path"))
    return RunRecord(
        path=path,
        run_id=_opt_str(path, "run_id", raw.get("run_id")) or path.parent.name,
        task=task,
        task_version=_opt_str(path, "task_version", raw.get("task_version")),
        metrics=metrics,
        n_samples=n_samples,
        protocol=_mapping(path, "protocol", raw.get("protocol")),
        model=model,
        flops=flops,
        seed=_opt_int(path, "seed", raw.get("seed")),
        world_size=_opt_int(path, "world_size", raw.get("world_size")),
        versions=_mapping(path, "versions", raw.get("versions")),
        timing=timing,
        predictions=_opt_str(path, "predictions", predictions),
        date=_parse_date(raw, timing, path),
        extra={k: v for k, v in raw.items() if k not in _KNOWN_KEYS},
    )


def load_run(path: str | Path) -> RunRecord:
    """Read one results.json (or the run directory holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILENAME
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise BenchError(f"{path}: cannot read results file ({err.strerror or err})") from err
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise _fail(path, f"invalid JSON at line {err.lineno} column {err.colno}: {err.msg}") from err
    return parse_results(raw, path)


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
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    return sorted(records, key=lambda r: (r.task, _aware(r.date) or epoch, r.run_id))


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


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
    def seeds(self) -> tuple[int | None, ...]:
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
            return "seed ?" if self.first.seed is None else f"seed {self.first.seed}"
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
    data (root, split, annotation hashes) and finetuning settings; seed keys inside them are ignored."""
    return (run.task, run.task_version, run.model.variant, run.model.checkpoint, run.model.sha256,
            run.model.params, _canonical(run.protocol), run.zero_shot, _canonical(run.extra.get("data")),
            _canonical(run.extra.get("finetune")), run.n_samples.total, run.n_samples.evaluated)


def group_by_seed(runs: Iterable[RunRecord]) -> list[RunGroup]:
    """Pool runs that differ only by seed (first-seen order kept; runs in a group sorted by seed)."""
    groups: dict[tuple[Any, ...], list[RunRecord]] = {}
    for run in runs:
        groups.setdefault(group_key(run), []).append(run)
    return [RunGroup(tuple(sorted(members, key=lambda r: (r.seed is None, r.seed or 0, r.run_id))))
            for members in groups.values()]
