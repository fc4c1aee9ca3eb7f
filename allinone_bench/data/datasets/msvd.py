"""MSVD-QA (Xu et al. 2017 release, as bundled by All-in-One): open-ended QA over YouTube clips.

Format note: the official loader calls ``pd.read_json(path, lines=True)`` and then indexes the result as
columns, which only works when each ``*_qa_encode.json`` file is ONE line holding a JSON array of records. The
reference could not verify the bundle's exact bytes, so this adapter accepts that form, a pretty-printed JSON
array, and JSON lines (one record per line); all give the same samples.
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


@register_adapter("msvd_qa")
class MSVDQA(DatasetAdapter):
    """MSVD-QA. ``video_id`` (int N) maps to a clip through ``msvd_youtube_mapping.txt`` (``<clip> vidN``);
    ``label`` is the answer's line index in ``msvd_answer_set.txt`` (1000 answers) or ``None`` when out of
    vocabulary. ``val_file``: ``val`` (default, the real validation file) or ``test`` (the official code
    validates, and selects checkpoints, on the test file)."""

    sample_type = OpenQASample
    dataset_dir = "msvd"
    splits = ("train", "val", "test")
    layout = """\
DATA_ROOT/msvd/
  meta_data/msvd_{train,val,test}_qa_encode.json   one line: [{"video_id": 1, "question": ..., "answer": ...}, ...]
                                                   (a pretty-printed array or JSON lines are accepted too)
  meta_data/msvd_answer_set.txt                    one answer per line, label = line index (0-based)
  meta_data/msvd_youtube_mapping.txt               "<youtube_clip_name> vid<N>" per line
  YouTubeClips/<youtube_clip_name>.avi"""
    option_specs = {"val_file": Option("val", choices=("val", "test"), help="file read by the val split")}

    def _mapping(self) -> tuple[Path, dict[str, str]]:
        path = self.require_file(f"{_META}/msvd_youtube_mapping.txt")
        mapping: dict[str, str] = {}
        for line, text in read_lines(path):
            parts = text.split()
            if len(parts) != 2 or not parts[1].startswith("vid"):
                raise AnnotationError(f"{path}:{line}: expected '<youtube_clip_name> vid<N>', got {text!r}")
            mapping[parts[1]] = parts[0]
        return path, mapping

    def _answer_set(self) -> tuple[Path, dict[str, int]]:
        path = self.require_file(f"{_META}/msvd_answer_set.txt")
        vocab: dict[str, int] = {}
        for line, answer in read_lines(path):
            vocab.setdefault(answer, line - 1)
        return path, vocab

    def _load(self, split: str) -> DatasetSplit:
        stem = self.options["val_file"] if split == "val" else split
        qa_path = self.require_file(f"{_META}/msvd_{stem}_qa_encode.json")
        map_path, mapping = self._mapping()
        vocab_path, vocab = self._answer_set()
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
        """Official one-line-array QA files; answer set = train answers; val/test get one OOV question each."""
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
        for split, rows in records.items():
            write_json(root / f"{_META}/msvd_{split}_qa_encode.json", rows)
        write_lines(root / f"{_META}/msvd_answer_set.txt", sorted({r["answer"] for r in records["train"]}))
        write_lines(root / f"{_META}/msvd_youtube_mapping.txt", mapping)
        return root
