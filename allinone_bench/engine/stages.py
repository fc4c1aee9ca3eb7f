"""Run stages 2-5: data -> model -> finetune -> evaluate. Each stage takes the values of the stages before it and
returns its own typed value, so a resumed run, a study or the Python API can enter at any stage (e.g. evaluate a
:class:`LoadedModel` on another split, or finetune twice from one :class:`RunData`).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from allinone_bench.engine import dist
from allinone_bench.engine.evaluator import Evaluation, Evaluator
from allinone_bench.engine.limit import describe_limit, limit_split
from allinone_bench.engine.notices import Notices
from allinone_bench.engine.precision import Precision, resolve_precision
from allinone_bench.engine.resolve import Launch, ResolvedRun
from allinone_bench.engine.seed import seed_everything
from allinone_bench.engine.synthetic import ensure_synthetic
from allinone_bench.engine.trainer import Callback, Trainer
from allinone_bench.errors import BenchError, ConfigError
from allinone_bench.report.results import SelectionInfo
from allinone_bench.tasks.base import Record, TaskKind
from allinone_bench.tasks.config import SplitRole, TaskConfig
from allinone_bench.tasks.kinds import get_kind

RANDOM_INIT_WARNING = (
    "no --checkpoint: the model starts from RANDOM initialisation; these numbers are NOT the paper's "
    "(pass --checkpoint all-in-one-base or a path for a real evaluation)"
)
SYNTHETIC_NOTE = (
    "no --data-root: running on the task's SYNTHETIC dataset with its CPU-sized configuration "
    "(moving coloured shapes; numbers only show that the pipeline works)"
)


@dataclass
class RunContext:
    """What every stage shares: the device and the run's notices (printed once, written to results.json)."""

    device: torch.device
    notices: Notices

    @property
    def console(self) -> Console:
        return self.notices.console

    @property
    def warnings(self) -> list[str]:
        return self.notices.messages

    def note(self, message: str, style: str = "yellow") -> None:
        """Record a warning for results.json and print it once on the main process."""
        self.notices.note(message, style)


# ---------------------------------------------------------------------------------------------- data
class SplitCache:
    """Loads each split role once, dropping (and counting) samples whose video is missing."""

    def __init__(self, cfg: TaskConfig, adapter: Any, kind: TaskKind, note: Callable[[str], None],
                 launch: Launch) -> None:
        self.cfg, self.adapter, self.kind, self.note = cfg, adapter, kind, note
        self.limit, self.limit_seed = launch.limit, launch.limit_seed
        self._cache: dict[str, tuple[Any, int, int]] = {}

    def get(self, role: SplitRole) -> Any:
        return self.load(role)[0]

    def load(self, role: SplitRole) -> tuple[Any, int, int]:
        """``(split, total, skipped)`` for a role; ``split`` is None when the task has no such split."""
        name = self.cfg.dataset.splits.name(role)
        if name is None:
            return None, 0, 0
        if name not in self._cache:
            from allinone_bench.data.datasets import drop_missing_videos

            raw = self.adapter.load(name)
            kept, skipped = drop_missing_videos(raw)
            kept = limit_split(kept, self.limit, self.limit_seed)
            if skipped:
                self.note(f"{self.cfg.dataset.adapter} {name}: {skipped} of {len(raw.samples)} samples skipped "
                          "(video missing); see `allinone-bench data check`")
            if not kept.samples:
                raise BenchError(f"{self.cfg.dataset.adapter} split {name!r}: no samples left to use")
            self.kind.check_split(kept)
            self._cache[name] = (kept, len(raw.samples), skipped)
        return self._cache[name]


@dataclass
class RunData:
    """Stage 2's value: the dataset, the task kind, and what the run will do with them."""

    data_root: Path
    adapter: Any
    kind: TaskKind
    splits: SplitCache
    train_split: Any
    zero_shot: bool
    finetune: bool


def load_data(run: ResolvedRun, ctx: RunContext) -> RunData:
    """Stage 2: the adapter on the data root (or the task's synthetic set), the kind, and the training split."""
    from allinone_bench.data.datasets import get_adapter
    from allinone_bench.data.tokenizer import load_tokenizer

    cfg = run.cfg
    if run.synthetic:
        data_root, _ = ensure_synthetic(cfg.dataset.adapter, cfg.synthetic.num_videos, cfg.synthetic.seed)
        ctx.note(SYNTHETIC_NOTE, "cyan")
    else:
        data_root = Path(run.launch.data_root)  # type: ignore[arg-type]
    adapter = get_adapter(cfg.dataset.adapter)(data_root, **cfg.dataset.options)
    kind = get_kind(cfg.kind)(cfg, load_tokenizer())
    zero_shot = run.launch.zero_shot
    if zero_shot and not kind.supports_zero_shot:
        raise ConfigError(f"task {cfg.name}: kind {cfg.kind!r} has no zero-shot protocol (drop --zero-shot)")
    if not zero_shot and kind.supports_finetune and cfg.dataset.splits.train is None:
        if not kind.supports_zero_shot:
            raise ConfigError(f"task {cfg.name}: no training split, and kind {cfg.kind!r} cannot evaluate "
                              "without finetuning")
        zero_shot = True
        ctx.note(f"task {cfg.name} has no training split: evaluation only (zero-shot), nothing is finetuned", "cyan")
    splits = SplitCache(cfg, adapter, kind, ctx.note, run.launch)
    if run.launch.limit is not None:
        ctx.note(f"--limit {run.launch.limit}: every split is cut to "
                 f"{describe_limit(run.launch.limit, run.launch.limit_seed)} "
                 "(smoke run; numbers are not comparable, and table/plot leave the run out)")
    finetunes = not zero_shot and kind.supports_finetune
    # an evaluation reads only the test split's files (a probe that fits on train loads it itself)
    train_split = splits.get("train") if finetunes and cfg.dataset.splits.train is not None else None
    return RunData(data_root=data_root, adapter=adapter, kind=kind, splits=splits, train_split=train_split,
                   zero_shot=zero_shot, finetune=finetunes)


# ---------------------------------------------------------------------------------------------- model
def model_arch_kwargs(cfg: TaskConfig) -> dict[str, Any]:
    """``build_model`` keyword arguments implied by the task's protocol and model settings."""
    video, m = cfg.protocol.video, cfg.model
    kwargs: dict[str, Any] = {
        "num_frames": video.num_frames,
        "max_text_len": cfg.protocol.text.max_len,
        "image_size": video.crop,
        "rolling": cfg.protocol.rolling,
        "patch_permutation": cfg.protocol.patch_permutation,
        "permutation_seed": cfg.protocol.permutation_seed,
    }
    for name in ("depth", "patch_size", "drop_rate", "drop_path_rate"):
        value = getattr(m, name)
        if value is not None:
            kwargs[name] = value
    return kwargs


def fingerprint(cfg: TaskConfig, checkpoint_sha: str | None, precision: str = "fp32") -> str:
    """What evaluation results depend on (loader worker counts excluded; the resolved precision included)."""
    data = cfg.to_dict()
    data["finetune"].pop("num_workers", None)
    data["eval"].pop("num_workers", None)
    data.pop("description", None)
    data["_checkpoint_sha256"] = checkpoint_sha
    data["_precision"] = precision
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class LoadedModel:
    """Stage 3's value: the model on its device with its weights, and how it will be run."""

    model: torch.nn.Module
    load_report: Any | None
    fingerprint: str
    eval_precision: Precision
    train_precision: Precision | None

    @property
    def precision(self) -> dict[str, str]:
        """``{"eval": ..., "finetune": ...}`` as written to results.json."""
        names = {"eval": self.eval_precision.name}
        if self.train_precision is not None:
            names["finetune"] = self.train_precision.name
        return names


def load_model(run: ResolvedRun, data: RunData, ctx: RunContext) -> LoadedModel:
    """Stage 3: build the model with the kind's heads, load the checkpoint (strict), move it to the device."""
    from allinone_bench.model import build_model, load_checkpoint

    cfg = run.cfg
    seed_everything(cfg.seed)
    model = build_model(cfg.model.variant, **model_arch_kwargs(cfg), **data.kind.model_overrides(data.train_split))
    load_report = None
    if cfg.model.checkpoint:
        load_report = load_checkpoint(model, cfg.model.checkpoint, strict=True, resize_text_positions=True,
                                      compute_sha256=True)
    else:
        ctx.note(RANDOM_INIT_WARNING, "red")
    data.kind.prepare_model(model, zero_shot=data.zero_shot, load_report=load_report)
    model.to(ctx.device)
    model.eval()
    eval_precision = resolve_precision(cfg.eval.precision, ctx.device)
    return LoadedModel(
        model=model, load_report=load_report, eval_precision=eval_precision,
        fingerprint=fingerprint(cfg, getattr(load_report, "sha256", None), eval_precision.name),
        train_precision=resolve_precision(cfg.finetune.precision, ctx.device) if data.finetune else None,
    )


def evaluator(run: ResolvedRun, data: RunData, loaded: LoadedModel, ctx: RunContext, tag: str) -> Evaluator:
    """The evaluation context of one pass (``tag`` names its cache, e.g. ``val/epoch-3``)."""
    return Evaluator(config=run.cfg, device=ctx.device, precision=loaded.eval_precision, tag=tag,
                     seed=run.cfg.seed, cache_root=run.run_dir.eval_cache, fingerprint=loaded.fingerprint,
                     split_loader=data.splits.get, console=ctx.console)


# ---------------------------------------------------------------------------------------------- finetune
def shares_videos(selection: Any, test: Any) -> bool:
    """Whether model selection would see test videos. Split names alone cannot tell: an adapter option can
    make ``val`` read the test file (the official protocols of several datasets do)."""
    if selection is None or test is None:
        return False
    if selection is test:
        return True
    test_videos = {s.video.path for s in test.samples}
    return any(s.video.path in test_videos for s in selection.samples)


@dataclass
class Finetuned:
    """Stage 4's value: how the evaluated weights were chosen (``stage`` tags the test evaluation's cache)."""

    finetuned: bool
    stage: str
    selection: SelectionInfo
    history: list[dict[str, Any]] = field(default_factory=list)
    finetune_s: float = 0.0
    workers: int | None = None  # the training DataLoader's resolved worker count


def finetune(run: ResolvedRun, data: RunData, loaded: LoadedModel, ctx: RunContext,
             callbacks: Sequence[Callback] = ()) -> Finetuned:
    """Stage 4: finetune with model selection on the selection split, then load the best weights (a no-op for
    zero-shot runs and kinds that fit nothing with the engine's loop)."""
    cfg, kind = run.cfg, data.kind
    if not data.finetune:
        return Finetuned(finetuned=False, stage="zero-shot" if data.zero_shot else "eval",
                         selection=SelectionInfo(split=None, split_name=None, metric=None, best_epoch=None,
                                                 best_value=None, uses_test=False, note=None))
    sel_split = data.splits.get(cfg.selection.split)
    selects_on_test = cfg.uses_test_for_selection or shares_videos(sel_split, data.splits.get("test"))
    if selects_on_test and not cfg.selection.official_protocol_note:
        raise ConfigError(
            f"task {cfg.name}: the selection split {sel_split.split!r} holds test videos (adapter options "
            f"{dict(data.adapter.options)}); selecting on test is refused unless selection.official_protocol_note "
            "says which official protocol does so"
        )

    def validate_fn(m: torch.nn.Module, epoch: int) -> dict[str, float]:
        m.eval()
        ev = evaluator(run, data, loaded, ctx, f"{sel_split.split}/epoch-{epoch}")
        return ev.evaluate(kind, m, sel_split).metrics

    trainer = Trainer(kind=kind, model=loaded.model, config=cfg, device=ctx.device,
                      precision=loaded.train_precision, seed=cfg.seed, run_dir=run.run_dir, validate=validate_fn,
                      callbacks=callbacks, console=ctx.console)
    started = time.monotonic()
    state = trainer.fit(data.train_split)
    finetune_s = time.monotonic() - started
    dist.barrier()
    loaded.model.load_state_dict(torch.load(run.run_dir.best_weights, map_location="cpu", weights_only=True))
    loaded.model.eval()
    selection = SelectionInfo(
        split=cfg.selection.split, split_name=cfg.dataset.splits.name(cfg.selection.split),
        metric=cfg.selection.metric, best_epoch=state.best_epoch, best_value=state.best_value,
        uses_test=selects_on_test, note=cfg.selection.official_protocol_note if selects_on_test else None)
    return Finetuned(finetuned=True, stage=f"epoch-{state.best_epoch}", selection=selection,
                     history=state.history, finetune_s=finetune_s, workers=trainer.workers)


# ---------------------------------------------------------------------------------------------- evaluate
@dataclass
class Tested:
    """Stage 5's value: the scored evaluation of the test split, and how many of its samples were skipped."""

    split: Any
    evaluation: Evaluation
    total: int
    skipped: int
    eval_s: float
    data_wait_s: float = 0.0  # time blocked on the next batch
    workers: int = 0  # the evaluation DataLoaders' resolved worker count

    @property
    def records(self) -> list[Record]:
        return self.evaluation.records

    @property
    def metrics(self) -> dict[str, float]:
        return self.evaluation.metrics


def evaluate(run: ResolvedRun, data: RunData, loaded: LoadedModel, tuned: Finetuned, ctx: RunContext) -> Tested:
    """Stage 5: the kind's evaluation on the test split, scored; every metric the task lists must come out."""
    cfg = run.cfg
    test_split, total, skipped = data.splits.load("test")
    started = time.monotonic()
    test_eval = evaluator(run, data, loaded, ctx, f"{test_split.split}/{tuned.stage}")
    evaluation = test_eval.evaluate(data.kind, loaded.model, test_split)
    eval_s = time.monotonic() - started
    absent = [m for m in cfg.metric_names if m not in evaluation.metrics]
    if absent:
        raise BenchError(f"task {cfg.name}: metrics {absent} were listed but not computed "
                         f"(got {sorted(evaluation.metrics)})")
    return Tested(split=test_split, evaluation=evaluation, total=total, skipped=skipped, eval_s=eval_s,
                  data_wait_s=test_eval.data_wait.wait_s, workers=test_eval.num_workers)
