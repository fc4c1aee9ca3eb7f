"""The paper's published tables, loaded from ``leaderboards/table*.yaml`` into typed, validated objects.

Each YAML file is one table or sub-table of the paper (``table: "5a"``, ``source: "Table 5a"``) with its
columns in the paper's order, one row per published method, and a ``mappings`` list saying which of our
tasks fill which columns with which of our metric names. A cell is a plain value (null = the paper's "-") or
``{value, uncertain, note, annotation}`` where the extraction of the paper was not clean: numbers are never
invented, unreadable cells stay marked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from allinone_bench.errors import ConfigError
from allinone_bench.paths import leaderboards_dir

ANY_TASK = "*"

# Factor turning our metric value (as results.json stores it) into the unit the paper prints. The metrics
# package reports retrieval recalls and accuracies in percent and captioning scores x100 (the paper's
# convention), so the identity is the default; a metric reported as a fraction would be listed here.
METRIC_TO_PAPER_SCALE: dict[str, float] = {}

_CELL_KEYS = frozenset({"value", "uncertain", "note", "annotation"})
_ROW_NOTE_KEY = "row_note"


@dataclass(frozen=True)
class Cell:
    """One published cell: the printed value (None = '-'), and whether our reading of it is uncertain."""

    value: str | int | float | None
    uncertain: bool = False
    note: str | None = None
    annotation: str | None = None  # printed next to the value, e.g. "(7.3↑)"


@dataclass(frozen=True)
class OursSpec:
    """How our rows fill a non-metric column: a run field (``model.params``, scaled) or a constant."""

    field: str | None = None
    scale: float = 1.0
    const: str | None = None
    decimals: int | None = None  # our measured values may carry more precision than the paper's column


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    group: str | None = None
    suffix: str = ""
    decimals: int | None = None
    unit: str | None = None
    role: str | None = None  # "method" | "flops" | "accuracy" (the column Fig. 1c plots)
    lower_is_better: bool = False
    ours: OursSpec | None = None

    @property
    def header(self) -> str:
        """Flat header text: the group joined to the label, e.g. ``9K Train R@1``."""
        return f"{self.group} {self.label}" if self.group else self.label


@dataclass(frozen=True)
class TaskMapping:
    """Our ``task`` fills ``metrics`` (column key -> our metric names) when the run's protocol matches ``when``.

    A column may list several metric names (``[t2v_r1, t2v_R@1]``): the first one a run reports is used, so
    a table keeps working across a rename of a metric.
    """

    task: str
    metrics: Mapping[str, tuple[str, ...]]
    when: Mapping[str, Any] = field(default_factory=dict)

    def metric_for(self, key: str, available: Iterable[str]) -> str | None:
        """The first of the column's metric names among ``available`` (None when the run reports none)."""
        present = set(available)
        return next((name for name in self.metrics.get(key, ()) if name in present), None)

    def matches(self, task: str, protocol: Mapping[str, Any]) -> bool:
        if self.task not in (task, ANY_TASK):
            return False
        return all(str(_protocol_key(protocol, k)).lower() == str(v).lower() for k, v in self.when.items())


def _protocol_key(protocol: Mapping[str, Any], key: str) -> Any:
    """``key`` at the top of the protocol or one level down (writers keep kind-specific keys in ``extra``)."""
    if key in protocol:
        return protocol[key]
    for block in protocol.values():
        if isinstance(block, Mapping) and key in block:
            return block[key]
    return None


@dataclass(frozen=True)
class PublishedRow:
    cells: Mapping[str, Cell]
    note: str | None = None

    def value(self, key: str) -> Any:
        cell = self.cells.get(key)
        return None if cell is None else cell.value


@dataclass(frozen=True)
class Leaderboard:
    """One table of the paper as data."""

    table: str
    title: str
    source: str
    caption: str
    tasks: tuple[str, ...]
    mappings: tuple[TaskMapping, ...]
    columns: tuple[Column, ...]
    rows: tuple[PublishedRow, ...]
    notes: tuple[str, ...]
    ours_identity: tuple[str, ...] | None
    path: Path

    @property
    def method_column(self) -> Column:
        return next(c for c in self.columns if c.role == "method")

    def column(self, key: str) -> Column:
        for col in self.columns:
            if col.key == key:
                return col
        raise KeyError(key)

    def mapping_for(self, task: str, protocol: Mapping[str, Any]) -> TaskMapping | None:
        """The first mapping our run (task, protocol) satisfies, or None when the table has no place for it."""
        return next((m for m in self.mappings if m.matches(task, protocol)), None)

    def uncertain_cells(self) -> list[tuple[int, str, Cell]]:
        """(row index, column key, cell) of every cell marked uncertain."""
        return [(i, k, c) for i, row in enumerate(self.rows) for k, c in row.cells.items() if c.uncertain]


# ------------------------------------------------------------------------------------------------- loading


def normalize_id(table_id: str) -> str:
    """``Table 5a``, ``table5A``, ``5a`` -> ``5a``."""
    return re.sub(r"^(tab(le)?)", "", re.sub(r"[\s_.-]+", "", str(table_id).lower()))


def _err(path: Path, what: str) -> ConfigError:
    return ConfigError(f"{path}: {what}")


def _parse_cell(path: Path, where: str, raw: Any) -> Cell:
    if isinstance(raw, dict):
        unknown = set(raw) - _CELL_KEYS
        if unknown or "value" not in raw:
            raise _err(path, f"{where}: a cell object needs 'value' and only {sorted(_CELL_KEYS)}; "
                             f"got {sorted(raw)}")
        return Cell(_parse_scalar(path, where, raw["value"]), bool(raw.get("uncertain", False)),
                    raw.get("note"), raw.get("annotation"))
    return Cell(_parse_scalar(path, where, raw))


def _parse_scalar(path: Path, where: str, raw: Any) -> str | int | float | None:
    if raw is None or isinstance(raw, (str, int, float)) and not isinstance(raw, bool):
        return raw
    raise _err(path, f"{where}: expected a number, a string or null, got {raw!r}")


def _parse_column(path: Path, i: int, raw: Any) -> Column:
    if not isinstance(raw, dict) or "key" not in raw or "label" not in raw:
        raise _err(path, f"columns[{i}]: expected a mapping with 'key' and 'label'")
    ours_raw = raw.get("ours")
    ours = None
    if ours_raw is not None:
        if not isinstance(ours_raw, dict) or not ({"field", "const"} & set(ours_raw)):
            raise _err(path, f"columns[{i}].ours: expected {{field: ..., scale: ...}} or {{const: ...}}")
        ours = OursSpec(ours_raw.get("field"), float(ours_raw.get("scale", 1.0)), ours_raw.get("const"),
                        ours_raw.get("decimals"))
    known = {"key", "label", "group", "suffix", "decimals", "unit", "role", "lower_is_better", "ours"}
    if set(raw) - known:
        raise _err(path, f"columns[{i}]: unknown keys {sorted(set(raw) - known)}")
    return Column(str(raw["key"]), str(raw["label"]), raw.get("group"), str(raw.get("suffix", "")),
                  raw.get("decimals"), raw.get("unit"), raw.get("role"), bool(raw.get("lower_is_better", False)),
                  ours)


def parse_leaderboard(raw: Any, path: Path) -> Leaderboard:
    """Validate the decoded YAML of one table file (errors name the file and the offending key)."""
    if not isinstance(raw, dict):
        raise _err(path, "top level must be a mapping")
    for key in ("table", "title", "source", "columns", "rows"):
        if key not in raw:
            raise _err(path, f"missing key '{key}'")
    table = str(raw["table"])
    if raw["source"] != f"Table {table}":
        raise _err(path, f"source {raw['source']!r} does not name table {table!r}")
    columns = tuple(_parse_column(path, i, c) for i, c in enumerate(raw["columns"]))
    keys = [c.key for c in columns]
    if len(set(keys)) != len(keys):
        raise _err(path, f"duplicate column keys in {keys}")
    if sum(c.role == "method" for c in columns) != 1:
        raise _err(path, "exactly one column needs role: method")
    if len({c.header for c in columns}) != len(columns):
        raise _err(path, "two columns share the same group + label")

    rows = []
    for i, row in enumerate(raw["rows"] or []):
        if not isinstance(row, dict):
            raise _err(path, f"rows[{i}]: expected a mapping")
        cell_keys = [k for k in row if k != _ROW_NOTE_KEY]
        if set(cell_keys) != set(keys):
            missing, extra = sorted(set(keys) - set(cell_keys)), sorted(set(cell_keys) - set(keys))
            raise _err(path, f"rows[{i}]: cells do not match the columns (missing {missing}, unknown {extra})")
        cells = {k: _parse_cell(path, f"rows[{i}].{k}", row[k]) for k in keys}
        rows.append(PublishedRow(cells, row.get(_ROW_NOTE_KEY)))

    mappings = []
    for i, m in enumerate(raw.get("mappings") or []):
        if not isinstance(m, dict) or "task" not in m or not isinstance(m.get("metrics", {}), dict):
            raise _err(path, f"mappings[{i}]: expected {{task: ..., metrics: {{column: metric}}, when: {{...}}}}")
        bad = sorted(set(m.get("metrics") or {}) - set(keys))
        if bad:
            raise _err(path, f"mappings[{i}]: metrics name unknown columns {bad}")
        metrics: dict[str, tuple[str, ...]] = {}
        for key, names in (m.get("metrics") or {}).items():
            names = [names] if isinstance(names, str) else names
            if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
                raise _err(path, f"mappings[{i}].metrics.{key}: expected a metric name or a list of names")
            metrics[str(key)] = tuple(names)
        mappings.append(TaskMapping(str(m["task"]), metrics, dict(m.get("when") or {})))
    tasks = tuple(str(t) for t in raw.get("tasks") or ())
    if set(tasks) != {m.task for m in mappings}:
        raise _err(path, f"'tasks' {sorted(tasks)} differ from the tasks of 'mappings' "
                         f"{sorted({m.task for m in mappings})}")
    identity = raw.get("ours_identity")
    return Leaderboard(
        table=table, title=str(raw["title"]), source=str(raw["source"]), caption=str(raw.get("caption", "")),
        tasks=tasks, mappings=tuple(mappings), columns=columns, rows=tuple(rows),
        notes=tuple(str(n) for n in raw.get("notes") or ()),
        ours_identity=tuple(identity) if identity else None, path=path,
    )


def load_leaderboard_file(path: str | Path) -> Leaderboard:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"{path}: cannot read leaderboard file ({err.strerror or err})") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from err
    return parse_leaderboard(raw, path)


def _sort_key(table_id: str) -> tuple[int, str]:
    match = re.match(r"(\d+)(.*)", table_id)
    return (int(match.group(1)), match.group(2)) if match else (10**6, table_id)


@lru_cache(maxsize=8)
def _load_all(directory: str) -> dict[str, Leaderboard]:
    boards: dict[str, Leaderboard] = {}
    for path in sorted(Path(directory).glob("table*.yaml")):
        board = load_leaderboard_file(path)
        tid = normalize_id(board.table)
        if tid in boards:
            raise ConfigError(f"{path}: table {board.table!r} is also defined in {boards[tid].path}")
        boards[tid] = board
    return dict(sorted(boards.items(), key=lambda kv: _sort_key(kv[0])))


def all_leaderboards(directory: str | Path | None = None) -> dict[str, Leaderboard]:
    """Every table, keyed by normalised id ('1', '2a', ..., '7'), in the paper's order."""
    root = Path(directory) if directory is not None else leaderboards_dir()
    if not root.is_dir():
        raise ConfigError(f"{root}: leaderboards directory not found")
    return _load_all(str(root.resolve()))


def table_ids(directory: str | Path | None = None) -> list[str]:
    return list(all_leaderboards(directory))


def get_leaderboard(table_id: str, directory: str | Path | None = None) -> Leaderboard:
    """The table with this id; an unknown id raises a ConfigError that lists the valid ones."""
    boards = all_leaderboards(directory)
    tid = normalize_id(table_id)
    if tid not in boards:
        raise ConfigError(f"unknown table {table_id!r}; valid tables: {', '.join(boards)}")
    return boards[tid]


def leaderboards_for_task(task: str, directory: str | Path | None = None) -> list[Leaderboard]:
    """The tables that have columns for ``task`` (tables accepting any task excluded)."""
    return [b for b in all_leaderboards(directory).values() if task in b.tasks]


def to_paper_units(metric: str, value: float) -> float:
    """Our metric value in the unit the paper prints (see :data:`METRIC_TO_PAPER_SCALE`)."""
    return value * METRIC_TO_PAPER_SCALE.get(metric, 1.0)
