"""Regression losses: L1, MSE, Smooth L1 and Huber.

All four are a pointwise function of the difference ``input - target``,
optionally weighted per element, then reduced; they share one forward and one
backward path and differ only in the pointwise function and its derivative.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._core import (
    apply_reduction,
    as_float_array,
    broadcast_pair,
    check_positive,
    check_weight_shape,
    reduce_backward,
    resolve_reduction,
    result_dtype,
    unbroadcast,
)

__all__ = ["huber_loss", "l1_loss", "mse_loss", "smooth_l1_loss"]

# A function of the difference d = input - target, element by element.  It
# may overwrite d: the forward and backward paths make d for it, and at
# millions of elements every temporary NumPy allocates costs about as much as
# the arithmetic.
Pointwise = Callable[[np.ndarray], np.ndarray]


def _prepare(input: Any, target: Any, weight: Any):
    input = as_float_array(input, "input")
    target = np.asarray(target)
    # torch promotes an integer target to the input's dtype.
    if target.dtype.kind in "iu":
        target = target.astype(input.dtype)
    target = as_float_array(target, "target")
    expanded_input, expanded_target = broadcast_pair(input, target)
    if weight is not None:
        weight = as_float_array(weight, "weight")
        check_weight_shape(weight, input)
    return input, np.asarray(expanded_input - expanded_target), weight


def _forward(
    input: Any,
    target: Any,
    weight: Any,
    reduction: str,
    pointwise: Pointwise,
    *,
    mean_over_weight: bool = True,
    keep_input_dtype: bool = False,
) -> np.ndarray:
    """Reduce ``weight * pointwise(input - target)``.

    With a weight, torch's ``'mean'`` divides by ``weight.sum()`` for L1 and
    MSE (a weighted average) but by the element count for Huber
    (``mean_over_weight=False``); both are reproduced.  Huber's kernel
    computes in the promoted dtype but stores in the input's
    (``keep_input_dtype=True``).
    """
    input, diff, weight = _prepare(input, target, weight)
    loss = pointwise(diff)
    if keep_input_dtype:
        loss = loss.astype(input.dtype, copy=False)
    if weight is None:
        return apply_reduction(loss, reduction)
    weighted = (loss * weight).astype(result_dtype(loss, weight), copy=False)
    denominator = weight.sum() if mean_over_weight else None
    return apply_reduction(weighted, reduction, denominator)


def _backward(
    input: Any,
    target: Any,
    weight: Any,
    reduction: str,
    derivative: Pointwise,
    grad_output: Any,
    *,
    mean_over_weight: bool = True,
) -> np.ndarray:
    """Gradient of :func:`_forward` with respect to ``input``.

    It has the shape and dtype of ``input``.
    """
    input, diff, weight = _prepare(input, target, weight)
    dtype = diff.dtype if weight is None else result_dtype(diff, weight)
    denominator = (
        weight.sum() if weight is not None and mean_over_weight else None
    )
    upstream = reduce_backward(
        grad_output, diff.shape, dtype, reduction, denominator
    )
    if weight is not None:
        upstream = upstream * weight
    grad = upstream * derivative(diff)
    return unbroadcast(grad, input.shape).astype(input.dtype, copy=False)


def _absolute(diff: np.ndarray) -> np.ndarray:
    return np.abs(diff)


def _sign(diff: np.ndarray) -> np.ndarray:
    # The subgradient torch uses at a kink: sign(0) = 0; and torch's sign(NaN)
    # is 0 too, where np.sign gives NaN.
    return (diff > 0).astype(diff.dtype) - (diff < 0)


def _square(diff: np.ndarray) -> np.ndarray:
    return diff * diff


def _twice(diff: np.ndarray) -> np.ndarray:
    return 2 * diff


def _smooth_l1(beta: float) -> tuple[Pointwise, Pointwise]:
    """Pointwise Smooth L1 and its derivative for a given ``beta``."""
    if beta == 0:
        # torch switches to l1_loss here: the quadratic would divide by zero.
        return _absolute, _sign

    def pointwise(diff: np.ndarray) -> np.ndarray:
        if diff.dtype.type(beta) == 0:
            # A beta below the dtype's range is 0 in torch's kernel too: the
            # line |d| - 0.
            return _absolute(diff)
        # Huber's (d - q/2) q (see _huber), with the slope q / beta in place
        # of the second q: that is (d/2)(d/beta) inside the band and exactly
        # |d| - beta/2 outside, torch's two pieces.  Halving is exact, so the
        # slope is computed as (q/2) / (beta/2), exactly +-1 outside the band.
        half = np.clip(diff, -beta, beta)
        half *= 0.5
        loss = np.subtract(diff, half, out=diff)
        slope = half
        if beta == 1:
            slope *= 2  # what dividing by 1/2 gives, faster
        else:
            slope /= beta / 2
        loss *= slope
        return loss

    def derivative(diff: np.ndarray) -> np.ndarray:
        if diff.dtype.type(beta) == 0:
            return _sign(diff)
        # Inside the band the slope is d / beta; outside it is sign(d):
        # the slope of the quadratic, capped at +-1.
        slope = np.clip(diff, -beta, beta)
        slope /= beta
        return slope

    return pointwise, derivative


def _huber(delta: float) -> tuple[Pointwise, Pointwise]:
    """Pointwise Huber loss and its derivative for a given ``delta``."""

    def pointwise(diff: np.ndarray) -> np.ndarray:
        # With q = clip(d, -delta, delta), (d - q/2) q is d^2 / 2 inside the
        # band and delta (|d| - delta/2) outside: torch's two pieces, with
        # torch's rounding, as halving is exact (computed below as
        # 2 (d - q/2) (q/2), with q/2 in `half`).  Unlike
        # np.where(|d| < delta, ...), it does not branch per element, which is
        # several times slower on data that straddle delta; it overflows only
        # where the loss does; and it works in place on the difference, with a
        # single temporary.
        half = np.clip(diff, -delta, delta)
        half *= 0.5
        loss = np.subtract(diff, half, out=diff)
        loss *= half
        loss *= 2
        return loss

    def derivative(diff: np.ndarray) -> np.ndarray:
        # Same as delta * smooth_l1'(diff): the slope of the quadratic, capped
        # at +-delta.
        return np.clip(diff, -delta, delta)

    return pointwise, derivative


def l1_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: Any = None,
) -> np.ndarray:
    r"""Mean absolute error, optionally weighted per element.

    Parameters
    ----------
    input : ndarray of any shape
        Predictions.
    target : ndarray broadcastable with `input`
        Targets; a shape different from `input` warns, as in torch.
    size_average, reduce : bool, optional
        Deprecated; when either is given it overrides `reduction` (with a
        warning).
    reduction : {'mean', 'sum', 'none'}
        How to reduce the elementwise losses.
    weight : ndarray of the shape of `input`, optional
        Per-element weights.

    Returns
    -------
    ndarray
        The loss, 0-d unless ``reduction='none'``.

    Raises
    ------
    ValueError
        If the shapes do not broadcast, `weight` does not have the shape of
        `input`, or `reduction` is unknown.
    TypeError
        If `input` is not floating point.

    See Also
    --------
    torch.nn.L1Loss, torch.nn.functional.l1_loss

    Notes
    -----
    With :math:`d_i = x_i - y_i`, the elementwise loss is
    :math:`\ell_i = w_i |d_i|`;
    ``'sum'`` adds them and ``'mean'`` divides the sum by :math:`\sum_i w_i`
    (by the element count when there is no weight):

    .. math:: \ell_{\text{mean}} = \frac{\sum_i w_i |x_i - y_i|}{\sum_i w_i}

    Examples
    --------
    >>> float(l1_loss([1.0, 2.0, 3.0], [1.0, 1.0, 5.0]))
    1.0
    >>> l1_loss([1.0, 2.0, 3.0], [1.0, 1.0, 5.0], reduction="none")
    array([0., 1., 2.])
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    return _forward(input, target, weight, reduction, _absolute)


def mse_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: Any = None,
) -> np.ndarray:
    r"""Mean squared error, optionally weighted per element.

    Parameters
    ----------
    input : ndarray of any shape
        Predictions.
    target : ndarray broadcastable with `input`
        Targets; a shape different from `input` warns, as in torch.
    size_average, reduce : bool, optional
        Deprecated; when either is given it overrides `reduction` (with a
        warning).
    reduction : {'mean', 'sum', 'none'}
        How to reduce the elementwise losses.
    weight : ndarray of the shape of `input`, optional
        Per-element weights.

    Returns
    -------
    ndarray
        The loss, 0-d unless ``reduction='none'``.

    Raises
    ------
    ValueError
        If the shapes do not broadcast, `weight` does not have the shape of
        `input`, or `reduction` is unknown.
    TypeError
        If `input` is not floating point.

    See Also
    --------
    torch.nn.MSELoss, torch.nn.functional.mse_loss

    Notes
    -----
    The elementwise loss is :math:`\ell_i = w_i (x_i - y_i)^2`; ``'mean'``
    divides the sum by :math:`\sum_i w_i` (the element count without weight):

    .. math:: \ell_{\text{mean}} = \frac{\sum_i w_i (x_i - y_i)^2}{\sum_i w_i}

    Examples
    --------
    >>> float(mse_loss([1.0, 2.0, 3.0], [1.0, 1.0, 5.0]))
    1.6666666666666667
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    return _forward(input, target, weight, reduction, _square)


def smooth_l1_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> np.ndarray:
    r"""Smooth L1 loss: quadratic for errors below `beta`, absolute above.

    Parameters
    ----------
    input : ndarray of any shape
        Predictions.
    target : ndarray broadcastable with `input`
        Targets; a shape different from `input` warns, as in torch.
    size_average, reduce : bool, optional
        Deprecated; when either is given it overrides `reduction` (with a
        warning).
    reduction : {'mean', 'sum', 'none'}
        How to reduce the elementwise losses.
    beta : float, default 1.0
        Where the quadratic piece meets the linear one; ``beta=0`` is the L1
        loss.

    Returns
    -------
    ndarray
        The loss, 0-d unless ``reduction='none'``.

    Raises
    ------
    ValueError
        If `beta` is negative, the shapes do not broadcast or `reduction` is
        unknown.
    TypeError
        If `input` is not floating point.

    See Also
    --------
    torch.nn.SmoothL1Loss, torch.nn.functional.smooth_l1_loss, huber_loss

    Notes
    -----
    With :math:`d_i = x_i - y_i`:

    .. math::
        \ell_i = \begin{cases}
            \tfrac12 d_i^2 / \beta & |d_i| < \beta \\
            |d_i| - \tfrac12 \beta & \text{otherwise}
        \end{cases}

    The two pieces meet with equal value and slope at :math:`|d_i| = \beta`.
    Huber's loss is :math:`\beta` times this one (Girshick, 2015).

    Examples
    --------
    >>> smooth_l1_loss([0.0, 0.5, 3.0], [0.0, 0.0, 0.0], reduction="none")
    array([0.   , 0.125, 2.5  ])
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    pointwise, _ = _smooth_l1(check_positive(beta, "beta", allow_zero=True))
    return _forward(input, target, None, reduction, pointwise)


def huber_loss(
    input: Any,
    target: Any,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Any = None,
) -> np.ndarray:
    r"""Huber loss: quadratic below `delta`, linear with slope `delta` above.

    Parameters
    ----------
    input : ndarray of any shape
        Predictions; the loss keeps their dtype (torch does not promote here).
    target : ndarray broadcastable with `input`
        Targets; a shape different from `input` warns, as in torch.
    reduction : {'mean', 'sum', 'none'}
        How to reduce the elementwise losses.
    delta : float, default 1.0
        Where the quadratic piece meets the linear one; must be positive.
    weight : ndarray of the shape of `input`, optional
        Per-element weights.  ``'mean'`` still divides by the element count.

    Returns
    -------
    ndarray
        The loss, 0-d unless ``reduction='none'``.

    Raises
    ------
    ValueError
        If `delta` is not positive, the shapes do not broadcast, `weight` does
        not have the shape of `input`, or `reduction` is unknown.
    TypeError
        If `input` is not floating point.

    See Also
    --------
    torch.nn.HuberLoss, torch.nn.functional.huber_loss, smooth_l1_loss

    Notes
    -----
    With :math:`d_i = x_i - y_i` (Huber, 1964):

    .. math::
        \ell_i = w_i \begin{cases}
            \tfrac12 d_i^2 & |d_i| < \delta \\
            \delta (|d_i| - \tfrac12 \delta) & \text{otherwise}
        \end{cases}

    Examples
    --------
    >>> x, y = [0.0, 0.5, 3.0], [0.0, 0.0, 0.0]
    >>> huber_loss(x, y, reduction="none", delta=2.0)
    array([0.   , 0.125, 4.   ])
    """
    reduction = resolve_reduction(None, None, reduction)
    pointwise, _ = _huber(check_positive(delta, "delta", allow_zero=False))
    return _forward(
        input,
        target,
        weight,
        reduction,
        pointwise,
        mean_over_weight=False,
        keep_input_dtype=True,
    )


def l1_loss_grad(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: Any = None,
    grad_output: Any = None,
) -> np.ndarray:
    """Gradient of :func:`l1_loss` with respect to `input`.

    At the kink it is torch's subgradient, ``sign(0) = 0``.
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    return _backward(input, target, weight, reduction, _sign, grad_output)


def mse_loss_grad(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: Any = None,
    grad_output: Any = None,
) -> np.ndarray:
    """Gradient of :func:`mse_loss` with respect to `input`."""
    reduction = resolve_reduction(size_average, reduce, reduction)
    return _backward(input, target, weight, reduction, _twice, grad_output)


def smooth_l1_loss_grad(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    beta: float = 1.0,
    grad_output: Any = None,
) -> np.ndarray:
    """Gradient of :func:`smooth_l1_loss` with respect to `input`."""
    reduction = resolve_reduction(size_average, reduce, reduction)
    _, derivative = _smooth_l1(check_positive(beta, "beta", allow_zero=True))
    return _backward(input, target, None, reduction, derivative, grad_output)


def huber_loss_grad(
    input: Any,
    target: Any,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Any = None,
    grad_output: Any = None,
) -> np.ndarray:
    """Gradient of :func:`huber_loss` with respect to `input`."""
    reduction = resolve_reduction(None, None, reduction)
    _, derivative = _huber(check_positive(delta, "delta", allow_zero=False))
    return _backward(
        input,
        target,
        weight,
        reduction,
        derivative,
        grad_output,
        mean_over_weight=False,
    )
