"""Temporal token rolling: which token comes from which frame, and where rolling happens (joint pass only)."""

from __future__ import annotations

import pytest
import torch

from allinone_bench.model import variant_config
from allinone_bench.model.rolling import roll_source_frames, temporal_roll

from _model_utils import tiny_inputs as _inputs, tiny_model



def _frame_coded(b: int, t: int, lv: int) -> torch.Tensor:
    """(B*T, Lv, 2) tokens whose features are (frame index, position index)."""
    frame = torch.arange(t).view(1, t, 1).expand(b, t, lv)
    pos = torch.arange(lv).view(1, 1, lv).expand(b, t, lv)
    return torch.stack([frame, pos], dim=-1).float().reshape(b * t, lv, 2)


@pytest.mark.parametrize(("t", "lv"), [(3, 17), (4, 197), (2, 198), (5, 10)])
def test_roll_moves_the_documented_tokens(t: int, lv: int) -> None:
    fold = lv // 8
    out = temporal_roll(_frame_coded(2, t, lv), t, fold).view(2, t, lv, 2)
    for frame in range(t):
        src = out[0, frame, :, 0].long()
        assert torch.equal(out[:, frame, :, 1], torch.arange(lv).float().expand(2, lv))  # positions stay put
        assert src[0] == frame  # vision cls fixed
        assert torch.all(src[1 : 1 + fold] == (frame - 1) % t)  # from the previous frame, circular
        assert torch.all(src[lv - fold :] == (frame + 1) % t)  # from the next frame, circular
        assert torch.all(src[1 + fold : lv - fold] == frame)  # middle untouched
    assert torch.equal(out[..., 0].long()[0], roll_source_frames(t, lv, fold))


def test_roll_is_circular_for_first_and_last_frame() -> None:
    out = temporal_roll(_frame_coded(1, 3, 16), 3, 2).view(3, 16, 2)
    assert out[0, 1, 0] == 2 and out[2, 15, 0] == 0  # frame 0 takes frame T-1's, frame T-1 takes frame 0's


def test_roll_noop_cases() -> None:
    x = torch.randn(6, 5, 4)
    assert torch.equal(temporal_roll(x, 3, 0), x)  # fold 0 (fewer than 8 tokens per frame)
    y = torch.randn(2, 17, 4)
    assert torch.equal(temporal_roll(y, 1, 2), y)  # a single frame has no neighbour
    with pytest.raises(ValueError):
        temporal_roll(torch.randn(5, 17, 4), 3, 2)


def test_fold_for_official_sizes() -> None:
    ti, s = variant_config("ti"), variant_config("s")
    assert (ti.video_tokens_per_frame, ti.roll_fold) == (197, 24)  # 197 // 8
    assert (s.video_tokens_per_frame, s.roll_fold) == (198, 24)  # 198 // 8


def _model(**kw: object) -> torch.nn.Module:
    return tiny_model("ti", **kw)


def _reference_joint(model: torch.nn.Module, video: torch.Tensor, ids: torch.Tensor,
                     mask: torch.Tensor) -> torch.Tensor:
    """Independent transcription of the official ``AllinoneTransformerSS.infer`` (roll with torch.roll before
    EVERY block)."""
    b, t = video.shape[:2]
    tte = model.token_type_embeddings.weight
    text = (model.text_embeddings(ids) + tte[0]).repeat_interleave(t, 0)
    vid = model.transformer.embed_video(video) + tte[1]
    lt, lv = text.shape[1], vid.shape[1]
    fold = lv // 8
    x = torch.cat([text, vid], 1)
    key_valid = torch.cat([mask.repeat_interleave(t, 0).bool(), torch.ones(b * t, lv, dtype=torch.bool)], 1)
    for blk in model.transformer.blocks:
        v = x[:, lt:].reshape(b, t, lv, -1).clone()
        rolled = v.clone()
        rolled[:, :, 1 : fold + 1] = torch.roll(v[:, :, 1 : fold + 1], 1, 1)
        rolled[:, :, lv - fold :] = torch.roll(v[:, :, lv - fold :], -1, 1)
        x = torch.cat([x[:, :lt], rolled.reshape(b * t, lv, -1)], 1)
        x = blk(x, key_valid[:, None, None, :])
    x = model.transformer.norm(x).view(b, t, lt + lv, -1).mean(1)
    return model.pooler(x)


def test_joint_pass_matches_independent_transcription() -> None:
    model = _model()
    video, ids, mask = _inputs()
    with torch.no_grad():
        ours = model(video, ids, mask).cls_feats
        ref = _reference_joint(model, video, ids, mask)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


def test_rolling_modes_differ_as_they_should() -> None:
    model = _model()
    video, ids, mask = _inputs()
    outs = {}
    with torch.no_grad():
        for mode in ("roll", "none", "flatten"):
            model.set_rolling(mode)
            outs[mode] = model(video, ids, mask)
    assert not torch.allclose(outs["roll"].cls_feats, outs["none"].cls_feats, atol=1e-4)
    assert not torch.allclose(outs["flatten"].cls_feats, outs["none"].cls_feats, atol=1e-4)
    assert not torch.allclose(outs["flatten"].cls_feats, outs["roll"].cls_feats, atol=1e-4)
    for out in outs.values():  # every mode reports the same shapes
        assert out.cls_feats.shape == (2, 192) and out.text_feats.shape == (2, 8, 192)
        assert out.video_feats.shape == (2, 17, 192)
    # "none" = frames independent: equals the mean of single-frame passes
    with torch.no_grad():
        model.set_rolling("none")
        singles = [model(video[:, i : i + 1], ids, mask).text_feats for i in range(3)]
    torch.testing.assert_close(outs["none"].text_feats, torch.stack(singles).mean(0), rtol=1e-5, atol=1e-5)


def test_all_modes_agree_on_one_frame() -> None:
    model = _model(num_frames=1)
    video, ids, mask = _inputs(t=1)
    with torch.no_grad():
        results = []
        for mode in ("roll", "none", "flatten"):
            model.set_rolling(mode)
            results.append(model(video, ids, mask).cls_feats)
    torch.testing.assert_close(results[0], results[1])
    torch.testing.assert_close(results[0], results[2], rtol=1e-5, atol=1e-5)


def test_flatten_is_one_joint_sequence() -> None:
    model = _model(rolling="flatten")
    assert model.frame_sequence_length(8) == 8 + 3 * 17
    assert _model().frame_sequence_length(8) == 8 + 17
    video, ids, mask = _inputs()
    with torch.no_grad():
        out = model(video, ids, mask)
        # text attends across frames: permuting the frames of the clip leaves text/cls unchanged
        # (no roll, and temporal_embed is zero), which per-frame rolling would not
        shuffled = model(video[:, [2, 0, 1]], ids, mask)
    torch.testing.assert_close(out.cls_feats, shuffled.cls_feats, rtol=1e-5, atol=1e-5)


def test_unimodal_passes_never_roll() -> None:
    model = _model()
    video, ids, mask = _inputs()
    with torch.no_grad():
        feats = {}
        for mode in ("roll", "none", "flatten"):
            model.set_rolling(mode)
            feats[mode] = (model.encode_video(video).feats, model.encode_text(ids, mask).feats)
        model.reset_permutation(seed=3, mode="seeded")
        seeded_video = model.encode_video(video).feats
    for mode in ("none", "flatten"):
        assert torch.equal(feats[mode][0], feats["roll"][0])
        assert torch.equal(feats[mode][1], feats["roll"][1])
    assert torch.equal(seeded_video, feats["roll"][0])
    # video-only: every frame alone, mean over frames
    with torch.no_grad():
        singles = torch.stack([model.encode_video(video[:, i : i + 1]).feats for i in range(3)]).mean(0)
    torch.testing.assert_close(feats["roll"][0], singles, rtol=1e-5, atol=1e-5)


def test_patch_permutation_off_is_deterministic_and_seeded_reproducible() -> None:
    video, ids, mask = _inputs()
    off = _model()
    with torch.no_grad():
        a, b = off(video, ids, mask).cls_feats, off(video, ids, mask).cls_feats
    assert torch.equal(a, b)

    s1, s2 = _model(patch_permutation="seeded", permutation_seed=7), _model(patch_permutation="seeded",
                                                                           permutation_seed=7)
    with torch.no_grad():
        first = [s1(video, ids, mask).cls_feats for _ in range(2)]
        second = [s2(video, ids, mask).cls_feats for _ in range(2)]
        s1.reset_permutation()
        replay = s1(video, ids, mask).cls_feats
        other_seed = _model(patch_permutation="seeded", permutation_seed=8)(video, ids, mask).cls_feats
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])  # same seed, same stream
    assert torch.equal(replay, first[0])  # reset restarts the stream
    assert not torch.allclose(first[0], first[1])  # a fresh permutation per forward, as officially
    assert not torch.allclose(first[0], a)  # differs from off: the roll moves other patches
    assert not torch.allclose(first[0], other_seed)


def test_permutation_only_matters_through_the_roll() -> None:
    """Each token keeps its own position embedding, so without rolling the permutation changes nothing."""
    video, ids, mask = _inputs()
    off = _model(rolling="none")
    seeded = _model(rolling="none", patch_permutation="seeded", permutation_seed=5)
    with torch.no_grad():
        a, b = off(video, ids, mask), seeded(video, ids, mask)
    torch.testing.assert_close(a.cls_feats, b.cls_feats, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(a.video_feats, b.video_feats, rtol=1e-5, atol=1e-5)  # raster order restored
