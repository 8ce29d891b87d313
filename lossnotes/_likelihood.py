"""Divergences and likelihoods: KL divergence, Poisson and Gaussian NLL.

Each is a negative log-likelihood (or, for the KL divergence, one minus an
entropy) of a target under a distribution the model predicts: log-
probabilities for ``kl_div``, a log-rate or rate for ``poisson_nll_loss``, a
mean and a variance for ``gaussian_nll_loss``.  None of them checks that its
arguments are proper distributions, rates or variances beyond what torch
checks; the chapters show what each gives when they are not.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ._core import (
    REDUCTIONS,
    as_float_array,
    resolve_reduction,
    result_dtype,
    unbroadcast,
)
from ._regression import (
    _binary,
    _grad_output,
    _opmath,
    _reduce,
    _rounded,
    _to_input,
    _unary,
    _with_scalar,
)

__all__ = [
    "gaussian_nll_loss",
    "kl_div",
    "poisson_nll_loss",
]

# kl_div alone takes 'batchmean', which torch computes as 'sum' divided by
# input.shape[0].
KL_REDUCTIONS = ("none", "batchmean", "sum", "mean")

# torch's warning for kl_div's 'mean', word for word (its three sentences are
# joined without spaces).
KL_MEAN_WARNING = (
    "reduction: 'mean' divides the total loss by both the batch size and the "
    "support size.'batchmean' divides only by the batch size, and aligns with "
    "the KL div math definition.'mean' will be changed to behave the same as "
    "'batchmean' in the next major release."
)

HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)


def _real(value: Any, name: str) -> float:
    """A real scalar hyper-parameter (torch refuses a string or None)."""
    if (
        not np.isscalar(value)
        or isinstance(value, (str, bytes, complex))
        or np.iscomplexobj(value)
    ):
        raise TypeError(f"{name} must be a real number; got {value!r}")
    return float(value)


def _broadcast_shape(*arrays: np.ndarray) -> tuple[int, ...]:
    try:
        return np.broadcast_shapes(*(a.shape for a in arrays))
    except ValueError:
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise ValueError(
            f"input, target (and var) of shapes {shapes} must broadcast "
            "together"
        ) from None


def _count_target(target: Any, input: np.ndarray) -> np.ndarray:
    """A target that torch promotes: an integer one takes the input's dtype.

    A boolean is refused (it is a mask, not a count or a value).
    """
    target = np.asarray(target)
    if target.dtype.kind in "iu":
        target = _rounded(target, input.dtype)
    return as_float_array(target, "target")


def _reduce_to(
    grad: np.ndarray, shape: tuple[int, ...], dtype: np.dtype
) -> np.ndarray:
    """A gradient as autograd hands it to a tensor of ``shape`` and
    ``dtype``: summed over the axes that tensor was broadcast along, in the
    gradient's own dtype (float16 in float32), then rounded to ``dtype``."""
    if grad.shape != shape:
        with np.errstate(over="ignore", invalid="ignore"):
            summed = unbroadcast(grad.astype(_opmath(grad.dtype)), shape)
        grad = _rounded(summed, grad.dtype)
    return _rounded(grad, dtype)


def _mean_upstream(
    grad_output: Any, reduction: str, shape: tuple[int, ...], dtype: np.dtype
) -> np.ndarray:
    """``grad_output`` in ``dtype``, divided by the element count for
    ``'mean'`` (as torch's mean backward divides), broadcast to ``shape``."""
    upstream = _grad_output(grad_output, reduction, shape, dtype)
    if reduction == "mean":
        upstream = _with_scalar(np.divide, upstream, int(np.prod(shape)))
    return np.broadcast_to(upstream, shape)


# --- KLDivLoss -----------------------------------------------------------


def _kl_prepare(
    input: Any,
    target: Any,
    size_average: bool | None,
    reduce: bool | None,
    reduction: str,
):
    reduced = resolve_reduction(size_average, reduce, reduction, KL_REDUCTIONS)
    if size_average is None and reduce is None and reduction == "mean":
        warnings.warn(KL_MEAN_WARNING, UserWarning, stacklevel=3)
    input = as_float_array(input, "input")
    # torch refuses an integer target here ("Integral inputs not supported"),
    # unlike the regression losses, which promote it.
    target = as_float_array(target, "target")
    shape = _broadcast_shape(input, target)
    dtype = result_dtype(input, target)
    # torch divides by input.size(0) whenever reduction='batchmean' was asked
    # for, even when the legacy flags decided the reduction; a 0-d input is
    # not divided.
    batch = input.shape[0] if reduction == "batchmean" and input.ndim else None
    if reduced == "batchmean":
        reduced = "sum"
    return input, target, shape, dtype, reduced, batch


def kl_div(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> np.ndarray:
    r"""Kullback-Leibler divergence of a predicted distribution from a target.

    Parameters
    ----------
    input : ndarray of any shape, floating
        Log-probabilities :math:`\log q` of the model (``log_softmax`` output),
        usually of shape (N, C) or (N, C, d1, ..., dK).
    target : ndarray broadcastable with `input`, floating
        Probabilities :math:`p` of the reference distribution, or their
        logarithms when ``log_target=True``.  An integer target is refused, as
        in torch.
    size_average, reduce : bool, optional
        Deprecated; when either is given it decides the reduction (with a
        warning), but ``reduction='batchmean'`` still divides the result by
        the batch size, as in torch.
    reduction : {'mean', 'batchmean', 'sum', 'none'}
        ``'batchmean'`` divides the sum by ``input.shape[0]`` and is the KL
        divergence per sample; ``'mean'`` divides by the number of elements
        and warns, as in torch.
    log_target : bool, default False
        Whether `target` holds log-probabilities.

    Returns
    -------
    ndarray
        The loss, 0-d unless ``reduction='none'``.

    Raises
    ------
    ValueError
        If the shapes do not broadcast or `reduction` is unknown.
    TypeError
        If `input` or `target` is not floating point.

    See Also
    --------
    torch.nn.KLDivLoss, torch.nn.functional.kl_div

    Notes
    -----
    With :math:`x = \log q`, the elementwise term is
    :math:`\ell_i = p_i (\log p_i - x_i)`, taken as :math:`-p_i x_i` where
    :math:`p_i = 0` (torch's ``xlogy``); with ``log_target=True`` and
    :math:`t = \log p`, it is :math:`e^{t_i} (t_i - x_i)`.  Over a batch of
    :math:`N` distributions,

    .. math::

        \ell_{\text{batchmean}} = \frac{1}{N} \sum_{n=1}^{N} \sum_{c}
        p_{nc} (\log p_{nc} - \log q_{nc})
        = \frac{1}{N} \sum_{n=1}^{N} \mathrm{KL}(p_n \,\|\, q_n) .

    Examples
    --------
    >>> p = np.array([[0.5, 0.5, 0.0]])
    >>> log_q = np.log(np.array([[0.25, 0.5, 0.25]]))
    >>> round(float(kl_div(log_q, p, reduction="batchmean")), 6)
    0.346574
    >>> kl_div(log_q, p, reduction="none")
    array([[0.34657359, 0.        , 0.        ]])
    """
    input, target, shape, dtype, reduced, batch = _kl_prepare(
        input, target, size_average, reduce, reduction
    )
    # torch's composite, operation by operation: exp(target) and
    # xlogy(target, target) in the target's own dtype (a float32 target's
    # exp(-200) is 0, not 1e-87), the rest in the promoted one.
    if log_target:
        difference = _binary(np.subtract, target, input)
        loss = _binary(np.multiply, _unary(np.exp, target), difference)
    else:
        loss = _binary(
            np.subtract, _xlogy(target), _binary(np.multiply, target, input)
        )
    result = _reduce(loss, reduced)
    if batch is not None:
        result = _with_scalar(np.divide, result, batch)
    return result


def _xlogy(target: np.ndarray) -> np.ndarray:
    """torch's ``xlogy(target, target)``: ``t log t``, 0 where ``t = 0``
    (its limit), NaN where ``t`` is NaN.

    The entropy term is 0 where t = 0, but the cross term ``t * x`` is not:
    t = 0 against x = -inf still gives NaN, as in torch.
    """
    entropy = _binary(np.multiply, target, _unary(np.log, target))
    return np.where(target == 0, target.dtype.type(0), entropy)


def kl_div_grad(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
    grad_output: Any = None,
) -> np.ndarray:
    r"""Gradient of :func:`kl_div` with respect to `input`.

    It is :math:`-p_i` times the upstream gradient (:math:`-e^{t_i}` with
    ``log_target=True``), divided as the reduction divides.
    """
    input, target, shape, dtype, reduced, batch = _kl_prepare(
        input, target, size_average, reduce, reduction
    )
    upstream = _grad_output(grad_output, reduced, shape, dtype)
    # torch divides by the batch size last, so its backward does it first.
    if batch is not None:
        upstream = _with_scalar(np.divide, upstream, batch)
    if reduced == "mean":
        upstream = _with_scalar(np.divide, upstream, int(np.prod(shape)))
    upstream = np.broadcast_to(upstream, shape)
    if log_target:
        # The product's backward, (g * e^t) in the promoted dtype, then the
        # difference's, -that, summed to the input's shape and rounded.
        product = _binary(np.multiply, upstream, _unary(np.exp, target))
        return _reduce_to(-_rounded(product, dtype), input.shape, input.dtype)
    # The difference's backward, -g, then the product t * x's: (-g) t,
    # rounded to the input's dtype, summed to its shape.
    return _to_input(_binary(np.multiply, -upstream, target), input)


# --- PoissonNLLLoss ------------------------------------------------------


def _poisson_prepare(input: Any, target: Any, eps: Any):
    """``input``, ``target`` (an integer one in the input's dtype), the
    counts the Stirling term is computed from, and ``eps``.

    torch takes the logarithms of an integer target in its default dtype,
    float32, whatever the input's: so does lossnotes, except that a float64
    input gets float64 (a deliberate difference, declared in
    ``tests/test_hostile.py``).
    """
    input = as_float_array(input, "input")
    counts = np.asarray(target)
    if counts.dtype.kind in "iu":
        counts = _rounded(counts, np.result_type(input.dtype, np.float32))
    target = _count_target(target, input)
    eps = _real(eps, "eps")
    _broadcast_shape(input, target)
    return input, target, counts, eps


def _stirling(count: np.ndarray) -> np.ndarray:
    """Stirling's approximation of log(count!), only where count > 1.

    torch applies it to targets above 1 and adds 0 elsewhere, which is
    exact for the counts 0 and 1 (0! = 1! = 1).  Written as a mask on
    ``count <= 1`` so that a NaN target gives NaN, as in torch.  Each
    operation in the count's dtype, as torch's
    ``t * log(t) - t + 0.5 * log(2 * pi * t)``.
    """
    term = _binary(np.multiply, count, _unary(np.log, count))
    term = _binary(np.subtract, term, count)
    logarithm = _unary(np.log, _with_scalar(np.multiply, count, 2 * math.pi))
    term = _binary(np.add, term, _with_scalar(np.multiply, logarithm, 0.5))
    return np.where(count <= 1, count.dtype.type(0), term)


def poisson_nll_loss(
    input: Any,
    target: Any,
    log_input: bool = True,
    full: bool = False,
    size_average: bool | None = None,
    eps: float = 1e-8,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Negative log-likelihood of counts under a Poisson distribution.

    Parameters
    ----------
    input : ndarray of any shape, floating
        The predicted log-rate :math:`\log \lambda` (``log_input=True``) or
        rate :math:`\lambda` (``log_input=False``).
    target : ndarray broadcastable with `input`
        Observed counts; an integer target takes the input's dtype.
    log_input : bool, default True
        Whether `input` is the log of the rate.
    full : bool, default False
        Add Stirling's approximation of :math:`\log(y!)` for targets above 1.
    size_average, reduce : bool, optional
        Deprecated; when either is given it overrides `reduction` (with a
        warning).
    eps : float, default 1e-8
        Added to the rate inside the logarithm when ``log_input=False`` only.
    reduction : {'mean', 'sum', 'none'}
        How to reduce the elementwise losses.

    Returns
    -------
    ndarray
        The loss, 0-d unless ``reduction='none'``.

    Raises
    ------
    ValueError
        If the shapes do not broadcast or `reduction` is unknown.
    TypeError
        If `input` is not floating point, `target` is boolean, or `eps` is not
        a real number.

    See Also
    --------
    torch.nn.PoissonNLLLoss, torch.nn.functional.poisson_nll_loss

    Notes
    -----
    With ``log_input=True`` the elementwise loss is
    :math:`e^{x_i} - y_i x_i`; with ``log_input=False`` it is
    :math:`x_i - y_i \log(x_i + \varepsilon)`.  ``full=True`` adds, where
    :math:`y_i > 1`,

    .. math::

        y_i \log y_i - y_i + \tfrac12 \log(2 \pi y_i)
        \approx \log(y_i!) .

    Examples
    --------
    >>> x, y = np.log([2.0, 0.5]), np.array([3.0, 0.0])
    >>> poisson_nll_loss(x, y, reduction="none")
    array([-0.07944154,  0.5       ])
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    input, target, counts, eps = _poisson_prepare(input, target, eps)
    # torch's composite, operation by operation: exp(x) - t x, or
    # x - t log(x + eps), where eps only keeps the logarithm finite at a
    # rate of 0 (the linear term is the rate itself).
    if log_input:
        loss = _binary(
            np.subtract,
            _unary(np.exp, input),
            _binary(np.multiply, target, input),
        )
    else:
        log_rate = _unary(np.log, _with_scalar(np.add, input, eps))
        loss = _binary(
            np.subtract, input, _binary(np.multiply, target, log_rate)
        )
    if full:
        # In place in torch: the sum is stored in the loss's dtype.
        loss = _rounded(_binary(np.add, loss, _stirling(counts)), loss.dtype)
    return _reduce(loss, reduction)


def poisson_nll_loss_grad(
    input: Any,
    target: Any,
    log_input: bool = True,
    full: bool = False,
    size_average: bool | None = None,
    eps: float = 1e-8,
    reduce: bool | None = None,
    reduction: str = "mean",
    grad_output: Any = None,
) -> np.ndarray:
    r"""Gradient of :func:`poisson_nll_loss` with respect to `input`.

    It is :math:`e^{x_i} - y_i` for a log-rate and
    :math:`1 - y_i / (x_i + \varepsilon)` for a rate, times the upstream
    gradient; the Stirling term does not depend on `input`.
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    input, target, _, eps = _poisson_prepare(input, target, eps)
    shape = _broadcast_shape(input, target)
    upstream = _mean_upstream(
        grad_output, reduction, shape, result_dtype(input, target)
    )
    # Autograd's two branches, each rounded to the input's dtype, then
    # added: the first term's (exp(x), or x) and the product's, -g t
    # (through the logarithm, divided by x + eps).
    first = _reduce_to(upstream, input.shape, input.dtype)
    second = _to_input(_binary(np.multiply, -upstream, target), input)
    if log_input:
        first = _binary(np.multiply, first, _unary(np.exp, input))
    else:
        shifted = _with_scalar(np.add, input, eps)
        second = _binary(np.divide, second, shifted)
    return _binary(np.add, first, second)


# --- GaussianNLLLoss -----------------------------------------------------


def _variance_shape(
    var_shape: tuple[int, ...], input_shape: tuple[int, ...]
) -> tuple[int, ...]:
    """The shape torch gives `var` before broadcasting, or raise.

    torch accepts the shape of `input`; that shape without its last axis
    (then unsqueezed, one variance per row); or the shape of `input` with
    mismatches whose `var` sizes add up to 1 (a single broadcast axis).
    """
    if var_shape == input_shape:
        return var_shape
    if input_shape[:-1] == var_shape:
        return (*var_shape, 1)
    if len(var_shape) == len(input_shape) and (
        sum(v for i, v in zip(input_shape, var_shape) if i != v) == 1
    ):
        return var_shape
    raise ValueError(
        f"var of shape {var_shape} is of incorrect size for input of shape "
        f"{input_shape}: it must have the input's shape, that shape without "
        "its last axis, or the input's shape with one axis of size 1"
    )


def _gaussian_prepare(input: Any, target: Any, var: Any, eps: Any):
    input = as_float_array(input, "input")
    target = _count_target(target, input)
    if isinstance(var, float) and not isinstance(var, np.generic):
        # A Python float: torch checks its sign, then uses var * ones_like
        # (input), so it takes the input's dtype and has no gradient.
        if var < 0:
            raise ValueError(f"var has negative entry/entries: {var!r}")
        variance = _rounded(np.full(input.shape, var), input.dtype)
        differentiable = False
    else:
        if isinstance(var, (bool, int, np.bool_)):
            # torch's float check misses an int, and its tensor path fails.
            raise TypeError(
                f"var must be a float or a floating-point array; got {var!r}"
            )
        variance = as_float_array(var, "var")
        with np.errstate(invalid="ignore"):
            if np.any(variance < 0):
                raise ValueError("var has negative entry/entries")
        variance = variance.reshape(
            _variance_shape(variance.shape, input.shape)
        )
        differentiable = True
    eps = _real(eps, "eps")
    _broadcast_shape(input, target, variance)
    # torch clamps a copy of var in place under no_grad: the loss sees
    # max(var, eps), but autograd treats the clamp as the identity.
    clamped = np.maximum(variance, _rounded(eps, variance.dtype))
    diff = _binary(np.subtract, input, target)
    return input, variance, differentiable, diff, clamped


def gaussian_nll_loss(
    input: Any,
    target: Any,
    var: Any,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Negative log-likelihood of targets under predicted normal laws.

    Parameters
    ----------
    input : ndarray of shape (N, \*) or (\*), floating
        Predicted means :math:`\mu`.
    target : ndarray broadcastable with `input`
        Observations; an integer target takes the input's dtype.
    var : ndarray or float
        Predicted variances :math:`\sigma^2`, non-negative: of the shape of
        `input`; of that shape without the last axis (one variance per row);
        of the shape of `input` with one axis of size 1; or a Python float
        (then not differentiated).
    full : bool, default False
        Add the constant :math:`\tfrac12 \log 2\pi`.
    eps : float, default 1e-6
        The variance is clamped to at least `eps` (the gradient with respect
        to `var` is then that of the clamped value, as in torch).
    reduction : {'mean', 'sum', 'none'}
        How to reduce the elementwise losses.

    Returns
    -------
    ndarray
        The loss, 0-d unless ``reduction='none'``.

    Raises
    ------
    ValueError
        If `var` has a negative entry or a shape torch refuses, the shapes do
        not broadcast, or `reduction` is unknown.
    TypeError
        If `input` or `var` is not floating point (a Python int `var` too), or
        `target` is boolean.

    See Also
    --------
    torch.nn.GaussianNLLLoss, torch.nn.functional.gaussian_nll_loss

    Notes
    -----
    With :math:`v_i = \max(\sigma_i^2, \varepsilon)` (Nix and Weigend, 1994),

    .. math::

        \ell_i = \frac12 \left( \log v_i + \frac{(x_i - y_i)^2}{v_i} \right)
        \; \left[ + \tfrac12 \log 2\pi \right] .

    Examples
    --------
    >>> gaussian_nll_loss([0.0, 1.0], [1.0, 1.0], [1.0, 4.0], reduction="none")
    array([0.5       , 0.69314718])
    """
    _, _, _, diff, clamped = _gaussian_prepare(input, target, var, eps)
    reduction = resolve_reduction(None, None, reduction, REDUCTIONS)
    # torch's 0.5 * (log(var) + (input - target) ** 2 / var), operation by
    # operation: the square in the dtype of input and target (a float16
    # error of 300 squares to inf before a float64 var divides it), the
    # logarithm in var's.
    square = _binary(np.multiply, diff, diff)
    quotient = _binary(np.divide, square, clamped)
    loss = _binary(np.add, _unary(np.log, clamped), quotient)
    loss = _with_scalar(np.multiply, loss, 0.5)
    if full:
        loss = _with_scalar(np.add, loss, HALF_LOG_TWO_PI)
    return _reduce(loss, reduction)


def gaussian_nll_loss_grad(
    input: Any,
    target: Any,
    var: Any,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
    grad_output: Any = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    r"""Gradient of :func:`gaussian_nll_loss` with respect to `input`, `var`.

    Returns ``(grad_input, grad_var)``; ``grad_var`` is None when `var` is a
    Python float.  With :math:`d = x - y` and :math:`v = \max(\sigma^2,
    \varepsilon)`, they are :math:`d / v` and :math:`(1 - d^2 / v) / (2v)`
    times the upstream gradient, also where :math:`\sigma^2 < \varepsilon`
    (torch's clamp is invisible to autograd).
    """
    input, variance, differentiable, diff, clamped = _gaussian_prepare(
        input, target, var, eps
    )
    reduction = resolve_reduction(None, None, reduction, REDUCTIONS)
    square = _binary(np.multiply, diff, diff)
    shape = np.broadcast_shapes(square.shape, clamped.shape)
    dtype = result_dtype(square, clamped)
    upstream = _mean_upstream(grad_output, reduction, shape, dtype)
    # Autograd's order: the product by 1/2, then the sum's two branches.
    half = _with_scalar(np.multiply, upstream, 0.5)
    # The quotient's numerator, d^2, gets (g/2) / v, rounded to its dtype;
    # the square's backward multiplies it by 2 d.
    to_square = _rounded(_binary(np.divide, half, clamped), diff.dtype)
    twice = _with_scalar(np.multiply, diff, 2.0)
    to_diff = _binary(np.multiply, to_square, twice)
    grad_input = _reduce_to(to_diff, input.shape, input.dtype)
    if not differentiable:
        return grad_input, None
    # var gets (g/2) / v from the logarithm and -(g/2) (d^2 / v) / v from
    # the quotient, each summed to var's shape and rounded to its dtype.
    to_log = _reduce_to(half, clamped.shape, clamped.dtype)
    from_log = _binary(np.divide, to_log, clamped)
    ratio = _binary(np.divide, _binary(np.divide, square, clamped), clamped)
    from_quotient = _reduce_to(
        _binary(np.multiply, -half, ratio), clamped.shape, clamped.dtype
    )
    grad_var = _binary(np.add, from_log, from_quotient)
    return grad_input, grad_var.reshape(np.shape(var))
