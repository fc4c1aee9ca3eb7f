"""``allinone-bench run TASK`` and ``allinone-bench tasks``: parse, call the engine, print with rich."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from allinone_bench.errors import ConfigError

console = Console()
err_console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add ``run`` and ``tasks`` to the app."""
    app.command("run")(run)
    app.command("tasks")(tasks)


def run(
    task: Annotated[str | None, typer.Argument(help="Task name (`allinone-bench tasks`) or a task YAML.")] = None,
    data_root: Annotated[Path | None, typer.Option("--data-root", help="Folder holding one folder per dataset; "
                                                   "omitted: the task's synthetic set (CPU-sized run).")] = None,
    checkpoint: Annotated[str | None, typer.Option("--checkpoint", help="Checkpoint name (checkpoints.yaml) "
                                                   "or path; omitted: random initialisation.")] = None,
    variant: Annotated[str | None, typer.Option("--variant", help="Model variant: ti | s | b.")] = None,
    zero_shot: Annotated[bool, typer.Option("--zero-shot", help="Evaluate without finetuning.")] = False,
    output_dir: Annotated[Path, typer.Option("--output-dir", help="Runs go to OUTPUT/TASK/RUN_ID/.")] = Path("runs"),
    seed: Annotated[int | None, typer.Option("--seed", help="Run seed (default: the task's, 0).")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a task key: --set finetune.lr=3e-4 "
                                                   "(repeatable; dotted keys of the task YAML).")] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="Continue an interrupted run directory.")] = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Run directory name (existing: resumes).")] = None,
    device: Annotated[str | None, typer.Option("--device", help="cpu | cuda | cuda:N (default: best).")] = None,
    seeds: Annotated[str | None, typer.Option("--seeds", help="Several seeds, e.g. 0,1,2: one run each (a "
                                              "one-axis study), then OUTPUT/TASK/summary.md with mean ± std.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Smoke run: evaluate and finetune on N "
                                              "samples per split (first N by id); table/plot leave it out.")] = None,
    limit_seed: Annotated[int | None, typer.Option("--limit-seed", help="With --limit: a seeded random sample "
                                                   "of N instead of the first N.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars or progress lines.")] = False,
    log_interval: Annotated[float | None, typer.Option("--log-interval", min=0.001, help="Seconds between progress "
                                                       "lines when the output is not a terminal (also at each "
                                                       "10%); default 30.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results object (results.json) on stdout "
                                          "instead of the table; progress stays on stderr.")] = False,
    log: Annotated[list[str] | None, typer.Option("--log", help="Extra training-curve logger: tensorboard "
                                                  "(writes RUN_DIR/tensorboard; needs the tensorboard extra). "
                                                  "train_log.jsonl is always written.")] = None,
) -> None:
    """Finetune (or zero-shot) and evaluate TASK; write OUTPUT/TASK/RUN_ID/results.json and print the metrics.

    Exit code: 0 success, 1 the run failed, 2 bad input (a one-line reason naming the file or option).
    """
    from allinone_bench.engine import RunOptions, run_task
    from allinone_bench.engine.dist import destroy_distributed, is_main_process
    from allinone_bench.engine.limit import check_limit
    from allinone_bench.engine.loggers import build_loggers
    from allinone_bench.engine.progress import DEFAULT_INTERVAL_S, configured
    from allinone_bench.tasks.overrides import parse_set_args

    if task is None and resume is None:
        raise ConfigError("run: give a TASK (see `allinone-bench tasks`) or --resume RUN_DIR")
    if resume is not None and (set_ or variant or checkpoint or seed is not None or data_root or zero_shot
                               or limit is not None):
        raise ConfigError("run --resume: the run continues with its saved config.yaml and launch options; "
                          "other options (--set, --variant, --checkpoint, --seed, --data-root, --zero-shot, "
                          "--limit) are not allowed")
    check_limit(limit, limit_seed)
    if seeds is not None:
        if resume is not None or seed is not None or run_id is not None or limit is not None:
            raise ConfigError("run --seeds: not with --resume, --seed, --run-id or --limit (each seed is a full run)")
        from allinone_bench.cli.study_cmds import execute
        from allinone_bench.study.spec import parse_seeds, validate

        spec = validate({"task": task, "seeds": parse_seeds(seeds), "set": parse_set_args(set_),
                         "output_dir": output_dir, "data_root": data_root, "checkpoint": checkpoint,
                         "variant": variant, "zero_shot": zero_shot}, "run --seeds")
        execute(spec, summary_dir=output_dir / spec.task)
        return
    opts = RunOptions(
        task=task or "", data_root=data_root, checkpoint=checkpoint, variant=variant, zero_shot=zero_shot,
        output_dir=output_dir, seed=seed, overrides=parse_set_args(set_), resume=resume, run_id=run_id,
        device=device, console=err_console, limit=limit, limit_seed=limit_seed, callbacks=build_loggers(log or ()),
    )
    try:
        with configured(quiet=quiet, interval_s=DEFAULT_INTERVAL_S if log_interval is None else log_interval):
            result = run_task(opts)
    finally:
        destroy_distributed()
    if is_main_process() and result.results is not None:
        if as_json:  # exactly the file's content, so scripts read the same object either way
            typer.echo(result.results_path.read_text(encoding="utf-8"), nl=False)
        else:
            print_results(result.results, result.results_path)


def print_results(results: object, path: Path) -> None:
    """The metrics table (values with units, counts as integers), the protocol line and the results path."""
    from allinone_bench.engine.limit import describe_limit
    from allinone_bench.report.display import format_metric, metric_unit, paper_model_name, reduced_architecture
    from allinone_bench.report.results import Results

    assert isinstance(results, Results)
    model = paper_model_name(results.model.variant, results.model.checkpoint)
    reduced = reduced_architecture(results.model.config)
    n = results.n_samples
    title = f"{results.task} (v{results.task_version}) - {model}" + (f" ({reduced})" if reduced else "")
    if n.limit is not None:
        title += f" - LIMITED to {describe_limit(n.limit, n.limit_seed)}"
    table = Table(show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("unit")
    for name, value in results.metrics.items():
        table.add_row(name, format_metric(name, value), metric_unit(name))
    console.print(Text(title, style="bold"), soft_wrap=True)  # whole in logs, not wrapped to the table's width
    console.print(table)
    p = results.protocol
    limited = f" (--limit {n.limit}: not comparable to full runs)" if n.limit is not None else ""
    console.print(
        f"protocol: {p.frames} frames ({p.sampling}), text {p.text_mode}, scoring {p.scoring}, rolling {p.rolling}, "
        f"patch permutation {p.patch_permutation}; data: {results.data.root}; "
        f"checkpoint: {results.model.checkpoint or 'none (random init)'}; "
        f"samples {n.evaluated}/{n.total}{limited}",
        highlight=False, soft_wrap=True,
    )
    if results.selection_split.uses_test:
        console.print(f"[yellow]model selected on the test split (official protocol): "
                      f"{results.selection_split.note}[/]")
    console.print(f"results: {path}", highlight=False)


def tasks(
    kind: Annotated[str | None, typer.Option("--kind", help="Only tasks of this kind.")] = None,
    check: Annotated[bool, typer.Option("--check", help="Validate each task fully (imports the kinds).")] = False,
) -> None:
    """List the registered tasks with their kind, dataset adapter and metrics."""
    from allinone_bench.tasks.registry import describe_tasks

    table = Table(show_header=True, header_style="bold")
    table.add_column("task", no_wrap=True)  # what users copy: never truncated
    table.add_column("kind", overflow="fold")
    table.add_column("dataset", overflow="fold")
    table.add_column("metrics", overflow="fold")
    table.add_column("ver", justify="right")
    for info in describe_tasks(check=check):
        if kind is not None and info.kind != kind:
            continue
        if info.error:
            table.add_row(info.name, "[red]invalid[/]", "", f"[red]{info.error}[/]", "")
        else:
            table.add_row(info.name, info.kind, info.dataset, " ".join(info.metrics), str(info.version))
    console.print(table)
