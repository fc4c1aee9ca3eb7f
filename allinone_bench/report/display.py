"""How results read on screen: the paper's model names, metric units, counts as integers.

One place for it, so the run table, the ``results`` listing and the paper tables agree: the paper writes
``All-in-one-Ti/S/B/B+`` (B+ is the B architecture with the B+ pretraining checkpoint), R@K and accuracies are
percentages, MdR/MnR are ranks, captioning scores are x100, and ``n``/``n_*`` keys count samples.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PAPER_VARIANT_NAMES: dict[str, str] = {"ti": "Ti", "s": "S", "b": "B", "b+": "B+"}
OFFICIAL_ARCH = {"depth": 12, "patch_size": 16}  # what every released variant has

# metric name pattern -> unit (first match wins); "" = a plain number
_UNITS: tuple[tuple[str, str], ...] = (
    (r"^n$|^n_", "count"),
    (r"(^|_)R@\d+$", "%"),
    (r"(^|_)(MdR|MnR)$", "rank"),
    (r"^(acc|acc_in_vocab|mc_acc|probe_top\d+|top\d+)$", "%"),
    (r"^(bleu\d?|meteor|rouge_l|cider|spice)$", "x100"),
)


def paper_model_name(variant: str | None, checkpoint: str | None = None) -> str:
    """``All-in-one-Ti`` etc. as the paper writes it; a ``baseplus`` checkpoint of variant ``b`` is ``B+``."""
    if not variant:
        return "All-in-one-?"
    key = variant.lower()
    if key == "b" and checkpoint and "baseplus" in Path(checkpoint).name.lower():
        key = "b+"
    return f"All-in-one-{PAPER_VARIANT_NAMES.get(key, variant)}"


def reduced_architecture(config: Mapping[str, Any] | None) -> str | None:
    """``"depth 2, patch 8"`` when the model is smaller than every released one (synthetic runs), else None."""
    if not config:
        return None
    parts = [f"{key.split('_')[0]} {config[key]}" for key, official in OFFICIAL_ARCH.items()
             if config.get(key) is not None and config[key] != official]
    return ", ".join(parts) or None


def metric_unit(name: str) -> str:
    """The unit of a metric key: ``%``, ``rank``, ``x100``, ``count`` or ``""``."""
    for pattern, unit in _UNITS:
        if re.search(pattern, name):
            return unit
    return ""


def format_metric(name: str, value: float | None, digits: int = 2) -> str:
    """The value as printed: counts as integers, metrics with a unit with ``digits`` decimals, unitless numbers
    (e.g. the probe's regularisation ``probe_C = 0.001``) with 4 significant digits; ``n/a`` for NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    unit = metric_unit(name)
    if unit == "count" and float(value).is_integer():
        return str(int(value))
    return f"{value:.4g}" if unit == "" else f"{value:.{digits}f}"


def metric_with_unit(name: str, value: float | None, std: float | None = None) -> str:
    """``29.17%``, ``8.50 rank``, ``48`` (count), ``51.20±0.40 x100``: for one-line listings."""
    text = format_metric(name, value)
    if text != "n/a" and std is not None:
        text += f"±{std:.2f}"
    unit = metric_unit(name)
    if text == "n/a" or unit in ("", "count"):
        return text
    return f"{text}%" if unit == "%" else f"{text} {unit}"
