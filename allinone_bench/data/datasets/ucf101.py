"""UCF101 (Soomro et al. 2012): action recognition, used by All-in-One as a frozen-feature linear probe.

Official lists ``ucfTrainTestlist/``: ``classInd.txt`` (``1 ApplyEyeMakeup``, 1-based, class index = line
order), ``trainlist0{1,2,3}.txt`` (``ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1``, 1-based label) and
``testlist0{1,2,3}.txt`` (``ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi``, no label: it comes from the class
folder). Videos ``UCF-101/<class>/<file>.avi``. Option ``split`` (1, 2, 3).

Class folders are matched to ``classInd`` names case-insensitively, because the real release spells one class
``HandstandPushups`` in classInd.txt but ``HandStandPushups`` in its folder and file names; the lists' Windows
line endings are tolerated. UCF101 has no validation set: ``val`` reads the test list unless
``val_source: holdout`` carves ~10% of the training groups out (train then excludes them; a group's clips
share actor and scene, so they are held out together).
The official All-in-One code has no working UCF101 loader (its CoTraining reader opens HMDB51 files).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from allinone_bench.data.datasets.base import DatasetAdapter, Option, holdout_keys, read_lines, register_adapter
from allinone_bench.data.datasets.hmdb51 import parse_class_index
from allinone_bench.data.synthetic import FPS, plan_videos, write_lines, write_mp4
from allinone_bench.data.types import ClassificationSample, DatasetSplit, VideoRef
from allinone_bench.errors import AnnotationError

__all__ = ["UCF101", "group_of", "parse_list"]

_LISTS = "ucfTrainTestlist"
_VIDEOS = "UCF-101"

# synthetic classes: motion direction, named like UCF101's CamelCase actions
SYNTHETIC_CLASSES = {"left": "SlideLeft", "right": "SlideRight", "up": "RiseUp", "down": "FallDown"}


def group_of(relative: str) -> str:
    """The group of a clip: ``Class/v_Class_g08_c01.avi`` -> ``v_Class_g08`` (the file stem without ``_cNN``)."""
    return re.sub(r"_c\d+$", "", os.path.splitext(os.path.basename(relative))[0])


def parse_list(path: Path, class_names: list[str], labelled: bool) -> list[tuple[int, str]]:
    """``(label, "<Class>/<file>.avi")`` per line of a train or test list. The class folder decides the label
    (case-insensitively); a train list's own 1-based label must agree with it."""
    by_folder = {name.lower(): i for i, name in enumerate(class_names)}
    out = []
    for line, text in read_lines(path):
        fields = text.split()
        if "/" not in fields[0] or len(fields) != (2 if labelled else 1):
            expected = "'<Class>/<file>.avi <label>'" if labelled else "'<Class>/<file>.avi'"
            raise AnnotationError(f"{path}:{line}: expected {expected}, got {text!r}")
        relative = fields[0]
        folder = relative.split("/", 1)[0]
        label = by_folder.get(folder.lower())
        if label is None:
            raise AnnotationError(f"{path}:{line}: class folder {folder!r} is not in classInd.txt")
        if labelled:
            if not fields[1].isdigit() or int(fields[1]) - 1 != label:
                raise AnnotationError(
                    f"{path}:{line}: label {fields[1]!r} does not match class {class_names[label]!r} "
                    f"(classInd index {label + 1})"
                )
        out.append((label, relative))
    return out


@register_adapter("ucf101")
class UCF101(DatasetAdapter):
    """UCF101 classification (see the module docstring for files, classes and protocol)."""

    sample_type = ClassificationSample
    dataset_dir = "ucf101"
    splits = ("train", "val", "test")
    layout = """\
DATA_ROOT/ucf101/
  ucfTrainTestlist/classInd.txt            '1 ApplyEyeMakeup' (1-based)
  ucfTrainTestlist/trainlist0{1,2,3}.txt   'ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1'
  ucfTrainTestlist/testlist0{1,2,3}.txt    'ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi'
  UCF-101/<Class>/<file>.avi"""
    option_specs = {
        "split": Option(1, choices=(1, 2, 3), help="official train/test split number"),
        "val_source": Option("test", choices=("test", "holdout"),
                             help="val = the test list (no official val set), or a ~10% holdout of train videos"),
    }

    def _load(self, split: str) -> DatasetSplit:
        number = self.options["split"]
        class_path = self.require_file(f"{_LISTS}/classInd.txt")
        class_names = parse_class_index(class_path)
        holdout = self.options["val_source"] == "holdout" and split != "test"
        labelled = split == "train" or holdout
        list_path = self.require_file(f"{_LISTS}/{'trainlist' if labelled else 'testlist'}{number:02d}.txt")
        items = parse_list(list_path, class_names, labelled)
        if holdout:  # by group: clips of one group share actor and background, so they stay together
            held = holdout_keys(group_of(rel) for _, rel in items)
            items = [(label, rel) for label, rel in items if (group_of(rel) in held) == (split == "val")]
        samples = [
            ClassificationSample(os.path.splitext(os.path.basename(rel))[0], VideoRef(self.root / _VIDEOS / rel),
                                 label, class_names[label])
            for label, rel in items
        ]
        return self.new_split(split, samples, [list_path, class_path], class_names=class_names)

    # ---- synthetic ----------------------------------------------------------------------------------

    @classmethod
    def synthesize(cls, out_root: Path, *, num_videos: int = 24, seed: int = 0) -> Path:
        """Classes = motion direction (CamelCase names); ``v_<Class>_gNN_cNN.avi`` clips; the three splits rotate
        the test clips (split 1 follows the plan: about 2/3 train); CRLF line endings as in the real lists."""
        root = Path(out_root) / cls.dataset_dir
        classes = sorted(SYNTHETIC_CLASSES.values())
        train: list[list[str]] = [[], [], []]
        test: list[list[str]] = [[], [], []]
        for clip in plan_videos(num_videos, seed, splits=("train", "test")):
            name = SYNTHETIC_CLASSES[clip.scene.direction]
            relative = f"{name}/v_{name}_g{clip.index // 4 + 1:02d}_c{clip.index % 4 + 1:02d}.avi"
            write_mp4(root / _VIDEOS / relative, clip.frames(), fps=FPS)
            for n in range(3):
                is_train = clip.split == "train" if n == 0 else (clip.index + n) % 3 != 0
                if is_train:
                    train[n].append(f"{relative} {classes.index(name) + 1}\r")
                else:
                    test[n].append(f"{relative}\r")
        write_lines(root / _LISTS / "classInd.txt", [f"{i} {name}\r" for i, name in enumerate(classes, start=1)])
        for n in range(3):
            write_lines(root / _LISTS / f"trainlist{n + 1:02d}.txt", train[n])
            write_lines(root / _LISTS / f"testlist{n + 1:02d}.txt", test[n])
        return root
