"""The paper's Fig. 1c: FLOPs per video-text pair against retrieval R@1, published methods beside our runs.

Published points come from the table that prints FLOPs for the task (Table 5a for msrvtt_retrieval); their
'FLOPs' are MACs in fvcore's convention. Our points take GMACs from each run's results.json ``flops`` block
(converted from whatever unit the counter wrote) at the run's own input shape, so the axis is one unit.
Drawn with matplotlib's Agg canvas directly (no pyplot state), written as PNG.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Literal

from allinone_bench.errors import ConfigError
from allinone_bench.report.leaderboard import Column, Leaderboard, all_leaderboards, to_paper_units
from allinone_bench.report.store import RunRecord, group_by_seed
from allinone_bench.report.tables import OURS_PREFIX, checkpoint_label

X_LABEL = ("FLOPs per video-text pair (G, log scale)\n"
           "MACs counted as 'FLOPs' (fvcore convention, as the paper); ours: MACs at the run's input shape")


@dataclass(frozen=True)
class PlotPoint:
    """One labelled point: GMACs per pair (x) and the accuracy metric (y, the paper's unit)."""

    label: str
    gmacs: float
    score: float
    kind: Literal["published", "ours"]
    column: str  # header of the table column the score comes from, e.g. "9K Train R@1"
    std: float | None = None
    source: str = ""


@dataclass
class FlopsAccuracyPlot:
    """What :func:`plot_flops_accuracy` drew: the file, the board, every point and what it left out (why)."""

    path: Path
    board: Leaderboard
    points: list[PlotPoint]
    skipped: list[str] = field(default_factory=list)

    @property
    def published(self) -> list[PlotPoint]:
        return [p for p in self.points if p.kind == "published"]

    @property
    def ours(self) -> list[PlotPoint]:
        return [p for p in self.points if p.kind == "ours"]


def _flops_board(task: str, directory: str | Path | None = None) -> Leaderboard:
    boards = all_leaderboards(directory).values()
    with_flops = [b for b in boards if any(c.role == "flops" for c in b.columns)]
    for board in with_flops:
        if task in board.tasks:
            return board
    offered = ", ".join(f"{t} (Table {b.table})" for b in with_flops for t in b.tasks) or "none"
    raise ConfigError(f"no published table prints FLOPs for task {task!r}; tasks with FLOPs: {offered}")


def _short_name(method: str) -> str:
    return re.sub(r"\s*\[\d+\]", "", method).strip()


def published_points(board: Leaderboard) -> tuple[list[PlotPoint], list[str]]:
    """Rows with FLOPs and an accuracy value: the first accuracy column, else the next (label says which)."""
    flops_col = next(c for c in board.columns if c.role == "flops")
    acc_cols = [c for c in board.columns if c.role == "accuracy"]
    method_key = board.method_column.key
    names = [_short_name(str(r.value(method_key))) for r in board.rows]
    points, skipped = [], []
    for name, row in zip(names, board.rows):
        gmacs = row.value(flops_col.key)
        col: Column | None = next((c for c in acc_cols if isinstance(row.value(c.key), (int, float))), None)
        if not isinstance(gmacs, (int, float)) or col is None:
            skipped.append(f"{name}: no FLOPs or no {'/'.join(c.header for c in acc_cols)} in {board.source}")
            continue
        label = name
        if names.count(name) > 1:  # e.g. two All-in-one-B+ rows differing by pre-training data
            extra = next((str(row.value(c.key)) for c in board.columns
                          if c.key in ("pt_data", "data") and row.value(c.key)), None)
            label = f"{name} ({extra})" if extra else name
        if col is not acc_cols[0]:
            label = f"{label} [{col.group or col.header}]"
        points.append(PlotPoint(label, float(gmacs), float(row.value(col.key)), "published", col.header,
                                source=board.source))
    return points, skipped


def our_points(board: Leaderboard, task: str, runs: Iterable[RunRecord]) -> tuple[list[PlotPoint], list[str]]:
    """One point per seed group of ``task`` (mean, with std as an error bar) that has a FLOPs block."""
    acc_keys = {c.key for c in board.columns if c.role == "accuracy"}
    points, skipped = [], []
    for group in group_by_seed(r for r in runs if r.task == task):
        run = group.first
        ident = f"{task}/{', '.join(group.run_ids)}"
        mapping = board.mapping_for(run)
        key = next((k for k in (mapping.metrics if mapping else {}) if k in acc_keys), None)
        if mapping is None or key is None:
            skipped.append(f"{ident}: {board.source} has no accuracy column for this run's protocol")
            continue
        metric = mapping.metrics[key]
        stat = group.stat(metric)
        if stat is None:
            skipped.append(f"{ident}: results.json has no value for metric {metric!r}")
            continue
        flops = group.stat_of("flops.gmacs")
        if flops is None:
            if run.flops is None or run.flops.value is None:
                why = "no FLOPs count in results.json"
            else:
                why = f"FLOPs unit {run.flops.unit!r} not understood"
            skipped.append(f"{ident}: {why}")
            continue
        label = f"{OURS_PREFIX} {run.model.label} [{checkpoint_label(run.model.checkpoint)}], T={run.frames}"
        label += "".join(f", {flag}" for flag, on in (("zero-shot", run.zero_shot), ("synthetic data", run.synthetic),
                                                      (f"--limit {run.n_samples.limit}", run.limited)) if on)
        if run.flops is not None and run.flops.mode not in (None, "joint"):
            label += f", FLOPs of the {run.flops.mode} pass"
        if len(group.runs) > 1:
            label += f", {len(group.runs)} seeds"
        std = None if stat.std is None else to_paper_units(metric, stat.std)
        points.append(PlotPoint(label, flops.mean, to_paper_units(metric, stat.mean), "ours",
                                board.column(key).header, std, ident))
    return points, skipped


def plot_flops_accuracy(task: str, runs: Iterable[RunRecord], out: str | Path,
                        leaderboards: str | Path | None = None, dpi: int = 150) -> FlopsAccuracyPlot:
    """Draw Fig. 1c for ``task`` into ``out`` (PNG) and return the plotted points."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    board = _flops_board(task, leaderboards)
    runs = list(runs)
    published, skipped = published_points(board)
    ours, skipped_ours = our_points(board, task, runs)
    points = published + ours

    fig = Figure(figsize=(8.5, 6.0), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    primary = next(c for c in board.columns if c.role == "accuracy")
    for kind, style in (("published", dict(marker="o", color="tab:blue", s=42, zorder=3)),
                        ("ours", dict(marker="*", color="tab:red", s=140, zorder=4))):
        pts = [p for p in points if p.kind == kind]
        if not pts:
            continue
        filled = [p for p in pts if p.column == primary.header]
        hollow = [p for p in pts if p.column != primary.header]
        name = f"published ({board.source})" if kind == "published" else "ours (results.json)"
        if filled:
            ax.scatter([p.gmacs for p in filled], [p.score for p in filled], label=name, **style)
        if hollow:
            ax.scatter([p.gmacs for p in hollow], [p.score for p in hollow], facecolors="none",
                       edgecolors=style["color"], marker=style["marker"], s=style["s"], zorder=style["zorder"],
                       label=f"{name}, {hollow[0].column}")
        for p in pts:
            if p.std is not None:
                ax.errorbar(p.gmacs, p.score, yerr=p.std, color=style["color"], capsize=3, zorder=2)
    for i, p in enumerate(points):
        ax.annotate(p.label, (p.gmacs, p.score), textcoords="offset points", xytext=(6, 4 + 7 * (i % 2)),
                    fontsize=7, color="tab:red" if p.kind == "ours" else "black")
    ax.set_xscale("log")
    ax.set_xlabel(X_LABEL, fontsize=8)
    ylabel = f"{primary.label} ({primary.unit})" + (f", {primary.group}" if primary.group else "")
    ax.set_ylabel(ylabel)
    ax.set_title(f"Fig. 1c: FLOPs vs {primary.label}, {task} (published rows: {board.source})", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.margins(x=0.12, y=0.08)  # room for the labels of the outermost points
    if points:
        fig.legend(fontsize=8, loc="outside lower center", ncols=3)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi, format="png")
    return FlopsAccuracyPlot(out, board, points, skipped + skipped_ours)
