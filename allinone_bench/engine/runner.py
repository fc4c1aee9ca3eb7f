"""One benchmark run, end to end: ``allinone-bench run TASK`` is a thin wrapper around :func:`run_task`.

The run is six explicit stages, each returning a typed value the next one takes:

    resolve_config -> ResolvedRun    config (+ synthetic overrides, ``--set``), run directory   (engine/resolve.py)
    load_data      -> RunData        adapter on the data root or the synthetic set, task kind   (engine/stages.py)
    load_model     -> LoadedModel    model + checkpoint on the device, precisions
    finetune       -> Finetuned      training with model selection (a no-op when zero-shot)
    evaluate       -> Tested         the test split's scored evaluation (records, predictions, metrics)
    build_results  -> Results        ``results.json`` + ``predictions.jsonl`` + weights       (engine/reporting.py)

so a resumed run, a study or the Python API can enter at any stage. Resume: the run directory holds the resolved
config and the launch options; ``run_task`` on an existing run directory (``--resume DIR``, or the same
``--run-id``) continues from ``state.pt`` and the evaluation cache.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console

from allinone_bench.engine import dist
from allinone_bench.engine.loader import data_wait_timing
from allinone_bench.engine.notices import Notices
from allinone_bench.engine.reporting import build_results, count_flops, write_outputs
from allinone_bench.engine.resolve import Launch, ResolvedRun, RunOptions, resolve_config
from allinone_bench.engine.seed import seed_everything
from allinone_bench.engine.stages import (
    RANDOM_INIT_WARNING,
    SYNTHETIC_NOTE,
    Finetuned,
    LoadedModel,
    RunContext,
    RunData,
    Tested,
    evaluate,
    finetune,
    load_data,
    load_model,
    model_arch_kwargs,
)
from allinone_bench.report.results import Results, Timing
from allinone_bench.tasks.config import TaskConfig

__all__ = [
    "RANDOM_INIT_WARNING", "SYNTHETIC_NOTE", "Finetuned", "Launch", "LoadedModel", "ResolvedRun",
    "RunContext", "RunData", "RunOptions", "RunResult", "Tested", "model_arch_kwargs", "run_task",
]
_count_flops = count_flops  # the name tests and older callers use


@dataclass
class RunResult:
    """``results`` is None on ranks other than 0 (they compute the same ``metrics`` but write nothing)."""

    run_dir: Path
    results_path: Path
    metrics: dict[str, float]
    results: Results | None
    config: TaskConfig
    records: list[dict[str, Any]]


def run_task(opts: RunOptions) -> RunResult:
    """Run one task end to end and write its results (see the module docstring); warnings raised on the way
    print once and go into results.json (:class:`Notices`)."""
    notices = Notices(opts.console or Console(stderr=True))
    with notices.capture():
        return _run_task(opts, notices)


def _run_task(opts: RunOptions, notices: Notices) -> RunResult:
    started_wall, t0 = datetime.now(timezone.utc), time.monotonic()
    ctx = RunContext(device=dist.select_device(opts.device), notices=notices)
    dist.init_distributed(ctx.device)
    run = resolve_config(opts, ctx.note)
    if run.resumed and dist.is_main_process():
        ctx.console.print(f"resuming run {run.run_dir.path}")
    flops, flops_warning = count_flops(run.cfg) if opts.count_flops else (None, "flops not computed (disabled)")
    if flops_warning:
        ctx.warnings.append(flops_warning)
    seed_everything(run.cfg.seed)

    data = load_data(run, ctx)
    loaded = load_model(run, data, ctx)
    tuned = finetune(run, data, loaded, ctx, callbacks=opts.callbacks)
    ev = evaluate(run, data, loaded, tuned, ctx)

    results: Results | None = None
    if dist.is_main_process():
        workers = {"eval": ev.workers, **({"finetune": tuned.workers} if tuned.finetuned else {})}
        timing = Timing(started=started_wall.isoformat(), finished=datetime.now(timezone.utc).isoformat(),
                        total_s=time.monotonic() - t0, finetune_s=tuned.finetune_s, eval_s=ev.eval_s,
                        **data_wait_timing(tuned.history, ev.data_wait_s, ev.eval_s), num_workers=workers)
        results = build_results(run, data, loaded, tuned, ev, ctx, flops=flops, timing=timing)
        write_outputs(run, data, loaded, tuned, ev, results)
    dist.barrier()
    return RunResult(run_dir=run.run_dir.path, results_path=run.run_dir.results, metrics=ev.metrics,
                     results=results, config=run.cfg, records=ev.records)
