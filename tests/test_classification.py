"""lossnotes._classification against torch, finite differences and hand-worked values."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _edges import DTYPES, assert_grid_agrees, assert_same_outcome, edge_values

import lossnotes
from lossnotes.torchcheck import (
    TRANSCENDENTAL_ULPS,
    agreement,
    assert_within_ulps,
    finite_difference_gradient,
    torch_gradient,
    torch_loss,
)

# --- log_softmax and softmax, the helpers cross_entropy stands on -------------------------------

SOFTMAX_SHAPES = [(), (5,), (3, 4), (2, 3, 4), (2, 1, 3, 2)]


def _every_dim(shape: tuple[int, ...]) -> list[int]:
    axes = max(len(shape), 1)
    return list(range(-axes, axes))


@pytest.mark.parametrize("name", ["log_softmax", "softmax"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SOFTMAX_SHAPES, ids=str)
def test_softmax_helpers_agree_with_torch_on_every_dim(name, dtype, shape) -> None:
    x = np.asarray(np.random.default_rng(len(shape)).standard_normal(shape) * 30, dtype=dtype)
    for dim in _every_dim(shape):
        ours = getattr(lossnotes, name)(x, dim=dim)
        theirs = getattr(F, name)(torch.from_numpy(x), dim=dim).numpy()
        assert ours.dtype == theirs.dtype == dtype and ours.shape == theirs.shape
        # torch 2.13.0 shifts by the maximum too; only its sums' order differs.
        np.testing.assert_allclose(ours, theirs, rtol=8 * np.finfo(dtype).eps, atol=1e-30)


def test_log_softmax_stays_finite_where_the_naive_form_fails() -> None:
    # The scipy.special example: log(softmax) of [1000, 1] is [0, -999] exactly.
    assert np.array_equal(lossnotes.log_softmax(np.array([1000.0, 1.0]), dim=0), [0.0, -999.0])
    assert np.array_equal(lossnotes.softmax(np.array([1000.0, 1000.0]), dim=0), [0.5, 0.5])
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        naive = np.log(np.exp([1000.0, 1.0]) / np.exp([1000.0, 1.0]).sum())
    assert np.isnan(naive[0]) and naive[1] == -np.inf


@pytest.mark.parametrize("name", ["log_softmax", "softmax"])
@pytest.mark.parametrize("shape", [(), (4,), (2, 4), (2, 3, 4), (2, 3, 4, 5)], ids=str)
def test_implicit_dim_warns_and_chooses_as_torch(name, shape) -> None:
    x = np.random.default_rng(0).standard_normal(shape)
    with pytest.warns(UserWarning, match=f"Implicit dimension choice for {name}") as ours:
        mine = getattr(lossnotes, name)(x)
    with pytest.warns(UserWarning, match=f"Implicit dimension choice for {name}") as theirs:
        torch_value = getattr(F, name)(torch.from_numpy(x)).numpy()
    assert str(ours[0].message) == str(theirs[0].message)
    np.testing.assert_allclose(mine, torch_value, rtol=1e-14)


@pytest.mark.parametrize("name", ["log_softmax", "softmax"])
def test_dim_out_of_range_or_not_an_integer_is_refused(name) -> None:
    x = np.zeros((2, 3))
    with pytest.raises(IndexError, match="Dimension out of range"):  # torch 2.13.0
        getattr(F, name)(torch.from_numpy(x), dim=2)
    for dim in (2, -3):
        with pytest.raises(ValueError, match=r"dim must be in \[-2, 1\]"):
            getattr(lossnotes, name)(x, dim=dim)
    with pytest.raises(TypeError, match="dim must be an integer"):
        getattr(lossnotes, name)(x, dim=1.0)
    with pytest.raises(TypeError, match="input"):
        getattr(lossnotes, name)(np.array([1, 2]), dim=0)


def test_softmax_of_a_0d_input_is_one_and_its_log_zero() -> None:
    x = np.array(3.5)
    assert lossnotes.softmax(x, dim=0) == 1.0 and lossnotes.log_softmax(x, dim=-1) == 0.0
    assert lossnotes.softmax(x, dim=0).shape == () == F.softmax(torch.tensor(3.5), 0).shape
    assert F.log_softmax(torch.tensor(3.5, dtype=torch.float64), 0).item() == 0.0


def test_softmax_dtype_argument_casts_first() -> None:
    x = np.array([1.0, 2.0], dtype=np.float32)
    ours = lossnotes.log_softmax(x, dim=0, dtype=np.float64)
    theirs = F.log_softmax(torch.from_numpy(x), 0, dtype=torch.float64).numpy()
    assert ours.dtype == np.float64 and np.allclose(ours, theirs, rtol=1e-15)


# --- cross_entropy and nll_loss -----------------------------------------------------------------

CE_REDUCTIONS = ["none", "mean", "sum"]
# (input shape): unbatched, (N, C), and K = 1, 2, 3 extra dimensions; C = 5 throughout.
CLASS_SHAPES = [(5,), (4, 5), (3, 5, 2), (2, 5, 3, 2), (2, 5, 2, 1, 3), (0, 5), (2, 5, 0)]


def _class_case(shape: tuple[int, ...], seed: int = 0, ignored: int = -100):
    """Logits, class indices (the first ignored), probabilities and a weight for one shape."""
    rng = np.random.default_rng(seed)
    axis = 0 if len(shape) == 1 else 1
    x = rng.standard_normal(shape) * 3
    index = rng.integers(0, shape[axis], shape[:axis] + shape[axis + 1 :])
    if index.size > 1:  # a single target stays, so that 'mean' is finite
        index.flat[0] = ignored
    probabilities = F.softmax(torch.from_numpy(rng.standard_normal(shape)), axis).numpy()
    return x, index, probabilities, rng.uniform(0.1, 2.0, shape[axis])


@pytest.mark.parametrize("shape", CLASS_SHAPES, ids=str)
def test_cross_entropy_with_class_indices_agrees_over_every_parameter(shape) -> None:
    x, index, _, weight = _class_case(shape)
    agreement(
        "cross_entropy",
        (x, index),
        {
            "weight": [None, weight],
            "reduction": CE_REDUCTIONS,
            "label_smoothing": [0.0, 0.25, 1.0],
        },
    )  # raises AssertionError on any mismatch of loss or gradient beyond 1e-12


@pytest.mark.parametrize("shape", CLASS_SHAPES, ids=str)
def test_cross_entropy_with_probabilities_agrees_over_every_parameter(shape) -> None:
    x, _, probabilities, weight = _class_case(shape)
    agreement(
        "cross_entropy",
        (x, probabilities),
        {
            "weight": [None, weight],
            "reduction": CE_REDUCTIONS,
            "label_smoothing": [0.0, 0.25, 1.0],
            "ignore_index": [-100, -1],
        },
    )


@pytest.mark.parametrize("shape", CLASS_SHAPES, ids=str)
def test_ignore_index_that_is_a_class_agrees(shape) -> None:
    x, index, _, weight = _class_case(shape, ignored=2)
    grid = {"weight": [None, weight], "reduction": CE_REDUCTIONS, "ignore_index": [2]}
    agreement("nll_loss", (x, index), grid)
    agreement("cross_entropy", (x, index), {**grid, "label_smoothing": [0.0, 0.4]})


@pytest.mark.parametrize("shape", CLASS_SHAPES, ids=str)
def test_nll_loss_agrees_over_every_parameter(shape) -> None:
    x, index, _, weight = _class_case(shape)
    agreement("nll_loss", (x, index), {"weight": [None, weight], "reduction": CE_REDUCTIONS})


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_legacy_flags_agree_and_warn(name) -> None:
    x, index, _, weight = _class_case((6, 5), seed=1)
    agreement(name, (x, index), {"size_average": [None, True, False], "reduce": [None, True, False],
                                 "weight": [None, weight]})
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        getattr(lossnotes, name)(x, index, reduce=False)


def test_cross_entropy_is_nll_of_log_softmax() -> None:
    x, index, _, weight = _class_case((2, 5, 3, 2), seed=2)
    for reduction in CE_REDUCTIONS:
        ce = lossnotes.cross_entropy(x, index, weight=weight, reduction=reduction)
        nll = lossnotes.nll_loss(lossnotes.log_softmax(x, dim=1), index, weight=weight,
                                 reduction=reduction)
        np.testing.assert_allclose(ce, nll, rtol=1e-14, atol=1e-15)


def test_mean_denominators_worked_by_hand() -> None:  # chapters/classification/cross_entropy.md
    # Two rows of logits (0, 0, 0): every class has probability 1/3, so each loss is
    # w[target] * log 3.  Targets 0 and 2, weights (1, 2, 4).
    x, index, weight = np.zeros((2, 3)), np.array([0, 2]), np.array([1.0, 2.0, 4.0])
    log3 = np.log(3.0)
    np.testing.assert_allclose(
        lossnotes.cross_entropy(x, index, weight=weight, reduction="none"), [log3, 4 * log3]
    )
    # 'mean' divides by w[0] + w[2] = 5, not by N = 2: a weighted average, log 3 again.
    assert np.isclose(lossnotes.cross_entropy(x, index, weight=weight), 5 * log3 / 5)
    # One target ignored: the denominator loses its weight too.
    assert np.isclose(lossnotes.cross_entropy(x, np.array([0, -100]), weight=weight), log3)
    # Probability targets: 'mean' divides by N = 2 whatever the weights.
    onehot = np.eye(3)[index]
    assert np.isclose(lossnotes.cross_entropy(x, onehot, weight=weight), 5 * log3 / 2)


def test_label_smoothing_worked_by_hand() -> None:  # chapters/classification/cross_entropy.md
    # Logits (0, 0, 0), eps = 0.3: the likelihood term is w_t log 3 and the smoothing term
    # (eps / C) sum_c w_c log 3, each weighted target counted once in the 'mean' denominator
    # (torch 2.13.0's cross_entropy_loss_label_smoothing).
    x, index, weight, eps = np.zeros((3, 3)), np.array([0, 2, -100]), np.array([1.0, 2.0, 4.0]), 0.3
    log3 = np.log(3.0)
    per_row = (1 - eps) * weight[[0, 2]] * log3 + eps / 3 * weight.sum() * log3
    none = lossnotes.cross_entropy(x, index, weight=weight, label_smoothing=eps, reduction="none")
    np.testing.assert_allclose(none, [*per_row, 0.0])
    mean = lossnotes.cross_entropy(x, index, weight=weight, label_smoothing=eps)
    assert np.isclose(mean, per_row.sum() / (1.0 + 4.0))
    theirs = F.cross_entropy(torch.zeros(3, 3, dtype=torch.float64), torch.from_numpy(index),
                             weight=torch.from_numpy(weight), label_smoothing=eps)
    assert np.isclose(mean, theirs.item(), rtol=1e-14)


def test_all_targets_ignored_gives_nan_and_a_zero_gradient() -> None:
    x = np.random.default_rng(3).standard_normal((4, 5))
    ignored = np.full(4, -100)
    for name, extra in [("cross_entropy", {"label_smoothing": 0.2}), ("cross_entropy", {}),
                        ("nll_loss", {})]:
        for weight in (None, np.ones(5)):
            kwargs = {"weight": weight, **extra}
            assert np.isnan(getattr(lossnotes, name)(x, ignored, **kwargs))
            assert getattr(lossnotes, name)(x, ignored, reduction="sum", **kwargs) == 0
            grad = getattr(lossnotes.grad, name)(x, ignored, **kwargs)
            _, theirs = torch_gradient(name, (x, ignored), kwargs)  # torch 2.13.0: zeros too
            assert np.array_equal(grad, np.zeros_like(x)) and np.array_equal(theirs, grad)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_smoothing_over_a_zero_total_weight_is_nan_as_in_torch(dtype) -> None:
    """torch's smoothed 'mean' divides the likelihood term and the smoothing term by the
    targets' total weight each on its own: when it is 0 the first is 0 / 0, NaN, whatever the
    second (s / 0, infinite); dividing their mixture once gave inf (found by test_sequence.py's
    property run through linear_cross_entropy)."""
    x = np.array([[1.0, 2.0], [0.5, -1.0]], dtype=dtype)
    rng = np.random.default_rng(33)
    for target in (np.array([1, 1]), np.array([1, -100])):
        call = {"weight": np.array([1.25, 0.0], dtype=dtype), "label_smoothing": 0.1}
        assert np.isnan(torch_loss("cross_entropy", (x, target), call))  # torch 2.13.0
        assert np.isnan(lossnotes.cross_entropy(x, target, **call))
        assert assert_same_outcome("cross_entropy", (x, target), call, rng, ulps=0) == "accepted"


def test_empty_batch() -> None:
    for target in (np.zeros(0, dtype=np.int64), np.zeros((0, 5))):
        x = np.zeros((0, 5))
        assert np.isnan(lossnotes.cross_entropy(x, target))
        assert lossnotes.cross_entropy(x, target, reduction="sum") == 0
        assert lossnotes.cross_entropy(x, target, reduction="none").shape == (0,)
        assert lossnotes.grad.cross_entropy(x, target).shape == (0, 5)


def test_gradient_is_softmax_minus_onehot() -> None:
    x = np.random.default_rng(4).standard_normal((6, 5))
    index = np.arange(6) % 5
    expected = (lossnotes.softmax(x, dim=1) - np.eye(5)[index]) / 6
    np.testing.assert_allclose(lossnotes.grad.cross_entropy(x, index), expected, rtol=1e-13)
    np.testing.assert_allclose(lossnotes.grad.nll_loss(x, index), -np.eye(5)[index] / 6)


@pytest.mark.parametrize("kind", ["index", "probability"])
@pytest.mark.parametrize("shape", [(5,), (4, 5), (2, 5, 3)], ids=str)
def test_gradient_matches_finite_differences(kind, shape) -> None:
    x, index, probabilities, weight = _class_case(shape, seed=5)
    target = index if kind == "index" else probabilities
    for kwargs in [{}, {"weight": weight}, {"label_smoothing": 0.3, "weight": weight},
                   {"reduction": "sum", "label_smoothing": 0.1}]:
        numeric = finite_difference_gradient(
            lambda v: lossnotes.cross_entropy(v, target, **kwargs), x  # noqa: B023
        )
        analytic = lossnotes.grad.cross_entropy(x, target, **kwargs)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)
    numeric = finite_difference_gradient(lambda v: lossnotes.nll_loss(v, index, weight), x)
    np.testing.assert_allclose(lossnotes.grad.nll_loss(x, index, weight), numeric, atol=1e-9)


def test_extreme_logits_agree() -> None:
    rng = np.random.default_rng(6)
    x = np.where(rng.random((8, 5)) < 0.5, rng.uniform(-1e4, 1e4, (8, 5)),
                 rng.choice([-1e4, 1e4, 0.0], (8, 5)))
    index = rng.integers(0, 5, 8)
    probabilities = F.softmax(torch.from_numpy(rng.standard_normal((8, 5))), 1).numpy()
    grid = {"reduction": CE_REDUCTIONS, "label_smoothing": [0.0, 0.3]}
    agreement("cross_entropy", (x, index), grid)
    agreement("cross_entropy", (x, probabilities), grid)
    agreement("nll_loss", (x, index), {"reduction": CE_REDUCTIONS})
    # A wrong class by 2e4: the loss is the gap itself, finite, where log(softmax) is -inf.
    assert lossnotes.cross_entropy(np.array([[1e4, -1e4]]), np.array([1])) == 2e4


@pytest.mark.parametrize("kwargs", [{}, {"label_smoothing": 0.2}, {"ignore_index": 1}],
                         ids=str)
def test_float32_agrees_and_keeps_dtype(kwargs) -> None:
    rng = np.random.default_rng(7)
    x = rng.standard_normal((64, 10)).astype(np.float32)
    index = rng.integers(0, 10, 64)
    weight = rng.uniform(0.5, 2, 10).astype(np.float32)
    for name in ("cross_entropy", "nll_loss"):
        if name == "nll_loss" and "label_smoothing" in kwargs:
            continue
        for reduction in CE_REDUCTIONS:
            call = {"weight": weight, "reduction": reduction, **kwargs}
            ours = getattr(lossnotes, name)(x, index, **call)
            theirs, their_grad = torch_gradient(name, (x, index), call)
            assert ours.dtype == theirs.dtype == np.float32
            np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=1e-6)
            grad = getattr(lossnotes.grad, name)(x, index, **call)
            assert grad.dtype == np.float32
            np.testing.assert_allclose(grad, their_grad, rtol=2e-5, atol=1e-7)


def test_probability_targets_promote_as_torch() -> None:
    rng = np.random.default_rng(8)
    x32 = rng.standard_normal((3, 4)).astype(np.float32)
    y64 = F.softmax(torch.from_numpy(rng.standard_normal((3, 4))), 1).numpy()
    # float32 logits, float64 probabilities: torch 2.13.0 returns float64.
    ours = lossnotes.cross_entropy(x32, y64, reduction="none")
    theirs = F.cross_entropy(torch.from_numpy(x32), torch.from_numpy(y64), reduction="none")
    assert ours.dtype == np.float64 == theirs.numpy().dtype
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-6)
    assert lossnotes.grad.cross_entropy(x32, y64).dtype == np.float32


def test_a_weight_given_as_a_list_takes_the_input_dtype() -> None:
    # A float32 array weight for float64 input is refused, as torch refuses the tensor; a list
    # has no dtype, and torch.tensor(list) would be float32 for float32 logits.
    x = np.zeros((2, 3), dtype=np.float32)
    for name in ("cross_entropy", "nll_loss"):
        loss = getattr(lossnotes, name)(x, [0, 2], [1, 2, 4])
        assert loss.dtype == np.float32
        with pytest.raises(TypeError, match="weight"):
            getattr(lossnotes, name)(x.astype(np.float64), [0, 2], np.ones(3, np.float32))


def test_uint8_class_indices_are_accepted() -> None:
    x, index, _, weight = _class_case((4, 5), seed=9, ignored=3)
    small = index.astype(np.uint8)
    agreement("cross_entropy", (x, small), {"weight": [None, weight], "label_smoothing": [0, 0.2],
                                            "reduction": ["none", "sum"]})
    agreement("cross_entropy", (x, small), {"label_smoothing": [0, 0.2]})
    # torch 2.13.0 gathers the weights of the 'mean' denominator with the targets, which must
    # then be int32 or int64: lossnotes refuses that call too.
    with pytest.raises(RuntimeError, match="Expected dtype int32/int64 for index"):
        F.cross_entropy(*map(torch.from_numpy, (x, small, weight)), label_smoothing=0.2)
    with pytest.raises(TypeError, match="uint8"):
        lossnotes.cross_entropy(x, small, weight, label_smoothing=0.2)
    agreement("nll_loss", (x, small), {"reduction": CE_REDUCTIONS})


def test_the_original_posts_float_target_is_refused() -> None:
    # The post builds target = torch.FloatTensor(3).random_(5) against a (3, 5) input.
    x = np.random.default_rng(10).standard_normal((3, 5))
    target = np.array([1.0, 0.0, 4.0], dtype=np.float32)
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte"):  # 2.13.0
        F.cross_entropy(torch.from_numpy(x), torch.from_numpy(target))
    with pytest.raises(TypeError, match="int64"):
        lossnotes.cross_entropy(x, target)
    # What to write instead: int64 class indices.
    fixed = lossnotes.cross_entropy(x, target.astype(np.int64))
    assert np.isclose(fixed, F.cross_entropy(torch.from_numpy(x), torch.tensor([1, 0, 4])).item())


def test_unbatched_target_of_shape_one() -> None:
    x = np.array([0.5, -1.0, 2.0])
    # nll_loss accepts a (1,) target for a (C,) input and returns a 0-d loss, like a 0-d target.
    for name in ("cross_entropy", "nll_loss"):
        ours = getattr(lossnotes, name)(x, np.array([2]), reduction="none")
        assert ours.shape == () and ours == getattr(lossnotes, name)(x, np.array(2))
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):  # torch 2.13.0
        F.cross_entropy(torch.from_numpy(x), torch.tensor([2]), label_smoothing=0.1)
    with pytest.raises(ValueError, match="target must be 0-d"):
        lossnotes.cross_entropy(x, np.array([2]), label_smoothing=0.1)


def test_grad_output_is_applied_per_position() -> None:
    x, index, probabilities, weight = _class_case((3, 5, 2), seed=11)
    upstream = np.random.default_rng(12).standard_normal((3, 2))
    for target in (index, probabilities):
        ours = lossnotes.grad.cross_entropy(x, target, weight, reduction="none",
                                            grad_output=upstream)
        _, theirs = torch_gradient("cross_entropy", (x, target),
                                   {"weight": weight, "reduction": "none"}, grad_output=upstream)
        np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-15)
# --- sigmoid and logsigmoid, the helpers both binary losses stand on ----------------------------

FLOATS = (np.float32, np.float64)
# Logits from ordinary to far beyond exp's range (exp overflows past 88.7 in float32 and 709.8
# in float64), both signs, and 0.
LOGITS = np.concatenate(
    [np.linspace(-30.0, 30.0, 601), [-1e4, -800.0, -120.0, -90.0, -40.0, 40.0, 90.0, 800.0, 1e4]]
)


def _torch_helper(name: str, values: np.ndarray) -> np.ndarray:
    function = torch.sigmoid if name == "sigmoid" else F.logsigmoid
    return function(torch.from_numpy(values)).numpy()


@pytest.mark.parametrize("dtype", FLOATS)
def test_logsigmoid_agrees_with_torch_to_a_few_ulps(dtype: type) -> None:
    x = LOGITS.astype(dtype)
    ours, theirs = lossnotes.logsigmoid(x), _torch_helper("logsigmoid", x)
    assert ours.dtype == theirs.dtype == dtype
    # torch 2.13.0 evaluates the same min(x, 0) - log1p(exp(-|x|)) with its own exp and log1p.
    np.testing.assert_allclose(ours, theirs, rtol=4 * np.finfo(dtype).eps, atol=0)


@pytest.mark.parametrize("dtype", FLOATS)
def test_logsigmoid_is_exact_where_the_naive_form_fails(dtype: type) -> None:
    x = np.array([-1e4, 1e4, 40.0], dtype=dtype)
    with np.errstate(over="ignore", divide="ignore"):
        naive = np.log(1 / (1 + np.exp(-x)))
    ours = lossnotes.logsigmoid(x)
    # log sigmoid(-1e4) = -1e4 - log1p(e^-1e4) = -1e4 exactly; the naive form gives -inf.
    assert ours[0] == -1e4 and naive[0] == -np.inf
    assert ours[1] == 0 and _torch_helper("logsigmoid", x)[0] == -1e4
    # log sigmoid(40) = -log1p(e^-40) = -4.248e-18, which the naive form rounds to 0.
    assert np.isclose(ours[2], -np.exp(-40.0), rtol=1e-6) and naive[2] == 0


@pytest.mark.parametrize("dtype", FLOATS)
def test_sigmoid_agrees_with_torch(dtype: type) -> None:
    x = LOGITS.astype(dtype)
    ours, theirs = lossnotes.sigmoid(x), _torch_helper("sigmoid", x)
    assert ours.dtype == theirs.dtype == dtype
    assert ours[x == -1e4] == 0 and ours[x == 1e4] == 1 and np.all((ours >= 0) & (ours <= 1))
    # torch computes 1 / (1 + exp(-x)): for x below -88.72 in float32 exp(-x) overflows and it
    # returns 0, where lossnotes returns the subnormal e^x; the difference is below the smallest
    # normal number.
    tiny = np.finfo(dtype).tiny
    np.testing.assert_allclose(ours, theirs, rtol=8 * np.finfo(dtype).eps, atol=tiny)
    if dtype is np.float32:
        subnormal = np.float32(-100.0)
        assert _torch_helper("sigmoid", np.array([subnormal]))[0] == 0
        assert 0 < lossnotes.sigmoid(np.array([subnormal]))[0] < tiny


def test_sigmoid_never_warns_for_huge_logits() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = lossnotes.sigmoid(np.array([-1e308, 1e308]))
    np.testing.assert_array_equal(values, [0.0, 1.0])


# --- binary_cross_entropy -------------------------------------------------------------------------

BCE = "binary_cross_entropy"
BCE_LOGITS = "binary_cross_entropy_with_logits"
REDUCTIONS = ("none", "mean", "sum")
LEGACY = {"size_average": [None, True, False], "reduce": [None, True, False]}


def _probabilities(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    # Away from 0 and 1, so that finite differences see no clamp.
    return rng.uniform(0.05, 0.95, shape)


def test_bce_worked_example() -> None:
    # Worked by hand (chapter binary_cross_entropy, worked example): -log 0.8, -log(1 - 0.4),
    # -(0.3 log 0.5 + 0.7 log 0.5) = log 2, and the clamped -log 0 = 100.
    x = np.array([0.8, 0.4, 0.5, 0.0])
    y = np.array([1.0, 0.0, 0.3, 1.0])
    expected = np.array([-np.log(0.8), -np.log(0.6), np.log(2.0), 100.0])
    none = lossnotes.binary_cross_entropy(x, y, reduction="none")
    np.testing.assert_allclose(none, expected, rtol=1e-15)
    assert np.isclose(lossnotes.binary_cross_entropy(x, y), expected.mean(), rtol=1e-15)
    # d/dx = (x - y) / (x (1 - x)): -1/0.8, 1/0.6, 0.2/0.25; at x = 0, y = 1 torch's -1/eps.
    grad = lossnotes.grad.binary_cross_entropy(x, y, reduction="sum")
    np.testing.assert_allclose(grad[:3], [-1.25, 1 / 0.6, 0.8], rtol=1e-15)
    assert grad[3] == -1 / np.float64(np.float32(1e-12))


@pytest.mark.parametrize("dtype", FLOATS)
def test_bce_clamps_each_log_at_minus_100(dtype: type) -> None:
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1e-30], dtype=dtype)
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.25, 1.0], dtype=dtype)
    ours = lossnotes.binary_cross_entropy(x, y, reduction="none")
    # log 0 = -inf is clamped to -100; 0 * (-100) = 0 where the other term vanishes;
    # a soft target pays 100 on its positive share; log(1e-30) = -69.08 is not clamped.
    expected = np.array([100.0, 100.0, 0.0, 0.0, 25.0, -np.log(dtype(1e-30))], dtype=dtype)
    np.testing.assert_allclose(ours, expected, rtol=4 * np.finfo(dtype).eps)
    theirs = F.binary_cross_entropy(
        torch.from_numpy(x), torch.from_numpy(y), reduction="none"
    ).numpy()
    # The clamped elements are exact by construction; log(1e-30) is a float32 logarithm, which
    # NumPy's and torch's vector code may round one ulp apart.
    np.testing.assert_array_equal(ours[:5], theirs[:5])
    assert_within_ulps(ours, theirs)


@pytest.mark.parametrize("dtype", FLOATS)
def test_bce_gradient_is_torchs_at_saturated_probabilities(dtype: type) -> None:
    """torch's backward divides by max(x (1 - x), 1e-12f), not by the clamped forward's slope."""
    x = np.array([0.0, 0.0, 1.0, 1.0, 1e-20, 1e-13, 1e-6, 1.0 - 2**-20, 0.5], dtype=dtype)
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.3, 0.5], dtype=dtype)
    ours = lossnotes.grad.binary_cross_entropy(x, y, reduction="sum")
    _, theirs = torch_gradient(BCE, (x, y), {"reduction": "sum"})
    np.testing.assert_array_equal(ours, theirs)  # basic operations in torch's order: exact
    epsilon = dtype(np.float32(1e-12))  # the C++ float constant, in this dtype
    assert ours[0] == -1 / epsilon and ours[2] == 1 / epsilon
    assert ours[1] == 0 and ours[3] == 0 and ours[8] == 0
    # Exactly where x (1 - x) drops below epsilon the clamp holds the gradient at (x - y) / eps.
    assert ours[4] == (dtype(1e-20) - 1) / epsilon


def test_bce_gradient_agrees_with_finite_differences() -> None:
    rng = np.random.default_rng(11)
    x, y, w = _probabilities(rng, (3, 4)), rng.random((3, 4)), rng.random(4)
    numeric = finite_difference_gradient(
        lambda v: lossnotes.binary_cross_entropy(v, y, weight=w), x
    )
    analytic = lossnotes.grad.binary_cross_entropy(x, y, weight=w)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-10)


def test_bce_agrees_with_torch_over_every_parameter() -> None:
    rng = np.random.default_rng(12)
    x, y = _probabilities(rng, (4, 3)), rng.random((4, 3))
    hard = (rng.random((4, 3)) < 0.5).astype(np.float64)
    weights = [None, rng.random((4, 3)), rng.random(3), rng.random((4, 1)), np.asarray(2.5),
               np.array([1, 0, 3]), rng.random(3).astype(np.float32)]
    for target in (y, hard):
        agreement(BCE, (x, target), {"reduction": list(REDUCTIONS), "weight": weights})
    agreement(BCE, (x, y), LEGACY)
    agreement(BCE, (x, y), {**LEGACY, "reduction": ["none", "sum"]})
    # 0-d, K-dimensional, empty.
    agreement(BCE, (np.asarray(0.3), np.asarray(1.0)), {"reduction": list(REDUCTIONS)})
    agreement(BCE, (_probabilities(rng, (2, 3, 4, 5)), rng.random((2, 3, 4, 5))),
              {"reduction": list(REDUCTIONS), "weight": [None, rng.random((3, 1, 5))]})
    agreement(BCE, (np.ones((0, 3)), np.ones((0, 3))),
              {"reduction": list(REDUCTIONS), "weight": [None, np.ones(3)]})


def test_bce_mean_divides_by_the_element_count_even_with_a_weight() -> None:
    # Unlike l1_loss and mse_loss, whose weighted mean is sum(w l) / sum(w) (torch 2.13.0).
    x, y, w = np.array([0.2, 0.7]), np.array([0.0, 1.0]), np.array([3.0, 1.0])
    none = lossnotes.binary_cross_entropy(x, y, weight=w, reduction="none")
    assert lossnotes.binary_cross_entropy(x, y, weight=w) == none.sum() / 2
    assert lossnotes.binary_cross_entropy(x, y, weight=w) != none.sum() / w.sum()


@pytest.mark.parametrize("dtype", FLOATS)
def test_bce_keeps_the_dtype(dtype: type) -> None:
    x, y = np.array([0.25, 0.5], dtype=dtype), np.array([0.0, 1.0], dtype=dtype)
    for reduction in REDUCTIONS:
        assert lossnotes.binary_cross_entropy(x, y, reduction=reduction).dtype == dtype
    assert lossnotes.grad.binary_cross_entropy(x, y).dtype == dtype
    # A float64 weight does not promote: torch multiplies the loss by it in place.
    weighted = lossnotes.binary_cross_entropy(x, y, weight=np.ones(2))
    assert weighted.dtype == dtype
    # A list takes the dtype of input.
    assert lossnotes.binary_cross_entropy(x, [0.0, 1.0]).dtype == dtype


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "fragment"),
    [
        ((np.array([0.5, 1.5]), np.array([0.0, 1.0])), {}, ValueError, "input"),
        ((np.array([-0.1, 0.5]), np.array([0.0, 1.0])), {}, ValueError, "input"),
        ((np.array([np.nan, 0.5]), np.array([0.0, 1.0])), {}, ValueError, "input"),
        ((np.array([0.5, 0.5]), np.array([0.0, 2.0])), {}, ValueError, "target"),
        ((np.array([0.5, 0.5]), np.array([-1.0, 1.0])), {}, ValueError, "target"),
        ((np.array([0.5, 0.5]), np.array([np.nan, 1.0])), {}, ValueError, "target"),
        ((np.ones((2, 1)) / 2, np.ones((2, 3))), {}, ValueError, "target"),
        ((np.ones(3) / 2, np.ones(2)), {}, ValueError, "target"),
        ((np.ones((2, 3)) / 2, np.ones((2, 3))), {"weight": np.ones(2)}, ValueError, "weight"),
        ((np.ones((2, 3)) / 2, np.ones((2, 3))), {"weight": np.ones((1, 2, 3))}, ValueError,
         "weight"),
        ((np.ones(2) / 2, np.ones(2)), {"reduction": "avg"}, ValueError, "reduction"),
        ((np.ones(2) / 2, np.ones(2)), {"reduction": None}, TypeError, "reduction"),
        ((np.array([0, 1]), np.array([0.0, 1.0])), {}, TypeError, "input"),
        ((np.array([0.5, 0.5]), np.array([0, 1])), {}, TypeError, "target"),
        ((np.array([0.5, 0.5]), np.array([False, True])), {}, TypeError, "target"),
        ((np.array([0.5, 0.5], np.float32), np.array([0.0, 1.0])), {}, TypeError, "target"),
        ((np.ones(2) / 2, np.ones(2)), {"weight": np.ones(2, complex)}, TypeError, "weight"),
    ],
)
def test_bce_refuses(args: tuple, kwargs: dict, error: type, fragment: str) -> None:
    for function in (lossnotes.binary_cross_entropy, lossnotes.grad.binary_cross_entropy):
        with pytest.raises(error, match=fragment):
            function(*args, **kwargs)


# --- binary_cross_entropy_with_logits -------------------------------------------------------------


def test_bce_with_logits_worked_example() -> None:
    # Worked by hand (chapter binary_cross_entropy_with_logits, worked example):
    # x = 0 gives log 2 whatever y; x = 2, y = 1 gives log(1 + e^-2); x = -1, y = 0 gives
    # log(1 + e^-1); with pos_weight 3 the positive term is tripled.
    x = np.array([0.0, 2.0, -1.0])
    y = np.array([1.0, 1.0, 0.0])
    expected = np.log1p(np.exp([0.0, -2.0, -1.0]))
    np.testing.assert_allclose(
        lossnotes.binary_cross_entropy_with_logits(x, y, reduction="none"), expected, rtol=1e-15
    )
    tripled = expected * np.array([3.0, 3.0, 1.0])
    np.testing.assert_allclose(
        lossnotes.binary_cross_entropy_with_logits(
            x, y, reduction="none", pos_weight=np.asarray(3.0)
        ),
        tripled,
        rtol=1e-15,
    )
    # Gradient sigma(x) - y, and (1 + (p - 1) y) sigma(x) - p y with p = 3.
    sig = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(
        lossnotes.grad.binary_cross_entropy_with_logits(x, y, reduction="sum"), sig - y,
        rtol=1e-15,
    )
    np.testing.assert_allclose(
        lossnotes.grad.binary_cross_entropy_with_logits(
            x, y, reduction="sum", pos_weight=np.asarray(3.0)
        ),
        (1 + 2 * y) * sig - 3 * y,
        rtol=1e-15,
    )


@pytest.mark.parametrize("dtype", FLOATS)
def test_bce_with_logits_is_finite_for_huge_logits(dtype: type) -> None:
    x = np.array([-1e4, 1e4, -1e4, 1e4, -100.0, 100.0], dtype=dtype)
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0], dtype=dtype)
    ours = lossnotes.binary_cross_entropy_with_logits(x, y, reduction="none")
    # Wrong and certain costs |x|; right and certain costs log1p(e^-|x|), which rounds to 0.
    np.testing.assert_array_equal(ours, np.array([1e4, 1e4, 0.0, 0.0, 100.0, 100.0], dtype))
    grad = lossnotes.grad.binary_cross_entropy_with_logits(x, y, reduction="sum")
    np.testing.assert_array_equal(grad, np.array([-1.0, 1.0, 0.0, 0.0, -1.0, 1.0], dtype))
    theirs = F.binary_cross_entropy_with_logits(
        torch.from_numpy(x), torch.from_numpy(y), reduction="none"
    ).numpy()
    # Exact whatever the vector code: log1p(e^-|x|) vanishes in the rounding of |x| or of 0.
    np.testing.assert_array_equal(ours, theirs)


def test_bce_with_logits_and_bce_of_the_sigmoid_part_where_the_clamp_bites() -> None:
    # float64: sigma(-200) = 1.4e-87 is still representable, and log of it is -200, but BCE
    # clamps the log at -100; float32 saturates sigma(20) to exactly 1, so 1 - sigma = 0.
    x = np.array([-200.0, 20.0, 3.0])
    y = np.array([1.0, 0.0, 1.0])
    logits = lossnotes.binary_cross_entropy_with_logits(x, y, reduction="none")
    probabilities = lossnotes.binary_cross_entropy(lossnotes.sigmoid(x), y, reduction="none")
    assert logits[0] == 200 and probabilities[0] == 100
    assert np.isclose(logits[1], 20 + np.log1p(np.exp(-20.0)), rtol=1e-15)
    assert np.isclose(probabilities[1], logits[1], rtol=1e-8)  # float64 still holds 1 - sigma
    assert np.isclose(probabilities[2], logits[2], rtol=1e-14)
    x32 = x.astype(np.float32)
    saturated = lossnotes.binary_cross_entropy(
        lossnotes.sigmoid(x32), y.astype(np.float32), reduction="none"
    )
    assert lossnotes.sigmoid(x32)[1] == 1 and saturated[1] == 100  # 20 + 2e-9 is the truth


def test_bce_with_logits_soft_targets_are_minimised_at_the_logit_of_the_target() -> None:
    # For y in [0, 1] the loss is H(y) + KL(y || sigma(x)) >= H(y), with equality at
    # x = log(y / (1 - y)).
    y = np.array([0.1, 0.5, 0.8])
    best = np.log(y / (1 - y))
    entropy = -(y * np.log(y) + (1 - y) * np.log1p(-y))
    at_best = lossnotes.binary_cross_entropy_with_logits(best, y, reduction="none")
    np.testing.assert_allclose(at_best, entropy, rtol=1e-14)
    np.testing.assert_allclose(
        lossnotes.grad.binary_cross_entropy_with_logits(best, y, reduction="sum"), 0, atol=1e-15
    )
    for shift in (-0.5, 0.5):
        assert np.all(
            lossnotes.binary_cross_entropy_with_logits(best + shift, y, reduction="none")
            > at_best
        )


def test_bce_with_logits_target_outside_zero_one_is_unbounded_below() -> None:
    # torch 2.13.0 accepts y = 2 (BCELoss refuses it): the loss (1 - y) x - log sigma(x) falls
    # without bound as x grows, and its gradient sigma(x) - 2 never vanishes.
    x = np.array([0.0, 10.0, 100.0])
    y = np.full(3, 2.0)
    loss = lossnotes.binary_cross_entropy_with_logits(x, y, reduction="none")
    assert np.all(np.diff(loss) < 0) and loss[-1] < -99
    assert np.all(lossnotes.grad.binary_cross_entropy_with_logits(x, y, reduction="sum") < -0.9)
    theirs = F.binary_cross_entropy_with_logits(
        torch.from_numpy(x), torch.from_numpy(y), reduction="none"
    ).numpy()
    np.testing.assert_allclose(loss, theirs, rtol=1e-15)


def test_bce_with_logits_gradient_agrees_with_finite_differences() -> None:
    rng = np.random.default_rng(21)
    x, y = rng.standard_normal((3, 4)) * 3, rng.random((3, 4))
    w, p = rng.random((3, 1)), rng.random(4) * 4
    numeric = finite_difference_gradient(
        lambda v: lossnotes.binary_cross_entropy_with_logits(v, y, weight=w, pos_weight=p), x
    )
    analytic = lossnotes.grad.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=p)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-10)


def test_bce_with_logits_agrees_with_torch_over_every_parameter() -> None:
    rng = np.random.default_rng(22)
    x, y = rng.standard_normal((4, 3)) * 4, rng.random((4, 3))
    hard = (rng.random((4, 3)) < 0.5).astype(np.float64)
    weights = [None, rng.random((4, 3)), rng.random(3), rng.random((4, 1)), np.asarray(2.0)]
    pos_weights = [None, rng.random(3) * 5, rng.random((4, 1)) * 5, np.asarray(3.0),
                   np.array([1, 2, 3]), rng.random((4, 3))]
    agreement(BCE_LOGITS, (x, y),
              {"reduction": list(REDUCTIONS), "weight": weights, "pos_weight": pos_weights})
    for target in (hard, np.full((4, 3), 1.7)):  # hard labels, and a target outside [0, 1]
        agreement(BCE_LOGITS, (x, target),
                  {"reduction": list(REDUCTIONS), "pos_weight": pos_weights})
    agreement(BCE_LOGITS, (x, y), LEGACY)
    agreement(BCE_LOGITS, (np.asarray(0.3), np.asarray(1.0)),
              {"reduction": list(REDUCTIONS), "pos_weight": [None, np.asarray(2.0)]})
    agreement(BCE_LOGITS, (rng.standard_normal((2, 3, 4, 5)), rng.random((2, 3, 4, 5))),
              {"reduction": list(REDUCTIONS), "pos_weight": [None, rng.random((3, 1, 1)) * 4]})
    agreement(BCE_LOGITS, (np.ones((0, 3)), np.ones((0, 3))),
              {"reduction": list(REDUCTIONS), "pos_weight": [None, np.ones(3)]})
    agreement(BCE_LOGITS, (np.array([-1e4, 1e4, -40.0, 40.0]), np.array([1.0, 0.0, 0.0, 1.0])),
              {"reduction": list(REDUCTIONS), "pos_weight": [None, np.asarray(5.0)]})


@pytest.mark.parametrize(
    ("input_dtype", "target_dtype"),
    [(np.float32, np.float32), (np.float32, np.float64), (np.float64, np.float32)],
)
def test_bce_with_logits_returns_the_targets_dtype(input_dtype: type, target_dtype: type) -> None:
    # torch 2.13.0 computes (1 - target).mul_(input)...: the result has target's dtype, and the
    # gradient input's.
    x = np.array([0.5, -1.0], dtype=input_dtype)
    y = np.array([1.0, 0.0], dtype=target_dtype)
    theirs = F.binary_cross_entropy_with_logits(torch.from_numpy(x), torch.from_numpy(y))
    ours = lossnotes.binary_cross_entropy_with_logits(x, y)
    assert ours.dtype == target_dtype and str(theirs.dtype) == f"torch.{ours.dtype}"
    assert lossnotes.grad.binary_cross_entropy_with_logits(x, y).dtype == input_dtype


def test_pos_weight_broadcasts_from_the_last_dimension() -> None:
    # (C,) against (N, C) weighs the classes; against (N, C, H, W) it would meet W instead, so
    # a per-class weight there is (C, 1, 1).
    rng = np.random.default_rng(23)
    x, y = rng.standard_normal((2, 3)), (rng.random((2, 3)) < 0.5).astype(float)
    p = np.array([1.0, 2.0, 5.0])
    per_class = lossnotes.binary_cross_entropy_with_logits(x, y, reduction="none", pos_weight=p)
    positive = -np.log(lossnotes.sigmoid(x))
    negative = -np.log(1 - lossnotes.sigmoid(x))
    np.testing.assert_allclose(per_class, p * y * positive + (1 - y) * negative, rtol=1e-12)
    images, labels = rng.standard_normal((2, 3, 4, 4)), (rng.random((2, 3, 4, 4)) < 0.5) * 1.0
    with pytest.raises(ValueError, match="pos_weight"):
        lossnotes.binary_cross_entropy_with_logits(images, labels, pos_weight=p)
    with pytest.raises(RuntimeError, match="must match the size"):
        F.binary_cross_entropy_with_logits(
            torch.from_numpy(images), torch.from_numpy(labels), pos_weight=torch.from_numpy(p)
        )
    agreement(BCE_LOGITS, (images, labels), {"pos_weight": [p[:, None, None]]})


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "fragment"),
    [
        ((np.ones((2, 1)), np.ones((2, 3))), {}, ValueError, "target"),
        ((np.ones(3), np.ones(2)), {}, ValueError, "target"),
        ((np.ones((2, 3)), np.ones((2, 3))), {"weight": np.ones(2)}, ValueError, "weight"),
        ((np.ones((2, 3)), np.ones((2, 3))), {"weight": np.ones((4, 2, 3))}, ValueError,
         "weight"),
        ((np.ones((2, 3)), np.ones((2, 3))), {"pos_weight": np.ones(2)}, ValueError, "pos_weight"),
        ((np.ones((2, 3)), np.ones((2, 3))), {"pos_weight": np.ones((1, 2, 3))}, ValueError,
         "pos_weight"),
        ((np.ones(2), np.ones(2)), {"pos_weight": np.array([True, False])}, TypeError,
         "pos_weight"),
        ((np.ones(2), np.ones(2)), {"reduction": "avg"}, ValueError, "reduction"),
        ((np.ones(2), np.ones(2)), {"reduction": 1}, TypeError, "reduction"),
        ((np.array([0, 1]), np.ones(2)), {}, TypeError, "input"),
        ((np.ones(2), np.array([0, 1])), {}, TypeError, "target"),
        ((np.ones(2), np.array([False, True])), {}, TypeError, "target"),
    ],
)
def test_bce_with_logits_refuses(args: tuple, kwargs: dict, error: type, fragment: str) -> None:
    for function in (
        lossnotes.binary_cross_entropy_with_logits,
        lossnotes.grad.binary_cross_entropy_with_logits,
    ):
        with pytest.raises(error, match=fragment):
            function(*args, **kwargs)


def test_bce_grad_output_must_have_the_shape_of_the_loss() -> None:
    x, y = np.full((2, 3), 0.5), np.ones((2, 3))
    for name in (BCE, BCE_LOGITS):
        gradient = getattr(lossnotes.grad, name)
        with pytest.raises(ValueError, match="grad_output"):
            gradient(x, y, reduction="none", grad_output=np.ones(3))
        with pytest.raises(ValueError, match="grad_output"):
            gradient(x, y, grad_output=np.ones((2, 3)))


# --- the original post's question: weighting positives when the batch size varies ---------------


def test_three_ways_to_weight_positives_agree() -> None:
    """The post builds ``weight = class_weight[target.long()]`` and a new BCELoss per batch; a
    per-call functional weight, a 'none' loss weighted afterwards, and pos_weight agree."""
    rng = np.random.default_rng(24)
    class_weight = np.array([1.0, 10.0])  # negatives, positives
    for batch in (3, 7):  # the batch size varies: nothing is rebuilt
        logits = rng.standard_normal((batch, 4))
        target = (rng.random((batch, 4)) < 0.3).astype(np.float64)
        weight = class_weight[target.astype(int)]
        probabilities = lossnotes.sigmoid(logits)
        functional = lossnotes.binary_cross_entropy(probabilities, target, weight=weight)
        afterwards = (
            lossnotes.binary_cross_entropy(probabilities, target, reduction="none") * weight
        ).mean()
        # pos_weight multiplies only the positive term: scale negatives by class_weight[0] = 1.
        positives = lossnotes.binary_cross_entropy_with_logits(
            logits, target, pos_weight=np.asarray(class_weight[1] / class_weight[0])
        ) * class_weight[0]
        assert np.isclose(functional, afterwards, rtol=1e-14)
        assert np.isclose(functional, positives, rtol=1e-12)
        module = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(10.0, dtype=torch.float64))
        assert np.isclose(positives, module(torch.from_numpy(logits), torch.from_numpy(target)))




# --- extreme values (issue #20): random calls at the edges, every outcome torch's --------------

SWEEP_CALLS = 60  # per loss and dtype


def _finite_size(values: np.ndarray) -> float:
    size = np.abs(np.asarray(values, dtype=np.float64))
    return float(np.max(np.where(np.isfinite(size), size, 0.0), initial=0.0))


def _edge_weight(rng: np.random.Generator, size: int, dtype) -> np.ndarray | None:
    """None, or a weight at its edges: ordinary, all zero, some zero, negative, mixed signs."""
    kind = rng.choice(["none", "ordinary", "zeros", "some zero", "negative", "mixed"])
    values = {
        "none": None,
        "ordinary": rng.uniform(0.1, 2.0, size),
        "zeros": np.zeros(size),
        "some zero": rng.uniform(0.1, 2.0, size) * (rng.random(size) < 0.5),
        "negative": -rng.uniform(0.1, 2.0, size),
        "mixed": rng.uniform(-2.0, 2.0, size),
    }[kind]
    return None if values is None else values.astype(dtype)


def _class_sweep_call(rng: np.random.Generator, dtype, name: str):
    """One call of cross_entropy or nll_loss at the edges."""
    classes = int(rng.choice([1, 3]))
    layout = rng.choice(["unbatched", "batch", "spatial", "empty"])
    shape = {"unbatched": (classes,), "batch": (4, classes), "spatial": (2, classes, 3),
             "empty": (0, classes)}[layout]
    axis = 0 if layout == "unbatched" else 1
    loss_shape = shape[:axis] + shape[axis + 1 :]
    x = edge_values(rng, shape, dtype)
    kwargs: dict = {"reduction": str(rng.choice(REDUCTIONS))}
    if name == "cross_entropy":
        kwargs["label_smoothing"] = float(rng.choice([0.0, 1e-8, 0.3, 1.0]))
    if name == "cross_entropy" and rng.random() < 0.4:  # class probabilities
        target_dtype = DTYPES[rng.integers(3)]
        onehot = np.moveaxis(np.eye(classes)[rng.integers(0, classes, loss_shape)], -1, axis)
        uniform = np.full(shape, 1 / classes)
        target = np.where(rng.random(shape) < 0.5, onehot, uniform)
        if rng.random() < 0.3:
            target = np.where(rng.random(shape) < 0.3, edge_values(rng, shape, float), target)
        kwargs["weight"] = _edge_weight(rng, classes, DTYPES[rng.integers(3)])
        kwargs["ignore_index"] = int(rng.choice([-100, -1]))
        with np.errstate(over="ignore"):
            return (x, target.astype(target_dtype)), kwargs
    ignore_index = int(rng.choice([-100, 0, classes - 1]))
    target = rng.integers(0, classes, loss_shape)
    ignored = rng.choice(["none", "some", "all"])
    if ignored != "none":
        target = np.where(rng.random(loss_shape) < (0.4 if ignored == "some" else 2), ignore_index,
                          target)
    if rng.random() < 0.05:  # a class out of range: refused by both
        target = np.where(rng.random(loss_shape) < 0.5, classes, target)
    smoothing = kwargs.get("label_smoothing", 0.0)
    if layout != "spatial" and 0 <= ignore_index < 256 and rng.random() < 0.3:
        target = target.astype(np.uint8)
    if ignore_index != -100 or rng.random() < 0.5:
        kwargs["ignore_index"] = ignore_index
    kwargs["weight"] = _edge_weight(rng, classes, dtype)
    if kwargs["weight"] is not None and rng.random() < 0.3:
        # Zero at every target's class, not elsewhere: a total weight of 0 for 'mean'.
        weight = kwargs["weight"].copy()
        classes_used = target.astype(np.int64)
        weight[np.unique(classes_used[(classes_used >= 0) & (classes_used < classes)])] = 0
        kwargs["weight"] = weight
    del smoothing
    return (x, target), kwargs


def _class_scales(call: tuple) -> tuple:
    """The size of cross_entropy's terms (a row's log-sum-exp and its target logit or the
    smoothing's sum of logits, times the weights and the target's mass), and of its
    gradient's (the upstream times the largest weight and the target's mass)."""
    (x, target), kwargs = call
    weight = kwargs.get("weight")
    largest_weight = 1.0 if weight is None else max(_finite_size(weight), 1.0)
    axis = 0 if x.ndim == 1 else 1
    if target.shape == x.shape and x.size:  # probabilities: their rows' sums of |y|
        sizes = np.abs(target.astype(np.float64))
        mass = np.where(np.isfinite(sizes), sizes, 0.0).sum(axis=axis).max()
        largest_weight *= max(float(mass), 1.0)
    terms = (2 * _finite_size(x) + np.log(max(x.shape[axis], 1))) * largest_weight
    count = max(x.size // max(x.shape[axis], 1), 1)
    total = terms * (count if kwargs["reduction"] != "none" else 1)
    return (lambda loss: total,
            lambda grad, upstream: _finite_size(grad) + _finite_size(upstream) * largest_weight)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_class_losses_at_the_edges_do_what_torch_does(name: str, dtype) -> None:
    """Logits of ±inf, NaN, ±1e30, ±1e4 and zeros of both signs, probabilities of exactly 0 and
    1 (and NaN), empty batches, some or every target ignored, weights zero, negative or mixed,
    label smoothing 0, 1e-8, 0.3 and 1, in float16, float32 and float64: torch's refusal, or its
    loss and gradient (16 ulps of the size of the terms, which the extremes make cancel)."""
    rng = np.random.default_rng([20, DTYPES.index(dtype), len(name)])
    outcomes = []
    for _ in range(SWEEP_CALLS):
        call = _class_sweep_call(rng, dtype, name)
        loss_scale, grad_scale = _class_scales(call)
        outcomes.append(assert_same_outcome(name, *call, rng, ulps=16, loss_scale=loss_scale,
                                            grad_scale=grad_scale))
    assert outcomes.count("accepted") > SWEEP_CALLS / 2


def _binary_weight(rng: np.random.Generator, shape: tuple[int, ...], dtype) -> np.ndarray | None:
    """None, or a weight (or pos_weight) at its edges, of the input's shape, its last axis or 0-d:
    ordinary, zero, negative, mixed signs, huge, or an integer one (torch promotes it)."""
    kind = rng.choice(["none", "ordinary", "zeros", "negative", "mixed", "huge", "integer"])
    if kind == "none":
        return None
    weight_shape = [shape, shape[-1:], ()][rng.integers(3)]
    values = {
        "ordinary": lambda: rng.uniform(0.1, 2.0, weight_shape),
        "zeros": lambda: np.zeros(weight_shape),
        "negative": lambda: -rng.uniform(0.1, 2.0, weight_shape),
        "mixed": lambda: rng.uniform(-2.0, 2.0, weight_shape),
        "huge": lambda: np.full(weight_shape, 1e30),
        "integer": lambda: rng.integers(-2, 3, weight_shape),
    }[kind]()
    if kind == "integer":
        return values
    with np.errstate(over="ignore"):
        return values.astype(dtype)


BINARY_SHAPES = [(), (5,), (3, 4), (0, 3)]
# Probabilities at the edges: exactly 0 (of both signs) and 1, underflowing, within an ulp of 1;
# now and then one torch refuses (NaN, outside [0, 1]).
PROBABILITY_EDGES = (0.0, -0.0, 1.0, 1e-30, 6e-8, 0.5, 1 - 1e-7, 0.999)
INVALID_PROBABILITIES = (np.nan, 1.5, -0.1, np.inf)


def _probability_edges(rng: np.random.Generator, shape: tuple[int, ...], dtype) -> np.ndarray:
    values = np.where(rng.random(shape) < 0.5, rng.choice(PROBABILITY_EDGES, shape),
                      rng.random(shape))
    if rng.random() < 0.05:
        values = np.where(rng.random(shape) < 0.3, rng.choice(INVALID_PROBABILITIES, shape),
                          values)
    return values.astype(dtype)


def _bce_sweep_call(rng: np.random.Generator, dtype, name: str):
    shape = BINARY_SHAPES[rng.integers(len(BINARY_SHAPES))]
    kwargs: dict = {"reduction": str(rng.choice(REDUCTIONS))}
    if name == BCE:
        args = (_probability_edges(rng, shape, dtype), _probability_edges(rng, shape, dtype))
        kwargs["weight"] = _binary_weight(rng, shape, dtype)
        return args, kwargs
    target_dtype = DTYPES[rng.integers(3)]
    target = np.where(rng.random(shape) < 0.3, edge_values(rng, shape, float),
                      rng.choice([0.0, 1.0, 0.5, -1.0, 2.0], shape))
    with np.errstate(over="ignore"):  # 1e30 is inf in float16
        target = target.astype(target_dtype)
    kwargs["weight"] = _binary_weight(rng, shape, DTYPES[rng.integers(3)])
    kwargs["pos_weight"] = _binary_weight(rng, shape, DTYPES[rng.integers(3)])
    return (edge_values(rng, shape, dtype), target), kwargs


def _size64(value) -> np.ndarray:
    size = np.abs(np.asarray(value, dtype=np.float64))
    return np.where(np.isfinite(size), size, 0.0)


def _binary_scales(name: str, call: tuple) -> tuple:
    """The size of the terms of each loss element (BCE's two clamped logs, the logits form's
    (1 - y) x and (1 + (p - 1) y) log sigmoid(x), times the weight), summed by the reduction;
    and of its gradient's (upstream times weight, times 1 + |p y| + |(1 + (p - 1) y)|)."""
    (x, y), kwargs = call
    weight = 1.0 if kwargs.get("weight") is None else _size64(kwargs["weight"])
    positive = 1.0 if kwargs.get("pos_weight") is None else _size64(kwargs["pos_weight"])
    x64, y64 = _size64(x), _size64(y)
    if name == BCE:
        terms = weight * 100 * (y64 + _size64(1 - y.astype(np.float64)))
        slope = weight
    else:
        log_weight = 1 + (positive + 1) * y64
        terms = weight * (_size64(1 - y.astype(np.float64)) * x64 + log_weight * (x64 + 1))
        slope = weight * (1 + positive * y64 + log_weight)
    terms = np.broadcast_to(terms, np.broadcast_shapes(np.shape(terms), x.shape))
    if kwargs["reduction"] == "none":
        loss_scale = terms
    else:
        total = float(terms.sum())
        loss_scale = total / max(terms.size, 1) if kwargs["reduction"] == "mean" else total
    count = max(x.size, 1) if kwargs["reduction"] == "mean" else 1
    return (lambda loss: loss_scale,
            lambda grad, upstream: np.broadcast_to(slope, x.shape) * _size64(upstream) / count)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", [BCE, BCE_LOGITS])
def test_binary_losses_at_the_edges_do_what_torch_does(name: str, dtype) -> None:
    """Probabilities of exactly 0 and 1 (and ones torch refuses), logits of ±inf, NaN, ±1e30,
    ±1e4 and zeros of both signs, targets outside [0, 1], weights and pos_weights zero,
    negative, huge or integer, empty and 0-d inputs, in float16, float32 and float64: torch's
    refusal, or its loss and gradient (16 ulps of the size of the terms)."""
    rng = np.random.default_rng([21, DTYPES.index(dtype), len(name)])
    outcomes = []
    for _ in range(SWEEP_CALLS):
        call = _bce_sweep_call(rng, dtype, name)
        loss_scale, grad_scale = _binary_scales(name, call)
        outcomes.append(assert_same_outcome(name, *call, rng, ulps=16, loss_scale=loss_scale,
                                            grad_scale=grad_scale))
    assert outcomes.count("accepted") > SWEEP_CALLS / 2


# --- float16 (issue #20): torch's CPU result, operation for operation -----------------------------

# lossnotes computes float16 as torch's CPU kernels do, rounding to float16 after each operation
# where torch does, so the two differ only where a transcendental function's float32 results
# (torch's and lossnotes') fall on either side of a float16 rounding boundary: one ulp of that
# function's value, which a later sum or difference carries into the result.  The bound is
# TRANSCENDENTAL_ULPS (4) float16 ulps of the size of the terms behind each value.
HALF_ULPS = TRANSCENDENTAL_ULPS


@pytest.mark.parametrize("shape", CLASS_SHAPES, ids=str)
def test_class_losses_agree_with_torch_in_float16(shape) -> None:
    x, index, probabilities, weight = _class_case(shape, seed=30)
    x, weight = x.astype(np.float16), weight.astype(np.float16)
    rng = np.random.default_rng(31)
    reductions = {"reduction": CE_REDUCTIONS}
    smoothing = {"label_smoothing": [0.0, 0.25, 1.0]}
    cases = 0
    # The first target ignored: as -100, or as a class (2).
    for ignored in (-100, 2):
        target = np.where(index == -100, ignored, index)
        grid = {**reductions, "weight": [None, weight], "ignore_index": [ignored]}
        cases += assert_grid_agrees("nll_loss", (x, target), grid, rng, HALF_ULPS,
                                    _class_scales)
        cases += assert_grid_agrees("cross_entropy", (x, target), {**grid, **smoothing}, rng,
                                    HALF_ULPS, _class_scales)
    if index.ndim <= 1:
        small = np.where(index == -100, 2, index).astype(np.uint8)
        cases += assert_grid_agrees("cross_entropy", (x, small),
                                    {**reductions, "label_smoothing": [0.0, 0.3],
                                     "ignore_index": [2]}, rng, HALF_ULPS, _class_scales)
    for dtype in (np.float16, np.float32, np.float64):  # the probabilities' dtype promotes
        cases += assert_grid_agrees(
            "cross_entropy", (x, probabilities.astype(dtype)),
            {**reductions, **smoothing, "weight": [None, weight, weight.astype(dtype)]},
            rng, HALF_ULPS, _class_scales)
    legacy = {"size_average": [None, True, False], "reduce": [None, True, False]}
    for name in ("cross_entropy", "nll_loss"):
        cases += assert_grid_agrees(name, (x, index), {**legacy, "reduction": ["mean"]}, rng,
                                    HALF_ULPS, lambda call: _class_scales(_reduction_of(call)))
    assert cases > 100


def _reduction_of(call: tuple) -> tuple:
    """The call with its legacy flags read as the reduction they select (for the scales)."""
    from torch.nn._reduction import legacy_get_string

    args, kwargs = call
    flags = {key: kwargs.get(key) for key in ("size_average", "reduce")}
    if flags != {"size_average": None, "reduce": None}:
        kwargs = {**kwargs, "reduction": legacy_get_string(**flags, emit_warning=False)}
    return args, kwargs


def test_binary_losses_agree_with_torch_in_float16() -> None:
    rng = np.random.default_rng(32)
    half = np.float16
    probabilities = rng.uniform(0.0, 1.0, (4, 3)).astype(half)
    probabilities[0] = [0.0, 1.0, 6e-8]  # the clamps of the forward, the floor of the backward
    target, hard = rng.random((4, 3)).astype(half), (rng.random((4, 3)) < 0.5).astype(half)
    logits = (rng.standard_normal((4, 3)) * 4).astype(half)
    weights = [None, rng.random((4, 3)).astype(half), rng.random(3).astype(half),
               rng.random((4, 1)).astype(half), np.asarray(2.5, half), np.array([1, 0, 3]),
               rng.random(3)]  # float64 promotes the in-place product, then rounds
    reductions = {"reduction": list(REDUCTIONS)}
    scales = {name: functools.partial(_binary_scales, name) for name in (BCE, BCE_LOGITS)}
    cases = 0
    for y in (target, hard):
        cases += assert_grid_agrees(BCE, (probabilities, y), {**reductions, "weight": weights},
                                    rng, HALF_ULPS, scales[BCE])
        for y_dtype in (half, np.float32):  # the logits loss takes the target's dtype
            cases += assert_grid_agrees(
                BCE_LOGITS, (logits, y.astype(y_dtype)),
                {**reductions, "weight": weights,
                 "pos_weight": [None, rng.random(3).astype(half) * 4, np.asarray(3.0, half)]},
                rng, HALF_ULPS, scales[BCE_LOGITS])
    for name, args in ((BCE, (probabilities, target)), (BCE_LOGITS, (logits, target))):
        cases += assert_grid_agrees(name, args, {**LEGACY, "reduction": ["mean"]}, rng,
                                    HALF_ULPS, lambda call, name=name: scales[name](
                                        _reduction_of(call)))
        cases += assert_grid_agrees(name, (args[0][:0], args[1][:0]), reductions, rng, HALF_ULPS)
        cases += assert_grid_agrees(name, (args[0][1, 1], args[1][1, 1]), reductions, rng,
                                    HALF_ULPS, scales[name])
    assert cases > 200


ZERO_D_CALLS = [
    # A (C,) input: its 'none' loss is 0-d; every reduction gives a 0-d loss.
    ("cross_entropy", lambda d: (np.array([0.5, -1.0, 2.0], d), np.array(2)), {}),
    ("cross_entropy", lambda d: (np.array([0.5, -1.0, 2.0], d), np.array(2)),
     {"label_smoothing": 0.2, "weight": np.array([1.0, 2.0, 0.5])}),
    ("cross_entropy", lambda d: (np.array([0.5, -1.0, 2.0], d), np.array([0.2, 0.3, 0.5], d)),
     {"label_smoothing": 0.2}),
    ("nll_loss", lambda d: (np.array([-0.5, -1.0, -2.0], d), np.array(1)), {}),
    # 0-d predictions: 0-d losses and 0-d gradients.
    (BCE, lambda d: (np.array(0.25, d), np.array(1.0, d)), {"weight": np.array(2.0)}),
    (BCE_LOGITS, lambda d: (np.array(0.25, d), np.array(1.0, d)),
     {"pos_weight": np.array(3.0), "weight": np.array(2.0)}),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(("name", "args", "kwargs"), ZERO_D_CALLS,
                         ids=[f"{call[0]}-{i}" for i, call in enumerate(ZERO_D_CALLS)])
def test_zero_dimensional_results_are_arrays(name, args, kwargs, dtype) -> None:
    """A 0-d loss or gradient is a 0-d ndarray, as torch's is a 0-d tensor, never a NumPy
    scalar (issue #20), on every path: each reduction, each dtype, smoothing and weights."""
    args = args(dtype)
    for reduction in REDUCTIONS:
        call = {**kwargs, "reduction": reduction}
        if "weight" in call and name in ("cross_entropy", "nll_loss"):
            call["weight"] = call["weight"].astype(dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loss = getattr(lossnotes, name)(*args, **call)
            grad = getattr(lossnotes.grad, name)(*args, **call)
        assert type(loss) is np.ndarray and loss.shape == (), (reduction, type(loss))
        assert type(grad) is np.ndarray and grad.shape == args[0].shape, (reduction, type(grad))
