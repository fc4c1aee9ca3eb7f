"""``data check``: parse every split of a dataset and decode (some of) its videos, reporting every problem.

Failing on the first bad line or video (what a training run does) makes fixing a 10k-video download a
one-error-per-hour loop; this collects them all: annotation errors per split, missing videos, and videos that
exist but do not decode (zero bytes, truncated, not a video), each with the reason. Where decord would decode a
file, the check also compares its frames with PyAV's, which seeks exactly: decord returns other frames than the
ones asked for on some streams (HEVC with B-frames, README "Decoder backends"), which no error would reveal.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from allinone_bench.data.datasets import MISSING_VIDEO, DatasetAdapter, get_adapter
from allinone_bench.data.types import VideoRef
from allinone_bench.errors import DataError

DecodeMode = Literal["sample", "all", "none"]
DECODE_MODES: tuple[str, ...] = ("sample", "all", "none")

__all__ = ["CheckReport", "DECODE_MODES", "SplitReport", "check_dataset", "decode_problem"]


@dataclass
class SplitReport:
    """What was found in one split. ``annotation_error`` set means the split could not be parsed at all."""

    split: str
    samples: int = 0
    videos: int = 0
    decoded: int = 0
    missing: list[str] = field(default_factory=list)
    undecodable: list[tuple[str, str]] = field(default_factory=list)
    misread: list[tuple[str, str]] = field(default_factory=list)  # decord's frames are not the asked-for ones
    problems: list[tuple[str, str]] = field(default_factory=list)
    annotation_error: str | None = None
    annotation_files: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.annotation_error is None
            and self.samples > 0
            and not self.missing
            and not self.undecodable
            and not self.misread
            and not self.problems
        )

    def issues(self) -> list[str]:
        """One line per problem, for printing."""
        lines = []
        if self.annotation_error is not None:
            first_line = self.annotation_error.splitlines()[0]  # the layout hint is printed once, separately
            lines.append(f"[{self.split}] annotation error: {first_line}")
        elif self.samples == 0:
            lines.append(f"[{self.split}] no samples")
        lines += [f"[{self.split}] {MISSING_VIDEO}: {path}" for path in self.missing]
        lines += [f"[{self.split}] undecodable video: {path}: {reason}" for path, reason in self.undecodable]
        lines += [f"[{self.split}] misread video: {path}: {reason}" for path, reason in self.misread]
        lines += [f"[{self.split}] {path}: {reason}" for path, reason in self.problems]
        return lines


@dataclass
class CheckReport:
    """The result of :func:`check_dataset`: one :class:`SplitReport` per split checked."""

    adapter: str
    data_root: str
    options: dict[str, Any]
    decode: str
    splits: list[SplitReport]
    layout: str = ""

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.splits)

    def issues(self) -> list[str]:
        return [line for s in self.splits for line in s.issues()]

    def summary(self) -> str:
        """One line: OK, or the count of each kind of problem."""
        if self.ok:
            samples = sum(s.samples for s in self.splits)
            return f"{self.adapter}: OK ({len(self.splits)} splits, {samples} samples, decode={self.decode})"
        counts = {
            "annotation errors": sum(s.annotation_error is not None for s in self.splits),
            "empty splits": sum(s.annotation_error is None and s.samples == 0 for s in self.splits),
            "missing videos": len({p for s in self.splits for p in s.missing}),
            "undecodable videos": len({p for s in self.splits for p, _ in s.undecodable}),
            "videos decord misreads": len({p for s in self.splits for p, _ in s.misread}),
            "other problems": sum(len(s.problems) for s in self.splits),
        }
        found = ", ".join(f"{n} {what}" for what, n in counts.items() if n)
        return f"{self.adapter}: FAILED ({found})"


#: Mean |diff| in uint8 levels above which decord's frame at an index is another frame than PyAV's. Where decord
#: seeks right the two are bit-identical at native size (README "Decoder backends"); a wrong frame differs by far
#: more (8-80 levels on the HEVC clips of tests/test_data_check.py).
MISREAD_LEVELS = 2.0


def decode_problem(ref: VideoRef, backend: str = "auto") -> tuple[str, str] | None:
    """``None`` if the clip opens and five frames from first to last decode right under ``backend``; else
    ``("undecodable", reason)``, or ``("misread", reason)`` when decord returns other frames than PyAV."""
    from allinone_bench.data.video import candidate_backends, probe_num_frames, read_frames

    try:
        count = probe_num_frames(ref)
        if count <= 0:
            return "undecodable", "no frames"
        indices = sorted({0, count // 4, count // 2, 3 * count // 4, count - 1})
        frames = read_frames(ref, indices, backend=backend)
        if frames.ndim != 4 or frames.shape[0] == 0:
            return "undecodable", f"decoder returned frames of shape {frames.shape}"
    except DataError as err:
        reason = getattr(err, "reason", None)
        return "undecodable", reason or str(err)
    except Exception as err:  # a decoder library's own error is a finding here, not a crash
        return "undecodable", f"{type(err).__name__}: {err}"
    if candidate_backends(ref, backend)[0] != "decord":
        return None
    misread = _misread(ref, indices)
    return None if misread is None else ("misread", misread)


def _misread(ref: VideoRef, indices: list[int]) -> str | None:
    """decord's frames at ``indices`` against PyAV's; the reason when some differ (None also when either fails)."""
    from allinone_bench.data.video import read_frames

    try:
        ours = read_frames(ref, indices, backend="decord").astype(np.int16)
        exact = read_frames(ref, indices, backend="pyav").astype(np.int16)
    except Exception:  # a file one backend cannot read is not this check's finding
        return None
    if ours.shape != exact.shape:
        return None
    diffs = np.abs(ours - exact).mean(axis=(1, 2, 3))
    wrong = [i for i, d in zip(indices, diffs, strict=True) if d > MISREAD_LEVELS]
    if not wrong:
        return None
    return (f"decord returns other frames than PyAV at indices {wrong} (mean |diff| up to {diffs.max():.0f} levels; "
            f"decord's seeks are wrong on some streams, e.g. HEVC with B-frames): decode this dataset with "
            f"--set protocol.video.backend=pyav and check it with --backend pyav")


def _pick(refs: Sequence[VideoRef], mode: str, sample_size: int, seed: int) -> list[VideoRef]:
    if mode == "none":
        return []
    if mode == "all" or len(refs) <= sample_size:
        return list(refs)
    return random.Random(seed).sample(list(refs), sample_size)


def check_dataset(
    adapter_name: str,
    data_root: Path | str,
    options: dict[str, Any] | None = None,
    splits: Iterable[str] | None = None,
    decode: DecodeMode = "sample",
    sample_size: int = 20,
    *,
    seed: int = 0,
    progress: bool = False,
    backend: str = "auto",
) -> CheckReport:
    """Parse each split of ``adapter_name`` under ``data_root`` and decode its videos (``decode``: a seeded
    sample of ``sample_size`` per split, ``all`` of them, or ``none``) with the video ``backend`` a run would use
    (``protocol.video.backend``). Bad options raise
    :class:`~allinone_bench.errors.ConfigError`; everything wrong with the data is collected in the report."""
    if decode not in DECODE_MODES:
        raise ValueError(f"decode must be one of {DECODE_MODES}, got {decode!r}")
    adapter: DatasetAdapter = get_adapter(adapter_name)(Path(data_root), **(options or {}))
    wanted = list(splits) if splits is not None else list(adapter.splits)
    for split in wanted:
        adapter.check_split(split)
    verdicts: dict[Path, tuple[str, str] | None] = {}  # val and test often share files: decode each video once
    reports = []
    for split in wanted:
        report = SplitReport(split)
        reports.append(report)
        try:
            loaded = adapter.load(split)
        except DataError as err:
            report.annotation_error = str(err)
            continue
        report.samples = len(loaded.samples)
        report.annotation_files = [str(p) for p in loaded.annotation_files]
        report.missing = [path for path, reason in loaded.problems if reason == MISSING_VIDEO]
        report.problems = [(path, reason) for path, reason in loaded.problems if reason != MISSING_VIDEO]
        refs: dict[Path, VideoRef] = {}
        for sample in loaded.samples:
            refs.setdefault(sample.video.path, sample.video)
        report.videos = len(refs)
        missing = set(report.missing)
        present = [ref for path, ref in refs.items() if str(path) not in missing]
        todo = _pick(present, decode, sample_size, seed)
        for ref in _track(todo, f"{adapter_name}/{split}: decoding", progress):
            if ref.path not in verdicts:
                verdicts[ref.path] = decode_problem(ref, backend)
            verdict = verdicts[ref.path]
            if verdict is None:
                report.decoded += 1
            elif verdict[0] == "misread":
                report.misread.append((str(ref.path), verdict[1]))
            else:
                report.undecodable.append((str(ref.path), verdict[1]))
    return CheckReport(
        adapter=adapter_name,
        data_root=str(data_root),
        options=adapter.resolved_options(),
        decode=decode,
        splits=reports,
        layout=adapter.layout,
    )


def _track(items: list[VideoRef], description: str, enabled: bool) -> Iterable[VideoRef]:
    if not enabled or not items:
        return items
    from allinone_bench.engine.progress import track

    return track(items, description, unit="videos")
