"""TGIF-QA (Jang et al. 2017): FrameQA (open-ended) and Action / Transition (5-way multiple choice).

Two annotation forms are read (option ``annotation``; ``auto``, the default, takes the original when present,
except FrameQA, which takes the bundle when it is complete: its vocabulary file holds the label order the
official heads and finetuned checkpoints use):

* ``official``: the release's ``{Train,Test}_{frameqa,action,transition}_question.csv`` (tab-separated, header
  row, CRLF line ends, in ``tgif/`` or ``tgif/dataset/`` as in the release repository). FrameQA columns
  ``gif_name question answer type vid_id key description``; Action/Transition ``gif_name question a1..a5 answer
  vid_id key`` with ``answer`` the 0-based option index. ``vid_id`` (``FRAMEQA1159``) is unique per question
  and is the sample id. FrameQA's answer vocabulary is built from the training answers (``vocab_size``, 0 =
  all, most frequent first), since the release has none;
* ``bundle``: the All-in-One bundle (ClipBERT's) ``meta_data/{prefix}_{train,test}.jsonl`` and, for FrameQA,
  ``meta_data/frameqa_trainval_ans2label.json`` (1540 answers).

Both forms have the same train and test questions; the FrameQA vocabularies may differ at the margin and
results.json records which form was read.

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
    answer_vocab,
    holdout_keys,
    read_ans2label,
    read_jsonl,
    read_tsv,
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
    write_rows,
)
from allinone_bench.data.types import DatasetSplit, MultipleChoiceSample, OpenQASample, VideoRef

_META = "meta_data"
_GIFS = "gifs"
_CSV_DIRS = ("", "dataset")
_STEM = {"train": "Train", "test": "Test"}
_ANSWER_COLUMNS = ("a1", "a2", "a3", "a4", "a5")
_ID_KEYS = ("question_id", "qid", "id", "vid_id")
_ID_PREFIX = {"frameqa": "FRAMEQA", "action": "ACTION", "transition": "TRANS"}
_FRAMEQA_HEADER = ("gif_name", "question", "answer", "type", "vid_id", "key", "description")
_CHOICE_HEADER = ("gif_name", "question", *_ANSWER_COLUMNS, "answer", "vid_id", "key")


def _csv_records(path: Path) -> list[JsonRecord]:
    """Rows of an original csv as records keyed by its header; the five ``a1..a5`` become ``options``."""
    records = []
    for row in read_tsv(path, header=True, min_fields=3):
        if row.header is None or len(row) != len(row.header):
            raise row.error(f"expected {len(row.header or ())} tab-separated fields (header {row.header}), "
                            f"found {len(row)}")
        data: dict[str, Any] = {k: v.strip() for k, v in zip(row.header, row.values, strict=True)}
        if all(k in data for k in _ANSWER_COLUMNS):
            data["options"] = [data.pop(k) for k in _ANSWER_COLUMNS]
        records.append(JsonRecord(path, row.line, len(records), data))
    return records


class _TGIF(DatasetAdapter):
    """Shared file logic: which form and file a split reads, and the optional train holdout for ``val``."""

    dataset_dir = "tgif"
    splits = ("train", "val", "test")
    file_prefix: str = ""
    option_specs: dict[str, Option] = {
        "val_source": Option("test", choices=("test", "holdout"),
                             help="val = the test file (official) or a 10% holdout of train GIFs"),
        "annotation": Option("auto", choices=("auto", "official", "bundle"),
                             help="original {Train,Test}_*_question.csv, or the All-in-One bundle jsonl"),
    }

    def video(self, gif_name: str) -> VideoRef:
        return VideoRef(self.root / _GIFS / f"{gif_name}.gif", kind="gif")

    def _stem(self, split: str) -> str:
        """``train`` or ``test``: the file ``split`` reads (val reads train under ``val_source: holdout``)."""
        holdout = self.options["val_source"] == "holdout"
        return "train" if split == "train" or (split == "val" and holdout) else "test"

    def _paths(self, stem: str) -> tuple[Path, Path]:
        """The (official, bundle) question file of ``stem``."""
        return (self.locate(f"{_STEM[stem]}_{self.file_prefix}_question.csv", _CSV_DIRS),
                self.root / f"{_META}/{self.file_prefix}_{stem}.jsonl")

    def _records(self, split: str, vocab: tuple[Path, Path] | None = None) -> tuple[str, Path, list[JsonRecord]]:
        """The form read, the question file and its records (after the holdout rule). ``vocab``: the
        (official, bundle) vocabulary source files a split also needs."""
        official, bundle = self._paths(self._stem(split))
        extra = vocab or ()
        form = self.choose_annotation(split, [official, *extra[:1]], [bundle, *extra[1:]])
        path = official if form == "official" else bundle
        records = _csv_records(path) if form == "official" else read_jsonl(path)
        if self._stem(split) == "train" and self.options["val_source"] == "holdout":
            held = holdout_keys([r.get_str("gif_name") for r in records])
            records = [r for r in records if (r.get_str("gif_name") in held) == (split == "val")]
        return form, path, records

    @staticmethod
    def _sample_ids(path: Path, records: list[JsonRecord]) -> tuple[list[str], list[str]]:
        """(sample id, fallback id) per record: the release's question id, else file stem + line."""
        fallbacks = [f"{path.stem}:{r.line}" for r in records]
        return [record_id(r.data, f, keys=_ID_KEYS) for r, f in zip(records, fallbacks, strict=True)], fallbacks

    @classmethod
    def _write_split_files(cls, root: Path, rows: dict[str, list[dict[str, Any]]], header: tuple[str, ...]) -> None:
        """Both forms: the bundle's jsonl, and the release's csv (tab-separated, ``header``, CRLF line ends;
        ``a1..a5`` hold the options, ``vid_id`` a question id)."""
        number = 0  # question ids run on across the files, as the release's do (FRAMEQA1159, TRANS23, ...)
        for split, items in rows.items():
            write_jsonl(root / f"{_META}/{cls.file_prefix}_{split}.jsonl", items)
            table = []
            for item in items:
                number += 1
                flat = {**item, "vid_id": f"{_ID_PREFIX[cls.file_prefix]}{number}", "key": number, "type": 0,
                        "description": item.get("question", "")}
                flat.update(zip(_ANSWER_COLUMNS, item.get("options", ()), strict=False))
                table.append([flat[k] for k in header])
            write_rows(root / f"{_STEM[split]}_{cls.file_prefix}_question.csv", table, header=header, newline="\r\n")

    @classmethod
    def _gif_name(cls, clip: SyntheticVideo) -> str:
        return f"tumblr_synth_{cls.file_prefix}_{clip.index:04d}"


@register_adapter("tgif_frameqa")
class TGIFFrameQA(_TGIF):
    """TGIF FrameQA: ``label`` indexes the answer vocabulary (bundle: ``frameqa_trainval_ans2label.json``, 1540
    answers; original: the training answers, ``vocab_size`` most frequent, 0 = all), ``None`` if OOV."""

    sample_type = OpenQASample
    file_prefix = "frameqa"
    auto_order = ("bundle", "official")
    option_specs = {**_TGIF.option_specs,
                    "vocab_size": Option(0, help="answers kept from Train_frameqa_question.csv (0: all); "
                                                 "bundle: its ans2label file")}
    layout = """\
DATA_ROOT/tgif/
  {Train,Test}_frameqa_question.csv             original release (or in dataset/): tab-separated, header
                                                gif_name question answer type vid_id key description
  meta_data/frameqa_{train,test}.jsonl          All-in-One bundle (alternative):
                                                {"gif_name": ..., "question": ..., "answer": ...} per line
  meta_data/frameqa_trainval_ans2label.json     {"answer": label, ...} (bundle only)
  gifs/<gif_name>.gif"""

    def _load(self, split: str) -> DatasetSplit:
        train_csv = self._paths("train")[0]
        bundle_vocab = self.root / f"{_META}/frameqa_trainval_ans2label.json"
        form, path, records = self._records(split, vocab=(train_csv, bundle_vocab))
        if form == "bundle":
            vocab_path, vocab = bundle_vocab, read_ans2label(bundle_vocab)
        else:
            train = _csv_records(train_csv)  # the whole file: a holdout must not change the vocabulary
            vocab_path, vocab = train_csv, answer_vocab((r.get_str("answer") for r in train),
                                                        self.options["vocab_size"])
        ids, fallbacks = self._sample_ids(path, records)
        samples = []
        for rec, sample_id in zip(records, ids, strict=True):
            gif, question, answer = rec.get_str("gif_name"), rec.get_str("question"), rec.get_str("answer")
            samples.append(OpenQASample(sample_id, self.video(gif), question, answer, vocab.get(answer)))
        samples = unique_or_fallback(samples, fallbacks)
        return self.new_split(split, samples, list(dict.fromkeys([path, vocab_path])), answer_vocab=vocab)

    @classmethod
    def synthesize(cls, out_root: Path, *, num_videos: int = 24, seed: int = 0) -> Path:
        """Colour/shape/direction questions per GIF; each test GIF adds one out-of-vocabulary question. Both
        forms (bundle jsonl + ans2label of the train answers; release csv)."""
        root = Path(out_root) / cls.dataset_dir
        rows: dict[str, list[dict[str, Any]]] = {"train": [], "test": []}
        for clip in plan_videos(num_videos, seed, splits=("train", "test")):
            name = cls._gif_name(clip)
            qas = questions(clip.scene, variant=clip.index)
            if clip.split == "test":
                qas.append(oov_question(clip.scene))
            rows[clip.split].extend({"gif_name": name, "question": q.question, "answer": q.answer} for q in qas)
            write_gif(root / _GIFS / f"{name}.gif", clip.frames(), fps=FPS)
        cls._write_split_files(root, rows, _FRAMEQA_HEADER)
        answers = sorted({r["answer"] for r in rows["train"]})
        write_json(root / f"{_META}/frameqa_trainval_ans2label.json", {a: i for i, a in enumerate(answers)})
        return root


class _TGIFChoice(_TGIF):
    """Action / Transition: a question with 5 candidate answers, ``answer`` 0-based."""

    sample_type = MultipleChoiceSample
    # synthetic question and options for a scene: (question, 5 options, index of the right one before shuffling)
    _synthetic_item: Callable[[Scene], tuple[str, list[str], int]]

    def _load(self, split: str) -> DatasetSplit:
        _, path, records = self._records(split)
        ids, fallbacks = self._sample_ids(path, records)
        samples = []
        for rec, sample_id in zip(records, ids, strict=True):
            gif, question = rec.get_str("gif_name"), rec.get_str("question")
            options, answer = rec.get_str_list("options", 5), rec.get_int("answer")
            if not 0 <= answer < len(options):
                raise rec.error(f"answer {answer} is not a 0-based index into {len(options)} options")
            samples.append(MultipleChoiceSample(sample_id, self.video(gif), tuple(options), answer, question))
        return self.new_split(split, unique_or_fallback(samples, fallbacks), [path])

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
        cls._write_split_files(root, rows, _CHOICE_HEADER)
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
  {{Train,Test}}_{prefix}_question.csv   original release (or in dataset/): tab-separated, header
                                        gif_name question a1 a2 a3 a4 a5 answer(0-4) vid_id key
  meta_data/{prefix}_{{train,test}}.jsonl   All-in-One bundle (alternative):
                          {{"gif_name": ..., "question": ..., "options": [5 strings], "answer": 0-4}} per line
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
