"""Optional training-curve loggers (``run --log tensorboard``), fed from the epoch entries of ``train_log.jsonl``.

``train_log.jsonl`` stays the source of truth: a logger is a :class:`~allinone_bench.engine.trainer.Callback`
that mirrors the entry the trainer has just appended (loss, learning rate, selection metric, validation
metrics, data-wait share when the trainer records it) into a viewer's format. Off by default; TensorBoard
needs the ``[tensorboard]`` extra.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from allinone_bench.engine import dist
from allinone_bench.errors import ConfigError

if TYPE_CHECKING:
    from allinone_bench.engine.trainer import Trainer, TrainState

# train_log.jsonl key -> TensorBoard tag (other numeric keys go to train/<key>, validation metrics to val/<name>)
TAGS: dict[str, str] = {"train_loss": "train/loss", "lr": "train/lr", "selection": "val/selection"}
_NOT_SCALARS = ("epoch", "step", "val")


def scalars(entry: dict[str, Any]) -> dict[str, float]:
    """The finite numbers of one train_log.jsonl entry, keyed by TensorBoard tag."""
    out: dict[str, float] = {}
    for key, value in entry.items():
        if key not in _NOT_SCALARS and isinstance(value, (int, float)) and not isinstance(value, bool):
            out[TAGS.get(key, f"train/{key}")] = float(value)
    for name, value in (entry.get("val") or {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[f"val/{name}"] = float(value)
    return {tag: value for tag, value in out.items() if math.isfinite(value)}


class TensorBoardLogger:
    """Writes the scalars of each train_log entry to ``RUN_DIR/tensorboard`` (``tensorboard --logdir runs``), at
    the entry's global step."""

    def __init__(self, log_dir: Path | None = None) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise ConfigError("--log tensorboard needs the tensorboard package: "
                              "pip install 'allinone-bench[tensorboard]'") from exc
        self._writer_cls = SummaryWriter
        self.log_dir = log_dir
        self._writer: Any = None
        self._written = 0  # history entries already written

    def __call__(self, trainer: Trainer, state: TrainState) -> None:
        if not dist.is_main_process() or not state.history:
            return
        if self._writer is None:
            folder = self.log_dir or (trainer.run_dir.path / "tensorboard" if trainer.run_dir else None)
            if folder is None:
                return
            self._writer = self._writer_cls(log_dir=str(folder))
        # every entry since the last call: mid-epoch validations (finetune.val_check_interval) add entries too;
        # a resumed run rewrites its earlier entries into the new event file, at the same steps
        for entry in state.history[self._written:]:
            step = int(entry.get("step", state.global_step))
            for tag, value in scalars(entry).items():
                self._writer.add_scalar(tag, value, global_step=step)
        self._written = len(state.history)
        self._writer.flush()


LOGGERS: dict[str, Callable[[], Any]] = {"tensorboard": TensorBoardLogger}


def build_loggers(names: Iterable[str]) -> list[Any]:
    """Trainer callbacks for ``--log NAME`` values (bad input: a one-line ConfigError)."""
    out = []
    for name in names:
        if name not in LOGGERS:
            raise ConfigError(f"--log {name!r}: unknown logger; expected one of {', '.join(LOGGERS)}")
        out.append(LOGGERS[name]())
    return out
