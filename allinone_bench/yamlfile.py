"""Reading one YAML file with the project's error style: a missing or unreadable file, or invalid YAML, is one
line naming the file and what it was expected to be (task file, study, leaderboard, checkpoint list)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from allinone_bench.errors import BenchError, ConfigError


def read_yaml(path: str | Path, what: str, error: type[BenchError] = ConfigError) -> Any:
    """The parsed content of ``path`` (None for an empty file); failures raise ``error`` naming ``path``."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except OSError as err:
        raise error(f"{path}: cannot read {what} ({err.strerror or err})") from None
    except yaml.YAMLError as err:
        raise error(f"{path}: invalid YAML in {what}: {err}") from None
