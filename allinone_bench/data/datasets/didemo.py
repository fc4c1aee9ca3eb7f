"""DiDeMo (Hendricks et al. 2017): paragraph-to-video retrieval over Flickr videos.

Two annotation forms are read:

* the official LocalizingMoments release ``{train,val,test}_data.json``: a JSON array with one object per
  moment, ``{"video": "<flickr name>.<ext>", "description": ..., "times": [[s, e] x 4 annotators], ...}``
  (``times`` are 5-second segment indices 0-5); the sentences of a video, in temporal order, are its paragraph;
* the All-in-One bundle ``meta_data/DiDeMo_{train,val,test}.tsv`` (tab, header row; column 0 = caption or
  paragraph, column 1 = relative video path). UNVERIFIED whether the bundle holds one row per sentence or per
  video: rows that share a video are grouped in file order, so both forms give one paragraph per video.

``text_mode``: ``paragraph`` (default, the paper's protocol: one sample per video whose ``captions`` are its
sentences in temporal order, which the retrieval task joins) or ``single`` (one sample per sentence, id
``<video>#<n>``, the whole video as target: the protocol of loaders that use single captions).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import numpy as np

from allinone_bench.data.datasets.base import (
    DatasetAdapter,
    JsonRecord,
    Option,
    read_json_records,
    read_tsv,
    register_adapter,
)
from allinone_bench.data.datasets.lookup import VideoDirectory
from allinone_bench.data.synthetic import (
    FPS,
    caption,
    paragraph_scenes,
    plan_videos,
    render_segments,
    sample_scenes,
    write_json,
    write_mp4,
    write_rows,
)
from allinone_bench.data.types import DatasetSplit, RetrievalSample, VideoRef
from allinone_bench.errors import AnnotationError

__all__ = [
    "DiDeMo",
    "DidemoMoment",
    "parse_official_json",
    "temporal_order",
]

_META = "meta_data"
_VIDEO_DIRS = ("videos", "video")  # DATA.md/brief say videos/, the official code reads video/
_OFFICIAL_DIRS = ("", "data")  # LocalizingMoments ships them in data/; accept them at the dataset root too
# Flickr uploads keep their original container; converted mirrors append or substitute .mp4


@dataclass(frozen=True)
class DidemoMoment:
    """One annotated moment of the official release."""

    video: str
    description: str
    times: tuple[tuple[int, int], ...]
    index: int  # position in the file: ties in time keep file order


def _parse_times(rec: JsonRecord) -> tuple[tuple[int, int], ...]:
    if "times" not in rec.data:
        return ()
    value = rec.data["times"]
    ok = isinstance(value, list) and all(
        isinstance(t, list) and len(t) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in t)
        for t in value
    )
    if not ok:
        raise rec.error(f"key 'times' should be a list of [start, end] segment indices, got {value!r}")
    return tuple((t[0], t[1]) for t in value)


def parse_official_json(path: Path) -> list[DidemoMoment]:
    """Moments of ``{train,val,test}_data.json``; a malformed entry raises :class:`AnnotationError` naming it."""
    moments = []
    for rec in read_json_records(path):
        video = rec.get_str("video").strip()
        description = rec.get_str("description").strip()
        if not video:
            raise rec.error("empty 'video'")
        moments.append(DidemoMoment(video, description, _parse_times(rec), rec.index))
    return moments


def temporal_order(moments: Iterable[DidemoMoment]) -> list[DidemoMoment]:
    """Moments sorted by the annotators' median start segment, then median end, then file order (the
    annotators disagree slightly, the median is the consensus); moments without times keep file order."""

    def key(m: DidemoMoment) -> tuple[float, float, int]:
        if not m.times:
            return (float("inf"), float("inf"), m.index)
        return (median(t[0] for t in m.times), median(t[1] for t in m.times), m.index)

    return sorted(moments, key=key)


@register_adapter("didemo")
class DiDeMo(DatasetAdapter):
    """DiDeMo retrieval. ``annotation``: ``auto`` (official JSON when present, else the bundle TSV),
    ``official`` or ``bundle``. Splits map one-to-one to the files (the paper reports the test split).
    A video name resolves with or without its extension (see :class:`VideoDirectory`); an unresolved video
    keeps the path ``videos/<name>`` and is listed as missing by ``load``."""

    sample_type = RetrievalSample
    dataset_dir = "didemo"
    splits = ("train", "val", "test")
    layout = """\
DATA_ROOT/didemo/
  {train,val,test}_data.json          official LocalizingMoments files (also accepted under data/):
                                      [{"video": "<name>.<ext>", "description": ..., "times": [[s, e], ...]}, ...]
  meta_data/DiDeMo_{train,val,test}.tsv   All-in-One bundle (alternative): tab, header row,
                                      col 0 = caption/paragraph, col 1 = relative video path
  videos/<video>                      (or video/); any of .mp4 .m4v .mov .avi ... with or without the
                                      extension named in the annotation"""
    option_specs = {
        "text_mode": Option("paragraph", choices=("paragraph", "single"),
                            help="paragraph: one sample per video with its sentences in temporal order; "
                                 "single: one sample per sentence"),
        "annotation": Option("auto", choices=("auto", "official", "bundle"),
                             help="official {split}_data.json or the All-in-One bundle TSV"),
    }

    def __init__(self, data_root: Path | str, **options: object) -> None:
        super().__init__(data_root, **options)
        self.text_mode: str = self.options["text_mode"]
        self._videos = VideoDirectory([self.root / d for d in _VIDEO_DIRS])

    def video(self, name: str) -> VideoRef:
        found = self._videos.find(name)
        return VideoRef(found if found is not None else self.root / _VIDEO_DIRS[0] / name)

    def _load(self, split: str) -> DatasetSplit:
        official = self.locate(f"{split}_data.json", _OFFICIAL_DIRS)
        bundle = self.root / _META / f"DiDeMo_{split}.tsv"
        if self.choose_annotation(split, [official], [bundle]) == "official":
            return self._load_official(split, official)
        return self._load_bundle(split, bundle)

    def _load_official(self, split: str, path: Path) -> DatasetSplit:
        by_video: dict[str, list[DidemoMoment]] = {}
        for moment in parse_official_json(path):
            by_video.setdefault(moment.video, []).append(moment)
        groups = {video: [m.description for m in temporal_order(ms)] for video, ms in by_video.items()}
        return self.new_split(split, self._samples(groups), [path])

    def _load_bundle(self, split: str, path: Path) -> DatasetSplit:
        groups: dict[str, list[str]] = {}
        for row in read_tsv(path, header=True, min_fields=2):
            text, video = row[0].strip(), row[1].strip()
            if not text or not video:
                raise row.error("expected a caption in column 0 and a video path in column 1")
            groups.setdefault(video, []).append(text)
        return self.new_split(split, self._samples(groups), [path])

    def _samples(self, groups: dict[str, list[str]]) -> list[RetrievalSample]:
        samples = []
        for video, sentences in groups.items():
            ref = self.video(video)
            if self.text_mode == "paragraph":
                samples.append(RetrievalSample(video, ref, tuple(sentences)))
            else:
                samples.extend(RetrievalSample(f"{video}#{n}", ref, (s,)) for n, s in enumerate(sentences))
        return samples

    # ---- synthetic ----------------------------------------------------------------------------------

    @classmethod
    def synthesize(cls, out_root: Path, *, num_videos: int = 24, seed: int = 0) -> Path:
        """Videos of 2-3 one-second segments, one scene each; one moment per segment (4 identical annotator
        times), written in shuffled order so reading must restore temporal order; both the official JSON files
        and the bundle TSVs (one paragraph row per video). Extensions vary (.mp4/.mov/.avi) and the JSON names
        videos with their extension while the files on disk are what a converted mirror holds (``.mp4``
        appended for .mov)."""
        root = Path(out_root) / cls.dataset_dir
        rng = np.random.default_rng([seed, 0xD1DE])
        extras = sample_scenes(2 * num_videos, seed + 1)
        moments: dict[str, list[dict[str, object]]] = {"train": [], "val": [], "test": []}
        rows: dict[str, list[tuple[str, str]]] = {"train": [], "val": [], "test": []}
        for clip in plan_videos(num_videos, seed):
            scenes = paragraph_scenes(clip.scene, extras[2 * clip.index: 2 * clip.index + 2], 2 + clip.index % 2)
            ext = (".mp4", ".mov", ".avi")[clip.index % 3]
            name = f"{10000000 + clip.index}@N00_{seed}_{clip.seed % 10**10:010d}{ext}"
            on_disk = name + ".mp4" if ext == ".mov" else name
            write_mp4(root / _VIDEO_DIRS[0] / on_disk, render_segments(scenes, clip.seed), fps=FPS)
            sentences = [caption(s, clip.index + k) for k, s in enumerate(scenes)]
            entries = [
                {"annotation_id": 100 * clip.index + k, "description": text, "video": name,
                 "times": [[k, k]] * 4, "num_segments": len(scenes)}
                for k, text in enumerate(sentences)
            ]
            moments[clip.split].extend(entries[i] for i in rng.permutation(len(entries)))
            rows[clip.split].append((" ".join(sentences), on_disk))
        for split in moments:
            write_json(root / f"{split}_data.json", moments[split])
            write_rows(root / _META / f"DiDeMo_{split}.tsv", rows[split], header=("caption", "video"))
        return root
