"""Typed samples produced by dataset adapters; the task kinds consume nothing else.

Adapters parse official annotation files into these dataclasses; the pipeline (decode, sample, transform,
tokenize) turns them into tensors. Keeping them typed and small makes every adapter testable without a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

VideoKind = Literal["video", "gif", "frames"]


@dataclass(frozen=True)
class VideoRef:
    """Where a clip's pixels are: a container file, a GIF, or a directory of extracted frames.

    ``start``/``end`` (seconds) restrict sampling to a window (TVC, YouCook2 segments, DiDeMo moments);
    ``None`` means the whole clip. ``fps`` is the frame rate of a ``frames`` directory (containers carry their
    own), needed to turn a time window into frame indices (e.g. TVC's 3 fps frame folders).
    """

    path: Path
    kind: VideoKind = "video"
    start: float | None = None
    end: float | None = None
    fps: float | None = None
    frame_window: tuple[int, int] | None = None
    """``(first, length)`` in frame indices (Ego4D's official ``frame_loc - 60`` .. ``+ 60``): the ``T``
    segments are laid over this span *before* clamping each index into the video, as the official reader does."""


@dataclass(frozen=True)
class RetrievalSample:
    """One video with its captions. ``captions`` has 1 entry (single-caption eval), many (multi-caption
    train/eval), or the sentences of a paragraph (DiDeMo/ActivityNet; the task's text mode joins them)."""

    id: str
    video: VideoRef
    captions: tuple[str, ...]


@dataclass(frozen=True)
class OpenQASample:
    """Open-ended QA: answered by classification over the training-answer vocabulary.

    ``label`` is the answer's index in the vocabulary, or ``None`` when the answer is out of vocabulary
    (such questions still count, as wrong, in ``acc``)."""

    id: str
    video: VideoRef
    question: str
    answer: str
    label: int | None


@dataclass(frozen=True)
class MultipleChoiceSample:
    """Pick one of ``options``. ``question`` is set for QA-style choice (TGIF Action/Transition), and empty
    for caption choice (MSRVTT-MC, LSMDC-MC). ``answer`` is the 0-based index of the right option."""

    id: str
    video: VideoRef
    options: tuple[str, ...]
    answer: int
    question: str = ""
    context: str = ""
    """Extra text for the prompt (TVQA subtitles cut to the question's window); used when the task asks."""
    option_videos: tuple[VideoRef, ...] = ()
    """One clip per option (EgoMCQ: one text, 5 candidate clips); then ``video`` is the first and the kind
    pairs ``question`` with every option clip."""
    group: str = ""
    """Sub-benchmark of the question (EgoMCQ ``inter`` / ``intra``), reported as a separate accuracy."""


@dataclass(frozen=True)
class CaptionSample:
    """A clip (or a time window of one) with its reference captions, for captioning."""

    id: str
    video: VideoRef
    captions: tuple[str, ...]


@dataclass(frozen=True)
class ClassificationSample:
    """Action recognition: a clip and its 0-based class index (``label_name`` for reports)."""

    id: str
    video: VideoRef
    label: int
    label_name: str = ""


Sample = RetrievalSample | OpenQASample | MultipleChoiceSample | CaptionSample | ClassificationSample


@dataclass
class DatasetSplit:
    """What an adapter returns for one split: the samples plus the metadata a task needs.

    ``answer_vocab`` (open QA) maps answer -> label; ``class_names`` (classification) is indexed by label.
    ``problems`` lists (file, reason) pairs the adapter tolerated, e.g. missing videos, so ``data check``
    can report them instead of failing on the first one.
    """

    dataset: str
    split: str
    samples: list[Sample]
    answer_vocab: dict[str, int] | None = None
    class_names: list[str] | None = None
    annotation_files: list[Path] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
