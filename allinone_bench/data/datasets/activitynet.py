"""ActivityNet Captions (Krishna et al. 2017): paragraph-to-video retrieval over YouTube videos.

Two annotation forms are read:

* the official release ``train.json``, ``val_1.json``, ``val_2.json``: one JSON object
  ``{"v_<youtube id>": {"duration": s, "timestamps": [[start, end], ...], "sentences": [...]}}``; the sentences,
  ordered by start time, are the video's paragraph;
* the All-in-One bundle ``meta_data/{train,val1,val2}.jsonl``: ``{"clip_name": ..., "caption": ...}`` per line;
  UNVERIFIED whether ``caption`` is one sentence, a whole paragraph or a list of sentences: all three are
  accepted, and lines sharing a ``clip_name`` are grouped in file order.

Splits: ``train`` reads train; ``val`` reads ``val_file`` (default ``val_1``); ``test`` reads ``test_file``
(default ``val_1``: the paper, like most papers, reports paragraph retrieval on val_1 because the real test
set is hidden; the official All-in-One code reads val2 for ``test``, set ``test_file: val_2`` for that).

Videos: ``videos/<video_id>.{mp4,mkv,webm}`` (``v_`` prefix kept; a file without the prefix is found too) or
the bundle's extracted frames ``activitynet_frames/<clip_name>/`` (``VideoRef(kind="frames")``); option
``video_source`` picks one or (``auto``) whichever exists, videos first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from allinone_bench.data.datasets.base import (
    DatasetAdapter,
    JsonRecord,
    Option,
    read_json,
    read_jsonl,
    register_adapter,
)
from allinone_bench.data.datasets.lookup import VideoDirectory
from allinone_bench.data.synthetic import (
    caption,
    plan_videos,
    sample_scenes,
    write_frame_dir,
    write_json,
    write_jsonl,
)
from allinone_bench.data.synthetic.segments import paragraph_scenes, render_segments
from allinone_bench.data.types import DatasetSplit, RetrievalSample, VideoRef
from allinone_bench.errors import AnnotationError

__all__ = ["ActivityNetCaptions", "ActivityNetVideo", "parse_official_json"]

_META = "meta_data"
_VIDEOS = "videos"
_FRAMES = "activitynet_frames"
_EXTENSIONS = (".mp4", ".mkv", ".webm")
_OFFICIAL = {"train": "train.json", "val_1": "val_1.json", "val_2": "val_2.json"}
_BUNDLE = {"train": "train.jsonl", "val_1": "val1.jsonl", "val_2": "val2.jsonl"}
_SEGMENT_SECONDS = 1.0  # synthetic segments: 8 frames at 8 fps


class ActivityNetVideo:
    """One video's annotation: duration and (start, end, sentence) moments."""

    def __init__(self, video_id: str, duration: float | None, moments: list[tuple[float, float, str]]) -> None:
        self.video_id = video_id
        self.duration = duration
        self.moments = moments

    def paragraph(self) -> tuple[str, ...]:
        """Sentences ordered by start (then end) time; ties keep file order (``sorted`` is stable)."""
        return tuple(text for _, _, text in sorted(self.moments, key=lambda m: (m[0], m[1])))


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_official_json(path: Path) -> list[ActivityNetVideo]:
    """Videos of an official ActivityNet Captions file, in file order; errors name the file and video id."""
    document = read_json(path)
    if not isinstance(document, dict):
        raise AnnotationError(f"{path}: expected a JSON object {{video_id: {{...}}}}, got {type(document).__name__}")
    videos = []
    for video_id, entry in document.items():
        where = f"{path}: video {video_id!r}"
        if not isinstance(entry, dict):
            raise AnnotationError(f"{where}: expected an object with 'timestamps' and 'sentences'")
        sentences, stamps = entry.get("sentences"), entry.get("timestamps")
        if not isinstance(sentences, list) or not all(isinstance(s, str) for s in sentences):
            raise AnnotationError(f"{where}: 'sentences' should be a list of strings, got {sentences!r}")
        if not isinstance(stamps, list) or not all(
            isinstance(t, list) and len(t) == 2 and all(_number(x) for x in t) for t in stamps
        ):
            raise AnnotationError(f"{where}: 'timestamps' should be a list of [start, end] seconds, got {stamps!r}")
        if len(stamps) != len(sentences):
            raise AnnotationError(f"{where}: {len(stamps)} timestamps for {len(sentences)} sentences")
        duration = entry.get("duration")
        if duration is not None and not _number(duration):
            raise AnnotationError(f"{where}: 'duration' should be a number of seconds, got {duration!r}")
        moments = [(float(t[0]), float(t[1]), s.strip()) for t, s in zip(stamps, sentences, strict=True)]
        videos.append(ActivityNetVideo(video_id, duration, moments))
    return videos


def _bundle_sentences(rec: JsonRecord) -> list[str]:
    value = rec.get("caption", (str, list))
    if isinstance(value, str):
        return [value.strip()]
    if not all(isinstance(v, str) for v in value):
        raise rec.error("key 'caption' should be a string or a list of strings")
    return [v.strip() for v in value]


@register_adapter("activitynet")
class ActivityNetCaptions(DatasetAdapter):
    """ActivityNet Captions paragraph retrieval: one sample per video, ``captions`` = its sentences in
    temporal order (the retrieval task joins them). ``annotation``: ``auto`` (official JSON when present, else
    the bundle), ``official`` or ``bundle``."""

    sample_type = RetrievalSample
    dataset_dir = "activitynet"
    splits = ("train", "val", "test")
    layout = """\
DATA_ROOT/activitynet/
  train.json, val_1.json, val_2.json     official: {"v_<id>": {"duration": s, "timestamps": [[s, e], ...],
                                                               "sentences": [...]}}
  meta_data/{train,val1,val2}.jsonl      All-in-One bundle (alternative): {"clip_name": ..., "caption": ...}
  videos/<video_id>.mp4                  (.mkv/.webm too; v_ prefix optional)
  activitynet_frames/<clip_name>/*.jpg   extracted frames (alternative to videos/)"""
    option_specs = {
        "val_file": Option("val_1", choices=("val_1", "val_2"), help="annotation file of the val split"),
        "test_file": Option("val_1", choices=("val_1", "val_2"),
                            help="annotation file of the test split (paper: val_1; official code: val_2)"),
        "annotation": Option("auto", choices=("auto", "official", "bundle"),
                             help="official {train,val_1,val_2}.json or the All-in-One bundle jsonl"),
        "video_source": Option("auto", choices=("auto", "videos", "frames"),
                               help="videos/<id>.mp4, activitynet_frames/<id>/, or whichever exists"),
    }

    def __init__(self, data_root: Path | str, **options: object) -> None:
        super().__init__(data_root, **options)
        self._videos = VideoDirectory([self.root / _VIDEOS], _EXTENSIONS)

    def video(self, video_id: str) -> VideoRef:
        """The video file or frames folder of ``video_id`` (``v_`` prefix optional on disk)."""
        source = self.options["video_source"]
        names = [video_id] + ([video_id[2:]] if video_id.startswith("v_") else [f"v_{video_id}"])
        if source != "frames":
            for name in names:
                found = self._videos.find(name)
                if found is not None:
                    return VideoRef(found)
        if source != "videos":
            for name in names:
                folder = self.root / _FRAMES / name
                if folder.is_dir():
                    return VideoRef(folder, kind="frames")
        if source == "frames" or (source == "auto" and not (self.root / _VIDEOS).is_dir()
                                  and (self.root / _FRAMES).is_dir()):
            return VideoRef(self.root / _FRAMES / video_id, kind="frames")
        return VideoRef(self.root / _VIDEOS / f"{video_id}.mp4")

    def _file_key(self, split: str) -> str:
        return {"train": "train", "val": self.options["val_file"], "test": self.options["test_file"]}[split]

    def _load(self, split: str) -> DatasetSplit:
        key = self._file_key(split)
        official = self.root / _OFFICIAL[key]
        bundle = self.root / _META / _BUNDLE[key]
        if self.choose_annotation(split, [official], [bundle]) == "official":
            path = official
            paragraphs = {v.video_id: v.paragraph() for v in parse_official_json(path)}
        else:
            path = bundle
            grouped: dict[str, list[str]] = {}
            for rec in read_jsonl(path):
                grouped.setdefault(rec.get_str("clip_name").strip(), []).extend(_bundle_sentences(rec))
            paragraphs = {k: tuple(v) for k, v in grouped.items()}
        samples = []
        for video_id, sentences in paragraphs.items():
            if not any(sentences):
                raise AnnotationError(f"{path}: video {video_id!r} has no sentence")
            samples.append(RetrievalSample(video_id, self.video(video_id), sentences))
        return self.new_split(split, samples, [path])

    # ---- synthetic ----------------------------------------------------------------------------------

    @classmethod
    def synthesize(cls, out_root: Path, *, num_videos: int = 24, seed: int = 0) -> Path:
        """Videos of 2-3 one-second scenes stored as extracted frames (``activitynet_frames/``, the layout the
        All-in-One code reads); official JSON with sentences listed out of temporal order (reading must sort
        them) and the bundle jsonl with one paragraph per line. train / val_1 / val_2 hold disjoint videos."""
        root = Path(out_root) / cls.dataset_dir
        rng = np.random.default_rng([seed, 0xAC7])
        extras = sample_scenes(2 * num_videos, seed + 2)
        files = {"train": "train", "test": "val_1", "val": "val_2"}  # test clips where the paper evaluates
        official: dict[str, dict[str, Any]] = {key: {} for key in files.values()}
        bundle: dict[str, list[dict[str, str]]] = {key: [] for key in files.values()}
        for clip in plan_videos(num_videos, seed):
            scenes = paragraph_scenes(clip.scene, extras[2 * clip.index: 2 * clip.index + 2], 2 + clip.index % 2)
            video_id = f"v_synth{clip.index:04d}_{clip.seed % 1000:03d}"
            write_frame_dir(root / _FRAMES / video_id, render_segments(scenes, clip.seed))
            sentences = [caption(s, clip.index + k) for k, s in enumerate(scenes)]
            stamps = [[k * _SEGMENT_SECONDS, (k + 1) * _SEGMENT_SECONDS] for k in range(len(scenes))]
            order = rng.permutation(len(scenes))
            key = files[clip.split]
            official[key][video_id] = {"duration": len(scenes) * _SEGMENT_SECONDS,
                                       "timestamps": [stamps[i] for i in order],
                                       "sentences": [sentences[i] for i in order]}
            bundle[key].append({"clip_name": video_id, "caption": " ".join(sentences)})
        for key in files.values():
            write_json(root / _OFFICIAL[key], official[key])
            write_jsonl(root / _META / _BUNDLE[key], bundle[key])
        return root
