"""The official optimisation recipe: AdamW parameter groups and warmup + linear (power-1 polynomial) decay.

Groups follow the reference ``set_schedule``: no weight decay on biases and LayerNorm parameters, and
``lr x head_lr_mult`` for parameters whose name contains one of ``head_param_patterns`` (``vqa_classifier``,
which also matches ``mc_vqa_classifier``). Only parameters with ``requires_grad`` are optimised, so a kind that
freezes the backbone (linear probe) gets an optimizer over its heads only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from allinone_bench.errors import ConfigError
from allinone_bench.tasks.config import FinetuneSettings

_NORM_TYPES = (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def no_decay_names(model: nn.Module) -> set[str]:
    """Names of parameters exempt from weight decay: every bias and every normalisation parameter."""
    names: set[str] = set()
    for module_name, module in model.named_modules():
        for param_name, _ in module.named_parameters(recurse=False):
            full = f"{module_name}.{param_name}" if module_name else param_name
            if param_name == "bias" or isinstance(module, _NORM_TYPES):
                names.add(full)
    return names


def param_groups(model: nn.Module, cfg: FinetuneSettings) -> list[dict[str, object]]:
    """Up to four AdamW groups: (decay | no decay) x (backbone | head); empty groups are dropped."""
    exempt = no_decay_names(model)
    buckets: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    seen: set[int] = set()
    for name, param in model.named_parameters():
        if not param.requires_grad or id(param) in seen:  # shared storage (rank_output) is optimised once
            continue
        seen.add(id(param))
        is_head = any(pattern in name for pattern in cfg.head_param_patterns)
        buckets.setdefault((name in exempt, is_head), []).append(param)
    if not buckets:
        raise ConfigError("finetune: the model has no trainable parameters")
    groups = []
    for (exempt_flag, is_head), params in sorted(buckets.items()):
        groups.append({
            "params": params,
            "weight_decay": 0.0 if exempt_flag else cfg.weight_decay,
            "lr": cfg.lr * (cfg.head_lr_mult if is_head else 1.0),
            "group_name": f"{'head' if is_head else 'backbone'}/{'no_decay' if exempt_flag else 'decay'}",
        })
    return groups


def build_optimizer(model: nn.Module, cfg: FinetuneSettings) -> torch.optim.AdamW:
    """AdamW with the official betas/eps and the groups of :func:`param_groups`."""
    return torch.optim.AdamW(param_groups(model, cfg), lr=cfg.lr, betas=cfg.betas, eps=cfg.eps)


@dataclass(frozen=True)
class Schedule:
    """Step counts of a finetuning run."""

    steps_per_epoch: int  # optimizer steps
    total_steps: int
    warmup_steps: int
    accumulation: int


def plan_schedule(num_batches: int, world_size: int, cfg: FinetuneSettings) -> Schedule:
    """Gradient accumulation = global batch // (per-device batch x world size), at least 1 (as the reference)."""
    accumulation = max(1, cfg.batch_size // (cfg.per_device_batch_size * world_size))
    steps_per_epoch = max(1, math.ceil(num_batches / accumulation))
    total = steps_per_epoch * cfg.epochs
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps)
    warmup = int(cfg.warmup * total)
    return Schedule(steps_per_epoch, max(total, 1), warmup, accumulation)


def accumulation_window(index: int, num_batches: int, accumulation: int) -> int:
    """How many batches share the optimizer step of batch ``index``: ``accumulation``, except in the epoch's
    last, partial window. Each batch's loss is divided by this, so every step averages over the batches it
    actually saw (dividing the last window by the full ``accumulation`` would shrink its gradient)."""
    start = (index // accumulation) * accumulation
    return max(1, min(accumulation, num_batches - start))


def build_scheduler(optimizer: torch.optim.Optimizer, schedule: Schedule, cfg: FinetuneSettings
                    ) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup from 0, then linear decay to ``end_lr`` at the last step (transformers' polynomial
    schedule with power 1, as the reference uses); the factor multiplies every group's own lr."""
    warmup, total = schedule.warmup_steps, schedule.total_steps
    end_ratio = cfg.end_lr / cfg.lr if cfg.lr > 0 else 0.0

    def factor(step: int) -> float:
        if step < warmup:
            return step / max(1, warmup)
        if step >= total:
            return end_ratio
        progress = (step - warmup) / max(1, total - warmup)
        return (1.0 - end_ratio) * (1.0 - progress) + end_ratio

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
