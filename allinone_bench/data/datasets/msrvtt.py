"""MSR-VTT text-video retrieval (Frozen-in-Time ``MSRVTT.zip`` layout, and JSFusion's 1k-A test csv).

Every MSR-VTT adapter (this one, and QA / multiple choice in :mod:`.msrvtt_qa`) reads ``DATA_ROOT/msrvtt``;
videos are ``videos/all/<video_id>.mp4`` for every task.
"""

from __future__ import annotations

import pickle
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from allinone_bench.data.datasets.base import (
    DatasetAdapter,
    Option,
    holdout_keys,
    read_csv,
    read_json,
    read_lines,
    register_adapter,
)
from allinone_bench.data.synthetic import FPS, captions, plan_videos, write_json, write_lines, write_mp4, write_rows
from allinone_bench.data.types import DatasetSplit, RetrievalSample, VideoRef
from allinone_bench.errors import AnnotationError

_VIDEO_DIR = "videos/all"
_SPLITS_DIR = "high-quality/structured-symlinks"
_CAPTION_IDX = f"{_SPLITS_DIR}/jsfusion_val_caption_idx.pkl"
_ANNOTATION = "annotation/MSR_VTT.json"
_JSFUSION_CSV = "MSRVTT_JSFUSION_test.csv"
_CSV_DIRS = ("", _SPLITS_DIR, "msrvtt_data")  # CLIP4Clip's layout keeps it in msrvtt_data/
_SPLIT_LISTS: dict[str, dict[str, str]] = {  # cut -> {train, test} list files
    "jsfusion": {"train": "train_list_jsfusion.txt", "test": "val_list_jsfusion.txt"},
    "miech": {"train": "train_list_miech.txt", "test": "test_list_miech.txt"},
}
# Synthetic video ids per adapter start at different offsets so the three can share one msrvtt/ folder.
SYNTH_OFFSET = {"msrvtt_ret": 0, "msrvtt_qa": 10000, "msrvtt_mc": 20000}


class MSRVTTBase(DatasetAdapter):
    """What every MSR-VTT adapter shares: the dataset folder and the video path of an id."""

    dataset_dir = "msrvtt"

    def video(self, video_id: str) -> VideoRef:
        return VideoRef(self.root / _VIDEO_DIR / f"{video_id}.mp4")

    @classmethod
    def _write_video(cls, root: Path, video_id: str, frames: np.ndarray) -> None:
        write_mp4(root / _VIDEO_DIR / f"{video_id}.mp4", frames, fps=FPS)


# --------------------------------------------------------------------------------------------------
# Retrieval


def load_caption_index(path: Path) -> dict[str, int]:
    """``jsfusion_val_caption_idx.pkl``: a pickled ``{video_id: caption index}`` (dict or pandas Series),
    read like the official code (``np.load(allow_pickle=True)``; a 0-d object array is unwrapped)."""
    try:
        value: Any = np.load(path, allow_pickle=True)
    except (OSError, ValueError, pickle.UnpicklingError, EOFError) as err:
        raise AnnotationError(f"{path}: cannot unpickle the caption index ({err})") from None
    if isinstance(value, np.ndarray) and value.dtype == object and value.shape == ():
        value = value.item()
    if hasattr(value, "to_dict") and not isinstance(value, dict):  # pandas Series
        value = value.to_dict()
    if not isinstance(value, dict):
        raise AnnotationError(f"{path}: expected a pickled dict video_id -> caption index, got {type(value).__name__}")
    out: dict[str, int] = {}
    for key, index in value.items():
        try:
            out[str(key)] = int(index)
        except (TypeError, ValueError):
            raise AnnotationError(f"{path}: caption index of {key!r} is not an integer: {index!r}") from None
    return out


@register_adapter("msrvtt_ret")
class MSRVTTRetrieval(MSRVTTBase):
    """MSR-VTT text-video retrieval.

    ``cut=jsfusion`` (default): train = the 9k list, test = the 1k-A list; ``cut=miech`` (1k-B): train = the
    6,656-video list, test = the miech 1,000-video list. Neither has a validation set, so ``val_source`` says
    what ``val`` is: ``holdout`` (default) = a deterministic 10% of the train list's videos (smallest CRC32 of
    the id), which ``train`` then excludes, so checkpoint selection never sees test videos; ``test`` = the test
    list, as the official code does (``train`` is then the full list).

    Train samples carry every caption of a video (``MSR_VTT.json``). Evaluation samples carry
    ``eval_captions=single`` (default, the 1k-A protocol: one caption per video; for ``cut=miech``, and for
    holdout videos, the first caption) or ``all`` (every caption, for multi-caption evaluation). The one 1k-A
    caption comes from ``caption_source``: ``msrvtt_json`` (``MSR_VTT.json`` + ``jsfusion_val_caption_idx.pkl``,
    as the official code), ``jsfusion_csv`` (JSFusion's ``MSRVTT_JSFUSION_test.csv``, ``key;vid_key;video_id;
    sentence``, the file the index was made from; it alone is enough for a zero-shot 1k-A evaluation) or
    ``auto`` (the first when both its files exist, else the csv).
    """

    sample_type = RetrievalSample
    splits = ("train", "val", "test")
    layout = """\
DATA_ROOT/msrvtt/
  annotation/MSR_VTT.json          {"annotations": [{"image_id": "video0", "caption": "..."}, ...], ...}
  high-quality/structured-symlinks/
    train_list_jsfusion.txt        9000 video ids, one per line        (cut: jsfusion)
    val_list_jsfusion.txt          1000 video ids (1k-A), the test set (cut: jsfusion)
    jsfusion_val_caption_idx.pkl   pickled {video_id: caption index}  (cut: jsfusion, eval_captions: single)
    train_list_miech.txt           6656 video ids                      (cut: miech)
    test_list_miech.txt            1000 video ids, the test set        (cut: miech)
  MSRVTT_JSFUSION_test.csv         (or in high-quality/structured-symlinks/ or msrvtt_data/) the 1k-A test:
                                   header key;vid_key;video_id;sentence, one caption per video
  videos/all/<video_id>.mp4"""
    option_specs = {
        "cut": Option("jsfusion", choices=tuple(_SPLIT_LISTS), help="train/test split lists"),
        "eval_captions": Option("single", choices=("single", "all"), help="captions per video at evaluation"),
        "val_source": Option("holdout", choices=("holdout", "test"),
                             help="val = 10% of the train list (removed from train) or the test list (official)"),
        "caption_source": Option("auto", choices=("auto", "msrvtt_json", "jsfusion_csv"),
                                 help="the 1k-A test caption: MSR_VTT.json + caption index pkl, or JSFusion's csv"),
    }

    def _captions_by_video(self) -> tuple[Path, dict[str, list[str]]]:
        path = self.require_file(_ANNOTATION)
        document = read_json(path)
        annotations = document.get("annotations") if isinstance(document, dict) else None
        if not isinstance(annotations, list):
            raise AnnotationError(f"{path}: expected a JSON object with an 'annotations' list")
        by_video: dict[str, list[str]] = defaultdict(list)
        for index, entry in enumerate(annotations):
            if not isinstance(entry, dict) or not isinstance(entry.get("image_id"), str) \
                    or not isinstance(entry.get("caption"), str):
                raise AnnotationError(
                    f"{path}: annotations[{index}] should be an object with string 'image_id' and 'caption', "
                    f"got {entry!r}"
                )
            by_video[entry["image_id"]].append(entry["caption"].strip())
        return path, by_video

    def video_ids(self, split: str) -> tuple[Path, list[tuple[int, str]]]:
        """The list file ``split`` reads and its (line, video id) entries after the holdout rule."""
        lists = _SPLIT_LISTS[self.options["cut"]]
        holdout = self.options["val_source"] == "holdout"
        source = "test" if split == "test" or (split == "val" and not holdout) else "train"
        path = self.require_file(f"{_SPLITS_DIR}/{lists[source]}")
        entries = read_lines(path)
        if holdout and source == "train":
            held = holdout_keys(video_id for _, video_id in entries)
            entries = [(line, vid) for line, vid in entries if (vid in held) == (split == "val")]
        return path, entries

    def _one_caption_source(self, split: str) -> str | None:
        """``msrvtt_json`` or ``jsfusion_csv`` when ``split`` is evaluated on the 1k-A list with one caption per
        video (recorded), else ``None`` (every caption, or the first, comes from ``MSR_VTT.json``)."""
        holdout = self.options["val_source"] == "holdout"
        on_1k_a = split == "test" or (split == "val" and not holdout)
        if not on_1k_a or self.options["cut"] != "jsfusion" or self.options["eval_captions"] != "single":
            return None
        source = self.options["caption_source"]
        if source == "auto":
            json_files = (self.root / _ANNOTATION, self.root / _CAPTION_IDX)
            csv_file = self.find_file(_JSFUSION_CSV, _CSV_DIRS)
            source = "jsfusion_csv" if csv_file and not all(p.is_file() for p in json_files) else "msrvtt_json"
        return self.record("caption_source", split, source)

    def _load(self, split: str) -> DatasetSplit:
        source = self._one_caption_source(split)
        if source == "jsfusion_csv":
            return self._load_jsfusion_csv(split)
        list_path, entries = self.video_ids(split)
        ann_path, by_video = self._captions_by_video()
        files = [list_path, ann_path]
        single = split != "train" and self.options["eval_captions"] == "single"
        caption_index: dict[str, int] | None = None
        if source == "msrvtt_json":
            idx_path = self.require_file(_CAPTION_IDX)
            caption_index = load_caption_index(idx_path)
            files.append(idx_path)
        samples: list[RetrievalSample] = []
        for line, video_id in entries:
            texts = by_video.get(video_id)
            if not texts:
                raise AnnotationError(f"{list_path}:{line}: video {video_id!r} has no captions in {ann_path}")
            if single:
                index = 0 if caption_index is None else caption_index.get(video_id)
                if index is None:
                    raise AnnotationError(f"{files[-1]}: no caption index for video {video_id!r} ({list_path}:{line})")
                if not 0 <= index < len(texts):
                    raise AnnotationError(
                        f"{files[-1]}: caption index {index} of video {video_id!r} is out of range "
                        f"({len(texts)} captions in {ann_path})"
                    )
                texts = [texts[index]]
            samples.append(RetrievalSample(video_id, self.video(video_id), tuple(texts)))
        return self.new_split(split, samples, files)

    def _load_jsfusion_csv(self, split: str) -> DatasetSplit:
        """The 1k-A test from JSFusion's csv: one sample per row (one caption per video). When the 1k-A list
        is there too, both must name the same videos (the list's order is kept)."""
        path = self.find_file(_JSFUSION_CSV, _CSV_DIRS) or self.require_file(_JSFUSION_CSV)
        captions: dict[str, str] = {}
        for row in read_csv(path, delimiter=";", min_fields=4):
            video_id, sentence = row["video_id"].strip(), row["sentence"].strip()
            if not video_id or not sentence:
                raise row.error("empty video_id or sentence")
            if video_id in captions:
                raise row.error(f"video {video_id!r} appears twice (the 1k-A test has one caption per video)")
            captions[video_id] = sentence
        files, order = [path], list(captions)
        list_path = self.root / _SPLITS_DIR / _SPLIT_LISTS["jsfusion"]["test"]
        if list_path.is_file():
            listed = [video_id for _, video_id in read_lines(list_path)]
            if set(listed) != set(captions):
                odd = sorted(set(listed) ^ set(captions))
                raise AnnotationError(f"{path}: its videos differ from {list_path} ({len(odd)} in one only, e.g. "
                                      f"{odd[0]!r})")
            files, order = [list_path, path], listed
        samples = [RetrievalSample(v, self.video(v), (captions[v],)) for v in order]
        return self.new_split(split, samples, files)

    @classmethod
    def synthesize(cls, out_root: Path, *, num_videos: int = 24, seed: int = 0) -> Path:
        """Train list + a 1k-A-style list (val/test) with its caption index and JSFusion csv (``;``, CRLF, the
        indexed caption of each video); miech lists too (train = 3/4 of the jsfusion train)."""
        root = Path(out_root) / cls.dataset_dir
        plan = plan_videos(num_videos, seed, splits=("train", "test"))
        offset = SYNTH_OFFSET[cls.name]
        annotations, images, caption_idx = [], [], {}
        lists: dict[str, list[str]] = {"train": [], "test": []}
        for clip in plan:
            video_id = f"video{offset + clip.index}"
            texts = captions(clip.scene)
            images.append({"id": video_id, "split": clip.split})
            for text in texts:
                annotations.append({"image_id": video_id, "caption": text, "id": len(annotations)})
            lists[clip.split].append(video_id)
            if clip.split == "test":
                caption_idx[video_id] = clip.index % len(texts)
            cls._write_video(root, video_id, clip.frames())
        write_json(root / "annotation/MSR_VTT.json", {"info": {"synthetic": True}, "images": images,
                                                       "annotations": annotations})
        split_dir = root / _SPLITS_DIR
        write_lines(split_dir / "train_list_jsfusion.txt", lists["train"])
        write_lines(split_dir / "val_list_jsfusion.txt", lists["test"])
        write_lines(split_dir / "train_list_miech.txt", lists["train"][: max(1, 3 * len(lists["train"]) // 4)])
        write_lines(split_dir / "test_list_miech.txt", lists["test"])
        with open(split_dir / "jsfusion_val_caption_idx.pkl", "wb") as handle:
            pickle.dump(caption_idx, handle)
        by_video = defaultdict(list)
        for entry in annotations:
            by_video[entry["image_id"]].append(entry["caption"])
        csv_rows = [(f"ret{n}", f"msr{v[len('video'):]}", v, by_video[v][caption_idx[v]])
                    for n, v in enumerate(reversed(lists["test"]))]  # the real csv is not in list order either
        write_rows(root / _JSFUSION_CSV, csv_rows, delimiter=";", header=("key", "vid_key", "video_id", "sentence"),
                   newline="\r\n")
        return root
