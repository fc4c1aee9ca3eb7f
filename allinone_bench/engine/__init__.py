"""The engine: distributed helpers, seeding, the finetuning loop, the evaluation loop (sharded, cached,
resumable), run directories and the end-to-end runner behind ``allinone-bench run``."""

from __future__ import annotations

from allinone_bench.engine.evaluator import Evaluator
from allinone_bench.engine.runner import RunOptions, RunResult, run_task
from allinone_bench.engine.trainer import Trainer, TrainState

__all__ = ["Evaluator", "RunOptions", "RunResult", "TrainState", "Trainer", "run_task"]
