"""YouCook2 (Zhou et al. 2018): dense video captioning of cooking videos, one sample per annotated segment.

Official file ``youcookii_annotations_trainval.json``::

    {"database": {"<youtube id>": {"subset": "training" | "validation", "recipe_type": "113",
                                   "duration": 241.6, "video_url": ...,
                                   "annotations": [{"segment": [90, 102], "id": 0, "sentence": ...}, ...]}}}

Each segment becomes a :class:`CaptionSample` whose :class:`VideoRef` carries the segment's ``start``/``end``
(seconds) inside the full video. The test annotations are not public, so ``test`` reads the validation subset
(what papers, including All-in-One's Table 7, report as "test"); ``val`` reads it too unless
``val_source: holdout`` carves a deterministic ~10% of the training videos out as a validation set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from allinone_bench.data.datasets.base import DatasetAdapter, Option, holdout_keys, read_json, register_adapter
from allinone_bench.data.synthetic import FPS, caption, plan_videos, sample_scenes, write_json, write_mp4
from allinone_bench.data.synthetic.segments import paragraph_scenes, render_segments
from allinone_bench.data.types import CaptionSample, DatasetSplit, VideoRef
from allinone_bench.errors import AnnotationError

__all__ = ["YouCook2", "YouCook2Segment", "parse_annotations"]

_ANNOTATION = "youcookii_annotations_trainval.json"
_ANNOTATION_DIRS = ("", "annotations")  # the release unpacks to YouCookII/annotations/
_EXTENSIONS = (".mp4", ".mkv", ".webm")
_SUBSETS = {"train": "training", "val": "validation", "test": "validation"}
_SCENE_SECONDS = 2  # synthetic: 16 frames per scene at 8 fps


class YouCook2Segment:
    """One annotated segment: its video, recipe type, subset, window (seconds) and sentence."""

    __slots__ = ("video_id", "subset", "recipe_type", "segment_id", "start", "end", "sentence")

    def __init__(self, video_id: str, subset: str, recipe_type: str, segment_id: str,
                 start: float, end: float, sentence: str) -> None:
        self.video_id, self.subset, self.recipe_type = video_id, subset, recipe_type
        self.segment_id, self.start, self.end, self.sentence = segment_id, start, end, sentence


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_annotations(path: Path) -> list[YouCook2Segment]:
    """Every segment of the file in order; malformed entries raise :class:`AnnotationError` naming the video
    (and the segment's position) so the line can be found in the file."""
    document = read_json(path)
    database = document.get("database") if isinstance(document, dict) else None
    if not isinstance(database, dict):
        raise AnnotationError(f"{path}: expected a JSON object with a 'database' object")
    segments = []
    for video_id, entry in database.items():
        where = f"{path}: database[{video_id!r}]"
        if not isinstance(entry, dict):
            raise AnnotationError(f"{where}: expected an object")
        subset, recipe, annotations = entry.get("subset"), entry.get("recipe_type", ""), entry.get("annotations")
        if not isinstance(subset, str):
            raise AnnotationError(f"{where}: 'subset' should be a string (training/validation), got {subset!r}")
        if not isinstance(recipe, (str, int)) or isinstance(recipe, bool):
            raise AnnotationError(f"{where}: 'recipe_type' should be a string, got {recipe!r}")
        if not isinstance(annotations, list):
            raise AnnotationError(f"{where}: 'annotations' should be a list, got {annotations!r}")
        for position, ann in enumerate(annotations):
            at = f"{where}.annotations[{position}]"
            if not isinstance(ann, dict):
                raise AnnotationError(f"{at}: expected an object with 'segment', 'sentence' and 'id'")
            segment, sentence = ann.get("segment"), ann.get("sentence")
            if not (isinstance(segment, list) and len(segment) == 2 and all(_number(x) for x in segment)):
                raise AnnotationError(f"{at}: 'segment' should be [start, end] seconds, got {segment!r}")
            if not isinstance(sentence, str) or not sentence.strip():
                raise AnnotationError(f"{at}: 'sentence' should be a non-empty string, got {sentence!r}")
            seg_id = ann.get("id", position)
            segments.append(YouCook2Segment(video_id, subset, str(recipe), str(seg_id),
                                            float(segment[0]), float(segment[1]), sentence.strip()))
    return segments


@register_adapter("youcook2")
class YouCook2(DatasetAdapter):
    """YouCook2 segment captioning. Sample id ``<youtube id>_<segment id>``. Videos are looked up in the
    downloader's layout ``raw_videos/<subset>/<recipe_type>/<id>.<ext>`` and, failing that, in a flat
    ``videos/<id>.<ext>`` (ext: mp4, mkv, webm); unresolved videos keep the first path and are listed as
    missing by ``load`` (many YouCook2 videos have been taken off YouTube)."""

    sample_type = CaptionSample
    dataset_dir = "youcook2"
    splits = ("train", "val", "test")
    layout = """\
DATA_ROOT/youcook2/
  youcookii_annotations_trainval.json   (or annotations/youcookii_annotations_trainval.json)
      {"database": {"<id>": {"subset": "training"|"validation", "recipe_type": ..., "duration": ...,
                             "annotations": [{"segment": [start, end], "id": n, "sentence": ...}]}}}
  raw_videos/{training,validation}/<recipe_type>/<id>.{mp4,mkv,webm}   (or flat videos/<id>.mp4)"""
    option_specs = {
        "val_source": Option("validation", choices=("validation", "holdout"),
                             help="val = the validation subset (as test), or a ~10% holdout of training videos"),
    }

    def _annotation_file(self) -> Path:
        for folder in _ANNOTATION_DIRS:
            path = self.root / folder / _ANNOTATION
            if path.is_file():
                return path
        return self.require_file(_ANNOTATION)

    def video(self, segment: YouCook2Segment) -> VideoRef:
        folders = [self.root / "raw_videos" / segment.subset / segment.recipe_type,
                   self.root / "raw_videos" / segment.subset, self.root / "videos"]
        for folder in folders:
            for ext in _EXTENSIONS:
                path = folder / f"{segment.video_id}{ext}"
                if path.is_file():
                    return VideoRef(path, start=segment.start, end=segment.end)
        return VideoRef(folders[0] / f"{segment.video_id}.mp4", start=segment.start, end=segment.end)

    def _load(self, split: str) -> DatasetSplit:
        path = self._annotation_file()
        segments = parse_annotations(path)
        holdout = self.options["val_source"] == "holdout" and split != "test"
        subset = "training" if holdout else _SUBSETS[split]
        chosen = [s for s in segments if s.subset == subset]
        if holdout:
            held = holdout_keys(s.video_id for s in chosen)
            chosen = [s for s in chosen if (s.video_id in held) == (split == "val")]
        if not chosen:
            raise AnnotationError(f"{path}: no segment has subset {subset!r} (split {split!r})")
        samples, problems = [], []
        for s in chosen:
            if s.end <= s.start:  # tolerated (and reported): a window the sampler cannot use
                problems.append((f"{path}: database[{s.video_id!r}] segment {s.segment_id}",
                                 f"empty window [{s.start}, {s.end}], skipped"))
                continue
            samples.append(CaptionSample(f"{s.video_id}_{s.segment_id}", self.video(s), (s.sentence,)))
        return self.new_split(split, samples, [path], problems=problems)

    # ---- synthetic ----------------------------------------------------------------------------------

    @classmethod
    def synthesize(cls, out_root: Path, *, num_videos: int = 24, seed: int = 0) -> Path:
        """Clips of two 2-second scenes back to back; each scene is one annotated segment whose sentence
        describes it, so a captioner must look inside the window. Training and validation videos are disjoint;
        recipe types come from the first scene's shape; one video in four sits in the flat ``videos/`` folder
        instead of ``raw_videos/<subset>/<recipe_type>/`` so both layouts are exercised."""
        root = Path(out_root) / cls.dataset_dir
        second = sample_scenes(num_videos, seed + 3)
        database: dict[str, Any] = {}
        recipes = {"circle": "101", "square": "113", "triangle": "226"}
        for clip in plan_videos(num_videos, seed, splits=("train", "val")):
            scenes = paragraph_scenes(clip.scene, [second[clip.index]], 2)
            video_id = f"synYC{clip.index:04d}{clip.seed % 100:02d}"
            subset, recipe = ("training" if clip.split == "train" else "validation"), recipes[clip.scene.shape]
            frames = render_segments(scenes, clip.seed, frames_per_scene=_SCENE_SECONDS * FPS)
            nested = clip.index % 4 != 3
            target = root / "raw_videos" / subset / recipe if nested else root / "videos"
            write_mp4(target / f"{video_id}.mp4", frames, fps=FPS)
            database[video_id] = {
                "duration": float(len(scenes) * _SCENE_SECONDS), "subset": subset, "recipe_type": recipe,
                "video_url": f"https://www.youtube.com/watch?v={video_id}",
                "annotations": [{"segment": [k * _SCENE_SECONDS, (k + 1) * _SCENE_SECONDS], "id": k,
                                 "sentence": caption(scene, clip.index + k)} for k, scene in enumerate(scenes)],
            }
        write_json(root / "annotations" / _ANNOTATION, {"database": database})
        return root
