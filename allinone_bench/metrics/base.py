"""Collect/compute split for every metric, plus the name -> metric registry that task YAMLs use.

Evaluation loops call :meth:`Metric.process` with per-sample records as they come (any rank, any batch
order); :meth:`Metric.compute` gathers the records of every rank, drops duplicates by sample id and scores
them once. Keying by id is what makes 1 and N processes give the same numbers: a padded
``DistributedSampler`` repeats samples, and counting them twice is the bug users hit most in distributed eval.
"""

from __future__ import annotations

import abc
import dataclasses
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import numpy as np

from allinone_bench.errors import BenchError, ConfigError

__all__ = [
    "Metric",
    "Record",
    "register_metric",
    "get_metric",
    "list_metrics",
    "build_metrics",
    "compute_all",
]

Record = dict[str, Any]
"""One sample's outputs: always has ``"id"`` (str or int); the other fields depend on the metric."""

M = TypeVar("M", bound="type[Metric]")


class Metric(abc.ABC):
    """Accumulates per-sample records keyed by sample id and turns them into ``{name: value}``.

    Subclasses declare ``name`` (registry key), ``outputs`` (the keys :meth:`compute` can report, which
    double as registry aliases, so a YAML may list ``bleu4`` instead of ``captioning``), ``fields`` (record
    fields besides ``id`` that must be present), and implement :meth:`compute_metrics` on the deduplicated
    records. ``compute_on_all_ranks = False`` marks expensive metrics (Java, model fitting) that run on rank 0
    only and broadcast their result.
    """

    name: ClassVar[str]
    outputs: ClassVar[tuple[str, ...]]
    default_outputs: ClassVar[tuple[str, ...] | None] = None  # None: all of ``outputs``
    fields: ClassVar[tuple[str, ...]] = ()
    compute_on_all_ranks: ClassVar[bool] = True
    # Duplicates of one id (padding) must carry the same values; floats may differ a little when the
    # duplicate was computed in another batch composition (bf16/AMP kernels), ids that collide differ a lot.
    duplicate_rtol: ClassVar[float] = 1e-2
    duplicate_atol: ClassVar[float] = 1e-3

    def __init__(self, keys: Sequence[str] | None = None) -> None:
        chosen = tuple(keys) if keys is not None else (self.default_outputs or self.outputs)
        unknown = [k for k in chosen if k not in self.outputs]
        if unknown:
            raise ConfigError(
                f"metric {self.name!r}: unknown output(s) {unknown}; expected some of {list(self.outputs)}"
            )
        self.keys: tuple[str, ...] = chosen
        self._records: dict[str, Record] = {}
        self.num_duplicates = 0  # ids this process saw more than once
        self.gather_duplicates = 0  # ids repeated across ranks in the last gather (distributed padding)

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
        self.gather_duplicates = 0

    def __len__(self) -> int:
        return len(self._records)

    @property
    def records(self) -> Mapping[str, Record]:
        """This process's records (not gathered), keyed by ``str(id)``."""
        return dict(self._records)

    # ----------------------------------------------------------------------------------------- gather
    def gather(self) -> dict[str, Record]:
        """Records of every rank, deduplicated by id (every rank gets all of them).

        Without an initialised process group (or with world size 1) this is the local records.
        Under NCCL the caller must have set the CUDA device (``torch.cuda.set_device``), as for any
        object collective.
        """
        dist = _active_dist()
        if dist is None:
            return dict(self._records)
        shards: list[dict[str, Record] | None] = [None] * dist.get_world_size()
        dist.all_gather_object(shards, self._records)
        return self._merge(shards)

    def _gather_to_rank0(self) -> dict[str, Record] | None:
        dist = _active_dist()
        if dist is None:
            return dict(self._records)
        rank = dist.get_rank()
        shards: list[dict[str, Record] | None] | None = [None] * dist.get_world_size() if rank == 0 else None
        dist.gather_object(self._records, shards, dst=0)
        return self._merge(shards) if rank == 0 else None

    def _merge(self, shards: Sequence[Mapping[str, Record] | None]) -> dict[str, Record]:
        merged: dict[str, Record] = {}
        duplicates = 0
        for shard in shards:  # rank order, so the kept copy of a duplicate is deterministic
            for record in (shard or {}).values():
                duplicates += _insert(merged, record, self)
        self.gather_duplicates = duplicates
        return merged

    # ----------------------------------------------------------------------------------------- compute
    def compute(self, records: Iterable[Mapping[str, Any] | Any] | None = None) -> dict[str, float]:
        """Score the gathered records; every rank returns the same dict.

        With ``records`` given, score exactly those (deduplicated) and nothing else: no gather, no
        collective, so it is safe to call on one rank only. Records reach :meth:`compute_metrics` sorted by
        id, so the result does not depend on arrival order or rank count.
        """
        if records is not None:
            store: dict[str, Record] = {}
            self._add(store, records)
            return self._score(store)
        if self.compute_on_all_ranks or _active_dist() is None:
            return self._score(self.gather())
        return self._compute_on_rank0()

    def _score(self, records: Mapping[str, Record]) -> dict[str, float]:
        if not records:
            raise BenchError(f"metric {self.name!r}: no records to score (did the evaluation loop run?)")
        ordered = [records[k] for k in sorted(records)]
        return self.compute_metrics(ordered)

    def _compute_on_rank0(self) -> dict[str, float]:
        dist = _active_dist()
        assert dist is not None
        gathered = self._gather_to_rank0()
        payload: list[Any] = [None]
        failure: Exception | None = None
        if dist.get_rank() == 0:
            try:
                payload[0] = ("ok", self._score(gathered or {}))
            except Exception as err:  # tell the other ranks instead of leaving them in broadcast forever
                failure = err
                payload[0] = ("error", str(err))
        dist.broadcast_object_list(payload, src=0)
        status, value = payload[0]
        if failure is not None:
            raise failure
        if status == "error":
            raise BenchError(value)
        return value

    @abc.abstractmethod
    def compute_metrics(self, records: list[Record]) -> dict[str, float]:
        """Score deduplicated records (sorted by id). Returns the selected ``keys`` plus count fields."""

    def describe(self) -> dict[str, Any]:
        """Settings that change the numbers (tie rule, tokenizer, ...), for the results file's protocol."""
        return {"metric": self.name, "keys": list(self.keys)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(keys={list(self.keys)}, records={len(self)})"


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


def _active_dist() -> Any | None:
    """``torch.distributed`` when a process group with more than one rank is up, else ``None``."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist
    return None


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


def build_metrics(specs: Sequence[str | Mapping[str, Any]]) -> list[Metric]:
    """Instantiate the metrics a task YAML lists, one instance per metric class.

    A spec is a name (``"retrieval"``, or an output key such as ``"cider"``) or a mapping
    ``{"name": ..., **options}``. Output keys of the same class are grouped into one instance that reports
    only those keys: ``[bleu4, rouge_l, cider]`` builds one captioning metric that never starts METEOR.
    """
    order: list[type[Metric]] = []
    keys: dict[type[Metric], list[str]] = {}
    options: dict[type[Metric], dict[str, Any]] = {}
    for spec in specs:
        if isinstance(spec, str):
            name, opts = spec, {}
        elif isinstance(spec, Mapping) and isinstance(spec.get("name"), str):
            name, opts = spec["name"], {k: v for k, v in spec.items() if k != "name"}
        else:
            raise ConfigError(f"metrics: each entry must be a name or a mapping with 'name', got {spec!r}")
        cls = get_metric(name)
        if cls not in order:
            order.append(cls)
        if name != cls.name and name not in keys.setdefault(cls, []):
            keys[cls].append(name)
        if opts:
            if cls in options:
                raise ConfigError(f"metrics: options for {cls.name!r} given twice ({options[cls]} and {opts})")
            options[cls] = dict(opts)
    built: list[Metric] = []
    for cls in order:
        opts = dict(options.get(cls, {}))
        if "keys" in opts and keys.get(cls):
            raise ConfigError(f"metrics: {cls.name!r} has both 'keys' and output names {keys[cls]}")
        if keys.get(cls):
            opts["keys"] = keys[cls]
        try:
            built.append(cls(**opts))
        except TypeError as err:
            raise ConfigError(f"metrics: bad options for {cls.name!r} {sorted(opts)}: {err}") from err
    return built


def compute_all(metrics: Iterable[Metric]) -> dict[str, float]:
    """Compute several metrics into one dict; a key two metrics both report must have the same value."""
    out: dict[str, float] = {}
    for metric in metrics:
        for key, value in metric.compute().items():
            if key in out and not _agree(out[key], value, 0.0, 0.0):
                raise BenchError(f"metrics disagree on {key!r}: {out[key]} vs {value} (from {metric.name!r})")
            out[key] = value
    return out

