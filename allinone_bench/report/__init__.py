"""Reports: the results schema, the results store, the paper's tables as data, table regeneration and the
FLOPs/accuracy plot.

``schema.py`` defines results.json once (pydantic); the engine writes it through ``results.py``, and the store,
tables, plot and the ``results`` command read it back into the same model.
"""

from __future__ import annotations

from allinone_bench.report.leaderboard import Leaderboard, all_leaderboards, get_leaderboard, table_ids
from allinone_bench.report.store import RunGroup, RunRecord, group_by_seed, load_run, load_runs

__all__ = [
    "Leaderboard",
    "RunGroup",
    "RunRecord",
    "all_leaderboards",
    "get_leaderboard",
    "group_by_seed",
    "load_run",
    "load_runs",
    "table_ids",
]
