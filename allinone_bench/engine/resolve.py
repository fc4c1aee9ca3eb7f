"""Run stage 1, resolve: ``RunOptions`` -> :class:`ResolvedRun` (validated config, run directory, launch options).

A new run writes ``config.yaml`` and ``launch.json``; an existing run directory (``--resume DIR``, or the same
``--run-id`` with the same configuration) is resumed as saved. A checkpoint's own architecture (read from its
tensors) wins over the task's default variant wherever the user did not set it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from allinone_bench.data.protocol import resize_for_crop
from allinone_bench.engine import dist
from allinone_bench.engine.rundir import RunDir, atomic_write_json, new_run_id
from allinone_bench.engine.trainer import Callback
from allinone_bench.errors import ConfigError
from allinone_bench.report.display import paper_model_name
from allinone_bench.tasks.config import TaskConfig, validate
from allinone_bench.tasks.includes import flatten
from allinone_bench.tasks.registry import load_task
from allinone_bench.validation import StrictModel, validate_as


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


class Launch(StrictModel):
    """The parts of :class:`RunOptions` a resumed run must reuse (``launch.json``)."""

    task: str
    data_root: str | None
    zero_shot: bool
    run_id: str
    limit: int | None = None
    limit_seed: int | None = None

    @classmethod
    def read(cls, path: Path) -> Launch:
        try:
            return validate_as(cls, json.loads(path.read_text()), f"{path}:")
        except (OSError, json.JSONDecodeError) as err:
            raise ConfigError(f"{path}: not a readable run launch file ({err})") from err


@dataclass
class ResolvedRun:
    """Stage 1's value: what every later stage reads. ``resumed``: an existing run directory continues."""

    cfg: TaskConfig
    run_dir: RunDir
    launch: Launch
    resumed: bool = False

    @property
    def synthetic(self) -> bool:
        """No ``--data-root``: the task's synthetic dataset and CPU-sized configuration."""
        return self.launch.data_root is None


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
        fitted.setdefault("protocol.video.resize", resize_for_crop(arch.image_size))
    return fitted


def resolve_config(opts: RunOptions, note: Callable[[str], None]) -> ResolvedRun:
    """Stage 1: the validated config, the run directory and the launch options (new, or saved when resumed)."""
    if opts.resume is not None:
        run_dir = RunDir(Path(opts.resume))
        if not run_dir.config.is_file() or not run_dir.launch.is_file():
            raise ConfigError(f"--resume {opts.resume}: not a run directory (no config.yaml / launch.json)")
        return ResolvedRun(_load_saved(run_dir), run_dir, Launch.read(run_dir.launch), resumed=True)
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
    launch = Launch(task=cfg.name, data_root=str(opts.data_root) if opts.data_root else None,
                    zero_shot=opts.zero_shot, run_id=run_id, limit=opts.limit, limit_seed=opts.limit_seed)
    if run_dir.config.is_file() and run_dir.launch.is_file():
        saved, saved_launch = _load_saved(run_dir), Launch.read(run_dir.launch)
        differing = _differing_keys(saved, saved_launch, cfg, launch)
        if differing:
            raise ConfigError(f"run {run_id} ({run_dir.path}) exists with another configuration (differs in: "
                              f"{', '.join(differing)}); use a new --run-id, or --resume {run_dir.path} to continue "
                              "it as saved")
        return ResolvedRun(saved, run_dir, saved_launch, resumed=True)
    if dist.is_main_process():
        run_dir.create()
        run_dir.write_config(cfg.to_dict())
        atomic_write_json(run_dir.launch, launch.model_dump())
    dist.barrier()
    return ResolvedRun(cfg, run_dir, launch, resumed=False)


# Keys that never change a number (loader workers, free text): a run may be resumed with other values.
_RESUMABLE_KEYS = frozenset({"description", "finetune.num_workers", "eval.num_workers"})


def _differing_keys(saved: TaskConfig, saved_launch: Launch, cfg: TaskConfig, launch: Launch) -> list[str]:
    """Dotted config keys (and launch options) on which a saved run and a new request disagree."""
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
    return cfg
