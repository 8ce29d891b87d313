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
    apply_reduction,
    as_float_array,
    reduce_backward,
    resolve_reduction,
    result_dtype,
    unbroadcast,
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
        target = target.astype(input.dtype)
    return as_float_array(target, "target")


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
    x = input.astype(dtype, copy=False)
    t = target.astype(dtype, copy=False)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # exp(target) and xlogy(target, target) in the target's own dtype,
        # as torch computes them, then promoted (a float32 target's
        # exp(-200) is 0, not 1e-87).
        if log_target:
            loss = np.exp(target).astype(dtype, copy=False) * (t - x)
        else:
            # xlogy(t, t) - t * x: the entropy term is 0 where t = 0 (the
            # limit of t log t), but t * x is not, so t = 0 against
            # x = -inf still gives NaN, as in torch.
            entropy = np.log(target)
            entropy *= target
            entropy = np.where(target == 0, 0, entropy)
            loss = entropy.astype(dtype, copy=False) - t * x
        result = apply_reduction(loss, reduced)
        if batch is not None:
            result = np.asarray(result / batch)
    return result


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
    upstream = reduce_backward(grad_output, shape, dtype, reduced)
    if batch is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            upstream = upstream / dtype.type(batch)
    with np.errstate(over="ignore", invalid="ignore"):
        probability = np.exp(target) if log_target else target
        grad = -upstream * probability.astype(dtype, copy=False)
    return unbroadcast(grad, input.shape).astype(input.dtype, copy=False)


# --- PoissonNLLLoss ------------------------------------------------------


def _poisson_prepare(input: Any, target: Any, eps: Any):
    input = as_float_array(input, "input")
    target = _count_target(target, input)
    eps = _real(eps, "eps")
    shape = _broadcast_shape(input, target)
    dtype = result_dtype(input, target)
    x = np.broadcast_to(input, shape).astype(dtype, copy=False)
    t = np.broadcast_to(target, shape).astype(dtype, copy=False)
    return input, target, x, t, eps, dtype


def _stirling(count: np.ndarray) -> np.ndarray:
    """Stirling's approximation of log(count!), only where count > 1.

    torch applies it to targets above 1 and adds 0 elsewhere, which is
    exact for the counts 0 and 1 (0! = 1! = 1).  Written as a mask on
    ``count <= 1`` so that a NaN target gives NaN, as in torch.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        term = count * np.log(count) - count
        term += 0.5 * np.log(2 * math.pi * count)
    return np.where(count <= 1, 0, term).astype(count.dtype, copy=False)


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
    input, target, x, t, eps, dtype = _poisson_prepare(input, target, eps)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # exp, log and the Stirling term in the dtype of their argument, as
        # torch computes them, then promoted.
        if log_input:
            loss = np.exp(input).astype(dtype, copy=False) - t * x
        else:
            # eps only keeps the logarithm finite at a rate of 0; the linear
            # term is the rate itself.
            log_rate = np.log(input + input.dtype.type(eps))
            loss = x - t * log_rate.astype(dtype, copy=False)
        if full:
            loss += _stirling(target)
    return apply_reduction(loss, reduction)


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
    input, _, x, t, eps, dtype = _poisson_prepare(input, target, eps)
    upstream = reduce_backward(grad_output, x.shape, dtype, reduction)
    # As torch's autograd adds the two branches' contributions: the upstream
    # gradient times each term, then the sum (not the sum, then the product).
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if log_input:
            grad = upstream * np.exp(input).astype(dtype, copy=False)
            grad -= upstream * t
        else:
            shifted = (input + input.dtype.type(eps)).astype(dtype, copy=False)
            grad = upstream - upstream * t / shifted
    return unbroadcast(grad, input.shape).astype(input.dtype, copy=False)


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
        variance = np.full(input.shape, var, dtype=input.dtype)
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
    shape = _broadcast_shape(input, target, variance)
    dtype = result_dtype(input, target, variance)
    # torch clamps a copy of var in place under no_grad: the loss sees
    # max(var, eps), but autograd treats the clamp as the identity.
    clamped = np.maximum(variance, variance.dtype.type(eps))
    pair = result_dtype(input, target)
    diff = input.astype(pair, copy=False) - target.astype(pair, copy=False)
    diff = np.broadcast_to(diff, shape).astype(dtype, copy=False)
    return input, variance, differentiable, diff, clamped, dtype


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
    _, _, _, diff, clamped, dtype = _gaussian_prepare(input, target, var, eps)
    reduction = resolve_reduction(None, None, reduction, REDUCTIONS)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        loss = np.square(diff)
        loss /= clamped.astype(dtype, copy=False)
        # The logarithm in var's own dtype, as torch computes it.
        loss += np.log(clamped).astype(dtype, copy=False)
        loss *= 0.5
        if full:
            loss += dtype.type(HALF_LOG_TWO_PI)
    return apply_reduction(loss, reduction)


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
    input, variance, differentiable, diff, clamped, dtype = _gaussian_prepare(
        input, target, var, eps
    )
    reduction = resolve_reduction(None, None, reduction, REDUCTIONS)
    upstream = reduce_backward(grad_output, diff.shape, dtype, reduction)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        half = upstream * dtype.type(0.5)
        # The order of torch's autograd: (g/2 / v) (2 d) for the mean; g/2 / v
        # from the logarithm and -(g/2) (d^2 / v) / v from the quotient for
        # the variance.
        clamped = clamped.astype(dtype, copy=False)
        scaled = half / clamped
        grad_input = scaled * (2 * diff)
        grad_input = unbroadcast(grad_input, input.shape).astype(
            input.dtype, copy=False
        )
        if not differentiable:
            return grad_input, None
        grad_var = scaled - half * (np.square(diff) / clamped / clamped)
    grad_var = unbroadcast(grad_var, variance.shape).astype(
        variance.dtype, copy=False
    )
    return grad_input, grad_var.reshape(np.shape(var))
