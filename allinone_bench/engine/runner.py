"""One benchmark run, end to end: ``allinone-bench run TASK`` is a thin wrapper around :func:`run_task`.

config (+ synthetic overrides, ``--set``) -> data (real root, or the task's synthetic set) -> model (+ checkpoint)
-> finetune with model selection on the selection split (unless zero-shot) -> evaluation on the test split
-> ``results.json`` + ``predictions.jsonl`` + ``config.yaml`` + final weights in ``OUTPUT/TASK/RUN_ID/``.

Resume: the run directory holds the resolved config and the launch options; ``run_task`` on an existing run
directory (``--resume DIR``, or the same ``--run-id``) continues from ``state.pt`` and the evaluation cache.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
import yaml
from rich.console import Console

from allinone_bench.engine import dist
from allinone_bench.engine.evaluator import Evaluation, Evaluator
from allinone_bench.engine.limit import describe_limit, limit_split
from allinone_bench.engine.loader import data_wait_timing
from allinone_bench.engine.notices import Notices
from allinone_bench.engine.precision import resolve_precision
from allinone_bench.engine.rundir import RunDir, atomic_write_json, new_run_id
from allinone_bench.engine.seed import seed_everything
from allinone_bench.engine.synthetic import ensure_synthetic
from allinone_bench.engine.trainer import Callback, Trainer
from allinone_bench.errors import BenchError, ConfigError
from allinone_bench.report.display import paper_model_name
from allinone_bench.report.results import (
    DataInfo,
    FlopsInfo,
    ModelInfo,
    ProtocolInfo,
    Results,
    SampleCounts,
    SelectionInfo,
    Timing,
    current_versions,
    write_predictions,
    write_results,
)
from allinone_bench.tasks.base import TaskKind, get_kind
from allinone_bench.tasks.config import SplitRole, TaskConfig, validate
from allinone_bench.tasks.registry import load_task

RANDOM_INIT_WARNING = (
    "no --checkpoint: the model starts from RANDOM initialisation; these numbers are NOT the paper's "
    "(pass --checkpoint all-in-one-base or a path for a real evaluation)"
)
SYNTHETIC_NOTE = (
    "no --data-root: running on the task's SYNTHETIC dataset with its CPU-sized configuration "
    "(moving coloured shapes; numbers only show that the pipeline works)"
)


@dataclass
class RunOptions:
    """What ``allinone-bench run`` was asked for (``overrides`` are ``--set`` pairs, already parsed)."""

    task: str
    data_root: Path | None = None
    checkpoint: str | None = None
    variant: str | None = None
    zero_shot: bool = False
    output_dir: Path = Path("runs")
    seed: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    resume: Path | None = None
    run_id: str | None = None
    device: str | None = None
    callbacks: Sequence[Callback] = ()
    console: Console | None = None
    count_flops: bool = True
    limit: int | None = None  # --limit N: a deterministic subset of every split (engine.limit)
    limit_seed: int | None = None


@dataclass
class RunResult:
    """``results`` is None on ranks other than 0 (they compute the same ``metrics`` but write nothing)."""

    run_dir: Path
    results_path: Path
    metrics: dict[str, float]
    results: Results | None
    config: TaskConfig
    records: list[dict[str, Any]]


@dataclass
class _Launch:
    """The parts of :class:`RunOptions` a resumed run must reuse (``launch.json``)."""

    task: str
    data_root: str | None
    zero_shot: bool
    run_id: str
    limit: int | None = None
    limit_seed: int | None = None

    @classmethod
    def read(cls, path: Path) -> _Launch:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError, TypeError) as err:
            raise ConfigError(f"{path}: not a readable run launch file ({err})") from err


# ---------------------------------------------------------------------------------------------- config
def _cli_overrides(opts: RunOptions) -> dict[str, Any]:
    out = dict(opts.overrides)
    if opts.variant is not None:
        out["model.variant"] = opts.variant
    if opts.checkpoint is not None:
        out["model.checkpoint"] = opts.checkpoint
    if opts.seed is not None:
        out["seed"] = opts.seed
    return out


def _checkpoint_architecture(cfg: TaskConfig, overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` plus the architecture a checkpoint was trained as (variant, depth, patch size, image
    size), read from its tensors, wherever the user did not set it: the checkpoint, not the task's default
    variant or the tiny synthetic model, decides what is built. A missing file raises the resolver's error
    (where to put it) before any data is touched."""
    from allinone_bench.model import infer_config, read_state_dict, resolve_checkpoint

    state_dict, _ = read_state_dict(resolve_checkpoint(cfg.model.checkpoint, verify=False).path)
    arch = infer_config(state_dict)
    fitted = dict(overrides)
    for key, value in (("model.variant", arch.variant), ("model.depth", arch.depth),
                       ("model.patch_size", arch.patch_size)):
        fitted.setdefault(key, value)
    if "protocol.video.crop" not in overrides and arch.image_size != cfg.protocol.video.crop:
        # keep the official resize/crop ratio (268/224) at the checkpoint's image size
        fitted["protocol.video.crop"] = arch.image_size
        fitted.setdefault("protocol.video.resize", round(arch.image_size * 268 / 224))
    return fitted


def _resolve_run(opts: RunOptions, note: Callable[[str], None]) -> tuple[TaskConfig, RunDir, _Launch, bool]:
    """Config, run directory and launch options; the last value says whether an existing run is resumed."""
    if opts.resume is not None:
        run_dir = RunDir(Path(opts.resume))
        if not run_dir.config.is_file() or not run_dir.launch.is_file():
            raise ConfigError(f"--resume {opts.resume}: not a run directory (no config.yaml / launch.json)")
        return _load_saved(run_dir), run_dir, _Launch.read(run_dir.launch), True
    overrides = _cli_overrides(opts)
    cfg = load_task(opts.task, synthetic=opts.data_root is None, overrides=overrides)
    if cfg.model.checkpoint:
        fitted = _checkpoint_architecture(cfg, overrides)
        if fitted != overrides:
            if fitted.get("model.variant") != cfg.model.variant:
                note(f"--checkpoint {cfg.model.checkpoint} holds an "
                     f"{paper_model_name(fitted['model.variant'], cfg.model.checkpoint)}: using variant "
                     f"{fitted['model.variant']!r} (the task's default is {cfg.model.variant!r})")
            cfg = load_task(opts.task, synthetic=opts.data_root is None, overrides=fitted)
    run_id = dist.broadcast_object(opts.run_id or new_run_id())
    run_dir = RunDir(Path(opts.output_dir) / cfg.name / run_id)
    launch = _Launch(task=cfg.name, data_root=str(opts.data_root) if opts.data_root else None,
                     zero_shot=opts.zero_shot, run_id=run_id, limit=opts.limit, limit_seed=opts.limit_seed)
    if run_dir.config.is_file() and run_dir.launch.is_file():
        saved, saved_launch = _load_saved(run_dir), _Launch.read(run_dir.launch)
        differing = _differing_keys(saved, saved_launch, cfg, launch)
        if differing:
            raise ConfigError(f"run {run_id} ({run_dir.path}) exists with another configuration (differs in: "
                              f"{', '.join(differing)}); use a new --run-id, or --resume {run_dir.path} to continue "
                              "it as saved")
        return saved, run_dir, saved_launch, True
    if dist.is_main_process():
        run_dir.create()
        run_dir.write_config(cfg.to_dict())
        atomic_write_json(run_dir.launch, asdict(launch))
    dist.barrier()
    return cfg, run_dir, launch, False


# Keys that never change a number (loader workers, free text): a run may be resumed with other values.
_RESUMABLE_KEYS = frozenset({"description", "finetune.num_workers", "eval.num_workers"})


def _differing_keys(saved: TaskConfig, saved_launch: _Launch, cfg: TaskConfig, launch: _Launch) -> list[str]:
    """Dotted config keys (and launch options) on which a saved run and a new request disagree."""
    from allinone_bench.tasks.config import flatten

    old, new = flatten(saved.to_dict()), flatten(cfg.to_dict())
    keys = sorted(k for k in set(old) | set(new) if k not in _RESUMABLE_KEYS and old.get(k) != new.get(k))
    for name in ("data_root", "zero_shot", "limit", "limit_seed"):
        if getattr(saved_launch, name) != getattr(launch, name):
            keys.append(f"--{name.replace('_', '-')}")
    return keys


def _load_saved(run_dir: RunDir) -> TaskConfig:
    raw = yaml.safe_load(run_dir.config.read_text())
    if not isinstance(raw, dict):
        raise ConfigError(f"{run_dir.config}: not a task configuration")
    cfg = validate(raw, where=f"{run_dir.config}:", name=raw.get("name"))
    cfg.source = run_dir.config
    cfg.is_synthetic = False
    return cfg


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


def _fingerprint(cfg: TaskConfig, checkpoint_sha: str | None, precision: str = "fp32") -> str:
    """What evaluation results depend on (loader worker counts excluded; the resolved precision included)."""
    data = cfg.to_dict()
    data["finetune"].pop("num_workers", None)
    data["eval"].pop("num_workers", None)
    data.pop("description", None)
    data["_checkpoint_sha256"] = checkpoint_sha
    data["_precision"] = precision
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------- data
class _Splits:
    """Loads each split role once, dropping (and counting) samples whose video is missing."""

    def __init__(self, cfg: TaskConfig, adapter: Any, kind: TaskKind, note: Callable[[str], None],
                 launch: _Launch) -> None:
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


def _shares_videos(selection: Any, test: Any) -> bool:
    """Whether model selection would see test videos. Split names alone cannot tell: an adapter option can
    make ``val`` read the test file (the official protocols of several datasets do)."""
    if selection is None or test is None:
        return False
    if selection is test:
        return True
    test_videos = {s.video.path for s in test.samples}
    return any(s.video.path in test_videos for s in selection.samples)


def _sha256_files(paths: Sequence[Path], root: Path) -> dict[str, str]:
    """``{path relative to the data root: sha256}`` of the annotation files a result depends on."""
    from allinone_bench.model import sha256_file

    out: dict[str, str] = {}
    for p in paths:
        p = Path(p)
        if p.is_file():
            try:
                name = str(p.resolve().relative_to(root.resolve()))
            except ValueError:
                name = str(p)
            out[name] = sha256_file(p)
    return out


# ---------------------------------------------------------------------------------------------- flops
def _count_flops(cfg: TaskConfig) -> tuple[FlopsInfo | None, str | None]:
    """Joint-pass FLOPs at the run's input shape via the profile module (never faked).

    Called before any finetuning or evaluation, so a bug here costs nothing. Only the counter's own failures
    are caught (a model it cannot trace: ``profile_variant`` raises RuntimeError / NotImplementedError; an input
    it refuses: ConfigError); they give ``None`` and the reason, which results.json records in ``warnings``.
    """
    from allinone_bench.profile.flops import profile_variant

    kwargs = model_arch_kwargs(cfg)
    arch = {k: kwargs[k] for k in ("depth", "patch_size") if k in kwargs}
    try:
        report = profile_variant(cfg.model.variant, mode="joint", frames=kwargs["num_frames"],
                                 text_len=kwargs["max_text_len"], image_size=kwargs["image_size"],
                                 rolling=kwargs["rolling"], **arch)
    except (RuntimeError, NotImplementedError, ConfigError) as err:
        cause = f" (cause: {type(err.__cause__).__name__}: {err.__cause__})" if err.__cause__ else ""
        return None, f"flops not computed: {type(err).__name__}: {err}{cause}"
    d = report.to_dict()
    return FlopsInfo(value=d["value"], unit=d["unit"], counter=d["counter"], input_shape=d["input_shape"],
                     macs=d["macs"], flops=d["flops"], mode=d["mode"],
                     note="one joint forward pass (the paper's convention); MACs = multiply-accumulates"), None


# ---------------------------------------------------------------------------------------------- run
def run_task(opts: RunOptions) -> RunResult:
    """Run one task end to end and write its results (see the module docstring); warnings raised on the way
    print once and go into results.json (:class:`Notices`)."""
    notices = Notices(opts.console or Console(stderr=True))
    with notices.capture():
        return _run_task(opts, notices)


def _run_task(opts: RunOptions, notices: Notices) -> RunResult:
    console = notices.console
    started_wall, t0 = datetime.now(timezone.utc), time.monotonic()
    device = dist.select_device(opts.device)
    dist.init_distributed(device)
    note, warnings = notices.note, notices.messages
    cfg, run_dir, launch, resumed = _resolve_run(opts, note)

    if resumed and dist.is_main_process():
        console.print(f"resuming run {run_dir.path}")
    flops, flops_warning = _count_flops(cfg) if opts.count_flops else (None, "flops not computed (disabled)")
    if flops_warning:
        warnings.append(flops_warning)
    seed_everything(cfg.seed)

    # ---- data
    from allinone_bench.data.datasets import get_adapter
    from allinone_bench.data.tokenizer import load_tokenizer

    synthetic = launch.data_root is None
    if synthetic:
        data_root, _ = ensure_synthetic(cfg.dataset.adapter, cfg.synthetic.num_videos, cfg.synthetic.seed)
        note(SYNTHETIC_NOTE, "cyan")
    else:
        data_root = Path(launch.data_root)  # type: ignore[arg-type]
    adapter = get_adapter(cfg.dataset.adapter)(data_root, **cfg.dataset.options)
    kind = get_kind(cfg.kind)(cfg, load_tokenizer())
    splits = _Splits(cfg, adapter, kind, note, launch)
    if launch.limit is not None:
        note(f"--limit {launch.limit}: every split is cut to {describe_limit(launch.limit, launch.limit_seed)} "
             "(smoke run; numbers are not comparable, and table/plot leave the run out)")

    zero_shot = launch.zero_shot
    if zero_shot and not kind.supports_zero_shot:
        raise ConfigError(f"task {cfg.name}: kind {cfg.kind!r} has no zero-shot protocol (drop --zero-shot)")
    if not zero_shot and kind.supports_finetune and cfg.dataset.splits.train is None:
        if not kind.supports_zero_shot:
            raise ConfigError(f"task {cfg.name}: no training split, and kind {cfg.kind!r} cannot evaluate "
                              "without finetuning")
        zero_shot = True
        note(f"task {cfg.name} has no training split: evaluation only (zero-shot), nothing is finetuned",
             "cyan")
    finetune = not zero_shot and kind.supports_finetune
    # an evaluation reads only the test split's files (a probe that fits on train loads it itself)
    train_split = splits.get("train") if finetune and cfg.dataset.splits.train is not None else None

    # ---- model
    from allinone_bench.model import build_model, load_checkpoint, save_pretrained

    seed_everything(cfg.seed)
    model = build_model(cfg.model.variant, **model_arch_kwargs(cfg), **kind.model_overrides(train_split))
    load_report = None
    if cfg.model.checkpoint:
        load_report = load_checkpoint(model, cfg.model.checkpoint, strict=True, resize_text_positions=True,
                                      compute_sha256=True)
    else:
        note(RANDOM_INIT_WARNING, "red")
    kind.prepare_model(model, zero_shot=zero_shot, load_report=load_report)
    model.to(device)
    model.eval()
    ckpt_sha = getattr(load_report, "sha256", None)
    eval_precision = resolve_precision(cfg.eval.precision, device)
    train_precision = resolve_precision(cfg.finetune.precision, device) if finetune else None
    precision = {"eval": eval_precision.name, **({"finetune": train_precision.name} if train_precision else {})}
    fingerprint = _fingerprint(cfg, ckpt_sha, eval_precision.name)

    def evaluator(tag: str) -> Evaluator:
        return Evaluator(config=cfg, device=device, precision=eval_precision, tag=tag, seed=cfg.seed,
                         cache_root=run_dir.eval_cache, fingerprint=fingerprint, split_loader=splits.get,
                         console=console)

    # ---- finetune + selection
    finetune_s = 0.0
    best_epoch: int | None = None
    best_value: float | None = None
    history: list[dict[str, Any]] = []
    sel_role = cfg.selection.split
    selects_on_test = False
    if finetune:
        sel_split = splits.get(sel_role)
        selects_on_test = cfg.uses_test_for_selection or _shares_videos(sel_split, splits.get("test"))
        if selects_on_test and not cfg.selection.official_protocol_note:
            raise ConfigError(
                f"task {cfg.name}: the selection split {sel_split.split!r} holds test videos (adapter options "
                f"{dict(adapter.options)}); selecting on test is refused unless selection.official_protocol_note "
                "says which official protocol does so"
            )

        def validate_fn(m: torch.nn.Module, epoch: int) -> dict[str, float]:
            m.eval()
            return evaluator(f"{sel_split.split}/epoch-{epoch}").evaluate(kind, m, sel_split).metrics

        trainer = Trainer(kind=kind, model=model, config=cfg, device=device,
                          precision=train_precision, seed=cfg.seed,
                          run_dir=run_dir, validate=validate_fn, callbacks=opts.callbacks, console=console)
        t_ft = time.monotonic()
        state = trainer.fit(train_split)
        finetune_s = time.monotonic() - t_ft
        dist.barrier()
        model.load_state_dict(torch.load(run_dir.best_weights, map_location="cpu", weights_only=True))
        model.eval()
        best_epoch, best_value, history = state.best_epoch, state.best_value, state.history
        stage = f"epoch-{best_epoch}"
    else:
        stage = "zero-shot" if zero_shot else "eval"

    # ---- test evaluation
    test_split, total, skipped = splits.load("test")
    t_ev = time.monotonic()
    test_eval = evaluator(f"{test_split.split}/{stage}")
    evaluation = test_eval.evaluate(kind, model, test_split)
    records, metrics = evaluation.records, evaluation.metrics
    eval_s = time.monotonic() - t_ev
    absent = [m for m in cfg.metric_names if m not in metrics]
    if absent:
        raise BenchError(f"task {cfg.name}: metrics {absent} were listed but not computed (got {sorted(metrics)})")

    # ---- write
    results_path = run_dir.results
    results: Results | None = None
    if dist.is_main_process():
        write_predictions(run_dir.predictions, evaluation.predictions)
        if finetune:  # the finetuned (selected) weights; a zero-shot run's weights are its --checkpoint
            save_pretrained(model, run_dir.model_dir)
        results = _build_results(
            cfg=cfg, evaluation=evaluation, launch=launch, model=model, load_report=load_report, metrics=metrics,
            dataset_options=adapter.resolved_options(),
            records=records, test_split=test_split, total=total, skipped=skipped, flops=flops,
            selection=SelectionInfo(
                split=sel_role if finetune else None,
                split_name=cfg.dataset.splits.name(sel_role) if finetune else None,
                metric=cfg.selection.metric if finetune else None,
                best_epoch=best_epoch, best_value=best_value,
                uses_test=selects_on_test,
                note=cfg.selection.official_protocol_note if selects_on_test else None),
            data_root=data_root, synthetic=synthetic, train_split=train_split,
            timing=Timing(started=started_wall.isoformat(), finished=datetime.now(timezone.utc).isoformat(),
                          total_s=time.monotonic() - t0, finetune_s=finetune_s, eval_s=eval_s,
                          **data_wait_timing(history, test_eval.data_wait.wait_s, eval_s),
                          num_workers={"eval": test_eval.num_workers,
                                       **({"finetune": trainer.workers} if finetune else {})}),
            history=history, zero_shot=zero_shot, finetuned=finetune, warnings=warnings, run_dir=run_dir,
            precision=precision,
        )
        write_results(results_path, results)
    dist.barrier()
    return RunResult(run_dir=run_dir.path, results_path=results_path, metrics=metrics, results=results,
                     config=cfg, records=records)


def _build_results(*, cfg: TaskConfig, evaluation: Evaluation, launch: _Launch, model: Any, load_report: Any,
                   dataset_options: dict[str, Any], metrics: dict[str, float], records: list[dict[str, Any]],
                   test_split: Any, total: int,
                   skipped: int, flops: FlopsInfo | None, selection: SelectionInfo, data_root: Path,
                   synthetic: bool, train_split: Any, timing: Timing, history: list[dict[str, Any]],
                   zero_shot: bool, finetuned: bool, warnings: list[str], run_dir: RunDir,
                   precision: dict[str, str]) -> Results:
    from allinone_bench.tasks.departures import departure_record

    extra = {**evaluation.protocol.details, "metrics": evaluation.metric_settings}
    video = cfg.protocol.video
    protocol = ProtocolInfo(
        frames=video.num_frames, sampling=video.sampling, text_mode=cfg.protocol.text.mode,
        scoring=evaluation.protocol.scoring,
        rolling=cfg.protocol.rolling, patch_permutation=cfg.protocol.patch_permutation,
        permutation_seed=cfg.protocol.permutation_seed if cfg.protocol.patch_permutation != "off" else None,
        max_text_len=cfg.protocol.text.max_len, train_sampling=video.train_sampling if finetuned else None,
        video=video.to_protocol(train=False).to_dict(), extra=extra,
        official=cfg.protocol.official, official_changes=dict(cfg.protocol.official_changes),
        departures=departure_record(cfg), precision=precision,
    )
    annotation_files = list(test_split.annotation_files)
    if train_split is not None and finetuned:
        annotation_files += [p for p in train_split.annotation_files if p not in annotation_files]
    return Results(
        task=cfg.name,
        task_version=cfg.version,
        kind=cfg.kind,
        run_id=launch.run_id,
        metrics={k: float(v) for k, v in metrics.items()},
        n_samples=SampleCounts(total=total, evaluated=len(records), skipped=skipped,
                               skipped_reasons={"missing video": skipped} if skipped else {},
                               limit=launch.limit, limit_seed=launch.limit_seed),
        protocol=protocol,
        model=ModelInfo(
            variant=cfg.model.variant,
            checkpoint=cfg.model.checkpoint,
            sha256=getattr(load_report, "sha256", None),
            params=sum(p.numel() for p in model.parameters()),
            params_trainable=sum(p.numel() for p in model.parameters() if p.requires_grad),
            config=model.config.to_dict(),
            load_report=_report_dict(load_report),
        ),
        flops=flops,
        seed=cfg.seed,
        world_size=dist.get_world_size(),
        versions=current_versions(),
        timing=timing,
        predictions=run_dir.predictions.name,
        selection_split=selection,
        data=DataInfo(root="synthetic" if synthetic else str(data_root), adapter=cfg.dataset.adapter,
                      split=test_split.split, synthetic=synthetic,
                      annotation_sha256=_sha256_files(annotation_files, data_root), options=dataset_options,
                      synthetic_spec={"num_videos": cfg.synthetic.num_videos, "seed": cfg.synthetic.seed,
                                      "path": str(data_root)} if synthetic else None),
        zero_shot=zero_shot,
        finetune={"finetuned": finetuned, "epochs_run": len(history), "best_epoch": selection.best_epoch,
                  "train_samples": len(train_split.samples) if finetuned else None, "history": history},
        config=run_dir.config.name,
        checkpoint_dir=run_dir.model_dir.name if finetuned else None,
        warnings=warnings,
    )


def _report_dict(report: Any) -> dict[str, Any] | None:
    if report is None:
        return None
    keep = ("source", "missing", "unexpected", "initialised", "defaulted", "ignored", "resized", "renamed", "notes")
    return {k: getattr(report, k) for k in keep if hasattr(report, k)}
