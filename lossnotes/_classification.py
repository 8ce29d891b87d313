"""Classification losses and the stable helpers they are built on.

``log_softmax``, ``softmax``, ``sigmoid`` and ``logsigmoid`` are the four
functions every likelihood-based loss of torch.nn needs, written so that they
stay finite where the textbook formula overflows: shift by the maximum before
exponentiating, and take ``log1p`` of a number that is at most one.  The later
families (likelihoods, margins, sequences) import them from here.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np

from ._core import (
    apply_reduction,
    as_float_array,
    reduce_backward,
    resolve_reduction,
    result_dtype,
)

__all__ = [
    "log_softmax",
    "logsigmoid",
    "sigmoid",
    "softmax",
    "cross_entropy",
    "cross_entropy_grad",
    "nll_loss",
    "nll_loss_grad",
    "binary_cross_entropy",
    "binary_cross_entropy_grad",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_grad",
]


def _quiet(function: Any) -> Any:
    """``function`` with NumPy's floating-point warnings off: torch's
    arithmetic never warns (an overflow is inf, 0 / 0 NaN), nor does
    lossnotes'."""

    @functools.wraps(function)
    def quiet(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(all="ignore"):
            return function(*args, **kwargs)

    return quiet


def _softmax_dim(name: str, ndim: int, dim: Any, stacklevel: int) -> int:
    """The axis a softmax runs along, chosen and checked as torch does.

    Without ``dim`` torch picks one from the number of dimensions (0 for 0-,
    1- and 3-dimensional input, else 1) and warns that the choice is
    deprecated; an axis out of range is refused.
    """
    if dim is None:
        dim = 0 if ndim in (0, 1, 3) else 1
        warnings.warn(
            f"Implicit dimension choice for {name} has been deprecated. "
            "Change the call to include dim=X as an argument.",
            UserWarning,
            stacklevel=stacklevel + 1,
        )
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"dim must be an integer; got {dim!r}")
    # A 0-d tensor has one axis for this purpose, as in torch.
    axes = max(ndim, 1)
    if not -axes <= dim < axes:
        raise ValueError(
            f"dim must be in [{-axes}, {axes - 1}] for an input with {ndim} "
            f"dimensions; got {dim}"
        )
    return int(dim) % axes


def _softmax_input(input: Any, dtype: Any) -> np.ndarray:
    input = as_float_array(input, "input")
    if dtype is not None:
        input = input.astype(np.dtype(dtype))
    return input


@_quiet
def log_softmax(
    input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> np.ndarray:
    r"""Logarithm of the softmax along ``dim``, without overflow.

    Parameters
    ----------
    input : array_like of floating dtype, any shape
        Logits.
    dim : int, optional
        The axis that holds the classes.  Without it torch's deprecated
        implicit choice is made (0 for 0-, 1- and 3-dimensional input, else
        1), with torch's warning.
    _stacklevel : int, optional
        Where the implicit-dimension warning points, as in torch.
    dtype : dtype, optional
        Cast ``input`` to this dtype first.

    Returns
    -------
    ndarray
        Log-probabilities of the shape and dtype of ``input``.

    Raises
    ------
    TypeError
        If ``input`` is not floating point or ``dim`` is not an integer.
    ValueError
        If ``dim`` is out of range.

    See Also
    --------
    torch.nn.functional.log_softmax

    Notes
    -----
    With :math:`m = \max_j x_j`,

    .. math::

        \log \operatorname{softmax}(x)_i
        = (x_i - m) - \log \sum_j e^{x_j - m} .

    Every exponent is at most zero, so nothing overflows, and the sum is at
    least one, so its logarithm is finite: the naive
    :math:`\log(e^{x_i} / \sum_j e^{x_j})` gives ``nan`` or ``-inf`` as soon
    as a logit passes about 710 (float64) or 89 (float32).

    Examples
    --------
    >>> log_softmax(np.array([1000.0, 1.0]), dim=0)
    array([   0., -999.])
    """
    input = _softmax_input(input, dtype)
    axis = _softmax_dim("log_softmax", input.ndim, dim, _stacklevel)
    logits = input.reshape(input.shape or (1,))
    shifted = logits - np.max(logits, axis=axis, keepdims=True)
    total = np.sum(np.exp(shifted), axis=axis, keepdims=True)
    return (shifted - np.log(total)).reshape(input.shape)


@_quiet
def softmax(
    input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> np.ndarray:
    r"""Softmax along ``dim``, without overflow.

    Parameters
    ----------
    input : array_like of floating dtype, any shape
        Logits.
    dim : int, optional
        The axis that holds the classes (torch's implicit choice, with its
        warning, when omitted; see :func:`log_softmax`).
    _stacklevel : int, optional
        Where the implicit-dimension warning points, as in torch.
    dtype : dtype, optional
        Cast ``input`` to this dtype first.

    Returns
    -------
    ndarray
        Probabilities of the shape and dtype of ``input``, summing to one
        along ``dim``.

    Raises
    ------
    TypeError
        If ``input`` is not floating point or ``dim`` is not an integer.
    ValueError
        If ``dim`` is out of range.

    See Also
    --------
    torch.nn.functional.softmax

    Notes
    -----
    .. math::

        \operatorname{softmax}(x)_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}},
        \qquad m = \max_j x_j ,

    the same value as :math:`e^{x_i} / \sum_j e^{x_j}`, which overflows to
    ``inf / inf = nan`` for large logits.

    Examples
    --------
    >>> softmax(np.array([1000.0, 1000.0]), dim=0)
    array([0.5, 0.5])
    """
    input = _softmax_input(input, dtype)
    axis = _softmax_dim("softmax", input.ndim, dim, _stacklevel)
    logits = input.reshape(input.shape or (1,))
    exponentials = np.exp(logits - np.max(logits, axis=axis, keepdims=True))
    exponentials /= np.sum(exponentials, axis=axis, keepdims=True)
    return exponentials.reshape(input.shape)


@_quiet
def sigmoid(input: Any) -> np.ndarray:
    r"""Logistic sigmoid, without overflow for logits of either sign.

    Parameters
    ----------
    input : array_like of floating dtype, any shape
        Logits.

    Returns
    -------
    ndarray
        :math:`\sigma(x)` in [0, 1], of the shape and dtype of ``input``.

    Raises
    ------
    TypeError
        If ``input`` is not floating point.

    See Also
    --------
    torch.sigmoid, torch.nn.functional.sigmoid

    Notes
    -----
    With :math:`e = e^{-\lvert x \rvert} \le 1`,

    .. math::

        \sigma(x) = \frac{1}{1 + e^{-x}} =
        \begin{cases} 1 / (1 + e) & x \ge 0, \\
                      e / (1 + e) & x < 0 , \end{cases}

    so the exponential never overflows (``exp(-x)`` does for
    :math:`x < -710` in float64, and NumPy warns).

    Examples
    --------
    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    array([0. , 0.5, 1. ])
    """
    input = as_float_array(input, "input")
    if input.dtype == _HALF:  # torch's float16: in float32, rounded once
        return _half_of(sigmoid, input)
    small = np.exp(-np.abs(input))
    ratio = 1 / (1 + small)
    # For x < 0 the value is small / (1 + small): the complement, computed
    # without the cancellation of 1 - ratio.
    return np.where(input >= 0, ratio, small * ratio).astype(
        input.dtype, copy=False
    )


@_quiet
def logsigmoid(input: Any) -> np.ndarray:
    r"""Logarithm of the sigmoid, finite for every finite logit.

    Parameters
    ----------
    input : array_like of floating dtype, any shape
        Logits.

    Returns
    -------
    ndarray
        :math:`\log \sigma(x) \le 0`, of the shape and dtype of ``input``.

    Raises
    ------
    TypeError
        If ``input`` is not floating point.

    See Also
    --------
    torch.nn.functional.logsigmoid

    Notes
    -----
    .. math::

        \log \sigma(x) = -\log(1 + e^{-x})
        = \min(x, 0) - \operatorname{log1p}\bigl(e^{-\lvert x \rvert}\bigr) .

    The exponent is at most zero, and ``log1p`` keeps the digits of a small
    argument: :math:`\log \sigma(-10^4) = -10^4` where ``log(sigmoid(x))``
    gives ``-inf``, and :math:`\log \sigma(40) \approx -4.2 \cdot 10^{-18}`
    where it gives 0.

    Examples
    --------
    >>> logsigmoid(np.array([-1e4, 0.0]))
    array([-1.00000000e+04, -6.93147181e-01])
    """
    input = as_float_array(input, "input")
    if input.dtype == _HALF:  # torch's float16: in float32, rounded once
        return _half_of(logsigmoid, input)
    return np.minimum(input, 0) - np.log1p(np.exp(-np.abs(input)))


# float16, as torch's CPU kernels compute it.  Each operation on float16
# ("Half") tensors computes in float32 and rounds its result to float16, so
# an expression of several operations is rounded after each one: NumPy's
# float16 arithmetic does exactly that, and the losses below follow torch's
# operations one by one.  A transcendental function (exp, log, log1p, the
# log-sigmoid) is evaluated in float32 and rounded to float16 once; here in
# float64 and rounded to float32 first, which gives torch's float16 unless
# torch's float32 result lies on the other side of a float16 rounding
# boundary, a few times in ten thousand (one ulp of the function's result).
_HALF = np.dtype(np.float16)


def _float32_of(function: Any, values: Any) -> np.ndarray:
    """``function`` of ``values`` in float64, rounded to float32."""
    with np.errstate(all="ignore"):
        result = function(np.asarray(values, dtype=np.float64))
        return np.asarray(result).astype(np.float32)


def _half_of(function: Any, values: Any) -> np.ndarray:
    """``function`` as torch's float16 kernels give it: float32, rounded."""
    with np.errstate(over="ignore"):  # past 65504 the float16 is inf
        return _float32_of(function, values).astype(_HALF)


def _half_scaled(values: Any, factor: float, divide: bool = False):
    """A float16 tensor times (or over) a Python number, as torch: in
    float32 with the number rounded to float32, the result to float16."""
    values = np.asarray(values, dtype=np.float32)
    with np.errstate(all="ignore"):
        if divide:
            return np.asarray(values / np.float32(factor)).astype(_HALF)
        return np.asarray(values * np.float32(factor)).astype(_HALF)


def _half_sum(values: np.ndarray, axis: Any = None) -> np.ndarray:
    """torch's sum of float16: accumulated in float32, rounded once."""
    with np.errstate(over="ignore"):
        return np.asarray(np.sum(values, axis=axis, dtype=np.float32)).astype(
            _HALF
        )


def _half_log_softmax(input: np.ndarray, axis: int) -> np.ndarray:
    """torch's float16 log_softmax: ``(x - m) - log sum exp(x - m)`` in
    float32, rounded to float16.  Along the last axis its kernel
    (``_vec_log_softmax_lastdim``) keeps the sum of exponentials and its
    log in float16 buffers, so both are rounded to float16 as well; along
    another axis the sum runs class by class in float32."""
    values = input.astype(np.float32)
    with np.errstate(invalid="ignore"):
        shifted = values - np.max(
            values, axis=axis, keepdims=True, initial=-np.inf
        )
    exponentials = _float32_of(np.exp, shifted)
    if axis == input.ndim - 1:
        total = np.sum(exponentials, axis=axis, keepdims=True)
        with np.errstate(over="ignore"):
            total = total.astype(_HALF)
        log_total = _half_of(np.log, total)
    else:
        total = np.zeros_like(np.sum(shifted, axis=axis, keepdims=True))
        for column in range(input.shape[axis]):
            total += np.take(exponentials, [column], axis=axis)
        log_total = _float32_of(np.log, total)
    with np.errstate(invalid="ignore"):
        return (shifted - log_total.astype(np.float32)).astype(_HALF)


def _half_log_softmax_grad(
    grad: np.ndarray, log_probs: np.ndarray, axis: int
) -> np.ndarray:
    """torch's float16 log_softmax backward from its float16 output:
    ``g - exp(output) * sum(g)`` in float32, with one rounding for the
    product and the difference (its vectorised loop's fused multiply-add),
    then rounded to float16."""
    total = np.sum(grad, axis=axis, keepdims=True, dtype=np.float32)
    product = _float32_of(np.exp, log_probs).astype(np.float64) * total
    with np.errstate(all="ignore"):
        fused = (grad.astype(np.float64) - product).astype(np.float32)
        return fused.astype(_HALF)


def _cascade_sum(terms: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """torch's sum in ``nll_loss`` (``nll_loss_out_frame`` and its 2-D
    twin in aten/src/ATen/native/LossNLL*.cpp), in the terms' dtype.

    The kernel adds each kept target's term, at linear ``position`` b, to
    a partial sum of level 0; when b is a multiple of 16**k (but of no
    higher power, k <= 7; b = 0 counts as 16**7) the partial sums of levels
    0 .. k-1 are each added into the next one and reset.  At the end the
    eight partial sums are added up from level 0.  In float16 each
    addition rounds, so the order is the result; the loop over 16
    positions at a time below follows it with one operation per column.
    """
    dtype = terms.dtype.type
    depth = np.zeros(positions.shape, dtype=np.int64)
    for level in range(7):
        # The kernel's level_power is 4 for fewer than 2**40 positions.
        at_level = (positions & (0xF << (4 * level))) == 0
        depth += at_level & (depth == level)
    items, item_depth = terms, depth
    leftovers = []
    for level in range(8):
        ends = item_depth > level if level < 7 else np.zeros(0, bool)
        ends = np.pad(ends, (0, items.size - ends.size))
        # Segment s holds the items after the (s-1)-th end up to the s-th.
        segment = np.cumsum(ends) - ends
        count = int(ends.sum())
        starts = np.searchsorted(segment, np.arange(count + 1))
        column = np.arange(items.size) - starts[segment]
        width = int(column.max(initial=-1)) + 1
        table = np.zeros((count + 1, width), dtype=terms.dtype)
        table[segment, column] = items
        sums = np.zeros(count + 1, dtype=terms.dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            for values in table.T:
                sums = sums + values
        leftovers.append(sums[count])
        items, item_depth = sums[:count], item_depth[ends]
    total = dtype(0)
    with np.errstate(over="ignore", invalid="ignore"):
        for partial in leftovers:
            total = dtype(total + partial)
    return np.asarray(total)


# torch's nll_loss takes class indices as int64 ("Long") or uint8 ("Byte")
# and refuses every other dtype, int32 included.
_INDEX_DTYPES = (np.dtype(np.int64), np.dtype(np.uint8))


def _class_axis(input: np.ndarray) -> int:
    """The axis of the classes: 0 for an unbatched ``(C,)`` input, else 1."""
    if input.ndim == 0:
        raise ValueError(
            "input must have shape (C,), (N, C) or (N, C, d1, ..., dK); "
            "got a 0-d array"
        )
    return 0 if input.ndim == 1 else 1


def _check_ignore_index(ignore_index: Any) -> int:
    if isinstance(ignore_index, bool) or not isinstance(
        ignore_index, (int, np.integer)
    ):
        raise TypeError(f"ignore_index must be an int; got {ignore_index!r}")
    return int(ignore_index)


def _check_label_smoothing(label_smoothing: Any) -> float:
    if not np.isscalar(label_smoothing) or isinstance(
        label_smoothing, (str, bytes)
    ):
        raise TypeError(
            f"label_smoothing must be a real number; got {label_smoothing!r}"
        )
    # Written so that NaN fails too.  torch refuses values above 1 but
    # treats negative ones and NaN as 0 without a word.
    if not 0 <= label_smoothing <= 1:
        raise ValueError(
            f"label_smoothing must be in [0, 1]; got {label_smoothing!r}"
        )
    return float(label_smoothing)


def _class_weight(
    weight: Any, input: np.ndarray, classes: int, same_dtype: bool
) -> np.ndarray | None:
    """The per-class ``weight``, of shape ``(C,)``.

    With class indices torch's kernel needs it in the input's dtype; with
    probabilities it is an ordinary factor that promotes.
    """
    if weight is None:
        return None
    if not isinstance(weight, (np.ndarray, np.generic)):
        # A list has no dtype of its own: it takes the input's.
        try:
            weight = np.asarray(weight, dtype=input.dtype)
        except (TypeError, ValueError):
            pass  # as_float_array says what is wrong with it
    weight = as_float_array(weight, "weight")
    if weight.shape != (classes,):
        raise ValueError(
            f"weight must have shape (C,) = ({classes},), one entry per "
            f"class; got {weight.shape}"
        )
    if same_dtype and weight.dtype != input.dtype:
        raise TypeError(
            f"weight must have the dtype of input, {input.dtype}, with "
            f"class-index targets (torch does not promote it); got "
            f"{weight.dtype}"
        )
    return weight


def _class_indices(
    target: np.ndarray,
    input: np.ndarray,
    axis: int,
    ignore_index: int,
    smoothing: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Check class-index ``target`` as torch does; return ``(index, kept)``.

    Both have the shape of the unreduced loss: ``kept`` is False where the
    target equals ``ignore_index`` (None when no target does), and
    ``index`` is the target with those entries set to 0, so that it can be
    used to gather.
    """
    if target.dtype not in _INDEX_DTYPES:
        hint = (
            "; a floating target is read as class probabilities only when "
            "it has the shape of input"
            if target.dtype.kind == "f"
            else ""
        )
        raise TypeError(
            "target must hold class indices of dtype int64 (or uint8) when "
            f"its shape {target.shape} differs from input's {input.shape}; "
            f"got {target.dtype}{hint}"
        )
    if target.dtype == np.uint8 and input.ndim > 2:
        # torch's K-dimensional kernel (nll_loss2d) takes int64 only.
        raise TypeError(
            "target: uint8 class indices are accepted for input of shape "
            "(C,) or (N, C) only; K-dimensional input needs int64"
        )
    loss_shape = input.shape[:axis] + input.shape[axis + 1 :]
    if input.ndim == 1 and target.shape == (1,):
        if smoothing:
            # torch's smoothing term broadcasts to (1,) and fails.
            raise ValueError(
                "target must be 0-d for an unbatched input of shape (C,) "
                "when label_smoothing > 0; got shape (1,)"
            )
        target = target.reshape(())
    if target.shape != loss_shape:
        if input.ndim > 1 and target.shape[:1] != input.shape[:1]:
            raise ValueError(
                f"target must have input's batch size {input.shape[0]}; "
                f"got target of shape {target.shape} for input of shape "
                f"{input.shape}"
            )
        raise ValueError(
            f"target must have shape {loss_shape} (input's without the "
            f"class axis) for input of shape {input.shape}; got "
            f"{target.shape}"
        )
    index = target.astype(np.int64, copy=False)
    classes = input.shape[axis]
    if index.size == 0:
        return index, None
    # The common case, checked in two passes: every index in range and
    # ignore_index outside their span, so that no target is ignored.
    low, high = index.min(), index.max()
    if 0 <= low and high < classes and not low <= ignore_index <= high:
        return index, None
    kept = index != ignore_index
    outside = kept & ((index < 0) | (index >= classes))
    if outside.any():
        raise ValueError(
            f"target class indices must be in [0, {classes}) or equal "
            f"ignore_index={ignore_index}; got {index[outside][0]}"
        )
    return np.where(kept, index, 0), kept


def _check_uint8_smoothing(
    target: np.ndarray,
    kept: np.ndarray | None,
    weight: np.ndarray | None,
    ignore_index: int,
    reduction: str,
) -> None:
    """Refuse the uint8 targets torch's label smoothing mishandles.

    Its smoothing term compares the targets with ``ignore_index`` in uint8,
    that is modulo 256, where its likelihood term compares exactly; and its
    weighted ``'mean'`` gathers the weights of the kept targets with uint8
    indices, which ``gather`` refuses unless there is none to gather (every
    target ignored, or none at all: the loss is then NaN).
    """
    if target.dtype != np.uint8:
        return
    gathers = kept is None or kept.any()
    if weight is not None and reduction == "mean" and target.size and gathers:
        raise TypeError(
            "target: uint8 class indices cannot be used with a weight, "
            "label_smoothing and reduction='mean' (torch refuses them); "
            "use int64"
        )
    if not 0 <= ignore_index < 256 and np.any(target == ignore_index % 256):
        raise ValueError(
            f"target: uint8 class {ignore_index % 256} equals "
            f"ignore_index={ignore_index} modulo 256, which torch's "
            "smoothing term ignores and its likelihood term does not; "
            "use int64 targets"
        )


def _keep(values: Any, kept: np.ndarray | None, dtype: np.dtype) -> Any:
    """``values`` with the ignored positions set to 0, in ``dtype``."""
    if kept is not None:
        values = np.where(kept, values, 0)
    return np.asarray(values, dtype=dtype)


def _flat_positions(
    shape: tuple[int, ...], index: np.ndarray, axis: int
) -> np.ndarray:
    """Where each position's target class sits in the C-order ravel of an
    array of ``shape`` (classes on ``axis``): ``index`` of the loss's shape
    mapped to ``(outer * C + index) * inner + position_in_inner``."""
    classes = shape[axis]
    # The class axis is 0 or 1, so the outer part is at most the batch.
    outer = shape[0] if axis == 1 else 1
    inner = index.size // outer if outer else 0
    if inner == 1:  # (N, C) and (C,): the common case, in two operations
        return index + classes * np.arange(outer).reshape(index.shape)
    rows = index.reshape(outer, inner) + classes * np.arange(outer)[:, None]
    rows *= inner
    rows += np.arange(inner)
    return rows.reshape(index.shape)


def _pick(values: np.ndarray, index: np.ndarray, axis: int) -> np.ndarray:
    """The entry of each position's class: ``values`` gathered along axis.

    One ``take`` from the ravelled array: at a batch of thousands of rows
    it is half the time of ``np.take_along_axis``, and torch's
    ``nll_loss`` does nothing but this gather.
    """
    flat = np.ravel(values)  # a view when values is contiguous
    return flat.take(_flat_positions(values.shape, index, axis))


def _class_shape(classes: int, axis: int, ndim: int) -> tuple[int, ...]:
    """Shape of a ``(C,)`` array broadcast along the class axis."""
    return (classes,) + (1,) * (ndim - 1 - axis)


def _exponentials(
    input: np.ndarray, axis: int
) -> tuple[np.ndarray, np.ndarray]:
    """``exp(x - m)`` and its sum along the class axis (m the maximum)."""
    shifted = input - np.max(input, axis=axis, keepdims=True, initial=-np.inf)
    exponentials = np.exp(shifted, out=shifted)
    return exponentials, np.sum(exponentials, axis=axis)


def _index_terms(
    input: np.ndarray,
    index: np.ndarray,
    kept: np.ndarray | None,
    weight: np.ndarray | None,
    smoothing: float,
    axis: int,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Unreduced cross entropy with class indices: the likelihood term
    ``-w_t log p_t`` and, with label smoothing, the smoothing term
    ``-sum_c w_c log p_c`` (else None), each 0 where the target is ignored.

    The likelihood term needs only the target's log-probability,
    ``(x_t - m) - log sum exp(x - m)``, torch's rounding of it; the
    smoothing term needs ``sum_c w_c (x_c - m)``, taken before the shifted
    logits are exponentiated in place.
    """
    classes = input.shape[axis]
    shifted = input - np.max(input, axis=axis, keepdims=True, initial=-np.inf)
    picked = _pick(shifted, index, axis)
    if smoothing:
        if weight is None:
            spread, weight_total = np.sum(shifted, axis=axis), classes
        else:
            spread = np.tensordot(shifted, weight, axes=([axis], [0]))
            weight_total = np.sum(weight)
    log_total = np.log(np.sum(np.exp(shifted, out=shifted), axis=axis))
    loss = log_total - picked  # -log p_t
    if weight is not None:
        loss *= weight.take(index)
    if not smoothing:
        return _keep(loss, kept, input.dtype), None
    # -sum_c w_c log p_c = (sum_c w_c) log_total - spread
    uniform = weight_total * log_total - spread
    return _keep(loss, kept, input.dtype), _keep(uniform, kept, input.dtype)


def _index_loss(
    likelihood: np.ndarray,
    uniform: np.ndarray | None,
    smoothing: float,
    classes: int,
    reduction: str,
    denominator: Any,
) -> np.ndarray:
    """``(1 - e) likelihood + (e / C) uniform``, reduced.  For ``'mean'``
    torch divides each term by the denominator on its own, so that a
    denominator of 0 gives NaN (the likelihood's 0 / 0) even where the
    smoothing term alone would be infinite."""
    if uniform is None:
        return apply_reduction(likelihood, reduction, denominator)
    if reduction != "mean":
        mixed = (1 - smoothing) * likelihood + (smoothing / classes) * uniform
        return apply_reduction(mixed, reduction)
    return np.asarray(
        (1 - smoothing) * apply_reduction(likelihood, "mean", denominator)
        + (smoothing / classes) * apply_reduction(uniform, "mean", denominator)
    )


def _index_denominator(
    index: np.ndarray, kept: np.ndarray | None, weight: np.ndarray | None
) -> Any:
    """What ``'mean'`` divides by: the weights of the kept targets."""
    if weight is None:
        return index.size if kept is None else int(np.count_nonzero(kept))
    return np.sum(weight.take(index), where=True if kept is None else kept)


def _probability_terms(
    input: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None,
    smoothing: float,
    axis: int,
) -> np.ndarray:
    """Unreduced cross entropy with class probabilities, torch's way:
    ``-(log_softmax(x) * y * w).sum(class axis)``, with ``y`` smoothed."""
    log_probs = log_softmax(input, dim=axis)
    if smoothing:
        target = _smoothed(target, smoothing, input.shape[axis])
    product = log_probs * target
    if weight is not None:
        # Not in place: a float64 weight promotes float32 products.
        product = product * weight.reshape(
            _class_shape(weight.size, axis, input.ndim)
        )
    return -np.sum(product, axis=axis)


# float16 cross entropy and nll_loss, torch's operations one by one.


def _half_nll(
    log_probs: np.ndarray,
    index: np.ndarray,
    kept: np.ndarray | None,
    weight: np.ndarray | None,
    axis: int,
    reduction: str,
) -> tuple[np.ndarray, Any]:
    """torch's float16 ``nll_loss``, and the total weight of ``'mean'``.

    Its kernel sums in float16 (:func:`_cascade_sum`), the weights too, and
    without a weight divides by the count of kept targets rounded to
    float16.
    """
    picked = _pick(log_probs, index, axis)
    weights = None if weight is None else weight.take(index)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if reduction == "none":
            loss = -picked if weights is None else -picked * weights
            return _keep(loss, kept, _HALF), None
        if index.size == 0:  # the kernel's early exit
            empty = np.nan if reduction == "mean" else 0.0
            return np.asarray(empty, dtype=_HALF), _HALF.type(0)
        positions = (
            np.arange(index.size) if kept is None else np.flatnonzero(kept)
        )
        terms = -picked if weights is None else -(picked * weights)
        total = _cascade_sum(terms.ravel()[positions], positions)
        if weights is None:
            total_weight = np.float32(positions.size).astype(_HALF)
        else:
            total_weight = _cascade_sum(weights.ravel()[positions], positions)
        if reduction == "mean":
            total = total / total_weight
    return np.asarray(total, dtype=_HALF), total_weight


def _half_nll_grad(
    shape: tuple[int, ...],
    index: np.ndarray,
    kept: np.ndarray | None,
    weight: np.ndarray | None,
    axis: int,
    reduction: str,
    upstream: np.ndarray,
    total_weight: Any,
) -> np.ndarray:
    """torch's float16 ``nll_loss`` backward: ``-w * g`` at each kept
    target, ``g`` first divided by the total weight for ``'mean'``."""
    weights = None if weight is None else weight.take(index)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if reduction == "none":
            values = -upstream if weights is None else -weights * upstream
        else:
            if reduction == "mean":
                upstream = upstream / total_weight
            values = np.broadcast_to(-upstream, index.shape)
            if weights is not None:
                values = weights * values
    grad = np.zeros(shape, dtype=_HALF)
    np.put_along_axis(
        grad,
        np.expand_dims(index, axis),
        np.expand_dims(_keep(values, kept, _HALF), axis),
        axis,
    )
    return grad


def _half_smoothing_terms(
    log_probs: np.ndarray, weight: np.ndarray | None, axis: int
) -> np.ndarray:
    """``-(log_probs * w).sum(class axis)`` in float16, torch's way."""
    if weight is not None:
        shape = _class_shape(weight.size, axis, log_probs.ndim)
        log_probs = log_probs * weight.reshape(shape)
    return -_half_sum(log_probs, axis)


def _half_smoothing_denominator(
    index: np.ndarray, kept: np.ndarray | None, weight: np.ndarray | None
) -> np.ndarray:
    """The smoothing term's ``'mean'`` divisor: the summed weights of the
    kept targets, or their count, each rounded to float16."""
    if weight is None:
        count = index.size if kept is None else np.count_nonzero(kept)
        return np.float32(count).astype(_HALF)
    weights = weight.take(index)
    return _half_sum(weights if kept is None else weights[kept])


def _half_index_loss(
    input: np.ndarray,
    index: np.ndarray,
    kept: np.ndarray | None,
    weight: np.ndarray | None,
    smoothing: float,
    axis: int,
    reduction: str,
) -> np.ndarray:
    """torch's float16 cross entropy with class indices
    (``cross_entropy_loss_label_smoothing`` in LossNLL.cpp):
    ``(1 - e) nll + (e / C) smooth``, each term reduced on its own."""
    log_probs = _half_log_softmax(input, axis)
    nll, _ = _half_nll(log_probs, index, kept, weight, axis, reduction)
    if not smoothing:
        return nll
    smooth = _keep(_half_smoothing_terms(log_probs, weight, axis), kept, _HALF)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if reduction != "none":
            smooth = _half_sum(smooth)
        if reduction == "mean":
            smooth = smooth / _half_smoothing_denominator(index, kept, weight)
        classes = input.shape[axis]
        return np.asarray(
            _half_scaled(nll, 1 - smoothing)
            + _half_scaled(smooth, smoothing / classes)
        )


def _half_index_grad(
    input: np.ndarray,
    index: np.ndarray,
    kept: np.ndarray | None,
    weight: np.ndarray | None,
    smoothing: float,
    axis: int,
    reduction: str,
    grad_output: Any,
) -> np.ndarray:
    """torch's autograd through :func:`_half_index_loss`, node by node."""
    log_probs = _half_log_softmax(input, axis)
    _, total_weight = _half_nll(
        log_probs, index, kept, weight, axis, reduction
    )
    upstream = _upstream(grad_output, index.shape, _HALF, reduction)
    if not smoothing:
        grad = _half_nll_grad(
            input.shape,
            index,
            kept,
            weight,
            axis,
            reduction,
            upstream,
            total_weight,
        )
        return _half_log_softmax_grad(grad, log_probs, axis)
    grad = _half_nll_grad(
        input.shape,
        index,
        kept,
        weight,
        axis,
        reduction,
        _half_scaled(upstream, 1 - smoothing),
        total_weight,
    )
    smooth = _half_scaled(upstream, smoothing / input.shape[axis])
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if reduction == "mean":
            smooth = smooth / _half_smoothing_denominator(index, kept, weight)
        smooth = -_keep(np.broadcast_to(smooth, index.shape), kept, _HALF)
        smooth = np.broadcast_to(np.expand_dims(smooth, axis), input.shape)
        if weight is not None:
            shape = _class_shape(weight.size, axis, input.ndim)
            smooth = smooth * weight.reshape(shape)
        # autograd adds the two paths' gradients of the log-probabilities.
        return _half_log_softmax_grad(grad + smooth, log_probs, axis)


def _smoothed(target: np.ndarray, smoothing: float, classes: int):
    """``target * (1 - e) + e / C`` in the target's dtype, as torch."""
    if not smoothing:
        return target
    with np.errstate(over="ignore", invalid="ignore"):
        if target.dtype != _HALF:
            return target * (1 - smoothing) + smoothing / classes
        # torch rounds a number it multiplies by to float32, one it adds
        # to float16.
        share = np.float32(smoothing / classes).astype(_HALF)
        return _half_scaled(target, 1 - smoothing) + share


def _torch_sum(values: np.ndarray, axis: Any = None) -> np.ndarray:
    """torch's sum: float16 in float32, rounded once; others as NumPy."""
    if values.dtype == _HALF:
        return _half_sum(values, axis)
    return np.asarray(np.sum(values, axis=axis))


def _half_probability_loss(
    input: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None,
    smoothing: float,
    axis: int,
    reduction: str,
) -> np.ndarray:
    """torch's cross entropy with class probabilities for float16 logits
    (``cross_entropy_loss_prob_target``): ``-(log_p * y * w)`` summed over
    the classes for ``'none'``, over everything at once otherwise, and
    divided by the number of positions for ``'mean'``; the product takes
    the promoted dtype of its factors."""
    product = _half_log_softmax(input, axis) * _smoothed(
        target, smoothing, input.shape[axis]
    )
    if weight is not None:
        shape = _class_shape(weight.size, axis, input.ndim)
        product = product * weight.reshape(shape)
    if reduction == "none":
        return np.asarray(-_torch_sum(product, axis))
    total = np.asarray(-_torch_sum(product))
    if reduction == "sum":
        return total
    if product.size == 0:
        return np.asarray(np.nan, dtype=total.dtype)
    positions = product.size // input.shape[axis]
    if total.dtype == _HALF:
        return _half_scaled(total, positions, divide=True)
    return np.asarray(total / positions)


def _half_probability_grad(
    input: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None,
    smoothing: float,
    axis: int,
    reduction: str,
    grad_output: Any,
) -> np.ndarray:
    """torch's autograd through :func:`_half_probability_loss`: each
    product's backward multiplies by the other factor and rounds to the
    dtype of its operand."""
    log_probs = _half_log_softmax(input, axis)
    target = _smoothed(target, smoothing, input.shape[axis])
    product_dtype = np.result_type(_HALF, target.dtype)
    shape = _class_shape(input.shape[axis], axis, input.ndim)
    class_weight = None if weight is None else weight.reshape(shape)
    loss_dtype = np.result_type(
        product_dtype, *([] if weight is None else [weight.dtype])
    )
    loss_shape = input.shape[:axis] + input.shape[axis + 1 :]
    upstream = _upstream(grad_output, loss_shape, loss_dtype, reduction)
    if reduction == "mean":
        positions = int(np.prod(loss_shape))
        if loss_dtype == _HALF:
            upstream = _half_scaled(upstream, positions, divide=True)
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                upstream = upstream / loss_dtype.type(positions)
    if reduction == "none":
        upstream = np.expand_dims(upstream, axis)
    grad = np.broadcast_to(-upstream, input.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        if class_weight is not None:
            grad = (grad * class_weight).astype(product_dtype)
        grad = (grad * target).astype(_HALF)
    return _half_log_softmax_grad(grad, log_probs, axis)


def _probability_target(
    target: np.ndarray, input: np.ndarray, ignore_index: int
) -> np.ndarray:
    if target.dtype.kind != "f":
        raise TypeError(
            "target of the shape of input holds class probabilities and "
            f"must be floating point; got {target.dtype}"
        )
    if ignore_index >= 0:
        raise ValueError(
            "ignore_index is not supported with class-probability targets "
            f"(torch refuses one >= 0); got ignore_index={ignore_index}"
        )
    return target


@_quiet
def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> np.ndarray:
    r"""Cross entropy between logits and class indices or probabilities.

    Parameters
    ----------
    input : ndarray of shape (C,), (N, C) or (N, C, d1, ..., dK)
        Logits (unnormalised scores), floating point; the classes are on
        axis 1 (axis 0 for an unbatched ``(C,)`` input).
    target : ndarray
        Either class indices, int64 (or uint8), of shape ``()``, ``(N,)``
        or ``(N, d1, ..., dK)``, each in ``[0, C)`` or equal to
        `ignore_index`; or class probabilities of the shape of `input`,
        floating point.
    weight : ndarray of shape (C,), optional
        A weight per class.  With class indices it must have the dtype of
        `input`.
    size_average, reduce : bool, optional
        Deprecated; when either is given it overrides `reduction` (with a
        warning).
    ignore_index : int, default -100
        A class index whose targets contribute nothing, neither to the loss
        nor to the ``'mean'`` denominator.  With probability targets it must
        be negative (it is then unused), as in torch.
    reduction : {'mean', 'sum', 'none'}
        How to reduce the per-position losses.  With class indices
        ``'mean'`` divides by the sum of ``weight[target]`` over the kept
        targets; with probabilities, by the number of positions.
    label_smoothing : float in [0, 1], default 0.0
        Mix the target with the uniform distribution over the C classes.

    Returns
    -------
    ndarray
        The loss: of the target's shape for ``'none'`` (0-d for an
        unbatched input), else 0-d.

    Raises
    ------
    ValueError
        If `input` is 0-d, a class index is out of range, the shapes do not
        match, `weight` is not of shape ``(C,)``, `label_smoothing` is
        outside [0, 1], `ignore_index` is non-negative with probability
        targets, or `reduction` is unknown.
    TypeError
        If `input` is not floating point, class indices are not int64 or
        uint8 (a float target of another shape than `input`), probability
        targets are not floating, or `weight` has another dtype than
        `input` with class indices.

    See Also
    --------
    torch.nn.CrossEntropyLoss, torch.nn.functional.cross_entropy, nll_loss

    Notes
    -----
    With :math:`p = \operatorname{softmax}(x)` over the classes and the
    smoothed target :math:`q_c = (1 - \varepsilon) y_c + \varepsilon / C`
    (:math:`y` one-hot for a class index),

    .. math::

        \ell_n = -\sum_{c=1}^{C} w_c \, q_{n,c} \log p_{n,c},
        \qquad
        \ell_{\text{mean}} = \frac{\sum_n \ell_n}{\sum_n w_{y_n}}
        \ \text{(indices)}, \quad \frac{\sum_n \ell_n}{N}
        \ \text{(probabilities)},

    the index sums running over the targets that are not ignored.

    Examples
    --------
    >>> x = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> cross_entropy(x, np.array([0, 2]), reduction="none")
    array([0.23954477, 1.09861229])
    >>> round(float(cross_entropy(x, np.array([0, -100]))), 6)  # one ignored
    0.239545
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    ignore_index = _check_ignore_index(ignore_index)
    smoothing = _check_label_smoothing(label_smoothing)
    input = as_float_array(input, "input")
    axis = _class_axis(input)
    target = np.asarray(target)
    classes = input.shape[axis]
    if target.shape == input.shape:
        target = _probability_target(target, input, ignore_index)
        weight = _class_weight(weight, input, classes, same_dtype=False)
        if input.dtype == _HALF:
            return _half_probability_loss(
                input, target, weight, smoothing, axis, reduction
            )
        loss = _probability_terms(input, target, weight, smoothing, axis)
        return apply_reduction(loss, reduction, loss.size)
    weight = _class_weight(weight, input, classes, same_dtype=True)
    index, kept = _class_indices(
        target, input, axis, ignore_index, smoothing > 0
    )
    if smoothing:
        _check_uint8_smoothing(target, kept, weight, ignore_index, reduction)
    if input.dtype == _HALF:
        return _half_index_loss(
            input, index, kept, weight, smoothing, axis, reduction
        )
    likelihood, uniform = _index_terms(
        input, index, kept, weight, smoothing, axis
    )
    return _index_loss(
        likelihood,
        uniform,
        smoothing,
        input.shape[axis],
        reduction,
        _index_denominator(index, kept, weight),
    )


@_quiet
def nll_loss(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Negative log-likelihood of class indices, given log-probabilities.

    Parameters
    ----------
    input : ndarray of shape (C,), (N, C) or (N, C, d1, ..., dK)
        Log-probabilities, floating point (not checked: any number is
        taken as one); the classes are on axis 1 (axis 0 for ``(C,)``).
    target : ndarray of shape (), (N,) or (N, d1, ..., dK)
        Class indices, int64 (or uint8), each in ``[0, C)`` or equal to
        `ignore_index`.
    weight : ndarray of shape (C,), optional
        A weight per class, of the dtype of `input`.
    size_average, reduce : bool, optional
        Deprecated; when either is given it overrides `reduction` (with a
        warning).
    ignore_index : int, default -100
        A class index whose targets contribute nothing, neither to the loss
        nor to the ``'mean'`` denominator.
    reduction : {'mean', 'sum', 'none'}
        How to reduce; ``'mean'`` divides by the sum of ``weight[target]``
        over the kept targets (their count without a weight).

    Returns
    -------
    ndarray
        The loss: of the target's shape for ``'none'``, else 0-d.

    Raises
    ------
    ValueError
        If `input` is 0-d, a class index is out of range, the shapes do not
        match, `weight` is not of shape ``(C,)`` or `reduction` is unknown.
    TypeError
        If `input` is not floating point, `target` is not int64 or uint8,
        or `weight` has another dtype than `input`.

    See Also
    --------
    torch.nn.NLLLoss, torch.nn.functional.nll_loss, cross_entropy

    Notes
    -----
    The loss picks the target's entry: :math:`\ell_n = -w_{y_n} x_{n,y_n}`
    (0 where :math:`y_n` is `ignore_index`), and

    .. math::

        \ell_{\text{mean}} = \frac{\sum_n \ell_n}
        {\sum_n w_{y_n} \, [y_n \ne \text{ignore\_index}]} .

    With :math:`x = \log \operatorname{softmax}(z)` it is
    :func:`cross_entropy` of the logits :math:`z`.

    Examples
    --------
    >>> log_probs = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]]))
    >>> nll_loss(log_probs, np.array([0, 1]), reduction="none")
    array([0.69314718, 0.22314355])
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    ignore_index = _check_ignore_index(ignore_index)
    input = as_float_array(input, "input")
    axis = _class_axis(input)
    weight = _class_weight(weight, input, input.shape[axis], same_dtype=True)
    index, kept = _class_indices(np.asarray(target), input, axis, ignore_index)
    if input.dtype == _HALF:
        return _half_nll(input, index, kept, weight, axis, reduction)[0]
    loss = np.negative(_pick(input, index, axis))
    if weight is not None:
        loss *= weight.take(index)
    loss = _keep(loss, kept, input.dtype)
    return apply_reduction(
        loss, reduction, _index_denominator(index, kept, weight)
    )


def _probability_grad(
    input: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None,
    smoothing: float,
    axis: int,
    reduction: str,
    grad_output: Any,
) -> np.ndarray:
    classes = input.shape[axis]
    loss_shape = input.shape[:axis] + input.shape[axis + 1 :]
    # log_softmax(x) * y promotes, as torch's product does.
    dtype = np.result_type(input.dtype, target.dtype)
    # The smoothed target in its own dtype, as torch smooths it.
    coefficients = _smoothed(target, smoothing, classes).astype(dtype)
    if weight is not None:
        coefficients = coefficients * weight.reshape(
            _class_shape(classes, axis, input.ndim)
        )
    upstream = reduce_backward(
        grad_output,
        loss_shape,
        coefficients.dtype,
        reduction,
        int(np.prod(loss_shape)),
    )
    exponentials, total = _exponentials(input, axis)
    mass = upstream * np.sum(coefficients, axis=axis)
    grad = exponentials * np.expand_dims(mass / total, axis)
    grad -= coefficients * np.expand_dims(upstream, axis)
    return grad.astype(input.dtype, copy=False)


def _index_grad(
    input: np.ndarray,
    index: np.ndarray,
    kept: np.ndarray | None,
    weight: np.ndarray | None,
    smoothing: float,
    axis: int,
    reduction: str,
    grad_output: Any,
) -> np.ndarray:
    classes = input.shape[axis]
    upstream = reduce_backward(
        grad_output,
        index.shape,
        input.dtype,
        reduction,
        _index_denominator(index, kept, weight),
    )
    # where, not a product: when every target is ignored, 'mean' has an
    # infinite upstream gradient, and torch's gradient is zero, not NaN.
    upstream = _keep(upstream, kept, input.dtype)
    position_upstream = upstream
    if weight is not None:
        upstream = upstream * weight.take(index)  # now g w_t
    exponentials, total = _exponentials(input, axis)
    picked = np.expand_dims(index, axis)
    if not smoothing:
        # (sum_c a_c) p - a with a = g w_t onehot(t): the likelihood term.
        grad = exponentials
        grad *= np.expand_dims(upstream / total, axis)
        at_target = np.take_along_axis(grad, picked, axis)
        np.put_along_axis(
            grad, picked, at_target - np.expand_dims(upstream, axis), axis
        )
        return grad
    # The smoothed target a in full, and its mass summed from it, so that the
    # gradient cancels exactly where torch's does (a single class).
    spread = (smoothing / classes) * np.expand_dims(position_upstream, axis)
    if weight is not None:
        shape = _class_shape(classes, axis, input.ndim)
        spread = spread * weight.reshape(shape)
    coefficients = np.broadcast_to(spread, input.shape).astype(input.dtype)
    hit = np.expand_dims((1 - smoothing) * upstream, axis)
    at_target = np.take_along_axis(coefficients, picked, axis)
    np.put_along_axis(coefficients, picked, at_target + hit, axis)
    mass = np.sum(coefficients, axis=axis)
    grad = exponentials
    grad *= np.expand_dims(mass / total, axis)
    grad -= coefficients
    return grad


@_quiet
def cross_entropy_grad(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    grad_output: Any = None,
) -> np.ndarray:
    r"""Gradient of :func:`cross_entropy` with respect to `input`.

    At each position it is :math:`g \, (s \, p - a)`, where
    :math:`a_c = w_c q_c` is the weighted, smoothed target,
    :math:`s = \sum_c a_c`, :math:`p = \operatorname{softmax}(x)` and
    :math:`g` the upstream gradient (over the ``'mean'`` denominator):
    ``softmax(x) - onehot(y)`` for an unweighted class index.  Ignored
    targets get zeros, also when all are and the loss is NaN, as in torch.
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    ignore_index = _check_ignore_index(ignore_index)
    smoothing = _check_label_smoothing(label_smoothing)
    input = as_float_array(input, "input")
    axis = _class_axis(input)
    target = np.asarray(target)
    classes = input.shape[axis]
    if target.shape == input.shape:
        target = _probability_target(target, input, ignore_index)
        weight = _class_weight(weight, input, classes, same_dtype=False)
        if input.dtype == _HALF:
            return _half_probability_grad(
                input, target, weight, smoothing, axis, reduction, grad_output
            )
        return _probability_grad(
            input, target, weight, smoothing, axis, reduction, grad_output
        )
    weight = _class_weight(weight, input, classes, same_dtype=True)
    index, kept = _class_indices(
        target, input, axis, ignore_index, smoothing > 0
    )
    if smoothing:
        _check_uint8_smoothing(target, kept, weight, ignore_index, reduction)
    grad_function = _half_index_grad if input.dtype == _HALF else _index_grad
    return grad_function(
        input, index, kept, weight, smoothing, axis, reduction, grad_output
    )


@_quiet
def nll_loss_grad(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    grad_output: Any = None,
) -> np.ndarray:
    """Gradient of :func:`nll_loss` with respect to `input`.

    It is zero except at each kept target's entry, where it is
    ``-weight[target]`` times the upstream gradient (divided by the
    ``'mean'`` denominator).
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    ignore_index = _check_ignore_index(ignore_index)
    input = as_float_array(input, "input")
    axis = _class_axis(input)
    weight = _class_weight(weight, input, input.shape[axis], same_dtype=True)
    index, kept = _class_indices(np.asarray(target), input, axis, ignore_index)
    if input.dtype == _HALF:
        _, total_weight = _half_nll(
            input, index, kept, weight, axis, reduction
        )
        upstream = _upstream(grad_output, index.shape, _HALF, reduction)
        return _half_nll_grad(
            input.shape,
            index,
            kept,
            weight,
            axis,
            reduction,
            upstream,
            total_weight,
        )
    upstream = reduce_backward(
        grad_output,
        index.shape,
        input.dtype,
        reduction,
        _index_denominator(index, kept, weight),
    )
    upstream = _keep(upstream, kept, input.dtype)
    if weight is not None:
        upstream = upstream * weight.take(index)
    grad = np.zeros_like(input)
    picked = np.expand_dims(index, axis)
    np.put_along_axis(grad, picked, np.expand_dims(-upstream, axis), axis)
    return grad


# torch's EPSILON in binary_cross_entropy_backward (aten/src/ATen/native/
# Loss.cpp) is the C++ float 1e-12, cast to the input's dtype: in float64 it
# is 9.99999996e-13, not 1e-12.
_BCE_GRAD_EPSILON = np.float32(1e-12)
# Each logarithm of binary_cross_entropy's forward is clamped here.
_LOG_FLOOR = -100


def _target_like(target: Any, input: np.ndarray) -> np.ndarray:
    """``target`` as a floating array; a list or number takes `input`'s dtype.

    A NumPy array keeps its dtype (torch refuses an integer or boolean
    target in both losses); a plain list has no dtype of its own.
    """
    if isinstance(target, (np.ndarray, np.generic)):
        return as_float_array(target, "target")
    return as_float_array(target, "target").astype(input.dtype)


def _check_same_shape(input: np.ndarray, target: np.ndarray) -> None:
    # torch refuses any difference, even one that broadcasts: it is
    # nearly always a (N, 1) output against a (N,) target.
    if input.shape != target.shape:
        raise ValueError(
            f"target must have the shape of input, {input.shape}; "
            f"got {target.shape}"
        )


def _real_weight(
    value: Any, name: str, shape: tuple[int, ...], allow_bool: bool = True
) -> np.ndarray | None:
    """A weight that broadcasts to the loss's ``shape`` without growing it.

    torch multiplies the loss by it in place, so a weight with more
    dimensions, or longer ones, than the loss is refused even where the two
    broadcast.  Integer weights are allowed (torch promotes them); boolean
    ones too, except where torch subtracts from them (``pos_weight``).
    """
    if value is None:
        return None
    array = np.asarray(value)
    kinds = "biuf" if allow_bool else "iuf"
    if array.dtype.kind not in kinds:
        raise TypeError(
            f"{name} must be a real{'' if allow_bool else ', non-boolean'} "
            f"array; got dtype {array.dtype}"
        )
    try:
        fits = np.broadcast_shapes(array.shape, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{name} of shape {array.shape} must broadcast to the shape of "
            f"the loss, {shape}, without enlarging it"
        )
    return array


def _torch_dtype(first: np.ndarray, second: np.ndarray) -> np.dtype:
    """The dtype torch computes ``first op second`` in.

    Floating beats integer whatever the sizes (NumPy would make int64 and
    float32 float64), and a 0-d floating array promotes only a 0-d one
    (as in ``_core.result_dtype``).
    """
    if first.dtype.kind != "f":
        return second.dtype
    if second.dtype.kind != "f":
        return first.dtype
    return result_dtype(first, second)


def _operate(
    operation: Any, first: np.ndarray, second: Any, in_place: bool
) -> np.ndarray:
    """torch's ``first.op(second)``, or ``first.op_(second)`` if `in_place`.

    Both compute in the promoted dtype; the in-place form stores the result
    in ``first``'s dtype, and writes into ``first``, which must then be a
    temporary of the caller's.
    """
    second = np.asarray(second)
    dtype = _torch_dtype(first, second)
    target_dtype = first.dtype if in_place else dtype
    if dtype == _HALF and second.ndim == 0 and operation is np.multiply:
        # torch's float16 product with a 0-d factor reads the factor in
        # float32 (mul_kernel's scalar path), not rounded to float16.
        with np.errstate(over="ignore", invalid="ignore"):
            result = first.astype(np.float32) * second.astype(np.float32)
            return np.asarray(result).astype(target_dtype)
    if (
        in_place
        and dtype == first.dtype
        and isinstance(first, np.ndarray)
        and first.flags.writeable
    ):
        return operation(first, second.astype(dtype, copy=False), out=first)
    result = operation(
        first.astype(dtype, copy=False), second.astype(dtype, copy=False)
    )
    return result.astype(target_dtype, copy=False)


def _divided(values: np.ndarray, count: int) -> np.ndarray:
    """``values / count`` as torch divides a tensor by a count: in float32
    for float16 (NumPy would round the count to float16 first)."""
    if values.dtype == _HALF:
        return _half_scaled(values, count, divide=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(values / values.dtype.type(count))


def _upstream(
    grad_output: Any, shape: tuple[int, ...], dtype: np.dtype, reduction: str
) -> np.ndarray:
    """``grad_output`` checked: of ``shape`` for ``'none'``, 0-d otherwise.

    The mean's division is left to the caller, which does it last, as
    torch's backward does.
    """
    if reduction == "none":
        return reduce_backward(grad_output, shape, dtype, "none")
    return reduce_backward(grad_output, (), dtype, "sum")


def _probabilities(
    input: Any, target: Any, weight: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The checked arguments of :func:`binary_cross_entropy`."""
    input = as_float_array(input, "input")
    target = _target_like(target, input)
    _check_same_shape(input, target)
    if target.dtype != input.dtype:
        # torch's kernel takes one dtype for both ("Found dtype Double but
        # expected Float").
        raise TypeError(
            f"target must have the dtype of input, {input.dtype}; "
            f"got {target.dtype}"
        )
    for name, array in (("input", input), ("target", target)):
        # min and max are NaN if any element is, and NaN fails both tests,
        # as in torch's kernel.
        if array.size and not (np.min(array) >= 0 and np.max(array) <= 1):
            raise ValueError(
                f"{name} must be probabilities: every element in [0, 1]; "
                f"got values in [{np.min(array)}, {np.max(array)}]"
            )
    weight = _real_weight(weight, "weight", input.shape)
    if weight is not None:
        # torch expands the weight to the target's shape before its kernel
        # sees it, so a 0-d weight is no longer 0-d when it promotes.
        weight = np.broadcast_to(weight, input.shape)
    return input, target, weight


def _logits(
    input: Any, target: Any, weight: Any, pos_weight: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The checked arguments of :func:`binary_cross_entropy_with_logits`."""
    input = as_float_array(input, "input")
    target = _target_like(target, input)
    _check_same_shape(input, target)
    weight = _real_weight(weight, "weight", target.shape)
    pos_weight = _real_weight(
        pos_weight, "pos_weight", target.shape, allow_bool=False
    )
    return input, target, weight, pos_weight


@_quiet
def binary_cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    r"""Binary cross entropy between probabilities and targets in [0, 1].

    Parameters
    ----------
    input : ndarray of any shape, floating, with values in [0, 1]
        Predicted probabilities of the positive class (a sigmoid's output,
        not logits: see :func:`binary_cross_entropy_with_logits`).
    target : ndarray of the shape and dtype of `input`, values in [0, 1]
        Target probabilities (0/1 labels or soft targets).  A list or a
        number takes the dtype of `input`.
    weight : ndarray broadcastable to the shape of `input`, optional
        Per-element rescaling, e.g. of shape ``(C,)`` for an ``(N, C)``
        input.  It may not have more dimensions than `input`.
    size_average, reduce : bool, optional
        Deprecated; when either is given it overrides `reduction` (with a
        warning).
    reduction : {'mean', 'sum', 'none'}
        How to reduce the elementwise losses.  ``'mean'`` divides by the
        number of elements, with or without a weight.

    Returns
    -------
    ndarray
        The loss, of `input`'s dtype; 0-d unless ``reduction='none'``.

    Raises
    ------
    ValueError
        If `input` or `target` has an element outside [0, 1] (NaN
        included), the shapes differ, `weight` does not broadcast to the
        shape of `input`, or `reduction` is unknown.
    TypeError
        If `input` is not floating point, or `target` is not of its dtype.

    See Also
    --------
    torch.nn.BCELoss, torch.nn.functional.binary_cross_entropy,
    binary_cross_entropy_with_logits

    Notes
    -----
    Each logarithm is clamped at -100, as in torch, so that a probability
    of exactly 0 or 1 gives a finite loss:

    .. math::

        \ell_i = -w_i \bigl[ y_i \max(\log x_i, -100)
                 + (1 - y_i) \max(\log(1 - x_i), -100) \bigr]

    with :math:`\log(1 - x_i)` computed as ``log1p(-x)``.

    Examples
    --------
    >>> binary_cross_entropy([0.5, 0.9, 0.0], [1.0, 1.0, 1.0],
    ...                      reduction="none")
    array([  0.69314718,   0.10536052, 100.        ])
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    input, target, weight = _probabilities(input, target, weight)
    with np.errstate(divide="ignore"):  # log(0) = -inf, clamped below
        if input.dtype == _HALF:
            log_input = _half_of(np.log, input)
            log_complement = _half_of(np.log1p, -input)
        else:
            log_input = np.log(input, out=np.empty_like(input))
            log_complement = np.log1p(-input, out=np.empty_like(input))
    np.maximum(log_input, _LOG_FLOOR, out=log_input)
    np.maximum(log_complement, _LOG_FLOOR, out=log_complement)
    # (y - 1) log(1 - x) - y log(x): torch's kernel, term for term.
    loss = target - 1
    loss *= log_complement
    log_input *= target
    loss -= log_input
    if weight is not None:
        loss = _operate(np.multiply, loss, weight, in_place=True)
    return apply_reduction(np.asarray(loss), reduction)


@_quiet
def binary_cross_entropy_grad(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    grad_output: Any = None,
) -> np.ndarray:
    r"""Gradient of :func:`binary_cross_entropy` with respect to `input`.

    It is torch's, not the derivative of the clamped forward: torch's
    backward computes :math:`(x - y) / \max(x (1 - x), \epsilon)` with
    :math:`\epsilon` the float ``1e-12``, so at a saturated probability it
    is large (:math:`\pm 10^{12}`) where the clamped forward is flat.

    Examples
    --------
    >>> g = binary_cross_entropy_grad([0.5, 0.0], [1.0, 1.0], reduction="sum")
    >>> [float(value) for value in g]
    [-2.0, -1000000003995.8029]

    The second is :math:`-1 / \epsilon` with :math:`\epsilon` the float32
    ``1e-12`` widened to float64, 9.99999996e-13.
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    input, target, weight = _probabilities(input, target, weight)
    upstream = _upstream(grad_output, input.shape, input.dtype, reduction)
    variance = np.subtract(1, input, out=np.empty_like(input))
    variance *= input
    np.maximum(variance, _BCE_GRAD_EPSILON.astype(input.dtype), out=variance)
    # grad * (x - y) / max(x (1 - x), eps), in torch's order.
    grad = input - target
    grad *= upstream
    grad /= variance
    if weight is not None:
        grad = _operate(np.multiply, grad, weight, in_place=True)
    if reduction == "mean":
        grad = _divided(grad, input.size)
    return np.asarray(grad)


@_quiet
def binary_cross_entropy_with_logits(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> np.ndarray:
    r"""Binary cross entropy of logits: a sigmoid and BCE in one stable step.

    Parameters
    ----------
    input : ndarray of any shape, floating
        Logits (scores before the sigmoid).
    target : ndarray of the shape of `input`, floating
        Target probabilities; torch accepts values outside [0, 1] too (the
        loss is then unbounded below).  A list or number takes `input`'s
        dtype.
    weight : ndarray broadcastable to the shape of `input`, optional
        Per-element rescaling; no more dimensions than `input`.
    size_average, reduce : bool, optional
        Deprecated; when either is given it overrides `reduction` (with a
        warning).
    reduction : {'mean', 'sum', 'none'}
        How to reduce the elementwise losses.  ``'mean'`` divides by the
        number of elements, with or without weights.
    pos_weight : ndarray broadcastable to the shape of `input`, optional
        Weight of the positive term, typically of shape ``(C,)`` for an
        ``(N, C)`` input: it broadcasts from the last dimension.

    Returns
    -------
    ndarray
        The loss, of `target`'s dtype (as in torch); 0-d unless
        ``reduction='none'``.

    Raises
    ------
    ValueError
        If the shapes differ, `weight` or `pos_weight` does not broadcast
        to the shape of `input`, or `reduction` is unknown.
    TypeError
        If `input` or `target` is not floating point, or `pos_weight` is
        boolean.

    See Also
    --------
    torch.nn.BCEWithLogitsLoss,
    torch.nn.functional.binary_cross_entropy_with_logits,
    binary_cross_entropy

    Notes
    -----
    With :math:`p` the positive weight (1 without `pos_weight`), torch
    computes

    .. math::

        \ell_i = w_i \bigl[ (1 - y_i)\, x_i
                 - \bigl(1 + (p_i - 1)\, y_i\bigr) \log \sigma(x_i) \bigr],

    which is :math:`-w_i [p_i y_i \log \sigma(x_i) + (1 - y_i) \log(1 -
    \sigma(x_i))]` since :math:`\log(1 - \sigma(x)) = \log \sigma(x) - x`,
    with :math:`\log \sigma` from :func:`logsigmoid`: nothing overflows
    and no logarithm of 0 is taken.

    Examples
    --------
    >>> binary_cross_entropy_with_logits([-1e4, 0.0, 1e4], [1.0, 1.0, 1.0],
    ...                                  reduction="none")
    array([1.00000000e+04, 6.93147181e-01, 0.00000000e+00])
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    input, target, weight, pos_weight = _logits(
        input, target, weight, pos_weight
    )
    # torch's kernel, operation for operation, each in its dtype:
    # log_sigmoid(x).mul_(log_weight), then (1 - y).mul_(x).sub_(...).  The
    # in-place product keeps the input's dtype: a float64 target or
    # pos_weight does not widen it.
    log_sigmoid = logsigmoid(input)
    if pos_weight is not None:
        # 1 + (p - 1) y, the weight of log sigmoid(x).
        log_weight = _operate(np.multiply, pos_weight - 1, target, False)
        log_weight += 1
        log_sigmoid = _operate(
            np.multiply, log_sigmoid, log_weight, in_place=True
        )
    loss = _operate(np.multiply, 1 - target, input, in_place=True)
    loss = _operate(np.subtract, loss, log_sigmoid, in_place=True)
    if weight is not None:
        loss = _operate(np.multiply, loss, weight, in_place=True)
    return apply_reduction(np.asarray(loss), reduction)


@_quiet
def binary_cross_entropy_with_logits_grad(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: Any = None,
    grad_output: Any = None,
) -> np.ndarray:
    r"""Gradient of :func:`binary_cross_entropy_with_logits` w.r.t. `input`.

    :math:`w \bigl[(1 + (p - 1) y)\, \sigma(x) - p y\bigr]`, which is
    :math:`w (\sigma(x) - y)` without `pos_weight`, in `input`'s dtype.

    Examples
    --------
    >>> binary_cross_entropy_with_logits_grad(
    ...     [0.0, 2.0], [1.0, 0.0], reduction="sum")
    array([-0.5       ,  0.88079708])
    """
    reduction = resolve_reduction(size_average, reduce, reduction)
    input, target, weight, pos_weight = _logits(
        input, target, weight, pos_weight
    )
    upstream = _upstream(grad_output, target.shape, target.dtype, reduction)
    probability = sigmoid(input)
    # torch's backward, operation for operation: (p y + 1 - y) sigma(x) - p y
    # with pos_weight, sigma(x) - y without.
    if pos_weight is None:
        grad = _operate(np.subtract, probability, target, in_place=True)
    else:
        scaled = _operate(np.multiply, pos_weight, target, in_place=False)
        grad = scaled + 1
        grad = _operate(np.subtract, grad, target, in_place=True)
        grad = _operate(np.multiply, grad, probability, in_place=True)
        grad = _operate(np.subtract, grad, scaled, in_place=True)
    grad = _operate(np.multiply, grad, upstream, in_place=True)
    if weight is not None:
        grad = _operate(np.multiply, grad, weight, in_place=True)
    if reduction == "mean":
        grad = _divided(grad, input.size)
    # autograd hands back the gradient in the dtype of input.
    return np.asarray(grad).astype(input.dtype, copy=False)
