"""TVC (TV show Captions, Lei et al. 2020): caption a moment of a TV-show clip.

Official files ``tvc_{train,val}_release.jsonl``, one moment per line::

    {"vid_name": "friends_s01e03_seg02_clip_19", "duration": 61.46, "ts": [16.48, 33.87], "clip_id": 86603,
     "descs": [{"desc": "...", "type": "v", "desc_id": 109026}, ...]}

One :class:`CaptionSample` per line, id = ``clip_id``, references = every ``desc`` (``desc_types`` keeps only
descriptions of some types: ``v`` visual, ``t`` subtitle-based, ``vt`` both), window = ``ts`` (seconds).
The test annotations are not public, so ``test`` reads the val file (as papers' "test" numbers do); ``val``
reads it too unless ``val_source: holdout`` carves ~10% of the training videos out.

Videos: TVQA/TVR frames (3 fps jpg) ``frames/<vid_name>/``, or in the TVQA release layout
``frames/[raw_frames/]frames_hq/<show>_frames/<vid_name>/`` (show = the vid_name prefix among castle, friends,
grey, house, met; otherwise bbt), or a video ``videos/<vid_name>.mp4``. A frames folder stores no timing: the
refs carry that frame rate (``VideoRef.fps = TVQA_FPS``) so the ``ts`` window applies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from allinone_bench.data.datasets.base import (
    DatasetAdapter,
    JsonRecord,
    Option,
    holdout_keys,
    read_jsonl,
    register_adapter,
)
from allinone_bench.data.synthetic import FPS, caption, plan_videos, sample_scenes, write_jsonl, write_mp4
from allinone_bench.data.synthetic.segments import paragraph_scenes, render_segments
from allinone_bench.data.types import CaptionSample, DatasetSplit, VideoRef
from allinone_bench.errors import AnnotationError

__all__ = ["TVC", "TVQA_FPS", "TVCMoment", "parse_line", "show_of"]

TVQA_FPS = 3.0
"""Frame rate of the TVQA/TVR extracted frames, carried by frame-folder refs as ``VideoRef.fps``."""

_FILES = {"train": "tvc_train_release.jsonl", "val": "tvc_val_release.jsonl", "test": "tvc_val_release.jsonl"}
_ANNOTATION_DIRS = ("", "data")  # the TVCaption repository keeps them in data/
_SHOWS = ("castle", "friends", "grey", "house", "met")
_DESC_TYPES = ("v", "t", "vt")
_SCENE_SECONDS = 2.0


def show_of(vid_name: str) -> str:
    """TVQA show folder prefix: ``friends_s01e03_...`` -> friends; Big Bang Theory names have no prefix -> bbt."""
    prefix = vid_name.split("_", 1)[0]
    return prefix if prefix in _SHOWS else "bbt"


class TVCMoment:
    """One line: the moment's video, window and (type, description) pairs."""

    __slots__ = ("clip_id", "vid_name", "start", "end", "descs")

    def __init__(self, clip_id: str, vid_name: str, start: float, end: float, descs: list[tuple[str, str]]) -> None:
        self.clip_id, self.vid_name, self.start, self.end, self.descs = clip_id, vid_name, start, end, descs


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_line(rec: JsonRecord) -> TVCMoment:
    """A :class:`TVCMoment` from one jsonl record; errors name the file and line."""
    vid_name = rec.get_str("vid_name").strip()
    ts = rec.get("ts", list)
    if len(ts) != 2 or not all(_number(x) for x in ts):
        raise rec.error(f"'ts' should be [start, end] seconds, got {ts!r}")
    clip_id = rec.get("clip_id", (int, str))
    descs = []
    for position, item in enumerate(rec.get("descs", list)):
        if not isinstance(item, dict) or not isinstance(item.get("desc"), str):
            raise rec.error(f"descs[{position}] should be an object with a string 'desc', got {item!r}")
        descs.append((str(item.get("type", "")), item["desc"].strip()))
    if not descs:
        raise rec.error("'descs' is empty (the public test file has no descriptions and cannot be evaluated)")
    return TVCMoment(str(clip_id), vid_name, float(ts[0]), float(ts[1]), descs)


@register_adapter("tvc")
class TVC(DatasetAdapter):
    """TVC moment captioning (see the module docstring for files and protocol)."""

    sample_type = CaptionSample
    dataset_dir = "tvc"
    splits = ("train", "val", "test")
    layout = """\
DATA_ROOT/tvc/
  tvc_train_release.jsonl, tvc_val_release.jsonl   (or under data/)
      {"vid_name": ..., "duration": s, "ts": [start, end], "clip_id": n,
       "descs": [{"desc": ..., "type": "v"|"t"|"vt", "desc_id": n}, ...]}
  frames/<vid_name>/00001.jpg ...        TVQA/TVR frames at 3 fps
                                         (or frames/[raw_frames/]frames_hq/<show>_frames/<vid_name>/)
  videos/<vid_name>.mp4                  alternative to frames"""
    option_specs = {
        "desc_types": Option("all", choices=("all", *_DESC_TYPES), help="keep descriptions of this type only"),
        "video_source": Option("auto", choices=("auto", "frames", "videos"),
                               help="frames folders, mp4 videos, or whichever exists (frames first)"),
        "val_source": Option("val", choices=("val", "holdout"),
                             help="val = the val file (as test), or a ~10% holdout of training videos"),
    }

    def _frame_folders(self, vid_name: str) -> list[Path]:
        show = f"{show_of(vid_name)}_frames"
        frames = self.root / "frames"
        return [frames / vid_name, frames / show / vid_name, frames / "frames_hq" / show / vid_name,
                frames / "raw_frames" / "frames_hq" / show / vid_name]

    def video(self, moment: TVCMoment) -> VideoRef:
        source = self.options["video_source"]
        mp4 = self.root / "videos" / f"{moment.vid_name}.mp4"
        if source != "videos":
            for folder in self._frame_folders(moment.vid_name):
                if folder.is_dir():
                    return VideoRef(folder, kind="frames", start=moment.start, end=moment.end, fps=TVQA_FPS)
        if source == "frames" or (source == "auto" and not mp4.is_file() and (self.root / "frames").is_dir()):
            return VideoRef(
                self._frame_folders(moment.vid_name)[0], kind="frames", start=moment.start, end=moment.end, fps=TVQA_FPS
            )
        return VideoRef(mp4, start=moment.start, end=moment.end)

    def _annotation_file(self, split: str) -> Path:
        name = _FILES["train" if self.options["val_source"] == "holdout" and split == "val" else split]
        for folder in _ANNOTATION_DIRS:
            if (self.root / folder / name).is_file():
                return self.root / folder / name
        return self.require_file(name)

    def _load(self, split: str) -> DatasetSplit:
        path = self._annotation_file(split)
        moments = [parse_line(rec) for rec in read_jsonl(path)]
        if self.options["val_source"] == "holdout" and split != "test":
            held = holdout_keys(m.vid_name for m in moments)
            moments = [m for m in moments if (m.vid_name in held) == (split == "val")]
        wanted = self.options["desc_types"]
        samples, problems = [], []
        for m in moments:
            texts = tuple(text for kind, text in m.descs if wanted in ("all", kind))
            where = f"{path}: clip_id {m.clip_id}"
            if not texts:
                problems.append((where, f"no description of type {wanted!r}, skipped"))
            elif m.end <= m.start:
                problems.append((where, f"empty window ts=[{m.start}, {m.end}], skipped"))
            else:
                samples.append(CaptionSample(m.clip_id, self.video(m), texts))
        if not samples:
            raise AnnotationError(f"{path}: no usable moment for split {split!r} (desc_types={wanted!r})")
        return self.new_split(split, samples, [path], problems=problems)

    # ---- synthetic ----------------------------------------------------------------------------------

    @classmethod
    def synthesize(cls, out_root: Path, *, num_videos: int = 24, seed: int = 0) -> Path:
        """Clips of two 2-second scenes (mp4 in ``videos/``); one moment per scene with ``ts`` = the scene's
        time range and two descriptions of it (types ``v`` and ``vt``). Train and val videos are disjoint."""
        root = Path(out_root) / cls.dataset_dir
        second = sample_scenes(num_videos, seed + 4)
        shows = ("friends", "house", "castle", "")
        lines: dict[str, list[dict[str, Any]]] = {"train": [], "val": []}
        desc_id = 0
        for clip in plan_videos(num_videos, seed, splits=("train", "val")):
            scenes = paragraph_scenes(clip.scene, [second[clip.index]], 2)
            prefix = shows[clip.index % len(shows)]
            vid_name = f"{prefix + '_' if prefix else ''}s01e{clip.index // 10 + 1:02d}_seg02_clip_{clip.index:02d}"
            frames = render_segments(scenes, clip.seed, frames_per_scene=int(_SCENE_SECONDS * FPS))
            write_mp4(root / "videos" / f"{vid_name}.mp4", frames, fps=FPS)
            for k, scene in enumerate(scenes):
                descs = []
                for variant, kind in enumerate(("v", "vt")):
                    descs.append({"desc": caption(scene, clip.index + k + variant), "type": kind, "desc_id": desc_id})
                    desc_id += 1
                lines[clip.split].append({
                    "vid_name": vid_name, "duration": len(scenes) * _SCENE_SECONDS,
                    "ts": [k * _SCENE_SECONDS, (k + 1) * _SCENE_SECONDS], "clip_id": 2 * clip.index + k,
                    "descs": descs,
                })
        for split, rows in lines.items():
            write_jsonl(root / _FILES[split], rows)
        return root
