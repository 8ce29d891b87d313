"""Margin classification losses.

Soft margin, multi-label soft margin, multi-class margin and multi-label
margin.
"""

from __future__ import annotations

# (the code below uses numpy, typing.Any and the _core helpers imported in
# the margin-soft block: ruff's isort wants one sorted import section)
from typing import Any

import numpy as np

from ._classification import (
    _HALF,
    _divided,
    _half_of,
    _half_scaled,
    _operate,
    _quiet,
    _torch_sum,
    _upstream,
    logsigmoid,
    sigmoid,
)
from ._core import (
    apply_reduction,
    as_float_array,
    reduce_backward,
    resolve_reduction,
    result_dtype,
    unbroadcast,
)

__all__ = [
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "soft_margin_loss",
]


# Hinge losses over class indices.  They share one input rule (torch's
# kernels take a non-empty vector of C scores or an (N, C) matrix, and no
# float16 unless the batch is empty: the kernel, which refuses it, then does
# not run) and one target rule (int64 class indices), and both are vectorised
# over (sample, class) pairs: the kernels' three nested loops become one array
# of hinge terms.

# As torch: an overflow gives inf, and inf - inf NaN, without a warning.
_SILENT = {"over": "ignore", "invalid": "ignore"}


def _score_matrix(input: Any) -> tuple[np.ndarray, np.ndarray]:
    """``input`` and its scores as an ``(N, C)`` matrix.

    A 1-D input is one sample (``N = 1``) and a 0-d one a single score
    (``N = C = 1``), as in torch's kernels.
    """
    input = as_float_array(input, "input")
    if input.dtype == np.float16 and not (input.ndim == 2 and not input.size):
        raise TypeError(
            "input must be float32 or float64: torch has no float16 kernel "
            "for this loss (only an empty (0, C) batch, which no kernel "
            "computes, may be float16); got dtype float16"
        )
    if not (input.ndim == 0 or (input.ndim in (1, 2) and input.shape[-1])):
        raise ValueError(
            "input must be a non-empty vector of C scores or an (N, C) "
            "matrix with C > 0 (N may be 0), or 0-d; got shape "
            f"{input.shape}"
        )
    if input.ndim == 0:
        return input, input.reshape(1, 1)
    return input, input.reshape(-1, input.shape[-1])


def _class_indices(target: Any) -> np.ndarray:
    """``target`` as an int64 array, the only dtype torch's kernels read."""
    target = np.asarray(target)
    if target.dtype != np.int64:
        raise TypeError(
            "target must be an integer array of class indices of dtype "
            f"int64 (torch requires a Long tensor); got dtype {target.dtype}"
        )
    return target


def _check_range(
    target: np.ndarray, low: int, classes: int, rule: str
) -> None:
    if target.size and (target.min() < low or target.max() >= classes):
        raise ValueError(
            f"target must hold {rule}; got values from {target.min()} to "
            f"{target.max()} for C = {classes}"
        )


def _multilabel_pairs(input: Any, target: Any):
    """The hinge terms of every sample, one row per (sample, target class).

    For the ``M`` distinct pairs of a row ``r`` and a class ``c`` it lists
    before its first -1, returns ``rows`` and ``classes`` (each ``(M,)``),
    how often ``c`` is listed (``multiplicity``), the margins
    ``z = 1 - x[r, c] + x[r, :]`` against every class (``(M, C)``) and
    ``active``, where a term counts (``z > 0`` on a non-target class);
    also ``input``, its ``(N, C)`` scores and the shape of the ``'none'``
    loss.  The ``M * C`` terms are the kernel's work too.
    """
    input, scores = _score_matrix(input)
    target = _class_indices(target)
    samples, classes = scores.shape
    if input.ndim <= 1:
        valid = target.ndim <= 1 and target.size == classes
        expected = f"({classes},)"
    else:
        valid = target.shape == input.shape
        expected = f"{input.shape}"
    if not valid:
        raise ValueError(
            f"target must have the shape {expected} of input (C class "
            "indices per sample, padded with -1); got shape "
            f"{target.shape}"
        )
    _check_range(
        target, -1, classes, "class indices in [0, C-1], or -1 for padding"
    )
    labels = target.reshape(scores.shape)
    # A row's targets are the entries before its first -1; later ones are
    # ignored, whatever they are.
    listed = np.logical_and.accumulate(labels >= 0, axis=1)
    flat = (np.arange(samples)[:, None] * classes + labels)[listed]
    # A class listed twice counts twice (the kernel loops over the list).
    counts = np.bincount(flat, minlength=samples * classes).reshape(
        scores.shape
    )
    rows, pair_classes = np.nonzero(counts)
    multiplicity = counts[rows, pair_classes]
    # As the kernel: (1 - x[y_j]) + x[i], in the input's dtype.
    with np.errstate(**_SILENT):
        z = (1 - scores[rows, pair_classes])[:, None] + scores[rows]
    # z > 0 is False for NaN: the kernel skips a NaN term, and so do we.
    active = (z > 0) & (counts[rows] == 0)
    shape = () if input.ndim <= 1 else (samples,)
    return input, scores, shape, rows, pair_classes, multiplicity, z, active


@_quiet
def multilabel_margin_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Multi-label hinge loss over a ``-1``-padded list of target classes.

    Parameters
    ----------
    input : ndarray of shape (C,) or (N, C), or 0-d
        Scores (any real numbers), one per class; float32 or float64.
    target : int64 ndarray of the shape of input
        Each row lists its target classes (indices in ``0 .. C-1``) first,
        then ``-1``; only the entries before the first ``-1`` count.  A
        0-d input takes a target of shape ``()`` or ``(1,)``.
    size_average, reduce : bool, optional
        Deprecated; when either is given it overrides `reduction` (with a
        warning).
    reduction : {'mean', 'sum', 'none'}
        ``'none'`` gives one loss per sample (shape ``(N,)``, or ``()`` for
        a 1-D input); ``'mean'`` averages them over the ``N`` samples.

    Returns
    -------
    ndarray
        The loss, in the dtype of `input`.

    Raises
    ------
    ValueError
        If `input` is not 0-d, a non-empty vector or an ``(N, C)`` matrix
        with ``C > 0``; if `target` does not have the shape of `input`;
        if a target entry is below -1 or at least ``C``; if `reduction` is
        unknown.
    TypeError
        If `input` is not float32 or float64, or `target` is not int64.

    See Also
    --------
    torch.nn.MultiLabelMarginLoss, torch.nn.functional.multilabel_margin_loss

    Notes
    -----
    With :math:`Y` the target classes of a sample (each counted as often as
    it is listed before the first -1) and :math:`\bar Y` the other classes:

    .. math::
        \ell = \frac{1}{C} \sum_{j \in Y} \sum_{i \in \bar Y}
        \max(0, 1 - (x_j - x_i))

    Examples
    --------
    The example of torch's documentation: targets 3 and 0, the 1 after the
    -1 is ignored.

    >>> x = [[0.1, 0.2, 0.4, 0.8]]
    >>> round(float(multilabel_margin_loss(x, [[3, 0, -1, 1]])), 12)
    0.85
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    _, scores, shape, rows, _, multiplicity, z, active = _multilabel_pairs(
        input, target
    )
    # Summed in float64 as the kernel's accumulator, stored in the input's
    # dtype, then divided by C there.
    per_pair = np.where(active, z, 0).sum(axis=1, dtype=np.float64)
    per_row = np.bincount(
        rows, weights=per_pair * multiplicity, minlength=scores.shape[0]
    )
    dtype = scores.dtype
    with np.errstate(**_SILENT):
        loss = per_row.astype(dtype) / dtype.type(scores.shape[1])
    return apply_reduction(loss.reshape(shape), reduction)


@_quiet
def multilabel_margin_loss_grad(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    grad_output: Any = None,
) -> np.ndarray:
    """Gradient of :func:`multilabel_margin_loss` with respect to `input`.

    Each active hinge term adds ``1/C`` to its non-target class and takes
    ``1/C`` from its target class (times the upstream gradient, and ``1/N``
    for ``'mean'``); the kernel's subgradient at ``z = 0`` is 0.  Same shape
    and dtype as `input`.

    Examples
    --------
    >>> multilabel_margin_loss_grad([[0.1, 0.2, 0.4, 0.8]], [[3, 0, -1, 1]])
    array([[-0.5,  0.5,  0.5, -0.5]])
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    input, scores, shape, rows, classes, multiplicity, _, active = (
        _multilabel_pairs(input, target)
    )
    samples, count = scores.shape
    upstream = reduce_backward(
        grad_output, shape, scores.dtype, reduction
    ).reshape(-1, 1)
    # How many active terms each (sample, class) takes part in, counting a
    # repeated target as often as it is listed.
    uses = np.zeros(scores.shape, dtype=scores.dtype)
    if rows.size:
        slope = active * multiplicity[:, None]
        # np.nonzero returns the pairs row by row: add each row's block.
        starts = np.flatnonzero(np.diff(rows, prepend=-1))
        uses[rows[starts]] = np.add.reduceat(slope, starts, axis=0)
        uses[rows, classes] -= slope.sum(axis=1)
    grad = uses * (upstream / scores.dtype.type(count))
    return grad.reshape(input.shape).astype(input.dtype, copy=False)


def _multi_margin_terms(
    input: Any, target: Any, p: Any, margin: Any, weight: Any
):
    """Scores, labels, margins ``z`` and active terms of a multi-class call.

    ``z[n, i] = margin - x[n, y_n] + x[n, i]`` ``(N, C)``; ``active`` is
    ``z > 0`` off the target column; ``class_weight`` is ``w[y_n]`` or None.
    """
    if isinstance(p, (str, bytes)) or not np.isscalar(p) or p not in (1, 2):
        raise ValueError(
            "p must be 1 or 2 (torch supports only p == 1 and p == 2); "
            f"got {p!r}"
        )
    if (
        isinstance(margin, (str, bytes))
        or not (np.isscalar(margin) or np.ndim(margin) == 0)
        or np.asarray(margin).dtype.kind not in "biuf"
    ):
        raise TypeError(f"margin must be a real number; got {margin!r}")
    input, scores = _score_matrix(input)
    target = _class_indices(target)
    samples, classes = scores.shape
    if not (target.ndim <= 1 and target.size == samples):
        raise ValueError(
            f"target must be a 1-D array of N = {samples} class indices "
            "(or 0-d for one sample); got shape "
            f"{target.shape}"
        )
    _check_range(target, 0, classes, "class indices in [0, C-1]")
    class_weight = None
    if weight is not None:
        given = isinstance(weight, np.ndarray)
        weight = as_float_array(weight, "weight")
        if not given:  # a list has no dtype of its own: take the input's
            weight = weight.astype(input.dtype)
        if weight.shape != (classes,):
            raise ValueError(
                f"weight must be one-dimensional with C = {classes} "
                f"entries, one per class; got shape {weight.shape}"
            )
        if weight.dtype != input.dtype:
            raise TypeError(
                f"weight must have the dtype of input, {input.dtype} (torch "
                f"does not promote it); got {weight.dtype}"
            )
    labels = target.reshape(-1)
    every = np.arange(samples)
    # As the kernel: (margin - x[y]) + x[i], with margin in the input's dtype.
    with np.errstate(**_SILENT):
        z = (scores.dtype.type(margin) - scores[every, labels])[:, None]
        z = z + scores
    # z > 0 is False for NaN: the kernel skips a NaN term, and so do we.
    active = z > 0
    active[every, labels] = False
    if weight is not None:
        class_weight = weight[labels][:, None]
    return input, scores, target.shape, labels, z, active, class_weight


@_quiet
def multi_margin_loss(
    input: Any,
    target: Any,
    p: int = 1,
    margin: float = 1.0,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Multi-class hinge loss (the SVM loss of cs231n), optionally weighted.

    Parameters
    ----------
    input : ndarray of shape (N, C) or (C,), or 0-d
        Scores (any real numbers), one per class; float32 or float64.
    target : int64 ndarray of shape (N,), or 0-d for one sample
        The class index ``0 .. C-1`` of each sample.
    p : {1, 2}
        Exponent of each hinge term.
    margin : float
        The margin by which the target's score must exceed every other.
    weight : ndarray of shape (C,), optional
        A weight per class; it scales the terms of the samples whose
        target is that class.  Same dtype as `input`.
    size_average, reduce : bool, optional
        Deprecated; when either is given it overrides `reduction` (with a
        warning).
    reduction : {'mean', 'sum', 'none'}
        ``'none'`` gives the shape of `target`; ``'mean'`` divides the sum
        by ``N``, not by the weights.

    Returns
    -------
    ndarray
        The loss, in the dtype of `input`.

    Raises
    ------
    ValueError
        If `p` is not 1 or 2; if `input` is not 0-d, a non-empty vector or
        an ``(N, C)`` matrix with ``C > 0``; if `target` does not hold one
        index in ``0 .. C-1`` per sample; if `weight` is not of shape
        ``(C,)``; if `reduction` is unknown.
    TypeError
        If `input` is not float32 or float64, `target` is not int64,
        `weight` has another dtype than `input`, or `margin` is not a
        number.

    See Also
    --------
    torch.nn.MultiMarginLoss, torch.nn.functional.multi_margin_loss

    Notes
    -----
    For a sample with scores :math:`x` and target class :math:`y`:

    .. math::
        \ell = \frac{1}{C} \sum_{i \ne y} w_y
        \max(0, \text{margin} - x_y + x_i)^p

    Examples
    --------
    >>> x = [[0.1, 0.2, 0.4, 0.8]]
    >>> round(float(multi_margin_loss(x, [3])), 12)
    0.325
    >>> round(float(multi_margin_loss(x, [3], p=2)), 12)
    0.1525
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    _, scores, shape, _, z, active, class_weight = _multi_margin_terms(
        input, target, p, margin, weight
    )
    hinge = np.where(active, z, 0)
    with np.errstate(**_SILENT):
        if p == 2:
            hinge *= hinge
        if class_weight is not None:
            hinge *= class_weight
        loss = hinge.sum(axis=1) / scores.dtype.type(scores.shape[1])
    return apply_reduction(loss.reshape(shape), reduction)


@_quiet
def multi_margin_loss_grad(
    input: Any,
    target: Any,
    p: int = 1,
    margin: float = 1.0,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    grad_output: Any = None,
) -> np.ndarray:
    """Gradient of :func:`multi_margin_loss` with respect to `input`.

    An active term's slope (1, or ``2 z`` for ``p=2``, times ``w[y]``)
    over ``C`` goes to its class, and the sum of them is taken from the
    target class; the kernel's subgradient at ``z = 0`` is 0.  Same shape
    and dtype as `input`.

    Examples
    --------
    >>> multi_margin_loss_grad([[0.1, 0.2, 0.4, 0.8]], [3])
    array([[ 0.25,  0.25,  0.25, -0.75]])
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    input, scores, shape, labels, z, active, class_weight = (
        _multi_margin_terms(input, target, p, margin, weight)
    )
    dtype = scores.dtype
    upstream = reduce_backward(grad_output, shape, dtype, reduction)
    with np.errstate(**_SILENT):
        slope = np.where(active, 2 * z if p == 2 else dtype.type(1), 0)
        slope = slope.astype(dtype, copy=False)
        if class_weight is not None:
            slope *= class_weight
        slope[np.arange(labels.size), labels] = -slope.sum(axis=1)
        grad = slope * (upstream.reshape(-1, 1) / dtype.type(scores.shape[1]))
    return grad.reshape(input.shape).astype(input.dtype, copy=False)


def _numeric_target(target: Any, input: np.ndarray, allow_bool: bool):
    """``target`` as an array that multiplies ``input`` as torch's does.

    An integer (or, where torch allows it, boolean) target takes the input's
    dtype, as torch's type promotion gives it; a floating one keeps its own.
    """
    target = np.asarray(target)
    kinds = "biuf" if allow_bool else "iuf"
    if target.dtype.kind not in kinds:
        allowed = (
            "boolean, integer or floating"
            if allow_bool
            else (
                "integer or floating (torch cannot compute 1 - target for a "
                "boolean one)"
            )
        )
        raise TypeError(f"target must be {allowed}; got dtype {target.dtype}")
    if target.dtype.kind != "f":
        target = target.astype(input.dtype)
    return target


def _soft_margin_prepare(input: Any, target: Any):
    """Input, target and the negated margin ``-y x`` in the input's dtype."""
    input = as_float_array(input, "input")
    target = _numeric_target(target, input, allow_bool=True)
    try:
        # torch multiplies in place into a tensor of the input's shape.
        np.broadcast_to(target, input.shape)
    except ValueError:
        raise ValueError(
            f"target of shape {target.shape} must broadcast to the shape of "
            f"input, {input.shape} (torch computes in place in an array of "
            "the input's shape)"
        ) from None
    # Computed in the promoted dtype and stored in the input's, as torch's
    # in-place kernel does.
    negative_margin = np.asarray(-_margin_product(input, target))
    return input, target, negative_margin.astype(input.dtype, copy=False)


def _margin_product(input: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``y x`` in torch's promoted dtype (an array, also when 0-d).

    A 0-d target multiplies float16 scores in float32, as torch reads a
    0-d factor of a float16 product (its mul_kernel's scalar path).
    """
    dtype = result_dtype(input, target)
    if dtype == _HALF and target.ndim == 0:
        product = np.multiply(input, target, dtype=np.float32)
        return np.asarray(product).astype(_HALF)
    return np.asarray(np.multiply(input, target, dtype=dtype))


@_quiet
def soft_margin_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Logistic loss of the margin :math:`y x` for targets :math:`\pm 1`.

    Parameters
    ----------
    input : array_like of floating dtype, any shape
        Scores :math:`x` (logits): positive means class +1.
    target : array_like, broadcastable to the shape of input
        Labels :math:`y`, meant to be -1 or +1 (other values are used as
        they are).  Boolean, integer or floating.
    size_average, reduce : bool, optional
        Deprecated; when either is given it overrides ``reduction``.
    reduction : {'mean', 'sum', 'none'}, optional
        ``'mean'`` divides the sum by the number of elements of input.

    Returns
    -------
    ndarray
        The loss in the dtype of ``input``: of its shape for ``'none'``,
        else 0-d.

    Raises
    ------
    TypeError
        If ``input`` is not floating point, or ``target`` not numeric.
    ValueError
        If ``target`` does not broadcast to ``input``'s shape, or the
        reduction is unknown.

    See Also
    --------
    torch.nn.functional.soft_margin_loss, torch.nn.SoftMarginLoss

    Notes
    -----
    .. math::

        \ell_i = \log\bigl(1 + e^{-y_i x_i}\bigr)
        = \max(z_i, 0) + \operatorname{log1p}\bigl(e^{-\lvert z_i
        \rvert}\bigr), \qquad z_i = -y_i x_i .

    torch 2.13 evaluates the left-hand side as written, which overflows to
    ``inf`` (and a NaN gradient) once :math:`-y x` passes about 88.7 in
    float32 or 709.8 in float64; the right-hand side is the same number and
    never overflows, so lossnotes agrees with torch wherever torch is finite
    and gives the finite loss where torch gives ``inf``.

    Examples
    --------
    >>> soft_margin_loss(np.array([2.0, -1.0]), np.array([1.0, 1.0]))
    array(0.72009...)
    >>> soft_margin_loss(np.array([-1000.0]), np.array([1.0]))
    array(1000.)
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    _, _, negative_margin = _soft_margin_prepare(input, target)
    if negative_margin.dtype == _HALF:
        return apply_reduction(_half_softplus(negative_margin), reduction)
    # softplus(z) = max(z, 0) + log1p(exp(-|z|)): the exponent is never
    # positive.  In place, as at millions of elements each temporary costs
    # about as much as the arithmetic.
    loss = np.asarray(np.abs(negative_margin))  # an array, also when 0-d
    np.negative(loss, out=loss)
    np.exp(loss, out=loss)
    loss = _log1p_of_fraction(loss)
    loss += np.maximum(negative_margin, 0, out=negative_margin)
    return apply_reduction(loss, reduction)


def _softplus(values: np.ndarray) -> np.ndarray:
    """``log(1 + e^z)`` as ``max(z, 0) + log1p(e^-|z|)``: no overflow."""
    return np.maximum(values, 0) + np.log1p(np.exp(-np.abs(values)))


def _half_softplus(margin: np.ndarray) -> np.ndarray:
    """torch's float16 ``log1p(exp(z))``: each function rounded to float16.

    Where the float16 exponential overflows (z above 11.09) torch's loss is
    ``inf``; lossnotes gives the finite softplus there instead, the
    difference it declares in float32 and float64 too.
    """
    exponential = _half_of(np.exp, margin)
    loss = _half_of(np.log1p, exponential)
    overflow = np.isinf(exponential) & np.isfinite(margin)
    loss[overflow] = _half_of(_softplus, margin[overflow])
    return loss


def _log1p_of_fraction(fraction: np.ndarray) -> np.ndarray:
    """``log1p`` of numbers in (0, 1], in place, fast in float32 too.

    NumPy's float32 ``log1p`` is not vectorised and costs five times its
    ``log``; for float32 (and float16) this uses Goldberg's formula
    log1p(u) = log(w) u / (w - 1) with w = 1 + u, exact to a few ulp because
    the rounding of w cancels between log(w) and w - 1 (D. Goldberg, "What
    every computer scientist should know about floating-point arithmetic",
    1991, theorem 4); where w rounds to 1, log1p(u) = u.
    """
    if fraction.dtype.itemsize >= 8:
        return np.log1p(fraction, out=fraction)
    rounded = np.asarray(1 + fraction)  # an array, also when 0-d
    step = rounded - 1
    result = np.log(rounded, out=rounded)
    result *= fraction
    with np.errstate(invalid="ignore", divide="ignore"):
        result /= step
    return np.where(step == 0, fraction, result)


@_quiet
def soft_margin_loss_grad(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    grad_output: Any = None,
) -> np.ndarray:
    r"""Gradient of :func:`soft_margin_loss` with respect to ``input``.

    .. math::

        \frac{\partial \ell_i}{\partial x_i} = -y_i \, \sigma(-y_i x_i),

    times ``grad_output`` and, for ``'mean'``, divided by the number of
    elements.  torch's kernel forms :math:`e^{-yx} / (1 + e^{-yx})`, which
    is NaN where the exponential overflows; the sigmoid is the same number
    without the overflow.
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    input, target, negative_margin = _soft_margin_prepare(input, target)
    if input.dtype == _HALF:
        return _half_soft_margin_grad(input, target, reduction, grad_output)
    upstream = reduce_backward(
        grad_output, input.shape, input.dtype, reduction
    )
    grad = -target * sigmoid(negative_margin) * upstream
    return np.asarray(grad).astype(input.dtype, copy=False)


def _half_soft_margin_grad(
    input: np.ndarray, target: np.ndarray, reduction: str, grad_output: Any
) -> np.ndarray:
    """torch's float16 backward (``soft_margin_loss_backward_out``):
    ``z = exp(-y x)`` in the promoted dtype, ``y z`` stored in float16, times
    ``-1/n`` rounded to float16 (``n`` the elements for ``'mean'``, else 1),
    over ``1 + z``, times the upstream gradient, each step rounded.  Where
    ``z`` overflows (``-y x`` above 11.09, or infinite) torch's ``inf / inf``
    is NaN; lossnotes gives ``-y sigmoid(-y x)`` there, its declared
    difference.
    """
    upstream = _upstream(grad_output, input.shape, _HALF, reduction)
    # The backward multiplies target first (-target * input), so that a 0-d
    # target is rounded to float16 here, unlike in the forward.
    target = target.astype(result_dtype(input, target))
    margin = np.negative(np.multiply(target, input, dtype=target.dtype))
    if margin.dtype == _HALF:
        exponential = _half_of(np.exp, margin)
    else:
        with np.errstate(over="ignore"):
            exponential = np.exp(margin)
    norm = 1 / input.size if reduction == "mean" and input.size else 1.0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        grad = _operate(np.multiply, target, exponential, False)
        grad = grad.astype(_HALF) * np.float32(-norm).astype(_HALF)
        grad = (grad / (exponential + 1)).astype(_HALF) * upstream
        grad = np.array(np.broadcast_to(grad, input.shape))
        overflow = np.broadcast_to(np.isinf(exponential), input.shape)
        if overflow.any():
            limit = np.broadcast_to(-target * sigmoid(margin), input.shape)
            upstream = np.broadcast_to(upstream, input.shape)
            grad[overflow] = (
                _half_scaled(limit[overflow], norm) * upstream[overflow]
            )
    return grad


def _multilabel_prepare(input: Any, target: Any, weight: Any):
    input = as_float_array(input, "input")
    if input.ndim == 0:
        raise ValueError(
            "input must have at least one dimension, the last one holding "
            "the classes; got a 0-d array"
        )
    target = _numeric_target(target, input, allow_bool=False)
    arrays = {"input": input, "target": target}
    if weight is not None:
        weight = np.asarray(weight)
        if weight.dtype.kind in "iu":
            weight = weight.astype(input.dtype)
        weight = as_float_array(weight, "weight")
        arrays["weight"] = weight
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        described = ", ".join(f"{k} {a.shape}" for k, a in arrays.items())
        culprit = "weight" if weight is not None else "target"
        raise ValueError(
            f"{culprit}: the shapes of {described} must broadcast together"
        ) from None
    dtype = result_dtype(*arrays.values())
    # torch sums over the axis that is the input's last, counted from the
    # front of the broadcast shape, and divides by the input's last size.
    return input, target, weight, shape, dtype, input.ndim - 1


@_quiet
def multilabel_soft_margin_loss(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    r"""One-versus-all logistic loss, averaged over the classes.

    Parameters
    ----------
    input : array_like of floating dtype, shape (C,) or (N, C) (any
        number of leading dimensions)
        Logits, one per class: each class is an independent binary
        decision.
    target : array_like, broadcastable to input
        1 where the class is present, 0 where it is not (soft values in
        [0, 1] are used as they are).  Integer or floating, not boolean.
    weight : array_like, broadcastable to input, optional
        A weight per class (shape (C,)) or per element.
    size_average, reduce : bool, optional
        Deprecated; when either is given it overrides ``reduction``.
    reduction : {'mean', 'sum', 'none'}, optional
        Applied to the per-sample losses (each already a mean over the
        classes).

    Returns
    -------
    ndarray
        Per-sample losses, shape (N,) (0-d for 1-D input), for ``'none'``;
        else 0-d.  The dtype is the promotion of input, target and weight.

    Raises
    ------
    TypeError
        If ``input`` or ``weight`` is not floating point, or ``target`` is
        boolean.
    ValueError
        If ``input`` is 0-d, the shapes do not broadcast, or the reduction
        is unknown.

    See Also
    --------
    torch.nn.functional.multilabel_soft_margin_loss,
    torch.nn.MultiLabelSoftMarginLoss,
    torch.nn.functional.binary_cross_entropy_with_logits

    Notes
    -----
    For sample :math:`n` with :math:`C` classes,

    .. math::

        \ell_n = -\frac{1}{C} \sum_{c=1}^{C} w_c \bigl[ y_{nc} \log
        \sigma(x_{nc}) + (1 - y_{nc}) \log \sigma(-x_{nc}) \bigr],

    evaluated as :math:`\max(x, 0) - y x + \operatorname{log1p}(e^{-\lvert x
    \rvert})`, which never overflows: the binary cross entropy with logits,
    averaged over the classes.

    Examples
    --------
    >>> multilabel_soft_margin_loss(np.array([[0.0, 0.0]]),
    ...                             np.array([[1.0, 0.0]]))
    array(0.69314718)
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    input, target, weight, shape, dtype, class_axis = _multilabel_prepare(
        input, target, weight
    )
    terms = _multilabel_terms(input, target, weight)
    per_sample = _divided(_torch_sum(terms[-1], class_axis), input.shape[-1])
    return apply_reduction(per_sample, reduction)


def _multilabel_terms(
    input: np.ndarray, target: np.ndarray, weight: np.ndarray | None
) -> tuple[np.ndarray, ...]:
    """torch's ``-(y logsigmoid(x) + (1 - y) logsigmoid(-x)) * w``, one
    operation at a time in torch's dtypes: the two log-sigmoids, and the
    loss before and after the weight.

    Each log-sigmoid is finite for every finite logit, and a certain right
    answer costs its small log-sigmoid exactly; at an infinite logit the
    loss is torch's (``inf`` for a wrong one, NaN where ``0 * inf`` is).
    """
    positive, negative = logsigmoid(input), logsigmoid(-input)
    with np.errstate(invalid="ignore", over="ignore"):
        loss = np.negative(
            _operate(
                np.add,
                _operate(np.multiply, target, positive, False),
                _operate(np.multiply, 1 - target, negative, False),
                False,
            )
        )
        weighted = (
            loss
            if weight is None
            else _operate(np.multiply, loss, weight, False)
        )
    return positive, negative, loss, weighted


@_quiet
def multilabel_soft_margin_loss_grad(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    grad_output: Any = None,
) -> np.ndarray:
    r"""Gradient of :func:`multilabel_soft_margin_loss` w.r.t. ``input``.

    .. math::

        \frac{\partial \ell_n}{\partial x_{nc}}
        = \frac{w_c}{C} \bigl[(1 - y_{nc}) \sigma(x_{nc})
          - y_{nc} \sigma(-x_{nc})\bigr]
        = \frac{w_c}{C} \bigl(\sigma(x_{nc}) - y_{nc}\bigr),

    whatever the target's values, times ``grad_output`` and the reduction's
    factor, summed back over the axes along which input was broadcast.  It
    is computed as torch's autograd does, through the two log-sigmoids (the
    first form), so that an infinite weight or target gives torch's NaN.
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    input, target, weight, shape, _, class_axis = _multilabel_prepare(
        input, target, weight
    )
    _, _, loss, weighted = _multilabel_terms(input, target, weight)
    sample_shape = shape[:class_axis] + shape[class_axis + 1 :]
    upstream = _upstream(grad_output, sample_shape, weighted.dtype, reduction)
    upstream = np.broadcast_to(upstream, sample_shape)
    if reduction == "mean":  # 'mean' of the per-sample losses, then / C
        upstream = _divided(upstream, int(np.prod(sample_shape)))
    grad = np.expand_dims(_divided(upstream, input.shape[-1]), class_axis)
    grad = np.broadcast_to(grad, shape)
    # Node by node: each product's backward multiplies by the other factor
    # and rounds to its operand's dtype; the two log-sigmoid paths add.
    with np.errstate(invalid="ignore", over="ignore"):
        if weight is not None:
            grad = _operate(np.multiply, grad, weight, False)
        grad = np.negative(grad.astype(loss.dtype))
        through_positive = _operate(np.multiply, grad, target, False)
        through_negative = _operate(np.multiply, grad, 1 - target, False)
        grad = _logsigmoid_grad(through_positive, input) - _logsigmoid_grad(
            through_negative, -input
        )
    return _summed_to(grad, input.shape)


def _logsigmoid_grad(grad: np.ndarray, input: np.ndarray) -> np.ndarray:
    """torch's log-sigmoid backward, ``g (d - s b / (1 + b))`` with the
    buffer ``b = exp(-|x|)`` its forward kept in the input's dtype
    (``d, s = 1, 1`` for ``x < 0``, else ``0, -1``): ``g sigmoid(-x)``.
    float16 computes in float32 and rounds once."""
    grad = np.asarray(grad).astype(input.dtype)  # autograd's cast to x's
    if input.dtype == _HALF:
        buffer = _half_of(np.exp, -np.abs(input)).astype(np.float32)
    else:
        buffer = np.exp(-np.abs(input))
    negative = input < 0
    with np.errstate(invalid="ignore", over="ignore"):
        slope = np.where(negative, 1, 0) - np.where(negative, 1, -1) * (
            buffer / (1 + buffer)
        )
        slope = slope.astype(buffer.dtype) * grad.astype(buffer.dtype)
        return np.asarray(slope).astype(input.dtype)


def _summed_to(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """autograd's sum of a gradient back to ``shape``, float16 in float32
    and rounded once."""
    if grad.shape == shape:
        return np.asarray(grad)
    if grad.dtype != _HALF:
        return unbroadcast(grad, shape)
    summed = unbroadcast(grad.astype(np.float32), shape)
    with np.errstate(over="ignore"):
        return np.asarray(summed).astype(_HALF)
