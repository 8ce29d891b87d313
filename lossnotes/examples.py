"""Inputs that chapters, tests and benchmarks draw alike (NumPy only)."""

from __future__ import annotations

import numpy as np

__all__ = ["padded_multilabel_targets"]


def padded_multilabel_targets(
    rng: np.random.Generator,
    samples: int,
    classes: int,
    repeats: bool = False,
    listed: np.ndarray | None = None,
) -> np.ndarray:
    """Targets of ``multilabel_margin_loss``: class indices, -1, then junk.

    Row ``n`` lists ``listed[n]`` classes (by default a count drawn from 0
    to ``classes``), distinct unless ``repeats``; a -1 ends a list shorter
    than the row, and the positions after it hold junk in [-1, C - 1], which
    the loss must ignore.

    Returns
    -------
    ndarray of int64, shape (samples, classes)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> padded_multilabel_targets(rng, 2, 4, listed=np.array([2, 4])).shape
    (2, 4)
    """
    if listed is None:
        listed = rng.integers(0, classes + 1, size=samples)
    listed = np.asarray(listed).reshape(samples, 1)
    if repeats:
        drawn = rng.integers(0, classes, size=(samples, classes))
    else:
        drawn = np.argsort(rng.random((samples, classes)), axis=1)
    junk = rng.integers(-1, classes, size=(samples, classes))
    position = np.arange(classes)
    after = np.where(position == listed, -1, junk)
    return np.where(position < listed, drawn, after)
