"""Import structure: the CLI and the ``tasks`` listing load without torch, and the results writer does not
reach into the engine (each check runs in a fresh interpreter, so earlier imports cannot hide a regression)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "pandas", "matplotlib", "transformers")


def _modules_after(code: str) -> set[str]:
    """The top-level modules loaded after running ``code`` in a fresh interpreter of this checkout."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_cli_import_loads_no_heavy_module() -> None:
    assert not _modules_after("import allinone_bench.cli") & set(HEAVY)


def test_tasks_listing_imports_no_torch() -> None:
    code = ("from typer.testing import CliRunner\nfrom allinone_bench.cli import app\n"
            "r = CliRunner().invoke(app, ['tasks'])\nassert r.exit_code == 0, r.output\n"
            "assert 'msrvtt_retrieval' in r.output and 'invalid' not in r.output, r.output")
    loaded = _modules_after(code)
    assert "torch" not in loaded and "allinone_bench" in loaded


@pytest.mark.parametrize("module", ["allinone_bench.report.results", "allinone_bench.report.store",
                                    "allinone_bench.report.leaderboard", "allinone_bench.tasks.registry"])
def test_report_and_registry_import_without_torch(module: str) -> None:
    assert "torch" not in _modules_after(f"import {module}")


def test_tasks_listing_reads_yaml_and_check_validates(tmp_path: Path) -> None:
    from allinone_bench.tasks.registry import describe_tasks

    (tmp_path / "good.yaml").write_text((ROOT / "tasks" / "msrvtt_qa.yaml").read_text())
    for inc in (ROOT / "tasks").glob("_*.yaml"):
        (tmp_path / inc.name).write_text(inc.read_text())
    (tmp_path / "nokind.yaml").write_text("version: 1\ndataset: {adapter: x}\nmetrics: [acc]\n")
    (tmp_path / "badmetric.yaml").write_text((ROOT / "tasks" / "msrvtt_qa.yaml").read_text()
                                             + "metrics: [no_such_metric]\n")
    rows = {r.name: r for r in describe_tasks(tmp_path)}
    assert rows["good"].kind == "open_qa" and rows["good"].error is None and "acc" in rows["good"].metrics
    assert "nokind.yaml: kind: Field required" in (rows["nokind"].error or "")
    assert rows["badmetric"].error is None  # listing reads YAML only; the full check catches it
    checked = {r.name: r for r in describe_tasks(tmp_path, check=True)}
    assert "no_such_metric" in (checked["badmetric"].error or "") and checked["good"].error is None
