"""Cost and quality of the three retrieval scorers on a synthetic N x N retrieval set (default 200 x 200).

    python benchmarks/retrieval_scoring.py [--num-videos 200] [--k 5 10 20] [--train-epochs 60] [--device cpu]

1. Finetunes the synthetic msrvtt_retrieval model with VTC + VTM (so both the dual encoder and the
   cross-encoder are trained), unless ``--no-train``.
2. Scores an N-video synthetic test split with ``dual``, ``dual+rerank(k)`` for each k, and ``cross``, and prints
   the number of joint (cross-encoder) forwards, unimodal forwards, t2v/v2t R@1 and wall time of each.

Joint forwards are counted with a hook on the model's joint ``forward``: they are the cost that makes
all-pairs VTM retrieval take ~26 h on MSRVTT in the reference code (N_text x N_video), against N_text +
N_video unimodal passes for the dual encoder, and N x k (plus the v2t direction) for rerank.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
import torch
from rich.console import Console
from rich.table import Table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-videos", type=int, default=200, help="test videos (= texts) in the set")
    parser.add_argument("--k", type=int, nargs="+", default=[5, 10, 20], help="rerank depths")
    parser.add_argument("--train-epochs", type=int, default=60)
    parser.add_argument("--no-train", action="store_true", help="score with a randomly initialised model")
    parser.add_argument("--skip-cross", action="store_true", help="skip the N x N cross-encoder pass")
    parser.add_argument("--device", default=None)
    parser.add_argument("--output-dir", type=Path, default=None)
    args = parser.parse_args()

    from allinone_bench.bench.retrieval import count_forwards, scorer_settings, score_split
    from allinone_bench.data.datasets import get_adapter
    from allinone_bench.data.tokenizer import load_tokenizer
    from allinone_bench.engine import RunOptions, run_task
    from allinone_bench.engine.dist import select_device
    from allinone_bench.engine.runner import model_arch_kwargs
    from allinone_bench.engine.synthetic import ensure_synthetic
    from allinone_bench.model import build_model, load_pretrained
    from allinone_bench.tasks import get_kind, load_task

    console = Console(width=110)
    device = select_device(args.device)
    out = args.output_dir or Path(tempfile.mkdtemp(prefix="retrieval-scoring-"))
    cfg = load_task("msrvtt_retrieval", synthetic=True, overrides={"eval.batch_size": 64,
                                                                    "options.cross_batch_size": 128})
    if args.no_train:
        torch.manual_seed(0)
        model = build_model(cfg.model.variant, **model_arch_kwargs(cfg), contrastive=True)
        trained = "random init"
    else:
        console.print(f"finetuning the synthetic model (VTC + VTM, {args.train_epochs} epochs) ...")
        run = run_task(RunOptions(task="msrvtt_retrieval", output_dir=out, device=args.device, count_flops=False,
                                  console=Console(stderr=True, quiet=True),
                                  overrides={"options.vtm_weight": 1.0, "finetune.epochs": args.train_epochs}))
        model = load_pretrained(run.run_dir / "model")
        trained = f"finetuned {args.train_epochs} epochs (VTC + VTM) on {cfg.synthetic.num_videos} synthetic videos"
    model.to(device).eval()
    counts = count_forwards(model)

    # msrvtt_ret's synthetic split is train 2/3, test 1/3: 3N videos give an N-video test split.
    root, _ = ensure_synthetic(cfg.dataset.adapter, 3 * args.num_videos, seed=1)
    split = get_adapter(cfg.dataset.adapter)(root).load("test")
    console.print(f"eval set: {len(split.samples)} videos x {len(split.samples)} texts ({root}); model: {trained}")

    scorers = scorer_settings(tuple(args.k), cross=not args.skip_cross)
    table = Table(title=f"retrieval scoring on a {len(split.samples)}x{len(split.samples)} synthetic set",
                  header_style="bold")
    for col in ("scorer", "joint forwards", "text passes", "video passes", "t2v R@1", "v2t R@1", "time (s)"):
        table.add_column(col, justify="left" if col == "scorer" else "right")
    for label, overrides in scorers:
        metrics, elapsed = score_split(model, split, counts, overrides, device, precision="fp32")
        table.add_row(label, f"{counts['joint']:,}", f"{counts['text']:,}", f"{counts['video']:,}",
                      f"{metrics['t2v_R@1']:.1f}", f"{metrics['v2t_R@1']:.1f}", f"{elapsed:.1f}")
        console.print(f"  {label}: done in {elapsed:.1f}s")
    console.print(table)
    # Synthetic scenes repeat (48 colour x shape x direction combinations), so identical captions describe
    # several videos: even a perfect model cannot beat 1 / (videos sharing the caption) at R@1.
    from allinone_bench.data.synthetic import COLOURS, DIRECTIONS, SHAPES

    words = set(COLOURS) | set(SHAPES) | set(DIRECTIONS)
    kind = get_kind("retrieval")(cfg, load_tokenizer())
    scenes = [frozenset(words & set(kind.texts_of(s)[0].lower().split())) for s in split.samples]
    ceiling = 100.0 * sum(1.0 / scenes.count(sc) for sc in scenes) / len(scenes)
    console.print(f"chance t2v R@1 = {100.0 / len(split.samples):.2f}; ceiling (duplicate captions) = {ceiling:.1f}; "
                  f"device {device}; clips decoded once per scorer (cross/rerank reuse one clip per video)")


if __name__ == "__main__":
    main()
