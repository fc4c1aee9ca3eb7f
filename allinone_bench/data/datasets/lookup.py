"""Finding a video file whose name the annotations give without (or with the wrong) extension.

DiDeMo, ActivityNet and other releases ship clips in mixed containers (``.mp4``, ``.m4v``, ``.mov`` …) and
some mirrors re-encode ``x.mov`` as ``x.mov.mp4``; the annotation files name only one form.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["VIDEO_EXTENSIONS", "VideoDirectory"]

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".avi", ".mpg", ".mpeg", ".3gp", ".wmv", ".mkv", ".webm", ".flv", ".mts")


class VideoDirectory:
    """Finds a video by name in a few folders whatever its extension (listing each folder once).

    ``find("x.mov")`` tries ``x.mov``, ``x.mov.mp4`` (converted mirrors) and ``x.<ext>`` for every known
    extension; ``find("x")`` tries ``x.<ext>``. Returns ``None`` when nothing matches.
    """

    def __init__(self, directories: Sequence[Path], extensions: Sequence[str] = VIDEO_EXTENSIONS) -> None:
        self.directories = list(directories)
        self.extensions = tuple(extensions)
        self._listing: dict[Path, set[str]] = {}

    def _names(self, directory: Path) -> set[str]:
        if directory not in self._listing:
            try:
                self._listing[directory] = {entry.name for entry in os.scandir(directory)}
            except OSError:
                self._listing[directory] = set()
        return self._listing[directory]

    def candidates(self, name: str) -> list[str]:
        stem, suffix = os.path.splitext(name)
        names = [name] if suffix else []
        names += [name + ext for ext in self.extensions]
        if suffix:
            names += [stem + ext for ext in self.extensions]
        return list(dict.fromkeys(names))

    def find(self, name: str) -> Path | None:
        """The first match in folder order; ``name`` may hold a relative folder (``sub/x.mov``)."""
        folder, base = os.path.split(name)
        names = self.candidates(base)
        for directory in self.directories:
            listing = self._names(directory / folder)
            for candidate in names:
                if candidate in listing:
                    return directory / folder / candidate
        return None
