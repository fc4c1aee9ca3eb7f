"""Regenerate a paper table with our runs appended, and render it as Markdown, LaTeX or CSV.

The published rows come from the leaderboard file; each run group (runs differing only by seed) that the
table's ``mappings`` accept becomes a partial row, and partial rows of one model setup (same weights, frames,
rolling, patch permutation, seeds) from different tasks of the table are merged, as the paper prints one row
per model. All three formats are rendered from the same :class:`TableView`, so they never disagree.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import pandas as pd

from allinone_bench.errors import ConfigError
from allinone_bench.report.leaderboard import Cell, Column, Leaderboard, to_paper_units
from allinone_bench.report.store import MetricStat, RunGroup, RunRecord, group_by_seed

SOURCE_HEADER = "Source"
OURS_PREFIX = "Ours:"
UNCERTAIN_MARK = "?"
FORMATS = ("md", "latex", "csv")

# Setup fields that must agree for partial rows of different tasks to share one row of a table.
DEFAULT_IDENTITY: tuple[str, ...] = ("model.variant", "model.checkpoint", "model.sha256", "protocol.frames",
                                     "protocol.rolling", "protocol.patch_permutation", "zero_shot",
                                     "data.synthetic")


@dataclass
class ViewRow:
    """One rendered row: plain-text cells in column order, plus where it came from."""

    cells: list[str]
    ours: bool
    source: str
    values: dict[str, Any] = field(default_factory=dict)  # column key -> number (mean for ours) or None
    runs: tuple[RunRecord, ...] = ()


@dataclass
class TableView:
    """A paper table ready to render: headers (paper order + Source), rows, and footnotes."""

    board: Leaderboard
    rows: list[ViewRow]
    footnotes: list[str]

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.board.columns] + [SOURCE_HEADER]

    @property
    def ours_rows(self) -> list[ViewRow]:
        return [r for r in self.rows if r.ours]

    def to_dataframe(self) -> pd.DataFrame:
        """Plain-text cells (what CSV writes), one column per header."""
        return pd.DataFrame([r.cells + [r.source] for r in self.rows], columns=self.headers, dtype=str)


# ------------------------------------------------------------------------------------------- formatting


def format_number(value: float | int, decimals: int | None, suffix: str = "", sig_below: float = 0.0) -> str:
    """``decimals`` places, as the paper's column prints. A non-zero value that would round to zero, or any
    value below ``sig_below`` (a tiny synthetic model's GMACs), keeps three significant digits instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value}{suffix}"
    if decimals is None:
        text = str(int(value)) if float(value).is_integer() else repr(float(value))
    elif value != 0 and (abs(value) < 0.5 * 10.0 ** -decimals or abs(value) < sig_below):
        text = f"{value:.3g}"
    else:
        text = f"{value:.{decimals}f}"
    return f"{text}{suffix}"


def format_cell(cell: Cell, column: Column) -> str:
    """The paper's printed text of a published cell; uncertain cells carry a trailing '?'."""
    if cell.value is None:
        text = "-"
    elif isinstance(cell.value, (int, float)):
        text = format_number(cell.value, column.decimals, column.suffix)
    else:
        text = cell.value
    if cell.annotation:
        text = f"{text} {cell.annotation}"
    if cell.uncertain:
        text = UNCERTAIN_MARK if cell.value is None else f"{text} {UNCERTAIN_MARK}"
    return text


def format_stat(stat: MetricStat | None, column: Column, scale: Callable[[float], float] = lambda v: v) -> str:
    """``41.2`` for one run, ``41.2 ± 0.3`` for a seed group; '-' when missing."""
    if stat is None:
        return "-"
    mean = format_number(scale(stat.mean), column.decimals, column.suffix)
    if stat.std is None:
        return mean
    return f"{mean} ± {format_number(abs(scale(stat.std)), column.decimals)}"


# ------------------------------------------------------------------------------------------- our rows


@dataclass
class _Partial:
    identity: tuple[Any, ...]
    groups: list[RunGroup]
    metric_cells: dict[str, tuple[str, float | None]]  # column key -> (text, mean)


def checkpoint_label(checkpoint: str | None) -> str:
    if not checkpoint:
        return "random init"
    return Path(checkpoint).name if ("/" in checkpoint or "\\" in checkpoint) else checkpoint


def _distinguishing_keys(groups: Sequence[RunGroup]) -> list[str]:
    """Protocol keys whose values differ between groups of the same task (so labels can tell rows apart)."""
    keys: set[str] = set()
    by_task: dict[str, list[RunGroup]] = {}
    for g in groups:
        by_task.setdefault(g.task, []).append(g)
    for members in by_task.values():
        flat = [g.first.flat_protocol() for g in members]
        for key in {k for f in flat for k in f}:
            if key.rsplit(".", 1)[-1] == "seed" or key.endswith("_seed"):
                continue
            if len({repr(f.get(key)) for f in flat}) > 1:
                keys.add(key)
    return sorted(keys)


def _method_label(groups: Sequence[RunGroup], distinguishing: Sequence[str], with_seeds: bool) -> str:
    first = groups[0].first
    parts = [f"{OURS_PREFIX} {first.model.label} [{checkpoint_label(first.model.checkpoint)}]"]
    if first.zero_shot:
        parts.append("(zero-shot)")
    if first.synthetic:
        parts.append("(synthetic data)")
    if first.limited:
        parts.append(f"(--limit {first.n_samples.limit})")
    flat = first.flat_protocol()
    extras = [f"{k.rsplit('.', 1)[-1]}={flat.get(k)}" for k in distinguishing if k != "zero_shot"]
    if extras:
        parts.append("(" + ", ".join(extras) + ")")
    label = " ".join(parts)
    if with_seeds:
        n = len(groups[0].runs)
        seeds = groups[0].seeds
        if n == 1:
            label += f", {groups[0].seed_label}"
        else:
            seed_text = ",".join("?" if s is None else str(s) for s in seeds)
            label += f", mean ± std over {n} seeds ({seed_text})"
    return label


def _identity(board: Leaderboard, group: RunGroup) -> tuple[Any, ...]:
    fields = board.ours_identity or DEFAULT_IDENTITY
    ident = tuple(repr(group.first.lookup(f)) for f in fields)
    return ident if board.ours_identity else ident + (group.seeds,)


def _checkpoint_field(run: RunRecord, name: str) -> str:
    """A field of the run's released checkpoint (e.g. its pre-training data), '-' for other weights. Read
    with the strict loader of ``checkpoints.yaml``: a malformed file is an error, not an empty column."""
    from allinone_bench.model.hub import load_registry

    entry = load_registry().get(run.model.checkpoint or "")
    value = None if entry is None else getattr(entry, name, None)
    if isinstance(value, (list, tuple)):
        return " + ".join(str(v) for v in value)
    return "-" if value is None else str(value)


def _our_cell(column: Column, groups: Sequence[RunGroup]) -> str:
    """A non-metric column of an our-row (frames, params, FLOPs, constants); distinct values joined by '/'."""
    spec = column.ours
    if spec is None:
        return "-"
    if spec.const is not None:
        return spec.const
    texts: list[str] = []
    for group in groups:
        if spec.field and spec.field.startswith("checkpoint."):
            text = _checkpoint_field(group.first, spec.field.split(".", 1)[1])
            if text not in texts:
                texts.append(text)
            continue
        stat = group.stat_of(spec.field or "")
        if stat is None:
            raw = group.first.lookup(spec.field or "")
            text = "-" if raw is None else str(raw)
        else:
            decimals = column.decimals if spec.decimals is None else spec.decimals
            text = format_number(stat.mean * spec.scale, decimals, column.suffix, sig_below=1.0)
        if text not in texts:
            texts.append(text)
    return "/".join(texts)


def our_rows(board: Leaderboard, runs: Iterable[RunRecord]) -> list[ViewRow]:
    """The rows our runs add to ``board`` (empty when none of its mappings accepts any run)."""
    groups = [g for g in group_by_seed(runs) if board.mapping_for(g.first) is not None]
    partials: list[_Partial] = []
    for group in groups:
        mapping = board.mapping_for(group.first)
        assert mapping is not None
        cells: dict[str, tuple[str, float | None]] = {}
        for key, metric in mapping.metrics.items():
            stat = group.stat(metric)
            if stat is None:
                cells[key] = ("-", None)
                continue
            cells[key] = (format_stat(stat, board.column(key), lambda v, m=metric: to_paper_units(m, v)),
                          to_paper_units(metric, stat.mean))
        ident = _identity(board, group)
        target = next((p for p in partials
                       if p.identity == ident and not (set(p.metric_cells) & set(cells))), None)
        if target is None:
            partials.append(_Partial(ident, [group], cells))
        else:
            target.groups.append(group)
            target.metric_cells.update(cells)

    distinguishing = _distinguishing_keys(groups)
    rows = []
    for partial in partials:
        texts = []
        for column in board.columns:
            if column.role == "method":
                texts.append(_method_label(partial.groups, distinguishing, board.ours_identity is None))
            elif column.key in partial.metric_cells:
                texts.append(partial.metric_cells[column.key][0])
            else:
                texts.append(_our_cell(column, partial.groups))
        runs_of = tuple(r for g in partial.groups for r in g.runs)
        source = "ours: " + ", ".join(f"{r.task}/{r.run_id}" for r in runs_of)
        rows.append(ViewRow(texts, True, source, {k: v for k, (_, v) in partial.metric_cells.items()}, runs_of))
    return rows


# ------------------------------------------------------------------------------------------- view


def build_table(board: Leaderboard, runs: Iterable[RunRecord] = ()) -> TableView:
    """The published rows of ``board`` followed by our rows."""
    rows: list[ViewRow] = []
    footnotes: list[str] = []
    method_key = board.method_column.key
    for row in board.rows:
        texts = [format_cell(row.cells[c.key], c) for c in board.columns]
        values = {k: (c.value if isinstance(c.value, (int, float)) else None) for k, c in row.cells.items()}
        rows.append(ViewRow(texts, False, board.source, values))
        name = row.value(method_key)
        for column in board.columns:
            cell = row.cells[column.key]
            if cell.note:
                mark = "uncertain" if cell.uncertain else "note"
                footnotes.append(f"{name}, {column.header} ({mark}): {cell.note}")
        if row.note:
            footnotes.append(f"{name}: {row.note}")
    footnotes.extend(board.notes)
    ours = our_rows(board, runs)
    rows.extend(ours)
    if ours:
        footnotes.append("Rows marked 'Ours:' come from our results.json files (Source column); "
                         "'mean ± std' is over runs differing only by seed (sample std).")
    if board.uncertain_cells():
        footnotes.insert(0, f"'{UNCERTAIN_MARK}' marks a cell whose reading of the paper's text is uncertain.")
    return TableView(board, rows, footnotes)


# ------------------------------------------------------------------------------------------- renderers


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")


def render_markdown(view: TableView, notes: bool = True) -> str:
    """GitHub-flavoured Markdown: title line, header, separator, rows; then the notes as a list."""
    headers = [_md_escape(h) for h in view.headers]
    lines = [f"**{view.board.source}.** {_md_escape(view.board.title)}", "",
             "| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if c.decimals is not None else ":---" for c in view.board.columns) + "|:---|"]
    for row in view.rows:
        lines.append("| " + " | ".join(_md_escape(c) for c in row.cells + [row.source]) + " |")
    if notes and view.footnotes:
        lines.append("")
        lines.extend(f"- {_md_escape(n)}" for n in view.footnotes)
    return "\n".join(lines) + "\n"


_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
    "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "±": r"$\pm$", "↑": r"$\uparrow$", "↓": r"$\downarrow$", "×": r"$\times$", "†": r"$\dagger$",
    "≈": r"$\approx$", "—": "---", "–": "--", "<": r"$<$", ">": r"$>$", "|": r"$|$",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX specials (% & _ # $ { } ~ ^ \\) and map the paper's symbols (± × ↑ ↓ †) to math."""
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in text)


def render_latex(view: TableView, notes: bool = True) -> str:
    """A ``table`` float with a ``tabular`` (core LaTeX only: \\hline, \\multicolumn); groups as a header row."""
    columns = list(view.board.columns)
    spec = "l" + "c" * (len(columns) - 1) + "l"
    out = [r"\begin{table}[t]", r"\centering", r"\small",
           f"\\caption{{{latex_escape(view.board.source + ': ' + view.board.title)}}}",
           f"\\label{{tab:allinone-{view.board.table}}}",
           f"\\begin{{tabular}}{{{spec}}}", r"\hline"]
    if any(c.group for c in columns):
        parts: list[str] = []
        i = 0
        while i < len(columns):
            group = columns[i].group
            j = i
            while j + 1 < len(columns) and group and columns[j + 1].group == group:
                j += 1
            parts.append(f"\\multicolumn{{{j - i + 1}}}{{c}}{{{latex_escape(group)}}}" if group else "")
            i = j + 1
        parts.append("")
        out.append(" & ".join(parts) + r" \\")
        labels = [c.label for c in columns]
    else:
        labels = [c.header for c in columns]
    out.append(" & ".join(latex_escape(h) for h in labels + [SOURCE_HEADER]) + r" \\")
    out.append(r"\hline")
    previous_ours = False
    for row in view.rows:
        if row.ours and not previous_ours:
            out.append(r"\hline")
        previous_ours = row.ours
        cells = [latex_escape(c) for c in row.cells + [row.source]]
        if cells[0].startswith("["):  # after "\\" a leading "[" would be read as its optional argument
            cells[0] = "{}" + cells[0]
        out.append(" & ".join(cells) + r" \\")
    out += [r"\hline", r"\end{tabular}"]
    if notes and view.footnotes:
        out.append(r"\par\vspace{2pt}\footnotesize")
        out.append(r" \\ ".join(latex_escape(n) for n in view.footnotes))
    out.append(r"\end{table}")
    return "\n".join(out) + "\n"


def render_csv(view: TableView) -> str:
    """Plain-text cells with a header row; reads back identically with ``pd.read_csv(dtype=str)``."""
    buffer = io.StringIO()
    view.to_dataframe().to_csv(buffer, index=False)
    return buffer.getvalue()


def render(view: TableView, fmt: str = "md", *, notes: bool = True) -> str:
    """Render ``view`` as ``md``, ``latex`` or ``csv`` (notes only go into md and latex)."""
    fmt = fmt.lower()
    if fmt == "md":
        return render_markdown(view, notes=notes)
    if fmt == "latex":
        return render_latex(view, notes=notes)
    if fmt == "csv":
        return render_csv(view)
    raise ConfigError(f"unknown table format {fmt!r}; expected one of {', '.join(FORMATS)}")
