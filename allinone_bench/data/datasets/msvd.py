"""MSVD-QA (Xu et al. 2017): open-ended QA over YouTube clips, from the original release or the All-in-One bundle.

Both forms hold the same records ``{"answer", "id", "question", "video_id"}`` (the bundle's ``*_qa_encode.json``
add ``question_encode``, which is not read) under different names:

* ``annotation: official``: the release's ``{train,val,test}_qa.json``, ``answer_set.txt`` and
  ``youtube_mapping.txt`` in ``msvd/`` (or ``msvd/MSVD-QA/``);
* ``annotation: bundle``: ``meta_data/msvd_{train,val,test}_qa_encode.json``, ``meta_data/msvd_answer_set.txt``,
  ``meta_data/msvd_youtube_mapping.txt``;
* ``auto`` (default): the official files when present, else the bundle; results.json records which.

The answer vocabulary (``answer_set.txt``, 1000 answers) and the splits are the same in both. Format note: the
official loader calls ``pd.read_json(path, lines=True)`` and then indexes the result as columns, which only
works when each file is ONE line holding a JSON array of records (the real files are); a pretty-printed array
and JSON lines (one record per line) are accepted too and give the same samples.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from allinone_bench.data.datasets.base import (
    DatasetAdapter,
    Option,
    read_json_records,
    read_lines,
    record_id,
    register_adapter,
    unique_or_fallback,
)
from allinone_bench.data.synthetic import FPS, oov_question, plan_videos, questions, write_json, write_lines, write_mp4
from allinone_bench.data.types import DatasetSplit, OpenQASample, VideoRef
from allinone_bench.errors import AnnotationError

_META = "meta_data"
_CLIPS = "YouTubeClips"
_OFFICIAL_DIRS = ("", "MSVD-QA")
# (qa file of a split, answer set, mapping) per form
_NAMES = {
    "official": ("{split}_qa.json", "answer_set.txt", "youtube_mapping.txt"),
    "bundle": (f"{_META}/msvd_{{split}}_qa_encode.json", f"{_META}/msvd_answer_set.txt",
               f"{_META}/msvd_youtube_mapping.txt"),
}


@register_adapter("msvd_qa")
class MSVDQA(DatasetAdapter):
    """MSVD-QA. ``video_id`` (int N) maps to a clip through the mapping file (``<clip> vidN``); ``label`` is the
    answer's line index in the answer set (1000 answers) or ``None`` when out of vocabulary. ``val_file``:
    ``val`` (default, the real validation file) or ``test`` (the official code validates, and selects
    checkpoints, on the test file). ``annotation``: see the module docstring."""

    sample_type = OpenQASample
    dataset_dir = "msvd"
    splits = ("train", "val", "test")
    layout = """\
DATA_ROOT/msvd/
  {train,val,test}_qa.json                 original release (or in MSVD-QA/): one line
                                           [{"answer": ..., "id": 0, "question": ..., "video_id": 1}, ...]
  answer_set.txt                           one answer per line, label = line index (0-based)
  youtube_mapping.txt                      "<youtube_clip_name> vid<N>" per line
  meta_data/msvd_{train,val,test}_qa_encode.json, meta_data/msvd_answer_set.txt,
  meta_data/msvd_youtube_mapping.txt       the same files under the All-in-One bundle's names (alternative)
  YouTubeClips/<youtube_clip_name>.avi"""
    option_specs = {
        "val_file": Option("val", choices=("val", "test"), help="file read by the val split"),
        "annotation": Option("auto", choices=("auto", "official", "bundle"),
                             help="original release names, or the All-in-One bundle's (auto: original if present)"),
    }

    def _files(self, split: str) -> tuple[Path, Path, Path]:
        """The QA, answer-set and mapping files ``split`` reads, in the form :meth:`choose_annotation` picks."""
        stem = self.options["val_file"] if split == "val" else split
        official = [self.locate(name.format(split=stem), _OFFICIAL_DIRS) for name in _NAMES["official"]]
        bundle = [self.root / name.format(split=stem) for name in _NAMES["bundle"]]
        qa, answers, mapping = official if self.choose_annotation(split, official, bundle) == "official" else bundle
        return qa, answers, mapping

    @staticmethod
    def _mapping(path: Path) -> dict[str, str]:
        mapping: dict[str, str] = {}
        for line, text in read_lines(path):
            parts = text.split()
            if len(parts) != 2 or not parts[1].startswith("vid"):
                raise AnnotationError(f"{path}:{line}: expected '<youtube_clip_name> vid<N>', got {text!r}")
            mapping[parts[1]] = parts[0]
        return mapping

    @staticmethod
    def _answer_set(path: Path) -> dict[str, int]:
        vocab: dict[str, int] = {}
        for line, answer in read_lines(path):
            vocab.setdefault(answer, line - 1)
        return vocab

    def _load(self, split: str) -> DatasetSplit:
        qa_path, vocab_path, map_path = self._files(split)
        mapping, vocab = self._mapping(map_path), self._answer_set(vocab_path)
        samples, fallbacks = [], []
        for rec in read_json_records(qa_path):
            video_id, question, answer = rec.get_int("video_id"), rec.get_str("question"), rec.get_str("answer")
            clip = mapping.get(f"vid{video_id}")
            if clip is None:
                raise rec.error(f"video_id {video_id} has no line 'vid{video_id}' in {map_path}")
            fallbacks.append(f"{qa_path.stem}:{rec.line if rec.line is not None else rec.index}")
            sample_id = record_id(rec.data, fallbacks[-1])
            video = VideoRef(self.root / _CLIPS / f"{clip}.avi")
            samples.append(OpenQASample(sample_id, video, question, answer, vocab.get(answer)))
        samples = unique_or_fallback(samples, fallbacks)
        return self.new_split(split, samples, [qa_path, map_path, vocab_path], answer_vocab=vocab)

    @classmethod
    def synthesize(cls, out_root: Path, *, num_videos: int = 24, seed: int = 0) -> Path:
        """One-line-array QA files in both forms (the original names at the dataset root, the bundle's under
        ``meta_data/``, same records); answer set = train answers; val/test get one OOV question each."""
        root = Path(out_root) / cls.dataset_dir
        records: dict[str, list[dict[str, Any]]] = {"train": [], "val": [], "test": []}
        mapping = []
        for clip in plan_videos(num_videos, seed):
            video_id = clip.index + 1
            name = f"synth{clip.index:04d}_{clip.seed % 100}_{clip.seed % 100 + 4}"
            mapping.append(f"{name} vid{video_id}")
            qas = questions(clip.scene, variant=clip.index + 1)
            if clip.split != "train":
                qas.append(oov_question(clip.scene))
            for qa in qas:
                records[clip.split].append(
                    {"answer": qa.answer, "id": sum(map(len, records.values())), "question": qa.question,
                     "video_id": video_id}
                )
            write_mp4(root / _CLIPS / f"{name}.avi", clip.frames(), fps=FPS)
        answers = sorted({r["answer"] for r in records["train"]})
        for qa_name, answer_name, map_name in _NAMES.values():
            for split, rows in records.items():
                write_json(root / qa_name.format(split=split), rows)
            write_lines(root / answer_name, answers)
            write_lines(root / map_name, mapping)
        return root
