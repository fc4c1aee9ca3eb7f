"""Build step: copy the top-level registries into the wheel (all other metadata is in pyproject.toml).

``tasks/``, ``leaderboards/`` and ``checkpoints.yaml`` live at the repository top level, where users read and
edit them. A wheel must carry them too, so ``build_py`` copies them into ``allinone_bench/_bundled/`` of the
build tree; :mod:`allinone_bench.paths` reads that copy when it exists. Editable installs skip the copy and
read the top-level files themselves.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
REGISTRIES = {"tasks": "*.yaml", "leaderboards": "*.yaml", "checkpoints.yaml": None}


class BuildPyWithRegistries(build_py):
    """``build_py`` plus a copy of the registries into ``<build_lib>/allinone_bench/_bundled``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "allinone_bench" / "_bundled"
        for name, pattern in REGISTRIES.items():
            source = ROOT / name
            if pattern is None:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)
                continue
            files = sorted(source.glob(pattern))
            if not files:
                raise FileNotFoundError(f"{source}: no {pattern} to bundle (is this an incomplete sdist?)")
            (target / name).mkdir(parents=True, exist_ok=True)
            for file in files:
                shutil.copy2(file, target / name / file.name)


setup(cmdclass={"build_py": BuildPyWithRegistries})
