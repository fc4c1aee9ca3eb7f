"""Run stage 6, report: the results model is built from the stages' values (never from loose keywords) and
written with the predictions and the finetuned weights. FLOPs are counted up front by :func:`count_flops`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from allinone_bench.engine import dist
from allinone_bench.engine.resolve import ResolvedRun
from allinone_bench.engine.evaluator import Evaluation
from allinone_bench.engine.stages import Finetuned, LoadedModel, RunContext, RunData, Tested, model_arch_kwargs
from allinone_bench.data.types import VideoRef
from allinone_bench.errors import ConfigError
from allinone_bench.report.results import (
    DataInfo,
    FlopsInfo,
    ModelInfo,
    ProtocolInfo,
    Results,
    SampleCounts,
    Timing,
    current_versions,
    write_predictions,
    write_results,
)
from allinone_bench.tasks.config import TaskConfig


def count_flops(cfg: TaskConfig) -> tuple[FlopsInfo | None, str | None]:
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


def sha256_files(paths: Sequence[Path], root: Path) -> dict[str, str]:
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


def _report_dict(report: Any) -> dict[str, Any] | None:
    if report is None:
        return None
    keep = ("source", "missing", "unexpected", "initialised", "defaulted", "ignored", "resized", "renamed", "notes")
    return {k: getattr(report, k) for k in keep if hasattr(report, k)}


def protocol_info(cfg: TaskConfig, evaluation: Evaluation, loaded: LoadedModel, tuned: Finetuned,
                  videos: Iterable[VideoRef] = ()) -> ProtocolInfo:
    """Everything that changes what the numbers mean, as results.json records it. ``video.decoders`` counts
    the evaluated ``videos`` per backend chain (decoders may differ in pixels; fallbacks also warn)."""
    from allinone_bench.data.video import decoder_plan
    from allinone_bench.tasks.departures import departure_record

    summary = evaluation.protocol
    extra = {**summary.details, "metrics": evaluation.metric_settings}
    video, proto = cfg.protocol.video, cfg.protocol
    video_info = video.to_protocol(train=False).to_dict()
    video_info["decoders"] = decoder_plan(videos, video_info["backend"])
    return ProtocolInfo(
        frames=video.num_frames, sampling=video.sampling, text_mode=proto.text.mode, scoring=summary.scoring,
        rolling=proto.rolling, patch_permutation=proto.patch_permutation,
        permutation_seed=proto.permutation_seed if proto.patch_permutation != "off" else None,
        max_text_len=proto.text.max_len, train_sampling=video.train_sampling if tuned.finetuned else None,
        video=video_info, extra=extra,
        official=proto.official, official_changes=dict(proto.official_changes),
        departures=departure_record(cfg), precision=loaded.precision,
    )


def build_results(run: ResolvedRun, data: RunData, loaded: LoadedModel, tuned: Finetuned, ev: Tested,
                  ctx: RunContext, *, flops: FlopsInfo | None, timing: Timing) -> Results:
    """The results model of a finished run, from the stages' values."""
    cfg, model, run_dir = run.cfg, loaded.model, run.run_dir
    annotation_files = list(ev.split.annotation_files)
    if data.train_split is not None and tuned.finetuned:
        annotation_files += [p for p in data.train_split.annotation_files if p not in annotation_files]
    synthetic = run.synthetic
    return Results(
        task=cfg.name,
        task_version=cfg.version,
        kind=cfg.kind,
        run_id=run.launch.run_id,
        metrics={k: float(v) for k, v in ev.metrics.items()},
        n_samples=SampleCounts(total=ev.total, evaluated=len(ev.records), skipped=ev.skipped,
                               skipped_reasons={"missing video": ev.skipped} if ev.skipped else {},
                               limit=run.launch.limit, limit_seed=run.launch.limit_seed),
        protocol=protocol_info(cfg, ev.evaluation, loaded, tuned, [s.video for s in ev.split.samples]),
        model=ModelInfo(
            variant=cfg.model.variant,
            checkpoint=cfg.model.checkpoint,
            sha256=getattr(loaded.load_report, "sha256", None),
            params=sum(p.numel() for p in model.parameters()),
            params_trainable=sum(p.numel() for p in model.parameters() if p.requires_grad),
            config=model.config.to_dict(),
            load_report=_report_dict(loaded.load_report),
        ),
        flops=flops,
        seed=cfg.seed,
        world_size=dist.get_world_size(),
        versions=current_versions(),
        timing=timing,
        predictions=run_dir.predictions.name,
        selection_split=tuned.selection,
        data=DataInfo(root="synthetic" if synthetic else str(data.data_root), adapter=cfg.dataset.adapter,
                      split=ev.split.split, synthetic=synthetic,
                      annotation_sha256=sha256_files(annotation_files, data.data_root),
                      options=data.adapter.resolved_options(),
                      synthetic_spec={"num_videos": cfg.synthetic.num_videos, "seed": cfg.synthetic.seed,
                                      "path": str(data.data_root)} if synthetic else None),
        zero_shot=data.zero_shot,
        finetune={"finetuned": tuned.finetuned, "epochs_run": len(tuned.history),
                  "best_epoch": tuned.selection.best_epoch,
                  "train_samples": len(data.train_split.samples) if tuned.finetuned else None,
                  "history": tuned.history},
        config=run_dir.config.name,
        checkpoint_dir=run_dir.model_dir.name if tuned.finetuned else None,
        warnings=list(ctx.warnings),
    )


def write_outputs(run: ResolvedRun, data: RunData, loaded: LoadedModel, tuned: Finetuned, ev: Tested,
                  results: Results) -> None:
    """Predictions, the finetuned (selected) weights and results.json (a zero-shot run's weights are its
    ``--checkpoint``); main process only."""
    from allinone_bench.model import save_pretrained

    write_predictions(run.run_dir.predictions, ev.evaluation.predictions)
    if tuned.finetuned:
        save_pretrained(loaded.model, run.run_dir.model_dir)
    write_results(run.run_dir.results, results)
