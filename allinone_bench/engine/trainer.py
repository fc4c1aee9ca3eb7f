"""The finetuning loop: AdamW + warmup/linear decay, gradient accumulation, autocast, clipping, DDP,
validation-based model selection and epoch-level resume.

The loop knows nothing about tasks: it asks the task kind for a dataset, a collate function and a loss, and
asks the caller for a validation function. At the end of every epoch it writes ``state.pt`` atomically
(model, optimizer, scheduler, scaler, :class:`TrainState`) and, when the selection metric improved,
``best_weights.pt``. Randomness is reseeded from ``(seed, epoch)`` at each epoch start, so a run resumed from
``state.pt`` continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import torch
from rich.console import Console
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from allinone_bench.engine import dist
from allinone_bench.engine.loader import EpochSampler, WaitMeter, loader_kwargs, resolve_workers, share
from allinone_bench.engine.optim import (
    Schedule,
    accumulation_window,
    build_optimizer,
    build_scheduler,
    plan_schedule,
)
from allinone_bench.engine.precision import Precision
from allinone_bench.engine.progress import add_task, make_progress
from allinone_bench.engine.rundir import RunDir, atomic_torch_save
from allinone_bench.engine.seed import reseed, seed_for, worker_init_fn
from allinone_bench.errors import BenchError, RunError
from allinone_bench.tasks.base import TaskKind
from allinone_bench.tasks.batching import EpochDataset, to_device
from allinone_bench.tasks.config import TaskConfig

ValidateFn = Callable[[nn.Module, int], dict[str, float]]


@dataclass
class TrainState:
    """What survives an interruption besides tensors: progress, the best epoch and the per-epoch history."""

    epoch: int = 0  # epochs completed
    global_step: int = 0
    best_epoch: float | None = None  # a fraction when validating inside epochs (finetune.val_check_interval)
    best_value: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    finished: bool = False


class Callback(Protocol):
    """Hook called on the main process after each epoch's state has been saved (tests interrupt here)."""

    def __call__(self, trainer: Trainer, state: TrainState) -> None: ...


def selection_value(metrics: dict[str, float], expression: str) -> float:
    """Value of a selection metric: a metric name or a sum ``"a+b"`` of names."""
    total = 0.0
    for name in expression.split("+"):
        name = name.strip()
        if name not in metrics:
            raise BenchError(
                f"selection.metric {expression!r}: {name!r} is not among the computed metrics {sorted(metrics)}"
            )
        total += float(metrics[name])
    return total


class _LossModule(nn.Module):
    """Wraps ``kind.loss(model, batch)`` as ``forward`` so DDP sees one forward per step (calling
    ``model.contrastive_text`` etc. on a DDP-wrapped model directly would bypass its gradient hooks)."""

    def __init__(self, kind: TaskKind, model: nn.Module) -> None:
        super().__init__()
        self.kind = kind
        self.model = model
        self.last_logs: dict[str, float] = {}

    def forward(self, batch: dict[str, Any]) -> torch.Tensor:
        out = self.kind.loss(self.model, batch)
        self.last_logs = out.logs
        return out.loss


class Trainer:
    """Finetunes ``model`` for ``config.finetune`` on ``kind``'s training data.

    ``validate(model, epoch) -> metrics`` is called every ``finetune.eval_every`` epochs and on the last one
    (the caller evaluates the selection split). ``run_dir`` = ``None`` disables state files (unit tests).
    """

    def __init__(
        self,
        *,
        kind: TaskKind,
        model: nn.Module,
        config: TaskConfig,
        device: torch.device,
        precision: Precision,
        seed: int,
        run_dir: RunDir | None,
        validate: ValidateFn | None = None,
        callbacks: Sequence[Callback] = (),
        console: Console | None = None,
    ) -> None:
        self.kind = kind
        self.model = model
        self.config = config
        self.ft = config.finetune
        self.device = device
        self.precision = precision
        self.seed = seed
        self.run_dir = run_dir
        self.validate = validate
        self.callbacks = list(callbacks)
        self.console = console or Console(stderr=True)
        self.state = TrainState()
        self.workers = resolve_workers(self.ft.num_workers)

    # ------------------------------------------------------------------ setup
    def _loader(self, dataset: EpochDataset[Any]) -> tuple[DataLoader[Any], EpochSampler]:
        """The run's one training loader (workers persist across epochs) and its sampler, whose ``set_epoch``
        chooses the epoch's order and the epoch every example is drawn for (see :class:`EpochSampler`)."""
        sampler = EpochSampler(dataset, seed=self.seed, world=dist.get_world_size(), rank=dist.get_rank())
        loader = DataLoader(
            dataset,
            batch_size=self.ft.per_device_batch_size,
            sampler=sampler,
            collate_fn=self.kind.collate,
            drop_last=False,
            worker_init_fn=worker_init_fn,
            # Worker seeds come from this generator, not the global one, which reseed() sets per epoch for the
            # model: a persistent loader draws them once and a worker-less one every epoch.
            generator=torch.Generator().manual_seed(seed_for(self.seed, "loader")),
            **loader_kwargs(self.workers, self.device, persistent=True),
        )
        return loader, sampler

    def _wrap(self) -> nn.Module:
        module = _LossModule(self.kind, self.model)
        if dist.get_world_size() > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            return DistributedDataParallel(module, device_ids=ids,
                                           find_unused_parameters=self.ft.find_unused_parameters)
        return module

    # ------------------------------------------------------------------ state
    def _save_state(self, optimizer: torch.optim.Optimizer, scheduler: Any, scaler: Any) -> None:
        if self.run_dir is None or not dist.is_main_process():
            return
        atomic_torch_save(self.run_dir.state, {
            "model": self.model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "train_state": asdict(self.state),
            "seed": self.seed,
        })

    def _load_state(self, optimizer: torch.optim.Optimizer, scheduler: Any, scaler: Any) -> bool:
        if self.run_dir is None or not self.run_dir.state.is_file():
            return False
        blob = torch.load(self.run_dir.state, map_location="cpu", weights_only=False)
        self.model.load_state_dict(blob["model"])
        optimizer.load_state_dict(blob["optimizer"])
        scheduler.load_state_dict(blob["scheduler"])
        if scaler is not None and blob.get("scaler") is not None:
            scaler.load_state_dict(blob["scaler"])
        self.state = TrainState(**blob["train_state"])
        return True

    def _save_best(self) -> None:
        if self.run_dir is not None and dist.is_main_process():
            atomic_torch_save(self.run_dir.best_weights, self.model.state_dict())

    # ------------------------------------------------------------------ loop
    def fit(self, train_split: Any) -> TrainState:
        """Finetune (resuming from ``state.pt`` if the run directory has one); returns the final state."""
        dataset = self.kind.train_dataset(train_split, seed=seed_for(self.seed, "data"))
        if len(dataset) == 0:
            raise BenchError(f"task {self.config.name}: the training split is empty")
        world = dist.get_world_size()
        batches = math.ceil(math.ceil(len(dataset) / world) / self.ft.per_device_batch_size)
        schedule = plan_schedule(batches, world, self.ft)
        optimizer = build_optimizer(self.model, self.ft)
        scheduler = build_scheduler(optimizer, schedule, self.ft)
        scaler = self.precision.grad_scaler()
        if self._load_state(optimizer, scheduler, scaler):
            self.log(f"resumed from {self.run_dir.state if self.run_dir else ''} after epoch {self.state.epoch}")
        wrapped = self._wrap()
        loader, sampler = self._loader(dataset)
        epochs = self.ft.epochs
        while self.state.epoch < epochs and self.state.global_step < schedule.total_steps:
            epoch = self.state.epoch
            sampler.set_epoch(epoch)
            train_logs = self._train_epoch(wrapped, loader, epoch, schedule, optimizer, scheduler, scaler)
            self.state.epoch = epoch + 1
            entry: dict[str, Any] = {"epoch": epoch + 1, "step": self.state.global_step, **train_logs}
            last = self.state.epoch >= epochs or self.state.global_step >= schedule.total_steps
            if self.validate is not None and (last or self.state.epoch % max(1, self.ft.eval_every) == 0):
                entry.update(self._validate_and_select(self.state.epoch))
            self.state.history.append(entry)
            self.state.finished = last
            self._save_state(optimizer, scheduler, scaler)
            if self.run_dir is not None and dist.is_main_process():
                self.run_dir.append_log(entry)
            dist.barrier()
            for callback in self.callbacks:
                callback(self, self.state)
        if self.state.best_epoch is None:  # no validation ran: the last epoch is the model
            self.state.best_epoch = self.state.epoch
            self._save_best()
        self.state.finished = True
        return self.state

    def _validate_and_select(self, epoch: float) -> dict[str, Any]:
        """Validate at ``epoch`` (a whole number at an epoch's end, a fraction inside one), keep the weights if
        the selection metric improved; returns the history fields."""
        assert self.validate is not None
        metrics = self.validate(self.model, epoch)  # type: ignore[arg-type]
        value = selection_value(metrics, self.config.selection.metric)
        if self._improved(value):
            self.state.best_epoch, self.state.best_value = epoch, value  # type: ignore[assignment]
            self._save_best()
        self.log(f"epoch {epoch}: {self.config.selection.metric} = {value:.4f}"
                 f" (best {self.state.best_value:.4f} @ epoch {self.state.best_epoch})")
        return {"val": metrics, "selection": value}

    def _mid_epoch_checks(self, n_batches: int) -> list[int]:
        """Batch counts after which to validate inside an epoch: every ``val_check_interval`` of the epoch
        (Lightning's rule, official MC configs use 0.5), not counting the epoch's end."""
        interval = self.ft.val_check_interval
        if self.validate is None or interval >= 1.0:
            return []
        every = max(1, int(n_batches * interval))
        return list(range(every, n_batches, every))

    def _improved(self, value: float) -> bool:
        best = self.state.best_value
        if best is None:
            return True
        return value > best if self.config.selection.mode == "max" else value < best

    def _train_epoch(
        self,
        wrapped: nn.Module,
        loader: DataLoader[Any],
        epoch: int,
        schedule: Schedule,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        scaler: Any,
    ) -> dict[str, float]:
        reseed(self.seed, "epoch", epoch)
        self.model.train()
        accum = schedule.accumulation
        n_batches = len(loader)
        total_loss, seen, start = 0.0, 0, time.monotonic()
        meter = WaitMeter()
        checks = self._mid_epoch_checks(n_batches)
        optimizer.zero_grad(set_to_none=True)
        with make_progress(self.console) as progress:
            task = add_task(progress, f"train epoch {epoch + 1}/{self.ft.epochs}", total=n_batches, unit="batches")
            for i, batch in enumerate(meter.iterate(loader)):
                boundary = (i + 1) % accum == 0 or i + 1 == n_batches
                batch = to_device(batch, self.device)
                sync = boundary or not isinstance(wrapped, DistributedDataParallel)
                ctx = wrapped.no_sync() if not sync else nullcontext()
                with ctx:
                    with self.precision.autocast():
                        loss = wrapped(batch)
                    if not torch.isfinite(loss):
                        raise RunError(f"epoch {epoch + 1}, batch {i}: loss is {loss.item()} (diverged)")
                    scaled = loss / accumulation_window(i, n_batches, accum)
                    (scaler.scale(scaled) if scaler is not None else scaled).backward()
                total_loss += float(loss.detach())
                seen += 1
                if boundary:
                    self._step(optimizer, scheduler, scaler)
                    if self.state.global_step >= schedule.total_steps:
                        progress.update(task, completed=n_batches)
                        break
                    if checks and i + 1 >= checks[0]:  # validate at the first step boundary past the mark
                        while checks and i + 1 >= checks[0]:
                            checks.pop(0)
                        fraction = round(epoch + (i + 1) / n_batches, 3)
                        entry = {"epoch": fraction, "step": self.state.global_step,
                                 **self._validate_and_select(fraction)}
                        self.state.history.append(entry)
                        if self.run_dir is not None and dist.is_main_process():
                            self.run_dir.append_log(entry)
                        self.model.train()
                lr = optimizer.param_groups[0]["lr"]
                progress.update(task, advance=1, info=f"loss {total_loss / seen:.4f} lr {lr:.2e}")
        self.model.eval()
        epoch_s = time.monotonic() - start
        return {"train_loss": dist.all_reduce_mean(total_loss / max(seen, 1)),
                "lr": scheduler.get_last_lr()[0], "time_s": epoch_s,
                "data_wait_s": round(meter.wait_s, 4), "data_wait_share": share(meter.wait_s, epoch_s)}

    def _step(self, optimizer: torch.optim.Optimizer, scheduler: Any, scaler: Any) -> None:
        if self.ft.grad_clip is not None:
            if scaler is not None:
                scaler.unscale_(optimizer)
            params = [p for g in optimizer.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.ft.grad_clip)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        self.state.global_step += 1

    def log(self, message: str) -> None:
        if dist.is_main_process():
            self.console.print(message, highlight=False)
