"""TGIF-QA (All-in-One bundle): FrameQA (open-ended) and Action / Transition (5-way multiple choice).

TGIF has train and test files only. The official code reads the test file for validation (and so selects its
checkpoint on test); option ``val_source`` keeps that (``test``, default) or carves a deterministic 10% of the
training GIFs out as ``val`` (``holdout``; train then excludes them), so selection can avoid the test set.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from allinone_bench.data.datasets.base import (
    DatasetAdapter,
    JsonRecord,
    Option,
    holdout_keys,
    read_ans2label,
    read_jsonl,
    record_id,
    register_adapter,
    unique_or_fallback,
)
from allinone_bench.data.synthetic import (
    DIRECTIONS,
    FPS,
    Scene,
    SyntheticVideo,
    oov_question,
    plan_videos,
    questions,
    write_gif,
    write_json,
    write_jsonl,
)
from allinone_bench.data.types import DatasetSplit, MultipleChoiceSample, OpenQASample, VideoRef

_META = "meta_data"
_GIFS = "gifs"
class _TGIF(DatasetAdapter):
    """Shared split logic: which file a split reads, and the optional train holdout for ``val``."""

    dataset_dir = "tgif"
    splits = ("train", "val", "test")
    file_prefix: str = ""
    option_specs = {
        "val_source": Option("test", choices=("test", "holdout"),
                             help="val = the test file (official) or a 10% holdout of train GIFs"),
    }

    def video(self, gif_name: str) -> VideoRef:
        return VideoRef(self.root / _GIFS / f"{gif_name}.gif", kind="gif")

    def _records(self, split: str) -> tuple[Path, list[JsonRecord]]:
        holdout = self.options["val_source"] == "holdout"
        stem = "train" if split == "train" or (split == "val" and holdout) else "test"
        path = self.require_file(f"{_META}/{self.file_prefix}_{stem}.jsonl")
        records = read_jsonl(path)
        if holdout and split != "test":
            held = holdout_keys([r.get_str("gif_name") for r in records])
            keep = split == "val"
            records = [r for r in records if (r.get_str("gif_name") in held) == keep]
        return path, records

    @classmethod
    def _write_split_files(cls, root: Path, rows: dict[str, list[dict[str, Any]]]) -> None:
        for split, items in rows.items():
            write_jsonl(root / f"{_META}/{cls.file_prefix}_{split}.jsonl", items)

    @classmethod
    def _gif_name(cls, clip: SyntheticVideo) -> str:
        return f"tumblr_synth_{cls.file_prefix}_{clip.index:04d}"


@register_adapter("tgif_frameqa")
class TGIFFrameQA(_TGIF):
    """TGIF FrameQA: ``label`` indexes ``frameqa_trainval_ans2label.json`` (1540 answers), ``None`` if OOV."""

    sample_type = OpenQASample
    file_prefix = "frameqa"
    layout = """\
DATA_ROOT/tgif/
  meta_data/frameqa_{train,test}.jsonl          {"gif_name": ..., "question": ..., "answer": ...} per line
  meta_data/frameqa_trainval_ans2label.json     {"answer": label, ...}
  gifs/<gif_name>.gif"""

    def _load(self, split: str) -> DatasetSplit:
        path, records = self._records(split)
        vocab_path = self.require_file(f"{_META}/frameqa_trainval_ans2label.json")
        vocab = read_ans2label(vocab_path)
        samples = []
        for rec in records:
            gif, question, answer = rec.get_str("gif_name"), rec.get_str("question"), rec.get_str("answer")
            sample_id = record_id(rec.data, f"{path.stem}:{rec.line}")
            samples.append(OpenQASample(sample_id, self.video(gif), question, answer, vocab.get(answer)))
        samples = unique_or_fallback(samples, [f"{path.stem}:{r.line}" for r in records])
        return self.new_split(split, samples, [path, vocab_path], answer_vocab=vocab)

    @classmethod
    def synthesize(cls, out_root: Path, *, num_videos: int = 24, seed: int = 0) -> Path:
        """Colour/shape/direction questions per GIF; each test GIF adds one out-of-vocabulary question."""
        root = Path(out_root) / cls.dataset_dir
        rows: dict[str, list[dict[str, Any]]] = {"train": [], "test": []}
        for clip in plan_videos(num_videos, seed, splits=("train", "test")):
            name = cls._gif_name(clip)
            qas = questions(clip.scene, variant=clip.index)
            if clip.split == "test":
                qas.append(oov_question(clip.scene))
            rows[clip.split].extend({"gif_name": name, "question": q.question, "answer": q.answer} for q in qas)
            write_gif(root / _GIFS / f"{name}.gif", clip.frames(), fps=FPS)
        cls._write_split_files(root, rows)
        answers = sorted({r["answer"] for r in rows["train"]})
        write_json(root / f"{_META}/frameqa_trainval_ans2label.json", {a: i for i, a in enumerate(answers)})
        return root


class _TGIFChoice(_TGIF):
    """Action / Transition: a question with 5 candidate answers, ``answer`` 0-based."""

    sample_type = MultipleChoiceSample
    # synthetic question and options for a scene: (question, 5 options, index of the right one before shuffling)
    _synthetic_item: Callable[[Scene], tuple[str, list[str], int]]

    def _load(self, split: str) -> DatasetSplit:
        path, records = self._records(split)
        samples = []
        for rec in records:
            gif, question = rec.get_str("gif_name"), rec.get_str("question")
            options, answer = rec.get_str_list("options", 5), rec.get_int("answer")
            if not 0 <= answer < len(options):
                raise rec.error(f"answer {answer} is not a 0-based index into {len(options)} options")
            sample_id = record_id(rec.data, f"{path.stem}:{rec.line}")
            samples.append(MultipleChoiceSample(sample_id, self.video(gif), tuple(options), answer, question))
        samples = unique_or_fallback(samples, [f"{path.stem}:{r.line}" for r in records])
        return self.new_split(split, samples, [path])

    @classmethod
    def synthesize(cls, out_root: Path, *, num_videos: int = 24, seed: int = 0) -> Path:
        root = Path(out_root) / cls.dataset_dir
        rng = np.random.default_rng([seed, zlib.crc32(cls.file_prefix.encode())])
        rows: dict[str, list[dict[str, Any]]] = {"train": [], "test": []}
        for clip in plan_videos(num_videos, seed, splits=("train", "test")):
            name = cls._gif_name(clip)
            question, options, right = cls._synthetic_item(clip.scene)
            order = rng.permutation(len(options))
            rows[clip.split].append({"gif_name": name, "question": question,
                                     "options": [options[i] for i in order],
                                     "answer": int(np.flatnonzero(order == right)[0])})
            write_gif(root / _GIFS / f"{name}.gif", clip.frames(), fps=FPS)
        cls._write_split_files(root, rows)
        return root


def _action_item(scene: Scene) -> tuple[str, list[str], int]:
    options = [f"move {d}" for d in DIRECTIONS] + ["stay still"]
    return f"what does the {scene.colour} {scene.shape} do?", options, DIRECTIONS.index(scene.direction)


_SIDE = {"left": "the left", "right": "the right", "up": "the top", "down": "the bottom"}


def _transition_item(scene: Scene) -> tuple[str, list[str], int]:
    options = [f"it moves toward {_SIDE[d]}" for d in DIRECTIONS] + ["it disappears"]
    question = f"what does the {scene.colour} {scene.shape} do after it appears?"
    return question, options, DIRECTIONS.index(scene.direction)


_LAYOUT_CHOICE = """\
DATA_ROOT/tgif/
  meta_data/{prefix}_{{train,test}}.jsonl   {{"gif_name": ..., "question": ..., "options": [5 strings], "answer": 0-4}}
  gifs/<gif_name>.gif"""


@register_adapter("tgif_action")
class TGIFAction(_TGIFChoice):
    """TGIF Action: which repeated action the GIF shows, among 5 options."""

    file_prefix = "action"
    layout = _LAYOUT_CHOICE.format(prefix="action")
    _synthetic_item = staticmethod(_action_item)


@register_adapter("tgif_transition")
class TGIFTransition(_TGIFChoice):
    """TGIF Transition: what happens before/after a state change, among 5 options."""

    file_prefix = "transition"
    layout = _LAYOUT_CHOICE.format(prefix="transition")
    _synthetic_item = staticmethod(_transition_item)
