"""CLI commands over finished runs: ``table`` (paper tables + our rows), ``plot flops-accuracy``, ``results``.

Thin on purpose: parse options, call :mod:`allinone_bench.report`, print. Tables go to stdout as plain text
(pipe-able Markdown, LaTeX or CSV); listings use rich.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from allinone_bench.errors import ConfigError
from allinone_bench.report.display import metric_with_unit

if TYPE_CHECKING:  # the report modules (pandas, pydantic) load inside the commands: `tasks` stays fast
    from allinone_bench.report.store import RunGroup, RunRecord

DEFAULT_RUNS_DIR = Path("runs")

console = Console()
err_console = Console(stderr=True)


INCLUDE_LIMITED_HELP = "Also use runs made with --limit (smoke runs on a subset; left out by default)."


def _runs(runs_dir: Path | None, task: str | None = None, include_limited: bool = False) -> list[RunRecord]:
    """Runs under ``runs_dir``; without the option, ``./runs`` if it exists, else none. ``--limit`` runs are
    left out (and counted on stderr) unless ``include_limited``."""
    from allinone_bench.report.store import load_runs

    if runs_dir is None:
        if not DEFAULT_RUNS_DIR.is_dir():
            return []
        runs_dir = DEFAULT_RUNS_DIR
    records = load_runs(runs_dir, task=task)
    limited = [r for r in records if r.limited]
    if limited and not include_limited:
        err_console.print(f"left out {len(limited)} run(s) made with --limit (smoke runs on a subset): "
                          f"{', '.join(r.run_id for r in limited)}; --include-limited shows them",
                          highlight=False, soft_wrap=True)
        records = [r for r in records if not r.limited]
    return records


def table(
    table_id: Optional[str] = typer.Argument(None, metavar="ID", help="Paper table id, e.g. 5a (omit to list)."),
    runs: Optional[Path] = typer.Option(None, "--runs", help="Directory of runs (OUTPUT/TASK/RUN_ID/results.json); "
                                                             "default ./runs if present."),
    fmt: str = typer.Option("md", "--format", "-f", help="Output format: md | latex | csv."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
    notes: bool = typer.Option(True, "--notes/--no-notes", help="Append the table's notes (md, latex)."),
    include_limited: bool = typer.Option(False, "--include-limited", help=INCLUDE_LIMITED_HELP),
) -> None:
    """Print a table of the paper with the rows of our runs appended (marked 'Ours:')."""
    from allinone_bench.report.leaderboard import all_leaderboards, get_leaderboard
    from allinone_bench.report.tables import FORMATS, build_table, render

    if table_id is None:
        listing = Table(title="Paper tables (allinone-bench table ID)")
        for col in ("ID", "Source", "Title", "Our tasks"):
            listing.add_column(col)
        for tid, board in all_leaderboards().items():
            listing.add_row(tid, board.source, escape(board.title), escape(", ".join(board.tasks) or "-"))
        console.print(listing)
        return
    board = get_leaderboard(table_id)
    if fmt.lower() not in FORMATS:
        raise ConfigError(f"unknown --format {fmt!r}; expected one of {', '.join(FORMATS)}")
    view = build_table(board, _runs(runs, include_limited=include_limited))
    text = render(view, fmt, notes=notes)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        err_console.print(f"wrote {output} ({len(view.rows)} rows, {len(view.ours_rows)} ours)")
    else:
        typer.echo(text, nl=False)


def flops_accuracy(
    task: str = typer.Option(..., "--task", help="Task whose published table prints FLOPs (msrvtt_retrieval)."),
    runs: Optional[Path] = typer.Option(None, "--runs", help="Directory of runs; default ./runs if present."),
    output: Path = typer.Option(..., "--output", "-o", help="PNG file to write."),
    include_limited: bool = typer.Option(False, "--include-limited", help=INCLUDE_LIMITED_HELP),
) -> None:
    """Fig. 1c: FLOPs per video-text pair (log x) against R@1, published methods and our runs."""
    from allinone_bench.report.plot import plot_flops_accuracy

    result = plot_flops_accuracy(task, _runs(runs, task=task, include_limited=include_limited), output)
    console.print(f"wrote {result.path}: {len(result.published)} published points ({result.board.source}), "
                  f"{len(result.ours)} of ours", highlight=False, soft_wrap=True)
    for reason in result.skipped:
        err_console.print(f"[yellow]not plotted:[/] {reason}", highlight=False, soft_wrap=True)


def results(
    runs: Path = typer.Option(DEFAULT_RUNS_DIR, "--runs", help="Directory of runs."),
    task: Optional[str] = typer.Option(None, "--task", help="Only runs of this task."),
    grouped: bool = typer.Option(False, "--grouped", help="Pool runs that differ only by seed (mean ± std)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table | json | csv (json/csv: one row per run or "
                                                           "group on stdout, for scripts)."),
) -> None:
    """List finished runs: task, metrics, model, seed, date."""
    from allinone_bench.report.store import group_by_seed, load_runs

    if fmt not in ("table", "json", "csv"):
        raise ConfigError(f"unknown --format {fmt!r}; expected one of table, json, csv")
    records = load_runs(runs, task=task)
    if fmt != "table":
        rows = [_group_row(g) for g in group_by_seed(records)] if grouped else [_run_row(r) for r in records]
        typer.echo(json.dumps(rows, indent=2) if fmt == "json" else _csv(rows), nl=fmt == "json")
        return
    if not records:
        console.print(f"no results.json under {escape(str(runs))}")
        return
    listing = Table(title=f"Runs under {runs}")
    for col in ("Run", "Task", "Metrics", "Model", "Seed", "Date"):
        listing.add_column(col, overflow="fold")
    if grouped:
        for group in group_by_seed(records):
            names = sorted({m for r in group.runs for m in r.metrics})
            stats = {m: group.stat(m) for m in names}
            metrics = "  ".join(f"{m}={metric_with_unit(m, s.mean, s.std)}" for m, s in stats.items() if s is not None)
            run = group.first
            listing.add_row(escape(", ".join(group.run_ids)), escape(run.task), escape(metrics), _model_text(run),
                            ",".join(str(s) for s in group.seeds), _date_text(run))
    else:
        for run in records:
            metrics = "  ".join(f"{m}={metric_with_unit(m, v)}" for m, v in run.metrics.items())
            listing.add_row(escape(run.run_id), escape(run.task), escape(metrics), _model_text(run),
                            str(run.seed), _date_text(run))
    console.print(listing)


def _run_row(run: RunRecord) -> dict[str, Any]:
    """One run for ``results --format json|csv``."""
    return {"run_id": run.run_id, "task": run.task, "task_version": run.results.task_version, "path": str(run.path),
            "metrics": dict(run.metrics), "variant": run.model.variant, "checkpoint": run.model.checkpoint,
            "params": run.model.params, "seed": run.seed, "zero_shot": run.zero_shot, "synthetic": run.synthetic,
            "date": run.date.isoformat() if run.date else None}


def _group_row(group: RunGroup) -> dict[str, Any]:
    """One seed group: mean, std and count of every metric."""
    names = sorted({m for r in group.runs for m in r.metrics})
    stats = {m: group.stat(m) for m in names}
    return {**{k: v for k, v in _run_row(group.first).items() if k not in ("run_id", "path", "metrics", "seed",
                                                                             "date")},
            "run_ids": list(group.run_ids), "seeds": list(group.seeds),
            "metrics": {m: {"mean": s.mean, "std": s.std, "n": s.n} for m, s in stats.items() if s is not None}}


def _csv(rows: list[dict[str, Any]]) -> str:
    """Flat CSV (nested keys dotted: ``metrics.t2v_R@1``, ``metrics.acc.mean``; lists joined by ``;``)."""
    from allinone_bench.report.store import flatten

    flat = [{k: ";".join(map(str, v)) if isinstance(v, list) else v for k, v in flatten(row).items()}
            for row in rows]
    columns = list(dict.fromkeys(key for row in flat for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    return buffer.getvalue()


def _model_text(run: RunRecord) -> str:
    from allinone_bench.report.tables import checkpoint_label

    params = f", {run.model.params / 1e6:.1f}M" if run.model.params else ""
    flags = "".join(f", {flag}" for flag, on in (("zero-shot", run.zero_shot), ("synthetic data", run.synthetic),
                                                 (f"--limit {run.n_samples.limit}", run.limited)) if on)
    return escape(f"{run.model.label} [{checkpoint_label(run.model.checkpoint)}]{params}{flags}")


def _date_text(run: RunRecord) -> str:
    return run.date.strftime("%Y-%m-%d %H:%M")


def register(app: typer.Typer) -> None:
    """Add ``table``, ``plot`` (sub-app with ``flops-accuracy``) and ``results`` to ``app``."""
    app.command("table")(table)
    plot_app = typer.Typer(help="Figures from the paper with our runs.", no_args_is_help=True)
    plot_app.command("flops-accuracy")(flops_accuracy)
    app.add_typer(plot_app, name="plot")
    app.command("results")(results)
