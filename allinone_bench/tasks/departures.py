"""Every known protocol departure from the official All-in-One code, as data.

Each entry names the task YAML key(s) that choose between our default and the official behaviour, or, where
the official behaviour is not reproduced, says so (``keys`` empty). ``results.json`` records, for each entry
that concerns the task, the value that ran and the value the task's ``official:`` preset would set
(:func:`departure_record`); the README's departure table lists every entry with its option (a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from allinone_bench.tasks.config import TaskConfig, flatten


@dataclass(frozen=True)
class Departure:
    """``applies``: task kinds or task names it concerns (empty = every task); ``keys``: the options."""

    name: str
    keys: tuple[str, ...]
    applies: tuple[str, ...]
    official: str


DEPARTURES: tuple[Departure, ...] = (
    Departure("text_length", ("protocol.text.max_len",), ("activitynet_retrieval",),
              "ActivityNet paragraphs are cut at max_text_len 40 (only DiDeMo sets 80)"),
    Departure("evaluation_split", ("dataset.splits.test", "dataset.splits.val"), ("didemo_retrieval",),
              "DiDeMo recall is computed, and the epoch selected, on DiDeMo_val.tsv"),
    Departure("mc_head_init", ("options.rank_head_init",), ("multiple_choice",),
              "MC finetuning scores with a rank_output head that starts random (N(0, 0.02))"),
    Departure("probe_head_lr", ("finetune.head_lr_mult", "options.probe"), ("linear_probe",),
              "the linear_evaluation probe trains pooler + vqa_classifier with no lr multiplier"),
    Departure("probe_augmentation", (), ("k400_probe",),
              "K400 training uses pytorchvideo RandAugment, short-side jitter 268-336 and flips (not reproduced)"),
    Departure("vtm_loss", ("options.vtm_loss", "options.vtm_false_texts"), ("retrieval",),
              "VTM retrieval loss: true text + 15 random false texts, 16-way softmax over rank_output"),
    Departure("vtc_reduction", ("options.vtc_reduction",), ("retrieval",),
              "VTC loss = plain sum of the text->video and video->text cross-entropies"),
    Departure("text_pass", ("options.text_pass",), ("retrieval",),
              "the text-only pass runs on T copies of the text (independent dropout) and averages them"),
    Departure("retrieval_views", ("options.views", "protocol.video.sampling"), ("retrieval",),
              "retrieval similarities are averaged over 3 views of random frames"),
    Departure("retrieval_ties", ("metrics",), ("retrieval",),
              "retrieval ties: t2v optimistic; v2t averaged 0-based rank, R@1 only when it is exactly 0"),
    Departure("precision", ("finetune.precision", "eval.precision"), (),
              "fp16 AMP (Lightning precision=16) for training and evaluation"),
    Departure("mc_validation", ("finetune.val_check_interval",), ("multiple_choice",),
              "MC configs validate every half epoch (val_check_interval 0.5)"),
    Departure("selection_on_test", ("dataset.splits.val", "dataset.options.val_source"),
              ("linear_probe", "lsmdc_mc", "open_qa", "mc_qa", "msrvtt_retrieval"),
              "the epoch is selected on the test file"),
    Departure("patch_permutation", ("protocol.patch_permutation",), (),
              "patch tokens are randomly permuted on every forward, evaluation included"),
    Departure("msrvtt_mc_training", (), ("msrvtt_mc",),
              "MSRVTT-MC reads msrvtt_mc_test.jsonl for every split, finetuning included (not reproduced: "
              "training on the test questions; the task is evaluation-only, the paper's zero-shot protocol)"),
    Departure("tvqa_frames", (), ("tvqa_mc",),
              "the TVQA loader keeps cv2's BGR frames and swaps the T and C axes (bugs, not reproduced)"),
    Departure("tvqa_nan_window", (), ("tvqa_mc",),
              "a 'NaN-NaN' ts crashes the TVQA loader, which then uses a random other question (not reproduced)"),
    Departure("tvqa_truncation", ("options.truncation",), ("tvqa_mc",),
              "the TVQA prompt is cut at its end (max_text_len 100), losing the answer of a long prompt"),
    Departure("ego4d_options", (), ("ego4d_mc", "ego4d_mc_finetune"),
              "Ego4D MC scores only the first 4 options (draw_false_text 4; not reproduced: all 5 scored)"),
    Departure("ego4d_unmatched", (), ("ego4d_mc", "ego4d_mc_finetune"),
              "an Ego4D MC row whose gt text matches no option gets label 0 (not reproduced: listed and skipped)"),
    Departure("ego4d_finetune_split", ("dataset.options.split",), ("ego4d_mc_finetune",),
              "Ego4D MC has no training file: the official config finetunes and validates on mc_val.csv itself"),
    Departure("unreadable_videos", (), (),
              "an unreadable video is replaced by a random other sample (not reproduced: here a missing video "
              "is dropped and counted, an undecodable one stops the run naming the file)"),
)


def applies_to(departure: Departure, cfg: TaskConfig) -> bool:
    return not departure.applies or cfg.kind in departure.applies or cfg.name in departure.applies


def departure_record(cfg: TaskConfig) -> dict[str, Any]:
    """``{name: {"options": {key: value that ran}, "official": {key: preset value}, "official_behaviour"}}``
    for the departures that concern ``cfg``'s task; ``options`` is empty where the official behaviour is not
    reproduced."""
    ran = flatten(cfg.to_dict())
    preset = flatten(cfg.official)
    out: dict[str, Any] = {}
    for dep in DEPARTURES:
        if not applies_to(dep, cfg):
            continue
        out[dep.name] = {
            "options": {k: ran.get(k) for k in dep.keys if k in ran},
            "official": {k: preset[k] for k in dep.keys if k in preset},
            "official_behaviour": dep.official,
            "reproducible": bool(dep.keys),
        }
    return out
