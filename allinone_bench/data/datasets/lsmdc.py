"""LSMDC multiple choice (LSMDC 2016 challenge / JSFusion): pick the right description among 5."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from allinone_bench.data.datasets.base import (
    DatasetAdapter,
    Option,
    holdout_keys,
    read_tsv,
    register_adapter,
    unique_or_fallback,
)
from allinone_bench.data.synthetic import FPS, caption, distractor_scenes, plan_videos, write_mp4, write_rows
from allinone_bench.data.types import DatasetSplit, MultipleChoiceSample, VideoRef

_META = "meta_data"
_FILES = {
    "train": "LSMDC16_multiple_choice_train.csv",
    "val": "LSMDC16_multiple_choice_test_randomized.csv",
    "test": "LSMDC16_multiple_choice_test_randomized.csv",
}
_OPTION_COLUMNS = range(5, 10)
_ANSWER_COLUMN = 10


def movie_of(clip_id: str) -> str:
    """The movie folder of a clip: the id without its last ``_<timestamp>`` field
    (``3009_BATTLE_LOS_ANGELES_00.03.07.170-00.03.09.675`` -> ``3009_BATTLE_LOS_ANGELES``)."""
    return clip_id.rsplit("_", 1)[0]


@register_adapter("lsmdc_mc")
class LSMDCMultipleChoice(DatasetAdapter):
    """LSMDC-MC. Rows are tab-separated without header: column 0 = clip id, columns 5-9 = the 5 options,
    column 10 = the right option, 1-based (``answer`` = column 10 - 1). Option ``val_source``: ``test``
    (official: ``val`` reads the randomized test file) or ``holdout`` (``val`` = the training clips of a fixed
    ~10% of the training movies, which ``train`` then excludes, so selection never sees test clips and no
    movie is on both sides)."""

    sample_type = MultipleChoiceSample
    dataset_dir = "lsmdc"
    splits = ("train", "val", "test")
    option_specs = {
        "val_source": Option("test", choices=("test", "holdout"),
                             help="val = the test file (official) or a holdout of training movies"),
    }
    layout = """\
DATA_ROOT/lsmdc/
  meta_data/LSMDC16_multiple_choice_train.csv            tab-separated, no header (train)
  meta_data/LSMDC16_multiple_choice_test_randomized.csv  tab-separated, no header (val and test)
      col 0 = clip id, cols 5..9 = 5 options, col 10 = answer (1-based)
  <movie>/<clip id>.avi        movie = clip id without its last '_<timestamp>' field"""

    def _load(self, split: str) -> DatasetSplit:
        holdout = self.options["val_source"] == "holdout" and split != "test"
        path = self.require_file(f"{_META}/{_FILES['train' if holdout else split]}")
        rows = read_tsv(path, min_fields=_ANSWER_COLUMN + 1)
        if holdout:
            held = holdout_keys(movie_of(row[0].strip()) for row in rows)
            rows = [row for row in rows if (movie_of(row[0].strip()) in held) == (split == "val")]
        samples, fallbacks = [], []
        for row in rows:
            clip_id = row[0].strip()
            if "_" not in clip_id:
                raise row.error(f"clip id {clip_id!r} has no '_<timestamp>' field to derive the movie folder")
            options = tuple(row[c].strip() for c in _OPTION_COLUMNS)
            answer = row.get_int(_ANSWER_COLUMN, "answer") - 1
            if not 0 <= answer < len(options):
                raise row.error(f"answer {answer + 1} in column {_ANSWER_COLUMN} is not in 1..{len(options)}")
            video = VideoRef(self.root / movie_of(clip_id) / f"{clip_id}.avi")
            samples.append(MultipleChoiceSample(clip_id, video, options, answer))
            fallbacks.append(f"{clip_id}:{row.line}")  # a clip asked twice keeps distinct ids
        return self.new_split(split, unique_or_fallback(samples, fallbacks), [path])

    @classmethod
    def synthesize(cls, out_root: Path, *, num_videos: int = 24, seed: int = 0) -> Path:
        """AVI clips grouped into 3 movies; columns 1-4 hold filler (start, end, movie, source) that no
        reader uses; options = the caption + 4 of other scenes."""
        root = Path(out_root) / cls.dataset_dir
        rng = np.random.default_rng([seed, 0x15D])
        rows: dict[str, list[list[str]]] = {"train": [], "test": []}
        for clip in plan_videos(num_videos, seed, splits=("train", "test")):
            movie = f"{clip.index % 3:04d}_SYNTH_MOVIE_{'ABC'[clip.index % 3]}"
            start = f"00.00.{clip.index:02d}.000"
            end = f"00.00.{clip.index:02d}.900"
            clip_id = f"{movie}_{start}-{end}"
            options = [caption(clip.scene)] + [caption(s) for s in distractor_scenes(clip.scene, 4, rng)]
            order = rng.permutation(len(options))
            answer = int(np.flatnonzero(order == 0)[0]) + 1
            rows[clip.split].append(
                [clip_id, start, end, movie, "synthetic", *[options[i] for i in order], str(answer)]
            )
            write_mp4(root / movie / f"{clip_id}.avi", clip.frames(), fps=FPS)
        write_rows(root / _META / _FILES["train"], rows["train"])
        write_rows(root / _META / _FILES["test"], rows["test"])
        return root
