"""All-in-One model: variants, parameter names, passes, masks, heads, attention kernels."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from allinone_bench.errors import ConfigError
from allinone_bench.model import (
    AllInOneConfig,
    JointOutput,
    UnimodalOutput,
    build_model,
    list_variants,
    load_pretrained,
    register_variant,
    save_pretrained,
    variant_config,
)

from _model_official import official_keys
from _model_utils import tiny_inputs, tiny_model


# ---------------------------------------------------------------- variants
@pytest.mark.parametrize(
    ("variant", "width", "heads", "distilled", "params_m"),
    [("ti", 192, 3, False, (11.0, 12.5)), ("s", 384, 6, True, (32.5, 34.0)), ("b", 768, 12, False, (109.0, 111.0))],
)
def test_full_size_variants_build(variant: str, width: int, heads: int, distilled: bool,
                                  params_m: tuple[float, float]) -> None:
    with torch.device("meta"):  # shapes and names only: no 110M-parameter init on a shared CPU
        model = build_model(variant)
    cfg = model.config
    assert (cfg.hidden_size, cfg.num_heads, cfg.depth, cfg.distilled) == (width, heads, 12, distilled)
    assert model.transformer.pos_embed.shape == (1, 198 if distilled else 197, width)
    assert model.transformer.blocks[0].norm1.eps == 1e-6 and model.transformer.norm.eps == 1e-6
    assert model.text_embeddings.LayerNorm.eps == 1e-12
    assert model.transformer.blocks[0].attn.qkv.bias is not None
    # the paper's 12M / 33M / 110M: text + modality embeddings, ViT, pooler (no MLM/VTM heads)
    assert params_m[0] < model.num_parameters("backbone") / 1e6 < params_m[1]
    # every official key has a home; ours adds only the zero temporal_embed (absent from the releases)
    expected = set(official_keys(variant)) - {"text_embeddings.position_ids"} | {"transformer.temporal_embed"}
    assert set(model.state_dict()) == expected


def test_registry_and_aliases() -> None:
    assert {"ti", "s", "b"} <= set(list_variants())
    assert variant_config("base").hidden_size == 768 and variant_config("tiny").num_heads == 3
    assert variant_config("all-in-one-baseplus").variant == "b"
    with pytest.raises(ConfigError, match="unknown model variant"):
        build_model("xl")

    @register_variant("_test_micro")
    def _micro() -> AllInOneConfig:
        return AllInOneConfig(variant="_test_micro", hidden_size=32, num_heads=2, depth=1, image_size=32,
                              vocab_size=50, max_text_len=6)

    assert build_model("_test_micro").config.hidden_size == 32
    with pytest.raises(ValueError):
        register_variant("_test_micro")(_micro)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"image_size": 70}, "multiple of patch_size"), ({"rolling": "shift"}, "rolling"),
     ({"patch_permutation": "random"}, "patch_permutation"), ({"depth": 0}, "depth"),
     ({"frames": 3}, "not understood"), ({"qa_labels": 0}, "qa_labels"), ({"drop_rate": 1.5}, "drop_rate")],
)
def test_bad_config_is_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_model("ti", **{"depth": 1, **overrides})


def test_config_dict_roundtrip() -> None:
    cfg = variant_config("s", depth=2, qa_labels=11, rolling="flatten")
    assert AllInOneConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.video_tokens_per_frame == 198 and cfg.joint_sequence_length(40) == 40 + 3 * 198
    with pytest.raises(ConfigError, match="unknown field"):
        AllInOneConfig.from_dict({**cfg.to_dict(), "bogus": 1})


# ---------------------------------------------------------------- passes
@pytest.mark.parametrize("variant", ["ti", "s", "b"])
def test_tiny_forward_shapes(variant: str) -> None:
    model = tiny_model(variant, depth=1)
    d = model.config.hidden_size
    lv = 18 if variant == "s" else 17
    video, ids, mask = tiny_inputs()
    with torch.no_grad():
        out = model(video, ids, mask)
        text = model.encode_text(ids, mask)
        vid = model.encode_video(video)
    assert isinstance(out, JointOutput) and isinstance(text, UnimodalOutput)
    assert out.cls_feats.shape == (2, d) and out.text_feats.shape == (2, 8, d)
    assert out.video_feats.shape == (2, lv, d) and out.raw_cls_feats.shape == (2, d)
    assert text.feats.shape == (2, 8, d) and vid.feats.shape == (2, lv, d)
    torch.testing.assert_close(out.cls_feats, torch.tanh(model.pooler.dense(out.text_feats[:, 0])))
    assert torch.isfinite(out.cls_feats).all()


def test_full_size_ti_one_frame() -> None:
    model = build_model("ti", num_frames=1).eval()
    video = torch.randn(1, 1, 3, 224, 224)
    ids = torch.randint(1, 30522, (1, 40))
    with torch.no_grad():
        out = model(video, ids, torch.ones_like(ids))
    assert out.video_feats.shape == (1, 197, 192) and out.text_feats.shape == (1, 40, 192)
    assert model.frame_sequence_length() == 40 + 197


def test_text_copied_per_frame_and_mean_over_frames() -> None:
    """Identical frames: every per-frame sequence is the same, so T frames == 1 frame (roll included)."""
    model = tiny_model()
    video, ids, mask = tiny_inputs(t=1)
    with torch.no_grad():
        one = model(video, ids, mask)
        three = model(video.expand(-1, 3, -1, -1, -1), ids, mask)
    torch.testing.assert_close(one.cls_feats, three.cls_feats, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(one.video_feats, three.video_feats, rtol=1e-5, atol=1e-5)


def test_padded_text_positions_are_ignored() -> None:
    model = tiny_model()
    video, ids, mask = tiny_inputs()
    changed = ids.clone()
    changed[1, 5:] = 7  # only padded positions of sample 1
    with torch.no_grad():
        a, b = model(video, ids, mask), model(video, changed, mask)
        ta, tb = model.encode_text(ids, mask), model.encode_text(changed, mask)
    torch.testing.assert_close(a.cls_feats, b.cls_feats)
    torch.testing.assert_close(a.video_feats, b.video_feats)
    torch.testing.assert_close(ta.feats[:, :5], tb.feats[:, :5])


def test_modality_embedding_and_text_embeddings_are_used() -> None:
    model = tiny_model()
    video, ids, mask = tiny_inputs()
    with torch.no_grad():
        before = model.encode_video(video).feats
        model.token_type_embeddings.weight[1].add_(0.5)
        after = model.encode_video(video).feats
        text_before = model.encode_text(ids, mask).feats
        model.token_type_embeddings.weight[0].add_(0.5)
        text_after = model.encode_text(ids, mask).feats
    assert not torch.allclose(before, after)
    assert not torch.allclose(text_before, text_after)


def test_text_embeddings_match_transformers_bert_embeddings() -> None:
    """Same parameter names and arithmetic as transformers' BertEmbeddings (what the official code uses)."""
    from transformers import BertConfig
    from transformers.models.bert.modeling_bert import BertEmbeddings

    model = tiny_model()
    ours = model.text_embeddings
    bert = BertEmbeddings(BertConfig(vocab_size=300, hidden_size=192, max_position_embeddings=12,
                                     type_vocab_size=2, layer_norm_eps=1e-12, hidden_dropout_prob=0.0)).eval()
    missing, unexpected = bert.load_state_dict(ours.state_dict(), strict=False)
    assert not unexpected and set(missing) <= {"position_ids", "token_type_ids"}
    ids = tiny_inputs()[1]
    with torch.no_grad():
        torch.testing.assert_close(ours(ids), bert(input_ids=ids))


def test_temporal_embed_added_except_for_distilled() -> None:
    video = tiny_inputs()[0]
    for variant, should_change in (("ti", True), ("s", False)):
        model = tiny_model(variant)
        with torch.no_grad():
            before = model.encode_video(video).feats
            model.transformer.temporal_embed.normal_()
            after = model.encode_video(video).feats
        assert (not torch.allclose(before, after)) == should_change, variant
        assert model.transformer.temporal_embed.requires_grad == should_change  # unused -> frozen (DDP)


def test_frames_must_match_image_size_and_frame_count() -> None:
    model = tiny_model()
    _, ids, mask = tiny_inputs()
    with pytest.raises(ConfigError, match="image_size"):
        model(torch.randn(2, 3, 3, 32, 32), ids, mask)
    with pytest.raises(ConfigError, match="num_frames"):
        model(torch.randn(2, 4, 3, 64, 64), ids, mask)
    with pytest.raises(ConfigError, match="max_text_len"):
        model.encode_text(torch.ones(1, 13, dtype=torch.long))


# ---------------------------------------------------------------- attention kernels and masks
@pytest.mark.parametrize("rolling", ["roll", "flatten"])
def test_sdpa_equals_explicit_attention(rolling: str) -> None:
    model = tiny_model(rolling=rolling)
    video, ids, mask = tiny_inputs()
    with torch.no_grad():
        fused = (model(video, ids, mask), model(video, ids, mask, causal_text=True),
                 model.encode_text(ids, mask), model.encode_video(video))
        model.set_fused_attn(False)
        assert not model.transformer.blocks[0].attn.fused and not model.config.fused_attn
        explicit = (model(video, ids, mask), model(video, ids, mask, causal_text=True),
                    model.encode_text(ids, mask), model.encode_video(video))
    for a, b in zip(fused[:2], explicit[:2]):
        torch.testing.assert_close(a.cls_feats, b.cls_feats, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(a.video_feats, b.video_feats, rtol=1e-5, atol=1e-5)
    for a, b in zip(fused[2:], explicit[2:]):
        torch.testing.assert_close(a.feats, b.feats, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rolling", ["roll", "none", "flatten"])
def test_causal_text_never_sees_later_text(rolling: str) -> None:
    model = tiny_model(rolling=rolling)
    video, ids, mask = tiny_inputs()
    later = ids.clone()
    later[:, 4] = (later[:, 4] + 17) % 300  # change token 4 of both samples
    with torch.no_grad():
        a = model(video, ids, mask, causal_text=True)
        b = model(video, later, mask, causal_text=True)
        full_a, full_b = model(video, ids, mask), model(video, later, mask)
    torch.testing.assert_close(a.text_feats[:, :4], b.text_feats[:, :4], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(a.video_feats, b.video_feats, rtol=1e-5, atol=1e-5)  # video never reads text
    assert not torch.allclose(a.text_feats[:, 4:], b.text_feats[:, 4:], atol=1e-4)
    # without the causal mask the change does reach earlier text (through attention, and the roll)
    assert not torch.allclose(full_a.text_feats[:, :4], full_b.text_feats[:, :4], atol=1e-4)


def test_causal_text_attends_to_video() -> None:
    model = tiny_model()
    video, ids, mask = tiny_inputs()
    with torch.no_grad():
        a = model(video, ids, mask, causal_text=True)
        b = model(video.flip(0), ids, mask, causal_text=True)
    assert not torch.allclose(a.text_feats[:, 0], b.text_feats[:, 0], atol=1e-4)


# ---------------------------------------------------------------- heads
def test_heads_and_official_names() -> None:
    model = tiny_model(qa_labels=11, mc_head=True, contrastive=True)
    video, ids, mask = tiny_inputs()
    with torch.no_grad():
        out = model(video, ids, mask)
        vtm = model.vtm_logits(out.cls_feats)
        assert vtm.shape == (2, 2)
        torch.testing.assert_close(model.rank_score(out.cls_feats), vtm[:, 1])
        assert model.qa_logits(out.cls_feats).shape == (2, 11)
        assert model.mc_logit(out.cls_feats).shape == (2,)
        assert model.mlm_logits(out.text_feats).shape == (2, 8, 300)
        t_emb, v_emb = model.contrastive_text(ids, mask), model.contrastive_video(video)
    assert t_emb.shape == v_emb.shape == (2, 512)
    torch.testing.assert_close(t_emb.norm(dim=-1), torch.ones(2))
    torch.testing.assert_close(v_emb.norm(dim=-1), torch.ones(2))
    keys = set(model.state_dict())
    assert {"vqa_classifier.1.weight", "vqa_classifier.2.weight", "vqa_classifier.4.weight",
            "mc_vqa_classifier.1.weight", "mc_vqa_classifier.2.weight", "mc_vqa_classifier.4.weight",
            "txt_proj.weight", "vid_proj.weight", "mlm_score.decoder.weight", "mlm_score.bias"} <= keys
    assert "mlm_score.decoder.bias" not in keys and "rank_output.weight" not in keys
    assert model.vqa_classifier[1].out_features == 96 and model.vqa_classifier[2].eps == 1e-5
    assert isinstance(model.vqa_classifier[0], nn.Dropout) and model.vqa_classifier[0].p == 0.5
    assert model.mc_vqa_classifier[1].out_features == 256 and model.mc_vqa_classifier[0].p == 0.1


def test_rank_score_follows_itm_row_one() -> None:
    model = tiny_model()
    cls = torch.randn(3, 192)
    with torch.no_grad():
        model.itm_score.fc.weight[1].mul_(-2.0)
        model.itm_score.fc.bias[1] += 1.0
        torch.testing.assert_close(model.rank_score(cls), model.vtm_logits(cls)[:, 1])


def test_missing_heads_raise_config_error() -> None:
    model = tiny_model()
    cls = torch.randn(1, 192)
    with pytest.raises(ConfigError, match="qa_labels"):
        model.qa_logits(cls)
    with pytest.raises(ConfigError, match="mc_head"):
        model.mc_logit(cls)
    with pytest.raises(ConfigError, match="contrastive"):
        model.contrastive_text(torch.ones(1, 4, dtype=torch.long))


def test_grad_checkpointing_matches_and_trains() -> None:
    model = tiny_model(qa_labels=5).train()
    model.config.drop_rate = 0.0
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    video, ids, mask = tiny_inputs()
    torch.manual_seed(0)
    loss = model.qa_logits(model(video, ids, mask).cls_feats).logsumexp(-1).sum()
    loss.backward()
    grad = model.transformer.blocks[0].attn.qkv.weight.grad.clone()
    model.zero_grad()
    model.set_grad_checkpointing(True)
    torch.manual_seed(0)
    model.qa_logits(model(video, ids, mask).cls_feats).logsumexp(-1).sum().backward()
    torch.testing.assert_close(model.transformer.blocks[0].attn.qkv.weight.grad, grad, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- persistence
def test_save_and_load_pretrained(tmp_path: torch.Tensor) -> None:
    model = tiny_model("s", qa_labels=7, rolling="none")
    video, ids, mask = tiny_inputs()
    save_pretrained(model, tmp_path / "m")
    assert (tmp_path / "m" / "model.safetensors").is_file() and (tmp_path / "m" / "config.json").is_file()
    again = load_pretrained(tmp_path / "m").eval()
    assert again.config == model.config
    with torch.no_grad():
        torch.testing.assert_close(model(video, ids, mask).cls_feats, again(video, ids, mask).cls_feats)
    rolled = load_pretrained(tmp_path / "m", rolling="roll")
    assert rolled.config.rolling == "roll"
