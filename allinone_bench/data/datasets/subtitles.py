"""TV-show subtitles (TVQA/TVR releases): read them and cut them to a question's time window.

Two released forms hold the same lines: ``tvqa_preprocessed_subtitles.jsonl`` (TVRetrieval's preprocessing:
``{"vid_name": ..., "sub": [{"text": ..., "start": s, "end": s}, ...]}``) and one SubRip file per clip,
``tvqa_subtitles/<vid_name>.srt`` (ISO-8859-1, speaker names in parentheses, ``(Sheldon:) ...``). The jsonl
wins where both name a clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import srt

from allinone_bench.data.datasets.base import read_jsonl
from allinone_bench.errors import AnnotationError

__all__ = ["Subtitle", "load_subtitles", "read_srt", "window_text"]


@dataclass(frozen=True)
class Subtitle:
    text: str
    start: float
    end: float


def _clean(text: str) -> str:
    return " ".join(text.replace("\n", " ").split())


def read_srt(path: Path) -> list[Subtitle]:
    """One clip's SubRip file (the release's encoding is ISO-8859-1; UTF-8 is tried first)."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("iso-8859-1")
    try:
        return [Subtitle(_clean(s.content), s.start.total_seconds(), s.end.total_seconds()) for s in srt.parse(text)]
    except srt.SRTParseError as err:
        raise AnnotationError(f"{path}: not a SubRip subtitle file ({err})") from None


def _read_jsonl(path: Path) -> dict[str, list[Subtitle]]:
    out: dict[str, list[Subtitle]] = {}
    for rec in read_jsonl(path):
        lines = []
        for i, item in enumerate(rec.get("sub", list)):
            ok = isinstance(item, dict) and isinstance(item.get("text"), str)
            times = [item.get(k) for k in ("start", "end")] if ok else []
            if not ok or not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in times):
                raise rec.error(f"sub[{i}] should be {{'text': str, 'start': seconds, 'end': seconds}}, got {item!r}")
            lines.append(Subtitle(_clean(item["text"]), float(times[0]), float(times[1])))
        out[rec.get_str("vid_name").strip()] = lines
    return out


def load_subtitles(jsonl: Path | None, srt_dir: Path | None) -> dict[str, list[Subtitle]]:
    """vid_name -> subtitle lines from the preprocessed jsonl and/or a folder of ``<vid_name>.srt``."""
    out: dict[str, list[Subtitle]] = {}
    if srt_dir is not None:
        out.update({p.stem: read_srt(p) for p in sorted(srt_dir.glob("*.srt"))})
    if jsonl is not None:
        out.update(_read_jsonl(jsonl))
    return out


def window_text(lines: list[Subtitle], start: float | None, end: float | None) -> str:
    """The lines overlapping ``[start, end]`` seconds (all lines when the window is unknown), joined."""
    lo = float("-inf") if start is None else start
    hi = float("inf") if end is None else end
    return " ".join(s.text for s in lines if s.end >= lo and s.start <= hi and s.text)
