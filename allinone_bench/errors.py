"""One exception family, so the CLI can turn any expected failure into a one-line message.

Every error raised on bad user input (a file, a key, a flag) derives from :class:`BenchError` and its
message names the offending file/key and what was expected; the CLI exits with its :attr:`~BenchError.exit_code`
(2, bad input). :class:`RunError` is a run that failed on good input (a diverged loss, non-finite scores, an
external scorer that crashed): exit code 1, as the CLI contract says.
"""

from __future__ import annotations


class BenchError(Exception):
    """Base class of all expected, user-facing errors (the CLI prints ``str(err)`` and exits non-zero)."""

    exit_code: int = 2  # bad input


class RunError(BenchError):
    """The input was fine but the run failed (diverged, produced non-finite scores, a scorer crashed)."""

    exit_code = 1


class ConfigError(BenchError):
    """A task YAML, ``--set`` override or CLI option is invalid."""


class CheckpointError(BenchError):
    """A checkpoint is missing, unreadable, or its tensors do not fit the model."""


class DataError(BenchError):
    """Base class for problems with a dataset on disk."""


class AnnotationError(DataError):
    """An annotation file is missing or malformed (message names file and line)."""


class VideoDecodeError(DataError):
    """A video is missing, empty, truncated or undecodable (message names file and reason)."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        # Picklable with both arguments, so it crosses DataLoader worker boundaries as itself.
        return (type(self), (self.path, self.reason))
