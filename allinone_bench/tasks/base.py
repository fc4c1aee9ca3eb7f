"""The task-kind interface and its registry.

A *task* (``tasks/<name>.yaml``) is data + protocol + settings; a *task kind* (this interface) is the code
that turns a dataset's typed samples into batches, a finetuning loss, per-sample predictions and metrics.
The engine (``allinone_bench.engine``) owns everything generic: devices, precision, DDP, sharding, caching,
resume, model selection and the results file. A kind never touches ranks, files or optimizers.

Life of a run, as the engine calls a kind ``K`` (``K = get_kind(cfg.kind)(cfg, tokenizer)``):

1. ``K.check_split(split)`` for every split loaded (sample types match ``K.sample_type``).
2. ``build_model(..., **K.model_overrides(train_split))`` (heads the kind needs), weights loaded, then
   ``K.prepare_model(model, zero_shot=..., load_report=...)`` (freeze parameters, refuse missing heads).
3. Finetuning (unless zero-shot or ``K.supports_finetune`` is False): ``K.train_dataset(train, seed=...)``
   (an :class:`~allinone_bench.tasks.batching.EpochDataset`, indexed by ``(epoch, index)``), batched with
   ``K.collate``, moved to the device, then ``K.loss(model, batch) -> LossOutput`` under autocast.
   ``model`` may be DDP-wrapped *inside* the engine's loss module: kinds call plain methods on the
   unwrapped model they are given.
4. Evaluation: ``K.evaluate(model, split, ctx) -> EvalResult``: per-sample ``records`` (one JSON-able dict
   per sample with an ``"id"``, what the metrics read), ``predictions`` (what ``predictions.jsonl`` holds),
   the ``protocol`` summary (how the predictions were scored) and any numbers the kind computed itself. It uses
   ``ctx.map(...)`` for every batched pass, so sharding over ranks, caching by sample id, resume and gathering
   come for free, and reads clips through :meth:`TaskKind.eval_clip` (one path; random frames seeded per
   sample, so predictions never depend on worker count or world size).
5. The engine scores ``records`` with the task's ``metrics:`` (restricted to ``K.metric_keys(split)``) and
   writes the result. It never reads kind state: everything comes back in ``EvalResult``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

import numpy as np
import torch

from allinone_bench.errors import ConfigError, DataError
from allinone_bench.tasks.batching import stable_rng
from allinone_bench.tasks.config import NoOptions, SplitRole, TaskConfig
from allinone_bench.tasks.kinds import get_kind, list_kinds, register_kind

if TYPE_CHECKING:
    from allinone_bench.data.types import DatasetSplit as _DatasetSplit
    from allinone_bench.tasks.batching import EpochDataset

__all__ = ["Batch", "EvalContext", "EvalResult", "LossOutput", "PerSampleKind", "ProtocolSummary", "Record",
           "TaskKind", "get_kind", "list_kinds", "register_kind"]

T = TypeVar("T")
Batch = dict[str, Any]
Record = dict[str, Any]


@dataclass
class LossOutput:
    """A finetuning step's loss (scalar tensor with grad) and detached numbers for the progress bar/log."""

    loss: torch.Tensor
    logs: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ProtocolSummary:
    """How an evaluation scored its predictions (``results.json`` ``protocol.scoring``), and kind-specific
    protocol details (``protocol.extra``: e.g. ``views``, the probe's chosen ``C``)."""

    scoring: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvalResult:
    """What :meth:`TaskKind.evaluate` returns for one split (typed, so the engine never reaches into a kind).

    ``records``: per sample, in split order, the fields the task's metrics read. ``predictions``: per sample,
    what ``predictions.jsonl`` holds (no bulky score vectors). ``metrics``: numbers the kind computed itself
    besides the task's metrics (e.g. the probe's chosen ``C``); a clash with a metric's key is an error.
    """

    records: list[Record]
    predictions: list[Record]
    protocol: ProtocolSummary
    metrics: dict[str, float] = field(default_factory=dict)


class EvalContext(Protocol):
    """What the engine gives :meth:`TaskKind.evaluate` (implemented by ``engine.evaluator.Evaluator``)."""

    config: TaskConfig
    device: torch.device
    tag: str  # cache namespace of this evaluation, e.g. "val/epoch-3" or "test/zero-shot"
    seed: int

    def map(
        self,
        name: str,
        items: Sequence[T],
        *,
        key: Callable[[T], str],
        prepare: Callable[[T], Batch],
        forward: Callable[[Batch], list[Any]],
        collate: Callable[[list[Batch]], Batch] | None = None,
        batch_size: int | None = None,
        desc: str | None = None,
        cache: bool = True,
        shard: bool = True,
        num_workers: int | None = None,
    ) -> dict[str, Any]:
        """Run ``forward`` over ``items`` in batches and return ``{key(item): result}`` on every rank.

        ``prepare(item)`` runs in DataLoader workers (decode a clip, tokenize) and returns a dict of tensors
        /values (strings are collated into lists); ``collate`` (default: torch's) builds the batch;
        ``forward(batch)`` runs on ``device`` under ``no_grad`` + autocast and returns one picklable result per
        item, in batch order (tensors are moved to CPU). Items are sharded over ranks by key without padding
        duplicates; results are cached per key under ``<run>/eval_cache/<tag>/<name>/`` so an interrupted
        evaluation resumes, with any world size. Keys must be unique.

        ``batch_size``: default ``eval.batch_size``. ``cache=False``: keep results in memory only (bulky
        intermediates such as decoded clips). ``shard=False``: every rank computes every item (e.g. clips each
        rank needs in full). ``num_workers``: override ``eval.num_workers`` (0 when ``prepare`` only indexes
        in-memory data).
        """
        ...

    def load_split(self, role: SplitRole) -> _DatasetSplit | None:
        """Another split of the task's dataset (e.g. ``train`` for a linear probe); ``None`` if it has none."""
        ...

    def autocast(self) -> AbstractContextManager[Any]:
        """The evaluation autocast context (already active inside ``map``'s ``forward``)."""
        ...

    def log(self, message: str) -> None:
        """Print a line on the main process."""
        ...


class TaskKind(ABC):
    """Base class of task kinds. Subclasses set the class attributes and implement the abstract methods.

    Class attributes:
      ``name``: the registry key used by ``kind:`` in task YAMLs.
      ``sample_type``: the :mod:`allinone_bench.data.types` sample class the kind consumes.
      ``options_type``: dataclass validating the YAML ``options:`` block (kind-specific keys).
      ``supports_zero_shot``: whether ``--zero-shot`` (no finetuning) is meaningful for this kind.
      ``supports_finetune``: False for kinds that fit nothing with the engine's loop (e.g. a scikit-learn probe
      that fits inside ``evaluate`` from ``ctx.load_split("train")``).
    """

    name: ClassVar[str] = ""
    sample_type: ClassVar[type] = object
    options_type: ClassVar[type] = NoOptions
    supports_zero_shot: ClassVar[bool] = False
    supports_finetune: ClassVar[bool] = True

    def __init__(self, config: TaskConfig, tokenizer: Any) -> None:
        if not isinstance(config.options, self.options_type):
            raise ConfigError(
                f"task {config.name}: options are {type(config.options).__name__}, "
                f"kind {self.name!r} expects {self.options_type.__name__}"
            )
        self.config = config
        self.options: Any = config.options
        self.tokenizer = tokenizer

    # ---------------------------------------------------------------- data
    def check_split(self, split: _DatasetSplit) -> None:
        """Refuse a split whose samples are not ``sample_type`` (adapter/kind mismatch in the YAML)."""
        bad = next((s for s in split.samples if not isinstance(s, self.sample_type)), None)
        if bad is not None:
            raise DataError(
                f"task {self.config.name}: adapter {self.config.dataset.adapter!r} split {split.split!r} yields "
                f"{type(bad).__name__}, kind {self.name!r} needs {self.sample_type.__name__}"
            )

    @cached_property
    def eval_clips(self) -> Any:
        """``ClipLoader`` with the evaluation protocol (deterministic sampling unless ``sampling: rand``)."""
        from allinone_bench.data.pipeline import ClipLoader

        return ClipLoader(self.config.protocol.video.to_protocol(train=False), train=False)

    @cached_property
    def train_clips(self) -> Any:
        """``ClipLoader`` with the finetuning protocol (random frames/augmentation as configured)."""
        from allinone_bench.data.pipeline import ClipLoader

        return ClipLoader(self.config.protocol.video.to_protocol(train=True), train=True)

    def load_clip(self, video: Any, *, train: bool, rng: np.random.Generator) -> torch.Tensor:
        """``(T, 3, crop, crop)`` clip of a ``VideoRef`` with the training or evaluation protocol: the one clip
        path of every kind. Memoised per process when ``dataset.cache_clips`` is on (validated to imply
        deterministic sampling). Random frames and crops come from a child of ``rng``, so the caller's own
        later draws (caption choice, masking) are the same whether the clip came from the cache or not."""
        loader = self.train_clips if train else self.eval_clips
        if not self.config.dataset.cache_clips:
            return loader.load(video, rng.spawn(1)[0])
        cache = self.__dict__.setdefault("_clip_cache", {})
        key = (train, video)
        if key not in cache:
            cache[key] = loader.load(video, rng.spawn(1)[0])
        return cache[key]

    def eval_clip(self, sample: Any, view: int = 0) -> torch.Tensor:
        """The evaluation clip of ``sample`` (one with ``id`` and ``video``). With ``sampling: rand`` its frames
        are drawn from an rng seeded by (task seed, view, sample id): a function of the data and the seed,
        never of the DataLoader worker, the rank or the batch it lands in."""
        return self.load_clip(sample.video, train=False, rng=stable_rng(self.config.seed, "eval-view", view, sample.id))

    def encode_text(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ids, mask)`` LongTensors ``(N, max_len)`` with the task's ``protocol.text.max_len``."""
        return self.tokenizer.encode(list(texts), self.config.protocol.text.max_len)

    # ---------------------------------------------------------------- model
    def model_overrides(self, train_split: _DatasetSplit | None) -> dict[str, Any]:
        """Extra ``build_model`` keyword arguments for the heads this kind needs (e.g. ``qa_labels``)."""
        return {}

    def prepare_model(  # noqa: B027 - an optional hook, empty by default
        self, model: torch.nn.Module, *, zero_shot: bool, load_report: Any | None = None
    ) -> None:
        """Hook after the weights are loaded: freeze parameters, or refuse a model lacking a needed head.

        ``load_report`` is the checkpoint's ``LoadReport`` (``None`` for random initialisation); its
        ``initialised`` list names heads that were not in the checkpoint (e.g. ``txt_proj``), which matters
        for zero-shot evaluation. Raise :class:`ConfigError` to refuse.
        """

    # ---------------------------------------------------------------- finetuning
    def train_item(self, sample: Any, rng: np.random.Generator) -> Batch:
        """One training example as a dict of tensors (used by the default :meth:`train_dataset`).

        ``rng`` is seeded from (run seed, epoch, sample index): frame sampling and caption choice made with it
        are reproducible across resumes and worker counts.
        """
        raise NotImplementedError(f"kind {self.name!r} does not define train_item")

    def train_dataset(self, split: _DatasetSplit, *, seed: int) -> EpochDataset:
        """The finetuning dataset; default: :meth:`train_item` over ``split.samples``."""
        from allinone_bench.tasks.batching import SampleDataset

        return SampleDataset(split.samples, self.train_item, seed=seed)

    def collate(self, items: list[Batch]) -> Batch:
        """Batch ``items`` (default: ``torch.utils.data.default_collate``). Used for training and by default
        in :meth:`EvalContext.map`."""
        return torch.utils.data.default_collate(items)

    def loss(self, model: torch.nn.Module, batch: Batch) -> LossOutput:
        """Finetuning loss of one (device-resident) batch."""
        raise NotImplementedError(f"kind {self.name!r} does not support finetuning")

    # ---------------------------------------------------------------- evaluation
    @abstractmethod
    def evaluate(self, model: torch.nn.Module, split: _DatasetSplit, ctx: EvalContext) -> EvalResult:
        """Records, predictions and protocol of ``split`` (records in ``split.samples`` order)."""

    def metric_keys(self, split: _DatasetSplit) -> list[str] | None:
        """The metric keys the engine computes on ``split`` (a subset of the task's ``metrics``, options kept);
        ``None`` (default): all of them."""
        return None


class PerSampleKind(TaskKind):
    """Convenience base for kinds whose prediction for a sample depends on that sample only (QA, MC, ...).

    Implement :meth:`eval_item` (CPU, in loader workers; clips through :meth:`eval_clip`), :meth:`predict`
    (device, one output per item) and :meth:`evaluate`, which turns :meth:`predict_split`'s outputs into
    records.
    """

    def eval_item(self, sample: Any) -> Batch:
        """One evaluation example as a dict of tensors."""
        raise NotImplementedError(f"kind {self.name!r} does not define eval_item")

    def predict(self, model: torch.nn.Module, batch: Batch) -> list[Record]:
        """Model outputs for a batch, one dict per item, in batch order."""
        raise NotImplementedError(f"kind {self.name!r} does not define predict")

    def predict_split(self, model: torch.nn.Module, split: _DatasetSplit, ctx: EvalContext) -> list[Record]:
        """:meth:`predict` over every sample (sharded, cached, gathered), in ``split.samples`` order."""
        results = ctx.map(
            "predictions",
            split.samples,
            key=lambda s: s.id,
            prepare=self.eval_item,
            forward=lambda batch: self.predict(model, batch),
            collate=self.collate,
            desc=f"{self.config.name} {split.split}",
        )
        return [results[sample.id] for sample in split.samples]
