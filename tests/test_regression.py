"""L1, MSE, Smooth L1 and Huber losses against torch, finite differences and hand-worked values."""

from __future__ import annotations

import itertools
import warnings
import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lossnotes
from lossnotes.torchcheck import (
    agreement,
    assert_within_ulps,
    finite_difference_gradient,
    torch_gradient,
    torch_loss,
)

REDUCTIONS = ["none", "mean", "sum"]
FLAGS = [None, True, False]
# The eight combinations that give at least one legacy flag.
LEGACY = [
    dict(zip(("size_average", "reduce"), pair))
    for pair in itertools.product(FLAGS, FLAGS)
    if pair != (None, None)
]

# Every parameter of each function, as the grid it is checked over.
GRIDS = {
    "l1_loss": {"reduction": REDUCTIONS, "weight": [None, "weight"]},
    "mse_loss": {"reduction": REDUCTIONS, "weight": [None, "weight"]},
    "smooth_l1_loss": {"reduction": REDUCTIONS, "beta": [0.0, 0.3, 1.0, 2.5]},
    "huber_loss": {"reduction": REDUCTIONS, "delta": [0.3, 1.0, 2.5], "weight": [None, "weight"]},
}
HAS_LEGACY_FLAGS = ["l1_loss", "mse_loss", "smooth_l1_loss"]
WEIGHTED = ["l1_loss", "mse_loss", "huber_loss"]
SHAPES = [(), (0,), (1,), (7,), (3, 4), (2, 0, 3), (2, 3, 2, 2)]


def _grid(name: str, weight: np.ndarray) -> dict:
    return {
        key: [weight if value == "weight" else value for value in values]
        for key, values in GRIDS[name].items()
    }


@pytest.mark.parametrize("name", list(GRIDS))
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_agrees_with_torch_over_every_parameter(name, shape) -> None:
    rng = np.random.default_rng(zlib.crc32(repr((name, shape)).encode()))  # not hash(): salted
    x = np.asarray(rng.standard_normal(shape) * 2)
    y = np.asarray(rng.standard_normal(shape) * 2)
    weight = np.asarray(rng.random(shape))
    agreement(name, (x, y), _grid(name, weight))  # raises AssertionError on any mismatch


@pytest.mark.parametrize("name", HAS_LEGACY_FLAGS)
def test_legacy_flags_agree_with_torch(name) -> None:
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((2, 5, 3))
    agreement(name, (x, y), {"size_average": FLAGS, "reduce": FLAGS})


@pytest.mark.parametrize("name", HAS_LEGACY_FLAGS)
@pytest.mark.parametrize("flags", LEGACY, ids=str)
def test_legacy_flags_warn_and_override_reduction(name, flags) -> None:
    x, y = np.random.default_rng(2).standard_normal((2, 4))
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        # 'sum' is ignored: legacy flags win, as in torch.
        ours = getattr(lossnotes, name)(x, y, reduction="sum", **flags)
    assert np.allclose(ours, torch_loss(name, (x, y), {"reduction": "sum", **flags}), rtol=1e-14)


@pytest.mark.parametrize("name", list(GRIDS))
@pytest.mark.parametrize(("shape_x", "shape_y"), [((4, 1), (1, 3)), ((3,), ()), ((), (2, 2))])
def test_broadcasting_agrees_and_warns(name, shape_x, shape_y) -> None:
    rng = np.random.default_rng(3)
    x, y = np.asarray(rng.standard_normal(shape_x)), np.asarray(rng.standard_normal(shape_y))
    with pytest.warns(UserWarning, match="different to the input size"):
        getattr(lossnotes, name)(x, y)
    agreement(name, (x, y), {"reduction": REDUCTIONS})


@pytest.mark.parametrize("name", list(GRIDS))
def test_float32_agrees_and_keeps_dtype(name) -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((50, 20)).astype(np.float32)
    y = rng.standard_normal((50, 20)).astype(np.float32)
    for reduction in REDUCTIONS:
        ours = getattr(lossnotes, name)(x, y, reduction=reduction)
        theirs = torch_loss(name, (x, y), {"reduction": reduction})
        assert ours.dtype == np.float32 and ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=1e-7)
        grad = getattr(lossnotes.grad, name)(x, y, reduction=reduction)
        _, their_grad = torch_gradient(name, (x, y), {"reduction": reduction})
        assert grad.dtype == np.float32
        np.testing.assert_allclose(grad, their_grad, rtol=2e-6, atol=1e-9)


@pytest.mark.parametrize("name", list(GRIDS))
def test_mixed_dtypes_follow_torch(name) -> None:
    # torch promotes float32 input with float64 target, except huber_loss, which keeps the input's.
    x = np.linspace(-2, 2, 5, dtype=np.float32)
    y = np.zeros(5)
    ours = getattr(lossnotes, name)(x, y)
    assert ours.dtype == torch_loss(name, (x, y)).dtype
    assert (
        getattr(lossnotes.grad, name)(x, y).dtype == np.float32
    )  # a gradient has its leaf's dtype


@pytest.mark.parametrize("name", list(GRIDS))
def test_integer_target_is_promoted(name) -> None:
    x = np.array([0.5, 2.0, -1.0])
    y = np.array([0, 2, 1])
    assert np.allclose(getattr(lossnotes, name)(x, y), torch_loss(name, (x, y)), rtol=1e-15)


@pytest.mark.parametrize("name", list(GRIDS))
def test_gradient_matches_finite_differences(name) -> None:
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((2, 3, 4)) * 2
    weight = rng.random((3, 4))
    for kwargs in itertools.product(*_grid(name, weight).values()):
        kwargs = dict(zip(GRIDS[name], kwargs))
        if kwargs["reduction"] == "none":
            continue
        loss = getattr(lossnotes, name)
        numeric = finite_difference_gradient(lambda v: loss(v, y, **kwargs), x)  # noqa: B023
        np.testing.assert_allclose(
            getattr(lossnotes.grad, name)(x, y, **kwargs), numeric, rtol=1e-6, atol=1e-8
        )


@pytest.mark.parametrize("name", list(GRIDS))
def test_gradient_at_kinks_matches_autograd(name) -> None:
    # Differences of exactly 0, +-0.3, +-1 and +-2.5: the kinks of every beta and delta in the grid.
    y = np.zeros(7)
    x = np.array([0.0, 0.3, -0.3, 1.0, -1.0, 2.5, -2.5])
    agreement(name, (x, y), _grid(name, np.linspace(0.5, 2.0, 7)))


def test_grad_output_scales_the_gradient() -> None:
    x, y = np.array([1.0, -2.0, 3.0]), np.array([0.0, 0.0, 0.0])
    upstream = np.array([1.0, 10.0, 100.0])
    grad = lossnotes.grad.mse_loss(x, y, reduction="none", grad_output=upstream)
    assert np.array_equal(grad, [2.0, -40.0, 600.0])
    assert np.array_equal(lossnotes.grad.mse_loss(x, y, reduction="sum", grad_output=0.5), x)


# Hand-worked values: each worked out in the chapter named, then asserted here.
def test_l1_worked_example() -> None:  # chapters/regression/l1_loss.md
    x, y, w = [1.0, 2.0, 3.0], [1.5, 0.0, 3.0], [1.0, 1.0, 2.0]
    assert lossnotes.l1_loss(x, y, weight=w, reduction="sum") == 2.5
    assert lossnotes.l1_loss(x, y, weight=w) == 0.625  # 2.5 / (1 + 1 + 2)
    assert np.array_equal(lossnotes.grad.l1_loss(x, y, weight=w), [-0.25, 0.25, 0.0])


def test_regression_values_by_hand() -> None:
    d = np.array([0.0, 0.5, 3.0])
    zero = np.zeros(3)
    # mean of 0, 0.25, 9
    assert np.isclose(lossnotes.mse_loss(d, zero), 9.25 / 3)
    # beta = 1: 0, 0.5 * 0.25, 3 - 0.5
    assert np.array_equal(lossnotes.smooth_l1_loss(d, zero, reduction="none"), [0.0, 0.125, 2.5])
    # delta = 2: 0, 0.5 * 0.25, 2 * (3 - 1)
    assert np.array_equal(
        lossnotes.huber_loss(d, zero, reduction="none", delta=2.0), [0.0, 0.125, 4.0]
    )
    # Huber's weighted mean divides by the element count: (0 + 0.125 * 2 + 4 * 1) / 3
    assert np.isclose(lossnotes.huber_loss(d, zero, delta=2.0, weight=[5.0, 2.0, 1.0]), 4.25 / 3)


@pytest.mark.parametrize("delta", [0.1, 1.0, 3.0])
def test_huber_is_delta_times_smooth_l1(delta) -> None:
    x, y = np.random.default_rng(6).standard_normal((2, 100)) * 3
    assert np.allclose(
        lossnotes.huber_loss(x, y, delta=delta, reduction="none"),
        delta * lossnotes.smooth_l1_loss(x, y, beta=delta, reduction="none"),
        rtol=1e-14,
    )


def test_smooth_l1_with_beta_zero_is_l1() -> None:
    x, y = np.random.default_rng(7).standard_normal((2, 10))
    assert lossnotes.smooth_l1_loss(x, y, beta=0.0) == lossnotes.l1_loss(x, y)
    assert np.array_equal(
        lossnotes.grad.smooth_l1_loss(x, y, beta=0.0), lossnotes.grad.l1_loss(x, y)
    )


def test_nan_propagates_as_in_torch() -> None:
    x, y = np.array([1.0, np.nan]), np.zeros(2)
    for name in GRIDS:
        assert np.isnan(getattr(lossnotes, name)(x, y)) and np.isnan(torch_loss(name, (x, y)))


def test_extreme_values() -> None:
    x = np.array([1e4, -1e4, 1e-300, 0.0])
    y = np.array([-1e4, 1e4, 0.0, 1e-300])
    for name in GRIDS:
        agreement(name, (x, y), {"reduction": REDUCTIONS})


# Refusals: what torch refuses, lossnotes refuses with a message naming the argument.
@pytest.mark.parametrize("name", list(GRIDS))
def test_refuses_shapes_that_do_not_broadcast(name) -> None:
    with pytest.raises(ValueError, match="input of shape .* and target of shape"):
        getattr(lossnotes, name)(np.zeros(3), np.zeros(2))
    with pytest.raises(RuntimeError):
        torch_loss(name, (np.zeros(3), np.zeros(2)))


@pytest.mark.parametrize("name", ["l1_loss", "mse_loss", "huber_loss"])
def test_refuses_weight_of_wrong_shape(name) -> None:
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match="weight must have the same shape as input"):
        getattr(lossnotes, name)(x, x, weight=np.ones(3))
    with pytest.raises(ValueError, match="Weights and input must have the same size"):
        torch_loss(name, (x, x), {"weight": np.ones(3)})


@pytest.mark.parametrize("name", list(GRIDS))
def test_refuses_unknown_reduction_and_integer_input(name) -> None:
    loss = getattr(lossnotes, name)
    with pytest.raises(ValueError, match="reduction must be one of"):
        loss(np.zeros(2), np.zeros(2), reduction="avg")
    with pytest.raises(ValueError):
        torch_loss(name, (np.zeros(2), np.zeros(2)), {"reduction": "avg"})
    with pytest.raises(TypeError, match="input must be a floating-point array"):
        loss(np.array([1, 2]), np.zeros(2))
    with pytest.raises((RuntimeError, NotImplementedError)):
        torch_loss(name, (np.array([1, 2]), np.array([1, 3])))


def test_refuses_negative_beta_and_non_positive_delta() -> None:
    x = np.zeros(2)
    with pytest.raises(ValueError, match="beta must be non-negative"):
        lossnotes.smooth_l1_loss(x, x, beta=-0.5)
    with pytest.raises(ValueError, match="beta must be non-negative"):
        lossnotes.grad.smooth_l1_loss(x, x, beta=-0.5)
    for delta in (0.0, -1.0):
        with pytest.raises(ValueError, match="delta must be positive"):
            lossnotes.huber_loss(x, x, delta=delta)
        with pytest.raises(RuntimeError, match="non-positive values for delta"):
            F.huber_loss(torch.zeros(2), torch.zeros(2), delta=delta)
    with pytest.raises(RuntimeError, match="negative values for beta"):
        F.smooth_l1_loss(torch.zeros(2), torch.zeros(2), beta=-0.5)


def test_no_warning_for_equal_shapes() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in GRIDS:
            getattr(lossnotes, name)(np.zeros((2, 2)), np.ones((2, 2)))


def test_huber_on_mixed_dtypes_rounds_like_torch() -> None:
    # torch computes in float64 and stores float32; casting the target down first differs ~1e-7.
    x = np.linspace(-3, 3, 101, dtype=np.float32) + np.float32(0.1)
    y = np.random.default_rng(8).standard_normal(101)
    ours = lossnotes.huber_loss(x, y, reduction="none")
    assert ours.dtype == np.float32
    assert np.array_equal(ours, torch_loss("huber_loss", (x, y), {"reduction": "none"}))


def test_smooth_l1_with_beta_below_the_dtype_is_the_line() -> None:
    # beta = 1e-46 is 0 in float32: torch takes the linear piece, so must we (no 0/0 NaN).
    x = np.array([1.0, -2.0, 0.5], dtype=np.float32)
    y = np.zeros(3, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = lossnotes.smooth_l1_loss(x, y, beta=1e-46, reduction="none")
    assert np.array_equal(
        ours, torch_loss("smooth_l1_loss", (x, y), {"beta": 1e-46, "reduction": "none"})
    )


def test_smooth_l1_gradient_with_beta_below_the_dtype_is_the_sign() -> None:
    # torch's kernel takes sign(d) where |d| >= beta, which is everywhere once beta is 0, with
    # the sign of 0 taken as -1 (it tests d > 0): not the 0 of l1_loss's subgradient.  That is
    # its kernel on whole blocks of 32 elements; the remainder gets 0 at d = 0.
    x = np.tile(np.array([1.0, -2.0, 0.5, 0.0], dtype=np.float32), 16)
    y = np.zeros(64, dtype=np.float32)
    kwargs = {"beta": 1e-46, "reduction": "sum"}
    _, theirs = torch_gradient("smooth_l1_loss", (x, y), kwargs)
    ours = lossnotes.grad.smooth_l1_loss(x, y, **kwargs)
    assert np.array_equal(ours, theirs) and np.array_equal(ours[:4], [1, -1, 1, -1])
    _, tail = torch_gradient("smooth_l1_loss", (x[:4], y[:4]), kwargs)
    assert np.array_equal(tail, [1, -1, 1, 0])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_huber_and_smooth_l1_round_like_torch(dtype) -> None:
    # Both pieces of both losses, bit for bit: the same basic operations in the same order and
    # dtype as torch's kernels (Huber's float16 in float32, Smooth L1's in float16), so exact
    # equality is the right test here.
    d = (3 * np.random.default_rng(9).standard_normal(2048)).astype(dtype)
    zeros = np.zeros_like(d)
    for name, parameter, values in [("huber_loss", "delta", [0.3, 1.0, 2.5]),
                                    ("smooth_l1_loss", "beta", [0.3, 0.5, 1.0, 2.0, 2.5])]:
        for value in values:
            kwargs = {parameter: value, "reduction": "none"}
            ours = getattr(lossnotes, name)(d, zeros, **kwargs)
            assert np.array_equal(ours, torch_loss(name, (d, zeros), kwargs)), (name, value)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huber_and_smooth_l1_overflow_only_where_torch_does(dtype) -> None:
    # Differences near the top of the range: the loss is finite (about delta |d|, or |d| for
    # Smooth L1) except where torch's is infinite too.  Computing q (2d - q) / 2, or Huber's loss
    # divided by beta, would overflow on the way.
    top = np.finfo(dtype).max
    x = np.array([0.6, -0.9, 0.3, 1e-30], dtype=dtype) * top
    y = np.zeros(4, dtype=dtype)
    for name, parameter in [("huber_loss", "delta"), ("smooth_l1_loss", "beta")]:
        for value in [0.5, 1.0, 3.0]:
            kwargs = {parameter: value, "reduction": "none"}
            theirs = torch_loss(name, (x, y), kwargs)
            with warnings.catch_warnings():
                # NumPy warns where the loss overflows, as it should; torch is silent.
                warnings.simplefilter("ignore", RuntimeWarning)
                ours = getattr(lossnotes, name)(x, y, **kwargs)
            assert np.array_equal(ours, theirs), (name, value, ours, theirs)
            if name == "smooth_l1_loss" or value <= 1:
                assert np.all(np.isfinite(ours))


# --- float16, extreme values, 0-d results -------------------------------------------------------

# torch's CPU kernels compute float16 in float32 and round each operation (or, for Huber's
# forward and Smooth L1's backward, the whole kernel) to float16; lossnotes does the same
# operations, so the elementwise losses and gradients are bit for bit torch's.  Sums and means
# accumulate in float32 in both, in another order, and are rounded once: float32 sums that land
# on either side of a float16 rounding boundary give results one float16 ulp apart, and a
# gradient divided by such a sum (the weighted 'mean') inherits it.
FLOAT16_ULPS = {"elementwise": 0, "reduced": 1, "weighted mean gradient": 2}
# Whole blocks of 32 elements: torch's Huber and Smooth L1 backward kernels compute the last
# n mod 32 elements of a contiguous run with another formula (see the Huber chapter's
# pitfalls), which lossnotes does not imitate.
BLOCKS = (4, 64)


def _float16_calls(name: str, rng: np.random.Generator):
    """(x, y, kwargs) over every parameter of ``name``: float16 input and target, and a float16,
    float32 or float64 weight."""
    x = (rng.standard_normal(BLOCKS) * 3).astype(np.float16)
    y = (rng.standard_normal(BLOCKS) * 3).astype(np.float16)
    weights = [rng.random(BLOCKS).astype(dtype) for dtype in (np.float16, np.float32, np.float64)]
    grid = {key: values for key, values in GRIDS[name].items() if key != "weight"}
    if "weight" in GRIDS[name]:
        grid["weight"] = [None, *weights]
    for values in itertools.product(*grid.values()):
        yield x, y, dict(zip(grid, values))


@pytest.mark.parametrize("name", list(GRIDS))
def test_float16_agrees_with_torch(name) -> None:
    rng = np.random.default_rng(20)
    for x, y, kwargs in _float16_calls(name, rng):
        theirs = torch_loss(name, (x, y), kwargs)
        ours = getattr(lossnotes, name)(x, y, **kwargs)
        reduced = kwargs["reduction"] != "none"
        label = f"{name} {kwargs.get('reduction')}"
        assert_within_ulps(ours, theirs, FLOAT16_ULPS["reduced" if reduced else "elementwise"],
                           label)
        upstream = rng.standard_normal(theirs.shape).astype(theirs.dtype)
        _, their_grad = torch_gradient(name, (x, y), kwargs, grad_output=upstream)
        our_grad = getattr(lossnotes.grad, name)(x, y, **kwargs, grad_output=upstream)
        assert our_grad.dtype == np.float16
        weighted_mean = kwargs["reduction"] == "mean" and kwargs.get("weight") is not None
        bound = FLOAT16_ULPS["weighted mean gradient" if weighted_mean else "elementwise"]
        assert_within_ulps(our_grad, their_grad, bound, f"{label} gradient")


def test_float16_mean_does_not_overflow_where_torch_does_not() -> None:
    # 200 squared errors of 400: their float16 sum, 80000, overflows; torch's mean sums in float32
    # and divides before it rounds, and gives 400 (worked by hand); its sum does overflow.
    x, y = np.full(200, 20, np.float16), np.zeros(200, np.float16)
    assert lossnotes.mse_loss(x, y) == 400 == torch_loss("mse_loss", (x, y))
    assert np.isinf(lossnotes.mse_loss(x, y, reduction="sum"))
    assert np.isinf(torch_loss("mse_loss", (x, y), {"reduction": "sum"}))
    # The gradient of 'mean' divides the upstream gradient by n in float32 too: 2/200 * 20.
    grad = lossnotes.grad.mse_loss(x, y)
    _, theirs = torch_gradient("mse_loss", (x, y))
    assert np.array_equal(grad, theirs) and np.all(np.abs(grad - 0.2) < 1e-3)


def test_float16_huber_computes_in_float32() -> None:
    # torch's float16 Huber kernel computes in float32, delta too: an infinite error with
    # delta = 1e-12 is 1e-12 * (inf - 5e-13) = inf, where float16 arithmetic (delta rounded to
    # 0) would give 0 * inf = NaN; and delta = 0.3 is not float16's 0.30005.
    x = np.array([np.inf, -np.inf, 1.0, 0.25], np.float16)
    y = np.zeros(4, np.float16)
    for delta in (1e-12, 0.3):
        kwargs = {"delta": delta, "reduction": "none"}
        ours = lossnotes.huber_loss(x, y, **kwargs)
        assert np.array_equal(ours, torch_loss("huber_loss", (x, y), kwargs))
    assert np.array_equal(lossnotes.huber_loss(x, y, delta=1e-12, reduction="none")[:2],
                          [np.inf, np.inf])
    # 0.3 * (1 - 0.15) = 0.255 in float32, rounded once to float16 (by hand).
    assert lossnotes.huber_loss(x[2:3], y[:1], delta=0.3) == np.float16(np.float32(0.255))


def test_float64_to_float16_rounds_through_float32() -> None:
    # torch converts float64 to float16 through float32, which can round a second time: a
    # float32 input's mse gradient against a float64 target is computed in float64 and stored
    # in float16 this way.  1 + 2**-11 + 2**-30 is 1.0 so, where NumPy's direct cast gives
    # 1.000977.
    x = np.zeros(64, np.float16)
    y = np.full(64, -(1 + 2**-11 + 2**-30) / 2)
    _, theirs = torch_gradient("mse_loss", (x, y), {"reduction": "sum"})
    assert np.array_equal(lossnotes.grad.mse_loss(x, y, reduction="sum"), theirs)
    assert np.all(theirs == 1.0)


@pytest.mark.parametrize("name", list(GRIDS))
def test_zero_dimensional_results_are_arrays(name) -> None:
    # A 0-d input gives a 0-d ndarray, never a NumPy scalar, for every reduction and gradient.
    x, y = np.array(1.5), np.array(0.25)
    for reduction in REDUCTIONS:
        loss = getattr(lossnotes, name)(x, y, reduction=reduction)
        grad = getattr(lossnotes.grad, name)(x, y, reduction=reduction)
        assert type(loss) is np.ndarray and loss.shape == ()
        assert type(grad) is np.ndarray and grad.shape == ()
        if name in WEIGHTED:
            weighted = getattr(lossnotes, name)(x, y, reduction=reduction, weight=np.array(2.0))
            assert type(weighted) is np.ndarray


# Values at the edges of every dtype, parameters at theirs: each call must give torch's loss and
# gradient, NaN and infinities in the same places, dtype and shape included.
EXTREMES = np.array([0.0, -0.0, 1e-30, -1e-30, 1e30, -1e30, np.inf, -np.inf, np.nan, 0.5, -2.0,
                     3.0, 1e4, -1e4, 300.0, 7e4, 1e-7, 6e-8, 1.0, -1.0])
EDGE_PARAMETERS = {
    "smooth_l1_loss": ("beta", [0.0, 1e-40, 1e-12, 1e-7, 0.3, 1.0, 1e4, 1e30, np.inf]),
    "huber_loss": ("delta", [1e-40, 1e-12, 1e-7, 0.3, 1.0, 1e4, 1e30, np.inf]),
}
FLOAT_TYPES = (np.float16, np.float32, np.float64)


def _assert_same(ours, theirs, label, reduced) -> None:
    """torch's dtype, shape, NaN and infinities; finite values bit for bit elementwise, and within
    1e-3 of the sum of magnitudes (float16's precision) for a sum in another order."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert (ours.dtype, ours.shape) == (theirs.dtype, theirs.shape), label
    assert np.array_equal(np.isnan(ours), np.isnan(theirs)), label
    infinite = np.isinf(theirs)
    assert np.array_equal(ours[infinite], theirs[infinite]), label
    if not reduced:
        assert_within_ulps(ours, theirs, 0, label)
    else:
        finite = np.isfinite(theirs)
        assert np.allclose(ours[finite], theirs[finite], rtol=1e-3, atol=1e-3), label


@pytest.mark.parametrize("name", list(GRIDS))
@pytest.mark.parametrize("dtypes", [(t, t) for t in FLOAT_TYPES]
                         + [(np.float16, np.float64), (np.float32, np.float16)], ids=str)
def test_extreme_values_agree_with_torch(name, dtypes) -> None:
    rng = np.random.default_rng(21)
    with np.errstate(over="ignore"):  # 1e30 and 7e4 are inf in float16
        x = rng.choice(EXTREMES, BLOCKS).astype(dtypes[0])
        y = rng.choice(EXTREMES, BLOCKS).astype(dtypes[1])
    parameter, values = EDGE_PARAMETERS.get(name, (None, [None]))
    weights = [None]
    if name in WEIGHTED:
        edges = np.array([0.0, -1.0, 1e-30, 1e30, 2.0, np.inf, np.nan])
        with np.errstate(over="ignore"):
            weights += [rng.choice(edges, BLOCKS).astype(t) for t in (dtypes[0], np.float64)]
    for reduction, value, weight in itertools.product(REDUCTIONS, values, weights):
        kwargs = {"reduction": reduction, **({parameter: value} if parameter else {})}
        if weight is not None:
            kwargs["weight"] = weight
        label = f"{name} {kwargs}"
        reduced = reduction != "none"
        theirs = torch_loss(name, (x, y), kwargs)
        _assert_same(getattr(lossnotes, name)(x, y, **kwargs), theirs, label, reduced)
        upstream = rng.choice([1.0, -0.5, 3.0, 1e4], theirs.shape).astype(theirs.dtype)
        try:
            _, their_grad = torch_gradient(name, (x, y), kwargs, grad_output=upstream)
        except RuntimeError as error:  # torch's Huber backward refuses mixed dtypes
            assert name == "huber_loss" and "Found dtype" in str(error)
            continue
        our_grad = getattr(lossnotes.grad, name)(x, y, **kwargs, grad_output=upstream)
        _assert_same(our_grad, their_grad, f"{label} gradient", reduced)
