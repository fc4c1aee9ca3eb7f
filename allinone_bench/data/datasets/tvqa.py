"""TVQA (Lei et al. 2018): 5-way multiple-choice QA on TV-show clips, with optional subtitles.

Official files ``tvqa_{train,val,test_public}.jsonl`` (jayleicn/TVQA ``data/``), one question per line::

    {"a0": ..., "a1": ..., "a2": ..., "a3": ..., "a4": ..., "answer_idx": 4, "q": ..., "qid": 7,
     "show_name": "How I Met You Mother", "ts": "1.21-8.49", "vid_name": "met_s06e22_seg01_clip_02"}

``ts`` is a string ``"start-end"`` (seconds); a few rows hold ``"NaN-NaN"`` (3 in test-public): their window is
unknown, so the whole clip is used and the row is listed in ``problems`` (the official loader crashes on them
and silently swaps in a random other question). ``test_public`` has no ``answer_idx``: its labels are hidden,
so the harness evaluates on ``val`` and selects on a holdout of train (``val_source: holdout`` moves the
questions of a fixed ~10% of the training clips into split ``holdout`` and out of ``train``).

TVQA+ (``files: tvqa_plus``, ``tvqa_plus_{train,val}.json``: one JSON array, ``answer_idx`` a string,
``ts`` a list of two numbers, no ``show_name``, Big Bang Theory clips only) is read with the same parser.

Frames: TVQA's released 3 fps jpgs, ``frames/raw_frames/frames_hq/<show>_frames/<vid_name>/00001.jpg`` as the
official loader expects (also ``frames/frames_hq/...``, ``frames/<show>_frames/...`` or ``frames/<vid_name>``),
sampled from the ``ts`` window. Subtitles: ``tvqa_preprocessed_subtitles.jsonl`` (``{"vid_name", "sub":
[{"text", "start", "end"}]}``) or the srt files ``tvqa_subtitles/<vid_name>.srt``; the lines overlapping the
window become the sample's ``context`` (used when ``protocol.text.subtitles: window``).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from allinone_bench.data.datasets.base import (
    DatasetAdapter,
    JsonRecord,
    Option,
    holdout_keys,
    read_json_records,
    read_jsonl,
    record_id,
    register_adapter,
    unique_or_fallback,
)
from allinone_bench.data.datasets.subtitles import Subtitle, load_subtitles, window_text
from allinone_bench.data.datasets.tvc import TVQA_FPS, show_of
from allinone_bench.data.synthetic import DIRECTIONS, plan_videos, write_frame_dir, write_jsonl, write_lines
from allinone_bench.data.types import DatasetSplit, MultipleChoiceSample, VideoRef
from allinone_bench.errors import AnnotationError

__all__ = ["TVQA", "parse_ts"]

_FILES = {
    "tvqa": {"train": "tvqa_train.jsonl", "val": "tvqa_val.jsonl", "test_public": "tvqa_test_public.jsonl"},
    "tvqa_plus": {"train": "tvqa_plus_train.json", "val": "tvqa_plus_val.json",
                  "test_public": "tvqa_plus_test_public.json"},
}
_ANNOTATION_DIRS = ("", "meta_data", "data", "tvqa_qa_release")
_TS = re.compile(r"^\s*([0-9]*\.?[0-9]+|nan)\s*-\s*([0-9]*\.?[0-9]+|nan)\s*$", re.IGNORECASE)
_NUM_OPTIONS = 5


def parse_ts(value: Any) -> tuple[float, float] | None:
    """``"12.3-20.1"`` or ``[12.3, 20.1]`` -> (start, end); ``"NaN-NaN"`` -> None; anything else ValueError."""
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        start, end = float(value[0]), float(value[1])
    elif isinstance(value, str) and (match := _TS.match(value)):
        start, end = float(match.group(1)), float(match.group(2))
    else:
        raise ValueError(f"'ts' should be \"start-end\" seconds or [start, end], got {value!r}")
    if math.isnan(start) or math.isnan(end):
        return None
    if end < start:
        raise ValueError(f"'ts' ends before it starts: {value!r}")
    return start, end


@register_adapter("tvqa")
class TVQA(DatasetAdapter):
    """TVQA multiple-choice QA (see the module docstring for files, windows and subtitles)."""

    sample_type = MultipleChoiceSample
    dataset_dir = "tvqa"
    splits = ("train", "holdout", "val", "test_public")
    layout = """\
DATA_ROOT/tvqa/
  [meta_data/|data/]tvqa_{train,val,test_public}.jsonl
      {"q", "a0".."a4", "answer_idx" (not in test_public), "ts": "start-end", "vid_name", "show_name", "qid"}
  [meta_data/|data/]tvqa_preprocessed_subtitles.jsonl  {"vid_name", "sub": [{"text", "start", "end"}]}
    or tvqa_subtitles/<vid_name>.srt                   (only for protocol.text.subtitles: window)
  frames/raw_frames/frames_hq/<show>_frames/<vid_name>/00001.jpg ...   3 fps (show = bbt|castle|friends|grey|house|met)"""
    option_specs = {
        "val_source": Option("holdout", choices=("holdout", "val"),
                             help="holdout: split 'holdout' = ~10% of training clips, removed from 'train'"),
        "files": Option("tvqa", choices=tuple(_FILES), help="TVQA jsonl files or TVQA+ json files"),
    }

    # ---- files -------------------------------------------------------------------------------------
    def _find(self, name: str) -> Path | None:
        for folder in _ANNOTATION_DIRS:
            if (self.root / folder / name).is_file():
                return self.root / folder / name
        return None

    def _annotation_file(self, split: str) -> Path:
        name = _FILES[self.options["files"]]["train" if split == "holdout" else split]
        return self._find(name) or self.require_file(name)

    def frame_folder(self, vid_name: str) -> Path:
        show = f"{show_of(vid_name)}_frames"
        frames = self.root / "frames"
        candidates = [frames / "raw_frames" / "frames_hq" / show / vid_name, frames / "frames_hq" / show / vid_name,
                      frames / show / vid_name, frames / vid_name]
        return next((c for c in candidates if c.is_dir()), candidates[0])

    def subtitles(self) -> tuple[dict[str, list[Subtitle]] | None, list[Path]]:
        """Every clip's subtitle lines, or None when the release has no subtitle file here."""
        jsonl = self._find("tvqa_preprocessed_subtitles.jsonl")
        srt_dir = next((self.root / d / "tvqa_subtitles" for d in _ANNOTATION_DIRS
                        if (self.root / d / "tvqa_subtitles").is_dir()), None)
        if jsonl is None and srt_dir is None:
            return None, []
        return load_subtitles(jsonl, srt_dir), [p for p in (jsonl, srt_dir) if p is not None]

    # ---- parsing -----------------------------------------------------------------------------------
    def _sample(self, rec: JsonRecord, fallback: str, subs: dict[str, list[Subtitle]] | None,
                problems: list[tuple[str, str]]) -> MultipleChoiceSample:
        vid_name = rec.get_str("vid_name").strip()
        options = tuple(rec.get_str(f"a{i}").strip() for i in range(_NUM_OPTIONS))
        if "answer_idx" not in rec.data:
            raise rec.error("no 'answer_idx': this file's labels are hidden (TVQA test-public); evaluate on val")
        answer = rec.get_int("answer_idx")
        if not 0 <= answer < _NUM_OPTIONS:
            raise rec.error(f"answer_idx {answer} is not in 0..{_NUM_OPTIONS - 1}")
        try:
            window = parse_ts(rec.get("ts"))
        except ValueError as err:
            raise rec.error(str(err)) from None
        start, end = window if window is not None else (None, None)
        if window is None:
            problems.append((rec.where, f"ts {rec.data['ts']!r}: window unknown, whole clip used"))
        context = "" if subs is None else window_text(subs.get(vid_name, []), start, end)
        video = VideoRef(self.frame_folder(vid_name), kind="frames", start=start, end=end, fps=TVQA_FPS)
        return MultipleChoiceSample(record_id(rec.data, fallback), video, options, answer,
                                    question=rec.get_str("q").strip(), context=context)

    def _load(self, split: str) -> DatasetSplit:
        holdout = self.options["val_source"] == "holdout"
        if split == "holdout" and not holdout:
            raise AnnotationError(f"dataset 'tvqa': split 'holdout' needs option val_source=holdout ({self.root})")
        path = self._annotation_file(split)
        records = read_json_records(path) if path.suffix == ".json" else read_jsonl(path)
        if holdout and split in ("train", "holdout"):
            held = holdout_keys(r.get_str("vid_name").strip() for r in records)
            records = [r for r in records if (r.get_str("vid_name").strip() in held) == (split == "holdout")]
        subs, sub_files = self.subtitles()
        problems: list[tuple[str, str]] = []
        fallbacks = [f"{path.stem}:{r.line if r.line is not None else r.index}" for r in records]
        samples = [self._sample(r, f, subs, problems) for r, f in zip(records, fallbacks, strict=True)]
        return self.new_split(split, unique_or_fallback(samples, fallbacks), [path, *sub_files], problems=problems)

    # ---- synthetic ---------------------------------------------------------------------------------
    @classmethod
    def synthesize(cls, out_root: Path, *, num_videos: int = 24, seed: int = 0) -> Path:
        """Official layout: jsonl files (test_public without answer_idx, one ``NaN-NaN`` row), 3 fps jpg
        folders in ``frames/raw_frames/frames_hq/<show>_frames/``, preprocessed subtitles and srt files. Each
        clip holds 3 still lead-in frames, then the shape moving; ``ts`` covers the motion."""
        root = Path(out_root) / cls.dataset_dir
        rng = np.random.default_rng([seed, 0x7F0A])
        shows = ("friends", "house", "castle", "met", "grey", "")
        rows: dict[str, list[dict[str, Any]]] = {"train": [], "val": [], "test_public": []}
        subtitles = []
        for clip in plan_videos(num_videos, seed, splits=("train", "val", "test_public")):
            show = shows[clip.index % len(shows)]
            vid_name = f"{show + '_' if show else ''}s01e{clip.index // 10 + 1:02d}_seg02_clip_{clip.index:02d}"
            moving = clip.frames()
            frames = np.concatenate([np.repeat(moving[:1], 3, axis=0), moving])
            write_frame_dir(root / "frames/raw_frames/frames_hq" / f"{show_of(vid_name)}_frames" / vid_name, frames)
            start, end = 1.0, len(frames) / TVQA_FPS
            options = [f"it moves {d}" for d in DIRECTIONS] + ["it stays still"]
            order = rng.permutation(len(options))
            row: dict[str, Any] = {f"a{i}": options[k] for i, k in enumerate(order)}
            row["answer_idx"] = int(np.flatnonzero(order == DIRECTIONS.index(clip.scene.direction))[0])
            row.update({"q": f"Where does the {clip.scene.shape} go after it appears?", "qid": 1000 + clip.index,
                        "show_name": "Synthetic Show", "ts": f"{start:.2f}-{end:.2f}", "vid_name": vid_name})
            if clip.split == "test_public":
                del row["answer_idx"]
            rows[clip.split].append(row)
            lines = [("(Narrator:) Look at that.", 0.0, 1.0), (f"(Narrator:) It is {clip.scene.colour}.", 1.2, 3.0)]
            subtitles.append({"vid_name": vid_name, "sub": [{"text": t, "start": s, "end": e} for t, s, e in lines]})
            write_lines(root / "tvqa_subtitles" / f"{vid_name}.srt", _srt(lines))
        rows["val"][0]["ts"] = "NaN-NaN"  # as in the release: a few rows have no window
        for split, items in rows.items():
            write_jsonl(root / _FILES["tvqa"][split], items)
        write_jsonl(root / "tvqa_preprocessed_subtitles.jsonl", subtitles)
        return root


def _srt(lines: list[tuple[str, float, float]]) -> list[str]:
    """SubRip blocks: index, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, text, blank line."""
    def stamp(t: float) -> str:
        ms = int(round(t * 1000))
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    out: list[str] = []
    for i, (text, start, end) in enumerate(lines, start=1):
        out += [str(i), f"{stamp(start)} --> {stamp(end)}", text, ""]
    return out
