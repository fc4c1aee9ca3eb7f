"""Run a study's cross product one run after another, skipping runs whose results.json exists.

Every run is an ordinary ``allinone-bench run`` with a fixed run id (``<cell>-seed<k>``), written to
``OUTPUT/TASK/RUN_ID/``, so ``allinone-bench table --runs OUTPUT`` reads study outputs like any runs and an
interrupted run resumes where it stopped. No scheduler: to fan out, ``study ... --list`` prints one
``allinone-bench run`` command per line (feed line ``$SLURM_ARRAY_TASK_ID`` to a SLURM array, or wrap each in
``torchrun``), or ``study ... --only I`` runs entry I of the plan; ``study ... --summary-only`` pools whatever
has finished.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

from allinone_bench.errors import BenchError, ConfigError
from allinone_bench.report.store import RESULTS_FILENAME
from allinone_bench.study.spec import StudySpec

__all__ = ["StudyRun", "plan_runs", "run_study"]


def _text(value: Any) -> str:
    """A grid value as ``--set`` reads it back (JSON is valid YAML flow syntax)."""
    return value if isinstance(value, str) else json.dumps(value)


def _slug(value: Any) -> str:
    text = _text(value)
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_") or "x"


@dataclass(frozen=True)
class StudyRun:
    """Entry ``index`` of a study's plan: one grid cell (``(key, value)`` pairs) at one seed."""

    index: int
    cell: tuple[tuple[str, Any], ...]
    seed: int

    @property
    def cell_label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.cell) or "(no grid)"

    @property
    def run_id(self) -> str:
        parts = [f"{k.rsplit('.', 1)[-1]}-{_slug(v)}" for k, v in self.cell]
        return "_".join([*parts, f"seed{self.seed}"])

    def results_path(self, spec: StudySpec) -> Path:
        return spec.output_dir / spec.task / self.run_id / RESULTS_FILENAME

    def overrides(self, spec: StudySpec) -> dict[str, Any]:
        return {**spec.set, **dict(self.cell)}

    def command(self, spec: StudySpec) -> str:
        """The equivalent ``allinone-bench run`` command line (for SLURM arrays or torchrun wrappers)."""
        args = ["allinone-bench", "run", spec.task, "--output-dir", str(spec.output_dir), "--run-id", self.run_id,
                "--seed", str(self.seed)]
        if spec.data_root is not None:
            args += ["--data-root", str(spec.data_root)]
        if spec.checkpoint:
            args += ["--checkpoint", spec.checkpoint]
        if spec.variant:
            args += ["--variant", spec.variant]
        if spec.zero_shot:
            args.append("--zero-shot")
        for key, value in self.overrides(spec).items():
            args += ["--set", f"{key}={_text(value)}"]
        return shlex.join(args)


def plan_runs(spec: StudySpec) -> list[StudyRun]:
    """Cells in grid order (first key varies slowest), each with every seed."""
    keys = list(spec.grid)
    cells = [tuple(zip(keys, values, strict=True)) for values in product(*(spec.grid[k] for k in keys))]
    runs = [StudyRun(0, cell, seed) for cell in cells for seed in spec.seeds]
    ids = [r.run_id for r in runs]
    if len(set(ids)) != len(ids):
        raise ConfigError("study: two grid values give the same run directory name; use distinct values")
    return [StudyRun(i, r.cell, r.seed) for i, r in enumerate(runs)]


@dataclass
class StudyOutcome:
    ran: list[StudyRun]
    skipped: list[StudyRun]
    failed: list[tuple[StudyRun, str]]


def run_study(spec: StudySpec, *, only: list[int] | None = None, log: Callable[[str], None] = print,
              console: Any = None) -> StudyOutcome:
    """Run the plan (or the entries in ``only``) sequentially; a failed run is reported and the rest go on."""
    from allinone_bench.engine import RunOptions, run_task
    from allinone_bench.engine.rundir import atomic_write_text

    plan = plan_runs(spec)
    if only is not None:
        bad = [i for i in only if not 0 <= i < len(plan)]
        if bad:
            raise ConfigError(f"study --only {bad[0]}: the plan has entries 0..{len(plan) - 1}")
        plan = [plan[i] for i in only]
    spec.output_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(spec.output_dir / "study.yaml", spec.dump())
    outcome = StudyOutcome([], [], [])
    for run in plan:
        where = f"[{run.index + 1}/{len(plan_runs(spec))}] {run.cell_label} seed {run.seed}"
        if run.results_path(spec).is_file():
            log(f"{where}: finished before, skipped ({run.results_path(spec).parent})")
            outcome.skipped.append(run)
            continue
        log(f"{where}: running")
        opts = RunOptions(task=spec.task, data_root=spec.data_root, checkpoint=spec.checkpoint, variant=spec.variant,
                          zero_shot=spec.zero_shot, output_dir=spec.output_dir, seed=run.seed,
                          overrides=run.overrides(spec), run_id=run.run_id, console=console)
        try:
            run_task(opts)
        except (BenchError, RuntimeError, OSError) as err:  # one bad cell must not lose the others
            log(f"{where}: FAILED ({err})")
            outcome.failed.append((run, str(err)))
            continue
        outcome.ran.append(run)
    return outcome
