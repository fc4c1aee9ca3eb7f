"""Synthetic content: deterministic scenes whose colour/shape show in one frame and direction only in two."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from allinone_bench.data.synthetic import (
    COLOURS,
    DIRECTIONS,
    SHAPES,
    Scene,
    caption,
    captions,
    distractor_scenes,
    oov_question,
    plan_videos,
    questions,
    render,
    sample_scenes,
    split_sizes,
    synthesize,
    write_frame_dir,
    write_gif,
    write_mp4,
)
from allinone_bench.data.types import VideoRef


def colour_mask(frames: np.ndarray, colour: str, tol: float = 40.0) -> np.ndarray:
    """(T, H, W) bool: pixels within ``tol`` (max channel difference) of the scene colour."""
    target = np.asarray(COLOURS[colour], dtype=np.float32)
    return np.abs(frames.astype(np.float32) - target).max(axis=-1) < tol


def centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()])


def test_render_is_deterministic_and_seeded() -> None:
    scene = Scene("red", "circle", "left")
    a = render(scene, num_frames=8, size=32, seed=5)
    assert a.shape == (8, 32, 32, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, render(scene, num_frames=8, size=32, seed=5))
    assert not np.array_equal(a, render(scene, num_frames=8, size=32, seed=6))


def test_scene_rejects_unknown_values() -> None:
    with pytest.raises(ValueError, match="colour"):
        Scene("purple", "circle", "left")
    with pytest.raises(ValueError, match="direction"):
        Scene("red", "circle", "sideways")


@pytest.mark.parametrize("colour", list(COLOURS))
def test_colour_and_shape_are_visible_in_every_frame(colour: str) -> None:
    for shape in SHAPES:
        frames = render(Scene(colour, shape, "up"), seed=1)
        area = colour_mask(frames, colour).sum(axis=(1, 2))
        assert (area > 30).all(), (colour, shape, area)
    # shapes differ in area at the same size: circle > triangle, square vs circle differ too
    areas = {s: colour_mask(render(Scene(colour, s, "up"), seed=1), colour)[0].sum() for s in SHAPES}
    assert len(set(areas.values())) == 3


def test_direction_needs_two_frames() -> None:
    """Same seed and start: the first frames of all four directions are identical (one frame tells
    nothing about direction), while the centroid displacement over two frames recovers it."""
    start = (0.5, 0.5)
    clips = {d: render(Scene("blue", "square", d), seed=3, start=start) for d in DIRECTIONS}
    first = clips["left"][0]
    for d in DIRECTIONS:
        np.testing.assert_array_equal(clips[d][0], first)
        assert not np.array_equal(clips[d][-1], first)
    expected = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
    for seed in range(6):
        for d, (sx, sy) in expected.items():
            frames = render(Scene("green", "triangle", d), seed=seed)
            mask = colour_mask(frames, "green")
            move = centroid(mask[-1]) - centroid(mask[0])
            main = move[0] if sx else move[1]
            other = move[1] if sx else move[0]
            assert np.sign(main) == (sx or sy) and abs(main) > 10 and abs(other) < 2, (d, seed, move)


def test_sample_scenes_balanced_and_deterministic() -> None:
    scenes = sample_scenes(24, seed=0)
    assert scenes == sample_scenes(24, seed=0)
    assert scenes != sample_scenes(24, seed=1)
    for block in (scenes[:12], scenes[12:]):
        assert Counter(s.colour for s in block) == {c: 3 for c in COLOURS}
        assert Counter(s.shape for s in block) == {s: 4 for s in SHAPES}
        assert Counter(s.direction for s in block) == {d: 3 for d in DIRECTIONS}
    assert len(set(sample_scenes(48, seed=2))) == 48
    assert len(sample_scenes(5, seed=0)) == 5 and sample_scenes(0) == []


def test_language_is_derived_from_the_scene() -> None:
    scene = Scene("yellow", "triangle", "down")
    assert caption(scene) == "a yellow triangle moves down"
    assert len(set(captions(scene))) == len(captions(scene)) >= 3
    assert all("yellow" in c and "triangle" in c and "down" in c for c in captions(scene))
    qa = {q.attribute: q.answer for q in questions(scene)}
    assert qa == {"colour": "yellow", "shape": "triangle", "direction": "down"}
    assert oov_question(scene).answer not in set(COLOURS) | set(SHAPES) | set(DIRECTIONS)


def test_distractors_are_distinct_hard_negatives() -> None:
    rng = np.random.default_rng(0)
    scene = Scene("red", "square", "right")
    for _ in range(20):
        others = distractor_scenes(scene, 4, rng)
        assert len(set(others)) == 4 and scene not in others
        first = others[0]
        assert (first.colour, first.shape) == (scene.colour, scene.shape) and first.direction != scene.direction


def test_plan_splits_disjoint_and_sized() -> None:
    assert split_sizes(24) == {"train": 12, "val": 6, "test": 6}
    assert split_sizes(24, ("train", "test")) == {"train": 16, "test": 8}
    assert split_sizes(5, ("test",)) == {"test": 5}
    with pytest.raises(ValueError):
        split_sizes(2)
    plan = plan_videos(24, seed=0)
    assert plan == plan_videos(24, seed=0)
    assert [v.index for v in plan] == list(range(24))
    assert Counter(v.split for v in plan) == {"train": 12, "val": 6, "test": 6}
    assert len({v.seed for v in plan}) == 24


@pytest.mark.parametrize("suffix", [".mp4", ".avi", ".gif", "dir"])
def test_writers_round_trip_through_the_decoder(tmp_path: Path, suffix: str) -> None:
    from allinone_bench.data.video import probe_num_frames, read_frames

    frames = render(Scene("green", "circle", "right"), num_frames=8, size=32, seed=0)
    if suffix == "dir":
        ref = VideoRef(write_frame_dir(tmp_path / "clip", frames), kind="frames")
    elif suffix == ".gif":
        ref = VideoRef(write_gif(tmp_path / "clip.gif", frames), kind="gif")
    else:
        ref = VideoRef(write_mp4(tmp_path / f"clip{suffix}", frames))
    assert probe_num_frames(ref) == 8
    decoded = read_frames(ref, list(range(8)))
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(np.float32) - frames).mean() < 12.0


def test_writer_rejects_bad_frames(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_mp4(tmp_path / "x.mp4", np.zeros((4, 32, 32), dtype=np.uint8))
    with pytest.raises(ValueError):
        write_mp4(tmp_path / "x.mp4", np.zeros((4, 31, 32, 3), dtype=np.uint8))


def test_synthesize_dispatches_to_the_adapter(tmp_path: Path) -> None:
    from allinone_bench.data.datasets import get_adapter

    folder = synthesize("msrvtt_mc", tmp_path, num_videos=5, seed=1)
    assert folder == tmp_path / "msrvtt"
    split = get_adapter("msrvtt_mc")(tmp_path).load("test")
    assert len(split.samples) == 5 and not split.problems
