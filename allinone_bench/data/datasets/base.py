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

Readers (:mod:`.readers`, re-exported here) name the file and line of every error and decode every annotation
file the same way (BOM and CRLF tolerated).

``load(split)`` validates the split name, calls ``_load`` and then records every sample whose video file is
missing in ``DatasetSplit.problems`` as ``(path, "missing video")``: samples are *kept*, so a task decides
whether to skip (and count) them or stop; adapters therefore never check video existence themselves.
"""

from __future__ import annotations

import math
import zlib
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from allinone_bench.data.datasets.readers import (
    JsonRecord,
    Row,
    read_ans2label,
    read_csv,
    read_json,
    read_json_records,
    read_jsonl,
    read_lines,
    read_text,
    read_tsv,
    record_id,
    require_file,
    unique_or_fallback,
)
from allinone_bench.data.types import DatasetSplit
from allinone_bench.errors import AnnotationError, ConfigError

__all__ = [
    "DatasetAdapter",
    "JsonRecord",
    "Option",
    "Row",
    "MISSING_VIDEO",
    "answer_vocab",
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
    "read_text",
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

    String values (from the command line) are coerced to the type of ``default`` when that is a bool, int
    or float; ``choices`` restricts the allowed values.
    """

    default: Any
    choices: tuple[Any, ...] | None = None
    help: str = ""

    def coerce(self, adapter: str, key: str, value: Any) -> Any:
        if isinstance(value, str) and not isinstance(self.default, str) and self.default is not None:
            value = _coerce_str(adapter, key, value, type(self.default))
        if self.choices is not None and value not in self.choices:
            raise ConfigError(
                f"dataset {adapter!r}: option {key}={value!r} is not one of {', '.join(map(repr, self.choices))}"
            )
        return value


def _coerce_str(adapter: str, key: str, value: str, kind: type) -> Any:
    try:
        if kind is bool:
            lowered = value.strip().lower()
            if lowered in {"true", "1", "yes", "on"}:
                return True
            if lowered in {"false", "0", "no", "off"}:
                return False
            raise ValueError(value)
        if kind in (int, float):
            return kind(value)
    except ValueError:
        raise ConfigError(f"dataset {adapter!r}: option {key}={value!r} is not a valid {kind.__name__}") from None
    return value


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
    auto_order: ClassVar[tuple[str, str]] = ("official", "bundle")
    """Which annotation form ``annotation: auto`` prefers when both are there (see :meth:`choose_annotation`)."""

    def __init__(self, data_root: Path | str, **options: Any) -> None:
        self.data_root = Path(data_root).expanduser()
        self.root = self._resolve_root(self.data_root)
        unknown = sorted(set(options) - set(self.option_specs))
        if unknown:
            known = ", ".join(sorted(self.option_specs)) or "none"
            raise ConfigError(
                f"dataset {self.name!r}: unknown option {unknown[0]!r} (known options: {known})"
            )
        self.options: dict[str, Any] = {
            key: spec.coerce(self.name, key, options.get(key, spec.default))
            for key, spec in self.option_specs.items()
        }
        self._resolved: dict[str, dict[str, Any]] = {}  # option -> {split: what ``auto`` became}

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

    def find_file(self, name: str, folders: Sequence[str] = ("",)) -> Path | None:
        """The first existing ``root/<folder>/name`` (releases unpack into different folders), else None."""
        return next((p for p in (self.root / f / name for f in folders) if p.is_file()), None)

    def record(self, key: str, split: str, value: Any) -> Any:
        """Remember what option ``key`` resolved to for ``split`` (e.g. ``annotation: auto`` -> ``official``), so
        :meth:`resolved_options` can say which files a number came from. Returns ``value``."""
        self._resolved.setdefault(key, {})[split] = value
        return value

    def resolved_options(self) -> dict[str, Any]:
        """The options with each recorded resolution in place of what was asked: one value when every split
        loaded so far resolved alike, else ``{split: value}``. This is what results.json records."""
        out = dict(self.options)
        for key, per_split in self._resolved.items():
            values = list(dict.fromkeys(per_split.values()))
            out[key] = values[0] if len(values) == 1 else dict(sorted(per_split.items()))
        return out

    def locate(self, name: str, folders: Sequence[str] = ("",)) -> Path:
        """:meth:`find_file`, or the first candidate's path when none exists (for error messages)."""
        return self.find_file(name, folders) or self.root / folders[0] / name

    def choose_annotation(self, split: str, official: Sequence[Path], bundle: Sequence[Path]) -> str:
        """``"official"`` (the dataset's own public release) or ``"bundle"`` (the All-in-One annotation bundle)
        for ``split``, per option ``annotation``: ``auto`` takes the first form of :attr:`auto_order` whose files
        all exist. A missing file of the chosen form raises naming it and the expected layout; the choice is
        recorded (:meth:`resolved_options`)."""
        mode = self.options.get("annotation", "auto")
        if mode == "auto":
            forms = {"official": official, "bundle": bundle}
            complete = [form for form in self.auto_order if all(p.exists() for p in forms[form])]
            if complete:
                mode = complete[0]
            else:
                missing = ", ".join(str(p) for p in (*official, *bundle) if not p.exists())
                raise AnnotationError(f"dataset {self.name!r} split {split!r}: neither the official release nor "
                                      f"the All-in-One bundle is complete (missing {missing})\n"
                                      f"expected layout:\n{self.layout}")
        for path in official if mode == "official" else bundle:
            if not path.exists():  # (a folder counts: some releases are a folder of files)
                require_file(path, self.layout, dataset=self.name)
        return self.record("annotation", split, mode)

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


def answer_vocab(answers: Iterable[str], size: int = 0) -> dict[str, int]:
    """``{answer: label}`` over the ``size`` most frequent answers (``0``: all), most frequent first, ties in
    alphabetical order: deterministic whatever the file order. For original QA releases, which ship no
    vocabulary file; the bundle's ``*ans2label.json`` (ClipBERT's) also keep frequent training answers, but
    how they broke ties at the cut is not public, so the two vocabularies may differ at the margin."""
    counts = Counter(answers)
    ranked = sorted(counts, key=lambda a: (-counts[a], a))
    return {answer: label for label, answer in enumerate(ranked[:size] if size > 0 else ranked)}


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
