"""Ranking and embedding losses, and the distances they are built on.

Margin ranking, hinge embedding, cosine embedding and the two triplet losses.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._core import (
    apply_reduction,
    as_float_array,
    check_flag,
    check_positive,
    check_reduction,
    common_shape,
    operation_dtype,
    pack_gradients,
    real_number,
    reduce_backward,
    resolve_reduction,
    resolve_wrt,
    result_dtype,
    unbroadcast,
)

__all__ = [
    "cosine_embedding_loss",
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "cosine_similarity",
    "pairwise_distance",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]


# The EPSILON of torch's Loss.cpp, a C++ float: 1e-12 rounded to float32,
# which is what cosine_embedding_loss adds to each squared norm, in every
# dtype.
COSINE_EPSILON = float(np.float32(1e-12))


def _silent(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with NumPy's floating-point warnings off: where NumPy
    would warn (an overflow to inf, 0 / 0), torch returns the same inf or
    NaN and says nothing."""

    @functools.wraps(function)
    def silent(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(all="ignore"):
            return function(*args, **kwargs)

    return silent


def _label_array(target: Any, allow_bool: bool) -> np.ndarray:
    """``target`` as a real array of labels (meant to be -1 or 1)."""
    target = np.asarray(target)
    kinds = "biuf" if allow_bool else "iuf"
    if target.dtype.kind not in kinds:
        allowed = (
            "boolean, integer or floating"
            if allow_bool
            else "integer or floating (torch cannot negate a boolean target)"
        )
        raise TypeError(f"target must be {allowed}; got dtype {target.dtype}")
    return target


def _sum_to(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """:func:`unbroadcast`, as torch's CPU sum does it: float16 is summed in
    float32 and rounded once (NumPy would round each partial sum along an
    axis that is not the last)."""
    if grad.dtype == np.float16 and grad.shape != shape:
        summed = unbroadcast(grad.astype(np.float32), shape)
        return summed.astype(np.float16)
    return np.asarray(unbroadcast(grad, shape))


def _sum_last(values: np.ndarray) -> np.ndarray:
    """Sum over the last axis; float16 in float32, rounded once, as torch's
    CPU sum."""
    if values.dtype == np.float16:
        return np.asarray(
            values.sum(axis=-1, dtype=np.float32).astype(np.float16)
        )
    return np.asarray(values.sum(axis=-1))


# --- margin ranking ----------------------------------------------------------


def _margin_ranking_prepare(
    input1: Any, input2: Any, target: Any, margin: Any
):
    input1 = as_float_array(input1, "input1")
    input2 = as_float_array(input2, "input2")
    target = _label_array(target, allow_bool=False)
    if target.dtype.kind == "u":
        # torch computes -target in the target's dtype, where an unsigned
        # label of 1 is 255 (uint8): a loss no label was meant to give.
        wrapped = np.iinfo(target.dtype).max
        raise TypeError(
            "target must be signed: torch negates an unsigned target in its "
            f"dtype, where -1 is {wrapped}; got dtype {target.dtype}"
        )
    margin = real_number(margin, "margin")
    if not input1.ndim == input2.ndim == target.ndim:
        raise ValueError(
            "input1, input2 and target must have the same number of "
            f"dimensions; got shapes {input1.shape}, {input2.shape} and "
            f"{target.shape}"
        )
    common_shape(input1=input1, input2=input2, target=target)
    return input1, input2, target, margin


def _margin_ranking_hinge(
    input1: np.ndarray,
    input2: np.ndarray,
    target: np.ndarray,
    margin: float,
):
    """``(input1 - input2)`` and ``-y (input1 - input2) + margin``.

    In torch's order and dtypes: the difference in the inputs' dtype, then
    the product in the dtype of all three (an integer target takes the
    difference's); ``margin``, a Python number, takes that dtype instead of
    promoting it.
    """
    difference = np.asarray(input1 - input2)
    dtype = operation_dtype(difference, target)
    # np.asarray: a product of 0-d arrays is a NumPy scalar.
    hinge = np.asarray(np.multiply(target, difference, dtype=dtype))
    np.negative(hinge, out=hinge)
    hinge += dtype.type(margin)
    return difference, hinge


@_silent
def margin_ranking_loss(
    input1: Any,
    input2: Any,
    target: Any,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Hinge loss on the difference of two scores that should be ordered.

    Parameters
    ----------
    input1, input2 : ndarray of floating dtype, shape (N,) or ()
        Scores :math:`x_1, x_2` of the two items of each pair.  torch accepts
        any shape as long as the three arrays have the same number of
        dimensions and broadcast together (without a warning).
    target : ndarray of the same number of dimensions
        :math:`y = 1` where input1 should score higher, :math:`-1` where
        input2 should; other values are used as they are.  Signed integer
        or floating (torch refuses a boolean one, and negates an unsigned
        one in its dtype, where -1 is 255 for uint8).
    margin : float, default 0
        How far the right score must lead for the loss to vanish.
    size_average, reduce : bool, optional
        Deprecated; when either is given it overrides `reduction` (with a
        warning).
    reduction : {'mean', 'sum', 'none'}
        ``'mean'`` divides the sum by the number of pairs.

    Returns
    -------
    ndarray
        The loss, of the broadcast shape for ``'none'``, else 0-d; in the
        dtype of the three arrays promoted together.

    Raises
    ------
    ValueError
        If the three arrays differ in number of dimensions or do not
        broadcast, or `reduction` is unknown.
    TypeError
        If an input is not floating point, the target is boolean or
        unsigned, or `margin` is not a real number.

    See Also
    --------
    torch.nn.MarginRankingLoss, torch.nn.functional.margin_ranking_loss

    Notes
    -----
    The loss vanishes exactly when :math:`y_i (x_{1,i} - x_{2,i}) \ge m`:

    .. math::
        \ell_i = \max\bigl(0,\; -y_i (x_{1,i} - x_{2,i}) + m\bigr)

    Examples
    --------
    >>> s1, s2 = np.array([2.0, 0.5, 1.0]), np.array([1.0, 1.0, 0.0])
    >>> margin_ranking_loss(s1, s2, np.ones(3), margin=1.0, reduction="none")
    array([0. , 1.5, 0. ])
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    input1, input2, target, margin = _margin_ranking_prepare(
        input1, input2, target, margin
    )
    _, hinge = _margin_ranking_hinge(input1, input2, target, margin)
    # np.maximum propagates NaN, as torch's clamp_min does.
    loss = np.maximum(hinge, 0, out=hinge)
    return apply_reduction(loss, reduction)


@_silent
def margin_ranking_loss_grad(
    input1: Any,
    input2: Any,
    target: Any,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    grad_output: Any = None,
    wrt: Any = None,
) -> np.ndarray | tuple[np.ndarray, ...]:
    """Gradients of :func:`margin_ranking_loss`: both inputs by default.

    On a tie, ``y (x1 - x2) == margin`` exactly, torch's ``clamp_min`` passes
    the gradient through: the tie counts as a violation, slope ``-y``.
    ``wrt`` may name ``"target"`` too, which torch differentiates as a number
    (``-(x1 - x2)`` where the hinge is active) when it is floating.
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    input1, input2, target, margin = _margin_ranking_prepare(
        input1, input2, target, margin
    )
    names, single = resolve_wrt(
        wrt,
        ("input1", "input2"),
        {"input1": None, "input2": None, "target": _label_rule(target)},
        {"input1": input1, "input2": input2, "target": target},
    )
    difference, hinge = _margin_ranking_hinge(input1, input2, target, margin)
    upstream = reduce_backward(
        grad_output, hinge.shape, hinge.dtype, reduction
    )
    # clamp_min's backward: the gradient where the hinge is >= 0, 0 where it
    # is < 0 or NaN.  Then the product -y (x1 - x2) sends it times -y to the
    # difference and times (x1 - x2) to -y, as autograd does: a NaN label
    # makes the inputs' gradient NaN even where the loss is 0.
    passed = np.where(hinge >= 0, upstream, hinge.dtype.type(0))
    gradients = {}
    if "target" in names:
        # Summed to the target's shape, stored in its dtype, then negated.
        to_negated = _sum_to(np.asarray(passed * difference), target.shape)
        gradients["target"] = -to_negated.astype(target.dtype, copy=False)
    # Summed to the difference's shape in the loss dtype, then stored in the
    # difference's, as autograd does at each step.
    slope = np.asarray(np.multiply(passed, -target, dtype=passed.dtype))
    grad_difference = _sum_to(slope, difference.shape)
    grad_difference = grad_difference.astype(difference.dtype, copy=False)
    gradients["input1"] = _sum_to(grad_difference, input1.shape).astype(
        input1.dtype, copy=False
    )
    gradients["input2"] = _sum_to(-grad_difference, input2.shape).astype(
        input2.dtype, copy=False
    )
    return pack_gradients(gradients, names, single)


def _label_rule(target: np.ndarray) -> str | None:
    """Why torch's autograd cannot differentiate ``target``, or None."""
    if target.dtype.kind == "f":
        return None
    return (
        "target: torch's autograd differentiates floating tensors only, and "
        f"this target is {target.dtype} (torch: only Tensors of floating "
        "point dtype can require gradients)"
    )


# --- hinge embedding ---------------------------------------------------------


def _hinge_embedding_prepare(input: Any, target: Any, margin: Any):
    input = as_float_array(input, "input")
    target = _label_array(target, allow_bool=True)
    margin = real_number(margin, "margin")
    largest = float(np.finfo(input.dtype).max)
    if abs(margin) > largest and not np.isinf(margin):
        # torch converts the margin to the input's dtype, with a check.
        raise ValueError(
            f"margin={margin} is beyond {input.dtype}'s range, +-{largest:g} "
            "(torch: value cannot be converted without overflow)"
        )
    shape = common_shape(input=input, target=target)
    # torch's kernel:
    #   where(target != 1, clamp_min(margin - x, 0), 0)
    #     + where(target != -1, x, 0),
    # so a label of 1 gives x, -1 gives the hinge, and any other label
    # (0, 2, NaN, False) gives both, x + max(0, margin - x).
    not_positive = target != 1
    not_negative = target != -1
    below_margin = np.asarray(input.dtype.type(margin) - input)
    return input, target, shape, not_positive, not_negative, below_margin


@_silent
def hinge_embedding_loss(
    input: Any,
    target: Any,
    margin: float = 1.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Distance for similar pairs, hinge on the distance for dissimilar ones.

    Parameters
    ----------
    input : ndarray of floating dtype, any shape
        :math:`x`, meant to be a distance between two embeddings (so
        non-negative, though nothing checks it).
    target : ndarray broadcastable with `input`
        :math:`y = 1` for a similar pair, :math:`-1` for a dissimilar one.
        Any other value (0, 2, NaN, ``False``) gives
        :math:`x + \max(0, m - x)`, as torch's kernel does.  Boolean,
        integer or floating.
    margin : float, default 1.0
        The distance beyond which a dissimilar pair costs nothing.
    size_average, reduce : bool, optional
        Deprecated; when either is given it overrides `reduction` (with a
        warning).
    reduction : {'mean', 'sum', 'none'}
        ``'mean'`` divides the sum by the number of elements.

    Returns
    -------
    ndarray
        The loss, of the broadcast shape for ``'none'``, else 0-d; in the
        dtype of `input` (the target never promotes it).

    Raises
    ------
    ValueError
        If the shapes do not broadcast, or `reduction` is unknown.
    TypeError
        If `input` is not floating point, `target` is not real, or `margin`
        is not a real number.

    See Also
    --------
    torch.nn.HingeEmbeddingLoss, torch.nn.functional.hinge_embedding_loss

    Notes
    -----
    .. math::
        \ell_i = [y_i \ne -1]\, x_i + [y_i \ne 1] \max(0,\, m - x_i)

    Examples
    --------
    >>> distance = np.array([0.3, 0.3, 1.5])
    >>> hinge_embedding_loss(distance, [1, -1, -1], reduction="none")
    array([0.3, 0.7, 0. ])
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    input, _, shape, not_positive, not_negative, below_margin = (
        _hinge_embedding_prepare(input, target, margin)
    )
    zero = input.dtype.type(0)
    hinge = np.maximum(below_margin, zero, out=below_margin)
    loss = np.where(not_positive, hinge, zero)
    loss += np.where(not_negative, input, zero)
    return apply_reduction(loss, reduction)


@_silent
def hinge_embedding_loss_grad(
    input: Any,
    target: Any,
    margin: float = 1.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    grad_output: Any = None,
    wrt: Any = None,
) -> np.ndarray | tuple[np.ndarray, ...]:
    """Gradient of :func:`hinge_embedding_loss`: `input` by default.

    At the kink ``x == margin`` of a dissimilar pair torch's ``clamp_min``
    passes the gradient: the slope there is -1, not 0.  A floating target
    may be named in ``wrt``: it only selects terms (torch compares it with
    1 and -1), so its gradient is zeros, where torch's autograd has none.
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    input, target, shape, not_positive, not_negative, below_margin = (
        _hinge_embedding_prepare(input, target, margin)
    )
    names, single = resolve_wrt(
        wrt,
        ("input",),
        {"input": None, "target": _label_rule(target)},
        {"input": input, "target": target},
    )
    upstream = reduce_backward(grad_output, shape, input.dtype, reduction)
    zero = input.dtype.type(0)
    # The two terms reach x separately in torch's autograd, each summed
    # over the broadcast axes before they are added.
    through_input = np.where(not_negative, upstream, zero)
    through_hinge = np.where(
        not_positive & (below_margin >= 0), upstream, zero
    )
    gradients = {
        "input": np.asarray(
            _sum_to(through_input, input.shape)
            - _sum_to(through_hinge, input.shape)
        ),
        "target": np.zeros_like(target),
    }
    return pack_gradients(gradients, names, single)


# --- cosine embedding --------------------------------------------------------


def _cosine_prepare(input1: Any, input2: Any, target: Any, margin: Any):
    input1 = as_float_array(input1, "input1")
    input2 = as_float_array(input2, "input2")
    target = _label_array(target, allow_bool=True)
    margin = real_number(margin, "margin")
    if target.ndim > 1:
        raise ValueError(
            "target must be 0-D (one pair) or 1-D (a batch of pairs); got "
            f"shape {target.shape}"
        )
    expected = target.ndim + 1
    if not input1.ndim == input2.ndim == expected:
        raise ValueError(
            f"a {target.ndim}-D target needs {expected}-D input1 and input2, "
            f"of shape {'(N, D)' if target.ndim else '(D,)'}; got shapes "
            f"{input1.shape} and {input2.shape}"
        )
    pair_shape = common_shape(input1=input1, input2=input2)
    try:
        shape = np.broadcast_shapes(pair_shape[:-1], target.shape)
    except ValueError:
        raise ValueError(
            f"target of shape {target.shape} must have one label per pair, "
            f"or broadcast against the {pair_shape[0]} pairs of input1 and "
            "input2"
        ) from None
    return input1, input2, target, margin, shape


def _squared_norm(input: np.ndarray) -> np.ndarray:
    # EPSILON in the input's dtype, as torch adds a scalar: in float16 it
    # is 0, and a zero vector gives 0 / 0.
    return np.asarray(
        _sum_last(input * input) + input.dtype.type(COSINE_EPSILON)
    )


def _cosine(input1: np.ndarray, input2: np.ndarray):
    """Torch's cosine: sums over the last axis, ``EPSILON`` in each norm.

    Each squared norm is summed in its input's own dtype, as torch does
    (float16 in float32, rounded once).
    """
    # sqrt(|a|^2 |b|^2) rather than |a| |b|: torch's form, which overflows
    # (to a NaN cosine) once the squares or their product do, as torch's.
    product = _sum_last(input1 * input2)
    squared1 = _squared_norm(input1)
    squared2 = _squared_norm(input2)
    denominator = np.sqrt(squared1 * squared2)
    cosine = product / denominator
    return product, squared1, squared2, denominator, cosine


@_silent
def cosine_embedding_loss(
    input1: Any,
    input2: Any,
    target: Any,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Pull similar pairs to cosine 1, push dissimilar ones below a margin.

    Parameters
    ----------
    input1, input2 : ndarray of floating dtype, shape (N, D) or (D,)
        Embeddings :math:`a, b` of the two items of each pair; they
        broadcast together (a (1, D) array against an (N, D) one).
    target : ndarray of shape (N,) or ()
        :math:`y = 1` for a similar pair, :math:`-1` for a dissimilar one;
        any other value gives a loss of 0.  (N,) goes with (N, D) inputs
        and () with (D,) ones; it broadcasts against the N pairs.
    margin : float, default 0
        A dissimilar pair costs nothing once its cosine is at most `margin`;
        meant to be in [-1, 1].
    size_average, reduce : bool, optional
        Deprecated; when either is given it overrides `reduction` (with a
        warning).
    reduction : {'mean', 'sum', 'none'}
        ``'mean'`` divides the sum by the number of pairs.

    Returns
    -------
    ndarray
        The loss, of shape (N,) for ``'none'``, else 0-d; in the dtype of
        the two inputs promoted together (the target never promotes it).

    Raises
    ------
    ValueError
        If the target is not 0-D or 1-D, the inputs do not have one more
        dimension than the target, the shapes do not broadcast, or
        `reduction` is unknown.
    TypeError
        If an input is not floating point, `target` is not real, or `margin`
        is not a real number.

    See Also
    --------
    torch.nn.CosineEmbeddingLoss, torch.nn.functional.cosine_embedding_loss

    Notes
    -----
    With torch's :math:`\epsilon` = float32(1e-12) inside each norm,

    .. math::
        c_i = \frac{a_i \cdot b_i}
        {\sqrt{(\lVert a_i \rVert^2 + \epsilon)
        (\lVert b_i \rVert^2 + \epsilon)}}, \qquad
        \ell_i = [y_i = 1] (1 - c_i) + [y_i = -1] \max(0, c_i - m)

    Examples
    --------
    >>> a = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> b = np.array([[1.0, 1.0], [-1.0, 1.0]])
    >>> cosine_embedding_loss(a, b, [1, -1], reduction="none").round(6)
    array([0.292893, 0.      ])
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    input1, input2, target, margin, shape = _cosine_prepare(
        input1, input2, target, margin
    )
    cosine = _cosine(input1, input2)[-1]
    zero = cosine.dtype.type(0)
    similar = np.subtract(1, cosine, dtype=cosine.dtype)
    dissimilar = np.maximum(cosine - cosine.dtype.type(margin), zero)
    loss = np.where(target == 1, similar, zero)
    loss += np.where(target == -1, dissimilar, zero)
    return apply_reduction(loss, reduction)


@_silent
def cosine_embedding_loss_grad(
    input1: Any,
    input2: Any,
    target: Any,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    grad_output: Any = None,
    wrt: Any = None,
) -> np.ndarray | tuple[np.ndarray, ...]:
    r"""Gradients of :func:`cosine_embedding_loss`: both inputs by default.

    With :math:`A = \lVert a \rVert^2 + \epsilon`, :math:`d\,c/d\,a =
    b / \sqrt{A B} - c\, a / A`, and symmetrically for :math:`b`; computed in
    the order of torch's autograd.  A dissimilar pair exactly at the margin
    gets the gradient (torch's ``clamp_min`` convention).  A floating target
    may be named in ``wrt``: torch only compares it with 1 and -1, so its
    gradient is zeros, where torch's autograd has none.
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    input1, input2, target, margin, shape = _cosine_prepare(
        input1, input2, target, margin
    )
    names, single = resolve_wrt(
        wrt,
        ("input1", "input2"),
        {"input1": None, "input2": None, "target": _label_rule(target)},
        {"input1": input1, "input2": input2, "target": target},
    )
    product, squared1, squared2, denominator, cosine = _cosine(input1, input2)
    dtype = cosine.dtype
    zero = dtype.type(0)
    upstream = reduce_backward(grad_output, shape, dtype, reduction)
    pushed = (target == -1) & (cosine - dtype.type(margin) >= 0)
    grad_cosine = np.where(pushed, upstream, zero)
    grad_cosine -= np.where(target == 1, upstream, zero)
    grad_cosine = _sum_to(grad_cosine, cosine.shape)
    # cosine = product / denominator
    grad_product = grad_cosine / denominator
    grad_denominator = -grad_cosine * (cosine / denominator)
    # denominator = sqrt(squared1 * squared2)
    grad_squares = grad_denominator / (2 * denominator)
    # Summed over the pairs a squared norm was broadcast to, then stored in
    # its dtype, as autograd does (a float16 norm's float32 terms are summed
    # before they are rounded: inf, not inf - inf, where they overflow).
    terms1 = np.asarray(grad_squares * squared2)
    terms2 = np.asarray(grad_squares * squared1)
    grad_squared1 = _sum_to(terms1, squared1.shape).astype(squared1.dtype)
    grad_squared2 = _sum_to(terms2, squared2.shape).astype(squared2.dtype)
    grad_product = grad_product[..., None]
    # The square x * x sends grad * x to each of its two factors; the
    # product a * b was broadcast, so its terms are summed back first.
    from_square1 = grad_squared1[..., None] * input1
    from_square2 = grad_squared2[..., None] * input2
    pair_shape = np.broadcast_shapes(input1.shape, input2.shape)
    grad1 = _sum_to(
        np.broadcast_to(grad_product * input2, pair_shape), input1.shape
    )
    grad2 = _sum_to(
        np.broadcast_to(grad_product * input1, pair_shape), input2.shape
    )
    # In the order autograd adds them: the square's two terms first (its
    # node runs first, being the later one), then the product's.
    grad1 = from_square1 + from_square1 + grad1
    grad2 = from_square2 + from_square2 + grad2
    gradients = {
        "input1": grad1.astype(input1.dtype, copy=False),
        "input2": grad2.astype(input2.dtype, copy=False),
        "target": np.zeros_like(target),
    }
    return pack_gradients(gradients, names, single)


# The distances.  torch computes both as compositions of tensor operations
# (aten/src/ATen/native/Distance.cpp); so do these, in the same order, so that
# each step rounds as torch's does (a sum excepted, whose order torch picks
# for the CPU's vector instructions).


def _triplet_margin(margin: Any) -> float:
    # torch refuses margin <= 0; NaN slips through its comparison and makes
    # every loss NaN, so it is refused here too.
    return check_positive(margin, "margin", allow_zero=False)


def _shifted_difference(
    x1: np.ndarray, x2: np.ndarray, eps: float, names: tuple[str, str]
) -> np.ndarray:
    """``x1 - x2 + eps``, broadcast, in torch's dtype.

    Both arrays of one ``pairwise_distance`` meet in one subtraction, where
    a 0-d array does not promote a dimensioned one (:func:`result_dtype`).
    """
    common_shape(**{names[0]: x1, names[1]: x2})
    dtype = result_dtype(x1, x2)
    difference = np.subtract(x1, x2, dtype=dtype)
    difference += dtype.type(eps)  # eps rounded to the dtype, as torch does
    return difference


def _vector_norm(
    vectors: np.ndarray, p: float, axis_of_one_is_magnitude: bool = True
) -> np.ndarray:
    """The ``p``-norm over the last axis, kept as an axis of length 1.

    As ``torch.linalg.vector_norm``: a sum of powers, neither rescaled nor
    guarded, so it overflows where torch's does; ``p=0`` counts the non-zero
    entries, ``p=inf`` and ``p=-inf`` take the largest and smallest
    magnitude, and a negative ``p`` gives ``(sum |v_k|^p)^(1/p)``.  Torch
    reduces float16 in float32 and rounds the norm once, and takes the norm
    over an axis of length 1 to be the magnitude, with no power to overflow
    (``axis_of_one_is_magnitude``; not for a 0-d tensor, which it computes).
    """
    if vectors.shape[-1] == 0 and (p < 0 or np.isinf(p)):
        raise ValueError(
            f"p={p} has no value on vectors of length 0 (torch: the "
            "operation does not have an identity)"
        )
    if vectors.dtype == np.float16:
        norm = _vector_norm(
            vectors.astype(np.float32), p, axis_of_one_is_magnitude
        )
        return norm.astype(np.float16)
    if axis_of_one_is_magnitude and vectors.shape[-1] == 1 and p != 0:
        return np.abs(vectors)
    if p == 2:
        # A sum of products, torch's p=2 kernel; einsum makes no
        # temporary of squares.
        squares = np.einsum("...k,...k->...", vectors, vectors)
        return np.sqrt(squares)[..., None]
    magnitude = np.abs(vectors)
    if p == 1:
        return magnitude.sum(axis=-1, keepdims=True)
    if p == np.inf:
        return magnitude.max(axis=-1, keepdims=True)
    if p == -np.inf:
        return magnitude.min(axis=-1, keepdims=True)
    if p == 0:
        count = np.count_nonzero(vectors, axis=-1, keepdims=True)
        return count.astype(vectors.dtype)
    # The order and its reciprocal in the dtype, as torch's kernel has
    # them (1.0f / p in float32, not 1 / p rounded).
    order = vectors.dtype.type(p)
    powers = magnitude**order
    root = vectors.dtype.type(1) / order
    return powers.sum(axis=-1, keepdims=True) ** root


def _sign(values: np.ndarray) -> np.ndarray:
    """torch's ``sgn`` of a real tensor: 0 for NaN (NumPy's sign is NaN)."""
    return (values > 0).astype(values.dtype) - (values < 0).astype(
        values.dtype
    )


def _vector_norm_backward(
    vectors: np.ndarray, norm: np.ndarray, p: float, upstream: np.ndarray
) -> np.ndarray:
    """Gradient of :func:`_vector_norm`: torch's ``norm_backward``.

    Case by case as torch's autograd (``FunctionsManual.cpp``), including its
    choices where the norm is not differentiable: 0 at a zero vector (for
    ``p >= 1``), ``sgn(0) = 0`` for ``p=1``, the gradient shared equally by
    tied largest entries for ``p=inf``, and nothing at all for ``p=0``.
    Each operation in the dtype of the vectors (float16 rounded at each
    step, as torch's autograd computes it), and ``sgn(NaN) = 0``: a NaN
    entry whose gradient is 0 sends 0, not NaN.
    """
    if p == 0:
        return np.zeros_like(vectors)
    sign = _sign(vectors)
    if p == 1:
        return sign * upstream
    if p == 2:
        return upstream * np.where(norm == 0, 0, vectors / norm)
    magnitude = np.abs(vectors)
    if np.isinf(p):
        ties = (magnitude == norm) | np.isnan(magnitude)
        count = ties.sum(axis=-1, keepdims=True).astype(vectors.dtype)
        return sign * (upstream / count * ties)
    if p < 1:
        powers = np.where(vectors == 0, 0, magnitude ** (p - 1))
        return sign * powers * upstream * norm ** (1 - p)
    scale = np.where(norm == 0, 0, upstream / norm ** (p - 1))
    if p < 2:
        return sign * magnitude ** (p - 1) * scale
    return vectors * magnitude ** (p - 2) * scale


def _distance(
    x1: np.ndarray,
    x2: np.ndarray,
    p: float,
    eps: float,
    names: tuple[str, str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(distance, difference, norm)`` of ``pairwise_distance``.

    The difference gets a trailing axis when it is 0-d (torch reduces a
    0-d tensor over ``dim=-1`` with the norm's formula, where it takes an
    axis of length 1 to be the magnitude); ``norm`` keeps that axis for the
    backward pass and ``distance`` drops it.
    """
    difference = _shifted_difference(x1, x2, eps, names)
    zero_dimensional = difference.ndim == 0
    if zero_dimensional:
        difference = difference.reshape(1)
    norm = _vector_norm(difference, p, not zero_dimensional)
    return norm[..., 0], difference, norm


@_silent
def pairwise_distance(
    x1: Any,
    x2: Any,
    p: float = 2.0,
    eps: float = 1e-6,
    keepdim: bool = False,
) -> np.ndarray:
    r"""The ``p``-norm distance of ``x1 - x2 + eps`` along the last axis.

    Parameters
    ----------
    x1, x2 : ndarray of shape (..., D), broadcastable
        The vectors, along the last axis of the broadcast shape.
    p : float, default 2.0
        The order of the norm: any real number, ``inf`` and ``-inf``.
    eps : float, default 1e-6
        Added to every component of the difference (not to the norm).
    keepdim : bool, default False
        Keep the last axis, with length 1 (not for 0-d inputs).

    Returns
    -------
    ndarray of shape (...)
        The distances, in the dtype of ``x1 - x2``.

    Raises
    ------
    ValueError
        If the shapes do not broadcast, or ``p`` is ``inf``, ``-inf`` or
        negative on vectors of length 0.
    TypeError
        If an input is not floating point, or a parameter has the wrong
        type.

    See Also
    --------
    torch.nn.functional.pairwise_distance, torch.nn.PairwiseDistance

    Notes
    -----
    With :math:`\mathbf{1}` the vector of ones,

    .. math::
        d(x_1, x_2) = \lVert x_1 - x_2 + \varepsilon \mathbf{1} \rVert_p
        = \Bigl(\sum_k \lvert x_{1k} - x_{2k} + \varepsilon \rvert^p
        \Bigr)^{1/p} .

    So the distance is not symmetric, :math:`d(x, x) = \varepsilon
    D^{1/p}`, not 0, and it is smallest at :math:`x_1 = x_2 -
    \varepsilon \mathbf{1}`.

    Examples
    --------
    >>> float(pairwise_distance([0.0, 0.0], [3.0, 4.0], eps=0.0))
    5.0
    >>> pairwise_distance([[1.0, 1.0]], [[1.0, 1.0]])  # eps * sqrt(2)
    array([1.41421356e-06])
    """
    x1, x2 = as_float_array(x1, "x1"), as_float_array(x2, "x2")
    p, eps = real_number(p, "p"), real_number(eps, "eps")
    keepdim = check_flag(keepdim, "keepdim")
    distance, difference, norm = _distance(x1, x2, p, eps, ("x1", "x2"))
    if keepdim and max(x1.ndim, x2.ndim) > 0:
        return norm
    return np.asarray(distance)


@_silent
def cosine_similarity(
    x1: Any, x2: Any, dim: int = 1, eps: float = 1e-8
) -> np.ndarray:
    r"""Cosine of the angle between ``x1`` and ``x2`` along axis ``dim``.

    Parameters
    ----------
    x1, x2 : ndarray, broadcastable
        The vectors, along axis `dim` of the broadcast shape.
    dim : int, default 1
        The axis of the broadcast shape; a 1-D input needs ``dim=0`` or
        ``dim=-1``.
    eps : float, default 1e-8
        Each norm is raised to at least `eps` before it divides.

    Returns
    -------
    ndarray
        The broadcast shape without axis `dim`.

    Raises
    ------
    ValueError
        If the shapes do not broadcast, `dim` is out of range or `eps` is
        negative or NaN.
    TypeError
        If an input is not floating point, or `dim` is not an integer.

    See Also
    --------
    torch.nn.functional.cosine_similarity, torch.nn.CosineSimilarity

    Notes
    -----
    As torch 2.13 computes it, each vector is divided by its clamped norm
    first and the normalised vectors are then multiplied, which keeps the
    result within :math:`[-1, 1]`:

    .. math::
        \cos(x_1, x_2) = \sum_k \frac{x_{1k}}{\max(\lVert x_1 \rVert_2,
        \varepsilon)} \, \frac{x_{2k}}{\max(\lVert x_2 \rVert_2,
        \varepsilon)} .

    A zero vector has similarity 0 with everything.

    Examples
    --------
    >>> float(cosine_similarity([1.0, 0.0], [1.0, 1.0], dim=0))
    0.7071067811865475
    >>> cosine_similarity([[0.0, 0.0]], [[1.0, 1.0]])
    array([0.])
    """
    x1, x2 = as_float_array(x1, "x1"), as_float_array(x2, "x2")
    if isinstance(dim, (bool, np.bool_)) or not isinstance(
        dim, (int, np.integer)
    ):
        raise TypeError(f"dim must be an integer; got {dim!r}")
    eps = check_positive(eps, "eps", allow_zero=True)
    shape = common_shape(x1=x1, x2=x2)
    ndim = max(len(shape), 1)  # torch lets a 0-d tensor have axis 0 (or -1)
    if not -ndim <= dim < ndim:
        raise ValueError(
            f"dim must be in [{-ndim}, {ndim - 1}] for inputs of broadcast "
            f"shape {shape}; got {dim}"
        )
    # torch broadcasts first: a 0-d float64 x2 no longer counts as 0-d.
    # The vectors are moved to the last axis, where the norm takes them.
    x1, x2 = (
        np.moveaxis(np.broadcast_to(x, shape or (1,)), dim, -1)
        for x in (x1, x2)
    )
    dtype = np.result_type(x1, x2)
    if dtype == np.float32 and eps > np.finfo(np.float32).max:
        raise ValueError(
            f"eps={eps} is beyond float32's range (torch: value cannot be "
            "converted to type float without overflow)"
        )
    # The clamp does not reach the gradient in torch (it runs under
    # no_grad); lossnotes has no gradient for this function.
    norm1 = np.maximum(_vector_norm(x1, 2, bool(shape)), eps)
    norm2 = np.maximum(_vector_norm(x2, 2, bool(shape)), eps)
    return _sum_last((x1 / norm1) * (x2 / norm2))


# The triplet losses.

_TRIPLET_NAMES = ("anchor", "positive", "negative")


def _triplet_inputs(
    anchor: Any, positive: Any, negative: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arrays = (
        as_float_array(anchor, "anchor"),
        as_float_array(positive, "positive"),
        as_float_array(negative, "negative"),
    )
    dims = [array.ndim for array in arrays]
    if len(set(dims)) != 1:
        raise ValueError(
            "anchor, positive and negative must have the same number of "
            f"dimensions; got anchor {dims[0]}-D, positive {dims[1]}-D and "
            f"negative {dims[2]}-D"
        )
    return arrays


def _triplet_violation(
    margin: float, positive_distance: Any, negative_distance: Any
) -> np.ndarray:
    """``margin + d(a, p) - d(a, n)``, the clamp's argument.

    In torch's order of operations, so that it rounds as torch's does.
    """
    positive_distance = np.asarray(positive_distance)
    negative_distance = np.asarray(negative_distance)
    common_shape(
        **{
            "the positive distance": positive_distance,
            "the negative distance": negative_distance,
        }
    )
    # inf - inf is NaN, as in torch (and NumPy says nothing, as torch).
    with np.errstate(all="ignore"):
        return np.asarray(margin + positive_distance - negative_distance)


@dataclass
class _Triplet:
    """The forward pass of ``triplet_margin_loss``, kept for the backward."""

    inputs: tuple[np.ndarray, np.ndarray, np.ndarray]
    pairs: list[tuple[int, int, np.ndarray, np.ndarray]]  # i, j, v, norm
    swap: np.ndarray | None  # d(p, n) when swapping
    negative_distance: np.ndarray  # d(a, n), before the swap
    margin_violation: np.ndarray  # margin + d(a, p) - d(a, n), unclamped


def _triplet_forward(
    anchor: Any,
    positive: Any,
    negative: Any,
    margin: Any,
    p: Any,
    eps: Any,
    swap: Any,
) -> _Triplet:
    margin = _triplet_margin(margin)
    p, eps = real_number(p, "p"), real_number(eps, "eps")
    swap = check_flag(swap, "swap")
    inputs = _triplet_inputs(anchor, positive, negative)
    names = _TRIPLET_NAMES
    pairs = []
    distances = []
    for i, j in ((0, 1), (0, 2), (1, 2))[: 3 if swap else 2]:
        distance, difference, norm = _distance(
            inputs[i], inputs[j], p, eps, (names[i], names[j])
        )
        pairs.append((i, j, difference, norm))
        distances.append(distance)
    swapped = None
    negative_distance = distances[1]
    if swap:
        swapped = distances[2]
        common_shape(
            **{
                "d(anchor, negative)": negative_distance,
                "d(positive, negative)": swapped,
            }
        )
        negative_distance = np.minimum(distances[1], swapped)
    violation = _triplet_violation(margin, distances[0], negative_distance)
    return _Triplet(inputs, pairs, swapped, distances[1], violation)


def _triplet_backward(
    triplet: _Triplet, p: float, reduction: str, grad_output: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients with respect to anchor, positive and negative.

    Torch's autograd through the clamp (the gradient passes where the
    violation is ``>= 0``, so also exactly at the margin), the swap's
    ``minimum`` (split in halves at a tie) and each distance's norm.
    """
    violation = triplet.margin_violation
    upstream = reduce_backward(
        grad_output, violation.shape, violation.dtype, reduction
    )
    active = np.where(violation >= 0, upstream, 0)
    # d(a, p) enters with +1, the negative distance with -1.
    pair_upstream = [active, -active]
    if triplet.swap is not None:
        anchor_side, swapped = triplet.negative_distance, triplet.swap
        # torch.minimum's backward: halves at a tie, the whole gradient to
        # both sides where one is NaN (neither is larger).
        negative = -active
        negative = np.where(anchor_side == swapped, negative / 2, negative)
        pair_upstream[1] = np.where(anchor_side > swapped, 0, negative)
        pair_upstream.append(np.where(anchor_side < swapped, 0, negative))
    grads = [np.zeros(x.shape, dtype=x.dtype) for x in triplet.inputs]
    for (i, j, difference, norm), incoming in zip(
        triplet.pairs, pair_upstream
    ):
        incoming = _sum_to(incoming, norm.shape[:-1])[..., None]
        grad = _vector_norm_backward(difference, norm, p, incoming)
        for index, sign in ((i, 1), (j, -1)):
            shape = triplet.inputs[index].shape
            # _sum_to also sums away the axis a 0-d difference got.
            grads[index] += sign * _sum_to(grad, shape).astype(
                grads[index].dtype, copy=False
            )
    return tuple(grads)


@_silent
def triplet_margin_loss(
    anchor: Any,
    positive: Any,
    negative: Any,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Triplet loss with the ``p``-norm distance of :func:`pairwise_distance`.

    Parameters
    ----------
    anchor, positive, negative : ndarray of shape (N, D) or (D,)
        Embeddings: each anchor should be nearer its positive than its
        negative.  Any number of leading axes is allowed, all three with the
        same number of dimensions (they broadcast).
    margin : float, default 1.0
        How much nearer; must be positive.
    p : float, default 2
        The order of the norm of :func:`pairwise_distance`.
    eps : float, default 1e-6
        Added to every component of each difference.
    swap : bool, default False
        Use the smaller of ``d(anchor, negative)`` and
        ``d(positive, negative)`` as the negative distance (Balntas et al.,
        2016).
    size_average, reduce : bool, optional
        Deprecated; when either is given it overrides `reduction` (with a
        warning).
    reduction : {'mean', 'sum', 'none'}
        How to reduce the per-triplet losses.

    Returns
    -------
    ndarray
        The loss: shape (N,) for ``'none'`` (0-d for unbatched inputs), 0-d
        otherwise.

    Raises
    ------
    ValueError
        If `margin` is not positive, the inputs differ in their number of
        dimensions or do not broadcast, or `reduction` is unknown.
    TypeError
        If an input is not floating point, or a parameter has the wrong
        type.

    See Also
    --------
    torch.nn.TripletMarginLoss, torch.nn.functional.triplet_margin_loss,
    triplet_margin_with_distance_loss, pairwise_distance

    Notes
    -----
    With :math:`d` the distance of :func:`pairwise_distance`,

    .. math::
        \ell_i = \max\bigl(m + d(a_i, p_i) - d(a_i, n_i), 0\bigr),

    and with ``swap=True`` the negative distance is
    :math:`\min(d(a_i, n_i), d(p_i, n_i))`.

    Examples
    --------
    >>> a, p, n = [[0.0, 0.0]], [[3.0, 4.0]], [[6.0, 8.0]]
    >>> triplet_margin_loss(a, p, n, margin=6.0, eps=0.0, reduction="none")
    array([1.])
    >>> float(triplet_margin_loss(a, n, p, eps=0.0))  # 1 + 10 - 5
    6.0
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    triplet = _triplet_forward(
        anchor, positive, negative, margin, p, eps, swap
    )
    loss = np.asarray(np.maximum(triplet.margin_violation, 0))
    return apply_reduction(loss, reduction)


@_silent
def triplet_margin_loss_grad(
    anchor: Any,
    positive: Any,
    negative: Any,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    grad_output: Any = None,
    wrt: Any = None,
) -> np.ndarray | tuple[np.ndarray, ...]:
    """Gradients of :func:`triplet_margin_loss`: anchor, positive, negative.

    Where the loss is not differentiable it is torch's choice: the gradient
    of the active branch exactly at the margin, halves at a tie of the swap,
    and ``norm_backward``'s values at a zero difference.  ``wrt`` may name
    any of the three (there is no target).
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    triplet = _triplet_forward(
        anchor, positive, negative, margin, p, eps, swap
    )
    names, single = _triplet_wrt(wrt, triplet.inputs)
    gradients = _triplet_backward(triplet, float(p), reduction, grad_output)
    return pack_gradients(dict(zip(_TRIPLET_NAMES, gradients)), names, single)


def _triplet_wrt(
    wrt: Any, inputs: tuple[np.ndarray, ...]
) -> tuple[tuple[str, ...], bool]:
    """:func:`resolve_wrt` for the three embeddings, all differentiable."""
    return resolve_wrt(
        wrt,
        _TRIPLET_NAMES,
        dict.fromkeys(_TRIPLET_NAMES),
        dict(zip(_TRIPLET_NAMES, inputs)),
    )


def triplet_margin_with_distance_loss(
    anchor: Any,
    positive: Any,
    negative: Any,
    *,
    distance_function: Callable[[Any, Any], Any] | None = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Triplet loss with any distance function.

    Parameters
    ----------
    anchor, positive, negative : ndarray of shape (N, ...)
        Embeddings, all with the same number of dimensions, of any shape
        `distance_function` takes.
    distance_function : callable, optional
        ``distance_function(x1, x2)`` returns the distances, one per
        triplet, as an array (NumPy in, NumPy out).  Default:
        :func:`pairwise_distance` with its defaults.
    margin : float, default 1.0
        Must be positive.
    swap : bool, default False
        Use ``min(d(anchor, negative), d(positive, negative))`` as the
        negative distance.
    reduction : {'mean', 'sum', 'none'}
        How to reduce the per-triplet losses.

    Returns
    -------
    ndarray
        The loss: the distances' shape for ``'none'``, 0-d otherwise.

    Raises
    ------
    ValueError
        If `margin` is not positive, the inputs differ in their number of
        dimensions, or `reduction` is unknown.
    TypeError
        If an input is not floating point, `distance_function` is not
        callable, or a parameter has the wrong type.

    See Also
    --------
    torch.nn.TripletMarginWithDistanceLoss,
    torch.nn.functional.triplet_margin_with_distance_loss,
    triplet_margin_loss

    Notes
    -----
    With :math:`\delta` the distance function,

    .. math::
        \ell_i = \max\bigl(m + \delta(a_i, p_i) - \delta(a_i, n_i), 0\bigr);

    with the default distance it is :func:`triplet_margin_loss` with
    ``p=2`` and ``eps=1e-6``.

    Examples
    --------
    >>> a, p, n = [[0.0, 0.0]], [[3.0, 4.0]], [[6.0, 8.0]]
    >>> loss = triplet_margin_with_distance_loss(a, n, p)  # 1 + 10 - 5
    >>> round(float(loss), 9)  # the eps shifts both distances alike
    6.0
    >>> def cosine_distance(x1, x2):
    ...     return 1.0 - cosine_similarity(x1, x2)
    >>> loss = triplet_margin_with_distance_loss(
    ...     [[1.0, 0.0]], [[1.0, 1.0]], [[0.0, 1.0]],
    ...     distance_function=cosine_distance)
    >>> round(float(loss), 6)  # 1 + (1 - cos 45 degrees) - (1 - 0)
    0.292893
    """
    reduction = check_reduction(reduction)
    margin = _triplet_margin(margin)
    swap = check_flag(swap, "swap")
    anchor, positive, negative = _triplet_inputs(anchor, positive, negative)
    if distance_function is None:
        distance_function = pairwise_distance
        # Refused here rather than inside, where they are only x1 and x2.
        names = _TRIPLET_NAMES
        arrays = (anchor, positive, negative)
        for i, j in ((0, 1), (0, 2), (1, 2))[: 3 if swap else 2]:
            common_shape(**{names[i]: arrays[i], names[j]: arrays[j]})
    elif not callable(distance_function):
        raise TypeError(
            "distance_function must be callable (or None); "
            f"got {distance_function!r}"
        )
    positive_distance = distance_function(anchor, positive)
    negative_distance = np.asarray(distance_function(anchor, negative))
    if swap:
        negative_distance = np.minimum(
            negative_distance, distance_function(positive, negative)
        )
    violation = _triplet_violation(
        margin, positive_distance, negative_distance
    )
    return apply_reduction(np.asarray(np.maximum(violation, 0)), reduction)


@_silent
def triplet_margin_with_distance_loss_grad(
    anchor: Any,
    positive: Any,
    negative: Any,
    *,
    distance_function: Callable[[Any, Any], Any] | None = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
    grad_output: Any = None,
    wrt: Any = None,
) -> np.ndarray | tuple[np.ndarray, ...]:
    """Gradient of :func:`triplet_margin_with_distance_loss`, default distance.

    lossnotes cannot differentiate an arbitrary NumPy callable, so a
    `distance_function` other than None (or
    :func:`lossnotes.pairwise_distance` itself) is refused with
    ``TypeError``.  ``wrt`` may name any of the three embeddings; `margin`
    is a number, not an array, and has no gradient here.
    """
    reduction = check_reduction(reduction)
    inputs = _triplet_inputs(anchor, positive, negative)  # refused first
    names, single = _triplet_wrt(wrt, inputs)
    if distance_function not in (None, pairwise_distance):
        name = getattr(distance_function, "__qualname__", distance_function)
        raise TypeError(
            "distance_function: lossnotes.grad."
            "triplet_margin_with_distance_loss differentiates only the "
            f"default distance (pairwise_distance); got {name!r}"
        )
    triplet = _triplet_forward(
        anchor, positive, negative, margin, 2.0, 1e-6, swap
    )
    gradients = _triplet_backward(triplet, 2.0, reduction, grad_output)
    return pack_gradients(dict(zip(_TRIPLET_NAMES, gradients)), names, single)
