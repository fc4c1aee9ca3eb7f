"""The paper's published tables, loaded from ``leaderboards/table*.yaml`` into validated pydantic models.

Each YAML file is one table or sub-table of the paper (``table: "5a"``, ``source: "Table 5a"``) with its
columns in the paper's order, one row per published method, and a ``mappings`` list saying which of our
tasks fill which columns with which metric (named exactly as runs write it in results.json). A cell is a
plain value (null = the paper's "-") or ``{value, uncertain, note, annotation}`` where the extraction of the
paper was not clean: numbers are never invented, unreadable cells stay marked. Errors name the file and the
dotted key (``table9.yaml: rows[0].acc: ...``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from allinone_bench.errors import ConfigError
from allinone_bench.paths import leaderboards_dir
from allinone_bench.report.schema import Results
from allinone_bench.yamlfile import read_yaml

if TYPE_CHECKING:
    from allinone_bench.report.store import RunRecord

ANY_TASK = "*"
_ROW_NOTE_KEY = "row_note"
#: Run fields a ``when`` or ``ours.field`` may start with: the blocks of results.json, and ``checkpoint.``
#: (the run's entry in checkpoints.yaml).
RUN_FIELD_HEADS = frozenset(Results.model_fields) | {"checkpoint"}

# Factor turning our metric value (as results.json stores it) into the unit the paper prints. The metrics
# package reports retrieval recalls and accuracies in percent and captioning scores x100 (the paper's
# convention), so the identity is the default; a metric reported as a fraction would be listed here.
METRIC_TO_PAPER_SCALE: dict[str, float] = {}


def _scalar(raw: Any) -> Any:
    if raw is None or isinstance(raw, (str, int, float)) and not isinstance(raw, bool):
        return raw
    raise ValueError(f"expected a number, a string or null, got {raw!r}")


Scalar = Annotated[Any, BeforeValidator(_scalar)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cell(_Model):
    """One published cell: the printed value (None = '-'), and whether our reading of it is uncertain."""

    value: Scalar
    uncertain: bool = False
    note: str | None = None
    annotation: str | None = None  # printed next to the value, e.g. "(7.3↑)"

    @model_validator(mode="before")
    @classmethod
    def _from_scalar(cls, raw: Any) -> Any:
        return raw if isinstance(raw, dict) else {"value": raw}


class OursSpec(_Model):
    """How our rows fill a non-metric column: a run field (``model.params``, scaled) or a constant."""

    field: str | None = None
    scale: float = 1.0
    const: str | None = None
    decimals: int | None = None  # our measured values may carry more precision than the paper's column

    @model_validator(mode="after")
    def _one_source(self) -> OursSpec:
        if (self.field is None) == (self.const is None):
            raise ValueError("give exactly one of 'field' (a run field such as model.params) or 'const'")
        if self.field is not None and self.field.split(".")[0] not in RUN_FIELD_HEADS:
            raise ValueError(f"field {self.field!r}: not a run field (starts with one of {sorted(RUN_FIELD_HEADS)})")
        return self


class Column(_Model):
    key: str
    label: str
    group: str | None = None
    suffix: str = ""
    decimals: int | None = None
    unit: str | None = None
    role: Literal["method", "flops", "accuracy"] | None = None  # "accuracy": the column Fig. 1c plots
    lower_is_better: bool = False
    ours: OursSpec | None = None

    @property
    def header(self) -> str:
        """Flat header text: the group joined to the label, e.g. ``9K Train R@1``."""
        return f"{self.group} {self.label}" if self.group else self.label


class TaskMapping(_Model):
    """Our ``task`` fills ``metrics`` (column key -> the metric name as results.json writes it) when every
    ``when`` run field (dotted, e.g. ``data.options.cut``) has the given value."""

    task: str
    metrics: dict[str, str] = Field(default_factory=dict)
    when: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_fields(self) -> TaskMapping:
        bad = [k for k in self.when if k.split(".")[0] not in RUN_FIELD_HEADS]
        if bad:
            raise ValueError(f"when: {bad} are not run fields (dotted, e.g. data.options.cut)")
        return self

    def matches(self, run: RunRecord) -> bool:
        if self.task not in (run.task, ANY_TASK):
            return False
        return all(str(run.lookup(k)).lower() == str(v).lower() for k, v in self.when.items())


class PublishedRow(_Model):
    cells: dict[str, Cell]
    note: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _split_note(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        return {"cells": {k: v for k, v in raw.items() if k != _ROW_NOTE_KEY}, "note": raw.get(_ROW_NOTE_KEY)}

    def value(self, key: str) -> Any:
        cell = self.cells.get(key)
        return None if cell is None else cell.value


class Leaderboard(_Model):
    """One table of the paper as data."""

    table: Annotated[str, BeforeValidator(str)]
    title: str
    source: str
    caption: str = ""
    tasks: tuple[str, ...] = ()
    mappings: tuple[TaskMapping, ...] = ()
    columns: tuple[Column, ...]
    rows: tuple[PublishedRow, ...]
    notes: tuple[str, ...] = ()
    ours_identity: tuple[str, ...] | None = None
    path: Path = Path("?")

    @model_validator(mode="after")
    def _consistent(self) -> Leaderboard:
        if self.source != f"Table {self.table}":
            raise ValueError(f"source: {self.source!r} does not name table {self.table!r}")
        keys = [c.key for c in self.columns]
        if len(set(keys)) != len(keys):
            raise ValueError(f"columns: duplicate column keys in {keys}")
        if sum(c.role == "method" for c in self.columns) != 1:
            raise ValueError("columns: exactly one column needs role: method")
        if len({c.header for c in self.columns}) != len(self.columns):
            raise ValueError("columns: two columns share the same group + label")
        for i, row in enumerate(self.rows):
            if set(row.cells) != set(keys):
                missing, extra = sorted(set(keys) - set(row.cells)), sorted(set(row.cells) - set(keys))
                raise ValueError(f"rows[{i}]: cells do not match the columns (missing {missing}, unknown {extra})")
        for i, m in enumerate(self.mappings):
            bad = sorted(set(m.metrics) - set(keys))
            if bad:
                raise ValueError(f"mappings[{i}].metrics: unknown columns {bad}")
        if set(self.tasks) != {m.task for m in self.mappings}:
            raise ValueError(f"tasks: {sorted(self.tasks)} differ from the tasks of 'mappings' "
                             f"{sorted({m.task for m in self.mappings})}")
        return self

    @property
    def method_column(self) -> Column:
        return next(c for c in self.columns if c.role == "method")

    def column(self, key: str) -> Column:
        for col in self.columns:
            if col.key == key:
                return col
        raise KeyError(key)

    def mapping_for(self, run: RunRecord) -> TaskMapping | None:
        """The first mapping ``run`` satisfies, or None when the table has no place for it."""
        return next((m for m in self.mappings if m.matches(run)), None)

    def uncertain_cells(self) -> list[tuple[int, str, Cell]]:
        """(row index, column key, cell) of every cell marked uncertain."""
        return [(i, k, c) for i, row in enumerate(self.rows) for k, c in row.cells.items() if c.uncertain]


# ------------------------------------------------------------------------------------------------- loading


def normalize_id(table_id: str) -> str:
    """``Table 5a``, ``table5A``, ``5a`` -> ``5a``."""
    return re.sub(r"^(tab(le)?)", "", re.sub(r"[\s_.-]+", "", str(table_id).lower()))


def dotted(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as the YAML's dotted key: ``("rows", 0, "cells", "acc")`` -> ``rows[0].acc``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part != "cells":  # PublishedRow's internal level: the YAML row holds the cells directly
            out += f".{part}" if out else part
    return out


def _describe(err: ValidationError) -> str:
    first = err.errors()[0]
    msg = first["msg"].removeprefix("Value error, ")
    where = dotted(first["loc"])
    more = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{where}: {msg}{more}" if where else f"{msg}{more}"


def parse_leaderboard(raw: Any, path: Path) -> Leaderboard:
    """Validate the decoded YAML of one table file (errors name the file and the dotted key)."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: top level must be a mapping")
    try:
        return Leaderboard.model_validate({**raw, "path": path})
    except ValidationError as err:
        raise ConfigError(f"{path}: {_describe(err)}") from None


def load_leaderboard_file(path: str | Path) -> Leaderboard:
    path = Path(path)
    return parse_leaderboard(read_yaml(path, "leaderboard file"), path)


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


def to_paper_units(metric: str, value: float) -> float:
    """Our metric value in the unit the paper prints (see :data:`METRIC_TO_PAPER_SCALE`)."""
    return value * METRIC_TO_PAPER_SCALE.get(metric, 1.0)
