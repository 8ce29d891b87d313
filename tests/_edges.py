"""Random calls at the edges of every dtype, each compared with what torch does (issue #20).

Used by ``test_classification.py`` and ``test_margin.py``: each draws calls of its losses with
values from :data:`EDGES` (zeros of both signs, magnitudes that underflow or overflow once
squared or exponentiated, ``±inf``, NaN, logits of ``±1e4``) in float16, float32 and float64,
with every parameter at its edges, empty batches and every target ignored, and hands each call
to :func:`assert_same_outcome`:

- torch refuses it (any exception) and so does lossnotes (``ValueError`` or ``TypeError``), the
  loss and its gradient alike; or
- both accept it, and the loss and the gradient (for a random upstream gradient) are ndarrays of
  torch's dtype and shape, NaN where torch's are NaN, torch's infinities where torch has them,
  and finite values within ``ulps`` units in the last place of torch's value, or of ``scale``
  where the call's terms are larger than the result (a sum or difference that cancels).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import lossnotes
from lossnotes.torchcheck import torch_gradient, torch_loss

DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
REDUCTIONS = ("none", "mean", "sum")
EDGES = (0.0, -0.0, 1e-30, -1e-30, 1e30, -1e30, np.inf, -np.inf, np.nan, 1e4, -1e4)


def edge_values(
    rng: np.random.Generator, shape: tuple[int, ...], dtype: Any, share: float = 0.5
) -> np.ndarray:
    """Normal values of scale 3, a ``share`` of them replaced by :data:`EDGES`; cast to
    ``dtype`` as torch would (1e30 is inf in float16, 1e-30 zero)."""
    ordinary = rng.standard_normal(shape) * 3
    edges = rng.choice(np.array(EDGES), size=shape)
    with np.errstate(over="ignore"):
        return np.where(rng.random(shape) < share, edges, ordinary).astype(dtype)


def _quietly(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def _outcome(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The result, or the exception raised."""
    try:
        return _quietly(function, *args, **kwargs)
    except Exception as error:  # noqa: BLE001 - any refusal is an outcome
        return error


def _our_outcome(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The result of a lossnotes function, or the exception raised; it must not warn about
    its arithmetic (NumPy's RuntimeWarning), as torch does not."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = function(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - any refusal is an outcome
            result = error
    arithmetic = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert not arithmetic, f"{function.__name__} warns: {arithmetic}"
    return result


def assert_agrees(
    ours: Any,
    theirs: np.ndarray,
    label: str,
    ulps: float,
    scale: Any = 0.0,
    precision: np.dtype | None = None,
):
    """Torch's dtype and shape, its NaN and infinities, and finite values within ``ulps`` of
    torch's, in units of the last place of ``max(|torch's value|, scale)`` in ``precision`` (the
    least precise dtype that went into the value; default torch's)."""
    assert isinstance(ours, np.ndarray), f"{label}: a {type(ours).__name__}, not an ndarray"
    assert ours.dtype == theirs.dtype, f"{label}: dtype {ours.dtype}, torch {theirs.dtype}"
    assert ours.shape == theirs.shape, f"{label}: shape {ours.shape}, torch {theirs.shape}"
    nan = np.isnan(theirs)
    assert np.array_equal(np.isnan(ours), nan), (
        f"{label}: NaN at other places than torch's: {ours[np.isnan(ours) != nan][:3]} where "
        f"torch has {theirs[np.isnan(ours) != nan][:3]}"
    )
    infinite = np.isinf(theirs) | np.isinf(ours)
    assert np.array_equal(ours[infinite], theirs[infinite]), (
        f"{label}: {ours[infinite][:3]} where torch has {theirs[infinite][:3]}"
    )
    finite = ~(nan | infinite)
    with np.errstate(all="ignore"):  # NaN and infinite sizes are not compared here
        bad = finite & ~_within(ours, theirs, ulps, scale, precision or theirs.dtype)
    assert not bad.any(), (
        f"{label}: {ours[bad][:3]} where torch has {theirs[bad][:3]} (bound {ulps} ulps)"
    )


def _within(
    ours: np.ndarray, theirs: np.ndarray, ulps: float, scale: Any, precision: np.dtype
) -> np.ndarray:
    size = np.maximum(np.abs(theirs.astype(np.float64)), np.broadcast_to(scale, theirs.shape))
    largest = float(np.finfo(precision).max)
    unit = np.spacing(np.minimum(size, largest).astype(precision)).astype(np.float64)
    error = np.abs(ours.astype(np.float64) - theirs.astype(np.float64))
    return error <= ulps * unit


def assert_same_outcome(
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    rng: np.random.Generator,
    ulps: float,
    loss_scale: Callable[[np.ndarray], Any] | None = None,
    grad_scale: Callable[[np.ndarray, np.ndarray], Any] | None = None,
    compared: Callable[[np.ndarray], np.ndarray] | None = None,
) -> str:
    """Both refuse the call, or both give the same loss and gradient (see the module's
    docstring); returns ``'refused'`` or ``'accepted'``.

    ``loss_scale(loss)`` and ``grad_scale(grad, upstream)`` give the size of the terms behind
    each value (default 0: the value's own size); ``compared(torch's loss)`` the elements of
    the loss and gradient that are compared (default all): a declared difference is left out.
    """
    label = f"{name}{tuple(getattr(a, 'shape', a) for a in args)} {kwargs}"
    theirs = _outcome(torch_loss, name, args, kwargs)
    ours = _our_outcome(getattr(lossnotes, name), *args, **kwargs)
    if isinstance(theirs, Exception):
        assert isinstance(ours, (ValueError, TypeError)), (
            f"{label}: torch refuses ({theirs!r}), lossnotes gives {ours!r}"
        )
        our_grad = _our_outcome(getattr(lossnotes.grad, name), *args, **kwargs)
        assert isinstance(our_grad, (ValueError, TypeError)), (
            f"{label}: torch refuses, lossnotes.grad gives {our_grad!r}"
        )
        return "refused"
    assert not isinstance(ours, Exception), f"{label}: torch accepts, lossnotes raises {ours!r}"
    keep = np.ones(theirs.shape, bool) if compared is None else compared(theirs)
    floating = [a.dtype for a in (*args, *kwargs.values(), theirs)
                if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    precision = min(floating, key=lambda dtype: dtype.itemsize)
    if keep.all():
        assert_agrees(ours, theirs, f"{label} loss", ulps,
                      0 if loss_scale is None else loss_scale(theirs), precision)
    upstream = rng.standard_normal(theirs.shape).astype(theirs.dtype)
    their_grad = _outcome(torch_gradient, name, args, kwargs, grad_output=upstream)
    if isinstance(their_grad, Exception):  # torch's backward refuses what its forward took
        return "accepted"
    our_grad = _our_outcome(getattr(lossnotes.grad, name), *args, **kwargs,
                            grad_output=upstream)
    assert not isinstance(our_grad, Exception), f"{label}: lossnotes.grad raises {our_grad!r}"
    if keep.all():
        scale = 0 if grad_scale is None else grad_scale(their_grad[1], upstream)
        assert_agrees(our_grad, their_grad[1], f"{label} gradient", ulps, scale, precision)
    elif theirs.shape == args[0].shape:  # 'none' of an elementwise loss: the kept elements
        assert_agrees(ours[keep], theirs[keep], f"{label} loss", ulps, 0, precision)
        assert_agrees(our_grad[keep], their_grad[1][keep], f"{label} gradient", ulps, 0,
                      precision)
    return "accepted"


def torch_refuses(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    return isinstance(_outcome(torch_loss, name, args, kwargs), Exception)


__all__ = [
    "DTYPES",
    "EDGES",
    "REDUCTIONS",
    "assert_agrees",
    "assert_grid_agrees",
    "assert_same_outcome",
    "edge_values",
    "torch_refuses",
]


def assert_grid_agrees(
    name: str,
    args: tuple[Any, ...],
    grid: dict[str, list[Any]],
    rng: np.random.Generator,
    ulps: float,
    scales: Callable[[tuple], tuple] | None = None,
) -> int:
    """Every keyword combination of ``grid`` is accepted by both and agrees as in
    :func:`assert_same_outcome`; ``scales(call)`` gives its ``(loss_scale, grad_scale)``.
    Returns the number of combinations."""
    combinations = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    for kwargs in combinations:
        loss_scale, grad_scale = (None, None) if scales is None else scales((args, kwargs))
        outcome = assert_same_outcome(name, args, kwargs, rng, ulps, loss_scale, grad_scale)
        assert outcome == "accepted", f"{name} {kwargs}: refused"
    return len(combinations)
