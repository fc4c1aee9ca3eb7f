"""Synthetic datasets in the official annotation formats, with learnable content (moving coloured shapes).

``synthesize(adapter_name, out_root)`` writes ``out_root/<dataset_dir>/...`` such that
``get_adapter(adapter_name)(out_root).load(split)`` works; the pieces (scenes, split plan, writers) are in
:mod:`.scene`, :mod:`.plan`, :mod:`.writers` and :mod:`.annotations` for adapters' ``synthesize`` methods.
"""

from __future__ import annotations

from pathlib import Path

from allinone_bench.data.synthetic.annotations import write_json, write_jsonl, write_lines, write_rows
from allinone_bench.data.synthetic.plan import FPS, NUM_FRAMES, SIZE, SyntheticVideo, plan_videos, split_sizes
from allinone_bench.data.synthetic.scene import (
    COLOURS,
    DIRECTIONS,
    SHAPES,
    QuestionAnswer,
    Scene,
    caption,
    captions,
    distractor_scenes,
    oov_question,
    questions,
    render,
    sample_scenes,
)
from allinone_bench.data.synthetic.segments import SEGMENT_FRAMES, paragraph_scenes, render_segments
from allinone_bench.data.synthetic.writers import write_frame_dir, write_gif, write_mp4, write_video

__all__ = [
    "COLOURS",
    "DIRECTIONS",
    "FPS",
    "NUM_FRAMES",
    "SEGMENT_FRAMES",
    "SHAPES",
    "SIZE",
    "SYNTHETIC_FORMAT",
    "QuestionAnswer",
    "Scene",
    "SyntheticVideo",
    "caption",
    "captions",
    "distractor_scenes",
    "oov_question",
    "paragraph_scenes",
    "plan_videos",
    "questions",
    "render",
    "render_segments",
    "sample_scenes",
    "split_sizes",
    "synthesize",
    "write_frame_dir",
    "write_gif",
    "write_json",
    "write_jsonl",
    "write_lines",
    "write_rows",
    "write_mp4",
    "write_video",
]


SYNTHETIC_FORMAT = 3
"""Bumped whenever a synthetic writer changes what it writes, so cached synthetic sets are rewritten
(2: LSMDC-MC in the release's three formats; original QA release files beside the bundle's; 3: H.264 clips
encoded on one x264 thread, byte-identical on every machine load)."""


def synthesize(adapter_name: str, out_root: Path | str, num_videos: int = 24, seed: int = 0) -> Path:
    """Write the synthetic dataset of adapter ``adapter_name`` under ``out_root``; returns the dataset folder."""
    from allinone_bench.data.datasets import get_adapter  # late import: adapters import this package

    return get_adapter(adapter_name).synthesize(Path(out_root), num_videos=num_videos, seed=seed)
