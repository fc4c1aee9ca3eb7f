"""Model cost: parameters by component, FLOPs per forward pass (counted and analytic).

``FlopReport.to_dict()`` is the results.json ``flops`` block; :func:`variant_params` / :func:`count_params` give
the ``params`` figure together with the paper's Table 1 counting rule.
"""

from __future__ import annotations

from allinone_bench.profile.analytic import PASS_MODES, ArchSpec, MacBreakdown, analytic_macs, text_len_for_macs
from allinone_bench.profile.flops import (
    EXTRA_FORMULAS,
    FlopReport,
    InputShape,
    OpCounts,
    count_ops,
    profile_config,
    profile_model,
    profile_variant,
)
from allinone_bench.profile.params import (
    COMPONENTS,
    TABLE1_COMPONENTS,
    TABLE1_PARAMS,
    ParamBreakdown,
    count_params,
    count_state_dict,
    variant_params,
)

__all__ = [
    "COMPONENTS",
    "EXTRA_FORMULAS",
    "PASS_MODES",
    "TABLE1_COMPONENTS",
    "TABLE1_PARAMS",
    "ArchSpec",
    "FlopReport",
    "InputShape",
    "MacBreakdown",
    "OpCounts",
    "ParamBreakdown",
    "analytic_macs",
    "count_ops",
    "count_params",
    "count_state_dict",
    "profile_config",
    "profile_model",
    "profile_variant",
    "text_len_for_macs",
    "variant_params",
]
