"""``allinone-bench study``: many runs (grid x seeds), one summary (see :mod:`allinone_bench.study`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.command("study")(study)


def study(
    target: Annotated[str, typer.Argument(help="Task name, or a study YAML file (studies/*.yaml).")],
    grid: Annotated[list[str] | None, typer.Option("--grid", help="key=v1,v2 (repeatable): one axis of the "
                                                   "cross product, e.g. protocol.rolling=roll,none,flatten.")] = None,
    seeds: Annotated[str | None, typer.Option("--seeds", help="Comma-separated seeds, e.g. 0,1,2.")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Fixed override for every run.")] = None,
    output_dir: Annotated[Path | None, typer.Option("--output-dir", help="Study folder (default runs/study).")] = None,
    data_root: Annotated[Path | None, typer.Option("--data-root")] = None,
    checkpoint: Annotated[str | None, typer.Option("--checkpoint")] = None,
    variant: Annotated[str | None, typer.Option("--variant", help="ti | s | b for every run.")] = None,
    zero_shot: Annotated[bool, typer.Option("--zero-shot")] = False,
    list_: Annotated[bool, typer.Option("--list", help="Print one `allinone-bench run` line per run "
                                        "(for a SLURM array or torchrun), run nothing.")] = False,
    only: Annotated[list[int] | None, typer.Option("--only", help="Run only plan entry I (0-based, repeatable).")]
    = None,
    summary_only: Annotated[bool, typer.Option("--summary-only", help="Pool finished runs, run nothing.")] = False,
) -> None:
    """Run TASK for every grid cell and seed (sequentially, finished runs skipped); write summary.md/.csv."""
    from allinone_bench.study import load_study
    from allinone_bench.study.spec import parse_grid, parse_seeds, validate
    from allinone_bench.tasks.config import parse_set_args

    if target.endswith((".yaml", ".yml")):
        spec = load_study(Path(target))
        updates = {"grid": {**spec.grid, **parse_grid(grid)}, "set": {**spec.set, **parse_set_args(set_)}}
    else:
        spec = validate({"task": target}, "study")
        updates = {"grid": parse_grid(grid), "set": parse_set_args(set_)}
    if seeds is not None:
        updates["seeds"] = parse_seeds(seeds)
    for key, value in (("output_dir", output_dir), ("data_root", data_root), ("checkpoint", checkpoint),
                       ("variant", variant)):
        if value is not None:
            updates[key] = value
    if zero_shot:
        updates["zero_shot"] = True
    spec = validate({**spec.model_dump(), **updates}, "study")
    execute(spec, list_=list_, only=only, summary_only=summary_only)


def execute(spec: object, *, list_: bool = False, only: list[int] | None = None, summary_only: bool = False,
            summary_dir: Path | None = None) -> None:
    """List, run and/or summarise ``spec`` (a :class:`~allinone_bench.study.StudySpec`); exit 1 if a run failed."""
    from allinone_bench.study import StudySpec, plan_runs, run_study, write_summary

    assert isinstance(spec, StudySpec)
    if list_:
        for run in plan_runs(spec):
            typer.echo(run.command(spec))
        return
    outcome = None
    if not summary_only:
        outcome = run_study(spec, only=only, log=lambda m: err_console.print(m, highlight=False),
                            console=err_console)
    _, md_path, md = write_summary(spec, summary_dir)
    console.print(md, highlight=False, markup=False)
    console.print(f"summary: {md_path} (and summary.csv)", highlight=False)
    if outcome is not None and outcome.failed:
        err_console.print(f"[red]{len(outcome.failed)} run(s) failed: "
                          + "; ".join(f"{r.run_id}: {e}" for r, e in outcome.failed) + "[/]")
        raise typer.Exit(1)
