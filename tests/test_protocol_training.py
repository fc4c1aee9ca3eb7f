"""Training-side protocol options (issue 8 items 3 and 5): gradient accumulation windows, validation inside
an epoch, the official losses (VTC sum, VTM over random false texts, text pass per frame), the random MC
scoring head and the official fp16 precision. All on CPU with toy or tiny models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from allinone_bench.data.tokenizer import load_tokenizer
from allinone_bench.data.types import DatasetSplit, RetrievalSample, VideoRef
from allinone_bench.engine.optim import accumulation_window
from allinone_bench.engine.precision import resolve_precision
from allinone_bench.engine.trainer import Trainer
from allinone_bench.model import build_model
from allinone_bench.tasks import get_kind, load_task
from allinone_bench.tasks.base import LossOutput
from allinone_bench.tasks.batching import SampleDataset
from allinone_bench.tasks.multiple_choice import reset_rank_head
from allinone_bench.tasks.retrieval import false_text_rank_loss, symmetric_contrastive_loss

CPU = torch.device("cpu")


# ------------------------------------------------------------------ toy trainer setup
class _Scalar(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))


class _ToyKind:
    """loss = w * x for a batch of one value x, so d loss / d w = x: the gradient shows how losses were scaled."""

    name = "toy"

    def __init__(self) -> None:
        self.seen: list[float] = []

    def train_dataset(self, split: list[float], *, seed: int) -> SampleDataset:
        return SampleDataset(split, lambda x, rng: {"x": torch.tensor(float(x))}, seed=seed)

    def collate(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        return torch.utils.data.default_collate(items)

    def loss(self, model: nn.Module, batch: dict[str, Any]) -> LossOutput:
        self.seen.extend(batch["x"].tolist())
        return LossOutput((model.w * batch["x"]).sum())


class _RecordingTrainer(Trainer):
    """Records the gradient each optimizer step applies."""

    def _step(self, optimizer: Any, scheduler: Any, scaler: Any) -> None:
        self.grads.append(float(self.model.w.grad))
        super()._step(optimizer, scheduler, scaler)


def _toy_trainer(overrides: dict[str, Any], validate: Any = None) -> tuple[_RecordingTrainer, _ToyKind]:
    cfg = load_task("msrvtt_qa", synthetic=True, overrides={
        "finetune.per_device_batch_size": 1, "finetune.warmup": 0.0, "finetune.num_workers": 0, **overrides})
    kind = _ToyKind()
    trainer = _RecordingTrainer(kind=kind, model=_Scalar(), config=cfg, device=CPU,  # type: ignore[arg-type]
                                precision=resolve_precision("fp32", CPU), seed=0, run_dir=None, validate=validate)
    trainer.grads = []  # type: ignore[attr-defined]
    return trainer, kind


def test_accumulation_window_sizes() -> None:
    assert [accumulation_window(i, 5, 2) for i in range(5)] == [2, 2, 2, 2, 1]
    assert [accumulation_window(i, 7, 3) for i in range(7)] == [3, 3, 3, 3, 3, 3, 1]
    assert [accumulation_window(i, 4, 2) for i in range(4)] == [2, 2, 2, 2]
    assert [accumulation_window(i, 3, 1) for i in range(3)] == [1, 1, 1]


def test_last_partial_accumulation_window_is_a_mean_over_its_own_batches() -> None:
    trainer, kind = _toy_trainer({"finetune.batch_size": 2, "finetune.epochs": 1})
    trainer.fit([1.0, 2.0, 4.0])  # 3 batches of 1, accumulation 2: windows of 2 and 1 batches
    a, b, c = kind.seen
    assert trainer.grads == pytest.approx([(a + b) / 2, c])  # the old rule gave c / 2 for the last step


def test_validation_every_half_epoch_selects_fractional_epochs() -> None:
    calls: list[float] = []
    scores = {0.5: 3.0, 1: 1.0, 1.5: 2.0, 2: 0.0}

    def validate(model: nn.Module, epoch: float) -> dict[str, float]:
        calls.append(epoch)
        return {"acc": scores[epoch]}

    trainer, _ = _toy_trainer({"finetune.batch_size": 1, "finetune.epochs": 2, "finetune.val_check_interval": 0.5,
                               "finetune.eval_every": 1},
                              validate=validate)
    state = trainer.fit([1.0, 2.0, 3.0, 4.0])
    assert calls == [0.5, 1, 1.5, 2]
    assert state.best_epoch == 0.5 and state.best_value == 3.0
    assert [h["epoch"] for h in state.history] == [0.5, 1, 1.5, 2]


def test_val_check_interval_must_be_a_fraction_of_an_epoch() -> None:
    from allinone_bench.errors import ConfigError

    with pytest.raises(ConfigError, match="val_check_interval"):
        load_task("lsmdc_mc", overrides={"finetune.val_check_interval": 1.5})


# ------------------------------------------------------------------ losses
def _tiny(**kw: Any) -> nn.Module:
    torch.manual_seed(0)
    return build_model("ti", depth=1, patch_size=8, image_size=32, num_frames=2, max_text_len=8, **kw)


def test_vtc_reduction_sum_is_the_official_plain_sum() -> None:
    g = torch.Generator().manual_seed(0)
    t = F.normalize(torch.randn(4, 8, generator=g), dim=-1)
    v = F.normalize(torch.randn(4, 8, generator=g), dim=-1)
    logits = t @ v.t() / 0.05
    target = torch.arange(4)
    t2v, v2t = F.cross_entropy(logits, target), F.cross_entropy(logits.t(), target)
    assert symmetric_contrastive_loss(t, v, 0.05, "sum") == pytest.approx(float(t2v + v2t))
    assert symmetric_contrastive_loss(t, v, 0.05, "mean") == pytest.approx(float(t2v + v2t) / 2)


def test_false_text_rank_loss_is_a_softmax_over_true_and_false_texts() -> None:
    model = _tiny(drop_rate=0.0, drop_path_rate=0.0).eval()
    g = torch.Generator().manual_seed(1)
    b, k, length = 2, 3, 8
    batch = {"video": torch.randn(b, 2, 3, 32, 32, generator=g),
             "text_ids": torch.randint(1000, 2000, (b, length), generator=g), "text_mask": torch.ones(b, length),
             "false_ids": torch.randint(1000, 2000, (b, k, length), generator=g),
             "false_mask": torch.ones(b, k, length)}
    with torch.no_grad():
        loss = false_text_rank_loss(model, batch)
        rows = []
        for i in range(b):  # one joint pass per (video, text) pair, true text first
            texts = torch.cat([batch["text_ids"][i:i + 1], batch["false_ids"][i]])
            out = model(batch["video"][i:i + 1].expand(k + 1, -1, -1, -1, -1), texts, torch.ones(k + 1, length))
            rows.append(model.rank_score(out.cls_feats))
        expected = F.cross_entropy(torch.stack(rows), torch.zeros(b, dtype=torch.long))
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)


def test_retrieval_loss_adds_the_false_text_vtm_loss_to_the_summed_vtc() -> None:
    kind = _retrieval_kind({"options.vtm_weight": 0.5, "options.vtm_loss": "false_text_rank",
                            "options.vtc_reduction": "sum", "protocol.video.num_frames": 2})
    model = _tiny(drop_rate=0.0, drop_path_rate=0.0, contrastive=True).eval()
    g = torch.Generator().manual_seed(3)
    batch = {"video": torch.randn(3, 2, 3, 32, 32, generator=g),
             "text_ids": torch.randint(1000, 2000, (3, 8), generator=g), "text_mask": torch.ones(3, 8),
             "false_ids": torch.randint(1000, 2000, (3, 2, 8), generator=g), "false_mask": torch.ones(3, 2, 8)}
    with torch.no_grad():
        out = kind.loss(model, batch)
        vtc = symmetric_contrastive_loss(model.contrastive_text(batch["text_ids"], batch["text_mask"]),
                                         model.contrastive_video(batch["video"]), 0.05, "sum")
        vtm = false_text_rank_loss(model, batch)
    assert out.logs["vtc"] == pytest.approx(float(vtc), rel=1e-5)
    assert out.logs["vtm"] == pytest.approx(float(vtm), rel=1e-5)
    assert float(out.loss) == pytest.approx(float(vtc) + 0.5 * float(vtm), rel=1e-5)


def _retrieval_kind(overrides: dict[str, Any]) -> Any:
    cfg = load_task("msrvtt_retrieval", synthetic=True, overrides=overrides)
    return get_kind("retrieval")(cfg, load_tokenizer())


def test_false_texts_are_drawn_from_other_training_videos(monkeypatch: pytest.MonkeyPatch) -> None:
    kind = _retrieval_kind({"options.vtm_weight": 1.0, "options.vtm_loss": "false_text_rank",
                            "options.vtm_false_texts": 6})
    samples = [RetrievalSample(id=f"v{i}", video=VideoRef(Path(f"v{i}.mp4")), captions=(f"caption {i}",))
               for i in range(4)]
    kind.train_dataset(DatasetSplit(dataset="toy", split="train", samples=samples), seed=0)
    monkeypatch.setattr(kind, "load_clip", lambda *a, **k: torch.zeros(1))
    item = kind.train_item(samples[0], np.random.default_rng(0))
    assert item["false_ids"].shape == (6, kind.config.protocol.text.max_len)
    own = kind.encode_text(["caption 0"])[0][0]
    assert not any(torch.equal(row, own) for row in item["false_ids"])
    # the default loss draws none
    plain = _retrieval_kind({"options.vtm_weight": 1.0})
    plain.train_dataset(DatasetSplit(dataset="toy", split="train", samples=samples), seed=0)
    monkeypatch.setattr(plain, "load_clip", lambda *a, **k: torch.zeros(1))
    assert "false_ids" not in plain.train_item(samples[0], np.random.default_rng(0))


def test_text_pass_per_frame_averages_t_copies_with_their_own_dropout() -> None:
    kind = _retrieval_kind({"options.text_pass": "per_frame", "protocol.video.num_frames": 2})
    model = _tiny(drop_rate=0.3, contrastive=True)
    ids = torch.randint(1000, 2000, (3, 8), generator=torch.Generator().manual_seed(2))
    batch = {"text_ids": ids, "text_mask": torch.ones(3, 8, dtype=torch.long)}
    model.train()
    torch.manual_seed(5)
    got = kind._train_text_embeddings(model, batch)
    torch.manual_seed(5)
    cls = model.encode_text(ids.repeat_interleave(2, 0), batch["text_mask"].repeat_interleave(2, 0)).cls
    expected = F.normalize(model.txt_proj(cls.view(3, 2, -1).mean(1)), dim=-1)
    assert torch.allclose(got, expected)
    torch.manual_seed(5)
    assert not torch.allclose(got, model.contrastive_text(ids, batch["text_mask"]))  # dropout differs per copy
    model.eval()  # without dropout the copies are identical: one pass gives the same embedding
    with torch.no_grad():
        assert torch.allclose(kind._train_text_embeddings(model, batch),
                              model.contrastive_text(ids, batch["text_mask"]), atol=1e-6)


# ------------------------------------------------------------------ MC head, precision
def test_random_rank_head_init_redraws_only_the_match_row() -> None:
    model = _tiny()
    before = model.itm_score.fc.weight.detach().clone(), model.itm_score.fc.bias.detach().clone()
    reset_rank_head(model, seed=0)
    w, bias = model.itm_score.fc.weight.detach(), model.itm_score.fc.bias.detach()
    assert torch.equal(w[0], before[0][0]) and bias[0] == before[1][0]  # the "no match" row is untouched
    assert not torch.equal(w[1], before[0][1]) and float(bias[1]) == 0.0
    assert 0.015 < float(w[1].std()) < 0.025  # N(0, 0.02) over D = 192
    again = _tiny()
    reset_rank_head(again, seed=0)
    assert torch.equal(again.itm_score.fc.weight[1], w[1])  # seeded: the same head on every rank and rerun


@pytest.mark.parametrize(("init", "zero_shot", "redrawn"), [
    ("random", False, True), ("random", True, False), ("pretrained_vtm", False, False)])
def test_mc_prepare_model_applies_rank_head_init(init: str, zero_shot: bool, redrawn: bool) -> None:
    cfg = load_task("lsmdc_mc", synthetic=True, overrides={"options.rank_head_init": init})
    kind = get_kind("multiple_choice")(cfg, load_tokenizer())
    model = _tiny()
    row = model.itm_score.fc.weight[1].detach().clone()
    kind.prepare_model(model, zero_shot=zero_shot)
    assert (not torch.equal(model.itm_score.fc.weight[1], row)) == redrawn


def test_auto_fp16_is_the_official_amp_on_cuda_and_fp32_on_cpu() -> None:
    assert resolve_precision("auto_fp16", CPU).name == "fp32"
    cuda = resolve_precision("auto_fp16", torch.device("cuda"))  # no CUDA call needed to decide
    assert cuda.name == "fp16" and cuda.dtype == torch.float16
