"""Pool a study's results.json files: one row per grid cell with mean ± sample std over its seeds.

Columns: the grid keys, ``seeds`` (how many finished), then for every metric the run reports (counts such as
``n`` left out) and every ``report`` column of the spec (a dotted results.json field such as
``timing.total_s``, or ``flops.attention_gmacs``, the attention products' GMACs from the counter's per-op
table) its mean and std. ``summary.csv`` keeps the numbers, ``summary.md`` shows ``mean ± std``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from allinone_bench.errors import BenchError
from allinone_bench.study.runner import plan_runs
from allinone_bench.study.spec import StudySpec

__all__ = ["summarize", "write_summary", "attention_gmacs"]


def attention_gmacs(results: dict[str, Any]) -> float | None:
    """GMACs of the attention products (Q K^T and A V) of the run's counted joint pass: from ``flops.per_op``
    when the run kept it, else recounted (meta device, well under a second) from ``model.config`` at the
    recorded text length."""
    flops = results.get("flops") or {}
    per_op = flops.get("per_op")
    if per_op:
        return (sum(v for op, v in per_op.items() if "attention" in op) + per_op.get("aten.bmm", 0)) / 1e9
    config = (results.get("model") or {}).get("config")
    if not isinstance(config, dict):
        return None
    from allinone_bench.model.config import AllInOneConfig
    from allinone_bench.profile.flops import profile_config

    text = ((flops.get("input_shape") or {}).get("text") or [None, None])[1]
    return profile_config(AllInOneConfig(**config), text_len=text).attention_macs / 1e9


def _lookup(results: dict[str, Any], dotted: str) -> Any:
    if dotted == "flops.attention_gmacs":
        return attention_gmacs(results)
    value: Any = results
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _is_count(name: str) -> bool:
    return name == "n" or name.startswith("n_")


def run_table(spec: StudySpec) -> pd.DataFrame:
    """One row per finished run of the plan: grid values, seed, metrics and report columns."""
    rows = []
    for run in plan_runs(spec):
        path = run.results_path(spec)
        if not path.is_file():
            continue
        try:
            results = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise BenchError(f"{path}: unreadable results file ({err})") from None
        row: dict[str, Any] = {**{k: str(v) for k, v in run.cell}, "seed": run.seed, "run_id": run.run_id}
        row.update({k: float(v) for k, v in results.get("metrics", {}).items() if not _is_count(k)})
        row.update({col: _lookup(results, col) for col in spec.report})
        rows.append(row)
    return pd.DataFrame(rows)


def summarize(spec: StudySpec) -> tuple[pd.DataFrame, list[str]]:
    """(cells with ``<col>_mean`` / ``<col>_std`` / ``seeds``, value column names)."""
    runs = run_table(spec)
    keys = list(spec.grid)
    if runs.empty:
        return pd.DataFrame(columns=[*keys, "seeds"]), []
    values = [c for c in runs.columns if c not in (*keys, "seed", "run_id")]
    cells = []
    order = list(dict.fromkeys(tuple(str(v) for _, v in run.cell) for run in plan_runs(spec)))
    for cell in order:
        mine = runs
        for key, value in zip(keys, cell, strict=True):
            mine = mine[mine[key] == value]
        if mine.empty:
            continue
        out: dict[str, Any] = {**dict(zip(keys, cell, strict=True)), "seeds": len(mine)}
        for col in values:
            nums = pd.to_numeric(mine[col], errors="coerce").dropna()
            out[f"{col}_mean"] = float(nums.mean()) if len(nums) else math.nan
            out[f"{col}_std"] = float(nums.std(ddof=1)) if len(nums) > 1 else math.nan
        cells.append(out)
    return pd.DataFrame(cells), values


def _markdown(cells: pd.DataFrame, keys: list[str], values: list[str]) -> str:
    head = [*keys, "seeds", *values]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, row in cells.iterrows():
        stats = []
        for col in values:
            mean, std = row[f"{col}_mean"], row[f"{col}_std"]
            stats.append("n/a" if math.isnan(mean) else f"{mean:.4g}" if math.isnan(std) else f"{mean:.4g} ± {std:.2g}")
        lines.append("| " + " | ".join([*(str(row[k]) for k in keys), str(row["seeds"]), *stats]) + " |")
    return "\n".join(lines) + "\n"


def write_summary(spec: StudySpec, folder: Path | None = None) -> tuple[Path, Path, str]:
    """Write ``summary.csv`` and ``summary.md`` in ``folder`` (default: the study folder); returns their paths
    and the markdown."""
    from allinone_bench.engine.rundir import atomic_write_text

    cells, values = summarize(spec)
    keys = list(spec.grid)
    title = f"Study: {spec.task}" + (f" ({spec.description})" if spec.description else "")
    note = "mean ± sample std over the seeds that finished; std blank for a single seed"
    md = f"# {title}\n\n{note}.\n\n" + _markdown(cells, keys, values)
    folder = spec.output_dir if folder is None else folder
    csv_path, md_path = folder / "summary.csv", folder / "summary.md"
    atomic_write_text(csv_path, cells.to_csv(index=False))
    atomic_write_text(md_path, md)
    return csv_path, md_path, md
