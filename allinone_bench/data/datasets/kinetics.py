"""Kinetics-400 (Kay et al. 2017): action recognition, used by All-in-One as a frozen-feature linear probe.

Official annotation CSVs ``annotations/{train,validate,test}.csv`` (also accepted at the dataset root, as in
the ``kinetics400.tar.gz`` release, and under the ActivityNet crawler's names ``kinetics-400_{train,val,test}.csv``),
header ``label,youtube_id,time_start,time_end,split[,is_cc]``; the clip
file is ``<youtube_id>_<time_start:06d>_<time_end:06d>.mp4`` (the naming of the official downloader and the
CVDF mirror) inside ``<split_dir>/<label>/`` or flat in ``<split_dir>/``. Split folders accepted:
``train``; ``val``/``validate``/``validation``; ``test``. Label folders may use spaces or underscores: clips
are found by file name, whatever folder they sit in (a folder listing per split, so no per-clip probing).

Class index = position in the sorted label names of ``train.csv`` (400 classes in the real release), so every
split shares one index; without ``train.csv`` (an evaluation that reads only the test file) the labels of
``validate.csv`` stand in (all 400 occur in it: 19,906 clips in the real file). ``test`` reads ``validate.csv`` by default (``test_file: validate``; the All-in-One
code evaluates on val, and linear-probe papers report val) or the labelled 2020 ``test.csv``
(``test_file: test``; the original 2017 ``test.csv`` has no labels and is rejected).

Many K400 clips have vanished from YouTube: ``load`` lists every absent file in ``problems`` (the sample is
kept with its expected path); tasks drop and count them.

The All-in-One bundle form (``annotation: bundle``; ``auto`` takes the CSVs when present) is also read:
``meta_data/k400_{train,test}_tsm.list``
(one clip per line: a path from the authors' cluster, then the 0-based label as the last field, tab or space
separated; ``val`` and ``test`` read the test list, whose clips are K400 validation clips, looked up in the
val and test folders) with ``meta_data/kinetics_label_map.txt`` (one class name
per line, index = line). The listed path is reduced to its file name and looked up like the CSV clips.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from allinone_bench.data.datasets.base import (
    DatasetAdapter,
    Option,
    Row,
    read_csv,
    read_lines,
    register_adapter,
)
from allinone_bench.data.synthetic import FPS, plan_videos, write_lines, write_mp4, write_rows
from allinone_bench.data.types import ClassificationSample, DatasetSplit, VideoRef
from allinone_bench.errors import AnnotationError

__all__ = ["Kinetics400", "KineticsClip", "clip_stem", "parse_csv_row"]

_CSV = {"train": "train.csv", "validate": "validate.csv", "test": "test.csv"}
_CRAWLER_CSV = {"train": "kinetics-400_train.csv", "validate": "kinetics-400_val.csv", "test": "kinetics-400_test.csv"}
_CSV_DIRS = ("annotations", "")
_SPLIT_DIRS = {"train": ("train", "training"), "validate": ("val", "validate", "validation", "valid"),
               "test": ("test", "testing")}
_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi")
_META = "meta_data"
_TSM = {"train": "k400_train_tsm.list", "validate": "k400_test_tsm.list", "test": "k400_test_tsm.list"}
_LABEL_MAP = "kinetics_label_map.txt"

# synthetic classes: what moves where, named like real Kinetics labels (lowercase words with spaces)
SYNTHETIC_LABELS = {"left": "sliding to the left", "right": "sliding to the right",
                    "up": "floating upward", "down": "falling down"}


def clip_stem(youtube_id: str, start: int, end: int) -> str:
    """The official clip file stem: ``<youtube_id>_<start:06d>_<end:06d>``."""
    return f"{youtube_id}_{start:06d}_{end:06d}"


class KineticsClip:
    """One annotated clip (CSV row or TSM list line)."""

    __slots__ = ("label", "stem", "where")

    def __init__(self, label: str, stem: str, where: str) -> None:
        self.label, self.stem, self.where = label, stem, where


def _seconds(row: Row, column: str) -> int:
    text = row[column].strip()
    try:
        value = float(text)
    except ValueError:
        raise row.error(f"{column} should be a number of seconds, got {text!r}") from None
    if value != int(value) or value < 0:
        raise row.error(f"{column} should be a whole, non-negative number of seconds, got {text!r}")
    return int(value)


def parse_csv_row(row: Row) -> KineticsClip:
    """A clip from one row of an official CSV (columns looked up by header name)."""
    if row.header is None or "label" not in row.header:
        raise row.error(f"no 'label' column (header: {row.header}): this CSV has no labels (the 2017 test csv); "
                        "use test_file: validate")
    label, youtube_id = row["label"].strip(), row["youtube_id"].strip()
    if not label or not youtube_id:
        raise row.error("empty label or youtube_id")
    start, end = _seconds(row, "time_start"), _seconds(row, "time_end")
    return KineticsClip(label, clip_stem(youtube_id, start, end), row.where)


class _ClipIndex:
    """File stem -> path for every video under a split folder (depth 1 and 2), listed once."""

    def __init__(self, folders: list[Path]) -> None:
        self.paths: dict[str, Path] = {}
        for folder in folders:
            self._scan(folder, depth=2)

    def _scan(self, folder: Path, depth: int) -> None:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in entries:
            if entry.is_dir():
                if depth > 1:
                    self._scan(Path(entry.path), depth - 1)
                continue
            stem, ext = os.path.splitext(entry.name)
            if ext.lower() in _EXTENSIONS:
                self.paths.setdefault(stem, Path(entry.path))

    def get(self, stem: str) -> Path | None:
        return self.paths.get(stem)


@register_adapter("k400")
class Kinetics400(DatasetAdapter):
    """Kinetics-400 classification (see the module docstring for files, class index and protocol)."""

    sample_type = ClassificationSample
    dataset_dir = "k400"
    splits = ("train", "val", "test")
    layout = """\
DATA_ROOT/k400/
  annotations/{train,validate,test}.csv     (or at the root; or kinetics-400_{train,val,test}.csv)
                                            label,youtube_id,time_start,time_end,split[,is_cc]
  train/<label>/<youtube_id>_<start:06d>_<end:06d>.mp4   (label folder optional: flat train/ works too)
  val/<label>/...                           (or validate/, validation/)
  test/<label>/...
  meta_data/k400_{train,test}_tsm.list + meta_data/kinetics_label_map.txt   (annotation: bundle)"""
    option_specs = {
        "test_file": Option("validate", choices=("validate", "test"),
                            help="annotation file of the test split (validate.csv, as the paper's protocol)"),
        "annotation": Option("auto", choices=("auto", "official", "bundle"),
                             help="official CSVs, or the All-in-One TSM lists (auto: CSVs when present)"),
    }

    def _key(self, split: str) -> str:
        return {"train": "train", "val": "validate", "test": self.options["test_file"]}[split]

    def _csv(self, key: str) -> Path:
        """The CSV of ``key`` under either release name, in ``annotations/`` or the root (else the first name)."""
        for name in (_CSV[key], _CRAWLER_CSV[key]):
            found = self.find_file(name, _CSV_DIRS)
            if found is not None:
                return found
        return self.root / _CSV_DIRS[0] / _CSV[key]

    def _clips(self, split: str) -> tuple[str, list[Path], list[str], list[KineticsClip]]:
        """The form read, the annotation files, the class names and the clips of ``split``."""
        key = self._key(split)
        bundle = [self.root / _META / _TSM[key], self.root / _META / _LABEL_MAP]
        if self.choose_annotation(split, [self._csv(key)], bundle) == "bundle":
            return ("bundle", *self._tsm_clips(key))
        path = self._csv(key)
        clips = [parse_csv_row(row) for row in read_csv(path, min_fields=4)]
        classes = self._csv("train")
        if not classes.is_file() and self._csv("validate").is_file():
            classes = self._csv("validate")  # all 400 labels occur in it (see the module docstring)
        labels = clips if classes == path else [parse_csv_row(row) for row in read_csv(classes, min_fields=4)]
        return "official", list(dict.fromkeys([path, classes])), sorted({c.label for c in labels}), clips

    def _tsm_clips(self, key: str) -> tuple[list[Path], list[str], list[KineticsClip]]:
        map_path = self.require_file(f"{_META}/{_LABEL_MAP}")
        names = [text for _, text in read_lines(map_path)]
        path = self.require_file(f"{_META}/{_TSM[key]}")
        clips = []
        for line, text in read_lines(path):
            fields = re.split(r"[\t ]+", text)
            try:
                label = int(fields[-1])
            except ValueError:
                label = -1
            if len(fields) < 2 or not 0 <= label < len(names):
                raise AnnotationError(
                    f"{path}:{line}: expected '<path> ... <label 0-{len(names) - 1}>', got {text!r}"
                )
            stem = os.path.splitext(os.path.basename(fields[0].rstrip("/")))[0]
            clips.append(KineticsClip(names[label], stem, f"{path}:{line}"))
        return [path, map_path], names, clips

    def _load(self, split: str) -> DatasetSplit:
        form, files, class_names, clips = self._clips(split)
        index = {name: i for i, name in enumerate(class_names)}
        key = self._key(split)
        keys = [key] if key == "train" or form == "official" else ["validate", "test"]
        folders = [self.root / d for k in keys for d in _SPLIT_DIRS[k]]
        found = _ClipIndex(folders)
        home = next((f for f in folders if f.is_dir()), folders[0])  # where a missing clip is reported
        samples = []
        for clip in clips:
            if clip.label not in index:
                raise AnnotationError(f"{clip.where}: label {clip.label!r} does not occur in {files[-1]}")
            path = found.get(clip.stem)
            if path is None:  # expected location; load() lists it as missing
                path = home / clip.label / f"{clip.stem}.mp4"
            samples.append(ClassificationSample(clip.stem, VideoRef(path), index[clip.label], clip.label))
        return self.new_split(split, samples, files, class_names=class_names)

    # ---- synthetic ----------------------------------------------------------------------------------

    @classmethod
    def synthesize(cls, out_root: Path, *, num_videos: int = 24, seed: int = 0) -> Path:
        """Classes = motion direction (4 labels named like Kinetics'), so a probe needs more than one frame.
        Official CSVs (train / validate / labelled test on disjoint clips) with videos in
        ``{train,val,test}/<label>/``; the TSM lists and label map of the All-in-One bundle point at the same
        clips. One train clip is listed but not written, as happens with real K400 downloads."""
        root = Path(out_root) / cls.dataset_dir
        labels = sorted(SYNTHETIC_LABELS.values())
        header = ("label", "youtube_id", "time_start", "time_end", "split", "is_cc")
        rows: dict[str, list[tuple[str, ...]]] = {"train": [], "validate": [], "test": []}
        tsm: dict[str, list[str]] = {"train": [], "test": []}
        folder = {"train": "train", "validate": "val", "test": "test"}
        for clip in plan_videos(num_videos, seed):
            key = {"train": "train", "val": "validate", "test": "test"}[clip.split]
            label = SYNTHETIC_LABELS[clip.scene.direction]
            youtube_id = f"syn{clip.index:04d}{clip.seed % 10**4:04d}"  # 11 characters, like a YouTube id
            start = 10 * (clip.index % 5)
            stem = clip_stem(youtube_id, start, start + 10)
            rows[key].append((label, youtube_id, str(start), str(start + 10), key, "0"))
            path = root / folder[key] / label / f"{stem}.mp4"
            if not (key == "train" and clip.index == 0):
                write_mp4(path, clip.frames(), fps=FPS)
            if key != "test":  # the bundle's test list holds the validation clips (val == test)
                listed = f"/cluster/k400/{folder[key]}/{label.replace(' ', '_')}/{stem}.mp4"
                tsm["train" if key == "train" else "test"].append(f"{listed}\t{labels.index(label)}")
        for key, items in rows.items():
            write_rows(root / "annotations" / _CSV[key], items, delimiter=",", header=header)
        for key, lines in tsm.items():
            write_lines(root / _META / _TSM[key], lines)
        write_lines(root / _META / _LABEL_MAP, labels)
        return root
