"""Strict readers for annotation files: every error names the file and the line.

All text goes through :func:`read_text`, the one place that decodes annotation files: UTF-8 with an optional
byte-order mark (files saved by Windows tools and spreadsheets start with one), any line ending (``\n``,
``\r\n``: the UCF101 lists, TGIF-QA csvs and the JSFusion csv ship CRLF). Delimited files keep their header
name intact whatever the first bytes were.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from allinone_bench.errors import AnnotationError

__all__ = [
    "JsonRecord",
    "Row",
    "read_ans2label",
    "read_csv",
    "read_json",
    "read_json_records",
    "read_jsonl",
    "read_lines",
    "read_text",
    "read_tsv",
    "record_id",
    "require_file",
    "unique_or_fallback",
]


def require_file(path: Path, layout: str = "", *, dataset: str = "") -> Path:
    """``path`` if it is an existing file, else an :class:`AnnotationError` naming it and the expected layout."""
    if path.is_file():
        return path
    who = f"dataset {dataset!r}: " if dataset else ""
    hint = f"\nexpected layout:\n{layout}" if layout else ""
    raise AnnotationError(f"{who}missing annotation file {path}{hint}")


@dataclass(frozen=True)
class Row:
    """One parsed line of a delimited file, remembering where it came from."""

    file: Path
    line: int
    values: tuple[str, ...]
    header: tuple[str, ...] | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def error(self, message: str) -> AnnotationError:
        return AnnotationError(f"{self.where}: {message}")

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, key: int | str) -> str:
        if isinstance(key, str):
            if self.header is None or key not in self.header:
                raise self.error(f"no column {key!r} (header: {self.header})")
            key = self.header.index(key)
        if not -len(self.values) <= key < len(self.values):
            raise self.error(f"expected at least {key + 1} columns, found {len(self.values)}")
        return self.values[key]

    def get_int(self, key: int | str, what: str = "value") -> int:
        text = self[key]
        try:
            return int(text.strip())
        except ValueError:
            raise self.error(f"{what} in column {key!r} is not an integer: {text!r}") from None


@dataclass(frozen=True)
class JsonRecord:
    """One JSON object of an annotation file; ``line`` is None when the file is one JSON array."""

    file: Path
    line: int | None
    index: int
    data: Mapping[str, Any]

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else f"{self.file} (record {self.index})"

    def error(self, message: str) -> AnnotationError:
        return AnnotationError(f"{self.where}: {message}")

    def get(self, key: str, kind: type | tuple[type, ...] = object) -> Any:
        """``data[key]`` checked against ``kind`` (bool is never accepted as int)."""
        if key not in self.data:
            raise self.error(f"missing key {key!r} (keys: {', '.join(map(str, self.data))})")
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = "/".join(k.__name__ for k in kinds)
            raise self.error(f"key {key!r} should be {names}, got {type(value).__name__} {value!r}")
        return value

    def get_str(self, key: str) -> str:
        return self.get(key, str)

    def get_int(self, key: str) -> int:
        """An int; numeric strings ("3") are accepted since some releases store them quoted."""
        value = self.get(key, (int, str))
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise self.error(f"key {key!r} should be an integer, got {value!r}") from None
        return value

    def get_str_list(self, key: str, length: int | None = None) -> list[str]:
        value = self.get(key, list)
        if not all(isinstance(v, str) for v in value):
            raise self.error(f"key {key!r} should be a list of strings")
        if length is not None and len(value) != length:
            raise self.error(f"key {key!r} should have {length} entries, has {len(value)}")
        return value


def record_id(
    data: Mapping[str, Any], fallback: str, keys: tuple[str, ...] = ("question_id", "qid", "id")
) -> str:
    """A stable sample id: the first of ``keys`` present in the record (str or int), else ``fallback``
    (adapters pass file stem + line), so caches keyed by sample id survive re-runs."""
    for key in keys:
        value = data.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return str(value)
    return fallback


S = TypeVar("S")


def unique_or_fallback(samples: list[S], fallback_ids: Sequence[str]) -> list[S]:
    """``samples`` as they are if their ids are unique, else with every id replaced by its fallback
    (file stem + line): a release whose own ids repeat must not make id-keyed caches collide."""
    ids = [s.id for s in samples]  # type: ignore[attr-defined]
    if len(set(ids)) == len(ids):
        return samples
    return [dataclasses.replace(s, id=f) for s, f in zip(samples, fallback_ids, strict=True)]  # type: ignore[type-var]


def read_text(path: Path) -> str:
    require_file(path)
    try:
        return path.read_text(encoding="utf-8-sig")  # tolerate a BOM (spreadsheet exports)
    except UnicodeDecodeError as err:
        raise AnnotationError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None


def read_lines(path: Path) -> list[tuple[int, str]]:
    """Non-empty stripped lines with their 1-based line numbers."""
    out = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        stripped = line.strip()
        if stripped:
            out.append((number, stripped))
    return out


def read_json(path: Path) -> Any:
    """A whole JSON document; a syntax error names the line and column."""
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise AnnotationError(f"{path}:{err.lineno}: invalid JSON ({err.msg}, column {err.colno})") from None


def _as_record(path: Path, line: int | None, index: int, value: Any) -> JsonRecord:
    where = f"{path}:{line}" if line is not None else f"{path} (record {index})"
    if not isinstance(value, dict):
        raise AnnotationError(f"{where}: expected a JSON object, got {type(value).__name__}")
    return JsonRecord(path, line, index, value)


def read_jsonl(path: Path) -> list[JsonRecord]:
    """One JSON object per non-empty line."""
    records = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            raise AnnotationError(f"{path}:{number}: invalid JSON ({err.msg}, column {err.colno})") from None
        records.append(_as_record(path, number, len(records), value))
    return records


def read_json_records(path: Path) -> list[JsonRecord]:
    """Objects from either a JSON array (one line or pretty-printed) or JSON lines.

    Some releases (MSVD-QA) store one array on a single line while mirrors re-export them as JSON lines;
    both give the same records.
    """
    text = read_text(path)
    if text.lstrip().startswith("["):
        value = read_json(path)
        return [_as_record(path, None, i, item) for i, item in enumerate(value)]
    return read_jsonl(path)


def read_ans2label(path: Path) -> dict[str, int]:
    """An answer vocabulary ``{answer: label}`` (JSON object of int values, labels unique)."""
    value = read_json(path)
    if not isinstance(value, dict):
        raise AnnotationError(f"{path}: expected a JSON object answer -> label, got {type(value).__name__}")
    seen: dict[int, str] = {}
    for answer, label in value.items():
        if not isinstance(label, int) or isinstance(label, bool):
            raise AnnotationError(f"{path}: label of answer {answer!r} should be an integer, got {label!r}")
        if label in seen:
            raise AnnotationError(f"{path}: answers {seen[label]!r} and {answer!r} share label {label}")
        seen[label] = answer
    return dict(value)


def _read_delimited(path: Path, delimiter: str, header: bool, quoting: int, min_fields: int) -> list[Row]:
    text = read_text(path)
    # StringIO keeps quoted multi-line CSV fields whole; line_num counts physical lines for messages
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting, strict=True)
    names: tuple[str, ...] | None = None
    rows: list[Row] = []
    try:
        for values in reader:
            number = reader.line_num
            if not values or all(not v.strip() for v in values):
                continue
            if header and names is None:
                names = tuple(v.strip() for v in values)
                continue
            row = Row(path, number, tuple(values), names)
            if len(values) < min_fields:
                sep = _sep_name(delimiter)
                raise row.error(f"expected at least {min_fields} {sep}-separated columns, found {len(values)}")
            rows.append(row)
    except csv.Error as err:
        raise AnnotationError(f"{path}:{reader.line_num}: malformed line ({err})") from None
    return rows


def _sep_name(delimiter: str) -> str:
    return {"\t": "tab", ",": "comma", " ": "space"}.get(delimiter, repr(delimiter))


def read_tsv(path: Path, *, header: bool = False, min_fields: int = 1) -> list[Row]:
    """Tab-separated rows; quotes are literal text (captions contain them), as in the official files."""
    return _read_delimited(path, "\t", header, csv.QUOTE_NONE, min_fields)


def read_csv(path: Path, *, header: bool = True, delimiter: str = ",", min_fields: int = 1) -> list[Row]:
    """Delimited rows with standard CSV quoting."""
    return _read_delimited(path, delimiter, header, csv.QUOTE_MINIMAL, min_fields)
