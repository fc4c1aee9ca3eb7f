"""MSR-VTT: text-video retrieval (Frozen-in-Time release), open-ended QA and multiple choice (All-in-One bundle).

All three read ``DATA_ROOT/msrvtt``; videos are ``videos/all/<video_id>.mp4`` for every task.
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
    read_ans2label,
    read_json,
    read_jsonl,
    read_lines,
    record_id,
    register_adapter,
    unique_or_fallback,
)
from allinone_bench.data.synthetic import (
    FPS,
    caption,
    captions,
    distractor_scenes,
    oov_question,
    plan_videos,
    questions,
    write_json,
    write_jsonl,
    write_lines,
    write_mp4,
)
from allinone_bench.data.types import DatasetSplit, MultipleChoiceSample, OpenQASample, RetrievalSample, VideoRef
from allinone_bench.errors import AnnotationError

_VIDEO_DIR = "videos/all"
_SPLITS_DIR = "high-quality/structured-symlinks"
_CAPTION_IDX = f"{_SPLITS_DIR}/jsfusion_val_caption_idx.pkl"
_SPLIT_LISTS: dict[str, dict[str, str]] = {  # cut -> {train, test} list files
    "jsfusion": {"train": "train_list_jsfusion.txt", "test": "val_list_jsfusion.txt"},
    "miech": {"train": "train_list_miech.txt", "test": "test_list_miech.txt"},
}
# Synthetic video ids per adapter start at different offsets so the three can share one msrvtt/ folder.
_SYNTH_OFFSET = {"msrvtt_ret": 0, "msrvtt_qa": 10000, "msrvtt_mc": 20000}


class _MSRVTT(DatasetAdapter):
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
class MSRVTTRetrieval(_MSRVTT):
    """MSR-VTT text-video retrieval in the Frozen-in-Time ``MSRVTT.zip`` layout.

    ``cut=jsfusion`` (default): train = the 9k list, test = the 1k-A list; ``cut=miech``: train = the 7k
    list, test = the miech test list. 1k-A has no validation set, so ``val_source`` says what ``val`` is:
    ``holdout`` (default) = a deterministic 10% of the train list's videos (smallest CRC32 of the id), which
    ``train`` then excludes, so checkpoint selection never sees test videos; ``test`` = the test list, as the
    official code does (``train`` is then the full list).

    Train samples carry every caption of a video. Evaluation samples carry ``eval_captions=single`` (default,
    the official 1k-A protocol: one caption per video chosen by ``jsfusion_val_caption_idx.pkl``; for
    ``cut=miech``, which has no index file, and for holdout videos, the first caption) or ``all`` (every
    caption, for multi-caption evaluation).
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
    train_list_miech.txt           7010 video ids                      (cut: miech)
    test_list_miech.txt            video ids, the test set             (cut: miech)
  videos/all/<video_id>.mp4"""
    option_specs = {
        "cut": Option("jsfusion", choices=tuple(_SPLIT_LISTS), help="train/test split lists"),
        "eval_captions": Option("single", choices=("single", "all"), help="captions per video at evaluation"),
        "val_source": Option("holdout", choices=("holdout", "test"),
                             help="val = 10% of the train list (removed from train) or the test list (official)"),
    }

    def _captions_by_video(self) -> tuple[Path, dict[str, list[str]]]:
        path = self.require_file("annotation/MSR_VTT.json")
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

    def _video_ids(self, split: str) -> tuple[Path, list[tuple[int, str]]]:
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

    def _load(self, split: str) -> DatasetSplit:
        list_path, entries = self._video_ids(split)
        ann_path, by_video = self._captions_by_video()
        files = [list_path, ann_path]
        single = split != "train" and self.options["eval_captions"] == "single"
        caption_index: dict[str, int] | None = None
        if single and self.options["cut"] == "jsfusion" and list_path.name == _SPLIT_LISTS["jsfusion"]["test"]:
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

    @classmethod
    def synthesize(cls, out_root: Path, *, num_videos: int = 24, seed: int = 0) -> Path:
        """Train list + a 1k-A-style list (val/test); miech lists too (train = 3/4 of the jsfusion train)."""
        root = Path(out_root) / cls.dataset_dir
        plan = plan_videos(num_videos, seed, splits=("train", "test"))
        offset = _SYNTH_OFFSET[cls.name]
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
        return root


# --------------------------------------------------------------------------------------------------
# Open-ended QA


@register_adapter("msrvtt_qa")
class MSRVTTQA(_MSRVTT):
    """MSRVTT-QA (ClipBERT-format JSON lines from the All-in-One annotation bundle).

    ``label`` is the answer's index in ``msrvtt_train_ans2label.json`` (1500 train answers) or ``None`` when
    out of vocabulary. ``val_file``: which file the ``val`` split reads, ``val`` (the real validation file,
    default) or ``test`` (what the official code does: it validates, and selects checkpoints, on the test file).
    """

    sample_type = OpenQASample
    splits = ("train", "val", "test")
    layout = """\
DATA_ROOT/msrvtt/
  meta_data/msrvtt_qa_{train,val,test}.jsonl   {"question": ..., "answer": ..., "video_id": "video7010"} per line
  meta_data/msrvtt_train_ans2label.json        {"answer": label, ...}
  videos/all/<video_id>.mp4"""
    option_specs = {"val_file": Option("val", choices=("val", "test"), help="file read by the val split")}

    def _load(self, split: str) -> DatasetSplit:
        stem = self.options["val_file"] if split == "val" else split
        qa_path = self.require_file(f"meta_data/msrvtt_qa_{stem}.jsonl")
        vocab_path = self.require_file("meta_data/msrvtt_train_ans2label.json")
        vocab = read_ans2label(vocab_path)
        samples, fallbacks = [], []
        for rec in read_jsonl(qa_path):
            question, answer, video_id = rec.get_str("question"), rec.get_str("answer"), rec.get_str("video_id")
            fallbacks.append(f"{qa_path.stem}:{rec.line}")
            sample_id = record_id(rec.data, fallbacks[-1])
            samples.append(OpenQASample(sample_id, self.video(video_id), question, answer, vocab.get(answer)))
        samples = unique_or_fallback(samples, fallbacks)
        return self.new_split(split, samples, [qa_path, vocab_path], answer_vocab=vocab)

    @classmethod
    def synthesize(cls, out_root: Path, *, num_videos: int = 24, seed: int = 0) -> Path:
        """Three questions per video (colour, shape, direction); val/test add one out-of-vocabulary question."""
        root = Path(out_root) / cls.dataset_dir
        offset = _SYNTH_OFFSET[cls.name]
        records: dict[str, list[dict[str, Any]]] = {"train": [], "val": [], "test": []}
        for clip in plan_videos(num_videos, seed):
            video_id = f"video{offset + clip.index}"
            qas = questions(clip.scene, variant=clip.index)
            if clip.split != "train":
                qas.append(oov_question(clip.scene))
            for qa in qas:
                records[clip.split].append({"question": qa.question, "answer": qa.answer, "video_id": video_id,
                                            "answer_type": qa.attribute})
            cls._write_video(root, video_id, clip.frames())
        for split, rows in records.items():
            write_jsonl(root / f"meta_data/msrvtt_qa_{split}.jsonl", rows)
        answers = sorted({r["answer"] for r in records["train"]})
        write_json(root / "meta_data/msrvtt_train_ans2label.json", {a: i for i, a in enumerate(answers)})
        return root


# --------------------------------------------------------------------------------------------------
# Multiple choice


@register_adapter("msrvtt_mc")
class MSRVTTMultipleChoice(_MSRVTT):
    """MSRVTT multiple choice (JSFusion): pick the right caption among 5.

    There is one file, the test set; ``val`` and ``test`` both read it (the official code also trains on it,
    which this adapter does not offer: there is no ``train`` split).
    """

    sample_type = MultipleChoiceSample
    splits = ("val", "test")
    layout = """\
DATA_ROOT/msrvtt/
  meta_data/msrvtt_mc_test.jsonl   {"clip_name": "video7010", "options": [5 captions], "answer": 0-based} per line
  videos/all/<clip_name>.mp4"""

    def _load(self, split: str) -> DatasetSplit:
        path = self.require_file("meta_data/msrvtt_mc_test.jsonl")
        samples, fallbacks = [], []
        for rec in read_jsonl(path):
            clip, options, answer = rec.get_str("clip_name"), rec.get_str_list("options", 5), rec.get_int("answer")
            if not 0 <= answer < len(options):
                raise rec.error(f"answer {answer} is not a 0-based index into {len(options)} options")
            fallbacks.append(f"{path.stem}:{rec.line}")
            sample_id = record_id(rec.data, fallbacks[-1], keys=("question_id", "id", "clip_name"))
            samples.append(MultipleChoiceSample(sample_id, self.video(clip), tuple(options), answer))
        return self.new_split(split, unique_or_fallback(samples, fallbacks), [path])

    @classmethod
    def synthesize(cls, out_root: Path, *, num_videos: int = 24, seed: int = 0) -> Path:
        """Each clip: its caption + 4 captions of other scenes (first one differs only in direction)."""
        root = Path(out_root) / cls.dataset_dir
        offset = _SYNTH_OFFSET[cls.name]
        rng = np.random.default_rng([seed, 0x3C])
        rows = []
        for clip in plan_videos(num_videos, seed, splits=("test",)):
            video_id = f"video{offset + clip.index}"
            options = [caption(clip.scene)] + [caption(s) for s in distractor_scenes(clip.scene, 4, rng)]
            order = rng.permutation(len(options))
            rows.append({"clip_name": video_id, "options": [options[i] for i in order],
                         "answer": int(np.flatnonzero(order == 0)[0])})
            cls._write_video(root, video_id, clip.frames())
        write_jsonl(root / "meta_data/msrvtt_mc_test.jsonl", rows)
        return root
