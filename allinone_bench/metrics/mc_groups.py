"""Multiple-choice accuracy per question group (EgoMCQ reports inter-video and intra-video accuracy apart).

Records as for ``mc_accuracy`` plus ``group`` (e.g. ``"inter"``); each output ``mc_acc_<group>`` is the
accuracy over that group's questions alone, with the same tie rule.
"""

from __future__ import annotations

from allinone_bench.errors import BenchError
from allinone_bench.metrics.accuracy import TieOptions, multiple_choice_accuracy
from allinone_bench.metrics.base import Metric, Record, register_metric

__all__ = ["GroupedChoiceMetric"]


@register_metric
class GroupedChoiceMetric(Metric):
    """EgoMCQ's two accuracies. Record: ``id``, ``scores``, ``answer``, ``group`` (``inter`` | ``intra``)."""

    name = "mc_group_accuracy"
    outputs = ("mc_acc_inter", "mc_acc_intra")
    fields = ("scores", "answer", "group")
    options_type = TieOptions

    def compute_metrics(self, records: list[Record]) -> dict[str, float]:
        out: dict[str, float] = {}
        for key in self.keys:
            group = key.removeprefix("mc_acc_")
            mine = [r for r in records if r["group"] == group]
            if not mine:
                raise BenchError(f"metric {self.name!r}: no question of group {group!r} among {len(records)} records")
            res = multiple_choice_accuracy([r["scores"] for r in mine], [int(r["answer"]) for r in mine],
                                           ties=self.options.ties)
            out[key], out[f"n_{group}"] = res["mc_acc"], res["n"]
        return out
