"""The paper's cost and scaling figures: Fig. 3 (rolling vs flatten cost) and Fig. 6 (model size vs accuracy).

* :func:`rolling_cost` counts the attention MACs of one joint pass (``torch.utils.flop_counter`` through
  :mod:`allinone_bench.profile.flops`) and times the pass on this machine, for each number of frames ``T``
  and each ``rolling`` mode; :func:`plot_rolling_cost` draws both against ``T``. Rolling keeps attention per
  frame (linear in ``T``); flatten attends over all frames' tokens at once (quadratic in ``T``).
* :func:`plot_size_performance` draws parameters against each task's main metric for our runs (per variant,
  mean ± std over seeds) beside the paper's All-in-one-Ti/S/B points where a leaderboard prints them.

Drawn with matplotlib's Agg canvas (no pyplot state), written as PNG.
"""

from __future__ import annotations

import platform
import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import torch

from allinone_bench.errors import ConfigError
from allinone_bench.report.leaderboard import all_leaderboards, to_paper_units
from allinone_bench.report.store import RunRecord, group_by_seed

__all__ = ["CostPoint", "plot_rolling_cost", "plot_size_performance", "rolling_cost"]

PAPER_PARAMS_M = {"ti": 12.0, "s": 33.0, "b": 110.0}
"""Parameters (millions) the paper gives for All-in-one-Ti/S/B (Table 1)."""


@dataclass(frozen=True)
class CostPoint:
    mode: str
    frames: int
    attention_gmacs: float
    total_gmacs: float
    seconds: float | None  # median wall time of one joint forward pass on this machine, None if not timed


def rolling_cost(variant: str = "b", frames: Iterable[int] = (1, 2, 3, 4, 6, 8), modes: Iterable[str] = ("roll",
                 "flatten"), *, text_len: int = 40, repeats: int = 3, time_it: bool = True,
                 **overrides: Any) -> list[CostPoint]:
    """Attention MACs and wall time of one joint pass per (mode, T). ``overrides`` go to the model config
    (e.g. ``depth=1, image_size=32, patch_size=8`` for a quick look)."""
    from allinone_bench.model import build_model
    from allinone_bench.profile.flops import profile_config

    points = []
    for mode in modes:
        for t in frames:
            model = build_model(variant, num_frames=t, max_text_len=text_len, rolling=mode, **overrides).eval()
            report = profile_config(model.config, text_len=text_len)
            seconds = _time_pass(model, t, text_len, repeats) if time_it else None
            points.append(CostPoint(mode, t, report.attention_macs / 1e9, report.gmacs, seconds))
    return points


def _time_pass(model: torch.nn.Module, frames: int, text_len: int, repeats: int) -> float:
    size = model.config.image_size
    video = torch.randn(1, frames, 3, size, size)
    ids = torch.randint(1000, 2000, (1, text_len))
    mask = torch.ones(1, text_len, dtype=torch.long)
    times = []
    with torch.no_grad():
        model(video, ids, mask)  # warm-up
        for _ in range(max(1, repeats)):
            start = time.perf_counter()
            model(video, ids, mask)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def _figure(width: float, height: float):  # noqa: ANN202 - matplotlib objects
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=120)
    FigureCanvasAgg(fig)
    return fig


def machine_label() -> str:
    """E.g. ``CPU x86_64, 2 threads, torch 2.x`` (what the timings were measured on)."""
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"


def plot_rolling_cost(points: list[CostPoint], out: str | Path, *, title: str = "") -> Path:
    """Two panels against T: attention GMACs, and forward time (when measured)."""
    timed = any(p.seconds is not None for p in points)
    fig = _figure(10 if timed else 5.5, 4)
    axes = fig.subplots(1, 2 if timed else 1, squeeze=False)[0]
    for mode in dict.fromkeys(p.mode for p in points):
        mine = sorted((p for p in points if p.mode == mode), key=lambda p: p.frames)
        axes[0].plot([p.frames for p in mine], [p.attention_gmacs for p in mine], marker="o", label=mode)
        if timed:
            axes[1].plot([p.frames for p in mine], [1000 * (p.seconds or 0) for p in mine], marker="o", label=mode)
    axes[0].set(xlabel="frames T", ylabel="attention GMACs per video-text pair", title="attention cost")
    if timed:
        axes[1].set(xlabel="frames T", ylabel="ms per joint forward (batch 1)", title=f"time ({machine_label()})")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title or "Temporal rolling vs flatten: cost against the number of frames (Fig. 3)")
    fig.tight_layout()
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def _variant_of(method: str) -> str | None:
    match = re.fullmatch(r"All-in-one-(Ti|S|B)", method.strip())
    return match.group(1).lower() if match else None


def _main_metric(task: str) -> str:
    from allinone_bench.tasks import load_task

    cfg = load_task(task)
    return cfg.selection.metric or cfg.metrics[0]


def _paper_points(task: str, metric: str) -> dict[str, float]:
    """variant -> the paper's value of the column our ``metric`` fills, from the task's leaderboards."""
    out: dict[str, float] = {}
    for board in (b for b in all_leaderboards().values() if task in b.tasks):
        mapping = next((m for m in board.mappings if m.task == task), None)
        column = next((k for k, name in (mapping.metrics.items() if mapping else ()) if name == metric), None)
        if column is None:
            continue
        for row in board.rows:
            variant, value = _variant_of(str(row.value("method"))), row.value(column)
            if variant and isinstance(value, (int, float)) and variant not in out:
                out[variant] = float(value)
    return out


def plot_size_performance(runs: Iterable[RunRecord], out: str | Path) -> tuple[Path, dict[str, Any]]:
    """One panel per task found in ``runs``: params (M) vs the task's main metric, ours and the paper's."""
    from matplotlib.ticker import NullFormatter

    by_task: dict[str, list[tuple[str, float, float, float | None]]] = {}
    for group in group_by_seed(runs):
        metric = _main_metric(group.task)
        stat, params = group.stat(metric), group.first.model.params
        if stat is None or not params:
            continue
        by_task.setdefault(group.task, []).append((group.first.model.label, params / 1e6,
                                                   to_paper_units(metric, stat.mean), stat.std))
    if not by_task:
        raise ConfigError("plot size-performance: no run with a model size and its task's main metric found")
    fig = _figure(4.5 * len(by_task), 4)
    axes = fig.subplots(1, len(by_task), squeeze=False)[0]
    drawn: dict[str, Any] = {}
    for ax, (task, ours) in zip(axes, sorted(by_task.items()), strict=True):
        metric = _main_metric(task)
        ours.sort(key=lambda p: p[1])
        ax.errorbar([p[1] for p in ours], [p[2] for p in ours], yerr=[p[3] or 0 for p in ours], marker="o",
                    capsize=3, label="ours")
        for label, x, y, _ in ours:
            ax.annotate(label.replace("All-in-one-", ""), (x, y), textcoords="offset points", xytext=(4, 4))
        paper = _paper_points(task, metric)
        if paper:
            keys = sorted(paper, key=PAPER_PARAMS_M.get)
            ax.plot([PAPER_PARAMS_M[k] for k in keys], [paper[k] for k in keys], marker="s", linestyle="--",
                    label="paper")
        ax.set(xscale="log", xlabel="parameters (M, log)", ylabel=metric, title=task)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(alpha=0.3)
        ax.legend()
        drawn[task] = {"ours": ours, "paper": paper}
    fig.suptitle("Model size vs performance (Fig. 6)")
    fig.tight_layout()
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path, drawn
