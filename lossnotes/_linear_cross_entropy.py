"""Linear cross entropy: an output layer and its cross entropy in one call.

Without ``options`` it is torch's ``linear`` and then ``cross_entropy``;
with them torch's chunked path, one chunk of rows at a time, in the dtypes
torch's CPU uses.  The helpers for torch's CPU arithmetic (float16 summed in
float32 and rounded once) serve the adaptive softmax too.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._classification import cross_entropy, cross_entropy_grad
from ._core import (
    as_float_array,
    check_label_smoothing,
    check_reduction,
    reduce_backward,
)

__all__ = [
    "LinearCrossEntropyOptions",
    "linear_cross_entropy",
    "linear_cross_entropy_grad",
]


def _accumulation(dtype: np.dtype) -> np.dtype:
    """The dtype torch's CPU kernels compute a float16 tensor in: float32,
    rounding the result to float16 once; other dtypes compute in their own.
    """
    return np.dtype(np.float32) if dtype == np.float16 else np.dtype(dtype)


def _linear(
    input: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None
) -> np.ndarray:
    """``torch.nn.functional.linear``: ``input @ weight.T + bias``, summed
    in :func:`_accumulation` and rounded to the input's dtype once."""
    wide = _accumulation(input.dtype)
    with np.errstate(invalid="ignore", over="ignore"):  # inf times 0: NaN
        product = input.astype(wide, copy=False) @ weight.astype(wide).T
        if bias is not None:
            product += bias.astype(wide, copy=False)
        return product.astype(input.dtype, copy=False)


def _matmul(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``first @ second`` as torch's CPU matrix product: summed in
    :func:`_accumulation`, rounded to the dtype once."""
    wide = _accumulation(first.dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        product = first.astype(wide, copy=False) @ second.astype(
            wide, copy=False
        )
        return product.astype(first.dtype, copy=False)


@dataclass(frozen=True)
class LinearCrossEntropyOptions:
    """How :func:`linear_cross_entropy` splits the batch into chunks.

    The fields, defaults and checks of ``torch.nn.LinearCrossEntropyOptions``
    (torch 2.13), so that either object can be passed as ``options``:
    lossnotes reads them by attribute and never imports torch.

    Parameters
    ----------
    allow_retain_graph : bool, optional
        In torch, lets the backward of a scalar reduction run twice.  NumPy
        keeps no graph, so it changes nothing here.
    batch_chunk_size : int or None, optional
        Rows of the batch per chunk.  ``None``: ``chunking_method`` decides,
        or the whole batch is one chunk when that is ``None`` too.
    chunking_method : str or None, optional
        ``'aspect_ratio:N'`` (``N >= 1``; ``'aspect_ratio'`` is ``N = 1``)
        sizes a chunk so that its ``(rows, C)`` logits take about ``1/N``
        of the memory of the ``(N, in_features)`` input; ``'auto'`` (the
        default) is ``'aspect_ratio'`` for float16 and ``'aspect_ratio:2'``
        otherwise, torch's choice on the CPU, unless ``batch_chunk_size``
        is given.
    acc_policy : {'auto', 'accurate', 'balanced', 'compact'}, optional
        torch's trade-off between memory and precision when it accumulates
        in a wider dtype than the input's.  lossnotes computes a whole chunk
        in ``acc_dtype``, which is ``'accurate'``; the value is checked and
        otherwise has no effect.
    acc_dtype : dtype or None, optional
        The dtype of the computation: ``None`` for the input's (float32 for
        float16 input under ``acc_policy='auto'``, as torch on the CPU).
        Only float32 with float16 input may differ from the input's dtype.
        A NumPy dtype, its name, or a torch dtype.

    Raises
    ------
    ValueError
        For a value torch's options refuse.
    TypeError
        If ``batch_chunk_size`` is not an integer.

    See Also
    --------
    torch.nn.LinearCrossEntropyOptions

    Examples
    --------
    >>> LinearCrossEntropyOptions(batch_chunk_size=256).batch_chunk_size
    256
    """

    allow_retain_graph: bool = False
    batch_chunk_size: int | None = None
    chunking_method: str | None = "auto"
    acc_policy: str = "auto"
    acc_dtype: Any = None

    def __post_init__(self) -> None:
        _check_options(self)


_ACC_POLICIES = ("auto", "accurate", "balanced", "compact")
_OPTION_FIELDS = (
    "allow_retain_graph",
    "batch_chunk_size",
    "chunking_method",
    "acc_policy",
    "acc_dtype",
)


def _check_options(options: Any) -> None:
    """torch's checks of ``LinearCrossEntropyOptions``, by attribute."""
    missing = [name for name in _OPTION_FIELDS if not hasattr(options, name)]
    if missing:
        raise TypeError(
            "options must be None or a LinearCrossEntropyOptions (lossnotes' "
            f"or torch's); got {options!r}, without {', '.join(missing)}"
        )
    if options.acc_policy not in _ACC_POLICIES:
        raise ValueError(
            f"options.acc_policy must be one of {_ACC_POLICIES}; "
            f"got {options.acc_policy!r}"
        )
    method = options.chunking_method
    if method is not None and method != "auto":
        name, _, factor = str(method).partition(":")
        factor = factor or "1"
        if not (
            isinstance(method, str)
            and name == "aspect_ratio"
            and factor.isdigit()
            and int(factor) > 0
        ):
            raise ValueError(
                "options.chunking_method must be None, 'auto', "
                f"'aspect_ratio' or 'aspect_ratio:N' (N >= 1); got {method!r}"
            )
    size = options.batch_chunk_size
    # torch's own check lets True through as a size of 1, and then fails
    # deep inside: a flag is not a size.
    if size is not None and (
        isinstance(size, bool) or not isinstance(size, (int, np.integer))
    ):
        raise TypeError(
            "options.batch_chunk_size must be a positive integer or None; "
            f"got {size!r}"
        )
    if size is not None and size <= 0:
        raise ValueError(
            "options.batch_chunk_size must be a positive integer or None; "
            f"got {size!r}"
        )
    _acc_dtype(options.acc_dtype)


def _acc_dtype(value: Any) -> np.dtype | None:
    """A NumPy dtype from NumPy's or torch's spelling (``torch.float32``)."""
    if value is None:
        return None
    try:
        dtype = np.dtype(str(value).removeprefix("torch."))
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind != "f":
        raise ValueError(
            "options.acc_dtype must be None, float16, float32 or float64 "
            f"(NumPy has no bfloat16); got {value!r}"
        )
    return dtype


@dataclass(frozen=True)
class _ChunkPlan:
    """How torch's chunked path computes a call: rows per chunk, and the
    dtype of each of its buffers (``LinearCrossEntropyOptions._adjust`` and
    ``_ChunkContext.build`` of torch 2.13, on the CPU).

    With float16 input and a float32 ``accumulate`` (``acc_dtype``), the
    ``'accurate'`` policy (the CPU's default) computes the logits and the
    input gradient in float32; ``'balanced'`` and ``'compact'`` keep the
    logits in float16.  Otherwise everything is in the input's dtype.
    """

    rows: int
    accumulate: np.dtype  # the softmax denominators, and scratch sums
    logits: np.dtype  # the logits, the forward product, the input gradient
    scaled: np.dtype  # each row's weight w_t / -d, and the loss's two dots
    output: np.dtype  # the running loss
    weight_grad_scratch: bool  # a chunk's weight gradient in `accumulate`


def _chunk_plan(
    options: Any,
    num_batches: int,
    in_features: int,
    num_classes: int,
    dtype: np.dtype,
) -> _ChunkPlan:
    """The :class:`_ChunkPlan` of a call, as torch 2.13 makes it on the CPU.

    As ``LinearCrossEntropyOptions._adjust``: an explicit
    ``batch_chunk_size`` turns the ``'auto'`` method off, and one that
    disagrees with an explicit method is refused.
    """
    dtype = np.dtype(dtype)
    method = options.chunking_method
    size = options.batch_chunk_size
    if method == "auto":
        automatic = "aspect_ratio" if dtype == np.float16 else "aspect_ratio:2"
        method = None if size is not None else automatic
    chunk = num_batches if size is None else min(size, num_batches)
    if method is not None:
        if in_features == 0:
            raise ValueError(
                f"options.chunking_method {method!r} divides by in_features, "
                "which is 0; give a batch_chunk_size instead"
            )
        factor = int(method.partition(":")[2] or 1)
        classes_per_feature = -(-num_classes // in_features)
        rows = -(-num_batches // classes_per_feature)
        power_of_two = 1 << (rows - 1).bit_length()
        computed = min(power_of_two // factor, num_batches)
        if size is not None and size != computed:
            raise ValueError(
                f"options.batch_chunk_size (={size}) and chunking_method "
                f"({method!r}) give different chunk sizes ({size} vs "
                f"{computed}); pass only one"
            )
        chunk = computed
    accumulate = _acc_dtype(options.acc_dtype)
    if accumulate is None:
        wider = options.acc_policy == "auto" and dtype == np.float16
        accumulate = np.dtype(np.float32) if wider else dtype
    if accumulate != dtype and not (
        dtype == np.float16 and accumulate == np.float32
    ):
        raise ValueError(
            "options.acc_dtype may differ from the input's dtype only as "
            f"float32 for float16 input; got {accumulate} for {dtype} input"
        )
    policy = options.acc_policy
    if policy == "auto":
        policy = "accurate" if dtype == np.float16 else "compact"
    wider = accumulate != dtype
    logits = accumulate
    if not wider or (dtype == np.float16 and policy != "accurate"):
        logits = dtype
    return _ChunkPlan(
        rows=max(1, chunk),
        accumulate=accumulate,
        logits=logits,
        scaled=accumulate,
        output=accumulate,
        weight_grad_scratch=not (policy == "compact" and logits == dtype),
    )


@dataclass(frozen=True)
class _LinearCrossEntropyCall:
    """A validated call of :func:`linear_cross_entropy`.

    ``input`` is ``(N, in_features)`` (``N = 1`` for unbatched input),
    ``linear_weight`` ``(C * D, in_features)`` and ``linear_bias``
    ``(C * D,)``, with ``D`` the product of the K extra dimensions (1
    without them); ``target`` keeps its shape.  ``plan`` is None for
    torch's reference path, ``cross_entropy`` of the whole logits.
    """

    input: np.ndarray
    linear_weight: np.ndarray
    linear_bias: np.ndarray | None
    target: np.ndarray
    weight: np.ndarray | None
    reduction: str
    ignore_index: int
    label_smoothing: float
    logits_shape: tuple[int, ...]
    plan: _ChunkPlan | None
    shapes: tuple[Any, ...]  # of input, linear_weight and linear_bias

    @property
    def loss_shape(self) -> tuple[int, ...]:
        """The ``'none'`` loss's: the logits' without the class axis."""
        axis = 1 if len(self.shapes[0]) == 2 else 0
        return self.logits_shape[:axis] + self.logits_shape[axis + 1 :]


def _check_same_dtype(array: np.ndarray, name: str, dtype: np.dtype) -> None:
    if array.dtype != dtype:
        raise TypeError(
            f"{name} must have the dtype of input, {dtype}; got {array.dtype}"
        )


def _checked_layer(
    input: Any, linear_weight: Any, linear_bias: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The projection's arrays, checked in torch's order."""
    input = as_float_array(input, "input")
    linear_weight = as_float_array(linear_weight, "linear_weight")
    if input.ndim not in (1, 2):
        raise ValueError(
            "input must have 1 or 2 dimensions, (in_features,) or "
            f"(N, in_features); got shape {input.shape}"
        )
    if linear_weight.ndim < 2:
        raise ValueError(
            "linear_weight must have shape (C, in_features) or (C, d1, ..., "
            f"dK, in_features); got shape {linear_weight.shape}"
        )
    in_features = input.shape[-1]
    if linear_weight.shape[-1] != in_features:
        raise ValueError(
            "input and linear_weight must have the same last dimension "
            f"(in_features); got {in_features} and {linear_weight.shape[-1]}"
        )
    _check_same_dtype(linear_weight, "linear_weight", input.dtype)
    if linear_bias is not None:
        linear_bias = as_float_array(linear_bias, "linear_bias")
        if linear_bias.shape != linear_weight.shape[:-1]:
            raise ValueError(
                f"linear_bias must have shape {linear_weight.shape[:-1]} "
                f"(linear_weight's without in_features); got "
                f"{linear_bias.shape}"
            )
        _check_same_dtype(linear_bias, "linear_bias", input.dtype)
    if linear_weight.ndim > 2 and input.ndim == 1:
        raise ValueError(
            "a K-dimensional loss (linear_weight of shape "
            f"{linear_weight.shape}) needs batched input (N, {in_features}); "
            f"got shape {input.shape}"
        )
    return input, linear_weight, linear_bias


def _checked_target(
    target: Any,
    logits_shape: tuple[int, ...],
    ignore_index: Any,
) -> tuple[np.ndarray, int]:
    """Class indices, checked as torch's ``nll_loss`` does, or probabilities
    (a target of the logits' shape); and the index to ignore, torch's -100
    for ``None``."""
    target = np.asarray(target)
    axis = 1 if len(logits_shape) > 1 else 0
    num_classes = logits_shape[axis]
    if target.shape == logits_shape:  # torch's rule: probabilities
        if ignore_index is not None:
            raise ValueError(
                "ignore_index must be None when target holds class "
                "probabilities (it applies to class indices only)"
            )
        if target.dtype.kind != "f":
            raise TypeError(
                "target of the logits' shape holds class probabilities and "
                f"must be floating point; got dtype {target.dtype}"
            )
        return target, -100
    index_shape = logits_shape[:axis] + logits_shape[axis + 1 :]
    if target.shape != index_shape:
        raise ValueError(
            f"target must have shape {index_shape} (class indices) or "
            f"{logits_shape} (class probabilities); got {target.shape}"
        )
    if target.dtype not in (np.int64, np.uint8):
        raise TypeError(
            "target of class indices must be int64 or uint8 (torch's Long "
            f"or Byte); got dtype {target.dtype}"
        )
    if target.dtype == np.uint8 and len(logits_shape) > 2:
        raise TypeError(
            "target of uint8 class indices cannot be used with a "
            "K-dimensional loss (torch's kernel takes int64 only); pass "
            "int64 indices"
        )
    ignore_index = -100 if ignore_index is None else ignore_index
    if isinstance(ignore_index, bool) or not isinstance(
        ignore_index, (int, np.integer)
    ):
        raise TypeError(
            f"ignore_index must be an integer or None; got {ignore_index!r}"
        )
    indices = target.astype(np.int64)
    bad = (indices != ignore_index) & (
        (indices < 0) | (indices >= num_classes)
    )
    if np.any(bad):
        raise ValueError(
            f"target must hold class indices in [0, {num_classes}) or "
            f"ignore_index ({ignore_index}); got {indices[bad][0]}"
        )
    return target, int(ignore_index)


def _checked_class_weight(
    weight: Any, num_classes: int, dtype: np.dtype
) -> np.ndarray | None:
    if weight is None:
        return None
    # One per class, also where torch's chunked path gathers the weights
    # at the targets without looking at the shape (test_hostile.py).
    weight = as_float_array(weight, "weight")
    if weight.shape != (num_classes,):
        raise ValueError(
            f"weight must have shape ({num_classes},), one per class; got "
            f"{weight.shape}"
        )
    _check_same_dtype(weight, "weight", dtype)
    return weight


def _options_plan(
    options: Any,
    input: np.ndarray,
    linear_weight: np.ndarray,
    target: np.ndarray,
    reduction: str,
    label_smoothing: Any,
    linear_bias: np.ndarray | None,
) -> _ChunkPlan | None:
    """The chunk plan of ``options``, or None where torch takes its
    reference path: without options, and, with torch's warning, for a
    K-dimensional loss, label smoothing or a target that is not int64
    class indices."""
    if options is None:
        return None
    _check_options(options)
    out_features = linear_weight.shape[1:-1]
    if out_features or label_smoothing != 0.0 or target.dtype != np.int64:
        warnings.warn(
            "linear_cross_entropy: ``options`` ignored; chunked path "
            "needs reduction in {'mean','sum','none'}, label_smoothing "
            "== 0, target.dtype == int64, out_features == (). Got "
            f"reduction={reduction!r}, label_smoothing={label_smoothing}, "
            f"target.dtype=torch.{target.dtype}, out_features="
            f"{out_features}, tracing=False, linear_bias.shape="
            f"{None if linear_bias is None else linear_bias.shape}.",
            UserWarning,
            stacklevel=5,
        )
        return None
    batch = input.shape[0] if input.ndim == 2 else 1
    return _chunk_plan(
        options,
        batch,
        input.shape[-1],
        linear_weight.shape[0],
        input.dtype,
    )


def _linear_cross_entropy_call(
    input: Any,
    linear_weight: Any,
    target: Any,
    linear_bias: Any,
    weight: Any,
    reduction: str,
    ignore_index: int | None,
    label_smoothing: float,
    options: Any,
) -> _LinearCrossEntropyCall:
    """Validate a call, in the order torch 2.13 checks it, and lay it out
    for the two paths."""
    input, linear_weight, linear_bias = _checked_layer(
        input, linear_weight, linear_bias
    )
    num_classes, *out_features = linear_weight.shape[:-1]
    logits_shape = (*input.shape[:-1], num_classes, *out_features)
    target, ignore_index = _checked_target(target, logits_shape, ignore_index)
    reduction = check_reduction(reduction)
    weight = _checked_class_weight(weight, num_classes, input.dtype)
    smoothing_as_given = label_smoothing  # for torch's warning, verbatim
    label_smoothing = check_label_smoothing(label_smoothing)
    if (
        target.dtype == np.uint8
        and label_smoothing > 0
        and weight is not None
        and reduction == "mean"
    ):
        # torch 2.13 gathers the weights with the uint8 indices there, and
        # gather takes only int32/int64 ("Expected dtype int32/int64").
        raise TypeError(
            "target of uint8 class indices cannot be used with "
            "label_smoothing, a weight and reduction='mean' (torch refuses "
            "it); pass int64 indices"
        )
    plan = _options_plan(
        options,
        input,
        linear_weight,
        target,
        reduction,
        smoothing_as_given,
        linear_bias,
    )
    in_features = input.shape[-1]
    return _LinearCrossEntropyCall(
        input=input.reshape(-1, in_features),
        linear_weight=linear_weight.reshape(-1, in_features),
        linear_bias=None if linear_bias is None else linear_bias.reshape(-1),
        target=target,
        weight=weight,
        reduction=reduction,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        logits_shape=logits_shape,
        plan=plan,
        shapes=(
            input.shape,
            linear_weight.shape,
            None if linear_bias is None else linear_bias.shape,
        ),
    )


# --- torch's reference path: linear, then cross_entropy ---------------------


def _reference_logits(call: _LinearCrossEntropyCall) -> np.ndarray:
    """``torch.nn.functional.linear`` of the call (a float32 sum rounded
    once for float16), in the logits' shape."""
    logits = _linear(call.input, call.linear_weight, call.linear_bias)
    return logits.reshape(call.logits_shape)


def _cross_entropy_options(call: _LinearCrossEntropyCall) -> dict[str, Any]:
    return {
        "weight": call.weight,
        "ignore_index": call.ignore_index,
        "reduction": call.reduction,
        "label_smoothing": call.label_smoothing,
    }


def _reference_gradients(
    call: _LinearCrossEntropyCall, grad_output: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Through cross_entropy's gradient ``G`` in the logits, then the
    projection: ``G W``, ``G^T x`` and the sum of ``G`` over the batch."""
    logits = _reference_logits(call)
    grad_logits = cross_entropy_grad(
        logits,
        call.target,
        **_cross_entropy_options(call),
        grad_output=grad_output,
    ).reshape(call.input.shape[0], call.linear_weight.shape[0])
    grad_input = _matmul(grad_logits, call.linear_weight)
    grad_weight = _matmul(grad_logits.T, call.input)
    if call.linear_bias is None:
        return grad_input, grad_weight, None
    wide = _accumulation(grad_logits.dtype)
    grad_bias = np.sum(grad_logits, axis=0, dtype=wide)
    return grad_input, grad_weight, grad_bias.astype(grad_logits.dtype)


# --- torch's chunked path ---------------------------------------------------


def _row_weights(call: _LinearCrossEntropyCall) -> tuple[Any, Any]:
    """Each row's class weight (0 where the target is ignored) in the
    plan's ``scaled`` dtype, and the targets torch gathers with: an
    ignored target outside [0, C) is read as class 0."""
    target = call.target.reshape(-1)
    ignored = target == call.ignore_index
    classes = call.linear_weight.shape[0]
    gather = target
    if not 0 <= call.ignore_index < classes:
        gather = np.where(ignored, 0, target)
    dtype = call.plan.scaled
    weight = (
        np.ones(target.shape, dtype=dtype)
        if call.weight is None
        else call.weight[gather].astype(dtype)
    )
    return np.where(ignored, dtype.type(0), weight), gather


def _scaled_weights(
    call: _LinearCrossEntropyCall, grad_output: Any
) -> tuple[np.ndarray, np.ndarray]:
    """torch's ``neg_weight_target``: each row's weight over ``-d``
    (``'mean'``, ``d`` their sum; NaN for every row when ``d`` is 0),
    negated (``'sum'``), or negated and times its upstream gradient
    (``'none'``); and the targets to gather with."""
    weight, gather = _row_weights(call)
    dtype = call.plan.scaled
    if call.reduction == "mean":
        total = np.sum(weight, dtype=_accumulation(dtype)).astype(dtype)
        divisor = dtype.type(np.nan) if total == 0 else -total
        return weight / divisor, gather
    if call.reduction == "sum":
        return -weight, gather
    return -weight * np.asarray(grad_output).reshape(-1).astype(dtype), gather


def _dot(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """torch's ``dot`` on the CPU: float16 in float32, rounded once."""
    wide = _accumulation(first.dtype)
    total = np.dot(first.astype(wide), second.astype(wide))
    return np.asarray(total).astype(first.dtype)


def _chunk_logits(
    call: _LinearCrossEntropyCall, rows: slice
) -> tuple[np.ndarray, np.ndarray]:
    """One chunk's logits less each row's largest, in the plan's logits
    dtype (the product, then the bias, each rounded): the only place
    where logits exist, one chunk of them at a time."""
    dtype = call.plan.logits
    logits = _matmul(
        call.input[rows].astype(dtype, copy=False),
        call.linear_weight.astype(dtype, copy=False).T,
    )
    if call.linear_bias is not None:
        logits += call.linear_bias.astype(dtype)
    with np.errstate(invalid="ignore"):
        logits -= np.max(logits, axis=1, keepdims=True)
    return logits


def _exponentiated(call: _LinearCrossEntropyCall, logits: Any) -> Any:
    """``exp`` of the shifted logits in place (rounded to their dtype), and
    their sum per row in ``accumulate``."""
    with np.errstate(over="ignore", invalid="ignore"):
        np.exp(logits, out=logits)
    return np.sum(logits, axis=1, dtype=call.plan.accumulate)


def _chunked_none_loss(call: _LinearCrossEntropyCall) -> np.ndarray:
    """torch's chunked ``'none'`` forward: each row's
    ``(log sum exp(z - m) - (z_t - m)) w_t``, 0 times that for an ignored
    target (NaN where that is not finite)."""
    weight, gather = _row_weights(call)
    loss = np.empty(call.input.shape[0], dtype=call.input.dtype)
    for start in range(0, loss.size, call.plan.rows):
        rows = slice(start, start + call.plan.rows)
        logits = _chunk_logits(call, rows)
        picked = logits[np.arange(logits.shape[0]), gather[rows]]
        total = _exponentiated(call, logits)
        wide = total.dtype
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            chunk = np.log(total) - picked.astype(wide)
            chunk *= weight[rows].astype(wide)
        loss[rows] = chunk
    return loss


def _chunked(
    call: _LinearCrossEntropyCall, grad_output: Any, gradients: bool
) -> tuple[np.ndarray, ...]:
    """torch's chunked accumulator: the loss of ``'mean'`` or ``'sum'``
    and, if ``gradients``, the gradients for an upstream gradient of 1
    (for ``'none'``, of ``grad_output``), chunk by chunk in the plan's
    dtypes.  A chunk adds ``w . (z_t - m)`` and subtracts
    ``w . log sum exp(z - m)`` to the loss, with ``w`` the rows'
    :func:`_scaled_weights`; its logits become ``w softmax``, which the
    gradients multiply: ``G = -w (softmax - onehot)``."""
    plan, dtype = call.plan, call.input.dtype
    scaled, gather = _scaled_weights(call, grad_output)
    batch = call.input.shape[0]
    output = np.zeros((), dtype=plan.output)
    if call.reduction == "mean" and batch == 0:
        output = np.full((), np.nan, dtype=plan.output)
    grad_input = np.empty(call.input.shape, dtype=plan.logits)
    grad_weight = np.zeros(call.linear_weight.shape, dtype=dtype)
    grad_bias = np.zeros(call.linear_weight.shape[:1], dtype=dtype)
    weight_cast = call.linear_weight.astype(plan.logits, copy=False)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for start in range(0, batch, plan.rows):
            rows = slice(start, start + plan.rows)
            logits = _chunk_logits(call, rows)
            weight, target = scaled[rows], gather[rows]
            picked = logits[np.arange(logits.shape[0]), target]
            output += _dot(weight, picked.astype(weight.dtype))
            total = _exponentiated(call, logits)
            if gradients:
                factor = (weight / total).astype(plan.logits)
                logits *= factor[:, None]  # w softmax
            output -= _dot(weight.astype(total.dtype), np.log(total))
            if not gradients:
                continue
            if call.linear_bias is not None:
                grad_bias = _chunk_bias_grad(
                    call, grad_bias, logits, weight, target
                )
            grad_input[rows] = _addmm(
                weight_cast[target] * weight.astype(plan.logits)[:, None],
                logits,
                weight_cast,
            )
            grad_weight = _chunk_weight_grad(
                call, grad_weight, logits, weight, target, rows
            )
        # float16: the float32 loss and input gradient rounded, once.
        return (
            output.astype(dtype),
            grad_input.astype(dtype),
            grad_weight,
            grad_bias,
        )


def _addmm(start: np.ndarray, first: Any, second: Any) -> np.ndarray:
    """``start - first @ second`` as torch's ``addmm(alpha=-1)``: float16
    summed in float32 and rounded once; other dtypes in place."""
    wide = _accumulation(start.dtype)
    product = first.astype(wide, copy=False) @ second.astype(wide, copy=False)
    if wide == start.dtype:
        start -= product
        return start
    return (start.astype(wide) - product).astype(start.dtype)


def _chunk_bias_grad(
    call: _LinearCrossEntropyCall,
    grad_bias: np.ndarray,
    logits: np.ndarray,
    weight: np.ndarray,
    target: np.ndarray,
) -> np.ndarray:
    """``grad_b -= sum_n w_n softmax_n; grad_b[t_n] += w_n``: with float32
    accumulation for float16 input a chunk is summed in a float32 scratch
    and added to the float16 gradient once."""
    plan = call.plan
    wide = plan.accumulate
    scratch = (
        grad_bias
        if wide == grad_bias.dtype
        else np.zeros_like(grad_bias, dtype=wide)
    )
    scratch -= np.sum(logits, axis=0, dtype=wide)
    np.add.at(scratch, target, weight.astype(wide))
    if scratch is grad_bias:
        return grad_bias
    return grad_bias + scratch.astype(grad_bias.dtype)


def _chunk_weight_grad(
    call: _LinearCrossEntropyCall,
    grad_weight: np.ndarray,
    logits: np.ndarray,
    weight: np.ndarray,
    target: np.ndarray,
    rows: slice,
) -> np.ndarray:
    """``grad_W -= (w softmax)^T x; grad_W[t_n] += w_n x_n``, as torch
    orders it: through a per-chunk scratch in ``accumulate``, subtracted
    once, or (``'compact'``) straight into the gradient."""
    plan, dtype = call.plan, grad_weight.dtype
    rows_input = call.input[rows].astype(plan.accumulate)
    scaled_input = rows_input * weight.astype(plan.accumulate)[:, None]
    if plan.weight_grad_scratch:
        scratch = _matmul(logits.T.astype(plan.accumulate), rows_input)
        np.subtract.at(scratch, target, scaled_input)
        if scratch.dtype == dtype:
            grad_weight -= scratch
            return grad_weight
        wide = _accumulation(dtype)
        return (grad_weight.astype(wide) - scratch).astype(dtype)
    grad_weight = _addmm(grad_weight, logits.T, call.input[rows])
    np.add.at(grad_weight, target, scaled_input.astype(dtype))
    return grad_weight


def _chunked_loss(call: _LinearCrossEntropyCall) -> np.ndarray:
    if call.reduction == "none":
        return _chunked_none_loss(call).reshape(call.loss_shape)
    return _chunked(call, None, gradients=False)[0]


def _chunked_gradients(
    call: _LinearCrossEntropyCall, grad_output: Any
) -> tuple[np.ndarray, ...]:
    """The three gradients of torch's chunked path: for ``'none'`` computed
    with each row's upstream gradient folded into its weight; for
    ``'mean'`` and ``'sum'`` computed for an upstream gradient of 1 and
    then multiplied by ``grad_output``, rounded to the dtype."""
    dtype = call.input.dtype
    if call.reduction == "none":
        upstream = reduce_backward(grad_output, call.loss_shape, dtype, "none")
        return _chunked(call, upstream, gradients=True)[1:]
    scale = reduce_backward(grad_output, (), dtype, "sum")
    return tuple(
        grad * scale for grad in _chunked(call, None, gradients=True)[1:]
    )


def linear_cross_entropy(
    input: Any,
    linear_weight: Any,
    target: Any,
    *,
    linear_bias: Any = None,
    weight: Any = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    options: Any = None,
) -> np.ndarray:
    r"""Cross entropy of a linear projection, optionally a chunk at a time.

    Equal to ``cross_entropy(input @ linear_weight.T + linear_bias,
    target, ...)``; with ``options`` the batch is processed
    ``batch_chunk_size`` rows at a time, so that the ``(N, C)`` logits
    never exist at once.

    Parameters
    ----------
    input : ndarray of shape (in_features,) or (N, in_features)
        Hidden states (the features before the output layer), floating.
    linear_weight : ndarray of shape (C, in_features) or (C, d1, ..., dK,
        in_features)
        The output layer's weight (``torch.nn.Linear`` layout), of the
        dtype of ``input``; K extra dimensions give a K-dimensional loss
        and need batched input.
    target : ndarray
        Class indices (int64 or uint8) of shape ``()``, ``(N,)`` or ``(N,
        d1, ..., dK)``, or class probabilities of the logits' shape ``(C,)``,
        ``(N, C)`` or ``(N, C, d1, ..., dK)``.
    linear_bias : ndarray of shape (C,) or (C, d1, ..., dK), optional
        Added to the logits.
    weight : ndarray of shape (C,), optional
        A weight per class, as in ``cross_entropy``.
    reduction : {'mean', 'sum', 'none'}, optional
        ``'mean'`` divides by the summed weight of the class-index targets
        that count, or by the number of elements for probabilities.
    ignore_index : int or None, optional
        A class index that contributes nothing; ``None`` is torch's -100.
        Must be ``None`` with probabilities.
    label_smoothing : float, optional
        In [0, 1]: the target is mixed with the uniform distribution.
    options : LinearCrossEntropyOptions or None, optional
        lossnotes' or torch's; ``None`` computes all logits at once.  As in
        torch, it is ignored, with torch's warning, for a K-dimensional
        loss, label smoothing or a target that is not int64 indices.

    Returns
    -------
    ndarray
        The loss: of the shape of the class-index target for ``'none'``,
        0-d otherwise; the dtype of ``input`` (promoted with float
        probabilities).

    Raises
    ------
    ValueError
        For shapes that do not fit, a class index out of range, an unknown
        reduction, ``label_smoothing`` outside [0, 1], bad options.
    TypeError
        For non-floating input, mixed dtypes, a target of the wrong dtype.

    See Also
    --------
    torch.nn.functional.linear_cross_entropy, torch.nn.LinearCrossEntropyLoss

    Notes
    -----
    With logits :math:`z = W x_n + b` and :math:`p = \operatorname{softmax}
    (z)`, the per-sample loss for class index :math:`y_n` is

    .. math::

        \ell_n = (1 - \varepsilon)\, w_{y_n} (-\log p_{n y_n})
                 + \frac{\varepsilon}{C} \sum_c w_c (-\log p_{nc}) .

    Only one chunk of logits exists at a time; the loss of a row does not
    depend on the chunk it is in, so chunked and unchunked losses are equal.

    Examples
    --------
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> w = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    >>> y = np.array([0, 2])
    >>> linear_cross_entropy(x, w, y, reduction="none").round(6)
    array([0.551445, 1.551445])
    >>> options = LinearCrossEntropyOptions(batch_chunk_size=1)
    >>> linear_cross_entropy(x, w, y, options=options).round(6)
    np.float64(1.051445)
    """
    call = _linear_cross_entropy_call(
        input,
        linear_weight,
        target,
        linear_bias,
        weight,
        reduction,
        ignore_index,
        label_smoothing,
        options,
    )
    if call.plan is not None:
        return _chunked_loss(call)
    return np.asarray(
        cross_entropy(
            _reference_logits(call),
            call.target,
            **_cross_entropy_options(call),
        )
    )


def linear_cross_entropy_grad(
    input: Any,
    linear_weight: Any,
    target: Any,
    *,
    linear_bias: Any = None,
    weight: Any = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    options: Any = None,
    grad_output: Any = None,
) -> tuple[np.ndarray, ...]:
    r"""Gradient of :func:`linear_cross_entropy`, chunk by chunk.

    Parameters
    ----------
    input, linear_weight, target
        As for :func:`linear_cross_entropy`.
    linear_bias, weight, reduction, ignore_index, label_smoothing, options
        As for :func:`linear_cross_entropy`.
    grad_output : ndarray, optional
        Upstream gradient of the shape of the loss (default ones).

    Returns
    -------
    tuple of ndarray
        The gradients with respect to ``input`` and ``linear_weight``, and
        ``linear_bias`` when it is given, each of its argument's shape.

    Raises
    ------
    ValueError, TypeError
        As :func:`linear_cross_entropy`; ``ValueError`` for a
        ``grad_output`` of the wrong shape.

    See Also
    --------
    torch.nn.functional.linear_cross_entropy

    Notes
    -----
    With :math:`A_{nc}` the coefficient of :math:`-\log p_{nc}` in the loss
    (:math:`(1-\varepsilon) w_{y_n} [c = y_n] + \varepsilon w_c / C` for
    class indices, :math:`w_c \tilde t_{nc}` for probabilities) and
    :math:`g_n` the upstream gradient after the reduction,

    .. math::

        \frac{\partial \ell}{\partial z_{nc}}
        = g_n \Bigl(p_{nc} \sum_k A_{nk} - A_{nc}\Bigr) = G_{nc},
        \qquad
        \nabla_x = G W, \quad \nabla_W = G^\top x, \quad
        \nabla_b = \textstyle\sum_n G_n .

    Examples
    --------
    The logits of ``x = (1, 0)`` through the identity are ``(1, 0)``, and
    the gradient with respect to them is ``softmax - one_hot``:

    >>> x, identity = np.array([[1.0, 0.0]]), np.eye(2)
    >>> grad_x, grad_w = linear_cross_entropy_grad(x, identity, np.array([0]))
    >>> grad_x.round(4)
    array([[-0.2689,  0.2689]])
    """
    call = _linear_cross_entropy_call(
        input,
        linear_weight,
        target,
        linear_bias,
        weight,
        reduction,
        ignore_index,
        label_smoothing,
        options,
    )
    if call.plan is None:
        grads = _reference_gradients(call, grad_output)
    else:
        grads = _chunked_gradients(call, grad_output)
    shapes = [shape for shape in call.shapes if shape is not None]
    return tuple(
        np.asarray(grad).reshape(shape) for grad, shape in zip(grads, shapes)
    )
