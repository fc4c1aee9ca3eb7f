"""results.json names the code it came from: the commit, marked dirty when the package was modified."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from allinone_bench.report.results import git_commit

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout.strip()


def test_git_commit_marks_modified_package_dirty(tmp_path: Path) -> None:
    (tmp_path / "allinone_bench").mkdir()
    source = tmp_path / "allinone_bench" / "x.py"
    source.write_text("A = 1\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    head = _git(tmp_path, "rev-parse", "HEAD")

    assert git_commit(tmp_path) == head
    (tmp_path / "notes.txt").write_text("untracked files outside the package do not count\n")
    assert git_commit(tmp_path) == head
    source.write_text("A = 2\n")
    assert git_commit(tmp_path) == f"{head}-dirty"


def test_git_commit_outside_a_checkout_is_none(tmp_path: Path) -> None:
    assert git_commit(tmp_path) is None
