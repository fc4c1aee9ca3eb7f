"""Reports: the results schema, the results store, the paper's tables as data, table regeneration and the
FLOPs/accuracy plot.

``schema.py`` defines results.json once (pydantic); the engine writes it through ``results.py``, and the store,
tables, plot and the ``results`` command read it back into the same model.
"""

from __future__ import annotations

import importlib
from typing import Any

# Loaded on first access (PEP 562): importing a light module such as ``report.display`` must not pull in
# pydantic models and the leaderboard files (the CLI imports it at start-up).
_EXPORTS: dict[str, str] = {
    "Leaderboard": "leaderboard", "all_leaderboards": "leaderboard", "get_leaderboard": "leaderboard",
    "table_ids": "leaderboard",
    "RunGroup": "store", "RunRecord": "store", "group_by_seed": "store", "load_run": "store", "load_runs": "store",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
