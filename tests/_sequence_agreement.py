"""What the sequence family's tests compare with torch: the extreme values of their sweeps,
and the comparisons of a result with torch's (NaN and infinities exactly, finite values within a
number of ulps of the size of the terms behind them)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

# The values of the extreme-value sweeps: zeros of both signs, magnitudes that underflow or
# overflow once exponentiated, or squared, in every dtype, infinities and NaN.
SPECIAL_VALUES = (np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30, 1e30, -1e30)


@contextmanager
def torch_on_one_thread() -> Iterator[None]:
    """torch on one thread for the sweeps' thousands of tiny calls: on a shared machine its
    thread pool waits for cores far longer than the arithmetic takes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def assert_same_specials(ours: Any, theirs: Any, label: str) -> None:
    """``ours`` is an ndarray of torch's dtype and shape, with NaN and the same infinities where
    torch has them."""
    assert isinstance(ours, np.ndarray), f"{label}: a {type(ours).__name__}, not an ndarray"
    theirs = np.asarray(theirs)
    assert (ours.dtype, ours.shape) == (theirs.dtype, theirs.shape), (
        f"{label}: {ours.dtype}{ours.shape}, torch {theirs.dtype}{theirs.shape}")
    assert np.array_equal(np.isnan(ours), np.isnan(theirs)), f"{label}: NaN elsewhere than torch"
    infinite = np.isinf(theirs)
    assert np.array_equal(np.isinf(ours), infinite), f"{label}: infinities elsewhere than torch"
    assert np.array_equal(ours[infinite], theirs[infinite]), f"{label}: infinities of other sign"


def assert_within_term_ulps(ours: Any, theirs: Any, terms: Any, ulps: float, label: str) -> None:
    """:func:`assert_same_specials`, and every finite element within ``ulps`` units of the
    dtype's epsilon of the size of the terms it adds or cancels (``terms``, broadcast; at least
    torch's value itself): where a result cancels to nearly 0, its rounding is that of the terms,
    so ulps of the result itself would say nothing."""
    assert_same_specials(ours, theirs, label)
    theirs = np.asarray(theirs)
    finite = np.isfinite(theirs)
    with np.errstate(invalid="ignore", over="ignore"):
        terms = np.asarray(terms, np.float64)
        scale = np.maximum(np.abs(theirs.astype(np.float64)), np.where(np.isnan(terms), 0, terms))
        error = np.abs(ours.astype(np.float64) - theirs)
    info = np.finfo(theirs.dtype)
    bound = ulps * float(info.eps) * scale + info.smallest_subnormal
    bad = finite & ~(error <= bound)
    assert not bad.any(), (
        f"{label}: {ours[bad][0]!r} where torch has {theirs[bad][0]!r}, terms "
        f"{np.broadcast_to(terms, theirs.shape)[bad][0]:.3g} (bound {ulps} ulps of the terms)")
