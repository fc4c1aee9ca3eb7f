"""Linear probe fitting: learns separable features and picks C on held-out *train* data only; its class
probabilities are scored by the one top-k metric."""

from __future__ import annotations

import numpy as np
import pytest

from allinone_bench.errors import BenchError, ConfigError
from allinone_bench.metrics import TopKMetric, fit_linear_probe


def _blobs(n_per_class: int, n_classes: int = 4, dim: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(123).normal(scale=4.0, size=(n_classes, dim))  # same classes for every seed
    y = np.repeat(np.arange(n_classes), n_per_class)
    x = centres[y] + rng.normal(size=(y.size, dim))
    return x, y


def test_probe_beats_chance_and_records_c() -> None:
    x_tr, y_tr = _blobs(20, seed=0)
    x_te, y_te = _blobs(10, seed=1)
    grid = (0.01, 1.0, 100.0)
    probe = fit_linear_probe(x_tr, y_tr, C=grid, seed=0)
    assert probe.C in grid and set(probe.val_accuracy) == set(grid)
    assert probe.n_train == 80 and probe.n_val == 16  # 20 % of train held out for choosing C
    probs = probe.predict_scores(x_te)
    assert probe.classes.tolist() == [0, 1, 2, 3]  # column j is class j here
    res = TopKMetric(keys=["top1", "top5"]).compute(
        {"id": i, "scores": p, "label": int(y)} for i, (p, y) in enumerate(zip(probs, y_te, strict=True)))
    assert res["top1"] > 90.0  # chance is 25 %
    assert res["top5"] == 100.0 and res["n"] == 40


def test_fixed_c_skips_selection() -> None:
    x, y = _blobs(10)
    probe = fit_linear_probe(x, y, C=0.5)
    assert probe.C == 0.5 and probe.val_accuracy == {} and probe.n_val == 0


def test_c_selection_is_deterministic_and_ties_pick_smallest() -> None:
    x, y = _blobs(15)
    a = fit_linear_probe(x, y, C=(0.1, 1.0, 10.0), seed=3)
    b = fit_linear_probe(x, y, C=(10.0, 1.0, 0.1), seed=3)
    assert a.C == b.C and a.val_accuracy == b.val_accuracy
    best = max(a.val_accuracy.values())
    assert a.C == min(c for c, acc in a.val_accuracy.items() if acc == best)


def test_probe_input_errors() -> None:
    x, y = _blobs(5)
    with pytest.raises(BenchError, match="2 classes"):
        fit_linear_probe(x, np.zeros_like(y))
    with pytest.raises(BenchError, match="NaN"):
        fit_linear_probe(np.full_like(x, np.nan), y)
    with pytest.raises(ConfigError, match="C must be > 0"):
        fit_linear_probe(x, y, C=(0.0, 1.0))
