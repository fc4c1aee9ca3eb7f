"""LSMDC multiple choice (LSMDC 2016 challenge, the JSFusion task): pick the right description among 5.

The release (``README_MC.txt``) ships three tab-separated files without header::

    train, valid:  clip  start_aligned  end_aligned  start_extracted  end_extracted  CORRECT  D1  D2  D3  D4
    test:          clip  start_aligned  end_aligned  start_extracted  end_extracted  S1  S2  S3  S4  S5  ANSWER

Train and valid have no answer column: the correct sentence is option 0, as the official loader reads them
(``answer = 0`` for train). The valid file ends every row with an empty 11th field, which is tolerated; a
non-empty 11th field there is an error (it would be an answer this format does not have). The test file's 11th
field is the 1-based answer (``answer`` = field - 1).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from allinone_bench.data.datasets.base import (
    DatasetAdapter,
    Option,
    Row,
    holdout_keys,
    read_tsv,
    register_adapter,
    unique_or_fallback,
)
from allinone_bench.data.synthetic import FPS, caption, distractor_scenes, plan_videos, write_mp4, write_rows
from allinone_bench.data.types import DatasetSplit, MultipleChoiceSample, VideoRef

_FOLDERS = ("meta_data", "")  # the All-in-One layout, or the files as downloaded into the dataset folder
_FILES = {
    "train": "LSMDC16_multiple_choice_train.csv",
    "valid": "LSMDC16_multiple_choice_valid.csv",
    "test": "LSMDC16_multiple_choice_test_randomized.csv",
}
_FIELDS = 10  # clip, 4 time stamps, 5 sentences
_OPTION_COLUMNS = range(5, 10)
_ANSWER_COLUMN = 10  # test file only


def movie_of(clip_id: str) -> str:
    """The movie folder of a clip: the id without its last ``_<timestamp>`` field
    (``3009_BATTLE_LOS_ANGELES_00.03.07.170-00.03.09.675`` -> ``3009_BATTLE_LOS_ANGELES``)."""
    return clip_id.rsplit("_", 1)[0]


def parse_row(row: Row, answered: bool) -> tuple[str, tuple[str, ...], int]:
    """``(clip id, 5 options, 0-based answer)`` of one row; ``answered``: the test file's format (11 fields,
    1-based answer last), else the train/valid format (correct sentence first, no answer field)."""
    clip_id = row[0].strip()
    if "_" not in clip_id:
        raise row.error(f"clip id {clip_id!r} has no '_<timestamp>' field to derive the movie folder")
    options = tuple(row[c].strip() for c in _OPTION_COLUMNS)
    if answered:
        if len(row) != _FIELDS + 1:
            raise row.error(f"expected {_FIELDS + 1} tab-separated fields (the last one the answer, 1-5), "
                            f"found {len(row)}")
        answer = row.get_int(_ANSWER_COLUMN, "answer") - 1
        if not 0 <= answer < len(options):
            raise row.error(f"answer {answer + 1} in column {_ANSWER_COLUMN} is not in 1..{len(options)}")
        return clip_id, options, answer
    extra = [v for v in row.values[_FIELDS:] if v.strip()]
    if extra:
        raise row.error(f"expected {_FIELDS} tab-separated fields (clip, 4 time stamps, the correct sentence, "
                        f"4 distractors; no answer column), found {len(row)} with {extra[0]!r} after the "
                        f"{_FIELDS}th")
    return clip_id, options, 0


def shuffled(clip_id: str, options: tuple[str, ...], answer: int) -> tuple[tuple[str, ...], int]:
    """``options`` in a fixed order drawn from the clip id, and where ``answer`` went: evaluating rows whose
    right option is always first would score every tie (e.g. an untrained head) as correct."""
    order = np.random.default_rng(zlib.crc32(clip_id.encode("utf-8"))).permutation(len(options))
    return tuple(options[i] for i in order), int(np.flatnonzero(order == answer)[0])


@register_adapter("lsmdc_mc")
class LSMDCMultipleChoice(DatasetAdapter):
    """LSMDC-MC (file format in the module docstring). ``test`` reads the randomized test file. ``val_source``
    says what ``val`` reads: ``test`` (the official protocol: the test file), ``valid`` (the release's
    validation file, other movies than train and test) or ``holdout`` (the training clips of a fixed ~10% of
    the training movies, which ``train`` then excludes, so no movie is on both sides). ``val_order``: val rows
    read from the train or valid file have the right sentence first; ``shuffled`` (default) puts each clip's
    options in a fixed per-clip random order, ``file`` keeps them as written."""

    sample_type = MultipleChoiceSample
    dataset_dir = "lsmdc"
    splits = ("train", "val", "test")
    option_specs = {
        "val_source": Option("test", choices=("test", "valid", "holdout"),
                             help="val = the test file (official), the valid file, or a holdout of training movies"),
        "val_order": Option("shuffled", choices=("shuffled", "file"),
                            help="option order of val rows from the train/valid files (right sentence first)"),
    }
    layout = """\
DATA_ROOT/lsmdc/
  meta_data/LSMDC16_multiple_choice_train.csv            (or directly in lsmdc/) tab-separated, no header:
  meta_data/LSMDC16_multiple_choice_valid.csv              clip, 4 time stamps, correct sentence, 4 distractors
  meta_data/LSMDC16_multiple_choice_test_randomized.csv    clip, 4 time stamps, 5 sentences, answer (1-5)
  <movie>/<clip id>.avi        movie = clip id without its last '_<timestamp>' field"""

    def _file(self, split: str) -> str:
        """Which release file ``split`` reads (a key of ``_FILES``)."""
        if split == "val":
            return {"test": "test", "valid": "valid", "holdout": "train"}[self.options["val_source"]]
        return split

    def _load(self, split: str) -> DatasetSplit:
        key = self._file(split)
        path = self.find_file(_FILES[key], _FOLDERS) or self.require_file(f"{_FOLDERS[0]}/{_FILES[key]}")
        rows = read_tsv(path, min_fields=_FIELDS)
        if key == "train" and self.options["val_source"] == "holdout":
            held = holdout_keys(movie_of(row[0].strip()) for row in rows)
            rows = [row for row in rows if (movie_of(row[0].strip()) in held) == (split == "val")]
        shuffle = split != "train" and key != "test" and self.options["val_order"] == "shuffled"
        samples, fallbacks = [], []
        for row in rows:
            clip_id, options, answer = parse_row(row, answered=key == "test")
            if shuffle:
                options, answer = shuffled(clip_id, options, answer)
            video = VideoRef(self.root / movie_of(clip_id) / f"{clip_id}.avi")
            samples.append(MultipleChoiceSample(clip_id, video, options, answer))
            fallbacks.append(f"{clip_id}:{row.line}")  # a clip asked twice keeps distinct ids
        return self.new_split(split, unique_or_fallback(samples, fallbacks), [path])

    @classmethod
    def synthesize(cls, out_root: Path, *, num_videos: int = 24, seed: int = 0) -> Path:
        """AVI clips grouped into 3 movies, written in the release's three formats: train and valid with the
        caption first and 4 distractors (valid rows end with an empty field, as the real file does), test
        with the 5 sentences shuffled and the 1-based answer last. Time stamps are the clip's own."""
        root = Path(out_root) / cls.dataset_dir
        rng = np.random.default_rng([seed, 0x15D])
        rows: dict[str, list[list[str]]] = {"train": [], "valid": [], "test": []}
        for clip in plan_videos(num_videos, seed):
            movie = f"{clip.index % 3:04d}_SYNTH_MOVIE_{'ABC'[clip.index % 3]}"
            start, end = f"00.00.{clip.index:02d}.000", f"00.00.{clip.index:02d}.900"
            clip_id = f"{movie}_{start}-{end}"
            options = [caption(clip.scene)] + [caption(s) for s in distractor_scenes(clip.scene, 4, rng)]
            key = {"train": "train", "val": "valid", "test": "test"}[clip.split]
            if key == "test":
                order = rng.permutation(len(options))
                options = [options[i] for i in order] + [str(int(np.flatnonzero(order == 0)[0]) + 1)]
            elif key == "valid":
                options.append("")
            rows[key].append([clip_id, start, end, start, end, *options])
            write_mp4(root / movie / f"{clip_id}.avi", clip.frames(), fps=FPS)
        for key, items in rows.items():
            write_rows(root / _FOLDERS[0] / _FILES[key], items)
        return root
