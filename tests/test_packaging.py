"""The wheel carries the registries (tasks, leaderboards, checkpoint list) and works with no repository around it;
user task folders (``ALLINONE_BENCH_TASKS``) extend and override the built-in tasks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from allinone_bench import paths
from allinone_bench.errors import ConfigError
from allinone_bench.tasks.registry import load_task, task_files

ROOT = Path(__file__).resolve().parents[1]
# What a build reads; everything else of the checkout (tests, runs, caches, .git) stays out of the copy.
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "checkpoints.yaml",
                "allinone_bench", "tasks", "leaderboards")


def _build_wheel(tmp_path: Path) -> Path:
    """Build the wheel offline from a clean copy of the sources (no stale ``build/`` of the checkout)."""
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "_bundled", "*.egg-info")
    for name in BUILD_INPUTS:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, src / name, ignore=ignore)
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(source, src / name)
    dist = tmp_path / "dist"
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(dist), str(src)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wheels = list(dist.glob("allinone_bench-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.mark.slow
def test_wheel_carries_registries_and_lists_every_task_from_anywhere(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"allinone_bench/_bundled/tasks/{p.name}" for p in (ROOT / "tasks").glob("*.yaml")}
    expected |= {f"allinone_bench/_bundled/leaderboards/{p.name}" for p in (ROOT / "leaderboards").glob("*.yaml")}
    expected |= {"allinone_bench/_bundled/checkpoints.yaml", "allinone_bench/py.typed",
                 "allinone_bench/resources/bert-base-uncased-vocab.txt", "allinone_bench/cli/__init__.py"}
    assert expected <= names, sorted(expected - names)
    assert not [n for n in names if n.startswith(("tests/", "tasks/", "leaderboards/", "benchmarks/"))]
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "allinone-bench = allinone_bench.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("ALLINONE_BENCH_TASKS", "ALLINONE_BENCH_LEADERBOARDS", "ALLINONE_BENCH_CHECKPOINTS_FILE")}
    env.update(PYTHONPATH=str(site), COLUMNS="250")
    # what the console script runs (entry_points.txt), after printing where the registries were found
    script = ("import sys, allinone_bench; from allinone_bench import paths\n"
              "print('PACKAGE', allinone_bench.__file__); print('TASKS', paths.tasks_dir())\n"
              "print('CKPTS', paths.checkpoints_file()); print('BOARDS', paths.leaderboards_dir())\n"
              "from allinone_bench.cli import main; sys.argv = ['allinone-bench', 'tasks']; main()\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=empty, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if line.split(" ")[0].isupper())
    for key in ("PACKAGE", "TASKS", "CKPTS", "BOARDS"):
        assert Path(lines[key]).is_relative_to(site), (key, lines[key])
    for name in task_files(ROOT / "tasks"):
        assert name in proc.stdout, name
    assert "invalid" not in proc.stdout


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_user_task_dirs_extend_and_override_builtins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "mine", tmp_path / "team"
    # a new task that includes a built-in base file its own folder does not have
    _write(first / "my_retrieval.yaml", "version: 7\ninclude: _retrieval.yaml\n"
           "dataset: {adapter: msrvtt_ret, splits: {train: train, val: val, test: test}}\n")
    _write(first / "msrvtt_retrieval.yaml", "version: 41\ninclude: _retrieval.yaml\n"
           "dataset: {adapter: msrvtt_ret, splits: {train: train, val: val, test: test}}\n")
    _write(second / "msrvtt_retrieval.yaml", "version: 42\ninclude: _retrieval.yaml\n"
           "dataset: {adapter: msrvtt_ret, splits: {train: train, val: val, test: test}}\n")
    monkeypatch.setenv("ALLINONE_BENCH_TASKS", os.pathsep.join([str(first), str(second)]))
    files = task_files()
    assert files["my_retrieval"] == first / "my_retrieval.yaml"
    assert files["msrvtt_retrieval"] == first / "msrvtt_retrieval.yaml"  # the earlier folder wins
    assert files["msvd_qa"] == paths.builtin_tasks_dir() / "msvd_qa.yaml"  # built-ins still there
    assert load_task("my_retrieval").version == 7
    assert load_task("msrvtt_retrieval").version == 41
    monkeypatch.setenv("ALLINONE_BENCH_TASKS", str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="absent"):
        task_files()
