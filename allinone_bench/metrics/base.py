"""One metric design (mmengine style) and the name -> metric registry that task YAMLs use.

A metric is a small object: :meth:`Metric.process` takes per-sample records (any batch, any order; repeated
ids are checked and dropped) and :meth:`Metric.compute` scores them once. The engine gathers the records of
every rank before scoring (``Evaluator.map`` shards by sample id without padding and gathers by id), so a
metric never talks to other processes; ``compute_on_all_ranks = False`` asks the engine to score on rank 0
only and broadcast (Java, model fitting).

Options (tie rule, tokenizer, ...) are typed: each class names an ``options_type`` pydantic model, filled from
the task YAML (``metrics: [t2v_R@1, {name: v2t_R@1, ties: official}]``); an error names the entry and the key;
:meth:`Metric.describe` writes them into ``results.json``.
"""

from __future__ import annotations

import abc
import dataclasses
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from allinone_bench.errors import BenchError, ConfigError

__all__ = [
    "Metric",
    "MetricOptions",
    "MetricSpec",
    "NoMetricOptions",
    "Record",
    "register_metric",
    "get_metric",
    "list_metrics",
    "build_metrics",
    "merge_scores",
    "metric_names",
]

Record = dict[str, Any]
"""One sample's outputs: always has ``"id"`` (str or int); the other fields depend on the metric."""

MetricSpec = str | dict[str, Any]
"""A ``metrics:`` entry of a task YAML: a name, or ``{name: ..., <option>: ...}``."""

M = TypeVar("M", bound="type[Metric]")


class MetricOptions(BaseModel):
    """Base of the typed options of a metric: unknown keys are refused, values are checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoMetricOptions(MetricOptions):
    """Options of metrics that take none."""


class Metric(abc.ABC):
    """Accumulates per-sample records keyed by sample id and turns them into ``{name: value}``.

    Subclasses declare ``name`` (registry key), ``outputs`` (the keys :meth:`compute` can report, which
    double as registry aliases, so a YAML may list ``bleu4`` instead of ``captioning``), ``fields`` (record
    fields besides ``id`` that must be present), ``options_type`` (a :class:`MetricOptions` model), and
    implement :meth:`compute_metrics` on the deduplicated records.
    """

    name: ClassVar[str]
    outputs: ClassVar[tuple[str, ...]]
    default_outputs: ClassVar[tuple[str, ...] | None] = None  # None: all of ``outputs``
    fields: ClassVar[tuple[str, ...]] = ()
    options_type: ClassVar[type[MetricOptions]] = NoMetricOptions
    compute_on_all_ranks: ClassVar[bool] = True
    # Duplicates of one id must carry the same values; floats may differ a little when the duplicate was
    # computed in another batch composition (bf16/AMP kernels), ids that collide differ a lot.
    duplicate_rtol: ClassVar[float] = 1e-2
    duplicate_atol: ClassVar[float] = 1e-3

    def __init__(self, keys: Sequence[str] | None = None, *, where: str | None = None, **options: Any) -> None:
        chosen = tuple(keys) if keys is not None else (self.default_outputs or self.outputs)
        unknown = [k for k in chosen if k not in self.outputs]
        if unknown:
            raise ConfigError(
                f"metric {self.name!r}: unknown output(s) {unknown}; expected some of {list(self.outputs)}"
            )
        self.keys: tuple[str, ...] = chosen
        self.options: Any = _validate_options(self.options_type, options, where or f"metric {self.name!r}")
        self._records: dict[str, Record] = {}
        self.num_duplicates = 0  # ids seen more than once

    # ----------------------------------------------------------------------------------------- collect
    def process(self, records: Iterable[Mapping[str, Any] | Any]) -> None:
        """Add records (dicts or dataclass instances with an ``id``); repeated ids are checked and dropped."""
        self.num_duplicates += self._add(self._records, records)

    def _add(self, store: dict[str, Record], records: Iterable[Mapping[str, Any] | Any]) -> int:
        duplicates = 0
        for raw in records:
            record = _normalise_record(raw, self.name)
            missing = [f for f in self.fields if f not in record]
            if missing:
                raise BenchError(
                    f"metric {self.name!r}: record {record['id']!r} lacks field(s) {missing}; "
                    f"expected fields {['id', *self.fields]}"
                )
            self.validate_record(record)
            duplicates += _insert(store, record, self)
        return duplicates

    def validate_record(self, record: Record) -> None:
        """Hook for per-record checks beyond field presence (raise :class:`BenchError`)."""

    def reset(self) -> None:
        self._records.clear()
        self.num_duplicates = 0

    def __len__(self) -> int:
        return len(self._records)

    @property
    def records(self) -> Mapping[str, Record]:
        """The processed records, keyed by ``str(id)``."""
        return dict(self._records)

    # ----------------------------------------------------------------------------------------- compute
    def compute(self, records: Iterable[Mapping[str, Any] | Any] | None = None) -> dict[str, float]:
        """Score once: the records given (deduplicated, nothing else), or else every record processed so far.

        Records reach :meth:`compute_metrics` sorted by id, so the result does not depend on arrival order,
        batch composition or rank count. There is no collective here: the engine gathers the records of every
        rank first (``Evaluator.map``), and runs ``compute_on_all_ranks = False`` metrics on rank 0 only.
        """
        if records is None:
            return self._score(self._records)
        store: dict[str, Record] = {}
        self._add(store, records)
        return self._score(store)

    def _score(self, records: Mapping[str, Record]) -> dict[str, float]:
        if not records:
            raise BenchError(f"metric {self.name!r}: no records to score (did the evaluation loop run?)")
        ordered = [records[k] for k in sorted(records)]
        return self.compute_metrics(ordered)

    @abc.abstractmethod
    def compute_metrics(self, records: list[Record]) -> dict[str, float]:
        """Score deduplicated records (sorted by id). Returns the selected ``keys`` plus count fields."""

    def describe(self) -> dict[str, Any]:
        """The metric, its keys and its options (everything that changes the numbers), for ``results.json``."""
        return {"metric": self.name, "keys": list(self.keys), **self.options.model_dump()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(keys={list(self.keys)}, records={len(self)})"


def _validate_options(model: type[MetricOptions], options: dict[str, Any], where: str) -> MetricOptions:
    """``model`` from ``options``; the first problem as a :class:`ConfigError` naming ``where`` and the key."""
    try:
        return model.model_validate(options)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        at = f"{where}.{key}" if ": " in where else f"{where}: {key}" if key else where
        if first["type"] == "extra_forbidden":
            raise ConfigError(f"{at}: unknown key (valid keys here: {', '.join(model.model_fields)})") from None
        raise ConfigError(f"{at}: {first['msg']}, got {first.get('input')!r}") from None


# --------------------------------------------------------------------------------------------- records
def _normalise_record(raw: Mapping[str, Any] | Any, metric: str) -> Record:
    if dataclasses.is_dataclass(raw) and not isinstance(raw, type):
        record = {f.name: getattr(raw, f.name) for f in dataclasses.fields(raw)}
    elif isinstance(raw, Mapping):
        record = dict(raw)
    else:
        raise BenchError(f"metric {metric!r}: a record must be a dict or a dataclass, got {type(raw).__name__}")
    if "id" not in record:
        raise BenchError(f"metric {metric!r}: record without an 'id' field: keys {sorted(record)}")
    if not isinstance(record["id"], (str, int, np.integer)):
        raise BenchError(f"metric {metric!r}: record id must be str or int, got {type(record['id']).__name__}")
    return {k: _to_plain(v) for k, v in record.items()}


def _to_plain(value: Any) -> Any:
    """Tensors become CPU numpy arrays, so records pickle the same from any device and compare cheaply."""
    torch = sys.modules.get("torch")  # a tensor can only exist if torch was imported
    if torch is not None and isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype in (torch.bfloat16, torch.float16):
            value = value.float()
        return value.item() if value.ndim == 0 else value.numpy()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _insert(store: dict[str, Record], record: Record, metric: Metric) -> int:
    """Insert ``record``; return 1 if it duplicated a stored id (after checking the values agree)."""
    key = str(record["id"])
    kept = store.get(key)
    if kept is None:
        store[key] = record
        return 0
    if kept.keys() != record.keys() or not all(
        _agree(kept[f], record[f], metric.duplicate_rtol, metric.duplicate_atol) for f in kept if f != "id"
    ):
        differing = sorted(
            f
            for f in (set(kept) | set(record)) - {"id"}
            if f not in kept
            or f not in record
            or not _agree(kept[f], record[f], metric.duplicate_rtol, metric.duplicate_atol)
        )
        raise BenchError(
            f"metric {metric.name!r}: sample id {key!r} was recorded twice with different values "
            f"(fields {differing}); ids must be unique per sample (distributed padding repeats a sample, "
            "it never changes it)"
        )
    return 1


def _agree(a: Any, b: Any, rtol: float, atol: float) -> bool:
    if a is None or b is None or isinstance(a, (str, bytes)) or isinstance(b, (str, bytes)):
        return type(a) is type(b) and a == b
    if isinstance(a, Mapping) or isinstance(b, Mapping):
        return (
            isinstance(a, Mapping)
            and isinstance(b, Mapping)
            and a.keys() == b.keys()
            and all(_agree(a[k], b[k], rtol, atol) for k in a)
        )
    try:
        x, y = np.asarray(a), np.asarray(b)
    except ValueError:  # ragged nested sequences: compare element by element
        return (
            isinstance(a, Sequence)
            and isinstance(b, Sequence)
            and len(a) == len(b)
            and all(_agree(i, j, rtol, atol) for i, j in zip(a, b))
        )
    if x.shape != y.shape:
        return False
    numeric = "biufc"
    if x.dtype.kind in numeric and y.dtype.kind in numeric:
        if x.dtype.kind in "fc" or y.dtype.kind in "fc":
            return bool(np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True))
        return bool(np.array_equal(x, y))
    if x.dtype.kind == "O" or y.dtype.kind == "O":
        return len(x.ravel()) == len(y.ravel()) and all(
            _agree(i, j, rtol, atol) for i, j in zip(x.ravel().tolist(), y.ravel().tolist())
        )
    return bool(np.array_equal(x, y))


# -------------------------------------------------------------------------------------------- registry
_METRICS: dict[str, type[Metric]] = {}
_OUTPUT_OWNERS: dict[str, type[Metric]] = {}


def register_metric(cls: M) -> M:
    """Class decorator: register under ``cls.name`` and under each of ``cls.outputs``."""
    for key in (cls.name, *cls.outputs):
        owner = _METRICS.get(key) or _OUTPUT_OWNERS.get(key)
        if owner is not None and owner is not cls:
            raise ValueError(f"metric name {key!r} is already registered by {owner.__name__}")
    _METRICS[cls.name] = cls
    for key in cls.outputs:
        _OUTPUT_OWNERS[key] = cls
    return cls


def _ensure_builtin() -> None:
    # Importing the package registers the built-in metrics (their modules use @register_metric).
    import allinone_bench.metrics  # noqa: F401


def list_metrics(include_outputs: bool = False) -> list[str]:
    """Registered metric names (and, with ``include_outputs``, every output key usable as an alias)."""
    _ensure_builtin()
    names = set(_METRICS)
    if include_outputs:
        names |= set(_OUTPUT_OWNERS)
    return sorted(names)


def get_metric(name: str) -> type[Metric]:
    """The metric class registered under ``name`` (a metric name or one of its output keys)."""
    _ensure_builtin()
    cls = _METRICS.get(name) or _OUTPUT_OWNERS.get(name)
    if cls is None:
        raise ConfigError(f"unknown metric {name!r}; expected one of {list_metrics(include_outputs=True)}")
    return cls


def _parse_spec(spec: Any, where: str) -> tuple[str, dict[str, Any]]:
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, Mapping) and isinstance(spec.get("name"), str):
        return spec["name"], {k: v for k, v in spec.items() if k != "name"}
    raise ConfigError(f"{where}: expected a metric name or a mapping with 'name' and options, got {spec!r}")


def metric_names(specs: Sequence[MetricSpec]) -> list[str]:
    """The names of ``metrics:`` entries, in order (``{name: t2v_R@1, ties: official}`` -> ``t2v_R@1``)."""
    return [_parse_spec(spec, "metrics")[0] for spec in specs]


def build_metrics(
    specs: Sequence[MetricSpec], *, where: str = "metrics", only: Iterable[str] | None = None
) -> list[Metric]:
    """Instantiate the metrics a task YAML lists, one instance per metric class.

    A spec is a name (``"retrieval"``, or an output key such as ``"cider"``) or a mapping
    ``{"name": ..., **options}``. Output keys of the same class are grouped into one instance that reports
    only those keys: ``[bleu4, rouge_l, cider]`` builds one captioning metric that never starts METEOR.
    Options belong to the class (``ties`` holds for t2v and v2t alike): giving them on any one entry is
    enough, repeating them is allowed, contradicting them is an error. ``where`` prefixes error messages.
    ``only``: report just these keys (e.g. the cheap ones during model selection); a metric left without
    keys is not built.
    """
    order: list[type[Metric]] = []
    keys: dict[type[Metric], list[str]] = {}
    options: dict[type[Metric], tuple[dict[str, Any], str]] = {}
    for i, spec in enumerate(specs):
        here = f"{where}[{i}]"
        name, opts = _parse_spec(spec, here)
        try:
            cls = get_metric(name)
        except ConfigError as err:
            raise ConfigError(f"{here}: {err}") from None
        if cls not in order:
            order.append(cls)
        if name != cls.name and name not in keys.setdefault(cls, []):
            keys[cls].append(name)
        if opts:
            if cls in options and options[cls][0] != opts:
                raise ConfigError(f"{here}: options {opts} contradict {options[cls][0]} given for the same metric "
                                  f"{cls.name!r} at {options[cls][1]}")
            options.setdefault(cls, (dict(opts), here))
    built: list[Metric] = []
    for cls in order:
        opts, here = options.get(cls, ({}, where))
        opts = dict(opts)
        chosen = opts.pop("keys", None)
        if chosen is not None and keys.get(cls):
            raise ConfigError(f"{here}: {cls.name!r} has both 'keys' and output names {keys[cls]}")
        metric = cls(chosen if chosen is not None else (keys.get(cls) or None), where=here, **opts)
        if only is not None:
            wanted = set(only)
            if not any(k in wanted for k in metric.keys):
                continue
            metric = cls([k for k in metric.keys if k in wanted], where=here, **opts)
        built.append(metric)
    return built


def merge_scores(into: dict[str, float], values: Mapping[str, float], source: str) -> None:
    """Add ``values`` to ``into``; a key two metrics both report (e.g. ``n``) must have the same value."""
    for key, value in values.items():
        if key in into and not _agree(into[key], value, 0.0, 0.0):
            raise BenchError(f"metrics disagree on {key!r}: {into[key]} vs {value} (from {source!r})")
        into[key] = value
