"""``allinone-bench data check TASK --data-root DIR`` and ``allinone-bench synth TASK --out DIR``.

TASK is a registered task name (its YAML's ``dataset.adapter``/``dataset.options`` and the splits it uses are
taken from there) or, when no task has that name, a dataset adapter name (all of its splits are checked).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from allinone_bench.errors import ConfigError

console = Console()
_MAX_ISSUES = 40


@dataclass
class DatasetTarget:
    """What TASK resolved to: an adapter, its options and the splits to use (``None``: all)."""

    adapter: str
    options: dict[str, Any] = field(default_factory=dict)
    splits: list[str] | None = None
    task: str | None = None
    num_videos: int = 24
    seed: int = 0


def _task_dataset(name: str) -> tuple[dict[str, Any], Any] | None:
    """The ``dataset:`` block (after ``include:``) and ``synthetic:`` block of task ``name``, or ``None`` when no
    task has that name. Read raw, not validated: checking data must not depend on the task kind being
    installed, and the adapter validates its own options."""
    try:
        from allinone_bench.tasks.includes import read_yaml_with_includes
        from allinone_bench.tasks.registry import task_files
    except ImportError:  # no task registry: adapter names only
        return None
    try:
        path = task_files().get(name)
    except ConfigError:  # no tasks/ directory (e.g. a wheel install without it): adapter names only
        return None
    if path is None:
        return None
    raw = read_yaml_with_includes(path)
    dataset = raw.get("dataset")
    if not isinstance(dataset, dict) or not isinstance(dataset.get("adapter"), str):
        raise ConfigError(f"{path}: dataset.adapter: expected the name of a dataset adapter")
    return dataset, raw.get("synthetic") or {}


def resolve_target(name: str, option_overrides: dict[str, Any] | None = None) -> DatasetTarget:
    """A task name -> its adapter, options and the splits its roles use; otherwise an adapter name (all
    splits, default options); otherwise a ConfigError listing the adapters."""
    from allinone_bench.data.datasets import get_adapter, list_adapters

    found = _task_dataset(name)
    if found is not None:
        dataset, synthetic = found
        roles = dataset.get("splits") or {"train": "train", "val": "val", "test": "test"}
        splits = list(dict.fromkeys(str(roles[r]) for r in ("train", "val", "test") if roles.get(r)))
        target = DatasetTarget(dataset["adapter"], dict(dataset.get("options") or {}), splits or None, name,
                               int(synthetic.get("num_videos", 24)), int(synthetic.get("seed", 0)))
    elif name in list_adapters():
        target = DatasetTarget(name)
    else:
        raise ConfigError(f"{name!r} is neither a task (tasks/*.yaml) nor a dataset adapter "
                          f"(adapters: {', '.join(list_adapters())})")
    get_adapter(target.adapter)  # fails early, listing the known names
    target.options.update(option_overrides or {})
    return target


def _parse_options(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option {item!r}: expected key=value, e.g. val_file=test")
        out[key.strip()] = value.strip()
    return out


def _report_table(report: Any) -> Table:
    table = Table(title=f"{report.adapter} @ {report.data_root}  (decode: {report.decode})")
    for column in ("split", "samples", "videos", "decoded", "missing", "undecodable", "misread", "status"):
        table.add_column(column, justify="left" if column in ("split", "status") else "right")
    for s in report.splits:
        status = "[green]ok[/]" if s.ok else ("[red]annotation error[/]" if s.annotation_error else "[red]problems[/]")
        table.add_row(s.split, str(s.samples), str(s.videos), str(s.decoded), str(len(s.missing)),
                      str(len(s.undecodable)), str(len(s.misread)), status)
    return table


def _cache_cmd(
    task: str = typer.Argument(..., help="Task name (tasks/<name>.yaml)."),
    data_root: Path = typer.Option(None, "--data-root", help="Dataset folder (default: the synthetic set)."),
    cache_dir: Path = typer.Option(None, "--cache-dir", help="Frame cache folder (default: "
                                   "$ALLINONE_BENCH_FRAME_CACHE, else <cache>/frames)."),
    workers: int = typer.Option(0, "--workers", "-j", min=0, help="Decoding processes (0 = CPU count)."),
    max_gb: float = typer.Option(None, "--max-gb", help="Size limit (default $ALLINONE_BENCH_FRAME_CACHE_GB or 20)."),
) -> None:
    """Decode TASK's evaluation videos once into the frame cache (memory-mapped uint8 frames)."""
    import os

    from rich.progress import Progress

    from allinone_bench.data.cache_fill import fill_cache
    from allinone_bench.data.frame_cache import DEFAULT_GB, ENV_DIR, ENV_GB, FrameCache
    from allinone_bench.paths import cache_dir as default_cache

    folder = cache_dir or Path(os.environ.get(ENV_DIR) or default_cache() / "frames")
    limit = max_gb if max_gb is not None else float(os.environ.get(ENV_GB, DEFAULT_GB))
    cache = FrameCache(folder, int(limit * 2**30))
    with Progress(console=console, transient=True) as bar:
        job = bar.add_task(f"caching {task}", total=None)
        report = fill_cache(task, data_root, cache, workers=workers or (os.cpu_count() or 1),
                            progress=lambda done, total: bar.update(job, completed=done, total=total))
    console.print(f"{task}: {report.videos} videos; {report.cached} cached now, {report.present} already cached, "
                  f"{len(report.failed)} failed; cache {folder} holds {cache.size_bytes() / 2**20:.1f} MiB "
                  f"(limit {limit:g} GB)")
    for path, reason in list(report.failed.items())[:_MAX_ISSUES]:
        console.print(Text.assemble(("  - ", "red"), f"{path}: {reason}"))
    console.print(f"[dim]use it: export {ENV_DIR}={folder}[/]")
    if report.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    data_app = typer.Typer(help="Inspect datasets on disk.", no_args_is_help=True)

    @data_app.command("check")
    def check(
        task: str = typer.Argument(..., help="Task name (tasks/<name>.yaml) or dataset adapter name."),
        data_root: Path = typer.Option(..., "--data-root", help="Folder holding one sub-folder per dataset."),
        all_videos: bool = typer.Option(False, "--all", help="Decode every video (default: a sample per split)."),
        no_decode: bool = typer.Option(False, "--no-decode", help="Only parse annotations and look for files."),
        sample_size: int = typer.Option(20, "--sample", min=1, help="Videos decoded per split without --all."),
        split: list[str] = typer.Option(None, "--split", help="Check only this split (repeatable)."),
        option: list[str] = typer.Option(None, "--option", "-o", help="Dataset option key=value (repeatable)."),
        backend: str = typer.Option("auto", "--backend", help="Video backend, as protocol.video.backend: auto, "
                                    "decord, pyav, torchcodec, torchcodec_approx. Where decord decodes, its frames "
                                    "are also compared with PyAV's (misread videos)."),
    ) -> None:
        """Parse every split of TASK's dataset and decode its videos; exit 1 listing every problem."""
        from allinone_bench.data.check import check_dataset

        target = resolve_target(task, _parse_options(option))
        decode = "none" if no_decode else ("all" if all_videos else "sample")
        from allinone_bench.data.video import AUTO, BACKENDS

        if backend != AUTO and backend not in BACKENDS:
            raise ConfigError(f"--backend {backend!r}: expected {AUTO} or one of {', '.join(sorted(BACKENDS))}")
        report = check_dataset(target.adapter, data_root, target.options, split or target.splits, decode,
                               sample_size, progress=True, backend=backend)
        console.print(_report_table(report))
        if report.options:  # resolved: says which files were read (e.g. annotation=official)
            read = ", ".join(f"{k}={v}" for k, v in report.options.items())
            console.print(f"options: {read}", highlight=False, markup=False)
        issues = report.issues()
        for line in issues[:_MAX_ISSUES]:
            console.print(Text.assemble(("  - ", "red"), line))
        if len(issues) > _MAX_ISSUES:
            console.print(f"  ... and {len(issues) - _MAX_ISSUES} more")
        if any(s.annotation_error or s.missing for s in report.splits):
            console.print(f"[bold]Expected layout[/] ({report.adapter}):", highlight=False)
            console.print(report.layout, highlight=False, markup=False)
        console.print(report.summary(), style="green" if report.ok else "bold red", highlight=False)
        if not report.ok:
            raise typer.Exit(1)

    data_app.command("cache")(_cache_cmd)
    app.add_typer(data_app, name="data")

    @app.command("synth")
    def synth(
        task: str = typer.Argument(..., help="Task name or dataset adapter name."),
        out: Path = typer.Option(..., "--out", help="Data root to write (creates <out>/<dataset>/...)."),
        num_videos: int = typer.Option(None, "--num-videos", min=1, help="Videos to write (default: the task's)."),
        seed: int = typer.Option(None, "--seed", help="Content seed (default: the task's)."),
    ) -> None:
        """Write TASK's synthetic dataset, in the dataset's official layout, under --out."""
        from allinone_bench.data.datasets import get_adapter
        from allinone_bench.data.synthetic import synthesize

        target = resolve_target(task)
        count = num_videos if num_videos is not None else target.num_videos
        folder = synthesize(target.adapter, out, num_videos=count, seed=target.seed if seed is None else seed)
        adapter = get_adapter(target.adapter)(out, **target.options)
        table = Table(title=f"synthetic {target.adapter}")
        table.add_column("split")
        table.add_column("samples", justify="right")
        for name in target.splits or adapter.splits:
            table.add_row(name, str(len(adapter.load(name).samples)))
        console.print(table)
        console.print(f"wrote {folder}  (use --data-root {out})", highlight=False)
