"""``allinone-bench bench [model|data|retrieval|rolling|official|all]``: cost figures, printed and written as CSV.

Small repeats by default so ``bench all`` finishes on a CPU in minutes; ``--repeats``/``--warmup`` for steadier
figures. The CSV name states device, dtype and torch version.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # allinone_bench.bench imports torch: loaded inside the command only
    from allinone_bench.bench.core import Row

console = Console()


class Suite(str, Enum):
    model = "model"
    official = "official"
    data = "data"
    retrieval = "retrieval"
    rolling = "rolling"
    all = "all"


def _suites(variants: list[str], warmup: int, repeats: int, precision: str, num_videos: int,
            ks: list[int], device: object) -> dict[str, Callable[[], list[Row]]]:
    from allinone_bench.bench.data import data_rows, frame_cache_rows
    from allinone_bench.bench.model import model_rows, official_comparison_rows
    from allinone_bench.bench.retrieval import retrieval_rows
    from allinone_bench.bench.rolling import rolling_rows

    common = {"warmup": warmup, "repeats": repeats}
    return {
        "model": lambda: model_rows(variants=tuple(variants), precision=precision, device=device, **common),
        "official": lambda: official_comparison_rows(device=device, **common),
        "data": lambda: [*data_rows(**common), *frame_cache_rows(repeats=repeats)],
        "retrieval": lambda: retrieval_rows(num_videos=num_videos, ks=tuple(ks), precision=precision, device=device),
        "rolling": lambda: rolling_rows(precision=precision, device=device, **common),
    }


def _print(suite: str, rows: list[Row]) -> None:
    settings = list(dict.fromkeys(r.setting for r in rows))
    shared = len(settings) == 1
    table = Table(title=f"bench {suite}" + (f": {settings[0]}" if shared else ""), title_justify="left",
                  header_style="bold")
    figures = list(dict.fromkeys(k for r in rows for k in r.figures))
    for col in ("name", *(() if shared else ("setting",)), "seconds (median)", "peak MiB", *figures):
        table.add_column(col, justify="left" if col in ("name", "setting") else "right")
    for r in rows:
        table.add_row(r.name, *(() if shared else (r.setting,)), "-" if r.seconds is None else f"{r.seconds:.4f}",
                      "-" if r.peak_mib is None else f"{r.peak_mib:.0f}",
                      *(str(r.figures.get(k, "")) for k in figures))
    console.print(table)


def _bench_cmd(
    suite: Suite = typer.Argument(Suite.all, help="model, official, data, retrieval, rolling or all."),
    variants: str = typer.Option("ti,s,b", "--variants", help="Variants of the model suite."),
    warmup: int = typer.Option(1, "--warmup", min=0, help="Untimed calls before timing."),
    repeats: int = typer.Option(3, "--repeats", min=1, help="Timed calls; the median is reported."),
    precision: str = typer.Option("auto", "--precision", help="auto, bf16, fp16 (CUDA) or fp32."),
    num_videos: int = typer.Option(24, "--num-videos", min=2, help="N of the N x N retrieval set."),
    rerank_k: str = typer.Option("4", "--rerank-k", help="Comma-separated rerank depths."),
    device: str = typer.Option(None, "--device", help="cpu, cuda, cuda:1 (default: CUDA if present)."),
    output_dir: Path = typer.Option(Path("bench"), "--output-dir", "-o", help="Folder for the CSV files."),
) -> None:
    """Measure cost: warm-up excluded, median of repeats, peak memory; one CSV per suite."""
    import torch

    from allinone_bench.bench.core import csv_name, device_name, write_csv
    from allinone_bench.engine.dist import select_device
    from allinone_bench.engine.precision import resolve_precision
    from allinone_bench.errors import ConfigError

    if precision not in ("auto", "bf16", "fp16", "fp32"):
        raise ConfigError(f"--precision {precision!r}: expected auto, bf16, fp16 or fp32")
    dev: torch.device = select_device(device)
    chosen = resolve_precision(precision, dev)  # type: ignore[arg-type]
    console.print(f"device: {device_name(dev)}; precision {precision} -> {chosen.name} ({chosen.reason}); "
                  f"torch {torch.__version__}; warm-up {warmup}, median of {repeats}")
    try:
        ks = [int(k) for k in rerank_k.split(",") if k.strip()]
    except ValueError as err:
        raise ConfigError(f"--rerank-k {rerank_k!r}: expected comma-separated integers") from err
    runs = _suites([v.strip() for v in variants.split(",") if v.strip()], warmup, repeats, precision, num_videos,
                   ks, dev)
    names = list(runs) if suite is Suite.all else [suite.value]
    for name in names:
        rows = runs[name]()
        _print(name, rows)
        dtype = "fp32" if name in ("data",) else chosen.name
        path = write_csv(rows, output_dir / csv_name(name, dev, dtype))
        console.print(f"[dim]wrote {path}[/]")


def register(app: typer.Typer) -> None:
    """Add ``bench`` to the allinone-bench app."""
    app.command("bench")(_bench_cmd)
