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

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
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

    @property
    def loss(self) -> Callable[..., np.ndarray]:
        return getattr(lossnotes, self.name)

    @property
    def grad(self) -> Callable[..., Any]:
        return getattr(lossnotes.grad, self.name)

    def reduction_options(self) -> st.SearchStrategy[dict[str, Any]]:
        """``reduction``, and sometimes the legacy flags that override it."""
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


VALUE_STYLES = ("ordinary", "extreme", "grid", "mixed")


def values(
    rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype, style: str, step: float
) -> np.ndarray:
    """An array in one of :data:`VALUE_STYLES`.

    ``ordinary``: normal values at one scale between 1e-3 and 10; ``extreme``: uniform in
    ``±EXTREME`` with the end points themselves; ``grid``: multiples of ``step / 2`` from -4 to
    4, so that differences of two grid arrays land exactly on a kink at 0, ``±step/2`` or
    ``±step``; ``mixed``: each element in one of the three styles.
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

# --- the other families (one block per chapter group) ---------------------------------------

# >>> classification-ce: strategies
# <<< classification-ce
# >>> classification-bce: strategies
# <<< classification-bce
# >>> likelihood: strategies
# <<< likelihood
# >>> embedding-pairs: strategies
# <<< embedding-pairs
# >>> embedding-triplets: strategies
# <<< embedding-triplets
# >>> margin-multi: strategies
# <<< margin-multi
# >>> margin-soft: strategies
# <<< margin-soft
# >>> sequence-ctc: strategies
# <<< sequence-ctc
# >>> sequence-vocab: strategies
# <<< sequence-vocab


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
    # >>> classification-ce: specs
    # <<< classification-ce
    # >>> classification-bce: specs
    # <<< classification-bce
    # >>> likelihood: specs
    # <<< likelihood
    # >>> embedding-pairs: specs
    # <<< embedding-pairs
    # >>> embedding-triplets: specs
    # <<< embedding-triplets
    # >>> margin-multi: specs
    # <<< margin-multi
    # >>> margin-soft: specs
    # <<< margin-soft
    # >>> sequence-ctc: specs
    # <<< sequence-ctc
    # >>> sequence-vocab: specs
    # <<< sequence-vocab
)

SPECS_BY_NAME = {spec.name: spec for spec in SPECS}


# --- comparing results --------------------------------------------------------------------------

# Relative to the largest element: sums in a different order (NumPy's pairwise sum, torch's
# vectorised one) differ by a few rounding errors of the largest term, times log(n).
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
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
    value = float(np.asarray(value))
    if np.isnan(expected):
        assert np.isnan(value), f"{label}: {value!r}, expected NaN"
        return
    assert abs(value - expected) <= RTOL[np.dtype(dtype)] * max(scale, np.finfo(dtype).tiny), (
        f"{label}: {value!r}, expected {expected!r}"
    )
