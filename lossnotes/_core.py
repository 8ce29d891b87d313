"""Shared machinery: argument conversion, validation and reduction.

Every loss in lossnotes goes through these helpers, so that a rule torch
enforces (a reduction name, a broadcast, the legacy ``size_average`` /
``reduce`` pair) is written once and refused with the same message everywhere.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np

REDUCTIONS = ("none", "mean", "sum")

__all__ = [
    "REDUCTIONS",
    "apply_reduction",
    "as_float_array",
    "broadcast_pair",
    "check_class_indices",
    "check_flag",
    "check_label_smoothing",
    "check_positive",
    "check_reduction",
    "check_weight_shape",
    "common_shape",
    "legacy_reduction",
    "operation_dtype",
    "pack_gradients",
    "real_number",
    "reduce_backward",
    "resolve_reduction",
    "resolve_wrt",
    "result_dtype",
    "smooth_index_terms",
    "smooth_probabilities",
    "unbroadcast",
]


def as_float_array(value: Any, name: str) -> np.ndarray:
    """Convert ``value`` to a floating ndarray, refusing what torch refuses.

    A NumPy array keeps its dtype, which must be floating: torch refuses an
    integer prediction ("not implemented for 'Long'"), and so do we.  A plain
    Python number or list has no dtype of its own and becomes float64.
    """
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
    else:
        try:
            array = np.asarray(value)
        except ValueError as error:  # ragged nested lists
            raise ValueError(
                f"{name} must be a rectangular array: {error}"
            ) from None
        if array.dtype.kind in "biu":
            array = array.astype(np.float64)
    if array.dtype.kind != "f":
        raise TypeError(
            f"{name} must be a floating-point array "
            f"(float16, float32 or float64); got dtype {array.dtype}"
        )
    return array


def result_dtype(*arrays: np.ndarray) -> np.dtype:
    """Floating dtype of an elementwise result, by torch's promotion rule.

    torch lets a 0-d tensor promote a dimensioned one only across categories
    (integer to floating), never within one: ``float32[3] * float64[]`` is
    float32 in torch but float64 in NumPy.  All arrays here are floating, so
    the 0-d ones count only when nothing else has dimensions.
    """
    dimensioned = [a.dtype for a in arrays if a.ndim > 0]
    return np.result_type(*(dimensioned or [a.dtype for a in arrays]))


def operation_dtype(first: np.ndarray, second: np.ndarray) -> np.dtype:
    """The dtype torch computes ``first op second`` in.

    Floating beats integer whatever the sizes (NumPy would make int64 and
    float32 float64), and a 0-d floating array promotes only a 0-d one (as in
    :func:`result_dtype`).
    """
    if first.dtype.kind != "f":
        return second.dtype
    if second.dtype.kind != "f":
        return first.dtype
    return result_dtype(first, second)


def common_shape(**arrays: np.ndarray) -> tuple[int, ...]:
    """The shape ``arrays`` broadcast to, or a ValueError naming each."""
    try:
        return np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        parts = [f"{name} of shape {a.shape}" for name, a in arrays.items()]
        described = ", ".join(parts[:-1]) + " and " + parts[-1]
        raise ValueError(
            f"{described} must have the same shape or broadcast together"
        ) from None


def broadcast_pair(
    input: np.ndarray, target: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Broadcast ``input`` and ``target`` the way torch's regression losses do.

    Differing shapes that broadcast are allowed but almost always a bug
    (a ``(N, 1)`` prediction against an ``(N,)`` target gives an ``(N, N)``
    loss), so torch warns, and so do we, with torch's own wording.  Both come
    back in their common dtype: torch broadcasts before it promotes, so a 0-d
    float64 target no longer counts as 0-d and promotes a float32 input (plain
    NumPy promotion, not :func:`result_dtype`).
    """
    if input.shape != target.shape:
        try:
            np.broadcast_shapes(input.shape, target.shape)
        except ValueError:
            raise ValueError(
                f"input of shape {input.shape} and target of shape "
                f"{target.shape} must have the same shape or broadcast "
                "together"
            ) from None
        warnings.warn(
            f"Using a target size ({_torch_size(target.shape)}) that is "
            f"different to the input size ({_torch_size(input.shape)}). "
            "This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.",
            UserWarning,
            stacklevel=3,
        )
    dtype = np.result_type(input.dtype, target.dtype)
    expanded_input, expanded_target = np.broadcast_arrays(input, target)
    return (
        expanded_input.astype(dtype, copy=False),
        expanded_target.astype(dtype, copy=False),
    )


def _torch_size(shape: tuple[int, ...]) -> str:
    return f"torch.Size({list(shape)})"


def check_reduction(
    reduction: Any, allowed: tuple[str, ...] = REDUCTIONS
) -> str:
    """Return ``reduction`` if it is one of ``allowed``, else raise."""
    if not isinstance(reduction, str):
        raise TypeError(
            f"reduction must be a string, one of {allowed}; got {reduction!r}"
        )
    if reduction not in allowed:
        raise ValueError(
            f"reduction must be one of {allowed}; got {reduction!r}"
        )
    return reduction


def legacy_reduction(size_average: bool | None, reduce: bool | None) -> str:
    """Map the deprecated ``size_average`` / ``reduce`` pair to a reduction.

    Exactly as ``torch.nn._reduction.legacy_get_string``: a flag left as
    ``None`` counts as ``True``; ``reduce=False`` wins over everything and
    gives ``'none'``; otherwise ``size_average`` picks ``'mean'`` or ``'sum'``.
    Warns as torch does, naming the replacement.
    """
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        reduction = "none"
    elif size_average:
        reduction = "mean"
    else:
        reduction = "sum"
    warnings.warn(
        "size_average and reduce args will be deprecated, "
        f"please use reduction='{reduction}' instead.",
        UserWarning,
        stacklevel=3,
    )
    return reduction


def resolve_reduction(
    size_average: bool | None,
    reduce: bool | None,
    reduction: str,
    allowed: tuple[str, ...] = REDUCTIONS,
) -> str:
    """The reduction a call asks for.

    The legacy flags, when either is given, override ``reduction``.
    """
    if size_average is not None or reduce is not None:
        return legacy_reduction(size_average, reduce)
    return check_reduction(reduction, allowed)


def apply_reduction(
    loss: np.ndarray, reduction: str, denominator: Any = None
) -> np.ndarray:
    """Apply ``reduction`` to elementwise ``loss``.

    ``'mean'`` divides the sum by ``denominator`` when one is given (a weight
    sum), else by the number of elements; an empty ``loss`` gives NaN for
    ``'mean'`` and 0 for ``'sum'``, as in torch.
    """
    if reduction == "none":
        return np.asarray(loss)  # a 0-d loss stays an array, not a scalar
    # torch sums float16 in float32 (its accumulation type on the CPU) and
    # rounds once: 200 squared errors of 20 sum to 400 * 200, past float16's
    # largest number 65504, yet their mean, 400, is finite.
    accumulate = np.float32 if loss.dtype == np.float16 else None
    total = np.sum(loss, dtype=accumulate)
    if reduction == "sum":
        with np.errstate(over="ignore"):  # a float16 sum past 65504 is inf
            return np.asarray(total, dtype=loss.dtype)
    count = loss.size if denominator is None else denominator
    with np.errstate(invalid="ignore", divide="ignore"):
        # As torch's division of two 0-d tensors: a float64 weight sum
        # promotes a float32 total.
        mean = np.asarray(total / count)
    if loss.dtype == np.float16 and mean.dtype == np.float32:
        with np.errstate(over="ignore"):
            return mean.astype(np.float16)
    return mean


def reduce_backward(
    grad_output: Any,
    shape: tuple[int, ...],
    dtype: np.dtype,
    reduction: str,
    denominator: Any = None,
) -> np.ndarray:
    """Gradient of :func:`apply_reduction` with respect to its ``loss``.

    ``grad_output`` (default ones) has the shape of the reduced loss: ``shape``
    for ``'none'``, scalar otherwise.  The result has ``shape``.
    """
    if grad_output is None:
        upstream = np.ones((), dtype=dtype)
    else:
        upstream = np.asarray(grad_output, dtype=dtype)
        expected = shape if reduction == "none" else ()
        if upstream.shape != expected:
            raise ValueError(
                "grad_output must have the shape of the loss, "
                f"{expected}; got {upstream.shape}"
            )
    if reduction == "mean":
        count = int(np.prod(shape)) if denominator is None else denominator
        # torch divides a float16 gradient in float32 (its opmath) and rounds
        # once: a count of 65520 or more is no float16 infinity there.
        opmath = np.float32 if upstream.dtype == np.float16 else None
        with np.errstate(invalid="ignore", divide="ignore"):
            upstream = np.divide(upstream, count, dtype=opmath)
    return np.broadcast_to(upstream, shape).astype(dtype, copy=False)


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes along which ``shape`` was broadcast."""
    leading = grad.ndim - len(shape)
    axes = tuple(range(leading)) + tuple(
        leading + axis
        for axis, size in enumerate(shape)
        if size == 1 and grad.shape[leading + axis] != 1
    )
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return np.asarray(grad).reshape(shape)


def check_weight_shape(weight: np.ndarray, input: np.ndarray) -> None:
    """torch's elementwise ``weight`` must have the shape of ``input``."""
    if weight.shape != input.shape:
        raise ValueError(
            f"weight must have the same shape as input, {input.shape}; "
            f"got {weight.shape}"
        )


def real_number(value: Any, name: str) -> float:
    """A real scalar, as torch's argument parser takes a ``float``.

    A Python or NumPy number, or a bool (an int to Python); not a string,
    None, a complex number or an array (torch refuses a 0-d NumPy array too).
    """
    if isinstance(value, (numbers.Real, np.bool_)):
        return float(value)
    raise TypeError(f"{name} must be a real number; got {value!r}")


def check_flag(value: Any, name: str) -> bool:
    """A bool: torch's parser refuses 1 and 'yes' for a ``bool`` too."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool; got {value!r}")
    return bool(value)


def check_label_smoothing(label_smoothing: Any) -> float:
    """A real number in [0, 1].

    torch refuses a value above 1 and takes True as 1; below 0 (and NaN) its
    kernels silently smooth nothing, a typo lossnotes refuses rather than
    ignores.
    """
    label_smoothing = real_number(label_smoothing, "label_smoothing")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"label_smoothing must be in [0, 1]; got {label_smoothing!r}"
        )
    return label_smoothing


def smooth_index_terms(
    likelihood: np.ndarray,
    uniform: np.ndarray,
    smoothing: float,
    classes: int,
) -> np.ndarray:
    """Label smoothing of class-index targets: ``(1 - eps) l + eps / C u``,
    the likelihood term ``l`` of the target class mixed with ``u``, the sum
    over every class of the (weighted) negative log-probabilities."""
    return (1 - smoothing) * likelihood + (smoothing / classes) * uniform


def smooth_probabilities(
    target: np.ndarray, smoothing: float, classes: int
) -> np.ndarray:
    """Label smoothing of class probabilities: ``(1 - eps) t + eps / C``."""
    return target * (1 - smoothing) + smoothing / classes


def check_class_indices(
    target: np.ndarray, dtypes: tuple[Any, ...], hint: str = ""
) -> np.ndarray:
    """``target`` holds class indices in one of ``dtypes``, the ones torch's
    kernel reads (its gather or its loop), or a TypeError says so."""
    target = np.asarray(target)
    if target.dtype not in [np.dtype(dtype) for dtype in dtypes]:
        names = " or ".join(str(np.dtype(dtype)) for dtype in dtypes)
        raise TypeError(
            f"target must hold class indices of dtype {names}; got "
            f"{target.dtype}{hint}"
        )
    return target


def check_positive(value: float, name: str, allow_zero: bool) -> float:
    """Refuse a negative scalar hyper-parameter, and NaN.

    Zero is refused too, unless ``allow_zero``.
    """
    value = real_number(value, name)
    # Written so that NaN, which fails every comparison, is refused too
    # (as torch does).
    if not (value > 0 or (value == 0 and allow_zero)):
        rule = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be {rule}; got {value!r}")
    return float(value)


def resolve_wrt(
    wrt: Any,
    predictions: tuple[str, ...],
    differentiable: dict[str, str | None],
    given: dict[str, Any],
) -> tuple[tuple[str, ...], bool]:
    """The arguments a ``lossnotes.grad`` call differentiates, and whether it
    returns one array (rather than a tuple).

    ``wrt`` is None (the ``predictions``: one array for one, a tuple in
    positional order for several), one argument's name (one array) or a
    sequence of names (a tuple in that order).  ``differentiable`` maps each
    argument torch's autograd can be asked about to None where it
    differentiates it, or to the reason it refuses; ``given`` holds the
    arguments' values, for refusing one that was not passed (None).
    """
    if wrt is None:
        return predictions, len(predictions) == 1
    single = isinstance(wrt, str)
    names = (wrt,) if single else tuple(wrt)
    if not names or not all(isinstance(name, str) for name in names):
        raise TypeError(
            "wrt must be an argument's name or a sequence of names; "
            f"got {wrt!r}"
        )
    for name in names:
        if name not in differentiable:
            raise ValueError(
                f"wrt: {name!r} is not an argument this loss is "
                f"differentiated with respect to; choose from "
                f"{', '.join(differentiable)}"
            )
        if differentiable[name] is not None:
            raise ValueError(f"wrt: {differentiable[name]}")
        if given.get(name) is None:
            raise ValueError(f"wrt: {name} was not given (it is None)")
    if len(set(names)) != len(names):
        raise ValueError(f"wrt names an argument twice: {names!r}")
    return names, single


def pack_gradients(
    gradients: dict[str, np.ndarray], names: tuple[str, ...], single: bool
) -> np.ndarray | tuple[np.ndarray, ...]:
    """The gradients :func:`resolve_wrt` asked for, as one array or a tuple
    in the order of ``names``."""
    ordered = tuple(np.asarray(gradients[name]) for name in names)
    return ordered[0] if single else ordered
