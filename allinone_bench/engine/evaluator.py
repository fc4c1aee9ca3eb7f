"""The evaluation loop: the engine's implementation of :class:`allinone_bench.tasks.base.EvalContext`.

``map`` is the one primitive task kinds use for batched passes. It

* shards the *pending* items over ranks by key (sorted keys, round robin): disjoint, no padding duplicates,
  so 1 and N processes compute the same set;
* runs ``prepare`` in DataLoader workers and ``forward`` on the device under ``no_grad`` + autocast;
* caches every result by key in the run directory (see :mod:`.cache`) so an interrupted evaluation resumes;
* gathers results to every rank with ``all_gather_object``.

:meth:`Evaluator.evaluate` is one evaluation of a split: the kind's ``evaluate`` (records, predictions,
protocol), then the task's metrics on the gathered records (:func:`score`), as one typed :class:`Evaluation`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
from rich.console import Console
from torch.utils.data import DataLoader

from allinone_bench.engine import dist
from allinone_bench.engine.cache import ChunkCache
from allinone_bench.engine.loader import WaitMeter, loader_kwargs, resolve_workers
from allinone_bench.engine.precision import Precision
from allinone_bench.engine.progress import add_task, make_progress
from allinone_bench.errors import BenchError, RunError
from allinone_bench.metrics import Metric, build_metrics, merge_scores
from allinone_bench.tasks.base import ProtocolSummary, Record, TaskKind
from allinone_bench.tasks.batching import ItemDataset, to_cpu, to_device
from allinone_bench.tasks.config import SplitRole, TaskConfig

T = TypeVar("T")


@dataclass
class Evaluation:
    """One scored evaluation of a split: what model selection reads and the results file is written from.

    ``metric_settings``: each metric's :meth:`~allinone_bench.metrics.Metric.describe` (keys and options).
    """

    records: list[Record]
    predictions: list[Record]
    metrics: dict[str, float]
    protocol: ProtocolSummary
    metric_settings: list[dict[str, Any]] = field(default_factory=list)


def score(metrics: Sequence[Metric], records: Sequence[Record]) -> dict[str, float]:
    """Run ``metrics`` on ``records`` (complete on every rank) into one dict, the same on every rank.

    Metrics with ``compute_on_all_ranks = False`` (Java, model fitting) run on rank 0 only and their result
    (or their error) is broadcast.
    """
    out: dict[str, float] = {}
    for metric in metrics:
        metric.process(records)
        values = metric.compute() if metric.compute_on_all_ranks else _on_main_process(metric)
        merge_scores(out, values, metric.name)
    return out


def _on_main_process(metric: Metric) -> dict[str, float]:
    if dist.get_world_size() == 1:
        return metric.compute()
    payload: tuple[str, Any] | None = None
    failure: Exception | None = None
    if dist.is_main_process():
        try:
            payload = ("ok", metric.compute())
        except Exception as err:  # tell the other ranks instead of leaving them in the broadcast forever
            failure, payload = err, ("error", f"{type(err).__name__}: {err}")
    status, value = dist.broadcast_object(payload)
    if failure is not None:
        raise failure
    if status == "error":
        raise RunError(f"metric {metric.name!r} failed on rank 0: {value}")
    return value


class _KeyedCollate:
    """``[(key, item), ...]`` -> ``(keys, collate(items))``; a class so DataLoader workers can pickle it."""

    def __init__(self, collate: Callable[[list[Any]], Any]) -> None:
        self.collate = collate

    def __call__(self, batch: list[tuple[str, Any]]) -> tuple[list[str], Any]:
        keys = [k for k, _ in batch]
        return keys, self.collate([item for _, item in batch])


class Evaluator:
    """Evaluation context of one split at one stage (``tag``), e.g. ``"val/epoch-3"`` or ``"test/zero-shot"``.

    ``cache_root`` = ``<run>/eval_cache`` (``None``: no caching, e.g. in unit tests); ``fingerprint`` names the
    configuration whose results may be reused (changing the protocol invalidates the cache);
    ``cache_flush_s``: finished results are written to disk at least this often.
    """

    def __init__(
        self,
        *,
        config: TaskConfig,
        device: torch.device,
        precision: Precision,
        tag: str,
        seed: int,
        cache_root: Path | None = None,
        fingerprint: str = "",
        split_loader: Callable[[SplitRole], Any] | None = None,
        console: Console | None = None,
        num_workers: int | None = None,
        cache_flush_s: float = 30.0,
    ) -> None:
        self.config = config
        self.cache_flush_s = cache_flush_s
        self.device = device
        self.precision = precision
        self.tag = tag
        self.seed = seed
        self.cache_root = cache_root
        self.fingerprint = fingerprint
        self._split_loader = split_loader
        self.console = console or Console(stderr=True)
        self.num_workers = resolve_workers(config.eval.num_workers if num_workers is None else num_workers)
        self.counters: dict[str, int] = {}  # items computed (not read from cache) per map name
        self.data_wait = WaitMeter()  # time blocked on the next batch, over every map

    # ------------------------------------------------------------------ one evaluation
    def evaluate(self, kind: TaskKind, model: torch.nn.Module, split: Any) -> Evaluation:
        """``kind.evaluate`` on ``split``, scored with the task's metrics (``kind.metric_keys`` of them)."""
        result = kind.evaluate(model, split, self)
        metrics = build_metrics(self.config.metrics, where=f"task {self.config.name}: metrics",
                                only=kind.metric_keys(split))
        values = score(metrics, result.records)
        merge_scores(values, result.metrics, f"kind {kind.name}")
        return Evaluation(records=result.records, predictions=result.predictions, metrics=values,
                          protocol=result.protocol, metric_settings=[m.describe() for m in metrics])

    # ------------------------------------------------------------------ EvalContext API
    def autocast(self) -> AbstractContextManager[Any]:
        return self.precision.autocast()

    def log(self, message: str) -> None:
        if dist.is_main_process():
            self.console.print(message, highlight=False)

    def load_split(self, role: SplitRole) -> Any:
        if self._split_loader is None:
            raise BenchError(f"evaluation {self.tag}: no access to other splits in this context")
        return self._split_loader(role)

    def map(
        self,
        name: str,
        items: Sequence[T],
        *,
        key: Callable[[T], str],
        prepare: Callable[[T], dict[str, Any]],
        forward: Callable[[dict[str, Any]], list[Any]],
        collate: Callable[[list[dict[str, Any]]], dict[str, Any]] | None = None,
        batch_size: int | None = None,
        desc: str | None = None,
        cache: bool = True,
        shard: bool = True,
        num_workers: int | None = None,
    ) -> dict[str, Any]:
        """See :meth:`allinone_bench.tasks.base.EvalContext.map`."""
        keys = [str(key(item)) for item in items]
        if len(set(keys)) != len(keys):
            dup = next(k for k in keys if keys.count(k) > 1)
            raise BenchError(f"evaluation {self.tag}/{name}: key {dup!r} occurs more than once; keys must be unique")
        store = self._cache(name) if cache else None
        done: dict[str, Any] = store.load() if store is not None else {}
        if store is not None:  # every rank reads the same cache before any rank writes to it: same shards
            dist.barrier()
        pending = sorted(k for k in set(keys) if k not in done)
        mine = set(dist.shard_indices(len(pending))) if shard else set(range(len(pending)))
        my_keys = [k for i, k in enumerate(pending) if i in mine]
        index = {k: i for i, k in enumerate(keys)}
        try:
            computed = self._run(name, [items[index[k]] for k in my_keys], my_keys, prepare, forward,
                                 collate, batch_size, desc, store, num_workers)
        finally:  # keep what finished, also when interrupted
            if store is not None:
                store.flush()
        if shard:
            for part in dist.all_gather_object(computed):
                done.update(part)
        else:
            done.update(computed)
        self.counters[name] = self.counters.get(name, 0) + len(pending)
        missing = [k for k in keys if k not in done]
        if missing:
            raise RunError(f"evaluation {self.tag}/{name}: no result for {len(missing)} keys, e.g. {missing[0]!r}")
        return {k: done[k] for k in keys}

    # ------------------------------------------------------------------ internals
    def _cache(self, name: str) -> ChunkCache | None:
        if self.cache_root is None:
            return None
        store = ChunkCache(self.cache_root / self.tag / name, rank=dist.get_rank(), flush_every_s=self.cache_flush_s)
        if dist.is_main_process():
            store.check_fingerprint(self.fingerprint)
        dist.barrier()
        return store

    def _run(
        self,
        name: str,
        items: list[Any],
        keys: list[str],
        prepare: Callable[[Any], dict[str, Any]],
        forward: Callable[[dict[str, Any]], list[Any]],
        collate: Callable[[list[dict[str, Any]]], dict[str, Any]] | None,
        batch_size: int | None,
        desc: str | None,
        store: ChunkCache | None,
        num_workers: int | None,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if not items:
            return out
        workers = self.num_workers if num_workers is None else resolve_workers(num_workers)
        loader = DataLoader(
            ItemDataset(items, keys, prepare),
            batch_size=batch_size or self.config.eval.batch_size,
            shuffle=False,
            collate_fn=_KeyedCollate(collate or torch.utils.data.default_collate),
            **loader_kwargs(workers, self.device, persistent=False),  # one pass per loader
        )
        with make_progress(self.console) as progress:
            task = add_task(progress, desc or f"eval {self.tag} {name}", total=len(items))
            for batch_keys, batch in self.data_wait.iterate(loader):
                with torch.no_grad(), self.autocast():
                    results = forward(to_device(batch, self.device))
                if len(results) != len(batch_keys):
                    raise BenchError(
                        f"evaluation {self.tag}/{name}: forward returned {len(results)} results for a batch of "
                        f"{len(batch_keys)}"
                    )
                chunk = dict(zip(batch_keys, to_cpu(list(results)), strict=True))
                out.update(chunk)
                if store is not None:
                    store.add(chunk)
                progress.advance(task, len(batch_keys))
        return out
