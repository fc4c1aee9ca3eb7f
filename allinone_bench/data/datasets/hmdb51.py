"""HMDB51 (Kuehne et al. 2011): action recognition, used by All-in-One as a frozen-feature linear probe.

Official split files ``testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt``: one line per video of the
class, ``<video>.avi <id>`` with id 1 = train, 2 = test, 0 = unused in that split (70/30 clips per class).
Option ``split`` (1, 2 or 3) picks the file set. Classes = the ``<class>`` names of the split files sorted by
name (51 in the real release: brush_hair ... wave), index = position: the numbering of mmaction's
``classInd.txt``, which the All-in-One bundle's ``hmdb51_classInd.txt`` follows (``1 brush_hair``). Sorting the
file names instead would differ: ``climb_stairs_test_split1.txt`` sorts before ``climb_test_split1.txt``. HMDB51 has no validation set: ``val`` reads
the test videos (as the official code does) unless ``val_source: holdout`` carves ~10% of the training videos
out (train then excludes them).

Videos: ``videos/<class>/<video>.avi`` (the unpacked per-class rar archives), flat ``videos/<video>.avi``,
``<class>/<video>.avi`` at the dataset root, or flat at the root (the All-in-One layout).

The All-in-One bundle form (``annotation: bundle``, split 1 only; ``auto`` takes the official split files when
their folder exists) is read too:
``meta_data/hmdb51_rgb_{train,val}_split_1.txt`` (``<path> <num_frames> <label 0-based>``, space separated;
``val`` and ``test`` read the val file) with ``meta_data/hmdb51_classInd.txt`` (``1 brush_hair``, 1-based).
"""

from __future__ import annotations

import os
from pathlib import Path

from allinone_bench.data.datasets.base import (
    DatasetAdapter,
    Option,
    holdout_keys,
    read_lines,
    register_adapter,
)
from allinone_bench.data.synthetic import FPS, plan_videos, write_lines, write_mp4
from allinone_bench.data.types import ClassificationSample, DatasetSplit, VideoRef
from allinone_bench.errors import AnnotationError, ConfigError

__all__ = ["HMDB51", "parse_class_index", "parse_split_file"]

_SPLITS_DIR = "testTrainMulti_7030_splits"
_SUFFIX = "_test_split{n}.txt"
_ROLE = {"train": 1, "val": 2, "test": 2}
_META = "meta_data"
_BUNDLE = {"train": "hmdb51_rgb_train_split_1.txt", "val": "hmdb51_rgb_val_split_1.txt",
           "test": "hmdb51_rgb_val_split_1.txt"}
_CLASS_IND = "hmdb51_classInd.txt"

# synthetic classes: motion direction, named like HMDB51's lowercase_underscore actions
SYNTHETIC_CLASSES = {"left": "slide_left", "right": "slide_right", "up": "rise_up", "down": "fall_down"}


def parse_split_file(path: Path) -> list[tuple[str, int]]:
    """``(video file name, role)`` per line of ``<class>_test_split<n>.txt`` (role 0 unused, 1 train, 2 test)."""
    out = []
    for line, text in read_lines(path):
        fields = text.split()
        if len(fields) != 2 or fields[1] not in {"0", "1", "2"}:
            raise AnnotationError(f"{path}:{line}: expected '<video>.avi <0|1|2>', got {text!r}")
        out.append((fields[0], int(fields[1])))
    return out


def parse_class_index(path: Path) -> list[str]:
    """Class names of a ``classInd`` file (``<1-based index> <name>`` per line), indexed from 0; the indices
    must run 1..N in order."""
    names = []
    for line, text in read_lines(path):
        fields = text.split()
        if len(fields) != 2 or not fields[0].isdigit():
            raise AnnotationError(f"{path}:{line}: expected '<index> <class name>', got {text!r}")
        if int(fields[0]) != len(names) + 1:
            raise AnnotationError(f"{path}:{line}: class index {fields[0]} out of order (expected {len(names) + 1})")
        names.append(fields[1])
    if not names:
        raise AnnotationError(f"{path}: no classes")
    return names


@register_adapter("hmdb51")
class HMDB51(DatasetAdapter):
    """HMDB51 classification (see the module docstring for files, classes and protocol)."""

    sample_type = ClassificationSample
    dataset_dir = "hmdb51"
    splits = ("train", "val", "test")
    layout = """\
DATA_ROOT/hmdb51/
  testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt   '<video>.avi <0|1|2>' (1 train, 2 test, 0 unused)
  videos/<class>/<video>.avi            (or flat videos/<video>.avi, <class>/<video>.avi, <video>.avi)
  meta_data/hmdb51_rgb_{train,val}_split_1.txt + meta_data/hmdb51_classInd.txt   (annotation: bundle)"""
    option_specs = {
        "split": Option(1, choices=(1, 2, 3), help="official train/test split number"),
        "annotation": Option("auto", choices=("auto", "official", "bundle"),
                             help="official split files, or the All-in-One bundle lists (split 1 only)"),
        "val_source": Option("test", choices=("test", "holdout"),
                             help="val = the test videos (official), or a ~10% holdout of training videos"),
    }

    def video(self, class_name: str, file_name: str) -> VideoRef:
        candidates = [self.root / "videos" / class_name / file_name, self.root / "videos" / file_name,
                      self.root / class_name / file_name, self.root / file_name]
        return VideoRef(next((p for p in candidates if p.is_file()), candidates[0]))

    def _load(self, split: str) -> DatasetSplit:
        holdout = self.options["val_source"] == "holdout" and split != "test"
        source = "train" if holdout else split
        bundle = [self.root / _META / _CLASS_IND, self.root / _META / _BUNDLE[source]]
        if self.choose_annotation(split, [self.root / _SPLITS_DIR], bundle) == "bundle":
            files, class_names, items = self._bundle_items(source)
        else:
            files, class_names, items = self._official_items(source)
        if holdout:
            held = holdout_keys(name for _, name in items)
            items = [(label, name) for label, name in items if (name in held) == (split == "val")]
        samples = [
            ClassificationSample(os.path.splitext(name)[0], self.video(class_names[label], name), label,
                                 class_names[label])
            for label, name in items
        ]
        return self.new_split(split, samples, files, class_names=class_names)

    def _official_items(self, split: str) -> tuple[list[Path], list[str], list[tuple[int, str]]]:
        number = self.options["split"]
        folder = self.root / _SPLITS_DIR
        suffix = _SUFFIX.format(n=number)
        by_class = {f.name[: -len(suffix)]: f for f in folder.glob(f"*{suffix}")} if folder.is_dir() else {}
        if not by_class:
            raise AnnotationError(
                f"dataset 'hmdb51': no {folder}/<class>{suffix} files\nexpected layout:\n{self.layout}"
            )
        class_names = sorted(by_class)
        files = [by_class[name] for name in class_names]
        items = []
        for label, path in enumerate(files):
            items.extend((label, video) for video, role in parse_split_file(path) if role == _ROLE[split])
        return files, class_names, items

    def _bundle_items(self, split: str) -> tuple[list[Path], list[str], list[tuple[int, str]]]:
        if self.options["split"] != 1:
            raise ConfigError("dataset 'hmdb51': the All-in-One bundle lists only split 1 (annotation: bundle)")
        class_path = self.require_file(f"{_META}/{_CLASS_IND}")
        class_names = parse_class_index(class_path)
        path = self.require_file(f"{_META}/{_BUNDLE[split]}")
        items = []
        for line, text in read_lines(path):
            fields = text.split()
            if len(fields) != 3 or not fields[2].isdigit() or int(fields[2]) >= len(class_names):
                raise AnnotationError(
                    f"{path}:{line}: expected '<path> <num_frames> <label 0-{len(class_names) - 1}>', got {text!r}"
                )
            stem = os.path.basename(fields[0].rstrip("/"))
            items.append((int(fields[2]), stem if stem.endswith(".avi") else f"{stem}.avi"))
        return [path, class_path], class_names, items

    # ---- synthetic ----------------------------------------------------------------------------------

    @classmethod
    def synthesize(cls, out_root: Path, *, num_videos: int = 24, seed: int = 0) -> Path:
        """Classes = motion direction (HMDB51-style names); AVI clips in ``videos/<class>/``; the three official
        splits rotate which clips are train / test / unused (split 1: 2/3 train, the rest test), and the bundle
        lists mirror split 1."""
        root = Path(out_root) / cls.dataset_dir
        classes = sorted(SYNTHETIC_CLASSES.values())
        lines: dict[str, list[list[str]]] = {name: [[], [], []] for name in classes}
        bundle: dict[str, list[str]] = {"train": [], "val": []}
        plan = plan_videos(num_videos, seed, splits=("train", "test"))
        for clip in plan:
            name = SYNTHETIC_CLASSES[clip.scene.direction]
            video = f"synth{clip.index:03d}_{name}_u_nm_np1_fr_med_{clip.seed % 10}.avi"
            write_mp4(root / "videos" / name / video, clip.frames(), fps=FPS)
            first = 1 if clip.split == "train" else 2
            for n in range(3):  # split 1 follows the plan; splits 2 and 3 shift roles round the clips
                role = first if n == 0 else (1, 2, 0)[(clip.index + n) % 3]
                lines[name][n].append(f"{video} {role} ")  # the official files end lines with a space
            bundle["train" if first == 1 else "val"].append(
                f"/cluster/hmdb51/rawframes/{name}/{video[:-4]} {16} {classes.index(name)}")
        for name, per_split in lines.items():
            for n, rows in enumerate(per_split, start=1):
                write_lines(root / _SPLITS_DIR / f"{name}{_SUFFIX.format(n=n)}", rows)
        write_lines(root / _META / _CLASS_IND, [f"{i} {name}" for i, name in enumerate(classes, start=1)])
        for key, rows in bundle.items():
            write_lines(root / _META / _BUNDLE[key], rows)
        return root
