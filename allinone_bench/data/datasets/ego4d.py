"""Ego4D multiple choice (Table 4): All-in-One's ``mc_val.csv`` and the public EgoMCQ ``egomcq.json``.

``ego4d_mc`` reads the official loader's ``meta_data/mc_val.csv`` (comma CSV with a header). Two columns
hold Python literals (read with :func:`ast.literal_eval`, never ``eval``): ``question`` = a tuple
``(video_uid, frame_loc, ..., gt_text)`` and ``answers`` = a list of tuples whose last item is the option
text. The label is the option whose text equals ``gt_text`` (the last such one, as the official loop leaves
it; a row where none matches is listed in ``problems`` and skipped, where the official code silently uses 0).
Frames: ``videos/<video_uid>.mp4``; the official offsets ``sample_frames(T, 120) + frame_loc - 60``, each
clamped into the video (``VideoRef.frame_window``). All options are scored (the official config scores the
first 4: ``draw_false_text 4``). The file is the only data: zero-shot evaluates all of it (``split: all``);
``split: by_video`` cuts it by video uid into train 60% / val 10% / test 30% for a finetuned row.

``ego4d_egomcq`` reads EgoVLP's ``egomcq.json``: ``{"<i>": {"query": {"clip_text", "video_uid", "clip_start",
"clip_end", ...}, "choices": {"0".."4": {same keys}}, "answer": k, "types": 1 (inter-video) | 2
(intra-video)}}``: one text, five candidate clips (``[clip_start, clip_end]`` seconds of
``videos/<video_uid>.mp4``); the metrics report inter- and intra-video accuracy apart.
"""

from __future__ import annotations

import ast
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allinone_bench.data.datasets.base import DatasetAdapter, Option, Row, read_csv, read_json, register_adapter
from allinone_bench.data.synthetic import FPS, caption, distractor_scenes, render, sample_scenes, write_json, write_mp4
from allinone_bench.data.types import DatasetSplit, MultipleChoiceSample, VideoRef
from allinone_bench.errors import AnnotationError

__all__ = ["EgoMCQ", "Ego4DChoice", "OFFICIAL_SPAN"]

OFFICIAL_SPAN = 120
"""Frames the official reader lays its T segments over, centred on ``frame_loc``."""
_GROUPS = {1: "inter", 2: "intra"}
_SYNTH_FRAMES = 160


def _literal(row: Row, column: str) -> Any:
    try:
        return ast.literal_eval(row[column])
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise row.error(f"column {column!r} is not a Python literal: {row[column][:80]!r}") from None


def _bucket(uid: str) -> str:
    """by_video split of a video uid: CRC32 mod 10 -> 0-5 train, 6 val, 7-9 test."""
    k = zlib.crc32(uid.encode("utf-8")) % 10
    return "train" if k < 6 else "val" if k == 6 else "test"


class _Ego4D(DatasetAdapter):
    dataset_dir = "ego4d"
    sample_type = MultipleChoiceSample

    def video_path(self, uid: str) -> Path:
        return self.root / "videos" / f"{uid}.mp4"


@register_adapter("ego4d_mc")
class Ego4DChoice(_Ego4D):
    """All-in-One's Ego4D multiple choice (see the module docstring)."""

    splits = ("train", "val", "test")
    layout = """\
DATA_ROOT/ego4d/
  meta_data/mc_val.csv     header; question = "(video_uid, frame_loc, ..., gt_text)",
                           answers = "[(..., option_text), ...]"  (Python literals)
  videos/<video_uid>.mp4"""
    option_specs = {
        "split": Option("all", choices=("all", "by_video"),
                        help="all: every row is test (zero-shot); by_video: train/val/test by video uid"),
    }

    def _load(self, split: str) -> DatasetSplit:
        path = self._file()
        by_video = self.options["split"] == "by_video"
        if not by_video and split != "test":
            raise AnnotationError(f"{path}: Ego4D MC has no {split} data (zero-shot only); "
                                  "use dataset option split=by_video for a finetuned run")
        samples, problems = [], []
        for row in read_csv(path, min_fields=2):
            question, answers = _literal(row, "question"), _literal(row, "answers")
            if not isinstance(question, (tuple, list)) or len(question) < 3 or not isinstance(question[-1], str):
                raise row.error(f"question should be (video_uid, frame_loc, ..., gt_text), got {question!r}")
            uid, frame_loc, gt = str(question[0]), question[1], question[-1]
            if isinstance(frame_loc, bool) or not isinstance(frame_loc, (int, float)):
                raise row.error(f"frame_loc (question[1]) should be a frame number, got {frame_loc!r}")
            if not isinstance(answers, (list, tuple)) or not all(
                    isinstance(a, (tuple, list)) and a and isinstance(a[-1], str) for a in answers):
                raise row.error("answers should be a list of tuples whose last item is the option text")
            if by_video and _bucket(uid) != split:
                continue
            options = tuple(a[-1] for a in answers)
            matches = [i for i, text in enumerate(options) if text == gt]
            if not matches:
                problems.append((row.where, "no option equals the question's gt text, skipped"))
                continue
            first = int(frame_loc) - OFFICIAL_SPAN // 2
            video = VideoRef(self.video_path(uid), frame_window=(first, OFFICIAL_SPAN))
            samples.append(MultipleChoiceSample(f"mc_val:{row.line}", video, options, matches[-1]))
        return self.new_split(split, samples, [path], problems=problems)

    def _file(self) -> Path:
        for rel in ("meta_data/mc_val.csv", "mc_val.csv"):
            if (self.root / rel).is_file():
                return self.root / rel
        return self.require_file("meta_data/mc_val.csv")

    @classmethod
    def synthesize(cls, out_root: Path, *, num_videos: int = 24, seed: int = 0) -> Path:
        """One row per video: the right caption among 5, ``frame_loc`` inside a 160-frame clip (so the
        120-frame span is clamped at one end for some rows, as happens in the release)."""
        root = Path(out_root) / cls.dataset_dir
        rng = np.random.default_rng([seed, 0xE60])
        rows = []
        for i, scene in enumerate(sample_scenes(num_videos, seed)):
            uid = f"{zlib.crc32(f'{seed}-{i}'.encode()):08x}-0000-4000-8000-synthetic{i:03d}"
            write_mp4(root / "videos" / f"{uid}.mp4", render(scene, num_frames=_SYNTH_FRAMES, size=32,
                                                              seed=seed * 1000 + i), fps=FPS)
            texts = [f"#C C sees {caption(scene)}"] + [f"#C C sees {caption(s)}"
                                                       for s in distractor_scenes(scene, 4, rng)]
            order = rng.permutation(5)
            frame_loc = int(rng.integers(40, _SYNTH_FRAMES - 40))
            answers = [(uid, frame_loc + 30 * k, texts[j]) for k, j in enumerate(order)]
            rows.append([repr((uid, frame_loc, 12.5, texts[0])), repr(answers)])
        (root / "meta_data").mkdir(parents=True, exist_ok=True)  # quoted CSV, as pandas writes (and reads) it
        pd.DataFrame(rows, columns=["question", "answers"]).to_csv(root / "meta_data/mc_val.csv", index=False)
        return root


@register_adapter("ego4d_egomcq")
class EgoMCQ(_Ego4D):
    """EgoMCQ (EgoVLP): a text query and 5 candidate clips; ``group`` = inter / intra."""

    splits = ("test",)
    layout = """\
DATA_ROOT/ego4d/
  egomcq.json   {"0": {"query": {"clip_text", "video_uid", "clip_start", "clip_end"}, "choices": {"0".."4": {...}},
                       "answer": k, "types": 1 (inter) | 2 (intra)}, ...}
  videos/<video_uid>.mp4"""

    def _clip(self, where: str, item: Any) -> tuple[str, VideoRef]:
        keys = ("clip_text", "video_uid", "clip_start", "clip_end")
        if not isinstance(item, dict) or any(k not in item for k in keys):
            raise AnnotationError(f"{where}: expected an object with {', '.join(keys)}, got {str(item)[:120]!r}")
        try:
            start, end = max(float(item["clip_start"]), 0.0), max(float(item["clip_end"]), 0.0)
        except (TypeError, ValueError):
            raise AnnotationError(f"{where}: clip_start/clip_end are not numbers") from None
        return str(item["clip_text"]), VideoRef(self.video_path(str(item["video_uid"])), start=start, end=end)

    def _load(self, split: str) -> DatasetSplit:
        path = next((p for p in (self.root / "egomcq.json", self.root / "meta_data/egomcq.json") if p.is_file()),
                    None) or self.require_file("egomcq.json")
        doc = read_json(path)
        if not isinstance(doc, dict):
            raise AnnotationError(f"{path}: expected a JSON object keyed by question index")
        samples = []
        for key, item in doc.items():
            where = f"{path} (question {key!r})"
            if not isinstance(item, dict) or not {"query", "choices", "answer", "types"} <= set(item):
                raise AnnotationError(f"{where}: expected keys query, choices, answer, types")
            query, _ = self._clip(f"{where} query", item["query"])
            choices = item["choices"]
            if not isinstance(choices, dict) or len(choices) != 5:
                raise AnnotationError(f"{where}: 'choices' should map 5 option keys to clips")
            clips = [self._clip(f"{where} choice {k!r}", choices[k]) for k in choices]
            answer, group = item["answer"], _GROUPS.get(item["types"])
            if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer < len(clips):
                raise AnnotationError(f"{where}: answer {answer!r} is not an index into the 5 choices")
            if group is None:
                raise AnnotationError(f"{where}: types {item['types']!r} is not 1 (inter) or 2 (intra)")
            videos = tuple(v for _, v in clips)
            samples.append(MultipleChoiceSample(str(key), videos[0], tuple(t for t, _ in clips), answer,
                                                question=query, option_videos=videos, group=group))
        return self.new_split(split, samples, [path])

    @classmethod
    def synthesize(cls, out_root: Path, *, num_videos: int = 24, seed: int = 0) -> Path:
        """Videos of 3 scenes of 2 s each; inter questions draw the 4 wrong clips from other videos, intra
        questions from other moments of the same video."""
        root = Path(out_root) / cls.dataset_dir
        rng = np.random.default_rng([seed, 0xE6C])
        scenes = sample_scenes(3 * num_videos, seed)
        seconds = 16 / FPS
        uids = [f"egomcq-synthetic-{i:03d}" for i in range(num_videos)]
        for i, uid in enumerate(uids):
            frames = np.concatenate([render(scenes[3 * i + k], num_frames=16, size=32, seed=seed + 7 * i + k)
                                     for k in range(3)])
            write_mp4(root / "videos" / f"{uid}.mp4", frames, fps=FPS)

        def clip(i: int, k: int) -> dict[str, Any]:
            return {"video_uid": uids[i], "clip_start": k * seconds, "clip_end": (k + 1) * seconds,
                    "clip_text": f"#C C watches {caption(scenes[3 * i + k])}"}

        doc: dict[str, Any] = {}
        for i in range(num_videos):
            k = int(rng.integers(3))
            intra = i % 2 == 1
            wrong = ([clip(i, j) for j in range(3) if j != k] + [clip((i + 1) % num_videos, 0),
                                                                  clip((i + 2) % num_videos, 1)]
                     if intra else [clip(int(j), int(rng.integers(3)))
                                    for j in rng.choice([j for j in range(num_videos) if j != i], 4, replace=False)])
            answer = int(rng.integers(5))
            options = wrong[:answer] + [clip(i, k)] + wrong[answer:]
            doc[str(i)] = {"query": clip(i, k), "choices": {str(j): c for j, c in enumerate(options)},
                           "answer": answer, "types": 2 if intra else 1}
        write_json(root / "egomcq.json", doc)
        return root
