"""Frame-index sampling: official uniform values, seeded random sampling, short videos, time windows."""

from __future__ import annotations

import numpy as np
import pytest

from allinone_bench.data.sampling import SAMPLERS, sample_indices, segment_bounds, window_to_frames
from allinone_bench.errors import ConfigError, DataError


def official_uniform(vlen: int, T: int) -> list[int]:
    """The reference formula (segment [e_k, e_{k+1} - 1], midpoint (start + end) // 2), for vlen >= T."""
    edges = np.linspace(0, vlen, T + 1).astype(int)
    return [int((edges[k] + edges[k + 1] - 1) // 2) for k in range(T)]


def test_uniform_reference_example() -> None:
    assert sample_indices(300, 3, "uniform").tolist() == [49, 149, 249]


@pytest.mark.parametrize("vlen,T", [(300, 3), (20, 3), (7, 7), (101, 8), (16, 3), (1000, 16), (3, 1), (59, 4)])
def test_uniform_matches_official_formula(vlen: int, T: int) -> None:
    got = sample_indices(vlen, T, "uniform")
    assert got.dtype == np.int64
    assert got.tolist() == official_uniform(vlen, T)


def test_rand_is_reproducible_for_a_seed_and_varies_across_seeds() -> None:
    a = sample_indices(300, 8, "rand", np.random.default_rng(123))
    b = sample_indices(300, 8, "rand", np.random.default_rng(123))
    assert a.tolist() == b.tolist()
    draws = {tuple(sample_indices(300, 8, "rand", np.random.default_rng(s)).tolist()) for s in range(10)}
    assert len(draws) > 1


def test_rand_stays_in_segments_and_can_pick_each_segments_last_frame() -> None:
    rng = np.random.default_rng(0)
    starts, ends = segment_bounds(12, 3)  # segments [0,4) [4,8) [8,12)
    seen: set[int] = set()
    for _ in range(200):
        idx = sample_indices(12, 3, "rand", rng)
        assert np.all(idx >= starts) and np.all(idx < ends)
        seen.update(idx.tolist())
    # The official code drew from range(start, end - 1) and never returned 3, 7 or 11.
    assert {3, 7, 11} <= seen
    assert seen == set(range(12))


def test_rand_with_one_frame_segments_does_not_crash() -> None:
    # vlen == T: every segment holds one frame (the official code crashed on random.choice(range(s, s))).
    assert sample_indices(5, 5, "rand", np.random.default_rng(0)).tolist() == [0, 1, 2, 3, 4]


def test_rand_requires_a_generator() -> None:
    with pytest.raises(ValueError, match="Generator"):
        sample_indices(100, 3, "rand")


@pytest.mark.parametrize("mode", sorted(SAMPLERS))
@pytest.mark.parametrize("vlen,T", [(1, 3), (2, 5), (4, 8)])
def test_short_videos_return_exactly_T_indices(mode: str, vlen: int, T: int) -> None:
    idx = sample_indices(vlen, T, mode, np.random.default_rng(0))
    assert len(idx) == T
    assert idx.min() >= 0 and idx.max() < vlen
    assert np.all(np.diff(idx) >= 0)
    if mode == "uniform":
        assert set(idx.tolist()) == set(range(vlen))  # every frame used, in order, with repeats


def test_window_converts_seconds_with_fps() -> None:
    # 2.0 s - 4.0 s at 10 fps covers frames [20, 40); uniform midpoints of 3 segments of that range.
    assert window_to_frames(100, (2.0, 4.0), 10.0) == (20, 40)
    idx = sample_indices(100, 3, "uniform", window=(2.0, 4.0), fps=10.0)
    assert idx.tolist() == [20 + i for i in official_uniform(20, 3)]
    rng = np.random.default_rng(0)
    for _ in range(50):
        r = sample_indices(100, 4, "rand", rng, window=(2.0, 4.0), fps=10.0)
        assert r.min() >= 20 and r.max() < 40


def test_window_open_ends_and_clipping() -> None:
    assert window_to_frames(100, (None, 1.0), 25.0) == (0, 25)
    assert window_to_frames(100, (3.0, None), 25.0) == (75, 100)
    # A window past the end collapses onto the last frame instead of failing.
    assert sample_indices(50, 3, "uniform", window=(10.0, 12.0), fps=10.0).tolist() == [49, 49, 49]
    # A window of (None, None) is the whole clip and needs no fps.
    assert sample_indices(300, 3, "uniform", window=(None, None)).tolist() == [49, 149, 249]


def test_window_needs_fps() -> None:
    with pytest.raises(ValueError, match="fps"):
        sample_indices(100, 3, "uniform", window=(1.0, 2.0), fps=None)


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="unknown frame sampling"):
        sample_indices(100, 3, "middle")
    with pytest.raises(ConfigError):
        sample_indices(100, 0, "uniform")
    with pytest.raises(DataError):
        sample_indices(0, 3, "uniform")
