"""``read_yaml``: the one YAML-file reader behind task, study, leaderboard and checkpoint-list files."""

from __future__ import annotations

from pathlib import Path

import pytest

from allinone_bench.errors import CheckpointError, ConfigError
from allinone_bench.yamlfile import read_yaml


def test_reads_a_mapping_and_an_empty_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("a: 1\nb: [x, y]\n", encoding="utf-8")
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")
    assert read_yaml(tmp_path / "a.yaml", "task file") == {"a": 1, "b": ["x", "y"]}
    assert read_yaml(tmp_path / "empty.yaml", "task file") is None


def test_errors_name_the_file_and_what_it_should_be(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=f"^{missing}: study file not found$"):
        read_yaml(missing, "study file")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n", encoding="utf-8")
    with pytest.raises(CheckpointError, match=f"^{bad}: invalid YAML in checkpoint list: "):
        read_yaml(bad, "checkpoint list", CheckpointError)
    with pytest.raises(ConfigError, match="cannot read leaderboard file"):
        read_yaml(tmp_path, "leaderboard file")  # a folder, not a file
