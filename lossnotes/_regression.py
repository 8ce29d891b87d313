"""Regression losses: L1, MSE, Smooth L1 and Huber.

All four are a pointwise function of the difference ``input - target``,
optionally weighted per element, then reduced.  Each is computed the way
torch's CPU kernels compute it, operation by operation and in the same
dtypes, so that the results round as torch's do, float16 included.  torch
evaluates a float16 operation in float32 and rounds the result to float16
(its "opmath"), and so does NumPy, but for a Python number, which NumPy
rounds to float16 first and torch does not (:func:`_with_scalar`), and a
0-d array of a wider dtype (:func:`_binary`); torch sums float16 in float32
and rounds once (:func:`_sum`), and converts float64 to float16 through
float32 (:func:`_rounded`).  The helpers of this first section serve the
likelihood losses too."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from ._core import (
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


# --- torch's arithmetic, float16 included --------------------------------


def _opmath(dtype: np.dtype) -> np.dtype:
    """The dtype torch's CPU kernels compute a dtype's operations in:
    float32 for float16, the dtype itself otherwise."""
    return np.dtype(np.float32) if dtype == np.float16 else np.dtype(dtype)


def _rounded(array: Any, dtype: np.dtype) -> np.ndarray:
    """``array`` converted to ``dtype`` as torch converts it: to float16
    through float32 (float64 to float16 directly may round otherwise)."""
    array = np.asarray(array)
    with np.errstate(over="ignore"):  # past the dtype's range is inf, silently
        if np.dtype(dtype) == np.float16 and array.dtype != np.float16:
            array = array.astype(np.float32, copy=False)
        return array.astype(dtype, copy=False)


def _with_scalar(
    operation: Callable[[Any, Any], Any], array: np.ndarray, number: float
) -> np.ndarray:
    """``operation(array, number)`` as torch's CPU kernels compute a tensor
    and a Python number: in the array's opmath dtype, the result rounded to
    the array's dtype.  torch 2.13 multiplies and divides float16 by the
    number as it is (NumPy would round it to float16 first), but adds and
    subtracts it rounded to float16."""
    compute = _opmath(array.dtype)
    if operation in (np.add, np.subtract):
        number = _rounded(number, array.dtype)
    with np.errstate(all="ignore"):
        result = operation(
            array.astype(compute, copy=False), compute.type(number)
        )
    return _rounded(result, array.dtype)


def _binary(
    operation: Callable[[Any, Any], Any], first: Any, second: Any
) -> np.ndarray:
    """``operation(first, second)`` as torch computes two tensors: in their
    result dtype (:func:`result_dtype`), evaluated in its opmath dtype, so
    that a 0-d operand of a wider dtype enters as the number it is, not
    rounded to the result's dtype first."""
    first, second = np.asarray(first), np.asarray(second)
    dtype = result_dtype(first, second)
    compute = _opmath(dtype)
    with np.errstate(all="ignore"):
        result = operation(
            first.astype(compute, copy=False),
            second.astype(compute, copy=False),
        )
    return _rounded(result, dtype)


def _unary(operation: Callable[[Any], Any], array: np.ndarray) -> np.ndarray:
    """``operation(array)`` as torch computes it (``exp``, ``log``): float16
    in float32, rounded once."""
    with np.errstate(all="ignore"):
        result = operation(array.astype(_opmath(array.dtype), copy=False))
    return _rounded(result, array.dtype)


def _sum(loss: np.ndarray) -> np.ndarray:
    """torch's ``sum``: a float16 array is summed in float32, rounded once."""
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.sum(loss, dtype=_opmath(loss.dtype))
    return _rounded(total, loss.dtype)


def _mean(loss: np.ndarray) -> np.ndarray:
    """torch's ``mean``: float16 is summed and divided in float32, then
    rounded once (``'mean'`` of 200 float16 losses of 400 is 400, where a
    float16 sum would overflow); empty, it is NaN."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        total = np.sum(loss, dtype=_opmath(loss.dtype))
        return _rounded(total / loss.size, loss.dtype)


def _reduce(
    loss: np.ndarray,
    reduction: str,
    weight: np.ndarray | None = None,
    mean_over_weight: bool = True,
) -> np.ndarray:
    """Reduce ``loss``, or ``loss * weight`` (in their common dtype).

    With a weight, torch's ``'mean'`` is ``sum(loss * w) / sum(w)`` for L1
    and MSE (a weighted average) but the mean over the elements for Huber
    (``mean_over_weight=False``).
    """
    if weight is not None:
        loss = _binary(np.multiply, loss, weight)
    if reduction == "none":
        return np.asarray(loss)
    if reduction == "sum":
        return _sum(loss)
    if weight is None or not mean_over_weight:
        return _mean(loss)
    with np.errstate(invalid="ignore", divide="ignore"):
        # Two 0-d sums, divided as torch divides them: in their dtype.
        return np.asarray(_sum(loss) / _sum(weight))


def _grad_output(
    grad_output: Any, reduction: str, shape: tuple[int, ...], dtype: np.dtype
) -> np.ndarray:
    """``grad_output`` (default 1) in ``dtype``, checked against the shape of
    the loss: ``shape`` for ``'none'``, 0-d otherwise."""
    expected = shape if reduction == "none" else ()
    return reduce_backward(grad_output, expected, dtype, "none")


def _upstream(
    grad_output: Any,
    reduction: str,
    shape: tuple[int, ...],
    dtype: np.dtype,
    weight: np.ndarray | None = None,
    mean_over_weight: bool = True,
) -> np.ndarray:
    """The gradient of :func:`_reduce`: what reaches the elementwise loss.

    ``grad_output`` divided as ``'mean'`` divides; with a weight, multiplied
    by it, in the dtype of ``loss * weight``; then rounded to ``dtype``, as
    autograd casts each gradient to the dtype of the tensor it flows to.
    """
    product = dtype
    if weight is not None:
        product = result_dtype(np.empty(shape, dtype), weight)
    upstream = _grad_output(grad_output, reduction, shape, product)
    with np.errstate(invalid="ignore", divide="ignore"):
        if reduction == "mean" and weight is not None and mean_over_weight:
            upstream = _rounded(upstream / _sum(weight), product)
        elif reduction == "mean":
            upstream = _with_scalar(np.divide, upstream, np.prod(shape))
    if weight is not None:
        upstream = _binary(
            np.multiply, np.broadcast_to(upstream, shape), weight
        )
    return _rounded(np.broadcast_to(upstream, shape), dtype)


def _to_input(grad: np.ndarray, input: np.ndarray) -> np.ndarray:
    """A gradient with respect to the broadcast input, as autograd hands it
    to ``input``: rounded to its dtype, then summed over the broadcast axes
    (float16 in float32)."""
    grad = _rounded(grad, input.dtype)
    if grad.shape == input.shape:
        return np.asarray(grad)
    with np.errstate(over="ignore", invalid="ignore"):
        summed = unbroadcast(grad.astype(_opmath(input.dtype)), input.shape)
    return _rounded(summed, input.dtype)


def _prepare(input: Any, target: Any, weight: Any):
    """``input`` and ``weight`` checked, and ``input`` and ``target``
    broadcast to their common shape and dtype."""
    input = as_float_array(input, "input")
    target = np.asarray(target)
    # torch promotes an integer target to the input's dtype.
    if target.dtype.kind in "iu":
        target = _rounded(target, input.dtype)
    target = as_float_array(target, "target")
    expanded_input, expanded_target = broadcast_pair(input, target)
    if weight is not None:
        weight = as_float_array(weight, "weight")
        check_weight_shape(weight, input)
    return input, expanded_input, expanded_target, weight


def _quiet(function: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``function`` without NumPy's floating-point warnings: torch is
    silent where a loss overflows or is NaN, and so is lossnotes."""

    @functools.wraps(function)
    def quiet(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(all="ignore"):
            return function(*args, **kwargs)

    return quiet


def _sign(diff: np.ndarray) -> np.ndarray:
    # The subgradient torch uses at a kink: sign(0) = 0; and torch's sign(NaN)
    # is 0 too, where np.sign gives NaN.
    return (diff > 0).astype(diff.dtype) - (diff < 0)


# --- the four losses, forward and backward --------------------------------


@_quiet
def _l1(input: Any, target: Any, weight: Any, reduction: str) -> np.ndarray:
    # torch: (input - target).abs(), then the reduction (weighted in Python).
    _, x, y, weight = _prepare(input, target, weight)
    diff = np.asarray(np.subtract(x, y))
    return _reduce(np.abs(diff, out=diff), reduction, weight)


@_quiet
def _l1_grad(
    input: Any, target: Any, weight: Any, reduction: str, grad_output: Any
) -> np.ndarray:
    input, x, y, weight = _prepare(input, target, weight)
    diff = np.asarray(x - y)
    upstream = _upstream(
        grad_output, reduction, diff.shape, diff.dtype, weight
    )
    # abs's backward: the upstream gradient times sgn(d).
    return _to_input(upstream * _sign(diff), input)


@_quiet
def _mse(input: Any, target: Any, weight: Any, reduction: str) -> np.ndarray:
    # torch's mse kernel, or pow(d, 2) then the weight: both d * d rounded.
    _, x, y, weight = _prepare(input, target, weight)
    diff = np.asarray(np.subtract(x, y))
    return _reduce(np.multiply(diff, diff, out=diff), reduction, weight)


@_quiet
def _mse_grad(
    input: Any, target: Any, weight: Any, reduction: str, grad_output: Any
) -> np.ndarray:
    input, x, y, weight = _prepare(input, target, weight)
    diff = np.asarray(x - y)
    if weight is not None:
        # pow's backward: the upstream gradient times 2 d.
        upstream = _upstream(
            grad_output, reduction, diff.shape, diff.dtype, weight
        )
        return _to_input(upstream * (2 * diff), input)
    # torch's mse backward kernel: (norm * d) * g, with norm = 2 (2/n for
    # 'mean') rounded to the dtype, float16 too.
    upstream = _grad_output(grad_output, reduction, diff.shape, diff.dtype)
    norm = 2 / diff.size if reduction == "mean" and diff.size else 2.0
    grad = diff.dtype.type(norm) * diff
    grad *= upstream
    return _to_input(grad, input)


def _blend(
    mask: np.ndarray, if_true: np.ndarray, if_false: np.ndarray
) -> np.ndarray:
    """``np.where(mask, if_true, if_false)`` for arrays of one dtype and
    shape, by their bits, as torch's kernels select (``blendv``); written
    over ``if_true``.  NumPy's ``where`` takes several times longer on a
    mask that changes at random (the two pieces of a loss, on data that
    straddles the kink)."""
    bits = np.dtype(f"i{if_true.dtype.itemsize}")
    chosen, other = if_true.view(bits), if_false.view(bits)
    np.bitwise_xor(chosen, other, out=chosen)
    np.multiply(chosen, mask, out=chosen)
    np.bitwise_xor(chosen, other, out=chosen)
    return if_true


@_quiet
def _smooth_l1(
    input: Any, target: Any, beta: float, reduction: str
) -> np.ndarray:
    if beta == 0:
        # torch switches to l1_loss here: the quadratic would divide by zero.
        return _l1(input, target, None, reduction)
    _, x, y, _ = _prepare(input, target, None)
    # torch's kernel, in the dtype of the difference (float16 too, with beta
    # rounded to it): (z/2) z / beta below beta, z - beta/2 from there on.
    # A beta below the dtype's range is 0: the line |d| - 0 everywhere.
    beta = x.dtype.type(beta)
    half = x.dtype.type(0.5)
    z = np.asarray(np.subtract(x, y))
    np.abs(z, out=z)
    parabola = np.asarray(z * half)
    parabola *= z
    parabola /= beta
    inside = z < beta
    line = np.subtract(z, half * beta, out=z)
    return _reduce(_blend(inside, parabola, line), reduction)


@_quiet
def _smooth_l1_grad(
    input: Any, target: Any, beta: float, reduction: str, grad_output: Any
) -> np.ndarray:
    if beta == 0:
        return _l1_grad(input, target, None, reduction, grad_output)
    input, x, y, _ = _prepare(input, target, None)
    # torch's backward kernel, computing float16 in float32 from the exact
    # inputs: (norm * slope) * g, with norm = 1 (1/n for 'mean'), and the
    # slope d / beta inside the band, sign(d) outside it: d / beta capped
    # at +-1.
    compute = _opmath(x.dtype)
    diff = np.asarray(x.astype(compute) - y.astype(compute))
    upstream = _grad_output(grad_output, reduction, diff.shape, x.dtype)
    norm = 1 / diff.size if reduction == "mean" and diff.size else 1.0
    beta = compute.type(beta)
    if beta == 0:
        # beta rounds to 0 in the dtype: the slope is +-1, and -1 at d = 0
        # (torch's kernel tests d > 0).
        slope = np.where(diff > 0, compute.type(1), compute.type(-1))
        slope = np.where(np.isnan(diff), diff, slope)
    else:
        slope = np.clip(diff / beta, -1, 1)
        if np.isinf(beta):  # inf / inf: torch's kernel gives the sign
            slope = np.where(np.isinf(diff), np.sign(diff), slope)
    slope = np.asarray(slope * compute.type(norm))
    slope *= upstream.astype(compute)
    return _to_input(_rounded(slope, x.dtype), input)


@_quiet
def _huber(
    input: Any, target: Any, weight: Any, delta: float, reduction: str
) -> np.ndarray:
    input, x, y, weight = _prepare(input, target, weight)
    # torch's kernel, computed in the dtype of the difference (float16 in
    # float32, delta too) and stored in the input's dtype: (z/2) z below
    # delta, delta (z - delta/2) from there on.  With q = min(z, delta),
    # both are (z - q/2) q, operation for operation.
    compute = _opmath(x.dtype)
    loss = np.asarray(np.subtract(x, y, dtype=compute))
    z = np.abs(loss, out=loss)
    clipped = np.asarray(np.minimum(z, compute.type(delta)))
    loss = np.subtract(z, clipped * compute.type(0.5), out=z)
    loss *= clipped
    loss = _rounded(loss, input.dtype)
    return _reduce(loss, reduction, weight, mean_over_weight=False)


@_quiet
def _huber_grad(
    input: Any,
    target: Any,
    weight: Any,
    delta: float,
    reduction: str,
    grad_output: Any,
) -> np.ndarray:
    input, x, y, weight = _prepare(input, target, weight)
    diff = np.asarray(x - y)
    # torch's backward kernel as it runs on whole blocks of 32 elements:
    # (norm * slope) * g in the dtype (float16 too, with delta rounded to
    # it), norm = 1 (1/n for 'mean' without a weight), and the slope d
    # capped at +-delta.  (torch computes the last n mod 32 elements with
    # another formula: see the chapter.)
    if weight is None:
        upstream = _grad_output(
            grad_output, reduction, diff.shape, input.dtype
        )
        norm = 1 / diff.size if reduction == "mean" and diff.size else 1.0
    else:
        # The weighted loss is huber(..., 'none') * weight, then reduced.
        upstream = _upstream(
            grad_output, reduction, diff.shape, input.dtype, weight, False
        )
        norm = 1.0
    delta = diff.dtype.type(delta)
    slope = np.asarray(np.clip(diff, -delta, delta) * diff.dtype.type(norm))
    slope *= _rounded(upstream, diff.dtype)
    return _to_input(slope, input)


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
    return _l1(input, target, weight, reduction)


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
    return _mse(input, target, weight, reduction)


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
    beta = check_positive(beta, "beta", allow_zero=True)
    return _smooth_l1(input, target, beta, reduction)


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
    delta = check_positive(delta, "delta", allow_zero=False)
    return _huber(input, target, weight, delta, reduction)


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
    return _l1_grad(input, target, weight, reduction, grad_output)


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
    return _mse_grad(input, target, weight, reduction, grad_output)


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
    beta = check_positive(beta, "beta", allow_zero=True)
    return _smooth_l1_grad(input, target, beta, reduction, grad_output)


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
    delta = check_positive(delta, "delta", allow_zero=False)
    return _huber_grad(input, target, weight, delta, reduction, grad_output)
