"""Reports: the results store, the paper's tables as data, table regeneration and the FLOPs/accuracy plot.

``results.py`` (the results writer) belongs to the engine; everything here only reads results.json files.
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
