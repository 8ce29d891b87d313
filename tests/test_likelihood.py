"""KL divergence, Poisson and Gaussian NLL against torch, finite differences and worked values."""

from __future__ import annotations

import itertools
import math
import warnings
import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lossnotes
from lossnotes._likelihood import KL_MEAN_WARNING
from lossnotes.torchcheck import (
    agreement,
    assert_within_ulps,
    finite_difference_gradient,
    torch_gradient,
    torch_loss,
)

REDUCTIONS = ["none", "mean", "sum"]
KL_REDUCTIONS = ["none", "mean", "sum", "batchmean"]
FLAGS = [None, True, False]
LEGACY = {"size_average": FLAGS, "reduce": FLAGS}
# Shapes of a batch of distributions along the last axis: unbatched, (N, C), K-dimensional,
# empty, 0-d.
SHAPES = [(), (5,), (1, 4), (4, 5), (3, 4, 2), (2, 3, 2, 2), (0, 3)]


def _rng(*key) -> np.random.Generator:
    # crc32, not hash(): Python salts the hash of a string afresh in each process, and the data
    # of a test must be the same on every run.
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _distributions(rng, shape, zeros=True):
    """(log q, p): log_softmax and softmax along the last axis, p with exact zeros."""
    if not shape:
        return np.asarray(-rng.random()), np.asarray(rng.random())
    log_q = lossnotes.log_softmax(rng.standard_normal(shape) * 2, dim=-1)
    p = lossnotes.softmax(rng.standard_normal(shape) * 2, dim=-1)
    if zeros:
        p = np.where(rng.random(shape) < 0.3, 0.0, p)
    return log_q, p


def _quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


# --- KLDivLoss ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_kl_div_agrees_over_every_reduction_and_target_kind(shape) -> None:
    log_q, p = _distributions(_rng("kl", shape), shape)
    agreement("kl_div", (log_q, p), {"reduction": KL_REDUCTIONS, "log_target": [False]})
    with np.errstate(divide="ignore"):
        log_p = np.log(_distributions(_rng("kl-log", shape), shape, zeros=False)[1])
    agreement("kl_div", (log_q, log_p), {"reduction": KL_REDUCTIONS, "log_target": [True]})


@pytest.mark.parametrize("reduction", KL_REDUCTIONS)
def test_kl_div_legacy_flags_agree_including_batchmean_quirk(reduction) -> None:
    log_q, p = _distributions(_rng("legacy"), (4, 3))
    agreement("kl_div", (log_q, p), {**LEGACY, "reduction": [reduction]})


def test_kl_div_batchmean_still_divides_under_legacy_flags() -> None:
    # torch's docstring says the flags override reduction; with 'batchmean' they do not quite.
    log_q, p = _distributions(_rng("quirk"), (4, 3))
    flagged = _quiet(lossnotes.kl_div, log_q, p, reduce=False, reduction="batchmean")
    plain = lossnotes.kl_div(log_q, p, reduction="none")
    np.testing.assert_allclose(flagged, plain / 4, rtol=1e-15)
    np.testing.assert_allclose(flagged, torch_loss("kl_div", (log_q, p),
                                                   {"reduce": False, "reduction": "batchmean"}),
                               rtol=1e-15)


def test_kl_div_mean_warns_with_torchs_words() -> None:
    log_q, p = _distributions(_rng("warn"), (2, 3))
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        F.kl_div(torch.from_numpy(log_q), torch.from_numpy(p))
    assert str(theirs[0].message) == KL_MEAN_WARNING
    with pytest.warns(UserWarning) as ours:
        lossnotes.kl_div(log_q, p)
    assert [str(w.message) for w in ours] == [KL_MEAN_WARNING]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning for the other reductions
        for reduction in ("batchmean", "sum", "none"):
            lossnotes.kl_div(log_q, p, reduction=reduction)


def test_kl_div_broadcasts_silently_and_batchmean_divides_by_input_rows() -> None:
    rng = _rng("broadcast")
    log_q = lossnotes.log_softmax(rng.standard_normal((1, 4)), dim=1)
    p = lossnotes.softmax(rng.standard_normal((3, 4)), dim=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        total = lossnotes.kl_div(log_q, p, reduction="batchmean")
    # input.shape[0] is 1 here: the sum of three divergences, not their mean.
    assert np.isclose(total, lossnotes.kl_div(log_q, p, reduction="sum"), rtol=1e-15)
    agreement("kl_div", (log_q, p), {"reduction": KL_REDUCTIONS})
    agreement("kl_div", (log_q.T[:, :1], p[:1]), {"reduction": KL_REDUCTIONS})


def test_kl_div_batchmean_is_the_mean_divergence_per_sample() -> None:
    rng = _rng("batchmean")
    log_q, p = _distributions(rng, (6, 5), zeros=False)
    p[:, 0] = 0  # a class of probability 0 in every row, the rest renormalised
    p /= p.sum(axis=1, keepdims=True)
    per_row = np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0) - p * log_q, axis=1)
    assert np.all(per_row >= 0)
    assert np.isclose(lossnotes.kl_div(log_q, p, reduction="batchmean"), per_row.mean())
    # 'mean' divides by the 30 elements, i.e. by the 5 classes too.
    assert np.isclose(_quiet(lossnotes.kl_div, log_q, p), per_row.mean() / 5)
    # Unbatched (C,): 'batchmean' divides by C, like 'mean'.
    single = lossnotes.kl_div(log_q[0], p[0], reduction="batchmean")
    assert np.isclose(single, per_row[0] / 5)
    # K-dimensional (N, C, d): the sum over classes and positions, divided by N only.
    log_q3, p3 = log_q.reshape(2, 3, 5), p.reshape(2, 3, 5)
    assert np.isclose(lossnotes.kl_div(log_q3, p3, reduction="batchmean"), per_row.sum() / 2)


def test_kl_div_extremes() -> None:
    # Targets of exactly 0 and 1, log-probabilities down to -1e4 and -inf.
    log_q = np.array([[-1e4, 0.0, -1e4], [-np.inf, 0.0, -np.inf], [-1e4, -1e-4, -9.2]])
    p = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    agreement("kl_div", (log_q, p), {"reduction": KL_REDUCTIONS})
    none = lossnotes.kl_div(log_q, p, reduction="none")
    assert np.array_equal(none[0], [0.0, 0.0, 0.0])  # 0 * log 0 - 0 * (-1e4) = 0
    assert np.isnan(none[1, 0]) and np.isnan(none[1, 2])  # 0 * -inf is NaN, xlogy or not
    assert none[2, 0] == 1e4
    # log_target: a log-probability of -inf gives NaN (exp(-inf) * -inf), also in torch.
    log_p = np.array([[-np.inf, 0.0, -np.inf]])
    ours = lossnotes.kl_div(log_q[:1], log_p, reduction="none", log_target=True)
    theirs = torch_loss("kl_div", (log_q[:1], log_p), {"reduction": "none", "log_target": True})
    assert np.array_equal(np.isnan(ours), np.isnan(theirs)) and np.isnan(ours[0, 0])
    agreement("kl_div", (log_q[:1], log_p), {"reduction": KL_REDUCTIONS, "log_target": [True]})


def test_kl_div_float32_and_mixed_dtypes_follow_torch() -> None:
    log_q, p = _distributions(_rng("f32"), (50, 20))
    for dtypes in itertools.product((np.float32, np.float64), repeat=2):
        x, t = log_q.astype(dtypes[0]), p.astype(dtypes[1])
        for reduction in KL_REDUCTIONS:
            ours = _quiet(lossnotes.kl_div, x, t, reduction=reduction)
            theirs = torch_loss("kl_div", (x, t), {"reduction": reduction})
            assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)
            grad = _quiet(lossnotes.grad.kl_div, x, t, reduction=reduction)
            _, their_grad = torch_gradient("kl_div", (x, t), {"reduction": reduction})
            assert grad.dtype == their_grad.dtype == x.dtype
            np.testing.assert_allclose(grad, their_grad, rtol=1e-6, atol=1e-12)
    # A 0-d float64 target does not promote a float32 input (torch's rule for 0-d tensors).
    ours = lossnotes.kl_div(log_q.astype(np.float32), np.array(0.5), reduction="sum")
    assert ours.dtype == torch_loss("kl_div", (log_q.astype(np.float32), np.array(0.5)),
                                    {"reduction": "sum"}).dtype == np.float32


@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_gradient_matches_finite_differences(log_target) -> None:
    log_q, p = _distributions(_rng("fd", log_target), (3, 4), zeros=not log_target)
    target = np.log(p) if log_target else p
    for reduction in ("mean", "sum", "batchmean"):
        def loss(v):
            return _quiet(lossnotes.kl_div, v, target, reduction=reduction,  # noqa: B023
                          log_target=log_target)

        numeric = finite_difference_gradient(loss, log_q)
        analytic = _quiet(lossnotes.grad.kl_div, log_q, target, reduction=reduction,
                          log_target=log_target)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_kl_div_worked_example() -> None:  # chapters/likelihood/kl_div.md, worked by hand
    q = np.array([[0.25, 0.5, 0.25], [0.25, 0.5, 0.25]])
    p = np.array([[0.5, 0.5, 0.0], [0.25, 0.25, 0.5]])
    log_q = np.log(q)
    assert np.isclose(lossnotes.kl_div(log_q, p, reduction="sum"), 0.75 * math.log(2))
    assert np.isclose(lossnotes.kl_div(log_q, p, reduction="batchmean"), 0.375 * math.log(2))
    assert np.isclose(_quiet(lossnotes.kl_div, log_q, p), math.log(2) / 8)
    grad = lossnotes.grad.kl_div(log_q, p, reduction="batchmean")
    np.testing.assert_array_equal(grad, [[-0.25, -0.25, 0.0], [-0.125, -0.125, -0.25]])


# --- PoissonNLLLoss ----------------------------------------------------------------------------

POISSON_SHAPES = [(), (0,), (7,), (3, 4), (2, 3, 2)]


def _counts(rng, shape):
    return np.asarray(rng.poisson(rng.choice([0.5, 3.0, 50.0], size=shape)), dtype=float)


@pytest.mark.parametrize("shape", POISSON_SHAPES, ids=str)
def test_poisson_agrees_over_every_parameter(shape) -> None:
    rng = _rng("poisson", shape)
    log_rate = np.asarray(rng.normal(0, 2, shape))
    y = np.asarray(_counts(rng, shape))
    grid = {"full": [False, True], "reduction": REDUCTIONS}
    agreement("poisson_nll_loss", (log_rate, y), {"log_input": [True], **grid})
    agreement("poisson_nll_loss", (np.exp(log_rate), y),
              {"log_input": [False], "eps": [1e-8, 0.0, 0.5], **grid})


def test_poisson_legacy_flags_agree() -> None:
    rng = _rng("poisson-legacy")
    agreement("poisson_nll_loss", (rng.normal(size=(4, 3)), _counts(rng, (4, 3))),
              {**LEGACY, "log_input": [True, False], "eps": [0.1]})


def test_poisson_eps_enters_the_logarithm_only_without_log_input() -> None:
    x, y = np.array([0.0, 0.5, 2.0]), np.array([0.0, 1.0, 3.0])
    for eps in (1e-8, 0.5):
        with_eps = lossnotes.poisson_nll_loss(x, y, log_input=False, eps=eps, reduction="none")
        np.testing.assert_allclose(with_eps, x - y * np.log(x + eps), rtol=1e-15)
        # log_input=True ignores eps altogether.
        ignored = lossnotes.poisson_nll_loss(x, y, eps=eps, reduction="none")
        np.testing.assert_array_equal(ignored, lossnotes.poisson_nll_loss(x, y, reduction="none"))
    # A rate of 0 with eps=0: infinite loss where y > 0, 0 * -inf = NaN where y = 0, as in torch.
    agreement("poisson_nll_loss", (x, y), {"log_input": [False], "eps": [0.0],
                                           "reduction": ["none"]})
    none = lossnotes.poisson_nll_loss(np.zeros(2), np.array([0.0, 2.0]), log_input=False,
                                      eps=0.0, reduction="none")
    assert np.isnan(none[0]) and none[1] == np.inf


def test_poisson_stirling_applies_to_targets_above_one_only() -> None:
    y = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 10.0, 1e6, -2.0, np.nan])
    zero = np.zeros_like(y)
    extra = (lossnotes.poisson_nll_loss(zero, y, full=True, reduction="none")
             - lossnotes.poisson_nll_loss(zero, y, reduction="none"))
    with np.errstate(invalid="ignore", divide="ignore"):
        stirling = y * np.log(y) - y + 0.5 * np.log(2 * np.pi * y)
    expected = np.where(y > 1, stirling, 0.0)
    expected[-1] = np.nan  # NaN <= 1 is false: torch's mask lets NaN through
    np.testing.assert_allclose(extra, expected, rtol=1e-12, atol=1e-9)
    agreement("poisson_nll_loss", (zero, y), {"full": [True], "reduction": REDUCTIONS})
    # Against the exact log(y!): error below 1/(12 y), exact at 0 and 1.
    counts = np.arange(0, 50)
    exact = np.array([math.lgamma(k + 1) for k in counts])
    full = lossnotes.poisson_nll_loss(np.zeros(50), counts.astype(float), full=True,
                                      reduction="none") - 1.0  # exp(0) - y * 0 = 1
    error = exact - full
    assert error[0] == 0 and error[1] == 0
    assert np.all((error[2:] > 0) & (error[2:] < 1 / (12 * counts[2:])))


def test_poisson_integer_counts_with_full_carry_torchs_float32_logarithm() -> None:
    # torch takes log of an int64 tensor in its default dtype (float32): full=True with integer
    # counts and a float64 input is rounded to float32 in the Stirling term. lossnotes promotes
    # the counts to the input's dtype first, as for full=False, and matches float counts.
    x = np.array([0.3, 1.2, 2.0])
    y = np.array([3, 7, 20])
    ours = lossnotes.poisson_nll_loss(x, y, full=True, reduction="none")
    float_counts = torch_loss("poisson_nll_loss", (x, y.astype(float)),
                              {"full": True, "reduction": "none"})
    integer_counts = torch_loss("poisson_nll_loss", (x, y), {"full": True, "reduction": "none"})
    np.testing.assert_allclose(ours, float_counts, rtol=1e-15)
    assert torch.get_default_dtype() == torch.float32
    assert 1e-9 < np.max(np.abs(integer_counts - float_counts) / float_counts) < 1e-6
    agreement("poisson_nll_loss", (x, y), {"full": [False], "reduction": REDUCTIONS})
    # In float32 both compute the Stirling term in float32.
    np.testing.assert_allclose(
        lossnotes.poisson_nll_loss(x.astype(np.float32), y, full=True, reduction="none"),
        torch_loss("poisson_nll_loss", (x.astype(np.float32), y),
                   {"full": True, "reduction": "none"}), rtol=1e-6)


def test_poisson_extremes() -> None:
    log_rate = np.array([-1e4, -30.0, 0.0, 30.0, 80.0])
    y = np.array([0.0, 1.0, 1e6, 0.0, 1e6])
    agreement("poisson_nll_loss", (log_rate, y), {"reduction": REDUCTIONS, "full": [False, True]})
    rate = np.array([0.0, 1e-300, 1.0, 1e4, 1e300])
    agreement("poisson_nll_loss", (rate, y),
              {"log_input": [False], "reduction": REDUCTIONS, "full": [False, True]})


def test_poisson_float32_and_mixed_dtypes_follow_torch() -> None:
    rng = _rng("poisson-f32")
    log_rate, y = rng.normal(size=(40, 25)), _counts(rng, (40, 25))
    for dtypes in itertools.product((np.float32, np.float64), repeat=2):
        x, t = log_rate.astype(dtypes[0]), y.astype(dtypes[1])
        for log_input, full in itertools.product((True, False), repeat=2):
            kwargs = {"log_input": log_input, "full": full, "reduction": "none"}
            xi = x if log_input else np.exp(x)
            ours = lossnotes.poisson_nll_loss(xi, t, **kwargs)
            theirs = torch_loss("poisson_nll_loss", (xi, t), kwargs)
            assert ours.dtype == theirs.dtype
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
            grad = lossnotes.grad.poisson_nll_loss(xi, t, **kwargs)
            _, their_grad = torch_gradient("poisson_nll_loss", (xi, t), kwargs)
            assert grad.dtype == xi.dtype
            np.testing.assert_allclose(grad, their_grad, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("log_input", [True, False])
def test_poisson_gradient_matches_finite_differences(log_input) -> None:
    rng = _rng("poisson-fd", log_input)
    x = rng.normal(size=(3, 4))
    x = x if log_input else np.exp(x)
    y = _counts(rng, (3, 4))
    for full, reduction in itertools.product((False, True), ("mean", "sum")):
        kwargs = {"log_input": log_input, "full": full, "reduction": reduction}
        numeric = finite_difference_gradient(
            lambda v: lossnotes.poisson_nll_loss(v, y, **kwargs), x  # noqa: B023
        )
        np.testing.assert_allclose(lossnotes.grad.poisson_nll_loss(x, y, **kwargs), numeric,
                                   rtol=1e-6, atol=1e-8)


def test_poisson_worked_example() -> None:  # chapters/likelihood/poisson_nll_loss.md
    x, y = np.log([2.0, 0.5]), np.array([3.0, 0.0])
    none = lossnotes.poisson_nll_loss(x, y, reduction="none")
    np.testing.assert_allclose(none, [2 - 3 * math.log(2), 0.5], rtol=1e-15)
    full = lossnotes.poisson_nll_loss(x, y, full=True, reduction="none")
    stirling = 3 * math.log(3) - 3 + 0.5 * math.log(6 * math.pi)
    np.testing.assert_allclose(full, [2 - 3 * math.log(2) + stirling, 0.5], rtol=1e-15)
    np.testing.assert_allclose(lossnotes.grad.poisson_nll_loss(x, y), [-0.5, 0.25], rtol=1e-15)
    rate = lossnotes.grad.poisson_nll_loss(np.exp(x), y, log_input=False, eps=0.0)
    np.testing.assert_allclose(rate, [(1 - 3 / 2) / 2, 0.5], rtol=1e-15)


# --- GaussianNLLLoss ---------------------------------------------------------------------------

# Every variance shape, by input shape: what torch accepts, and what it refuses (asserted below
# against torch itself).
VAR_SHAPES = {
    (4, 3): {"accepts": [(4, 3), (4,), (4, 1), (1, 3), "float"],
             "refuses": [(3,), (1, 1), (), (4, 3, 1), (1, 4, 3), (2, 3), (4, 2)]},
    (2, 3, 5): {"accepts": [(2, 3, 5), (2, 3), (1, 3, 5), (2, 1, 5), (2, 3, 1), "float"],
                "refuses": [(3, 5), (2,), (1, 1, 5), (1, 1, 1), (), (5,)]},
    (6,): {"accepts": [(6,), (), (1,), "float"], "refuses": [(6, 1), (1, 6), (3,)]},
    (3, 3): {"accepts": [(3, 3), (3,), (3, 1), (1, 3), "float"], "refuses": [(1, 1), ()]},
    (): {"accepts": [(), "float"], "refuses": [(1,)]},
}


def _normal(rng, shape, var_shape):
    input, target = rng.standard_normal(shape), rng.standard_normal(shape)
    if var_shape == "float":
        return np.asarray(input), np.asarray(target), 0.75
    return np.asarray(input), np.asarray(target), np.asarray(rng.random(var_shape) + 0.1)


ACCEPTED = [(shape, v) for shape, table in VAR_SHAPES.items() for v in table["accepts"]]
REFUSED = [(shape, v) for shape, table in VAR_SHAPES.items() for v in table["refuses"]]


@pytest.mark.parametrize(("shape", "var_shape"), ACCEPTED, ids=str)
def test_gaussian_agrees_for_every_accepted_var_shape(shape, var_shape) -> None:
    input, target, var = _normal(_rng("gauss", shape, var_shape), shape, var_shape)
    agreement("gaussian_nll_loss", (input, target, var),
              {"full": [False, True], "reduction": REDUCTIONS, "eps": [1e-6, 0.3]}, wrt=(0, 2))


@pytest.mark.parametrize(("shape", "var_shape"), REFUSED, ids=str)
def test_gaussian_refuses_the_var_shapes_torch_refuses(shape, var_shape) -> None:
    input, target, var = _normal(_rng("gauss-bad", shape, var_shape), shape, var_shape)
    with pytest.raises(ValueError, match="var is of incorrect size"):
        torch_loss("gaussian_nll_loss", (input, target, var))
    for function in (lossnotes.gaussian_nll_loss, lossnotes.grad.gaussian_nll_loss):
        with pytest.raises(ValueError, match="var of shape"):
            function(input, target, var)


def test_gaussian_var_of_one_fewer_axis_is_per_row_even_when_square() -> None:
    # For a (3, 3) input, a var of shape (3,) is read as (3, 1), one variance per row, where
    # plain broadcasting would give one per column.
    rng = _rng("square")
    input, target = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    var = np.array([0.5, 1.0, 2.0])
    loss = lossnotes.gaussian_nll_loss(input, target, var, reduction="none")
    np.testing.assert_allclose(loss, lossnotes.gaussian_nll_loss(
        input, target, var[:, None], reduction="none"), rtol=1e-15)
    assert not np.allclose(loss, lossnotes.gaussian_nll_loss(
        input, target, np.broadcast_to(var, (3, 3)), reduction="none"))
    agreement("gaussian_nll_loss", (input, target, var), {"reduction": REDUCTIONS}, wrt=(0, 2))


def test_gaussian_float_var_has_no_gradient() -> None:
    rng = _rng("float var")
    input, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    grad_input, grad_var = lossnotes.grad.gaussian_nll_loss(input, target, 0.5)
    assert grad_var is None
    _, (their_input, their_var) = torch_gradient("gaussian_nll_loss", (input, target, 0.5),
                                                 wrt=(0, 2))
    assert their_var is None
    np.testing.assert_allclose(grad_input, their_input, rtol=1e-14)
    # The float takes the input's dtype, as var * ones_like(input) does.
    f32 = lossnotes.gaussian_nll_loss(input.astype(np.float32), target.astype(np.float32), 0.1)
    assert f32.dtype == np.float32


def test_gaussian_clamp_gradient_is_that_of_the_clamped_value() -> None:
    # Below eps the loss is flat in var, but torch's autograd does not see the clamp: the
    # gradient is the formula's at v = eps.
    eps = 0.25
    input, target = np.array([1.0, 1.0, 1.0, 0.0]), np.zeros(4)
    var = np.array([0.01, 0.0, 0.25, 0.1])
    _, grad_var = lossnotes.grad.gaussian_nll_loss(input, target, var, eps=eps, reduction="sum")
    d2 = (input - target) ** 2
    np.testing.assert_allclose(grad_var, (1 - d2 / eps) / (2 * eps), rtol=1e-15)
    assert grad_var[0] == -6.0
    _, (_, their_var) = torch_gradient("gaussian_nll_loss", (input, target, var),
                                       {"eps": eps, "reduction": "sum"}, wrt=(0, 2))
    np.testing.assert_array_equal(grad_var, their_var)
    below = [0, 3]  # 0.01 and 0.1, far enough below eps for a step of 1e-6 either way

    def loss(values):
        moved = var.copy()
        moved[below] = values
        return lossnotes.gaussian_nll_loss(input, target, moved, eps=eps, reduction="sum")

    numeric = finite_difference_gradient(loss, var[below])
    # A finite difference sees the flat clamped loss: 0.
    assert np.all(numeric == 0)


def test_gaussian_extremes_at_and_below_eps() -> None:
    rng = _rng("gauss-extreme")
    input, target = rng.standard_normal(8) * 100, rng.standard_normal(8)
    var = np.array([0.0, 1e-12, 1e-6, 1e-6 * (1 + 1e-15), 1.0, 1e4, 1e-300, 5e-7])
    agreement("gaussian_nll_loss", (input, target, var),
              {"reduction": REDUCTIONS, "full": [False, True]}, wrt=(0, 2))
    agreement("gaussian_nll_loss", (input, target, var),
              {"reduction": REDUCTIONS, "eps": [0.0, 1.0]}, wrt=(0, 2))
    # NaN var passes torch's "negative" check (NaN < 0 is false) and propagates.
    nan = lossnotes.gaussian_nll_loss(input[:2], target[:2], np.array([np.nan, 1.0]),
                                      reduction="none")
    assert np.isnan(nan[0]) and np.isfinite(nan[1])


def test_gaussian_float32_and_mixed_dtypes_follow_torch() -> None:
    rng = _rng("gauss-f32")
    base = rng.standard_normal((30, 4)), rng.standard_normal((30, 4)), rng.random((30, 1))
    for dtypes in itertools.product((np.float32, np.float64), repeat=3):
        args = tuple(a.astype(d) for a, d in zip(base, dtypes))
        ours = lossnotes.gaussian_nll_loss(*args, reduction="none")
        theirs = torch_loss("gaussian_nll_loss", args, {"reduction": "none"})
        assert ours.dtype == theirs.dtype
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
        grads = lossnotes.grad.gaussian_nll_loss(*args, reduction="mean")
        _, their_grads = torch_gradient("gaussian_nll_loss", args, {"reduction": "mean"},
                                        wrt=(0, 2))
        for ours_, theirs_, arg in zip(grads, their_grads, args[::2]):
            assert ours_.dtype == theirs_.dtype == arg.dtype
            np.testing.assert_allclose(ours_, theirs_, rtol=1e-4, atol=1e-6)


def test_gaussian_broadcast_target_is_accepted_without_warning() -> None:
    rng = _rng("gauss-broadcast")
    input, var = rng.standard_normal((4, 3)), rng.random((4, 3)) + 0.5
    target = rng.standard_normal(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lossnotes.gaussian_nll_loss(input, target, var)
    agreement("gaussian_nll_loss", (input, target, var), {"reduction": REDUCTIONS}, wrt=(0, 2))


@pytest.mark.parametrize("var_shape", [(4, 3), (4,), (1, 3)], ids=str)
def test_gaussian_gradients_match_finite_differences(var_shape) -> None:
    rng = _rng("gauss-fd", var_shape)
    input, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    var = rng.random(var_shape) + 0.2
    for full, reduction in itertools.product((False, True), ("mean", "sum")):
        kwargs = {"full": full, "reduction": reduction}
        grad_input, grad_var = lossnotes.grad.gaussian_nll_loss(input, target, var, **kwargs)
        numeric_input = finite_difference_gradient(
            lambda v: lossnotes.gaussian_nll_loss(v, target, var, **kwargs), input  # noqa: B023
        )
        numeric_var = finite_difference_gradient(
            lambda v: lossnotes.gaussian_nll_loss(input, target, v, **kwargs), var  # noqa: B023
        )
        np.testing.assert_allclose(grad_input, numeric_input, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(grad_var, numeric_var, rtol=1e-6, atol=1e-8)


def test_gaussian_worked_example() -> None:  # chapters/likelihood/gaussian_nll_loss.md
    mu, y, var = np.array([0.0, 1.0]), np.array([1.0, 1.0]), np.array([1.0, 4.0])
    np.testing.assert_allclose(lossnotes.gaussian_nll_loss(mu, y, var, reduction="none"),
                               [0.5, math.log(2)], rtol=1e-15)
    full = lossnotes.gaussian_nll_loss(mu, y, var, full=True)
    assert np.isclose(full, (0.5 + math.log(2)) / 2 + 0.5 * math.log(2 * math.pi))
    grad_input, grad_var = lossnotes.grad.gaussian_nll_loss(mu, y, var)
    np.testing.assert_array_equal(grad_input, [-0.5, 0.0])
    np.testing.assert_array_equal(grad_var, [0.0, 0.0625])


# --- refusals and upstream gradients -----------------------------------------------------------


def test_refusals_name_the_argument() -> None:
    log_q, p = _distributions(_rng("refuse"), (2, 3))
    cases = [
        (lossnotes.kl_div, (log_q, p), {"reduction": "average"}, ValueError, "reduction"),
        (lossnotes.kl_div, (log_q, np.ones((2, 4))), {}, ValueError, "target"),
        (lossnotes.kl_div, (log_q, p.astype(int)), {}, TypeError, "target"),
        (lossnotes.poisson_nll_loss, (log_q, p), {"reduction": "batchmean"}, ValueError,
         "reduction"),
        (lossnotes.poisson_nll_loss, (log_q, p), {"eps": "small"}, TypeError, "eps"),
        (lossnotes.gaussian_nll_loss, (log_q, p, -p), {}, ValueError, "var"),
        (lossnotes.gaussian_nll_loss, (log_q, p, -0.5), {}, ValueError, "var"),
        (lossnotes.gaussian_nll_loss, (log_q, p, 2), {}, TypeError, "var"),
        (lossnotes.gaussian_nll_loss, (log_q, p, p), {"reduction": "batchmean"}, ValueError,
         "reduction"),
        (lossnotes.gaussian_nll_loss, (log_q.astype(int), p, p), {}, TypeError, "input"),
    ]
    for function, args, kwargs, error, name in cases:
        for f in (function, getattr(lossnotes.grad, function.__name__)):
            with pytest.raises(error, match=name):
                _quiet(f, *args, **kwargs)


def test_grad_output_scales_each_gradient() -> None:
    log_q, p = _distributions(_rng("upstream"), (2, 3))
    upstream = np.arange(6.0).reshape(2, 3)
    grad = lossnotes.grad.kl_div(log_q, p, reduction="none", grad_output=upstream)
    np.testing.assert_array_equal(grad, -p * upstream)
    grad = lossnotes.grad.poisson_nll_loss(log_q, p, reduction="sum", grad_output=2.0)
    np.testing.assert_allclose(grad, 2 * (np.exp(log_q) - p), rtol=1e-15)
    _, grad_var = lossnotes.grad.gaussian_nll_loss(log_q, p, p + 1, reduction="none",
                                                   grad_output=upstream)
    np.testing.assert_allclose(grad_var[0, 0], 0.0)  # upstream 0 there


# --- float16, extreme values, 0-d results -------------------------------------------------------

# torch's CPU kernels compute float16 in float32 and round each operation to float16; lossnotes
# does the same operations in the same order (exp, log and xlogy included), so the results are
# torch's but for two effects: float32 sums in another order, rounded once (a float16 ulp apart
# when they straddle a rounding boundary), and NumPy's float32 exp and log, which may round one
# float32 ulp away from torch's (a float16 ulp apart at a boundary, about once in 8000 values,
# and one operation after a subtraction that cancels, two).  Observed on this data: 0.
FLOAT16_ULPS = 2
BLOCKS = (4, 64)  # whole blocks of 32 elements (see test_regression.py)


def _float16(*arrays):
    return tuple(np.asarray(a).astype(np.float16) for a in arrays)


def _float16_calls():
    """(name, args, kwargs, wrt) over every parameter of the three losses, in float16."""
    rng = _rng("float16")
    log_q, p = _float16(*_distributions(rng, BLOCKS))
    (log_p,) = _float16(np.log(_distributions(rng, BLOCKS, zeros=False)[1]))
    for reduction in KL_REDUCTIONS:
        yield "kl_div", (log_q, p), {"reduction": reduction}, (0,)
        yield "kl_div", (log_q, log_p), {"reduction": reduction, "log_target": True}, (0,)
    log_rate = rng.normal(0, 1.5, BLOCKS)
    counts = rng.poisson(np.exp(log_rate))
    for reduction, full, counts_dtype in itertools.product(
        REDUCTIONS, (False, True), (np.float16, np.int64)
    ):
        args = (_float16(log_rate)[0], counts.astype(counts_dtype))
        yield "poisson_nll_loss", args, {"reduction": reduction, "full": full}, (0,)
        rate = _float16(np.exp(log_rate))[0]
        for eps in (1e-8, 0.0, 0.5):
            kwargs = {"reduction": reduction, "full": full, "log_input": False, "eps": eps}
            yield "poisson_nll_loss", (rate, args[1]), kwargs, (0,)
    mean, target = _float16(rng.standard_normal(BLOCKS), rng.standard_normal(BLOCKS))
    for var_shape in (BLOCKS, BLOCKS[:-1], (1, BLOCKS[1]), "float"):
        var = 0.75 if var_shape == "float" else _float16(rng.random(var_shape) + 0.1)[0]
        for reduction, full, eps in itertools.product(REDUCTIONS, (False, True), (1e-6, 0.3)):
            kwargs = {"reduction": reduction, "full": full, "eps": eps}
            yield "gaussian_nll_loss", (mean, target, var), kwargs, (0, 2)


@pytest.mark.parametrize("name", ["kl_div", "poisson_nll_loss", "gaussian_nll_loss"])
def test_float16_agrees_with_torch(name) -> None:
    rng = _rng("float16 upstream")
    for function, args, kwargs, wrt in _float16_calls():
        if function != name:
            continue
        label = f"{name} {kwargs}"
        theirs = torch_loss(name, args, kwargs)
        ours = _quiet(getattr(lossnotes, name), *args, **kwargs)
        assert_within_ulps(ours, theirs, FLOAT16_ULPS, label)
        upstream = rng.standard_normal(theirs.shape).astype(theirs.dtype)
        _, their_grads = torch_gradient(name, args, kwargs, wrt, upstream)
        our_grads = _quiet(getattr(lossnotes.grad, name), *args, **kwargs, grad_output=upstream)
        for ours_, theirs_ in zip(_as_tuple(our_grads), _as_tuple(their_grads)):
            if theirs_ is None:  # a Python float var
                assert ours_ is None
                continue
            assert_within_ulps(ours_, theirs_, FLOAT16_ULPS, f"{label} gradient")


def _as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


def test_gaussian_square_overflows_in_the_dtype_of_input_and_target() -> None:
    # torch squares input - target in their dtype before a float64 var divides it: a float16
    # error of 300 squares to inf (90000 > 65504), so the loss is inf, also with a float64 var.
    mean, target = np.full(3, 300, np.float16), np.zeros(3, np.float16)
    for var in (np.ones(3), np.ones(3, np.float32), np.ones(3, np.float16)):
        ours = lossnotes.gaussian_nll_loss(mean, target, var, reduction="none")
        theirs = torch_loss("gaussian_nll_loss", (mean, target, var), {"reduction": "none"})
        assert ours.dtype == theirs.dtype == var.dtype
        assert np.all(np.isinf(ours)) and np.all(np.isinf(theirs))
    # float32 squares 300 exactly: 45000 (worked by hand: (log 1 + 90000 / 1) / 2).
    assert lossnotes.gaussian_nll_loss(mean.astype(np.float32), target, np.ones(3)) == 45000


def test_poisson_eps_is_rounded_to_float16() -> None:
    # x + eps with a Python eps rounds eps to a float16 input's dtype, as torch's add does: the
    # default 1e-8 is 0 in float16, so a rate of 0 gives log 0 = -inf, and an infinite loss
    # where the count is positive (NaN where it is 0: 0 * -inf), as in torch.
    rate = np.zeros(3, np.float16)
    counts = np.array([0.0, 2.0, 5.0], np.float16)
    kwargs = {"log_input": False, "reduction": "none"}
    ours = lossnotes.poisson_nll_loss(rate, counts, **kwargs)
    theirs = torch_loss("poisson_nll_loss", (rate, counts), kwargs)
    assert np.isnan(ours[0]) and np.isnan(theirs[0])
    assert np.all(ours[1:] == np.inf) and np.all(theirs[1:] == np.inf)


def test_poisson_integer_counts_take_the_stirling_term_in_float32() -> None:
    # torch takes the logarithms of an int64 count in float32 (its default dtype), whatever the
    # input's dtype; with a float16 input lossnotes does too.  A count of 70000 is inf in
    # float16: t * x is then -inf, and so is the loss, where a Stirling term computed in
    # float16 (inf * log inf - inf) would make it NaN.
    x = np.array([0.3, 1.2, 2.0], np.float16)
    counts = np.array([70000, 7, 20])
    kwargs = {"full": True, "reduction": "none"}
    ours = lossnotes.poisson_nll_loss(x, counts, **kwargs)
    theirs = torch_loss("poisson_nll_loss", (x, counts), kwargs)
    assert ours[0] == theirs[0] == -np.inf
    assert_within_ulps(ours, theirs, FLOAT16_ULPS)


@pytest.mark.parametrize("name", ["kl_div", "poisson_nll_loss", "gaussian_nll_loss"])
def test_zero_dimensional_results_are_arrays(name) -> None:
    args = (np.array(-0.5), np.array(0.25))
    if name == "gaussian_nll_loss":
        args = (*args, np.array(2.0))
    reductions = KL_REDUCTIONS if name == "kl_div" else REDUCTIONS
    for reduction in reductions:
        loss = _quiet(getattr(lossnotes, name), *args, reduction=reduction)
        assert type(loss) is np.ndarray and loss.shape == ()
        for grad in _as_tuple(_quiet(getattr(lossnotes.grad, name), *args, reduction=reduction)):
            assert type(grad) is np.ndarray and grad.shape == ()


# Values at the edges of every dtype, parameters at theirs: each call must give torch's loss and
# gradient, NaN and infinities in the same places, dtype and shape included.
EXTREMES = np.array([0.0, -0.0, 1e-30, -1e-30, 1e30, -1e30, np.inf, -np.inf, np.nan, 0.5, -2.0,
                     3.0, 1e4, -1e4, 300.0, 7e4, 1e-7, 1.0, -1.0, 80.0])
FLOAT_TYPES = (np.float16, np.float32, np.float64)
# Finite values: within this many ulps of torch's, elementwise (NumPy's float32 exp and log
# round differently from torch's, and a subtraction after them can cancel: observed 16 in
# float32, 0 in float16 and float64 on every SIMD path), and within 1e-3 (relative and absolute)
# for a sum in another order.
EXTREME_ULPS = {np.dtype(np.float16): 2, np.dtype(np.float32): 64, np.dtype(np.float64): 16}


def _extreme_calls(name, dtypes, rng):
    with np.errstate(over="ignore"):  # 1e30 and 7e4 are inf in float16
        x = rng.choice(EXTREMES, BLOCKS).astype(dtypes[0])
        y = rng.choice(EXTREMES, BLOCKS).astype(dtypes[1])
    if name == "kl_div":
        for reduction, log_target in itertools.product(KL_REDUCTIONS, (False, True)):
            yield (x, y), {"reduction": reduction, "log_target": log_target}, (0,)
    elif name == "poisson_nll_loss":
        for reduction, full, log_input in itertools.product(REDUCTIONS, (False, True),
                                                             (True, False)):
            for eps in (1e-8, 0.0, 1e-30, 0.5) if not log_input else (1e-8,):
                kwargs = {"reduction": reduction, "full": full, "log_input": log_input,
                          "eps": eps}
                yield (x, y), kwargs, (0,)
    else:
        with np.errstate(over="ignore"):
            var = np.abs(rng.choice(EXTREMES, BLOCKS)).astype(dtypes[1])
            rows = np.abs(rng.choice(EXTREMES, BLOCKS[0])).astype(dtypes[0])
        for reduction, full, eps in itertools.product(REDUCTIONS, (False, True),
                                                      (1e-6, 0.0, 1e-30, 0.5)):
            kwargs = {"reduction": reduction, "full": full, "eps": eps}
            yield (x, y, var), kwargs, (0, 2)
            yield (x, y, rows), kwargs, (0, 2)
        yield (x, y, 1e30), {"reduction": "none"}, (0, 2)


def _assert_same(ours, theirs, label, reduced) -> None:
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert (ours.dtype, ours.shape) == (theirs.dtype, theirs.shape), label
    assert np.array_equal(np.isnan(ours), np.isnan(theirs)), label
    infinite = np.isinf(theirs)
    assert np.array_equal(ours[infinite], theirs[infinite]), label
    if not reduced:
        assert_within_ulps(ours, theirs, EXTREME_ULPS[theirs.dtype], label)
    else:
        finite = np.isfinite(theirs)
        assert np.allclose(ours[finite], theirs[finite], rtol=1e-3, atol=1e-3), label


@pytest.mark.parametrize("name", ["kl_div", "poisson_nll_loss", "gaussian_nll_loss"])
@pytest.mark.parametrize("dtypes", [(t, t) for t in FLOAT_TYPES]
                         + [(np.float16, np.float64), (np.float32, np.float16)], ids=str)
def test_extreme_values_agree_with_torch(name, dtypes) -> None:
    rng = _rng("extremes", name, str(dtypes))
    for args, kwargs, wrt in _extreme_calls(name, dtypes, rng):
        label = f"{name} {kwargs}"
        reduced = kwargs.get("reduction") != "none"
        try:
            theirs = torch_loss(name, args, kwargs)
        except ValueError as error:  # a negative var: refused by both
            with pytest.raises(ValueError, match="var"):
                getattr(lossnotes, name)(*args, **kwargs)
            assert "var" in str(error)
            continue
        _assert_same(_quiet(getattr(lossnotes, name), *args, **kwargs), theirs, label, reduced)
        upstream = rng.choice([1.0, -0.5, 3.0, 1e4], theirs.shape).astype(theirs.dtype)
        _, their_grads = torch_gradient(name, args, kwargs, wrt, upstream)
        our_grads = _quiet(getattr(lossnotes.grad, name), *args, **kwargs, grad_output=upstream)
        for ours_, theirs_ in zip(_as_tuple(our_grads), _as_tuple(their_grads)):
            if theirs_ is None:
                assert ours_ is None
                continue
            _assert_same(ours_, theirs_, f"{label} gradient", reduced)
