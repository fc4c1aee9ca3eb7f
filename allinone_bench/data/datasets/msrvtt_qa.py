"""MSR-VTT open-ended QA (MSRVTT-QA) and multiple choice (JSFusion's MC test): videos ``videos/all/<id>.mp4``
shared with retrieval (:mod:`.msrvtt`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from allinone_bench.data.datasets.base import (
    Option,
    answer_vocab,
    read_ans2label,
    read_json_records,
    read_jsonl,
    record_id,
    register_adapter,
    unique_or_fallback,
)
from allinone_bench.data.datasets.msrvtt import SYNTH_OFFSET, MSRVTTBase
from allinone_bench.data.synthetic import (
    caption,
    distractor_scenes,
    oov_question,
    plan_videos,
    questions,
    write_json,
    write_jsonl,
)
from allinone_bench.data.types import DatasetSplit, MultipleChoiceSample, OpenQASample

_QA_DIRS = ("", "MSRVTT-QA")  # the original MSRVTT-QA files, at the dataset root or as unzipped


# --------------------------------------------------------------------------------------------------
# Open-ended QA


@register_adapter("msrvtt_qa")
class MSRVTTQA(MSRVTTBase):
    """MSRVTT-QA (Xu et al. 2017), from the original release or the All-in-One bundle (ClipBERT's JSON lines).

    ``annotation``: ``official`` reads the release's ``{train,val,test}_qa.json`` (records ``answer``, ``id``,
    ``question``, ``video_id`` = N for ``videoN``) from ``msrvtt/`` or ``msrvtt/MSRVTT-QA/``; it has no answer
    vocabulary, so the ``vocab_size`` (1500, as the bundle) most frequent training answers make one
    (:func:`answer_vocab`). ``bundle`` reads ``meta_data/msrvtt_qa_{train,val,test}.jsonl`` with the bundle's
    ``msrvtt_train_ans2label.json`` (1500 train answers). ``auto`` (default): the bundle when it is complete,
    since its label order is the one the official heads (and finetuned checkpoints) use, else the original.
    The splits are the same; the vocabularies may differ at the cut, so results.json records which was read.

    ``label`` is the answer's index in the vocabulary or ``None`` when out of vocabulary. ``val_file``: which file
    the ``val`` split reads, ``val`` (the real validation file, default) or ``test`` (what the official code
    does: it validates, and selects checkpoints, on the test file).
    """

    sample_type = OpenQASample
    splits = ("train", "val", "test")
    auto_order = ("bundle", "official")
    layout = """\
DATA_ROOT/msrvtt/
  {train,val,test}_qa.json                     original release (or in MSRVTT-QA/): a JSON array of
                                               {"answer": ..., "id": 0, "question": ..., "video_id": 7010}
  meta_data/msrvtt_qa_{train,val,test}.jsonl   All-in-One bundle (alternative):
                                               {"question": ..., "answer": ..., "video_id": "video7010"} per line
  meta_data/msrvtt_train_ans2label.json        {"answer": label, ...} (bundle only)
  videos/all/<video_id>.mp4"""
    option_specs = {
        "val_file": Option("val", choices=("val", "test"), help="file read by the val split"),
        "annotation": Option("auto", choices=("auto", "official", "bundle"),
                             help="original {split}_qa.json, or the All-in-One bundle jsonl (auto: the bundle if complete)"),
        "vocab_size": Option(1500, help="answers kept from the original train file (0: all); bundle: its file"),
    }

    def _load(self, split: str) -> DatasetSplit:
        stem = self.options["val_file"] if split == "val" else split
        official = [self.locate(f"{name}_qa.json", _QA_DIRS) for name in (stem, "train")]
        bundle = [self.root / f"meta_data/msrvtt_qa_{stem}.jsonl", self.root / "meta_data/msrvtt_train_ans2label.json"]
        form = self.choose_annotation(split, official, bundle)
        qa_path, vocab_path = official if form == "official" else bundle
        records = read_json_records(qa_path)
        if form == "bundle":
            vocab = read_ans2label(vocab_path)
        else:
            train = records if vocab_path == qa_path else read_json_records(vocab_path)
            vocab = answer_vocab((r.get_str("answer") for r in train), self.options["vocab_size"])
        samples, fallbacks = [], []
        for rec in records:
            question, answer, video = rec.get_str("question"), rec.get_str("answer"), rec.get("video_id", (str, int))
            fallbacks.append(f"{qa_path.stem}:{rec.line if rec.line is not None else rec.index}")
            sample_id = record_id(rec.data, fallbacks[-1])
            video_id = f"video{video}" if isinstance(video, int) else video.strip()
            samples.append(OpenQASample(sample_id, self.video(video_id), question, answer, vocab.get(answer)))
        samples = unique_or_fallback(samples, fallbacks)
        return self.new_split(split, samples, list(dict.fromkeys([qa_path, vocab_path])), answer_vocab=vocab)

    @classmethod
    def synthesize(cls, out_root: Path, *, num_videos: int = 24, seed: int = 0) -> Path:
        """Three questions per video (colour, shape, direction); val/test add one out-of-vocabulary question.
        Both forms: the bundle's jsonl + ans2label, and the original ``MSRVTT-QA/{split}_qa.json``."""
        root = Path(out_root) / cls.dataset_dir
        offset = SYNTH_OFFSET[cls.name]
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
        first_id = 0  # the release numbers its questions across the three files
        for split, rows in records.items():
            write_jsonl(root / f"meta_data/msrvtt_qa_{split}.jsonl", rows)
            write_json(root / _QA_DIRS[1] / f"{split}_qa.json",  # the original release: one JSON array, int ids
                       [{"answer": r["answer"], "id": first_id + i, "question": r["question"],
                         "video_id": int(r["video_id"][len("video"):])} for i, r in enumerate(rows)])
            first_id += len(rows)
        answers = sorted({r["answer"] for r in records["train"]})
        write_json(root / "meta_data/msrvtt_train_ans2label.json", {a: i for i, a in enumerate(answers)})
        return root


# --------------------------------------------------------------------------------------------------
# Multiple choice


@register_adapter("msrvtt_mc")
class MSRVTTMultipleChoice(MSRVTTBase):
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
        offset = SYNTH_OFFSET[cls.name]
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
