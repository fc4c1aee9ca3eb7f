"""Clip transforms: shapes, crop offsets, seeded random crop, normalisation values, PIL-equivalent resize."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from allinone_bench.data.transforms import (
    NORMALIZATIONS,
    CenterCrop,
    Normalize,
    RandomCrop,
    Resize,
    ResizeShortSide,
    ToTensorClip,
    build_clip_transform,
)
from allinone_bench.errors import ConfigError


def frames(t: int, h: int, w: int, value: int | None = None) -> np.ndarray:
    if value is not None:
        return np.full((t, h, w, 3), value, np.uint8)
    return np.random.default_rng(0).integers(0, 256, (t, h, w, 3), dtype=np.uint8)


def test_to_tensor_layout() -> None:
    x = frames(2, 5, 7)
    y = ToTensorClip()(x)
    assert y.shape == (2, 3, 5, 7) and y.dtype == torch.uint8
    assert torch.equal(y[1, 2], torch.from_numpy(x[1, :, :, 2]))
    with pytest.raises(ValueError, match="T, H, W, 3"):
        ToTensorClip()(np.zeros((2, 5, 7), np.uint8))


@pytest.mark.parametrize(
    "hw,size,expected",
    [
        ((512, 512), 268, (268, 268)),
        ((240, 320), 268, (268, 357)),
        ((320, 240), 40, (53, 40)),
        ((40, 53), 40, (40, 53)),
    ],
)
def test_resize_short_side_keeps_aspect(hw: tuple[int, int], size: int, expected: tuple[int, int]) -> None:
    clip = ToTensorClip()(frames(2, *hw))
    assert tuple(ResizeShortSide(size)(clip).shape) == (2, 3, *expected)


def test_resize_matches_pil_bilinear() -> None:
    # The official transform resizes PIL images with BILINEAR; the tensor path must agree within 1 level.
    img = np.asarray(Image.fromarray(frames(1, 60, 80)[0]).resize((80, 60), Image.Resampling.BICUBIC))
    pil = np.asarray(Image.fromarray(img).resize((53, 40), Image.Resampling.BILINEAR)).astype(int)
    ours = ResizeShortSide(40)(ToTensorClip()(img[None]))[0].permute(1, 2, 0).numpy().astype(int)
    assert np.abs(pil - ours).max() <= 1


def test_squash_resize() -> None:
    clip = ToTensorClip()(frames(1, 30, 50))
    assert tuple(Resize((64, 64))(clip).shape) == (1, 3, 64, 64)


def test_center_crop_offset() -> None:
    # 268 -> 224 is cropped at offset 22 on both axes, as the official CenterCrop.
    clip = torch.arange(268 * 268).view(1, 1, 268, 268)
    out = CenterCrop(224)(clip)
    assert out.shape == (1, 1, 224, 224)
    assert torch.equal(out, clip[..., 22:246, 22:246])
    with pytest.raises(ValueError, match="cannot crop"):
        CenterCrop(300)(clip)


def test_random_crop_is_seeded_and_shared_by_frames() -> None:
    clip = torch.arange(3 * 40 * 50).view(3, 1, 40, 50)
    a = RandomCrop(32)(clip, np.random.default_rng(5))
    b = RandomCrop(32)(clip, np.random.default_rng(5))
    assert a.shape == (3, 1, 32, 32) and torch.equal(a, b)
    # same window in every frame: offsets between frames are the frame stride
    assert torch.equal(a[1] - a[0], torch.full_like(a[0], 40 * 50))
    crops = {RandomCrop(32)(clip, np.random.default_rng(s))[0, 0, 0, 0].item() for s in range(20)}
    assert len(crops) > 1
    with pytest.raises(ValueError, match="Generator"):
        RandomCrop(32)(clip)


@pytest.mark.parametrize("name", sorted(NORMALIZATIONS))
def test_eval_pipeline_values(name: str) -> None:
    transform = build_clip_transform(resize=40, crop=32, normalize=name)
    out = transform(frames(3, 48, 64, value=128))
    assert out.shape == (3, 3, 32, 32) and out.dtype == torch.float32
    mean, std = NORMALIZATIONS[name]
    for c in range(3):
        assert torch.allclose(out[:, c], torch.tensor((128 / 255 - mean[c]) / std[c]), atol=1e-5)


def test_named_normalisations() -> None:
    assert NORMALIZATIONS["imagenet"] == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert NORMALIZATIONS["kinetics"] == ((0.45, 0.45, 0.45), (0.225, 0.225, 0.225))
    with pytest.raises(ConfigError, match="normalisation"):
        Normalize.named("inception")


def test_train_pipeline_random_crop() -> None:
    x = frames(3, 40, 60)
    train = build_clip_transform(resize=40, crop=32, train=True)
    a = train(x, np.random.default_rng(0))
    b = train(x, np.random.default_rng(0))
    assert a.shape == (3, 3, 32, 32) and torch.equal(a, b)
    evaluation = build_clip_transform(resize=40, crop=32)
    assert torch.equal(evaluation(x), evaluation(x))  # deterministic without an rng
