"""Dataset adapter base class, registry, and strict readers for official annotation files.

An adapter turns one dataset's *official* release files (as found under ``DATA_ROOT/<dataset_dir>/``) into
typed samples (:mod:`allinone_bench.data.types`). Readers here fail loudly with the file *and line* at fault,
because a silently skipped annotation line changes a benchmark number without anyone noticing.

Writing an adapter::

    @register_adapter("msrvtt_qa")
    class MSRVTTQA(DatasetAdapter):
        sample_type = OpenQASample
        dataset_dir = "msrvtt"
        splits = ("train", "val", "test")
        layout = "msrvtt/meta_data/msrvtt_qa_{train,val,test}.jsonl ..."
        option_specs = {"val_file": Option("val", choices=("val", "test"), help="...")}

        def _load(self, split: str) -> DatasetSplit: ...          # parse, build samples
        @classmethod
        def synthesize(cls, out_root, *, num_videos=24, seed=0) -> Path: ...

``load(split)`` validates the split name, calls ``_load`` and then records every sample whose video file is
missing in ``DatasetSplit.problems`` as ``(path, "missing video")``: samples are *kept*, so a task decides
whether to skip (and count) them or stop; adapters therefore never check video existence themselves.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import AfterValidator, ValidationError, create_model

from allinone_bench.data.types import DatasetSplit, VideoRef
from allinone_bench.errors import AnnotationError, ConfigError

__all__ = [
    "DatasetAdapter",
    "JsonRecord",
    "Option",
    "Row",
    "MISSING_VIDEO",
    "HOLDOUT_FRACTION",
    "drop_missing_videos",
    "holdout_keys",
    "get_adapter",
    "list_adapters",
    "read_ans2label",
    "read_json",
    "read_json_records",
    "read_jsonl",
    "read_lines",
    "read_csv",
    "read_tsv",
    "record_id",
    "register_adapter",
    "require_file",
    "unique_or_fallback",
]

MISSING_VIDEO = "missing video"
"""Reason string ``load`` records in ``DatasetSplit.problems`` for a video that does not exist on disk."""


# --------------------------------------------------------------------------------------------------
# Options


@dataclass(frozen=True)
class Option:
    """One adapter option (set from a task YAML's ``dataset.options``, ``--set dataset.options.KEY=...`` or
    ``data check -o KEY=VALUE``).

    The value is validated by pydantic (lax, so command-line strings become the type of ``default`` when that
    is a bool, int or float); ``choices`` restricts the allowed values.
    """

    default: Any
    choices: tuple[Any, ...] | None = None
    help: str = ""

    def annotation(self) -> Any:
        """The pydantic annotation of this option's values."""
        typed = type(self.default) if isinstance(self.default, (bool, int, float)) else Any
        if self.choices is None:
            return typed
        choices = self.choices

        def _among(value: Any) -> Any:
            if value not in choices:
                raise ValueError(f"is not one of {', '.join(map(repr, choices))}")
            return value

        return Annotated[typed, AfterValidator(_among)]


_TYPE_NAMES = {"int_parsing": "int", "int_type": "int", "int_from_float": "int", "float_parsing": "float",
               "float_type": "float", "bool_parsing": "bool", "bool_type": "bool"}


def validate_options(adapter: str, specs: Mapping[str, Option], options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` checked against ``specs`` and completed with the defaults (one-line errors)."""
    unknown = sorted(set(options) - set(specs))
    if unknown:
        known = ", ".join(sorted(specs)) or "none"
        raise ConfigError(f"dataset {adapter!r}: unknown option {unknown[0]!r} (known options: {known})")
    model = create_model(f"{adapter}_options", **{k: (spec.annotation(), spec.default) for k, spec in specs.items()})
    try:
        return dict(model.model_validate(dict(options)))
    except ValidationError as err:
        first = err.errors()[0]
        key, value = first["loc"][0], first.get("input")
        if first["type"] in _TYPE_NAMES:
            reason = f"is not a valid {_TYPE_NAMES[first['type']]}"
        else:
            reason = str(first.get("ctx", {}).get("error", first["msg"]))
        raise ConfigError(f"dataset {adapter!r}: option {key}={value!r} {reason}") from None


# --------------------------------------------------------------------------------------------------
# Adapter base class


class DatasetAdapter(ABC):
    """Parses one dataset's official files under ``data_root/<dataset_dir>/`` into typed samples.

    Class attributes every adapter sets:

    * ``name``: registry name (set by :func:`register_adapter`);
    * ``sample_type``: the dataclass of its samples (e.g. ``OpenQASample``);
    * ``dataset_dir``: folder under the data root (``"msrvtt"``, ``"tgif"``, ...);
    * ``splits``: the split names ``load`` accepts;
    * ``layout``: human description of the expected files, printed when something is missing;
    * ``option_specs``: the options ``__init__`` accepts (unknown ones are a :class:`ConfigError`).
    """

    name: ClassVar[str] = ""
    sample_type: ClassVar[type]
    dataset_dir: ClassVar[str] = ""
    splits: ClassVar[tuple[str, ...]] = ("train", "val", "test")
    layout: ClassVar[str] = ""
    option_specs: ClassVar[Mapping[str, Option]] = {}

    def __init__(self, data_root: Path | str, **options: Any) -> None:
        self.data_root = Path(data_root).expanduser()
        self.root = self._resolve_root(self.data_root)
        self.options: dict[str, Any] = validate_options(self.name, self.option_specs, options)

    @classmethod
    def _resolve_root(cls, data_root: Path) -> Path:
        """``data_root/<dataset_dir>``; also accepts the dataset folder itself (``--data-root /data/msrvtt``)."""
        nested = data_root / cls.dataset_dir
        if not nested.is_dir() and data_root.name == cls.dataset_dir and data_root.is_dir():
            return data_root
        return nested

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, options={self.options!r})"

    # ---- public API -------------------------------------------------------------------------------

    def load(self, split: str) -> DatasetSplit:
        """Parse ``split``, check sample ids are unique, and list missing videos in ``problems`` (samples are
        kept: the task decides whether to skip and count them, see :func:`drop_missing_videos`)."""
        self.check_split(split)
        result = self._load(split)
        ids: set[str] = set()
        for sample in result.samples:
            if sample.id in ids:
                files = ", ".join(map(str, result.annotation_files))
                raise AnnotationError(
                    f"dataset {self.name!r} split {split!r}: duplicate sample id {sample.id!r} ({files})"
                )
            ids.add(sample.id)
        seen: set[Path] = set()
        for sample in result.samples:
            path = sample.video.path
            if path in seen:
                continue
            seen.add(path)
            if not path.exists():
                result.problems.append((str(path), MISSING_VIDEO))
        return result

    def video_refs(self, split: str) -> list[VideoRef]:
        """Distinct videos of ``split`` in first-seen order (for ``data check`` and caches)."""
        self.check_split(split)
        refs: dict[Path, VideoRef] = {}
        for sample in self._load(split).samples:
            refs.setdefault(sample.video.path, sample.video)
        return list(refs.values())

    def video_paths(self, split: str) -> list[Path]:
        """Distinct video paths of ``split`` in first-seen order."""
        return [ref.path for ref in self.video_refs(split)]

    def check_split(self, split: str) -> None:
        if split not in self.splits:
            raise ConfigError(f"dataset {self.name!r} has no split {split!r} (splits: {', '.join(self.splits)})")

    # ---- for subclasses ----------------------------------------------------------------------------

    @abstractmethod
    def _load(self, split: str) -> DatasetSplit:
        """Parse the official files of ``split`` (already validated) into a :class:`DatasetSplit`."""

    @classmethod
    @abstractmethod
    def synthesize(cls, out_root: Path, *, num_videos: int = 24, seed: int = 0) -> Path:
        """Write a small synthetic dataset in this dataset's official layout under ``out_root/<dataset_dir>``.

        ``cls(out_root).load(split)`` must then work for every split. Returns the dataset folder.
        """

    def require_file(self, relative: str | Path) -> Path:
        """``root/relative`` if it exists, else an :class:`AnnotationError` naming it and the layout."""
        return require_file(self.root / relative, self.layout, dataset=self.name)

    def new_split(self, split: str, samples: list[Any], files: Iterable[Path], **extra: Any) -> DatasetSplit:
        """A :class:`DatasetSplit` named after this adapter (saves boilerplate in ``_load``)."""
        return DatasetSplit(dataset=self.name, split=split, samples=samples, annotation_files=list(files), **extra)


HOLDOUT_FRACTION = 0.1
"""Share of training videos a ``val_source: holdout`` option moves from train to val."""


def holdout_keys(keys: Iterable[str], fraction: float = HOLDOUT_FRACTION) -> set[str]:
    """The ``ceil(fraction * n)`` distinct keys with the smallest CRC32: deterministic, independent of file
    order, never empty. Adapters whose dataset has no validation set use it to carve ``val`` out of train."""
    unique = sorted(set(keys))
    count = min(len(unique), max(1, math.ceil(fraction * len(unique))))
    return set(sorted(unique, key=lambda k: (zlib.crc32(k.encode("utf-8")), k))[:count])


def drop_missing_videos(split: DatasetSplit) -> tuple[DatasetSplit, int]:
    """A copy of ``split`` without samples whose video ``load`` found missing, and how many were dropped."""
    missing = {path for path, reason in split.problems if reason == MISSING_VIDEO}
    kept = [s for s in split.samples if str(s.video.path) not in missing]
    copy = DatasetSplit(
        dataset=split.dataset,
        split=split.split,
        samples=kept,
        answer_vocab=split.answer_vocab,
        class_names=split.class_names,
        annotation_files=list(split.annotation_files),
        problems=list(split.problems),
    )
    return copy, len(split.samples) - len(kept)


# --------------------------------------------------------------------------------------------------
# Registry

_ADAPTERS: dict[str, type[DatasetAdapter]] = {}
A = TypeVar("A", bound=type[DatasetAdapter])


def register_adapter(name: str) -> Callable[[A], A]:
    """Class decorator: register an adapter under ``name`` (and set ``cls.name``)."""

    def decorator(cls: A) -> A:
        existing = _ADAPTERS.get(name)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise ValueError(f"dataset adapter {name!r} registered twice ({existing.__module__}, {cls.__module__})")
        cls.name = name
        _ADAPTERS[name] = cls
        return cls

    return decorator


def get_adapter(name: str) -> type[DatasetAdapter]:
    """The adapter class registered as ``name``; :class:`ConfigError` listing the known names otherwise."""
    try:
        return _ADAPTERS[name]
    except KeyError:
        raise ConfigError(f"unknown dataset adapter {name!r} (known: {', '.join(list_adapters())})") from None


def list_adapters() -> list[str]:
    return sorted(_ADAPTERS)


# --------------------------------------------------------------------------------------------------
# Readers: every error names the file and the line


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


def _read_text(path: Path) -> str:
    require_file(path)
    try:
        return path.read_text(encoding="utf-8-sig")  # tolerate a BOM (spreadsheet exports)
    except UnicodeDecodeError as err:
        raise AnnotationError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None


def read_lines(path: Path) -> list[tuple[int, str]]:
    """Non-empty stripped lines with their 1-based line numbers."""
    out = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        stripped = line.strip()
        if stripped:
            out.append((number, stripped))
    return out


def read_json(path: Path) -> Any:
    """A whole JSON document; a syntax error names the line and column."""
    text = _read_text(path)
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
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
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
    text = _read_text(path)
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
    text = _read_text(path)
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
