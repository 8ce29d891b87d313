"""The lossnotes functions, described once for the property tests.

A :class:`LossSpec` says how to call a loss (a hypothesis strategy of :class:`Call`), which
positional arguments are predictions (the ones ``lossnotes.grad`` differentiates), which
reductions and legacy flags it takes, and what its ``'mean'`` is in terms of its ``'none'``.
Every property in ``test_properties.py`` runs on every entry of :data:`SPECS`, so a new loss
adds its entry here (and its rows to ``test_hostile.py``) and is checked like the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lossnotes

# float16 too: torch's CPU kernels take it for most losses, computing in float32 inside; a loss
# whose CPU kernel refuses it (multi_margin, multilabel_margin, ctc) draws the other two.
FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
REDUCTIONS = ("none", "mean", "sum")
LEGACY_FLAGS = (None, True, False)

# The largest magnitude drawn: far from overflow, but it squares to 1e8, where float32 keeps only
# a few digits after the point.
EXTREME = 1e4


@dataclass(frozen=True)
class Call:
    """One call of a loss: positional arguments and keyword parameters (reduction aside).

    ``batch_axes`` names the arrays that carry the batch (argument position, or keyword) and the
    axis along which they do; an array broadcast along the batch is left out.
    ``output_batch_axis`` is that axis in the ``'none'`` loss, ``None`` when there is no batch.
    """

    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    batch_axes: dict[int | str, int] = field(default_factory=dict)
    output_batch_axis: int | None = None

    def arrays(self) -> list[np.ndarray]:
        values = [*self.args, *self.kwargs.values()]
        return [value for value in values if isinstance(value, np.ndarray)]

    def batch_size(self) -> int:
        """Length of the batch axis (0 when there is none)."""
        lengths = [
            self._get(key).shape[axis]
            for key, axis in self.batch_axes.items()
            if self._get(key).shape[axis] != 1
        ]
        return max(lengths, default=1 if self.batch_axes else 0)

    def permuted(self, order: np.ndarray) -> Call:
        """The same call with the batch reordered by ``order``."""
        args, kwargs = list(self.args), dict(self.kwargs)
        for key, axis in self.batch_axes.items():
            value = self._get(key)
            if value.shape[axis] == len(order):
                value = np.take(value, order, axis=axis)
            if isinstance(key, int):
                args[key] = value
            else:
                kwargs[key] = value
        return replace(self, args=tuple(args), kwargs=kwargs)

    def _get(self, key: int | str) -> np.ndarray:
        return self.args[key] if isinstance(key, int) else self.kwargs[key]

    def precision(self, *results: np.ndarray) -> np.dtype:
        """The least precise floating dtype among the arrays of the call and ``results``: its
        rounding bounds a reduction (a float32 weight is summed in float32 for a float64 loss)."""
        dtypes = [a.dtype for a in (*self.arrays(), *results) if a.dtype.kind == "f"]
        return min(dtypes, key=lambda dtype: dtype.itemsize)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis prints with this
        printer.text(repr(self))

    def __repr__(self) -> str:
        def show(value: Any) -> str:
            if isinstance(value, np.ndarray) and value.size > 12:
                return f"<{value.dtype} array of shape {value.shape}>"
            if isinstance(value, np.ndarray):
                return f"np.array({value.tolist()!r}, dtype=np.{value.dtype})"
            return repr(value)

        parts = [show(a) for a in self.args] + [f"{k}={show(v)}" for k, v in self.kwargs.items()]
        return f"Call({', '.join(parts)})"


@dataclass(frozen=True)
class LossSpec:
    """How to draw calls of ``lossnotes.<name>`` and what its reductions must satisfy."""

    name: str  # lossnotes.<name>, lossnotes.grad.<name> and torch.nn.functional.<name>
    calls: Callable[[], st.SearchStrategy[Call]]
    mean_of_none: Callable[[np.ndarray, Call], float]  # 'mean' from the 'none' loss, in float64
    wrt: tuple[int, ...] = (0,)  # positional arguments that are predictions
    reductions: tuple[str, ...] = REDUCTIONS
    legacy: bool = True  # takes size_average / reduce
    # The 'none' loss is the same per-element formula as torch's, so it agrees to a few ulps
    # element by element, not only relative to the largest element.
    pointwise: bool = False
    # Where torch's backward refuses a call its forward accepts (a torch bug): the equivalent
    # call torch can differentiate, or None for calls it handles.
    torch_differentiable: Callable[[Call], Call | None] = lambda call: None
    # The size of the terms each gradient adds up, given the call, the reduction options and
    # grad_output (see elementwise_gradient_magnitude); None: the gradient's own size.
    gradient_magnitude: Callable[[LossSpec, Call, dict[str, Any], np.ndarray], float] | None = None
    # The arguments besides the predictions that torch's autograd differentiates (targets,
    # weights, a variance), by name: lossnotes.grad.<name>(..., wrt=...) takes them.
    other_wrt: tuple[str, ...] = ()
    # The size of the terms each element of the 'none' loss adds or cancels, in the shape of
    # the 'none' loss (see class_term_magnitude): the rounding errors of a result that cancels
    # to nearly 0 are relative to them, not to the result; None: the loss's own size.
    term_magnitude: Callable[[Call], np.ndarray] | None = None
    # The properties of test_properties.py (by test name) that do not apply, with the reason:
    # they are skipped for this loss, visibly, with that reason.
    exempt: dict[str, str] = field(default_factory=dict)

    @property
    def loss(self) -> Callable[..., np.ndarray]:
        return getattr(lossnotes, self.name)

    @property
    def grad(self) -> Callable[..., Any]:
        return getattr(lossnotes.grad, self.name)

    def parameter_names(self) -> list[str]:
        import inspect

        return list(inspect.signature(self.loss).parameters)

    def reduction_options(self) -> st.SearchStrategy[dict[str, Any]]:
        """``reduction``, and sometimes the legacy flags that override it (nothing for a loss
        without a ``reduction``)."""
        if not self.reductions:
            return st.just({})
        plain = st.fixed_dictionaries({"reduction": st.sampled_from(self.reductions)})
        if not self.legacy:
            return plain
        legacy = st.fixed_dictionaries(
            {
                "reduction": st.sampled_from(self.reductions),
                "size_average": st.sampled_from(LEGACY_FLAGS),
                "reduce": st.sampled_from(LEGACY_FLAGS),
            }
        )
        return st.one_of(plain, legacy)


# --- shapes and values --------------------------------------------------------------------------

# Large shapes: enough elements for NumPy's pairwise and torch's vectorised sums to take
# different orders, and lengths that leave SIMD tails.
LARGE_SHAPES = ((4099,), (33, 257), (2, 3, 5, 7, 11))


def shapes() -> st.SearchStrategy[tuple[int, ...]]:
    """0-d, empty, K-dimensional (K up to 4) and large shapes."""
    return st.one_of(
        hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5),
        st.just(()),
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=3).filter(
            lambda shape: 0 in shape
        ),
        st.sampled_from(LARGE_SHAPES),
    )


def pair_shapes() -> st.SearchStrategy[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Shapes of ``(input, target)``: mostly equal, sometimes merely broadcastable (torch warns)."""
    equal = shapes().map(lambda shape: (shape, shape))
    broadcast = hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=4
    ).map(lambda shapes: tuple(shapes.input_shapes))
    return st.one_of(equal, broadcast)


VALUE_STYLES = ("ordinary", "extreme", "grid", "mixed", "edges")

# The values at the edges of every dtype: zeros of both signs, magnitudes that underflow or
# overflow in float16 and float32 once squared or exponentiated, infinities and NaN.
EDGES = (0.0, -0.0, 1e-30, -1e-30, 1e30, -1e30, np.inf, -np.inf, np.nan)


def values(
    rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype, style: str, step: float
) -> np.ndarray:
    """An array in one of :data:`VALUE_STYLES`.

    ``ordinary``: normal values at one scale between 1e-3 and 10; ``extreme``: uniform in
    ``±EXTREME`` with the end points themselves; ``grid``: multiples of ``step / 2`` from -4 to
    4, so that differences of two grid arrays land exactly on a kink at 0, ``±step/2`` or
    ``±step``; ``mixed``: each element in one of the three styles; ``edges``: each element
    ordinary or one of :data:`EDGES`.
    """
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        return rng.integers(-5, 6, size=shape).astype(dtype)
    ordinary = rng.standard_normal(shape) * 10.0 ** rng.uniform(-3, 1)
    extreme = rng.choice([-EXTREME, EXTREME, 0.0], size=shape) + 0.0
    extreme = np.where(rng.random(shape) < 0.5, rng.uniform(-EXTREME, EXTREME, shape), extreme)
    grid = rng.integers(-4, 5, size=shape) * (step / 2)
    if style == "mixed":
        which = rng.integers(0, 3, size=shape)
        chosen = np.choose(which, [ordinary, extreme, grid])
    elif style == "edges":
        edges = rng.choice(np.array(EDGES), size=shape)
        chosen = np.where(rng.random(shape) < 0.5, edges, ordinary)
    else:
        chosen = {"ordinary": ordinary, "extreme": extreme, "grid": grid}[style]
    return np.asarray(chosen, dtype=np.float64).astype(dtype)


def weights(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Non-negative per-element weights, some exactly zero, so that 'mean' stays an average."""
    drawn = rng.uniform(0, 2, size=shape) * (rng.random(shape) > 0.2)
    return np.asarray(drawn, dtype=np.float64).astype(dtype)


# --- the regression losses ----------------------------------------------------------------------


def _batch_axes(call_arrays: dict[int | str, np.ndarray], ndim: int) -> dict[int | str, int]:
    """Axis 0 of the broadcast result, for the arrays that have it (others broadcast along it)."""
    return {key: 0 for key, array in call_arrays.items() if ndim > 0 and array.ndim == ndim}


@st.composite
def regression_calls(
    draw: st.DrawFn,
    parameter: str | None = None,
    parameter_values: st.SearchStrategy[float] | None = None,
    weighted: bool = False,
) -> Call:
    """``(input, target)`` of broadcastable shapes and float dtypes (integer targets too, which
    torch promotes), with an optional kink ``parameter`` (``beta``, ``delta``) and ``weight``."""
    input_shape, target_shape = draw(pair_shapes(), label="shapes")
    input_dtype = draw(st.sampled_from(FLOAT_DTYPES), label="input dtype")
    target_dtype = draw(
        st.sampled_from((*FLOAT_DTYPES, np.dtype(np.int64))), label="target dtype"
    )
    kwargs: dict[str, Any] = {}
    step = 1.0  # the kink of l1_loss is at 0; grid steps of 1/2 reach it
    if parameter is not None:
        kwargs[parameter] = draw(parameter_values, label=parameter)
        step = kwargs[parameter] or 1.0
    styles = st.sampled_from(VALUE_STYLES)
    input_style = draw(styles, label="input values")
    target_style = draw(styles, label="target values")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    input = values(rng, input_shape, input_dtype, input_style, step)
    target = values(rng, target_shape, target_dtype, target_style, step)
    arrays: dict[int | str, np.ndarray] = {0: input, 1: target}
    if weighted and draw(st.booleans(), label="weighted"):
        weight_dtype = draw(st.sampled_from(FLOAT_DTYPES), label="weight dtype")
        kwargs["weight"] = arrays["weight"] = weights(rng, input_shape, weight_dtype)
    ndim = len(np.broadcast_shapes(input_shape, target_shape))
    return Call(
        args=(input, target),
        kwargs=kwargs,
        batch_axes=_batch_axes(arrays, ndim),
        output_batch_axis=0 if ndim > 0 else None,
    )


def _element_mean(none: np.ndarray, call: Call) -> float:
    """'mean' divides the sum by the number of elements (also with a weight, for Huber)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return none.astype(np.float64).sum() / none.size


def _weighted_mean(none: np.ndarray, call: Call) -> float:
    """With a weight, torch's L1 and MSE 'mean' is sum(w * l) / sum(w): a weighted average."""
    weight = call.kwargs.get("weight")
    if weight is None:
        return _element_mean(none, call)
    with np.errstate(invalid="ignore", divide="ignore"):
        return none.astype(np.float64).sum() / weight.astype(np.float64).sum()


def effective_reduction(options: dict[str, Any]) -> str:
    """The reduction a call asks for: the legacy flags, when given, override ``reduction``."""
    from torch.nn._reduction import legacy_get_string

    flags = {key: options.get(key) for key in ("size_average", "reduce")}
    if flags == {"size_average": None, "reduce": None}:
        return options["reduction"]
    return legacy_get_string(**flags, emit_warning=False)


def elementwise_gradient_magnitude(
    spec: LossSpec, call: Call, options: dict[str, Any], grad_output: np.ndarray
) -> float:
    """The largest sum of |terms| in the gradient of an elementwise loss with respect to input.

    Where input was broadcast against target, its gradient adds the terms
    ``grad_output * weight * slope(d) / denominator`` over the broadcast axes, and they can
    cancel to far less than their size; float32 rounding errors are relative to the size.
    """
    input, target = call.args
    shape = np.broadcast_shapes(input.shape, target.shape)
    expanded_input = np.broadcast_to(input, shape).astype(input.dtype)
    expanded_target = np.broadcast_to(target, shape)
    parameters = {k: v for k, v in call.kwargs.items() if k != "weight"}
    slope = np.abs(spec.grad(expanded_input, expanded_target, reduction="none", **parameters))
    reduction = effective_reduction(options)
    upstream = np.abs(np.broadcast_to(grad_output, shape) if reduction == "none" else grad_output)
    if reduction == "mean":  # per element, 'mean' is 'sum' times mean_of_none(ones) / size
        ones = np.ones(shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            upstream = upstream * spec.mean_of_none(ones, call) / max(ones.size, 1)
    weight = call.kwargs.get("weight")
    terms = upstream * slope * (1.0 if weight is None else np.abs(weight))
    # Add up over the axes along which input was broadcast, as its gradient does.
    leading = len(shape) - input.ndim
    axes = tuple(range(leading)) + tuple(
        leading + axis for axis, size in enumerate(input.shape) if size == 1
    )
    summed = np.sum(terms, axis=axes) if axes else terms
    return float(np.nanmax(summed, initial=0.0))


def _target_in_input_dtype(call: Call) -> Call | None:
    """torch's Huber forward casts the target to the input's dtype, but its backward raises
    "Found dtype Double but expected Float" (torch 2.13.0) instead of doing the same."""
    input, target = call.args
    if target.dtype == input.dtype:
        return None
    return replace(call, args=(input, target.astype(input.dtype)))


# Kinks from the ordinary (1) to the extreme, 0 included for beta (torch then uses l1_loss).
# Not below 1e-6: in float32, a beta under about 1e-19 makes torch's parabola underflow to 0
# inside the band (lossnotes, which takes the larger of parabola and line, gives the line's
# tiny value there), and one under 1e-45 rounds to 0 in torch's kernel, which then computes
# |d| with a slope of -1 at d = 0.  lossnotes does not imitate those float32 artefacts.
_KINKS = (1.0, 0.5, 2.0, 1e-3, EXTREME)
BETAS = st.one_of(st.sampled_from((0.0, *_KINKS)), st.floats(1e-6, 100.0))
DELTAS = st.one_of(st.sampled_from(_KINKS), st.floats(1e-6, 100.0))

# --- the other families ---------------------------------------------------------------------------

# The class counts drawn: a single class, the small ones a chapter works by hand, and enough for
# NumPy's pairwise and torch's vectorised sums over the classes to take different orders.
CLASS_COUNTS = (1, 2, 3, 5, 8, 33, 257)


@st.composite
def class_calls(draw: st.DrawFn, probabilities: bool, smoothing: bool) -> Call:
    """``(input, target)`` for ``cross_entropy`` (``probabilities``, ``smoothing``) or
    ``nll_loss``: logits of shape ``(C,)``, ``(N, C)`` or ``(N, C, d1, ..., dK)`` (N and the
    d's may be 0) in any value style up to ``±EXTREME``, with class indices (int64, or uint8
    without smoothing) of which none, some or all are ignored, or class probabilities of the
    input's shape in any float dtype; an optional positive per-class weight and a smoothing
    in [0, 1]."""
    dtype = draw(st.sampled_from(FLOAT_DTYPES), label="input dtype")
    classes = draw(st.sampled_from(CLASS_COUNTS), label="classes")
    layout = draw(st.sampled_from(("unbatched", "batch", "spatial")), label="layout")
    batch = draw(st.integers(0, 6 if classes < 100 else 3), label="batch")
    if layout == "unbatched":
        shape: tuple[int, ...] = (classes,)
    elif layout == "batch":
        shape = (batch, classes)
    else:
        extra = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=3),
                     label="d1, ..., dK")
        shape = (batch, classes, *extra)
    axis = 0 if layout == "unbatched" else 1
    loss_shape = shape[:axis] + shape[axis + 1 :]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    style = draw(st.sampled_from(VALUE_STYLES), label="input values")
    input = values(rng, shape, dtype, style, 1.0)
    kwargs: dict[str, Any] = {}
    kind = draw(st.sampled_from(("index", "probability") if probabilities else ("index",)),
                label="target kind")
    if smoothing:
        kwargs["label_smoothing"] = draw(
            st.one_of(st.sampled_from((0.0, 0.1, 1.0)), st.floats(0.0, 1.0)),
            label="label_smoothing",
        )
    if kind == "probability":
        target_dtype = draw(st.sampled_from(FLOAT_DTYPES), label="target dtype")
        logits = rng.standard_normal(shape) * draw(st.sampled_from((1.0, 30.0)), label="peak")
        shifted = np.exp(logits - logits.max(axis=axis, keepdims=True, initial=-np.inf))
        target = (shifted / shifted.sum(axis=axis, keepdims=True)).astype(target_dtype)
        ignore_index = draw(st.sampled_from((-100, -1)), label="ignore_index")
        weight_dtype = draw(st.sampled_from(FLOAT_DTYPES), label="weight dtype")
    else:
        target = rng.integers(0, classes, loss_shape)
        ignore_index = draw(st.sampled_from((-100, -1, 0, classes - 1)), label="ignore_index")
        ignored = draw(st.sampled_from(("none", "some", "all")), label="ignored targets")
        if ignored != "none":
            mask = rng.random(loss_shape) < (0.3 if ignored == "some" else 2.0)
            target = np.where(mask, ignore_index, target)
        # torch takes uint8 indices for (C,) and (N, C) input only, and its smoothing term
        # compares them with ignore_index modulo 256; an ignored target must fit in uint8.
        uint8 = (layout != "spatial" and not kwargs.get("label_smoothing")
                 and 0 <= ignore_index < 256)
        if uint8 and draw(st.booleans(), label="uint8 target"):
            target = target.astype(np.uint8)
        weight_dtype = dtype  # torch's class-index kernel takes no other
    if ignore_index != -100:
        kwargs["ignore_index"] = ignore_index
    if draw(st.booleans(), label="weighted"):
        # Positive: a zero weight on an ignored-free target would leave 'mean' dividing a
        # smoothing term by zero.
        kwargs["weight"] = rng.uniform(0.1, 2.0, classes).astype(weight_dtype)
    batched = layout != "unbatched"
    return Call(
        args=(input, target),
        kwargs=kwargs,
        batch_axes={0: 0, 1: 0} if batched else {},
        output_batch_axis=0 if batched else None,
    )


def _finite_size(array: np.ndarray) -> np.ndarray:
    """|array| in float64, with 0 for NaN and infinities (which are compared exactly)."""
    size = np.abs(np.asarray(array, dtype=np.float64))
    return np.where(np.isfinite(size), size, 0.0)


def _largest_class_weight(call: Call) -> float:
    weight = call.kwargs.get("weight")
    return 1.0 if weight is None else float(_finite_size(weight).max(initial=0.0))


def _softmax_term_magnitude(logit_sizes: np.ndarray, axis: int, call: Call) -> np.ndarray:
    """A cross entropy's terms, per 'none' element: the log-sum-exp of a row of logits (at most
    its largest |logit| plus log C) less the target logit or the smoothing's mean of them (each
    at most the largest |logit|), times the largest class weight."""
    classes = max(logit_sizes.shape[axis], 1)
    largest = logit_sizes.max(axis=axis, initial=0.0)
    return (2 * largest + np.log(classes)) * _largest_class_weight(call)


def class_term_magnitude(call: Call) -> np.ndarray:
    """:func:`_softmax_term_magnitude` of cross_entropy's input (class axis 1, or 0 unbatched)."""
    input = call.args[0]
    return _softmax_term_magnitude(_finite_size(input), 0 if input.ndim == 1 else 1, call)


def linear_class_term_magnitude(call: Call) -> np.ndarray:
    """:func:`_softmax_term_magnitude` of linear_cross_entropy's logits, each the sum of the
    products ``input[k] * linear_weight[c, ..., k]`` (and the bias): their sizes add up."""
    input, linear_weight = call.args[:2]
    sizes = np.tensordot(_finite_size(input), _finite_size(linear_weight), axes=([-1], [-1]))
    if "linear_bias" in call.kwargs:
        sizes = sizes + _finite_size(call.kwargs["linear_bias"])
    return _softmax_term_magnitude(sizes, input.ndim - 1, call)


def _zero_dimensional_target(call: Call) -> Call | None:
    """torch's forward takes a ``(1,)`` class index for an unbatched ``(C,)`` input (as a 0-d
    one), but its backward raises "size mismatch (got input: [5], target: [1])" (torch 2.13.0):
    the 0-d target is the call it differentiates."""
    input, target = call.args[:2]
    # (1,) against (1,) is a probability target, not this case.
    if input.ndim == 1 and target.shape == (1,) != input.shape:
        return replace(call, args=(input, target.reshape(()), *call.args[2:]))
    return None


def _class_mean(none: np.ndarray, call: Call) -> float:
    """Class indices: 'mean' divides by the sum of weight[target] over the targets that are not
    ignored (their count without a weight); probabilities: by the number of positions."""
    input, target = call.args
    total = none.astype(np.float64).sum()
    if target.shape == input.shape:
        denominator = float(none.size)
    else:
        kept = target.astype(np.int64) != call.kwargs.get("ignore_index", -100)
        weight = call.kwargs.get("weight")
        if weight is None:
            denominator = float(kept.sum())
        else:
            denominator = weight.astype(np.float64)[target.astype(np.int64)[kept]].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / denominator


def nll_term_magnitude(call: Call) -> np.ndarray:
    """nll_loss's terms, per 'none' element: the target's input times its weight, which the
    reductions add and may cancel (torch sums sixteen at a time, NumPy pairwise)."""
    input, target = call.args[:2]
    axis = 0 if input.ndim == 1 else 1
    index = target.astype(np.int64)
    kept = index != call.kwargs.get("ignore_index", -100)
    safe = np.expand_dims(np.where(kept, index, 0), axis)
    picked = np.take_along_axis(_finite_size(input), safe, axis=axis).squeeze(axis)
    weight = call.kwargs.get("weight")
    if weight is not None:
        picked = picked * _finite_size(weight)[np.where(kept, index, 0)]
    return np.where(kept, picked, 0.0)


def class_gradient_magnitude(
    spec: LossSpec, call: Call, options: dict[str, Any], grad_output: np.ndarray
) -> float:
    """The size of the terms of a cross entropy's gradient, ``g (s softmax(x) - a)`` with ``a``
    the weighted (smoothed) target and ``s`` its sum: at most ``2 |g| max|w| sum|y|`` per position
    (over the 'mean' denominator), where the two terms cancel for a confident right answer, each
    rounded in its own way (torch's float32 log_softmax backward subtracts g from the sum of g)."""
    input, target = call.args
    weight = call.kwargs.get("weight")
    largest_weight = 1.0 if weight is None else float(_finite_size(weight).max(initial=0.0))
    if target.shape == input.shape:
        axis = 0 if input.ndim == 1 else 1
        mass = float(_finite_size(target).sum(axis=axis).max(initial=0.0))
    else:
        mass = 1.0  # one-hot, or smoothed: still a distribution
    upstream = float(_finite_size(grad_output).max(initial=0.0))
    if effective_reduction(options) == "mean":
        ones = np.ones(input.shape[:1] + input.shape[2:] if input.ndim > 1 else ())
        with np.errstate(invalid="ignore", divide="ignore"):
            upstream = upstream * abs(_class_mean(ones, call)) / max(ones.size, 1)
    return float(np.nan_to_num(2 * upstream * max(largest_weight, 1.0) * max(mass, 1.0)))


# Probabilities for binary_cross_entropy: uniform; saturated (exactly 0 and 1, the smallest
# subnormal-free values, and within a few ulps of 1, where the -100 clamp of the forward and the
# 1e-12 floor of torch's backward act); multiples of 1/4 from 0 to 1; or each element in one of
# the three.  Targets: 0/1 labels, soft values, the same grid.
PROBABILITY_STYLES = ("uniform", "saturated", "grid", "mixed")
BINARY_TARGET_STYLES = ("labels", "soft", "grid")


def probabilities(
    rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype, style: str
) -> np.ndarray:
    """Values in [0, 1] in one of :data:`PROBABILITY_STYLES`."""
    dtype = np.dtype(dtype)
    near_one = 1.0 - 4 * float(np.finfo(dtype).eps)
    uniform = rng.random(shape)
    saturated = rng.choice([0.0, 1.0, 1e-30, 1e-8, 1e-4, near_one, 1.0 - 1e-4], size=shape)
    grid = rng.integers(0, 5, size=shape) / 4
    if style == "mixed":
        chosen = np.choose(rng.integers(0, 3, size=shape), [uniform, saturated, grid])
    else:
        chosen = {"uniform": uniform, "saturated": saturated, "grid": grid}[style]
    return np.asarray(chosen, dtype=np.float64).astype(dtype)


def binary_targets(
    rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype, style: str
) -> np.ndarray:
    """Targets in [0, 1]: 0/1 labels, soft (uniform), or multiples of 1/4."""
    drawn = {
        "labels": lambda: (rng.random(shape) < 0.5).astype(np.float64),
        "soft": lambda: rng.random(shape),
        "grid": lambda: rng.integers(0, 5, size=shape) / 4,
    }[style]()
    return np.asarray(drawn, dtype=np.float64).astype(dtype)


def _fitting_shape(draw: st.DrawFn, shape: tuple[int, ...], label: str) -> tuple[int, ...]:
    """A shape that broadcasts to ``shape`` without enlarging it (what torch's in-place
    ``loss.mul_(weight)`` takes): its last few sides, some of them replaced by 1."""
    ndim = draw(st.integers(0, len(shape)), label=f"{label} dimensions")
    trailing = shape[len(shape) - ndim :]
    ones = draw(st.lists(st.booleans(), min_size=ndim, max_size=ndim), label=f"{label} ones")
    return tuple(1 if one else side for one, side in zip(ones, trailing))


WEIGHT_DTYPES = (*FLOAT_DTYPES, np.dtype(np.int64))  # torch promotes an integer weight


def _binary_weight(
    draw: st.DrawFn, rng: np.random.Generator, shape: tuple[int, ...], name: str, high: float
) -> np.ndarray:
    """A non-negative weight (some zeros) of a shape fitting ``shape``, up to ``high``."""
    weight_shape = _fitting_shape(draw, shape, name)
    dtype = draw(st.sampled_from(WEIGHT_DTYPES), label=f"{name} dtype")
    if dtype.kind == "i":
        return rng.integers(0, int(high) + 1, size=weight_shape).astype(dtype)
    return np.asarray(weights(rng, weight_shape, np.float64) * high / 2).astype(dtype)


@st.composite
def bce_calls(draw: st.DrawFn) -> Call:
    """``binary_cross_entropy(input, target, weight)``: probabilities and targets of one shape
    and one dtype (torch refuses any difference), and an optional broadcast weight."""
    shape = draw(shapes(), label="shape")
    dtype = draw(st.sampled_from(FLOAT_DTYPES), label="dtype")
    input_style = draw(st.sampled_from(PROBABILITY_STYLES), label="input values")
    target_style = draw(st.sampled_from(BINARY_TARGET_STYLES), label="target values")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    input = probabilities(rng, shape, dtype, input_style)
    target = binary_targets(rng, shape, dtype, target_style)
    arrays: dict[int | str, np.ndarray] = {0: input, 1: target}
    kwargs: dict[str, Any] = {}
    if draw(st.booleans(), label="weighted"):
        kwargs["weight"] = arrays["weight"] = _binary_weight(draw, rng, shape, "weight", 2.0)
    return Call(
        args=(input, target),
        kwargs=kwargs,
        batch_axes=_batch_axes(arrays, len(shape)),
        output_batch_axis=0 if shape else None,
    )


@st.composite
def bce_with_logits_calls(draw: st.DrawFn) -> Call:
    """``binary_cross_entropy_with_logits(input, target, weight, pos_weight)``: logits in every
    :data:`VALUE_STYLES` (to ``±EXTREME``), targets of either float dtype (the loss takes the
    target's), 0/1, soft or on the quarter grid, and optional weight and pos_weight fitting the
    shape (pos_weight broadcasts from the last dimension, the classes)."""
    shape = draw(shapes(), label="shape")
    input_dtype = draw(st.sampled_from(FLOAT_DTYPES), label="input dtype")
    target_dtype = draw(st.sampled_from(FLOAT_DTYPES), label="target dtype")
    input_style = draw(st.sampled_from(VALUE_STYLES), label="input values")
    target_style = draw(st.sampled_from(BINARY_TARGET_STYLES), label="target values")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    input = values(rng, shape, input_dtype, input_style, 1.0)
    target = binary_targets(rng, shape, target_dtype, target_style)
    arrays: dict[int | str, np.ndarray] = {0: input, 1: target}
    kwargs: dict[str, Any] = {}
    if draw(st.booleans(), label="weighted"):
        kwargs["weight"] = arrays["weight"] = _binary_weight(draw, rng, shape, "weight", 2.0)
    if draw(st.booleans(), label="pos_weight given"):
        kwargs["pos_weight"] = arrays["pos_weight"] = _binary_weight(
            draw, rng, shape, "pos_weight", 10.0
        )
    return Call(
        args=(input, target),
        kwargs=kwargs,
        batch_axes=_batch_axes(arrays, len(shape)),
        output_batch_axis=0 if shape else None,
    )


def bce_with_logits_gradient_magnitude(
    spec: LossSpec, call: Call, options: dict[str, Any], grad_output: np.ndarray
) -> float:
    """The largest size of the terms of torch's gradient, ``g w [(1 + (p - 1) y) sigma(x) - p y]``
    (``/ n`` for 'mean'): they cancel where sigma(x) is near ``p y / (1 + (p - 1) y)``, and
    each float32 sigmoid carries its own rounding."""
    _, target = call.args
    pos_weight = call.kwargs.get("pos_weight")
    weight = call.kwargs.get("weight")
    p = 1.0 if pos_weight is None else np.abs(pos_weight.astype(np.float64))
    y = np.abs(target.astype(np.float64))
    terms = 1 + (p + 1) * y + p * y
    if weight is not None:
        terms = terms * np.abs(weight.astype(np.float64))
    upstream = np.abs(grad_output.astype(np.float64))
    if effective_reduction(options) == "mean":
        upstream = upstream / max(target.size, 1)
    return float(np.nanmax(np.broadcast_to(terms * upstream, target.shape), initial=0.0))


# Distributions along the last axis, for kl_div: (C,), (N, C), (N, C, d) and 0-d, empty batches
# too. The input is log_softmax of logits at one scale from 1 to EXTREME (log-probabilities down
# to about -2e4); the target is softmax of other logits (scale from 1e-2), some rows one-hot (0
# and 1) and some elements zeroed (0 * log 0 is 0), or the log of such a distribution
# (log_target=True; the zeros left out there: exp(-inf) * -inf is NaN in torch and here alike,
# tested in test_likelihood.py).
_DISTRIBUTION_SHAPES = st.one_of(
    st.just(()),
    st.integers(1, 6).map(lambda c: (c,)),
    st.tuples(st.integers(0, 5), st.integers(1, 6)),
    st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 3)),
    st.just((33, 257)),
)


def _log_distribution(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    lowest_scale: float = -2,
    highest_scale: float = 4,
) -> np.ndarray:
    logits = rng.standard_normal(shape) * 10.0 ** rng.uniform(lowest_scale, highest_scale)
    # 0-d: a single log-probability, at most 0.
    return lossnotes.log_softmax(logits, dim=-1) if shape else -np.abs(logits)


@st.composite
def kl_div_calls(draw: st.DrawFn) -> Call:
    shape = draw(_DISTRIBUTION_SHAPES, label="shape")
    input_dtype = draw(st.sampled_from(FLOAT_DTYPES), label="input dtype")
    target_dtype = draw(st.sampled_from(FLOAT_DTYPES), label="target dtype")
    log_target = draw(st.booleans(), label="log_target")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    # Logits of the input at a scale of 1 or more: with both distributions close to uniform the
    # divergence is far smaller than its terms, and float32 sums in two orders (NumPy's and
    # torch's) differ by more than 1e-5 of it.
    # In float16 at a scale up to 100: terms of up to about 600, whose 'sum' over (33, 257)
    # stays below float16's largest number 65504 (past it, torch's sum and lossnotes' are inf
    # alike, and the reduction laws, which add 'none' in float64, cannot compare them).
    input = _log_distribution(rng, shape, lowest_scale=0,
                              highest_scale=2 if input_dtype == np.float16 else 4)
    if log_target:
        target = _log_distribution(rng, shape)
    else:
        target = np.exp(_log_distribution(rng, shape))
        target = np.where(rng.random(shape) < 0.2, 0.0, target)
        if shape and draw(st.booleans(), label="one-hot rows"):
            rows = rng.random(shape[:-1] + (1,)) < 0.5
            hot = np.arange(shape[-1]) == rng.integers(0, shape[-1], shape[:-1] + (1,))
            target = np.where(rows, hot.astype(float), target)
    input = np.asarray(input, dtype=input_dtype)
    target = np.asarray(target, dtype=target_dtype)
    batched = len(shape) >= 1
    return Call(
        args=(input, target),
        kwargs={"log_target": log_target},
        batch_axes={0: 0, 1: 0} if batched else {},
        output_batch_axis=0 if batched else None,
    )


@st.composite
def poisson_nll_loss_calls(draw: st.DrawFn) -> Call:
    """Log-rates from -EXTREME to 30 (exp stays finite in float32) or rates from 0 (exactly) to
    1e4; counts 0, 1, up to 10, up to 1e6, and fractional values (torch takes any target);
    integer counts too, promoted to the input's dtype (float32 inputs: see below)."""
    shape = draw(shapes(), label="shape")
    input_dtype = draw(st.sampled_from(FLOAT_DTYPES), label="input dtype")
    log_input = draw(st.booleans(), label="log_input")
    # Not in float32: with counts near their rates, the full loss of a count of 1e6 is a few
    # units left from terms of 1e7, whose float32 rounding is 1 (test_likelihood.py checks
    # full=True in float32 on counts far from their rates).
    full = input_dtype == np.float64 and draw(st.booleans(), label="full")
    kwargs: dict[str, Any] = {"log_input": log_input, "full": full}
    if not log_input and draw(st.booleans(), label="eps given"):
        kwargs["eps"] = draw(st.sampled_from((0.0, 1e-8, 1e-3, 0.5)), label="eps")
    # An integer count with full=True and a float64 input: torch takes the log of the integer
    # tensor in its default dtype, float32 (test_likelihood.py shows it); lossnotes does not.
    integer = draw(st.booleans(), label="integer target") and not (
        full and input_dtype == np.float64
    )
    target_dtype = np.dtype(np.int64) if integer else draw(
        st.sampled_from(FLOAT_DTYPES), label="target dtype"
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    if log_input:
        input = np.where(
            rng.random(shape) < 0.1, -EXTREME, rng.uniform(-10, 30, shape) * rng.random(shape)
        )
    else:
        # A rate of exactly 0, except with eps=0: the loss is then infinite, which the sums of
        # the reduction properties cannot compare (test_likelihood.py checks it against torch).
        zero = 0.0 if kwargs.get("eps", 1e-8) > 0 else 1e-3
        input = np.where(rng.random(shape) < 0.1, zero, 10.0 ** rng.uniform(-3, 4, shape))
    kind = rng.integers(0, 4, shape)
    counts = np.choose(kind, [
        rng.integers(0, 2, shape), rng.integers(0, 11, shape), rng.integers(0, 10**6, shape),
        rng.integers(0, 40, shape) / 4,
    ])
    if input_dtype == np.float32:
        # Counts unrelated to the rates give terms of both signs up to 1e7, whose float32 sum
        # depends on the order of summation by more than 1e-5 of the result (the permutation
        # property compares two orders). Counts drawn from the rates, as a fitted model sees
        # them, give terms of one sign except small ones; log-rates up to log(1e6).
        if log_input:
            input = np.minimum(input, np.log(1e6))
        rate = np.exp(input) if log_input else input
        counts = np.asarray(rng.poisson(rate), dtype=float)
    if integer:
        counts = np.floor(counts)
    return Call(
        args=(np.asarray(input, dtype=input_dtype), np.asarray(counts).astype(target_dtype)),
        kwargs=kwargs,
        batch_axes={0: 0, 1: 0} if shape else {},
        output_batch_axis=0 if shape else None,
    )


# The shapes of var torch accepts for an input of shape `shape` (every other is refused; see
# test_likelihood.py for the table): the same; one fewer axis at the end (one variance per row);
# the same with one axis of size 1.
def _variance_shapes(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    accepted = [shape]
    if shape:
        accepted.append(shape[:-1])
        accepted += [shape[:axis] + (1,) + shape[axis + 1:] for axis in range(len(shape))]
    return accepted


@st.composite
def gaussian_nll_loss_calls(draw: st.DrawFn) -> Call:
    """Means and targets of one shape, a var of every accepted shape (as an array: a Python
    float var has no gradient, test_likelihood.py checks it), variances from 0 to 1e4 with some
    exactly at eps and some below it, where torch's clamp applies."""
    shape = draw(shapes(), label="shape")
    var_shape = draw(st.sampled_from(_variance_shapes(shape)), label="var shape")
    dtypes = [draw(st.sampled_from(FLOAT_DTYPES), label=name) for name in ("input", "var")]
    eps = draw(st.sampled_from((1e-6, 1e-3, 0.5)), label="eps")
    full = draw(st.booleans(), label="full")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    scale = 10.0 ** rng.uniform(-2, 2)
    input = rng.standard_normal(shape) * scale
    target = np.where(rng.random(shape) < 0.1, input, rng.standard_normal(shape) * scale)
    kind = rng.integers(0, 4, var_shape)
    var = np.choose(kind, [
        10.0 ** rng.uniform(-2, 4, var_shape), np.full(var_shape, eps),
        eps * rng.random(var_shape), np.zeros(var_shape),
    ])
    var = np.asarray(var, dtype=dtypes[1])  # at eps as the clamp sees it, in var's dtype
    batched = len(shape) >= 1
    batch_axes: dict[int | str, int] = {0: 0, 1: 0} if batched else {}
    if batched and var.ndim >= 1 and var_shape[0] == shape[0]:
        batch_axes[2] = 0
    return Call(
        args=(np.asarray(input, dtype=dtypes[0]), np.asarray(target, dtype=dtypes[0]), var),
        kwargs={"full": full, "eps": eps},
        batch_axes=batch_axes,
        output_batch_axis=0 if batched else None,
    )


def poisson_gradient_magnitude(
    spec: LossSpec, call: Call, options: dict[str, Any], grad_output: np.ndarray
) -> float:
    """The largest |terms| of the gradient, g e^x and g y (log-rate) or g and g y / (x + eps)
    (rate): torch rounds each to a float32 input's dtype before adding them, and near the
    optimum (a count close to its rate) they cancel."""
    input, target = (np.asarray(a, dtype=np.float64) for a in call.args)
    shape = np.broadcast_shapes(input.shape, target.shape)
    x, y = np.broadcast_to(input, shape), np.broadcast_to(target, shape)
    upstream = np.abs(np.broadcast_to(grad_output, shape)).astype(np.float64)
    if effective_reduction(options) == "mean":
        upstream = upstream / max(int(np.prod(shape)), 1)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if call.kwargs.get("log_input", True):
            terms = upstream * (np.exp(x) + np.abs(y))
        else:
            terms = upstream * (1 + np.abs(y / (x + call.kwargs.get("eps", 1e-8))))
    return float(np.nanmax(np.where(np.isinf(terms), np.nan, terms), initial=0.0))


def gaussian_gradient_magnitude(
    spec: LossSpec, call: Call, options: dict[str, Any], grad_output: np.ndarray
) -> float:
    """The largest sum of |terms| in either gradient: var's sums g (1/v - d^2/v^2) / 2 over the
    axes it was broadcast along, and its two parts cancel where d^2 is close to v."""
    from lossnotes._likelihood import _variance_shape

    input, target, var = (np.asarray(a, dtype=np.float64) for a in call.args)
    var = var.reshape(_variance_shape(var.shape, input.shape))
    shape = np.broadcast_shapes(input.shape, target.shape, var.shape)
    v = np.broadcast_to(np.maximum(var, call.kwargs["eps"]), shape)
    d = np.broadcast_to(input - target, shape)
    upstream = np.abs(np.broadcast_to(grad_output, shape)).astype(np.float64)
    if effective_reduction(options) == "mean":
        upstream = upstream / max(int(np.prod(shape)), 1)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        terms_input = upstream * np.abs(d) / v
        terms_var = upstream * (1 / v + d * d / (v * v)) / 2
    leading = len(shape) - var.ndim
    axes = tuple(range(leading)) + tuple(
        leading + axis for axis, size in enumerate(var.shape) if size == 1
    )
    summed = np.sum(terms_var, axis=axes) if axes else terms_var
    return float(max(np.nanmax(terms_input, initial=0.0), np.nanmax(summed, initial=0.0)))
# Labels: mostly the +-1 torch documents, sometimes the others it takes anyway (each loss
# treats them in its own way; test_embedding.py shows how).
_PAIR_LABELS = st.one_of(
    st.just((-1.0, 1.0)), st.sampled_from(((-1.0, 1.0, 0.0), (-1.0, 1.0, 2.0, 0.5, np.nan)))
)
# Margins on the half-integer grid of values(), so that grid scores land exactly on them (ties
# at the kink), and anything else.
_RANKING_MARGINS = st.one_of(st.sampled_from((0.0, 0.5, 1.0, 2.0, -0.5)), st.floats(-5, 5))
_HINGE_MARGINS = st.one_of(st.sampled_from((1.0, 0.5, 2.0, 0.0, -0.5)), st.floats(-2, 10))
_COSINE_MARGINS = st.one_of(st.sampled_from((0.0, 0.5, -0.5, 1.0, -1.0)), st.floats(-1, 1))


def _labels(rng: np.random.Generator, shape: tuple[int, ...], labels: tuple[float, ...],
            dtype: np.dtype) -> np.ndarray:
    drawn = rng.choice(np.array(labels), size=shape)
    if dtype.kind == "b":
        return np.asarray(drawn > 0)
    if dtype.kind in "iu":
        drawn = np.nan_to_num(np.trunc(drawn))
    return np.asarray(drawn).astype(dtype)


def _same_ndim(shapes: tuple[tuple[int, ...], ...]) -> tuple[tuple[int, ...], ...]:
    """Broadcastable shapes padded with leading 1s to one number of dimensions."""
    ndim = max(len(shape) for shape in shapes)
    return tuple((1,) * (ndim - len(shape)) + tuple(shape) for shape in shapes)


@st.composite
def margin_ranking_calls(draw: st.DrawFn) -> Call:
    """Two score arrays and a label array with the same number of dimensions (torch refuses
    others), of equal or broadcastable shapes (torch broadcasts them without a warning);
    scores ordinary, +-EXTREME or on the half-integer grid, so that y (x1 - x2) hits the
    margin exactly; integer targets too, which torch promotes."""
    equal = shapes().map(lambda shape: (shape, shape, shape))
    broadcast = hnp.mutually_broadcastable_shapes(
        num_shapes=3, min_dims=0, max_dims=3, min_side=0, max_side=4
    ).map(lambda drawn: _same_ndim(tuple(drawn.input_shapes)))
    shape1, shape2, target_shape = draw(st.one_of(equal, broadcast), label="shapes")
    dtype1, dtype2 = (draw(st.sampled_from(FLOAT_DTYPES), label=n) for n in ("dtype1", "dtype2"))
    target_dtype = draw(st.sampled_from((*FLOAT_DTYPES, np.dtype(np.int64))), label="target dtype")
    margin = draw(_RANKING_MARGINS, label="margin")
    labels = draw(_PAIR_LABELS, label="labels")
    styles = st.sampled_from(VALUE_STYLES)
    style1, style2 = draw(styles, label="style1"), draw(styles, label="style2")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    input1 = values(rng, shape1, dtype1, style1, 1.0)
    input2 = values(rng, shape2, dtype2, style2, 1.0)
    target = _labels(rng, target_shape, labels, target_dtype)
    arrays: dict[int | str, np.ndarray] = {0: input1, 1: input2, 2: target}
    ndim = len(np.broadcast_shapes(shape1, shape2, target_shape))
    return Call(
        args=(input1, input2, target),
        kwargs={"margin": margin},
        batch_axes=_batch_axes(arrays, ndim),
        output_batch_axis=0 if ndim > 0 else None,
    )


@st.composite
def hinge_embedding_calls(draw: st.DrawFn) -> Call:
    """Distances (mostly non-negative, torch takes any) and labels of equal or broadcastable
    shapes, some distances exactly at the margin (the kink of the hinge); labels of every
    dtype torch takes, boolean included."""
    input_shape, target_shape = draw(pair_shapes(), label="shapes")
    input_dtype = draw(st.sampled_from(FLOAT_DTYPES), label="input dtype")
    target_dtype = draw(
        st.sampled_from((*FLOAT_DTYPES, np.dtype(np.int64), np.dtype(bool))), label="target dtype"
    )
    margin = draw(_HINGE_MARGINS, label="margin")
    labels = draw(_PAIR_LABELS, label="labels")
    style = draw(st.sampled_from(VALUE_STYLES), label="input values")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    drawn = values(rng, input_shape, np.dtype(np.float64), style, abs(margin) or 1.0)
    # Distances are non-negative; a few negative ones stay, as torch does not check.
    drawn = np.where(rng.random(input_shape) < 0.9, np.abs(drawn), drawn)
    input = np.asarray(drawn).astype(input_dtype)
    target = _labels(rng, target_shape, labels, target_dtype)
    ndim = len(np.broadcast_shapes(input_shape, target_shape))
    return Call(
        args=(input, target),
        kwargs={"margin": margin},
        batch_axes=_batch_axes({0: input, 1: target}, ndim),
        output_batch_axis=0 if ndim > 0 else None,
    )


def _cosine64(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """torch's cosine (its float32 eps in each squared norm), computed in float64."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    eps = float(np.float32(1e-12))
    with np.errstate(over="ignore", invalid="ignore"):
        return np.sum(a * b, axis=-1) / np.sqrt(
            (np.sum(a * a, axis=-1) + eps) * (np.sum(b * b, axis=-1) + eps)
        )


@st.composite
def cosine_embedding_calls(draw: st.DrawFn) -> Call:
    """One pair (D,) with a 0-D target, or a batch (N, D) with an (N,) target, each input or
    the target broadcast along N (and an input along D) at times; embeddings ordinary,
    +-EXTREME or on the half-integer grid (orthogonal grid pairs sit exactly at margin 0),
    with identical, opposite and zero vectors among them."""
    batched = draw(st.booleans(), label="batched")
    n = draw(st.one_of(st.integers(0, 6), st.just(300)), label="N")
    d = draw(st.one_of(st.integers(1, 8), st.just(64)), label="D")
    full = (n, d) if batched else (d,)
    shape1, shape2 = full, full
    target_shape = (n,) if batched else ()
    if batched:
        shape1, shape2, target_shape = draw(st.sampled_from((
            (full, full, (n,)), (full, (1, d), (n,)), ((1, d), full, (n,)),
            ((1, d), (1, d), (n,)), (full, full, (1,)), (full, (n, 1), (n,)),
        )), label="shapes")
    dtype1, dtype2 = (draw(st.sampled_from(FLOAT_DTYPES), label=n) for n in ("dtype1", "dtype2"))
    target_dtype = draw(
        st.sampled_from((*FLOAT_DTYPES, np.dtype(np.int64), np.dtype(bool))), label="target dtype"
    )
    margin = draw(_COSINE_MARGINS, label="margin")
    labels = draw(_PAIR_LABELS, label="labels")
    style = draw(st.sampled_from(VALUE_STYLES), label="values")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    input1 = values(rng, shape1, np.dtype(np.float64), style, 1.0)
    input2 = values(rng, shape2, np.dtype(np.float64), style, 1.0)
    if shape1 == shape2 and len(shape1) >= 1:
        # Some rows identical, opposite or zero: the extremes of the cosine and its eps.
        kind = rng.integers(0, 8, shape1[:-1] + (1,))
        input2 = np.where(kind == 0, input1, np.where(kind == 1, -input1, input2))
        input1 = np.where(kind == 2, 0.0, input1)
    with np.errstate(over="ignore"):  # the largest values are inf in float16
        input1, input2 = np.asarray(input1).astype(dtype1), np.asarray(input2).astype(dtype2)
    target = _labels(rng, target_shape, labels, target_dtype)
    batch_axes: dict[int | str, int] = {}
    if batched:
        arrays: dict[int | str, np.ndarray] = {0: input1, 1: input2, 2: target}
        batch_axes = {key: 0 for key, array in arrays.items() if array.shape[0] == n}
    return Call(
        args=(input1, input2, target),
        kwargs={"margin": margin},
        batch_axes=batch_axes,
        output_batch_axis=0 if batched else None,
    )


def cosine_term_magnitude(call: Call) -> np.ndarray:
    """Per 'none' element: 1 - c or c - margin, a cosine whose rounding errors are relative to
    1 (the sum of |a_k b_k| is at most |a| |b|) less 1 or the margin: near a cosine of 1 or of
    the margin the loss is a difference of nearly equal numbers, known only to their size."""
    input1, input2, target = (np.asarray(a) for a in call.args)
    shape = np.broadcast_shapes(np.broadcast_shapes(input1.shape, input2.shape)[:-1],
                                target.shape)
    margin = float(np.nan_to_num(abs(call.kwargs.get("margin", 0.0))))
    return np.full(shape, max(1.0, margin))


def _summed_over_broadcast(terms: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    leading = terms.ndim - len(shape)
    axes = tuple(range(leading)) + tuple(
        leading + axis for axis, size in enumerate(shape)
        if size == 1 and terms.shape[leading + axis] != 1
    )
    return np.sum(terms, axis=axes) if axes else terms


def _upstream_per_element(call: Call, options: dict[str, Any], grad_output: np.ndarray,
                          shape: tuple[int, ...]) -> np.ndarray:
    """|grad_output| per element of the 'none' loss of ``shape``, 'mean' divided out."""
    upstream = np.abs(np.asarray(grad_output, dtype=np.float64))
    upstream = np.broadcast_to(upstream, shape)
    if effective_reduction(options) == "mean":
        upstream = upstream / max(int(np.prod(shape)), 1)
    return upstream


def pair_gradient_magnitude(
    spec: LossSpec, call: Call, options: dict[str, Any], grad_output: np.ndarray
) -> float:
    """The largest sum of |terms| in a gradient of margin ranking or hinge embedding: each
    element sends +-grad_output (times |y| for margin ranking) to the inputs, summed over the
    axes an input was broadcast along, where the terms can cancel."""
    arrays = [np.asarray(a) for a in call.args]
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    upstream = _upstream_per_element(call, options, grad_output, shape)
    label = np.broadcast_to(arrays[-1].astype(np.float64), shape)
    slope = np.abs(label) if spec.name == "margin_ranking_loss" else np.full(shape, 2.0)
    with np.errstate(invalid="ignore"):
        terms = np.nan_to_num(upstream * slope)
    return max(
        (float(np.max(_summed_over_broadcast(terms, arrays[i].shape), initial=0.0))
         for i in spec.wrt),
        default=0.0,
    )


def cosine_gradient_magnitude(
    spec: LossSpec, call: Call, options: dict[str, Any], grad_output: np.ndarray
) -> float:
    """The largest sum of |terms| in a gradient of cosine embedding: d c / d a is
    b / sqrt(A B) - c a / A (A = |a|^2 + eps), two terms that cancel for parallel pairs, summed
    over the axes an input was broadcast along."""
    input1, input2, target = (np.asarray(a) for a in call.args)
    a, b = input1.astype(np.float64), input2.astype(np.float64)
    eps = float(np.float32(1e-12))
    with np.errstate(over="ignore", invalid="ignore"):
        squared1 = np.sum(a * a, axis=-1, keepdims=True) + eps
        squared2 = np.sum(b * b, axis=-1, keepdims=True) + eps
        root = np.sqrt(squared1 * squared2)
        cosine = np.abs(_cosine64(a, b))[..., None]
        loss_shape = np.broadcast_shapes(cosine.shape[:-1], target.shape)
        upstream = _upstream_per_element(call, options, grad_output, loss_shape)
        upstream = _summed_over_broadcast(upstream, cosine.shape[:-1])[..., None]
        terms1 = upstream * (np.abs(b) / root + cosine * np.abs(a) / squared1)
        terms2 = upstream * (np.abs(a) / root + cosine * np.abs(b) / squared2)
        sums = [_summed_over_broadcast(np.nan_to_num(t), x.shape)
                for t, x in ((terms1, input1), (terms2, input2))]
    return max(float(np.max(s, initial=0.0)) for s in sums)
# Orders of the norm: p >= 1 keeps every component of a distance's gradient within [-1, 1]
# (tests/test_embedding.py covers p < 1, where it is not).  Grid-like styles use the orders
# whose distances are exact on the half-integer grid, so that exact ties stay exact in torch.
_TRIPLET_NORMS = (2.0, 1.0, 3.0, 1.5, np.inf)
_EXACT_NORMS = (2.0, 1.0, np.inf)
_TRIPLET_MARGINS = st.one_of(st.sampled_from((1.0, 0.5, 2.0, 1e-3, EXTREME)), st.floats(1e-3, 10))
# How the three embeddings relate: independent values of one of VALUE_STYLES; the positive a
# copy of the anchor ("identical": d(a, p) is eps * D^(1/p)); all zero; or "margin tie":
# negative and positive on axis-aligned offsets from the anchor with d(a, n) = d(a, p) +
# margin exactly, the kink of the clamp.
_TRIPLET_STYLES = (*VALUE_STYLES, "identical", "zero", "margin tie")


@st.composite
def triplet_calls(draw: st.DrawFn, with_distance: bool = False) -> Call:
    """(anchor, positive, negative) of shape (N, D) or (D,) (N of 0 too), float32 or float64
    each, with margin, swap and, for triplet_margin_loss, p and eps."""
    batched = draw(st.booleans(), label="batched")
    size = draw(st.sampled_from((1, 3, 8, 130)), label="D")
    batch = draw(st.sampled_from((0, 1, 2, 5, 33)), label="N") if batched else None
    shape = (size,) if batch is None else (batch, size)
    dtypes = [draw(st.sampled_from(FLOAT_DTYPES), label=f"dtype {i}") for i in range(3)]
    style = draw(st.sampled_from(_TRIPLET_STYLES), label="style")
    if style in ("identical", "zero"):
        # anchor == positive makes d(a, n) = d(p, n), a tie of the swap: exact in one dtype,
        # but broken by float32 rounding (torch's and NumPy's differ) across two.
        dtypes[1] = dtypes[0]
    exact = style in ("grid", "zero", "margin tie")
    kwargs: dict[str, Any] = {"margin": draw(_TRIPLET_MARGINS, label="margin")}
    if style == "margin tie":  # a margin on the grid, so that k + margin is exact
        kwargs["margin"] = draw(st.sampled_from((0.5, 1.0, 2.0)), label="tie margin")
    kwargs["swap"] = draw(st.booleans(), label="swap")
    if not with_distance:
        kwargs["p"] = draw(st.sampled_from(_EXACT_NORMS if exact else _TRIPLET_NORMS), label="p")
        kwargs["eps"] = 0.0 if exact else draw(st.sampled_from((1e-6, 0.0, 0.1)), label="eps")
    elif style == "margin tie" or style == "grid":
        shape = shape[:-1] + (1,)  # the default eps: exact only along one axis
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    value_style = style if style in VALUE_STYLES else "grid"
    anchor = values(rng, shape, np.dtype(np.float64), value_style, 1.0)
    if style == "zero":
        anchor = np.zeros(shape)
        positive, negative = np.zeros(shape), values(rng, shape, np.dtype(np.float64), "grid", 1.0)
    elif style == "identical":
        positive = anchor.copy()
        negative = values(rng, shape, np.dtype(np.float64), "ordinary", 1.0)
    elif style == "margin tie":
        rows = shape[:-1]
        near = rng.integers(0, 4, size=rows) * 0.5
        positive = anchor + _axis_offsets(rng, shape, near)
        negative = anchor + _axis_offsets(rng, shape, near + kwargs["margin"])
    else:
        positive = values(rng, shape, np.dtype(np.float64), value_style, 1.0)
        negative = values(rng, shape, np.dtype(np.float64), value_style, 1.0)
    with np.errstate(over="ignore"):  # the largest values are inf in float16
        args = tuple(np.asarray(x).astype(dtype)
                     for x, dtype in zip((anchor, positive, negative), dtypes))
    return Call(
        args=args,
        kwargs=kwargs,
        batch_axes={0: 0, 1: 0, 2: 0} if batched else {},
        output_batch_axis=0 if batched else None,
    )


def _axis_offsets(rng: np.random.Generator, shape: tuple[int, ...], length: Any) -> np.ndarray:
    """Per vector, ``±length`` along one random axis: its p-norm is ``length`` for every p."""
    offsets = np.zeros(shape)
    axis = rng.integers(0, shape[-1], size=shape[:-1])
    sign = rng.choice([-1.0, 1.0], size=shape[:-1])
    np.put_along_axis(offsets, np.expand_dims(axis, -1), np.expand_dims(sign * length, -1), -1)
    return offsets


def triplet_term_magnitude(call: Call) -> np.ndarray:
    """Per 'none' element: margin + d(a, p) - d(a, n) adds the margin and the distances (the
    swap's d(p, n) too), each known to the rounding of its own size: in high dimension d(a, p)
    - d(a, n) is typically far smaller than either, and torch's float32 norms are not NumPy's
    to the last bit (its reduction order is its own)."""
    anchor, positive, negative = (np.asarray(x, dtype=np.float64) for x in call.args)
    p, eps = call.kwargs.get("p", 2.0), call.kwargs.get("eps", 1e-6)
    pairs = [(anchor, positive), (anchor, negative)]
    if call.kwargs.get("swap", False):
        pairs.append((positive, negative))
    with np.errstate(all="ignore"):
        distances = [_finite_size(np.linalg.norm(np.atleast_1d(x1 - x2 + eps), ord=p, axis=-1))
                     for x1, x2 in pairs]
    return call.kwargs["margin"] + sum(distances)


def triplet_gradient_magnitude(
    spec: LossSpec, call: Call, options: dict[str, Any], grad_output: np.ndarray
) -> float:
    """Each input's gradient adds up to three distance gradients (d(a, p), d(a, n) and the
    swap's d(p, n)), each component within [-1, 1] for p >= 1, times the upstream gradient
    (and 1/N for 'mean'): they can cancel to far less than their size."""
    reduction = effective_reduction(options)
    upstream = float(np.max(np.abs(grad_output), initial=0.0))
    if reduction == "mean":
        batch = np.broadcast_shapes(*(array.shape for array in call.args))[:-1]
        upstream /= max(int(np.prod(batch)), 1)
    return 3.0 * upstream


# Scores for the class-index hinge losses: 0-d, one sample (C,), or a batch (N, C) with N >= 1
# (torch's reduced loss of an empty batch is uninitialised memory, test_margin.py says so);
# values ordinary, +-EXTREME or on a half-integer grid, where a margin of 1 (or any multiple of
# 1/2) gives exact ties z = 0 at the kink of the hinge.
_MARGIN_SHAPES = st.one_of(
    st.just(()),
    st.integers(1, 6).map(lambda c: (c,)),
    st.tuples(st.integers(1, 5), st.integers(1, 6)),
    st.sampled_from(((33, 65), (7, 129))),
)


def _class_scores(draw: st.DrawFn) -> tuple[np.ndarray, np.random.Generator]:
    shape = draw(_MARGIN_SHAPES, label="input shape")
    # Not float16, which torch's kernels refuse (test_margin.py checks that, and the empty
    # float16 batch that never reaches them).
    dtype = draw(st.sampled_from(FLOAT_DTYPES[1:]), label="input dtype")
    style = draw(st.sampled_from(VALUE_STYLES), label="input values")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    return values(rng, shape, dtype, style, 1.0), rng


def _sample_axes(input: np.ndarray, batched_target: bool) -> dict[str, Any]:
    if input.ndim == 2 and batched_target:
        return {"batch_axes": {0: 0, 1: 0}, "output_batch_axis": 0}
    return {}


@st.composite
def multilabel_margin_calls(draw: st.DrawFn) -> Call:
    """Scores and -1-padded targets: per row 0 (all padding) to C listed classes, drawn with
    repeats or without, then -1, then anything in [-1, C-1] (ignored)."""
    input, rng = _class_scores(draw)
    classes = input.shape[-1] if input.ndim else 1
    rows = input.shape[0] if input.ndim == 2 else 1
    listed = rng.integers(0, classes + 1, size=(rows, 1))
    if draw(st.booleans(), label="repeated targets"):
        drawn = rng.integers(0, classes, size=(rows, classes))
    else:
        drawn = np.argsort(rng.random((rows, classes)), axis=1)
    ignored = rng.integers(-1, classes, size=(rows, classes))
    position = np.arange(classes)
    target = np.where(position < listed, drawn, np.where(position == listed, -1, ignored))
    target = target.astype(np.int64).reshape(input.shape)
    return Call(args=(input, target), **_sample_axes(input, True))


@st.composite
def multi_margin_calls(draw: st.DrawFn) -> Call:
    """Scores, one class index per sample ((N,), or () or (1,) for one sample), p in {1, 2},
    margins that make ties on the grid (0, 1/2, 1, 2) or any in [-1, 3], an optional class
    weight of the input's dtype (torch refuses another)."""
    input, rng = _class_scores(draw)
    classes = input.shape[-1] if input.ndim else 1
    if input.ndim == 2:
        target_shape: tuple[int, ...] = (input.shape[0],)
        if input.shape[0] == 1 and draw(st.booleans(), label="0-d target"):
            target_shape = ()
    else:
        target_shape = draw(st.sampled_from(((), (1,))), label="target shape")
    target = rng.integers(0, classes, size=target_shape).astype(np.int64)
    kwargs: dict[str, Any] = {
        "p": draw(st.sampled_from((1, 2)), label="p"),
        "margin": draw(
            st.one_of(st.sampled_from((1.0, 0.0, 0.5, 2.0)), st.floats(-1.0, 3.0)), label="margin"
        ),
    }
    if draw(st.booleans(), label="weighted"):
        kwargs["weight"] = weights(rng, (classes,), input.dtype)
    return Call(args=(input, target), kwargs=kwargs, **_sample_axes(input, target.ndim == 1))
# torch's soft_margin_loss computes log1p(exp(-y x)) as written, which overflows past -y x of
# about 11.09 in float16 and 88.7 in float32, where lossnotes stays finite (the declared
# difference, test_hostile.py and test_margin.py); its calls here keep |x| below that (in the
# input's dtype, where torch's forward stores -y x), so that torch's number is the one to agree
# with.
SOFT_MARGIN_LIMITS = {np.dtype(np.float16): 11.0, np.dtype(np.float32): 80.0,
                      np.dtype(np.float64): 80.0}


def _suffix_shape(draw: st.DrawFn, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts to ``shape``: a suffix of it, some sides set to 1."""
    suffix = shape[draw(st.integers(0, len(shape)), label="dropped leading axes"):]
    return tuple(side if draw(st.booleans()) else 1 for side in suffix)


@st.composite
def soft_margin_calls(draw: st.DrawFn) -> Call:
    """Scores of any shape, and +-1 (sometimes 0/1 integer) targets that broadcast to them."""
    input_shape = draw(shapes(), label="input shape")
    target_shape = draw(st.one_of(st.just(input_shape), st.builds(lambda: None)),
                        label="target shape")
    if target_shape is None:
        target_shape = _suffix_shape(draw, input_shape)
    input_dtype = draw(st.sampled_from(FLOAT_DTYPES), label="input dtype")
    target_dtype = draw(st.sampled_from((*FLOAT_DTYPES, np.dtype(np.int64))),
                        label="target dtype")
    style = draw(st.sampled_from(VALUE_STYLES), label="input values")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    input = values(rng, input_shape, np.float64, style, 1.0)
    limit = SOFT_MARGIN_LIMITS[input_dtype]
    input = np.asarray(np.clip(input, -limit, limit), dtype=input_dtype)
    target = np.asarray(np.where(rng.random(target_shape) < 0.5, -1, 1), dtype=target_dtype)
    return Call(
        args=(input, target),
        batch_axes=_batch_axes({0: input, 1: target}, input.ndim),
        output_batch_axis=0 if input.ndim > 0 else None,
    )


@st.composite
def multilabel_soft_margin_calls(draw: st.DrawFn) -> Call:
    """Logits (C,), (N, C) or (N, d, C) up to +-1e4; 0/1, soft or integer targets of the
    input's shape or its last axis; an optional weight per class or per element."""
    input_shape = draw(shapes().filter(lambda shape: len(shape) >= 1), label="input shape")
    target_shape = draw(st.sampled_from((input_shape, input_shape[-1:])), label="target shape")
    input_dtype = draw(st.sampled_from(FLOAT_DTYPES), label="input dtype")
    target_kind = draw(st.sampled_from(("binary", "soft", "integer")), label="target kind")
    style = draw(st.sampled_from(VALUE_STYLES), label="input values")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    input = values(rng, input_shape, input_dtype, style, 1.0)
    if target_kind == "soft":
        dtype = draw(st.sampled_from(FLOAT_DTYPES), label="target dtype")
        target = rng.random(target_shape).astype(dtype)
    else:
        binary = rng.random(target_shape) < 0.5
        target = binary.astype(np.int64 if target_kind == "integer" else input_dtype)
    kwargs: dict[str, Any] = {}
    arrays: dict[int | str, np.ndarray] = {0: input, 1: target}
    weight_shape = draw(st.sampled_from((None, input_shape[-1:], input_shape)), label="weight")
    if weight_shape is not None:
        weight_dtype = draw(st.sampled_from(FLOAT_DTYPES), label="weight dtype")
        kwargs["weight"] = arrays["weight"] = weights(rng, weight_shape, weight_dtype)
    batched = input.ndim >= 2
    return Call(
        args=(input, target),
        kwargs=kwargs,
        batch_axes=_batch_axes(arrays, input.ndim) if batched else {},
        output_batch_axis=0 if batched else None,
    )


# CTC: log_probs (T, N, C) or (T, C) from a log_softmax, padded or concatenated targets with any
# blank, repeats, empty targets and empty inputs.  The extreme, in float64 only: a label (or the
# blank of an empty target) of probability about e^-100 at every step, which underflows a product
# of probabilities (e^-800 over 8 steps) but not the log-space recursions.  Not drawn: near-certain
# correct predictions, whose loss -log(1 - d) of about d is known only to an absolute rounding
# error of 1 (ill-conditioned in any implementation: at d = 1e-9 torch and lossnotes differ by
# 1e-8 relative in float64, at d = 1e-5 by 5e-4 in float32); logits within +-2 (float32: +-1.5)
# keep every class above a probability of 0.018 (0.047) at every frame, and d above it.
# Impossible alignments (infinite loss) only with zero_infinity=True: 'sum' of an infinity has no
# rounding bound.
@st.composite
def ctc_calls(draw: st.DrawFn) -> Call:
    # Not float16: torch's CPU kernel refuses it (test_hostile.py has the row).
    dtype = draw(st.sampled_from(FLOAT_DTYPES[1:]), label="dtype")
    batched = draw(st.booleans(), label="batched")
    steps = draw(st.integers(1, 8), label="T")
    batch = draw(st.integers(1, 4), label="N") if batched else 1
    classes = draw(st.integers(2, 6), label="C")
    blank = draw(st.integers(0, classes - 1), label="blank")
    zero_infinity = draw(st.booleans(), label="zero_infinity")
    concatenated = draw(st.booleans(), label="concatenated targets")
    scale = draw(st.sampled_from((0.1, 1.0, 3.0)), label="logit scale")
    # float32's log-space rounding of e^-100 terms would swamp its 1e-5.
    unlikely = dtype == np.float64 and draw(st.booleans(), label="unlikely target")
    longest = draw(st.integers(0, 4), label="S")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))

    bound = 2.0 if dtype == np.float64 else 1.5
    logits = np.clip(rng.standard_normal((steps, batch, classes)) * scale, -bound, bound)
    labels = rng.integers(0, classes - 1, size=(batch, longest))
    labels += labels >= blank  # every class but the blank
    if draw(st.booleans(), label="repeats"):
        repeat = rng.random((batch, max(longest - 1, 0))) < 0.5
        labels[:, 1:] = np.where(repeat, labels[:, :-1], labels[:, 1:])
    target_lengths = rng.integers(0, longest + 1, size=batch)
    within = np.arange(1, longest) < target_lengths[:, None]
    # A repeated label needs a blank between its two copies: one step more.
    needed = target_lengths + ((labels[:, 1:] == labels[:, :-1]) & within).sum(axis=1)
    if zero_infinity:
        input_lengths = rng.integers(0, steps + 1, size=batch)
    else:
        target_lengths = np.where(needed > steps, 0, target_lengths)
        needed = np.where(needed > steps, 0, needed)
        input_lengths = rng.integers(needed, steps + 1)
    input_lengths[rng.integers(batch)] = steps  # T is used
    if unlikely:
        first = np.where(target_lengths > 0, labels[:, 0] if longest else blank, blank)
        logits[:, np.arange(batch), first] -= 100.0
    shifted = logits - logits.max(axis=2, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    length_dtype = draw(st.sampled_from((np.int64, np.int32)), label="length dtype")
    input_lengths = input_lengths.astype(length_dtype)
    target_lengths = target_lengths.astype(length_dtype)
    padding = draw(st.sampled_from((-1, classes, blank)), label="padding")  # never read
    targets = np.where(np.arange(longest) < target_lengths[:, None], labels, padding)
    if concatenated:
        targets = targets[np.arange(longest) < target_lengths[:, None]]
    if not batched:
        log_probs = log_probs[:, 0]
        if draw(st.booleans(), label="0-d lengths"):
            input_lengths, target_lengths = input_lengths[0], target_lengths[0]
            input_lengths, target_lengths = np.asarray(input_lengths), np.asarray(target_lengths)
    return Call(
        args=(log_probs.astype(dtype), targets, input_lengths, target_lengths),
        kwargs={"blank": blank, "zero_infinity": zero_infinity},
        # Concatenated targets cannot be permuted along an axis: no permutation law for them.
        batch_axes={0: 1, 1: 0, 2: 0, 3: 0} if batched and not concatenated else {},
        output_batch_axis=0 if batched and not concatenated else None,
    )


def _ctc_mean(none: np.ndarray, call: Call) -> float:
    """CTC's 'mean' divides each loss by its target length, clamped at 1, then averages those."""
    lengths = np.maximum(np.asarray(call.args[3]).reshape(-1), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.mean(none.astype(np.float64).reshape(-1) / lengths))


# linear_cross_entropy: hidden states (N, H) or (H,), a projection (C, H) or (C, d1, [d2,] H),
# class indices (int64, uint8 without ignored ones; -100 or a class ignored) or probabilities of
# the logits' shape; logits from about 1e-2 to 1e2, and to 1e4 in float64 (where float32 would
# lose the loss to cancellation, as torch's does); torch's own options object.
@st.composite
def linear_cross_entropy_calls(draw: st.DrawFn) -> Call:
    import torch

    batched = draw(st.booleans(), label="batched")
    rows = draw(st.sampled_from((0, 1, 2, 5, 33)), label="N") if batched else 1
    features = draw(st.sampled_from((1, 3, 8)), label="in_features")
    classes = draw(st.sampled_from((1, 2, 5, 257)), label="C")
    out_features = draw(st.sampled_from(((), (), (2,), (2, 3))), label="d") if batched else ()
    dtype = draw(st.sampled_from(FLOAT_DTYPES), label="dtype")
    probabilities = draw(st.booleans(), label="probabilities")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    top = 4 if dtype == np.float64 else 2
    scale = 10.0 ** rng.uniform(-2, top) / np.sqrt(features)
    batch = (rows,) if batched else ()
    input = (rng.standard_normal((*batch, features)) * scale).astype(dtype)
    linear_weight = rng.standard_normal((classes, *out_features, features)).astype(dtype)
    kwargs: dict[str, Any] = {}
    if draw(st.booleans(), label="bias"):
        kwargs["linear_bias"] = rng.standard_normal((classes, *out_features)).astype(dtype)
    if draw(st.booleans(), label="weight"):
        kwargs["weight"] = weights(rng, (classes,), dtype)
    kwargs["label_smoothing"] = draw(
        st.one_of(st.sampled_from((0.0, 0.0, 0.1, 1.0)), st.floats(0.0, 1.0)),
        label="label_smoothing",
    )
    chunked = draw(st.sampled_from((None, None, 1, 2, "auto")), label="options")
    if chunked is not None:
        fields = {} if chunked == "auto" else {"batch_chunk_size": chunked}
        kwargs["options"] = torch.nn.LinearCrossEntropyOptions(**fields)
    index_shape = (*batch, *out_features)
    if probabilities:
        logits_shape = (*batch, classes, *out_features)
        target_dtype = draw(st.sampled_from(FLOAT_DTYPES), label="target dtype")
        target = rng.dirichlet(np.ones(classes), index_shape)
        target = np.moveaxis(target, -1, 1 if batched else 0).reshape(logits_shape)
        target = target.astype(target_dtype)
    else:
        target = rng.integers(0, classes, index_shape)
        ignored = draw(st.sampled_from((None, -100, 0)), label="ignore_index")
        if ignored is not None:
            kwargs["ignore_index"] = ignored
        if ignored == -100 or (ignored is None and draw(st.booleans(), label="some -100")):
            target = np.where(rng.random(index_shape) < 0.3, -100, target)
        # uint8 indices, except where torch refuses them (with smoothing and a weight, for
        # 'mean', and for a K-dimensional loss; test_hostile.py has the rows).
        smoothed = kwargs["label_smoothing"] > 0 and "weight" in kwargs
        uint8 = not np.any(target < 0) and not smoothed and not out_features
        if uint8 and draw(st.booleans(), label="uint8"):
            target = target.astype(np.uint8)
    return Call(
        args=(input, linear_weight, np.asarray(target)),
        kwargs=kwargs,
        batch_axes={0: 0, 2: 0} if batched else {},
        output_batch_axis=0 if batched else None,
    )


def _linear_cross_entropy_mean(none: np.ndarray, call: Call) -> float:
    """Class indices: the sum over the summed weight of the targets that are not ignored (their
    number without a weight); probabilities: over the number of elements."""
    input, linear_weight, target = call.args
    total = none.astype(np.float64).sum()
    logits_ndim = input.ndim - 1 + linear_weight.ndim - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        if target.ndim == logits_ndim:  # probabilities
            return total / none.size
        ignore_index = call.kwargs.get("ignore_index")
        kept = target.astype(np.int64) != (-100 if ignore_index is None else ignore_index)
        weight = call.kwargs.get("weight")
        if weight is None:
            return total / np.count_nonzero(kept)
        safe = np.where(kept, target, 0)
        return total / (weight.astype(np.float64)[safe] * kept).sum()


def adaptive_softmax_weights(
    rng: np.random.Generator, features: int, n_classes: int, cutoffs: list[int],
    div_value: float, dtype: np.dtype, head_bias: bool,
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]], np.ndarray | None]:
    """Weights in torch.nn.AdaptiveLogSoftmaxWithLoss's layout: head.weight, the tail pairs,
    and head.bias (or None)."""
    bounds = [*cutoffs, n_classes]
    clusters = len(cutoffs)
    head = rng.standard_normal((cutoffs[0] + clusters, features)).astype(dtype)
    tail = []
    for cluster in range(clusters):
        hidden = int(features // div_value ** (cluster + 1))
        size = bounds[cluster + 1] - bounds[cluster]
        tail.append((rng.standard_normal((hidden, features)).astype(dtype),
                     rng.standard_normal((size, hidden)).astype(dtype)))
    bias = rng.standard_normal(cutoffs[0] + clusters).astype(dtype) if head_bias else None
    return head, tail, bias


# adaptive_log_softmax_with_loss: 1 to 3 clusters over 2 to 300 classes, hidden sizes that
# div_value shrinks to 0 in the last clusters, targets at every cluster's edges, hidden states
# from about 1e-2 to 30.
@st.composite
def adaptive_softmax_calls(draw: st.DrawFn) -> Call:
    batched = draw(st.booleans(), label="batched")
    rows = draw(st.sampled_from((0, 1, 2, 7, 33)), label="N") if batched else 1
    features = draw(st.sampled_from((1, 4, 16)), label="in_features")
    n_classes = draw(st.sampled_from((2, 3, 10, 300)), label="n_classes")
    cutoffs = sorted(draw(st.sets(st.integers(1, n_classes - 1), min_size=1, max_size=3),
                          label="cutoffs"))
    div_value = draw(st.sampled_from((1.0, 1.5, 2.0, 4.0)), label="div_value")
    dtype = draw(st.sampled_from(FLOAT_DTYPES), label="dtype")
    head_bias = draw(st.booleans(), label="head_bias")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    head, tail, bias = adaptive_softmax_weights(
        rng, features, n_classes, cutoffs, div_value, dtype, head_bias)
    batch = (rows,) if batched else ()
    scale = 10.0 ** rng.uniform(-2, 1.5) / np.sqrt(features)
    input = (rng.standard_normal((*batch, features)) * scale).astype(dtype)
    edges = np.array(sorted({0, n_classes - 1, *cutoffs, *(c - 1 for c in cutoffs)}))
    target = np.where(rng.random(batch) < 0.5, rng.choice(edges, batch),
                      rng.integers(0, n_classes, batch))
    target = target.astype(draw(st.sampled_from((np.int64, np.int32)), label="target dtype"))
    return Call(
        args=(input, np.asarray(target), head, tail, n_classes, cutoffs),
        kwargs={"div_value": div_value, "head_bias": bias},
        batch_axes={0: 0, 1: 0} if batched else {},
        output_batch_axis=0 if batched else None,
    )


def adaptive_term_magnitude(call: Call) -> np.ndarray:
    """Per target, the terms its log-probability adds and cancels: the head's log-softmax
    (:func:`_softmax_term_magnitude` of its logits) and that of the largest cluster's, each
    logit the sum of products whose sizes add up (two of them for a cluster's)."""
    input, target, head, tail = call.args[:4]
    rows = _finite_size(input).reshape(-1, input.shape[-1])
    head_sizes = rows @ _finite_size(head).T
    bias = call.kwargs.get("head_bias")
    if bias is not None:
        head_sizes = head_sizes + _finite_size(bias)
    terms = _softmax_term_magnitude(head_sizes, 1, call)
    for projection, output in tail:
        cluster_sizes = (rows @ _finite_size(projection).T) @ _finite_size(output).T
        if cluster_sizes.shape[1]:
            terms = terms + _softmax_term_magnitude(cluster_sizes, 1, call)
    return terms.reshape(np.shape(target))


def adaptive_gradient_magnitude(
    spec: LossSpec, call: Call, options: dict[str, Any], grad_output: Any
) -> float:
    """The terms of the input's gradient: each output's upstream gradient times ``e - p`` (at
    most 2 in size) through the head's weight and a cluster's two, and times the largest logit
    as well, whose rounding moves every softmax probability by that much relative."""
    input, target, head, tail = call.args[:4]
    output_grad, loss_grad = (_finite_size(g) for g in grad_output)
    upstream = output_grad.max(initial=0.0) + loss_grad / max(np.size(target), 1)
    through = _finite_size(head).max(initial=0.0)
    for projection, output in tail:
        chain = _finite_size(output) @ _finite_size(projection)
        through = max(through, chain.max(initial=0.0))
    logits = adaptive_term_magnitude(call)
    return float(2 * upstream * through * (1 + np.max(logits, initial=0.0)))


def _no_reduction(none: np.ndarray, call: Call) -> float:
    raise AssertionError("the adaptive softmax has no reduction: its 'mean' law is exempt")


ADAPTIVE_EXEMPT = {
    "test_sum_is_the_sum_of_none": "no reduction argument: the module always returns "
    "(output, mean(-output)); test_adaptive_softmax.py checks that loss is exactly "
    "mean(-output)",
    "test_mean_is_the_right_average_of_none": "no reduction argument: the module always "
    "returns (output, mean(-output)); test_adaptive_softmax.py checks that loss is exactly "
    "mean(-output)",
    "test_permuting_the_batch_permutes_none_and_changes_nothing_else": "no reduction argument "
    "to draw, and two results; test_adaptive_softmax.py checks that permuting the batch permutes "
    "output and its gradient and leaves loss unchanged",
}


SPECS: tuple[LossSpec, ...] = (
    LossSpec(
        "l1_loss",
        lambda: regression_calls(weighted=True),
        _weighted_mean,
        pointwise=True,
        gradient_magnitude=elementwise_gradient_magnitude,
    ),
    LossSpec(
        "mse_loss",
        lambda: regression_calls(weighted=True),
        _weighted_mean,
        pointwise=True,
        gradient_magnitude=elementwise_gradient_magnitude,
    ),
    LossSpec(
        "smooth_l1_loss",
        lambda: regression_calls("beta", BETAS),
        _element_mean,
        pointwise=True,
        gradient_magnitude=elementwise_gradient_magnitude,
    ),
    LossSpec(
        "huber_loss",
        lambda: regression_calls("delta", DELTAS, weighted=True),
        _element_mean,
        legacy=False,
        pointwise=True,
        torch_differentiable=_target_in_input_dtype,
        gradient_magnitude=elementwise_gradient_magnitude,
    ),
    LossSpec(
        "cross_entropy",
        lambda: class_calls(probabilities=True, smoothing=True),
        _class_mean,
        torch_differentiable=_zero_dimensional_target,
        gradient_magnitude=class_gradient_magnitude,
        term_magnitude=class_term_magnitude,
    ),
    LossSpec(
        "nll_loss",
        lambda: class_calls(probabilities=False, smoothing=False),
        _class_mean,
        torch_differentiable=_zero_dimensional_target,
        term_magnitude=nll_term_magnitude,
    ),
    # Each logarithm and torch's kernel term for term: a few ulps element by element.
    LossSpec("binary_cross_entropy", bce_calls, _element_mean, pointwise=True),
    # Not pointwise: torch's (1 - y) x - log sigmoid(x) cancels for a confident negative
    # (y = 0, x << 0), leaving an absolute error of an ulp of x, not of the loss.
    LossSpec(
        "binary_cross_entropy_with_logits",
        bce_with_logits_calls,
        _element_mean,
        gradient_magnitude=bce_with_logits_gradient_magnitude,
    ),
    # kl_div twice: 'batchmean' divides by input.shape[0] even when the legacy flags decide the
    # reduction (as in torch), so the flags do not override it and the legacy property, which
    # draws the overridden reduction from `reductions`, runs on the first entry only.
    LossSpec("kl_div", kl_div_calls, _element_mean),
    LossSpec("kl_div", kl_div_calls, _element_mean, reductions=("batchmean",), legacy=False),
    LossSpec(
        "poisson_nll_loss",
        poisson_nll_loss_calls,
        _element_mean,
        gradient_magnitude=poisson_gradient_magnitude,
    ),
    LossSpec(
        "gaussian_nll_loss",
        gaussian_nll_loss_calls,
        _element_mean,
        wrt=(0, 2),
        legacy=False,
        gradient_magnitude=gaussian_gradient_magnitude,
    ),
    LossSpec(
        "margin_ranking_loss",
        margin_ranking_calls,
        _element_mean,
        wrt=(0, 1),
        pointwise=True,
        gradient_magnitude=pair_gradient_magnitude,
        other_wrt=("target",),  # -(x1 - x2) where the hinge is active
    ),
    LossSpec(
        "hinge_embedding_loss",
        hinge_embedding_calls,
        _element_mean,
        pointwise=True,
        gradient_magnitude=pair_gradient_magnitude,
        other_wrt=("target",),  # only compared with +-1: torch's None, zeros
    ),
    LossSpec(
        "cosine_embedding_loss",
        cosine_embedding_calls,
        _element_mean,
        wrt=(0, 1),
        gradient_magnitude=cosine_gradient_magnitude,
        term_magnitude=cosine_term_magnitude,
        other_wrt=("target",),  # only compared with +-1: torch's None, zeros
    ),
    LossSpec(
        "triplet_margin_loss",
        triplet_calls,
        _element_mean,
        wrt=(0, 1, 2),
        gradient_magnitude=triplet_gradient_magnitude,
        term_magnitude=triplet_term_magnitude,
    ),
    LossSpec(
        "triplet_margin_with_distance_loss",
        lambda: triplet_calls(with_distance=True),
        _element_mean,
        wrt=(0, 1, 2),
        legacy=False,
        gradient_magnitude=triplet_gradient_magnitude,
        term_magnitude=triplet_term_magnitude,
    ),
    # 'mean' divides the sum of the per-sample losses by N (each is already over C), with or
    # without a class weight: never by the weights.
    LossSpec("multilabel_margin_loss", multilabel_margin_calls, _element_mean),
    LossSpec("multi_margin_loss", multi_margin_calls, _element_mean),
    LossSpec("soft_margin_loss", soft_margin_calls, _element_mean, pointwise=True),
    # 'mean' is the mean of the per-sample losses, each already a mean over the classes.
    LossSpec("multilabel_soft_margin_loss", multilabel_soft_margin_calls, _element_mean),
    LossSpec("ctc_loss", ctc_calls, _ctc_mean, legacy=False),
    LossSpec(
        "linear_cross_entropy",
        linear_cross_entropy_calls,
        _linear_cross_entropy_mean,
        wrt=(0, 1),
        legacy=False,
        term_magnitude=linear_class_term_magnitude,
    ),
    LossSpec(
        "adaptive_log_softmax_with_loss",
        adaptive_softmax_calls,
        _no_reduction,
        reductions=(),
        legacy=False,
        gradient_magnitude=adaptive_gradient_magnitude,
        term_magnitude=adaptive_term_magnitude,
        exempt=ADAPTIVE_EXEMPT,
    ),
)

SPECS_BY_NAME = {spec.name: spec for spec in SPECS}


# --- comparing results --------------------------------------------------------------------------

# Relative to the largest element: sums in a different order (NumPy's pairwise sum, torch's
# vectorised one) differ by a few rounding errors of the largest term, times log(n).
# The error model: each bound is a multiple of the dtype's epsilon (float16 9.8e-4, float32
# 1.2e-7, float64 2.2e-16) times the size of the terms that were added or cancelled (the
# ``magnitude`` of assert_close, else the largest value): 16 eps in float16, where torch rounds
# every intermediate to float16 and lossnotes mostly once; 84 eps in float32, 4500 eps in
# float64, where the sums take other orders over up to 4099 terms.
RTOL = {
    np.dtype(np.float16): 16 * float(np.finfo(np.float16).eps),
    np.dtype(np.float32): 1e-5,
    np.dtype(np.float64): 1e-12,
}
# Element by element, for the same formula evaluated by both: a few rounding errors.
ULPS = 8


def assert_close(
    ours: Any,
    theirs: Any,
    label: str,
    elementwise: bool = False,
    precision: np.dtype | None = None,
    magnitude: float = 0.0,
) -> None:
    """``ours`` has torch's shape and dtype, NaN and infinities where torch has them, and values
    within :data:`RTOL` of the largest of torch's (and within :data:`ULPS` element by element).

    ``precision`` is the dtype whose rounding the values carry, when a less precise one than
    theirs went into them (a float32 weight summed for a float64 loss).  ``magnitude`` is the
    size of the terms that were added up, when they may cancel: rounding errors are relative
    to it rather than to the result.
    """
    assert isinstance(ours, np.ndarray), f"{label}: a {type(ours).__name__}, not an ndarray"
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{label}: shape {ours.shape}, torch {theirs.shape}"
    assert ours.dtype == theirs.dtype, f"{label}: dtype {ours.dtype}, torch {theirs.dtype}"
    nan = np.isnan(theirs)
    assert np.array_equal(np.isnan(ours), nan), f"{label}: NaN at other places than torch's"
    infinite = np.isinf(theirs)
    assert np.array_equal(ours[infinite], theirs[infinite]), f"{label}: infinities differ"
    finite = ~(nan | infinite)
    a, b = ours[finite].astype(np.float64), theirs[finite].astype(np.float64)
    if b.size == 0:
        return
    info = np.finfo(theirs.dtype)
    error = np.abs(a - b)
    scale = max(np.abs(b).max(), magnitude, info.tiny)
    worst = int(np.argmax(error))
    assert error[worst] <= RTOL[np.dtype(precision or theirs.dtype)] * scale, (
        f"{label}: {a[worst]!r} where torch has {b[worst]!r} "
        f"(error {error[worst] / scale:.1e} of the largest value {scale:.3g})"
    )
    if elementwise:
        bound = ULPS * info.eps * np.abs(b) + info.tiny
        worst = int(np.argmax(error - bound))
        assert error[worst] <= bound[worst], (
            f"{label}: element {a[worst]!r} where torch has {b[worst]!r}"
        )


def assert_near(value: Any, expected: float, scale: float, dtype: np.dtype, label: str) -> None:
    """A reduced loss ``value`` is ``expected`` (computed in float64) up to rounding errors
    of ``dtype`` relative to ``scale``, the sum of the magnitudes that were added."""
    result_dtype = np.asarray(value).dtype
    value = float(np.asarray(value))
    with np.errstate(over="ignore"):
        # A float16 sum past 65504 is inf in torch too (it rounds its float32 sum once).
        rounded = float(np.asarray(expected).astype(result_dtype))
    if np.isinf(rounded):
        expected = rounded
    if not np.isfinite(expected):  # NaN or an infinity: exactly that
        assert value == expected or np.isnan(value) and np.isnan(expected), (
            f"{label}: {value!r}, expected {expected!r}"
        )
        return
    assert abs(value - expected) <= RTOL[np.dtype(dtype)] * max(scale, np.finfo(dtype).tiny), (
        f"{label}: {value!r}, expected {expected!r}"
    )
