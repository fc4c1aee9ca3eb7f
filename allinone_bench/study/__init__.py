"""Studies: one command for many runs (a grid of ``--set`` values x seeds) and their mean ± std summary.

:mod:`.spec` describes a study (from the command line or a YAML file), :mod:`.runner` runs it sequentially
(skipping finished runs, or one run by index for a SLURM array), :mod:`.summary` pools the runs' results.json.
"""

from __future__ import annotations

from allinone_bench.study.runner import StudyRun, plan_runs, run_study
from allinone_bench.study.spec import StudySpec, load_study, parse_grid
from allinone_bench.study.summary import summarize, write_summary

__all__ = ["StudyRun", "StudySpec", "load_study", "parse_grid", "plan_runs", "run_study", "summarize",
           "write_summary"]
