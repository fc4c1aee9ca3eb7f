"""Dataset adapters: one module per dataset family, each registering its adapters by name.

``get_adapter(name)(data_root, **options).load(split)`` is the whole interface (see :mod:`.base`).
Importing this package imports every adapter module so that registration has happened.
"""

from __future__ import annotations

import importlib

from allinone_bench.data.datasets.base import (
    MISSING_VIDEO,
    DatasetAdapter,
    JsonRecord,
    Option,
    Row,
    drop_missing_videos,
    get_adapter,
    list_adapters,
    register_adapter,
)

__all__ = [
    "MISSING_VIDEO",
    "DatasetAdapter",
    "JsonRecord",
    "Option",
    "Row",
    "drop_missing_videos",
    "get_adapter",
    "list_adapters",
    "register_adapter",
]

_ADAPTER_MODULES: tuple[str, ...] = (
    "msrvtt",
    "msrvtt_qa",
    "msvd",
    "tgif",
    "tvqa",
    "ego4d",
    "motion",
    "lsmdc",
    "didemo",
    "activitynet",
    "youcook2",
    "tvc",
    "kinetics",
    "hmdb51",
    "ucf101",
)


def _import_adapter_modules() -> None:
    """Import every adapter module (each registers its adapters); an import error propagates."""
    for module in _ADAPTER_MODULES:
        importlib.import_module(f"{__name__}.{module}")


_import_adapter_modules()
