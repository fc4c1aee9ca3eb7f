"""Linear probe on frozen features: standardise, then multinomial logistic regression (scikit-learn).

This is the fitting step of the ``linear_probe`` task kind (its evaluation fits, then predicts class
probabilities); the predictions are scored like any classifier's, by the ``top<k>`` metric.

The regularisation strength ``C`` is chosen on a held-out part of the *training* features (stratified
when every class has two or more samples), never on the test features; the probe is then refit on all
training features with the chosen ``C``. Among equally good ``C`` values the smallest (strongest
regularisation) wins. The chosen ``C`` and every candidate's held-out accuracy are kept on the probe, so
results can record how it was selected.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from allinone_bench.errors import BenchError, ConfigError, RunError

__all__ = ["DEFAULT_C_GRID", "LinearProbe", "fit_linear_probe"]

DEFAULT_C_GRID: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


@dataclass
class LinearProbe:
    """A fitted probe: ``pipeline`` = StandardScaler + LogisticRegression, plus how ``C`` was chosen."""

    pipeline: Any  # sklearn.pipeline.Pipeline
    C: float
    val_accuracy: dict[float, float] = field(default_factory=dict)  # C -> held-out top-1 (percent)
    n_train: int = 0
    n_val: int = 0
    converged: bool = True

    @property
    def classes(self) -> np.ndarray:
        return self.pipeline.classes_

    def predict_scores(self, feats: Any) -> np.ndarray:
        """Class probabilities (N x len(classes)); column j is class ``classes[j]``."""
        return self.pipeline.predict_proba(_features(feats, "features"))


def _features(x: Any, what: str) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise BenchError(f"linear probe: {what} must be a 2-D (N, D) array, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise BenchError(f"linear probe: no {what}")
    if not np.isfinite(arr).all():
        raise RunError(f"linear probe: {what} contain NaN or inf")
    return arr


def _labels(y: Any, n: int, what: str) -> np.ndarray:
    if hasattr(y, "detach"):
        y = y.detach().cpu().numpy()
    arr = np.asarray(y).reshape(-1)
    if arr.shape[0] != n or (arr.size and arr.dtype.kind not in "iu"):
        raise BenchError(f"linear probe: {what} must be {n} integer class labels, got shape {arr.shape} {arr.dtype}")
    return arr.astype(np.int64)


def _make_pipeline(C: float, max_iter: int, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # lbfgs fits the multinomial (softmax) model for 3+ classes in every supported scikit-learn version.
    return make_pipeline(
        StandardScaler(), LogisticRegression(C=C, solver="lbfgs", max_iter=max_iter, random_state=seed)
    )


def _fit(C: float, x: np.ndarray, y: np.ndarray, max_iter: int, seed: int) -> tuple[Any, bool]:
    from sklearn.exceptions import ConvergenceWarning

    pipe = _make_pipeline(C, max_iter, seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        pipe.fit(x, y)
    return pipe, not any(issubclass(w.category, ConvergenceWarning) for w in caught)


def _split(y: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    idx = np.arange(y.shape[0])
    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 else None
    try:
        tr, va = train_test_split(idx, test_size=val_fraction, random_state=seed, stratify=stratify)
    except ValueError:  # held-out part smaller than the number of classes: fall back to a plain split
        tr, va = train_test_split(idx, test_size=val_fraction, random_state=seed)
    return np.sort(tr), np.sort(va)


def fit_linear_probe(
    train_feats: Any,
    train_labels: Any,
    *,
    C: float | Sequence[float] = DEFAULT_C_GRID,
    val_fraction: float = 0.2,
    max_iter: int = 1000,
    seed: int = 0,
) -> LinearProbe:
    """Fit a probe on training features only.

    ``C`` is a fixed value (no selection) or a grid searched on a ``val_fraction`` held-out slice of the
    training set (seeded split); the final probe is refit on the whole training set with the best ``C``.
    """
    x = _features(train_feats, "train features")
    y = _labels(train_labels, x.shape[0], "train labels")
    if np.unique(y).size < 2:
        raise BenchError("linear probe: training labels hold fewer than 2 classes")
    grid = [float(C)] if np.isscalar(C) else [float(c) for c in C]  # type: ignore[arg-type]
    if not grid or any(not c > 0 for c in grid):
        raise ConfigError(f"linear probe: C must be > 0 (a value or a non-empty grid), got {C!r}")
    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"linear probe: val_fraction must be in (0, 1), got {val_fraction}")

    val_accuracy: dict[float, float] = {}
    n_val = 0
    best_c = grid[0]
    if len(grid) > 1:
        tr, va = _split(y, val_fraction, seed)
        if np.unique(y[tr]).size < 2:
            raise BenchError("linear probe: too few training samples to hold out a validation part for C")
        n_val = int(va.size)
        for c in sorted(grid):
            pipe, _ = _fit(c, x[tr], y[tr], max_iter, seed)
            val_accuracy[c] = 100.0 * float((pipe.predict(x[va]) == y[va]).mean())
        best = max(val_accuracy.values())
        best_c = min(c for c, acc in val_accuracy.items() if acc == best)
    pipe, converged = _fit(best_c, x, y, max_iter, seed)
    return LinearProbe(pipe, best_c, val_accuracy, n_train=int(x.shape[0]), n_val=n_val, converged=converged)
