"""lossnotes._embedding against torch, finite differences and hand-worked values."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lossnotes
from lossnotes.torchcheck import agreement, finite_difference_gradient, torch_gradient, torch_loss

PAIR_REDUCTIONS = ["none", "mean", "sum"]
PAIR_FLAGS = [None, True, False]
# Labels torch is meant to get (+-1) and those it takes anyway.
PAIR_LABELS = [-1.0, 1.0, 0.0, 2.0, -0.5]
# Every parameter of each loss, as the grid it is checked over.
PAIR_GRIDS = {
    "margin_ranking_loss": {"reduction": PAIR_REDUCTIONS, "margin": [0.0, 0.5, -0.3, 2.0]},
    "hinge_embedding_loss": {"reduction": PAIR_REDUCTIONS, "margin": [1.0, 0.5, 0.0, 2.5]},
    "cosine_embedding_loss": {"reduction": PAIR_REDUCTIONS, "margin": [0.0, 0.5, -0.5, 1.0, -1.0]},
}
PAIR_WRT = {"margin_ranking_loss": (0, 1), "hinge_embedding_loss": (0,),
            "cosine_embedding_loss": (0, 1)}


def _pair_args(name: str, rng: np.random.Generator, shape: tuple[int, ...],
               labels: list[float] = PAIR_LABELS) -> tuple[np.ndarray, ...]:
    """Arguments of ``name`` for a batch of ``shape`` (for cosine: (N, D) or (D,))."""
    if name == "margin_ranking_loss":
        return (2 * rng.standard_normal(shape), 2 * rng.standard_normal(shape),
                rng.choice(labels, shape))
    if name == "hinge_embedding_loss":
        return 2 * np.abs(rng.standard_normal(shape)), rng.choice(labels, shape)
    return (rng.standard_normal(shape), rng.standard_normal(shape),
            rng.choice(labels, shape[:-1]))


def assert_within_ulps_of(ours, theirs, scale: float, ulps: float, label: str) -> None:
    """torch's dtype, shape, NaN and infinities; finite values within ``ulps`` units in the last
    place of the dtype at the larger of each value and ``scale``, the size of the terms the
    value adds or cancels (torchcheck.assert_within_ulps counts them at the value alone)."""
    assert type(ours) is np.ndarray, f"{label}: a {type(ours).__name__}, not an ndarray"
    assert ours.dtype == theirs.dtype, f"{label}: {ours.dtype}, torch {theirs.dtype}"
    assert ours.shape == theirs.shape, f"{label}: shape {ours.shape}, torch {theirs.shape}"
    same = (ours == theirs) | (np.isnan(ours) & np.isnan(theirs))
    with np.errstate(invalid="ignore", over="ignore"):
        largest = float(np.finfo(theirs.dtype).max)
        size = np.minimum(np.maximum(np.abs(theirs.astype(np.float64)), scale), largest)
        unit = np.spacing(size.astype(theirs.dtype)).astype(np.float64)
        apart = np.abs(ours.astype(np.float64) - theirs.astype(np.float64)) / unit
    bad = ~same & ~(apart <= ulps)
    assert not bad.any(), (
        f"{label}: {ours[bad][:3]} where torch has {theirs[bad][:3]} (bound {ulps} ulps at "
        f"{scale:.3g})"
    )



# --- fixed cases, worked by hand in the chapters ----------------------------------------------


def test_margin_ranking_worked_example() -> None:  # chapters/embedding/margin_ranking_loss.md
    # Scores 2, 1.5, 0.25 of documents d1, d2, d3; pairs (d1, d2), (d1, d3), (d3, d2), all y = 1.
    s1, s2, y = np.array([2.0, 2.0, 0.25]), np.array([1.5, 0.25, 1.5]), np.ones(3)
    # max(0, -(x1 - x2) + 1): 1 - 0.5, 1 - 1.75 < 0, 1 + 1.25
    none = lossnotes.margin_ranking_loss(s1, s2, y, margin=1.0, reduction="none")
    assert np.array_equal(none, [0.5, 0.0, 2.25])
    assert lossnotes.margin_ranking_loss(s1, s2, y, margin=1.0) == 2.75 / 3
    g1, g2 = lossnotes.grad.margin_ranking_loss(s1, s2, y, margin=1.0, reduction="sum")
    assert np.array_equal(g1, [-1.0, 0.0, -1.0]) and np.array_equal(g2, [1.0, 0.0, 1.0])
    # The same third pair written the other way round, (d2, d3) with y = -1: the same loss.
    assert lossnotes.margin_ranking_loss(1.5, 0.25, -1.0, margin=1.0) == 2.25
    # margin 1.75: the second pair is exactly at the margin, loss 0, but torch's gradient is
    # that of a violated pair (clamp_min passes the gradient at 0).
    g1, g2 = lossnotes.grad.margin_ranking_loss(s1, s2, y, margin=1.75, reduction="sum")
    assert lossnotes.margin_ranking_loss(s1, s2, y, margin=1.75, reduction="none")[1] == 0
    assert g1[1] == -1.0 and g2[1] == 1.0


def test_hinge_embedding_worked_example() -> None:  # chapters/embedding/hinge_embedding_loss.md
    # Distances 0.625 (similar), 2.5, 0.25 and 1.0 (dissimilar), margin 1.
    x, y = np.array([0.625, 2.5, 0.25, 1.0]), np.array([1.0, -1.0, -1.0, -1.0])
    none = lossnotes.hinge_embedding_loss(x, y, reduction="none")
    assert np.array_equal(none, [0.625, 0.0, 0.75, 0.0])
    assert lossnotes.hinge_embedding_loss(x, y) == 1.375 / 4
    grad = lossnotes.grad.hinge_embedding_loss(x, y, reduction="sum")
    assert np.array_equal(grad, [1.0, 0.0, -1.0, -1.0])  # the tie at 1.0 gets -1
    # 0/1 labels instead of +-1: a 0 is neither, and costs max(x, margin).
    wrong = lossnotes.hinge_embedding_loss(x, np.array([1, 0, 0, 0]), reduction="none")
    assert np.array_equal(wrong, [0.625, 2.5, 1.0, 1.0])


def test_cosine_embedding_worked_example() -> None:  # chapters/embedding/cosine_embedding_loss.md
    a = np.array([[1.0, 0.0], [1.0, 1.0], [2.0, 1.0]])
    b = np.array([[1.0, 1.0], [-1.0, 1.0], [1.0, 2.0]])
    y = np.array([1.0, -1.0, -1.0])
    # cosines 1/sqrt(2), 0 and 4/5; losses 1 - 1/sqrt(2), max(0, 0 - m), max(0, 4/5 - m)
    for margin in (0.0, 0.5):
        none = lossnotes.cosine_embedding_loss(a, b, y, margin=margin, reduction="none")
        expected = [1 - 1 / math.sqrt(2), 0.0, max(0.0, 0.8 - margin)]
        np.testing.assert_allclose(none, expected, rtol=1e-11, atol=1e-12)
    # The dissimilar orthogonal pair is exactly at margin 0: loss 0, gradient b / (|a| |b|).
    g1, _ = lossnotes.grad.cosine_embedding_loss(a, b, y, reduction="sum")
    np.testing.assert_allclose(g1[1], b[1] / 2, rtol=1e-11)


def test_cosine_epsilon_is_torch_float32_constant() -> None:
    # torch's Loss.cpp: `constexpr float EPSILON = 1e-12;`, so float32's nearest value.
    assert lossnotes._embedding.COSINE_EPSILON == float(np.float32(1e-12)) != 1e-12
    # A zero vector against b = (1, 2, 3): the gradient is -b / sqrt(eps (|b|^2 + eps)).
    zero, b = np.zeros((1, 3)), np.array([[1.0, 2.0, 3.0]])
    g1, g2 = lossnotes.grad.cosine_embedding_loss(zero, b, np.ones(1), reduction="sum")
    eps = float(np.float32(1e-12))
    np.testing.assert_allclose(g1, -b / math.sqrt(eps * (14 + eps)), rtol=1e-14)
    assert np.array_equal(g2, np.zeros((1, 3)))
    _, theirs = torch_gradient("cosine_embedding_loss", (zero, b, np.ones(1)),
                               {"reduction": "sum"}, wrt=(0, 1))
    np.testing.assert_allclose(g1, theirs[0], rtol=1e-14)


# --- agreement with torch ---------------------------------------------------------------------

PAIR_SHAPES = {
    "margin_ranking_loss": [(), (0,), (1,), (9,), (3, 4), (2, 3, 2)],
    "hinge_embedding_loss": [(), (0,), (1,), (9,), (3, 4), (2, 0, 3), (2, 3, 2, 2)],
    "cosine_embedding_loss": [(5,), (1,), (0,), (1, 3), (7, 4), (0, 3), (4, 0), (6, 1)],
}


@pytest.mark.parametrize(("name", "shape"),
                         [(n, s) for n, shapes in PAIR_SHAPES.items() for s in shapes], ids=str)
def test_pairs_agree_with_torch_over_every_parameter(name, shape) -> None:
    rng = np.random.default_rng(abs(hash((name, shape))) % 2**32)
    args = _pair_args(name, rng, shape)
    agreement(name, args, PAIR_GRIDS[name], wrt=PAIR_WRT[name])


@pytest.mark.parametrize("name", list(PAIR_GRIDS))
def test_pairs_legacy_flags_agree_and_warn(name) -> None:
    rng = np.random.default_rng(1)
    shape = (4, 3) if name == "cosine_embedding_loss" else (5,)
    args = _pair_args(name, rng, shape)
    agreement(name, args, {"size_average": PAIR_FLAGS, "reduce": PAIR_FLAGS}, wrt=PAIR_WRT[name])
    with pytest.warns(UserWarning, match="please use reduction='sum' instead"):
        ours = getattr(lossnotes, name)(*args, size_average=False, reduction="none")
    assert ours.shape == ()


@pytest.mark.parametrize(("name", "shapes"), [
    ("margin_ranking_loss", [(4, 1), (1, 3), (4, 3)]),
    ("margin_ranking_loss", [(1,), (5,), (1,)]),
    ("margin_ranking_loss", [(2, 1, 3), (2, 4, 1), (1, 1, 3)]),
    ("hinge_embedding_loss", [(4, 1), (3,)]),
    ("hinge_embedding_loss", [(1,), (6,)]),
    ("hinge_embedding_loss", [(), (2, 3)]),
    ("cosine_embedding_loss", [(5, 3), (1, 3), (5,)]),
    ("cosine_embedding_loss", [(1, 3), (1, 3), (4,)]),
    ("cosine_embedding_loss", [(5, 3), (5, 1), (1,)]),
], ids=str)
def test_pairs_broadcast_as_torch_does_without_a_warning(name, shapes) -> None:
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(s) for s in shapes]
    arrays[-1] = rng.choice(PAIR_LABELS, shapes[-1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch does not warn here, so neither do we
        getattr(lossnotes, name)(*arrays)
    agreement(name, tuple(arrays), PAIR_GRIDS[name], wrt=PAIR_WRT[name])


@pytest.mark.parametrize("name", list(PAIR_GRIDS))
@pytest.mark.parametrize("target_dtype", [np.int64, np.int32, np.float32, bool], ids=str)
def test_pairs_target_dtypes_follow_torch(name, target_dtype) -> None:
    rng = np.random.default_rng(3)
    shape = (6, 3) if name == "cosine_embedding_loss" else (6,)
    *inputs, target = _pair_args(name, rng, shape, labels=[-1.0, 1.0, 0.0])
    target = (target > 0) if target_dtype is bool else target.astype(target_dtype)
    if name == "margin_ranking_loss" and target_dtype is bool:
        with pytest.raises(TypeError, match="target must be integer or floating"):
            lossnotes.margin_ranking_loss(*inputs, target)
        with pytest.raises(RuntimeError, match="on a bool tensor is not supported"):
            torch_loss(name, (*inputs, target))
        return
    agreement(name, (*inputs, target), {"reduction": PAIR_REDUCTIONS}, wrt=PAIR_WRT[name])


@pytest.mark.parametrize("name", list(PAIR_GRIDS))
def test_pairs_float32_and_mixed_dtypes_follow_torch(name) -> None:
    rng = np.random.default_rng(4)
    shape = (50, 8) if name == "cosine_embedding_loss" else (400,)
    args = _pair_args(name, rng, shape, labels=[-1.0, 1.0])
    for dtypes in itertools.product([np.float32, np.float64], repeat=len(args)):
        cast = tuple(a.astype(d) for a, d in zip(args, dtypes))
        for reduction in PAIR_REDUCTIONS:
            ours = getattr(lossnotes, name)(*cast, reduction=reduction)
            theirs = torch_loss(name, cast, {"reduction": reduction})
            assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
            np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=1e-6)
            grads = getattr(lossnotes.grad, name)(*cast, reduction=reduction)
            _, their_grads = torch_gradient(name, cast, {"reduction": reduction},
                                            wrt=PAIR_WRT[name])
            grads = grads if isinstance(grads, tuple) else (grads,)
            their_grads = their_grads if isinstance(their_grads, tuple) else (their_grads,)
            for ours_, theirs_ in zip(grads, their_grads):
                assert ours_.dtype == theirs_.dtype  # a gradient has its leaf's dtype
                np.testing.assert_allclose(ours_, theirs_, rtol=2e-5, atol=1e-6)


def test_labels_other_than_plus_minus_one_follow_the_kernels() -> None:
    # Derived from Loss.cpp: hinge embedding is x for y == 1, the hinge for y == -1 and the sum
    # of both for anything else; cosine embedding is 0 for anything else; margin ranking uses
    # y as a number.
    labels = np.array([1.0, -1.0, 0.0, 2.0, 0.5, np.nan])
    x = np.full(6, 0.25)
    hinge = lossnotes.hinge_embedding_loss(x, labels, reduction="none")
    assert np.array_equal(hinge, [0.25, 0.75, 1.0, 1.0, 1.0, 1.0])  # max(0.25, 1) = 1 for others
    a = np.tile([[1.0, 0.0]], (6, 1))
    b = np.tile([[1.0, 1.0]], (6, 1))
    cosine = lossnotes.cosine_embedding_loss(a, b, labels, reduction="none")
    assert cosine[0] == 1 - cosine_of(a[0], b[0]) and np.all(cosine[2:] == 0)
    ranking = lossnotes.margin_ranking_loss(np.ones(6), np.zeros(6), labels, margin=0.5,
                                            reduction="none")
    # max(0, -y + 0.5): y = 2 and 0.5 satisfy it; NaN propagates
    np.testing.assert_array_equal(ranking, [0.0, 1.5, 0.5, 0.0, 0.0, np.nan])
    for name, args in [("hinge_embedding_loss", (x, labels)),
                       ("cosine_embedding_loss", (a, b, labels)),
                       ("margin_ranking_loss", (np.ones(6), np.zeros(6), labels))]:
        np.testing.assert_array_equal(getattr(lossnotes, name)(*args, reduction="none"),
                                      torch_loss(name, args, {"reduction": "none"}))


def cosine_of(a: np.ndarray, b: np.ndarray) -> float:
    """Torch's cosine of one pair, written out with Python floats."""
    eps = float(np.float32(1e-12))
    dot = sum(float(u) * float(v) for u, v in zip(a, b))
    return dot / math.sqrt((sum(u * u for u in a) + eps) * (sum(v * v for v in b) + eps))


# --- gradients ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PAIR_GRIDS))
def test_pair_gradients_match_finite_differences(name) -> None:
    rng = np.random.default_rng(5)
    shape = (4, 3) if name == "cosine_embedding_loss" else (8,)
    args = _pair_args(name, rng, shape)
    for margin, reduction in itertools.product(PAIR_GRIDS[name]["margin"], ["mean", "sum"]):
        kwargs = {"margin": margin, "reduction": reduction}
        grads = getattr(lossnotes.grad, name)(*args, **kwargs)
        grads = grads if isinstance(grads, tuple) else (grads,)
        for position, grad in zip(PAIR_WRT[name], grads):
            def loss(v, position=position):
                moved = list(args)
                moved[position] = v
                return getattr(lossnotes, name)(*moved, **kwargs)  # noqa: B023
            # Away from the kinks (random data), central differences see the slope.
            numeric = finite_difference_gradient(loss, args[position])
            np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


def test_ties_exactly_at_the_margin_match_autograd() -> None:
    # margin ranking: y (x1 - x2) == margin; hinge: x == margin for y = -1; cosine: cos == margin.
    x1, x2 = np.array([1.0, 0.5, 2.0, 0.0]), np.array([0.5, 1.0, 1.5, 0.0])
    y = np.array([1.0, -1.0, 1.0, 1.0])
    agreement("margin_ranking_loss", (x1, x2, y), {"reduction": PAIR_REDUCTIONS,
                                                    "margin": [0.5, 0.0]}, wrt=(0, 1))
    g1, _ = lossnotes.grad.margin_ranking_loss(x1, x2, y, margin=0.5, reduction="sum")
    assert np.array_equal(g1, [-1.0, 1.0, -1.0, -1.0])  # every tie counts as violated
    distance = np.array([1.0, 0.5, 1.0, 0.0, 2.5])
    labels = np.array([-1.0, -1.0, 1.0, 0.0, -1.0])
    agreement("hinge_embedding_loss", (distance, labels),
              {"reduction": PAIR_REDUCTIONS, "margin": [1.0, 0.5, 0.0, 2.5]})
    grad = lossnotes.grad.hinge_embedding_loss(distance, labels, reduction="sum")
    assert np.array_equal(grad, [-1.0, -1.0, 1.0, 0.0, 0.0])
    # Orthogonal, identical and opposite pairs: cosines 0, 1 - eps-ish and -1 exactly at
    # margins 0, 1 and -1.
    a = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0], [1.0, 1.0]])
    b = np.array([[0.0, 3.0], [0.0, 2.0], [-3.0, -4.0], [0.0, 0.0]])
    agreement("cosine_embedding_loss", (a, b, np.array([-1.0, -1.0, -1.0, -1.0])),
              {"reduction": PAIR_REDUCTIONS, "margin": [0.0, 1.0, -1.0]}, wrt=(0, 1))
    agreement("cosine_embedding_loss", (a, b, np.array([1.0, 1.0, 1.0, 1.0])),
              {"reduction": PAIR_REDUCTIONS, "margin": [0.0]}, wrt=(0, 1))


def test_cosine_of_parallel_pairs_agrees_to_rounding() -> None:
    # b = 2a: 1 - cos is a difference of nearly equal numbers, and torch's CPU sqrt is not
    # always correctly rounded, so the loss and gradient agree to a few ulps of the terms, not
    # relative to their own tiny size.
    rng = np.random.default_rng(6)
    a = rng.standard_normal((200, 16))
    b = 2 * a
    y = np.ones(200)
    ours = lossnotes.cosine_embedding_loss(a, b, y, reduction="none")
    theirs = torch_loss("cosine_embedding_loss", (a, b, y), {"reduction": "none"})
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=8 * np.finfo(float).eps)
    assert np.all(np.abs(ours) < 1e-10)
    g1, g2 = lossnotes.grad.cosine_embedding_loss(a, b, y, reduction="none",
                                                  grad_output=np.ones(200))
    _, (t1, t2) = torch_gradient("cosine_embedding_loss", (a, b, y), {"reduction": "none"},
                                 wrt=(0, 1), grad_output=np.ones(200))
    # Each gradient is b / D - c a / A with both terms of size about 1 / |a|.
    size = 1 / np.linalg.norm(a, axis=1, keepdims=True)
    assert np.all(np.abs(g1 - t1) <= 16 * np.finfo(float).eps * size)
    assert np.all(np.abs(g2 - t2) <= 16 * np.finfo(float).eps * size)


def test_identical_embeddings_agree_to_the_rounding_of_1() -> None:
    # 1 - cos with cos = |a|^2 / (|a|^2 + eps) nearly 1: the squared norms are sums in another
    # order than torch's (its vectorised sum depends on the CPU), so the two agree within a few
    # ulps of 1, the terms that cancel, not of the tiny loss.
    rng = np.random.default_rng(7)
    for dtype in (np.float32, np.float64):
        a = (rng.standard_normal((300, 8)) * rng.uniform(1e-3, 1e3, (300, 1))).astype(dtype)
        y = np.ones(300)
        ours = lossnotes.cosine_embedding_loss(a, a, y, reduction="none")
        theirs = torch_loss("cosine_embedding_loss", (a, a, y), {"reduction": "none"})
        assert_within_ulps_of(ours, theirs, 1.0, 4, f"{dtype.__name__} loss")
        # 1 - |a|^2 / (|a|^2 + eps): not exactly 0 in float64, for small norms.
        squared = np.sum(a.astype(np.float64) ** 2, axis=1)
        if dtype == np.float64:
            np.testing.assert_allclose(ours, 1 - squared / (squared + 1e-12), rtol=1e-3,
                                       atol=1e-15)


def test_extreme_norms_follow_torch() -> None:
    # torch multiplies the squared norms before the square root: it overflows to NaN once
    # |a|^2 |b|^2 does, and the eps dominates norms below about 1e-6.
    a = np.array([[1e200, 1e200], [1e-7, 1e-7], [1e5, -1e5], [1e-300, 0.0]])
    b = np.array([[1e200, 0.0], [1e-7, 0.0], [1e5, 1e5], [1e-300, 0.0]])
    y = np.ones(4)
    ours = lossnotes.cosine_embedding_loss(a, b, y, reduction="none")
    theirs = torch_loss("cosine_embedding_loss", (a, b, y), {"reduction": "none"})
    np.testing.assert_allclose(ours, theirs, rtol=1e-14)
    assert np.isnan(ours[0]) and ours[1] > 0.99 and ours[3] == 1.0
    for name, args in [("margin_ranking_loss", (np.array([1e300, -1e300, np.inf, np.nan]),
                                                 np.array([-1e300, 1e300, 0.0, 0.0]),
                                                 np.array([-1.0, -1.0, 1.0, 1.0]))),
                       ("hinge_embedding_loss", (np.array([1e300, -1e300, np.inf, np.nan]),
                                                  np.array([-1.0, -1.0, 1.0, -1.0])))]:
        agreement(name, args, {"reduction": PAIR_REDUCTIONS}, wrt=PAIR_WRT[name])


def test_pair_grad_output_scales_the_gradients() -> None:
    x1, x2, y = np.array([0.0, 1.0]), np.array([1.0, 0.0]), np.array([1.0, 1.0])
    g1, g2 = lossnotes.grad.margin_ranking_loss(x1, x2, y, margin=2.0, reduction="none",
                                                grad_output=np.array([3.0, 5.0]))
    assert np.array_equal(g1, [-3.0, -5.0]) and np.array_equal(g2, [3.0, 5.0])
    with pytest.raises(ValueError, match="grad_output must have the shape of the loss"):
        lossnotes.grad.hinge_embedding_loss(x1, y, reduction="none", grad_output=np.ones(3))


# --- refusals ----------------------------------------------------------------------------------


def test_margin_ranking_refuses_what_torch_refuses() -> None:
    one, three = np.ones(1), np.ones(3)
    with pytest.raises(ValueError, match="same number of dimensions"):
        lossnotes.margin_ranking_loss(three, three, np.array(1.0))
    with pytest.raises(RuntimeError, match="All input tensors should have same dimension"):
        torch_loss("margin_ranking_loss", (three, three, np.array(1.0)))
    with pytest.raises(ValueError, match="must have the same shape or broadcast together"):
        lossnotes.margin_ranking_loss(three, np.ones(2), three)
    with pytest.raises(RuntimeError, match="must match the size"):
        torch_loss("margin_ranking_loss", (three, np.ones(2), three))
    with pytest.raises(TypeError, match="input1 must be a floating-point array"):
        lossnotes.margin_ranking_loss(np.array([1, 2]), one, one)
    with pytest.raises(TypeError, match="margin must be a real number"):
        lossnotes.margin_ranking_loss(one, one, one, margin="1")
    with pytest.raises(ValueError, match="reduction must be one of"):
        lossnotes.grad.margin_ranking_loss(one, one, one, reduction="avg")


def test_hinge_embedding_refuses_what_torch_refuses() -> None:
    with pytest.raises(ValueError, match="input of shape .* and target of shape"):
        lossnotes.hinge_embedding_loss(np.ones(3), np.ones(2))
    with pytest.raises(TypeError, match="input must be a floating-point array"):
        lossnotes.hinge_embedding_loss(np.array([1, 2]), np.ones(2))
    with pytest.raises(TypeError, match="target must be boolean, integer or floating"):
        lossnotes.hinge_embedding_loss(np.ones(2), np.array(["a", "b"]))
    with pytest.raises(TypeError, match="margin must be a real number"):
        lossnotes.grad.hinge_embedding_loss(np.ones(2), np.ones(2), margin=None)


def test_cosine_embedding_refuses_what_torch_refuses() -> None:
    m, v = np.ones((3, 4)), np.ones(4)
    cases = [
        ((m, m, np.ones((3, 1))), "target must be 0-D .* or 1-D", "0D or 1D target tensor"),
        ((v, v, np.ones(1)), "a 1-D target needs 2-D input1 and input2", "1D target tensor"),
        ((m, m, np.array(1.0)), "a 0-D target needs 1-D input1 and input2", "0D target tensor"),
        ((m, v, np.ones(3)), "a 1-D target needs 2-D", "1D target tensor expects 2D"),
        ((m, np.ones((2, 4)), np.ones(3)), "input1 of shape .* input2 of shape", "must match"),
        ((m, np.ones((3, 5)), np.ones(3)), "input1 of shape .* input2 of shape", "must match"),
        ((m, m, np.ones(2)), "target of shape .* one label per pair", "must match"),
    ]
    for args, ours, theirs in cases:
        for function in (lossnotes.cosine_embedding_loss, lossnotes.grad.cosine_embedding_loss):
            with pytest.raises(ValueError, match=ours):
                function(*args)
        with pytest.raises(RuntimeError, match=theirs):
            torch_loss("cosine_embedding_loss", args)
    with pytest.raises(TypeError, match="input2 must be a floating-point array"):
        lossnotes.cosine_embedding_loss(m, np.ones((3, 4), dtype=int), np.ones(3))
# TripletMarginLoss, TripletMarginWithDistanceLoss and the two distances they use.

TRIPLET_WRT = (0, 1, 2)
TRIPLETS = ("triplet_margin_loss", "triplet_margin_with_distance_loss")
REDUCTIONS = ["none", "mean", "sum"]
# Every order of the norm that takes its own branch in torch's norm_backward.
NORM_ORDERS = [2, 1, 0, 0.5, -1.0, 1.5, 3, math.inf, -math.inf]
TRIPLET_SHAPES = [(), (4,), (5, 4), (2, 3, 4), (0, 4), (3, 0)]


def _triplet(shape, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return tuple(np.asarray(rng.standard_normal(shape) * scale) for _ in range(3))


@pytest.mark.parametrize("shape", TRIPLET_SHAPES, ids=str)
def test_triplet_margin_loss_agrees_with_torch_over_every_parameter(shape) -> None:
    orders = NORM_ORDERS if 0 not in shape[-1:] else [2, 1, 0, 0.5, 3]  # inf: no identity
    agreement(
        "triplet_margin_loss",
        _triplet(shape, seed=len(shape)),
        {"margin": [0.3, 1.0, 4.0], "p": orders, "eps": [1e-6, 0.0, 0.25],
         "swap": [False, True], "reduction": REDUCTIONS},
        wrt=TRIPLET_WRT,
    )


def test_triplet_margin_loss_legacy_flags_agree_and_warn() -> None:
    args = _triplet((6, 3), seed=1)
    agreement("triplet_margin_loss", args,
              {"size_average": [None, True, False], "reduce": [None, True, False]},
              wrt=TRIPLET_WRT)
    with pytest.warns(UserWarning, match="please use reduction='sum' instead"):
        lossnotes.triplet_margin_loss(*args, size_average=False, reduction="none")


@pytest.mark.parametrize(
    "shapes",
    [((1, 4), (5, 4), (5, 1)), ((5, 1), (1, 4), (1, 4)), ((2, 1, 3), (1, 4, 3), (2, 4, 3)),
     ((1, 1), (1, 3), (1, 4))],
    ids=str,
)
def test_triplet_margin_loss_broadcasts_as_torch(shapes) -> None:
    rng = np.random.default_rng(2)
    args = tuple(rng.standard_normal(shape) for shape in shapes)
    # (1, 1), (1, 3), (1, 4): torch never subtracts positive from negative without the swap.
    swaps = [False] if shapes[1] != shapes[2] and shapes[0] == (1, 1) else [False, True]
    agreement("triplet_margin_loss", args,
              {"p": [1, 2, 3], "swap": swaps, "reduction": REDUCTIONS}, wrt=TRIPLET_WRT)


def test_triplet_margin_loss_float32_and_mixed_dtypes_follow_torch() -> None:
    a, p, n = (x.astype(np.float32) for x in _triplet((50, 16), seed=3))
    for arrays in [(a, p, n), (a, p.astype(np.float64), n), (a, p, n.astype(np.float64))]:
        for swap, reduction in itertools.product([False, True], REDUCTIONS):
            kwargs = {"swap": swap, "reduction": reduction}
            ours = lossnotes.triplet_margin_loss(*arrays, **kwargs)
            theirs, their_grads = torch_gradient("triplet_margin_loss", arrays, kwargs, TRIPLET_WRT)
            assert ours.dtype == theirs.dtype
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
            grads = lossnotes.grad.triplet_margin_loss(*arrays, **kwargs)
            for ours_, theirs_, array in zip(grads, their_grads, arrays):
                assert ours_.dtype == theirs_.dtype == array.dtype
                np.testing.assert_allclose(ours_, theirs_, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("p", [2, 1.5, 3, 0.5, -1.0])
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin_loss_gradient_matches_finite_differences(p, swap) -> None:
    # Large random embeddings: no difference near 0 and no tie, so the loss is smooth here.
    args = list(_triplet((4, 3), seed=4, scale=2.0))
    kwargs = {"margin": 5.0, "p": p, "swap": swap, "reduction": "sum"}
    grads = lossnotes.grad.triplet_margin_loss(*args, **kwargs)
    for position in TRIPLET_WRT:
        def loss(v, position=position):
            call = list(args)
            call[position] = v
            return lossnotes.triplet_margin_loss(*call, **kwargs)
        numeric = finite_difference_gradient(loss, args[position])
        np.testing.assert_allclose(grads[position], numeric, rtol=1e-6, atol=1e-8)


def test_triplet_gradient_passes_exactly_at_the_margin() -> None:
    # margin + d(a, p) - d(a, n) = 1 + 0 - 1 = 0 exactly (eps=0): the loss is 0, and torch's
    # clamp_min backward (grad where x >= 0) still lets the gradient through.
    a, p, n = np.zeros((1, 2)), np.zeros((1, 2)), np.array([[1.0, 0.0]])
    a[0, 0] = 0.5
    p[0, 0] = 0.5
    n[0, 0] = 1.5
    kwargs = {"margin": 1.0, "eps": 0.0, "reduction": "sum"}
    assert lossnotes.triplet_margin_loss(a, p, n, **kwargs) == 0
    ours = lossnotes.grad.triplet_margin_loss(a, p, n, **kwargs)
    _, theirs = torch_gradient("triplet_margin_loss", (a, p, n), kwargs, TRIPLET_WRT)
    for ours_, theirs_ in zip(ours, theirs):
        np.testing.assert_array_equal(ours_, theirs_)
    # Worked by hand: d(a, p) = 0 gives no gradient (torch's norm_backward at a zero vector),
    # and the negative gets (a - n)/|a - n| = (-1, 0): descent pushes it away from the anchor.
    np.testing.assert_array_equal(ours[2], [[-1.0, 0.0]])
    np.testing.assert_array_equal(ours[1], [[0.0, 0.0]])


def test_triplet_swap_tie_splits_the_gradient_in_halves() -> None:
    # d(a, n) = d(p, n) = 1 exactly: torch.minimum's backward gives each half.
    a, p, n = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]), np.zeros((1, 2))
    kwargs = {"margin": 1.0, "eps": 0.0, "swap": True, "reduction": "sum"}
    ours = lossnotes.grad.triplet_margin_loss(a, p, n, **kwargs)
    _, theirs = torch_gradient("triplet_margin_loss", (a, p, n), kwargs, TRIPLET_WRT)
    for ours_, theirs_ in zip(ours, theirs):
        np.testing.assert_allclose(ours_, theirs_, rtol=1e-15)
    # Worked by hand: the negative gets -(1/2)(a - n)/1 - (1/2)(p - n)/1.
    np.testing.assert_allclose(ours[2], [[0.5, 0.5]], rtol=1e-15)


@pytest.mark.parametrize("p", NORM_ORDERS)
def test_triplet_identical_and_zero_embeddings(p) -> None:
    # a == p: with eps the difference is eps * ones, so d(a, p) = eps * D^(1/p) and the
    # gradient points along the ones vector; with eps=0 it is a zero vector, where torch's
    # norm_backward gives 0 (or, for p < 1, its own 0 * inf conventions).
    a = np.array([[1.0, -2.0, 3.0], [0.0, 0.0, 0.0]])
    n = np.array([[4.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    for eps in (1e-6, 0.0):
        agreement("triplet_margin_loss", (a, a.copy(), n),
                  {"p": [p], "eps": [eps], "margin": [1.0, 10.0], "swap": [False, True],
                   "reduction": REDUCTIONS}, wrt=TRIPLET_WRT)
    distance = lossnotes.pairwise_distance(a, a, p=p)
    expected = 3.0 if p == 0 else 1e-6 if math.isinf(p) else 1e-6 * 3 ** (1 / p)
    np.testing.assert_allclose(distance, expected, rtol=1e-12)


def test_triplet_ties_of_the_largest_entry_share_the_inf_norm_gradient() -> None:
    a = np.array([[2.0, -2.0, 1.0]])
    p, n = np.zeros((1, 3)), np.full((1, 3), 5.0)
    kwargs = {"p": math.inf, "eps": 0.0, "margin": 10.0}
    agreement("triplet_margin_loss", (a, p, n), {k: [v] for k, v in kwargs.items()}
              | {"swap": [False, True]}, wrt=TRIPLET_WRT)
    grad_anchor = lossnotes.grad.triplet_margin_loss(a, p, n, **kwargs)[0]
    # Worked by hand.  d(a, p) = max(|2|, |-2|, |1|): the two tied entries share its slope,
    # (1/2)(sign 2, sign -2, 0); d(a, n) = max(3, 7, 4) is entry 1's alone, and enters with a
    # minus sign: -(0, sign(-7), 0) = (0, 1, 0).
    np.testing.assert_allclose(grad_anchor, [[0.5, -0.5 + 1.0, 0.0]])


def test_triplet_large_norms_follow_torch_and_overflow_where_it_does() -> None:
    a, p, n = _triplet((8, 16), seed=5, scale=1e4)
    agreement("triplet_margin_loss", (a, p, n), {"p": [1, 2, 3], "swap": [False, True],
              "reduction": REDUCTIONS}, wrt=TRIPLET_WRT)
    big = np.full((1, 4), 3e19, dtype=np.float32)  # squares overflow float32
    zero = np.zeros((1, 4), dtype=np.float32)
    ours = lossnotes.triplet_margin_loss(big, zero, zero, reduction="none")
    theirs = torch_loss("triplet_margin_loss", (big, zero, zero), {"reduction": "none"})
    assert np.isnan(ours).all() and np.isnan(theirs).all()  # inf - inf


def test_triplet_worked_example() -> None:  # chapters/embedding/triplet_margin_loss.md
    a, p, n = np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]]), np.array([[6.0, 0.0]])
    kwargs = {"margin": 2.0, "eps": 0.0}
    assert lossnotes.triplet_margin_loss(a, p, n, **kwargs) == 2 + 5 - 6
    assert lossnotes.triplet_margin_loss(a, p, n, swap=True, **kwargs) == 2 + 5 - 5
    grads = lossnotes.grad.triplet_margin_loss(a, p, n, **kwargs)
    np.testing.assert_allclose(np.concatenate(grads), [[0.4, -0.8], [0.6, 0.8], [-1.0, 0.0]],
                               rtol=1e-15)
    swapped = lossnotes.grad.triplet_margin_loss(a, p, n, swap=True, **kwargs)
    np.testing.assert_allclose(np.concatenate(swapped), [[-0.6, -0.8], [1.2, 0.0], [-0.6, 0.8]],
                               rtol=1e-15, atol=1e-16)
    for name, value in [("sum", 1.0), ("mean", 1.0)]:
        torch_value = torch_loss("triplet_margin_loss", (a, p, n), {**kwargs, "reduction": name})
        assert torch_value == value


def test_triplet_margin_loss_refusals() -> None:
    a, p, n = _triplet((3, 4))
    for function in (lossnotes.triplet_margin_loss, lossnotes.grad.triplet_margin_loss):
        with pytest.raises(ValueError, match="same number of dimensions"):
            function(a, p[0], n)
        with pytest.raises(ValueError, match="anchor of shape .* and positive"):
            function(a, np.ones((3, 5)), n)
        with pytest.raises(ValueError, match="margin must be positive"):
            function(a, p, n, margin=0.0)
        with pytest.raises(TypeError, match="p must be a real number"):
            function(a, p, n, p="2")
        with pytest.raises(TypeError, match="swap must be a bool"):
            function(a, p, n, swap=1)
        with pytest.raises(TypeError, match="anchor must be a floating-point array"):
            function(a.astype(int), p, n)
        with pytest.raises(ValueError, match="p=inf has no value on vectors of length 0"):
            function(np.ones((2, 0)), np.ones((2, 0)), np.ones((2, 0)), p=math.inf)


# TripletMarginWithDistanceLoss.


@pytest.mark.parametrize("shape", [(), (4,), (5, 4), (2, 3, 4), (0, 4)], ids=str)
def test_triplet_with_distance_agrees_with_torch_for_the_default_distance(shape) -> None:
    args = _triplet(shape, seed=6)
    agreement("triplet_margin_with_distance_loss", args,
              {"margin": [0.3, 1.0, 4.0], "swap": [False, True], "reduction": REDUCTIONS},
              wrt=TRIPLET_WRT)


@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_triplet_with_distance_equals_triplet_margin_loss_by_default(swap, reduction) -> None:
    args = _triplet((7, 5), seed=7)
    kwargs = {"swap": swap, "reduction": reduction}
    default = lossnotes.triplet_margin_with_distance_loss(*args, **kwargs)
    np.testing.assert_array_equal(default, lossnotes.triplet_margin_loss(*args, **kwargs))
    explicit = lossnotes.triplet_margin_with_distance_loss(
        *args, distance_function=lossnotes.pairwise_distance, **kwargs)
    np.testing.assert_array_equal(default, explicit)
    for ours, plain in zip(
        lossnotes.grad.triplet_margin_with_distance_loss(*args, **kwargs),
        lossnotes.grad.triplet_margin_loss(*args, **kwargs),
    ):
        np.testing.assert_array_equal(ours, plain)


def _torch_with_distance(args, distance, **kwargs) -> np.ndarray:
    tensors = [torch.from_numpy(x.copy()) for x in args]
    return F.triplet_margin_with_distance_loss(
        *tensors, distance_function=distance, **kwargs).numpy()


CUSTOM_DISTANCES = {
    # name: (lossnotes' NumPy distance, torch's)
    "cosine": (lambda x, y: 1.0 - lossnotes.cosine_similarity(x, y),
               lambda x, y: 1.0 - F.cosine_similarity(x, y)),
    "l_infinity": (lambda x, y: np.abs(x - y).max(axis=1),
                   lambda x, y: torch.abs(x - y).max(dim=1).values),
    "squared_euclidean": (lambda x, y: ((x - y) ** 2).sum(axis=1),
                          lambda x, y: ((x - y) ** 2).sum(dim=1)),
}


@pytest.mark.parametrize("name", list(CUSTOM_DISTANCES))
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_triplet_with_custom_distance_agrees_with_torch(name, swap, reduction) -> None:
    ours_distance, their_distance = CUSTOM_DISTANCES[name]
    args = _triplet((9, 4), seed=8)
    for margin in (0.2, 1.0):
        kwargs = {"margin": margin, "swap": swap, "reduction": reduction}
        ours = lossnotes.triplet_margin_with_distance_loss(
            *args, distance_function=ours_distance, **kwargs)
        theirs = _torch_with_distance(args, their_distance, **kwargs)
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=1e-15)


def test_triplet_with_distance_gradient_refuses_a_custom_distance() -> None:
    args = _triplet((3, 2))
    with pytest.raises(TypeError, match="differentiates only the default distance"):
        lossnotes.grad.triplet_margin_with_distance_loss(
            *args, distance_function=CUSTOM_DISTANCES["cosine"][0])
    with pytest.raises(TypeError, match="distance_function must be callable"):
        lossnotes.triplet_margin_with_distance_loss(*args, distance_function=3)


def test_triplet_with_distance_worked_example() -> None:  # chapters/embedding/...
    a, p, n = np.array([[1.0, 0.0]]), np.array([[1.0, 1.0]]), np.array([[0.0, 1.0]])
    cosine = CUSTOM_DISTANCES["cosine"][0]
    loss = lossnotes.triplet_margin_with_distance_loss(a, p, n, distance_function=cosine)
    assert np.isclose(loss, 1 + (1 - 1 / math.sqrt(2)) - 1, rtol=1e-15)
    swapped = lossnotes.triplet_margin_with_distance_loss(
        a, p, n, distance_function=cosine, swap=True)
    assert np.isclose(swapped, 1.0, rtol=1e-15)


# The distances.


@pytest.mark.parametrize(
    "shapes",
    [((5, 3), (5, 3)), ((5, 3), (3,)), ((3,), (5, 3)), ((2, 1), (1, 3)), ((5, 3), (5, 1)),
     ((), ()), ((), (4,)), ((4,), (4,)), ((2, 3, 4), (3, 4)), ((0, 3), (0, 3)), ((2, 0), (2, 0))],
    ids=str,
)
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance_agrees_with_torch(shapes, keepdim) -> None:
    rng = np.random.default_rng(9)
    x1, x2 = (np.asarray(rng.standard_normal(shape)) for shape in shapes)
    orders = NORM_ORDERS if 0 not in (shapes[0][-1:] + shapes[1][-1:]) else [2, 1, 0, 3]
    for p, eps in itertools.product(orders, [1e-6, 0.0, 0.5]):
        kwargs = {"p": p, "eps": eps, "keepdim": keepdim}
        ours = lossnotes.pairwise_distance(x1, x2, **kwargs)
        theirs = torch_loss("pairwise_distance", (x1, x2), kwargs)
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, kwargs
        np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=0, err_msg=str(kwargs))


def test_pairwise_distance_eps_shifts_the_difference() -> None:
    # Worked by hand: the difference (1, 1) - (1, 1) + eps is (eps, eps).
    x = np.array([[1.0, 1.0]])
    np.testing.assert_allclose(lossnotes.pairwise_distance(x, x), [1e-6 * math.sqrt(2)])
    # Not symmetric: |(-3 + eps, -4 + eps)| differs from |(3 + eps, 4 + eps)|.
    zero, point = np.zeros((1, 2)), np.array([[3.0, 4.0]])
    forward = lossnotes.pairwise_distance(zero, point, eps=0.5)[0]
    backward = lossnotes.pairwise_distance(point, zero, eps=0.5)[0]
    assert forward == math.hypot(2.5, 3.5) and backward == math.hypot(3.5, 4.5)


def test_pairwise_distance_dtypes_follow_torch() -> None:
    x32 = np.ones((4, 3), dtype=np.float32)
    for other in (np.zeros((4, 3)), np.asarray(2.0), np.zeros((4, 3), dtype=np.float32)):
        ours = lossnotes.pairwise_distance(x32, other)
        assert ours.dtype == torch_loss("pairwise_distance", (x32, other)).dtype


def test_pairwise_distance_refusals() -> None:
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="x1 of shape"):
        lossnotes.pairwise_distance(x, np.ones((2, 4)))
    with pytest.raises(TypeError, match="p must be a real number"):
        lossnotes.pairwise_distance(x, x, p="2")
    with pytest.raises(TypeError, match="eps must be a real number"):
        lossnotes.pairwise_distance(x, x, eps=None)
    with pytest.raises(TypeError, match="keepdim must be a bool"):
        lossnotes.pairwise_distance(x, x, keepdim=1)
    with pytest.raises(ValueError, match="no value on vectors of length 0"):
        lossnotes.pairwise_distance(np.ones((2, 0)), np.ones((2, 0)), p=-1)
    # Stricter than torch, which computes integer distances in its global default dtype.
    with pytest.raises(TypeError, match="x1 must be a floating-point array"):
        lossnotes.pairwise_distance(np.ones((2, 3), dtype=int), x)


@pytest.mark.parametrize(
    ("shapes", "dim"),
    [(((5, 3), (5, 3)), 1), (((5, 3), (5, 3)), 0), (((5, 3), (5, 3)), -1), (((3,), (3,)), 0),
     (((3,), (3,)), -1), (((), ()), 0), (((2, 3), (3,)), 1), (((2, 3), (3,)), 0),
     (((2, 1, 4), (3, 4)), 2), (((0, 3), (0, 3)), 1), (((2, 0), (2, 0)), 1)],
    ids=str,
)
def test_cosine_similarity_agrees_with_torch(shapes, dim) -> None:
    rng = np.random.default_rng(10)
    x1, x2 = (np.asarray(rng.standard_normal(shape)) for shape in shapes)
    for eps in (1e-8, 0.0, 3.0):
        ours = lossnotes.cosine_similarity(x1, x2, dim=dim, eps=eps)
        theirs = torch_loss("cosine_similarity", (x1, x2), {"dim": dim, "eps": eps})
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=1e-16)


def test_cosine_similarity_zero_vectors_large_norms_and_dtypes() -> None:
    zero, ones = np.zeros((2, 3)), np.ones((2, 3))
    np.testing.assert_array_equal(lossnotes.cosine_similarity(zero, ones), [0.0, 0.0])
    # Normalised before they are multiplied: at 1e120 the product of the squared norms
    # (about 4e480) would overflow float64, the normalised vectors do not ...
    big = np.array([[1e120, 1e120]])
    np.testing.assert_allclose(lossnotes.cosine_similarity(big, big), [1.0])
    np.testing.assert_allclose(torch_loss("cosine_similarity", (big, big)), [1.0], rtol=1e-15)
    # ... but the norm itself overflows in float32 beyond 1.8e19: torch gives 0, and so do we.
    big32 = np.array([[3e19, 3e19]], dtype=np.float32)
    assert lossnotes.cosine_similarity(big32, big32)[0] == 0
    assert torch_loss("cosine_similarity", (big32, big32))[0] == 0
    # torch broadcasts before it promotes: a 0-d float64 x2 makes the result float64.
    x32 = np.ones((2, 3), dtype=np.float32)
    for other in (np.asarray(2.0), np.ones((2, 3))):
        ours = lossnotes.cosine_similarity(x32, other)
        assert ours.dtype == torch_loss("cosine_similarity", (x32, other)).dtype


def test_cosine_similarity_refusals() -> None:
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="dim must be in"):  # torch: IndexError
        lossnotes.cosine_similarity(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="dim must be in"):
        lossnotes.cosine_similarity(x, x, dim=2)
    with pytest.raises(TypeError, match="dim must be an integer"):
        lossnotes.cosine_similarity(x, x, dim=True)
    with pytest.raises(ValueError, match="eps must be non-negative"):
        lossnotes.cosine_similarity(x, x, eps=-1.0)
    with pytest.raises(ValueError, match="eps must be non-negative"):
        lossnotes.cosine_similarity(x, x, eps=math.nan)
    with pytest.raises(ValueError, match="x1 of shape"):
        lossnotes.cosine_similarity(x, np.ones((2, 4)))
    with pytest.raises(TypeError, match="x2 must be a floating-point array"):
        lossnotes.cosine_similarity(x, np.ones((2, 3), dtype=int))
    # What torch does with each, recorded so that a torch upgrade is noticed.
    t = torch.ones(3, dtype=torch.float64)
    with pytest.raises(IndexError, match="Dimension out of range"):
        F.cosine_similarity(t, t)
    with pytest.raises(RuntimeError, match="eps must be non-negative"):
        F.cosine_similarity(t, t, dim=0, eps=-1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lossnotes.cosine_similarity(np.zeros((1, 2)), np.zeros((1, 2)))  # no 0/0 warning


# --- extreme values: a sweep against torch ------------------------------------------------------
#
# Every loss of the family and its gradients on embeddings drawn from the edges of each dtype
# (zeros of both signs, 1e-30, 1e30, infinities, NaN, beside ordinary values), with every
# parameter at its edges, in float64, float32 and float16: torch's refusal, or its dtype, shape,
# NaN and infinities exactly and its finite values within the error model of tests/lossspecs.py
# (RTOL of the dtype times the largest value, times the amplification of a p-norm's rounding by
# its powers, max(1, |p - 1|, 1/|p|)).

EDGE_VALUES = (0.0, -0.0, 1e-30, -1e-30, 1e30, -1e30, np.inf, -np.inf, np.nan, 1.0, -2.5, 1e4)
SWEEP_DTYPES = [np.float64, np.float32, np.float16]
SWEEP_LABELS = np.array([-1.0, 1.0, 0.0, np.nan])


def _edges(rng: np.random.Generator, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.asarray(rng.choice(EDGE_VALUES, shape)).astype(dtype)


def _ordinary(rng: np.random.Generator, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    return np.asarray(rng.standard_normal(shape)).astype(dtype)


def _amplification(p: float) -> float:
    """How much a p-norm and its gradient magnify a rounding error of their sum of powers."""
    if p in (0, 1, 2) or math.isinf(p):
        return 1.0
    return max(1.0, abs(p - 1), 1 / abs(p))


def _agree_at_the_edges(name: str, args: tuple, kwargs: dict, wrt: tuple[int, ...],
                        amplification: float = 1.0) -> None:
    """lossnotes.<name> and its gradient give torch's results, or its refusal."""
    from lossspecs import assert_close

    label = f"{name}{tuple(str(a.dtype) + str(a.shape) for a in args)} {kwargs}"
    try:
        theirs, their_grads = torch_gradient(name, args, kwargs, wrt)
    except RuntimeError:  # torch refuses the call: so does lossnotes, loss and gradient
        for function in (getattr(lossnotes, name), getattr(lossnotes.grad, name)):
            with pytest.raises((ValueError, TypeError)):
                function(*args, **kwargs)
        return
    ours = getattr(lossnotes, name)(*args, **kwargs)
    our_grads = getattr(lossnotes.grad, name)(*args, **kwargs)
    our_grads = our_grads if isinstance(our_grads, tuple) else (our_grads,)
    their_grads = their_grads if isinstance(their_grads, tuple) else (their_grads,)
    results = [("loss", ours, theirs)] + [
        (f"gradient {i}", o, t) for i, o, t in zip(wrt, our_grads, their_grads)
    ]
    for what, ours_, theirs_ in results:
        finite = np.abs(theirs_[np.isfinite(theirs_)].astype(np.float64))
        assert_close(ours_, theirs_, f"{label}: {what}",
                     magnitude=amplification * float(finite.max(initial=0.0)))


@pytest.mark.parametrize("dtype", SWEEP_DTYPES, ids=lambda d: d.__name__)
def test_pairs_agree_with_torch_at_the_edges(dtype) -> None:
    rng = np.random.default_rng(20)
    margins = [0.0, 1.0, -1.0, 1e30, 7e4, 1e300, np.inf, np.nan]
    for shape in [(6,), (), (0,), (2, 3)]:
        x1, x2 = _edges(rng, shape, dtype), _edges(rng, shape, dtype)
        labels = rng.choice(SWEEP_LABELS, shape)
        for margin, reduction in itertools.product(margins, REDUCTIONS):
            kwargs = {"margin": margin, "reduction": reduction}
            _agree_at_the_edges("margin_ranking_loss", (x1, x2, labels.astype(dtype)), kwargs,
                                (0, 1))
            if dtype is np.float16 and x1.size == 1 and 65504 < abs(margin) < math.inf:
                continue  # torch accepts this one case, lossnotes refuses (test_hostile.py)
            _agree_at_the_edges("hinge_embedding_loss", (x1, labels), kwargs, (0,))
    for shape in [(5, 3), (3,), (0, 3), (4, 1)]:
        a, b = _edges(rng, shape, dtype), _edges(rng, shape, dtype)
        labels = rng.choice(SWEEP_LABELS, shape[:-1])
        for margin, reduction in itertools.product([0.0, 0.5, -1.0, 1e30, np.nan], REDUCTIONS):
            _agree_at_the_edges("cosine_embedding_loss", (a, b, labels),
                                {"margin": margin, "reduction": reduction}, (0, 1))


def _triplets_at_the_edges(rng: np.random.Generator, dtype: type) -> list[tuple]:
    shape = (4, 3)
    ordinary = _ordinary(rng, shape, dtype)
    return [
        tuple(_edges(rng, shape, dtype) for _ in range(3)),
        (ordinary, ordinary.copy(), _ordinary(rng, shape, dtype)),  # identical anchor, positive
        (_ordinary(rng, (4, 1), dtype), _edges(rng, (4, 1), dtype), _edges(rng, (4, 1), dtype)),
        tuple(_edges(rng, (3,), dtype) for _ in range(3)),  # unbatched
        tuple(_edges(rng, (), dtype) for _ in range(3)),  # 0-d
        tuple(np.ones((0, 3), dtype) for _ in range(3)),  # empty batch
    ]


@pytest.mark.parametrize("dtype", SWEEP_DTYPES, ids=lambda d: d.__name__)
def test_triplets_agree_with_torch_at_the_edges(dtype) -> None:
    rng = np.random.default_rng(21)
    orders = [2, 1, 3, 0.5, 1.5, math.inf, -math.inf, 0, -1.0, 100.0]
    for args in _triplets_at_the_edges(rng, dtype):
        for p, eps, swap in itertools.product(orders, [1e-6, 0.0, 1e30], [False, True]):
            for reduction in REDUCTIONS:
                kwargs = {"p": p, "eps": eps, "swap": swap, "reduction": reduction}
                _agree_at_the_edges("triplet_margin_loss", args, kwargs, TRIPLET_WRT,
                                    _amplification(p))
        for margin, swap, reduction in itertools.product([1e-30, 1.0, 1e30, math.inf],
                                                         [False, True], REDUCTIONS):
            _agree_at_the_edges("triplet_margin_with_distance_loss", args,
                                {"margin": margin, "swap": swap, "reduction": reduction},
                                TRIPLET_WRT)


# --- float16 -------------------------------------------------------------------------------------
#
# torch's CPU kernels take float16 for every loss of the family: each elementwise operation in
# float32 rounded to float16, sums and norms accumulated in float32 and rounded once.  lossnotes
# does the same, and agrees with torch within FLOAT16_ULPS units in the last place of float16 at
# the size of the terms a result adds or cancels (the largest of torch's values, the margin and
# the distances; for a p-norm's gradient times max(1, |p - 1|, 1/|p|)).  Most results agree
# bit for bit; the bound leaves room for a float32 pow or sum that rounds to the other side of
# a float16 number on another SIMD path.
FLOAT16_ULPS = 2


def assert_float16_close(ours, theirs, scale: float, label: str) -> None:
    assert theirs.dtype == np.float16, f"{label}: torch's result is {theirs.dtype}"
    assert_within_ulps_of(ours, theirs, scale, FLOAT16_ULPS, label)


def _largest(array: np.ndarray) -> float:
    finite = np.abs(array[np.isfinite(array)].astype(np.float64))
    return float(finite.max(initial=0.0))


def _float16_agrees(name: str, args: tuple, kwargs: dict, wrt: tuple[int, ...],
                    terms: float = 0.0, amplification: float = 1.0, seed: int = 0) -> None:
    """Loss and gradient (for a random grad_output) of lossnotes.<name> against torch's."""
    theirs = torch_loss(name, args, kwargs)
    upstream = np.random.default_rng(seed).standard_normal(theirs.shape).astype(np.float16)
    _, their_grads = torch_gradient(name, args, kwargs, wrt, upstream)
    label = f"{name} {kwargs}"
    ours = getattr(lossnotes, name)(*args, **kwargs)
    assert_float16_close(ours, theirs, max(_largest(theirs), terms), f"{label}: loss")
    our_grads = getattr(lossnotes.grad, name)(*args, **kwargs, grad_output=upstream)
    our_grads = our_grads if isinstance(our_grads, tuple) else (our_grads,)
    their_grads = their_grads if isinstance(their_grads, tuple) else (their_grads,)
    for position, ours_, theirs_ in zip(wrt, our_grads, their_grads):
        assert_float16_close(ours_, theirs_, amplification * _largest(theirs_),
                             f"{label}: gradient {position}")


@pytest.mark.parametrize("name", list(PAIR_GRIDS))
@pytest.mark.parametrize("shape", [(7, 4), (4,), (0, 4)], ids=str)
def test_pairs_agree_with_torch_in_float16(name, shape) -> None:
    rng = np.random.default_rng(22)
    if name != "cosine_embedding_loss":
        shape = shape[:-1] + (shape[-1] * 3,)
    args = tuple(a.astype(np.float16) if a.dtype.kind == "f" else a
                 for a in _pair_args(name, rng, shape))
    grid = PAIR_GRIDS[name]
    for values in itertools.product(*grid.values()):
        _float16_agrees(name, args, dict(zip(grid, values)), PAIR_WRT[name])
    for size_average, reduce in itertools.product(PAIR_FLAGS, PAIR_FLAGS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _float16_agrees(name, args, {"size_average": size_average, "reduce": reduce},
                            PAIR_WRT[name])


@pytest.mark.parametrize("shape", [(6, 4), (5,), (0, 4), (3, 1)], ids=str)
def test_triplets_agree_with_torch_in_float16(shape) -> None:
    from lossspecs import Call, triplet_term_magnitude

    args = tuple(x.astype(np.float16) for x in _triplet(shape, seed=23))
    orders = NORM_ORDERS if shape[-1] else [2, 1, 0, 0.5, 3]
    for margin, p, eps, swap, reduction in itertools.product(
        [0.3, 1.0, 4.0], orders, [1e-6, 0.0, 0.25], [False, True], REDUCTIONS
    ):
        kwargs = {"margin": margin, "p": p, "eps": eps, "swap": swap, "reduction": reduction}
        terms = _largest(triplet_term_magnitude(Call(args, kwargs)))
        _float16_agrees("triplet_margin_loss", args, kwargs, TRIPLET_WRT, terms,
                        _amplification(p))
    for margin, swap, reduction in itertools.product([0.3, 1.0, 4.0], [False, True], REDUCTIONS):
        kwargs = {"margin": margin, "swap": swap, "reduction": reduction}
        terms = _largest(triplet_term_magnitude(Call(args, kwargs)))
        _float16_agrees("triplet_margin_with_distance_loss", args, kwargs, TRIPLET_WRT, terms)



@pytest.mark.parametrize("shape", [(7, 5), (5,), (3, 1), (0, 4)], ids=str)
def test_distances_agree_with_torch_in_float16(shape) -> None:
    rng = np.random.default_rng(24)
    x1, x2 = (rng.standard_normal(shape).astype(np.float16) for _ in range(2))
    x1[:1] = 0.0  # a zero vector: float16's eps of 1e-8 is 0, and the cosine 0 / 0
    for p, eps in itertools.product(NORM_ORDERS if shape[-1] else [2, 1, 0], [1e-6, 0.0]):
        kwargs = {"p": p, "eps": eps}
        theirs = torch_loss("pairwise_distance", (x1, x2), kwargs)
        ours = lossnotes.pairwise_distance(x1, x2, **kwargs)
        assert_float16_close(ours, theirs, _largest(theirs), f"pairwise_distance {kwargs}")
    for dim, eps in itertools.product([-1, 0], [1e-8, 0.0, 3.0]):
        kwargs = {"dim": dim, "eps": eps}
        theirs = torch_loss("cosine_similarity", (x1, x2), kwargs)
        ours = lossnotes.cosine_similarity(x1, x2, **kwargs)
        assert_float16_close(ours, theirs, 1.0, f"cosine_similarity {kwargs}")

# --- the cases of #20, each failing before its fix -----------------------------------------------


def test_float16_norms_accumulate_in_float32() -> None:
    # |a - p| = 1e4: its square, 1e8, is past float16's 65504, not float32's.  Worked by hand:
    # d(a, p) = 1e4 and d(a, n) = |eps (1, 1)| ~ 0, so the loss is 1 + 1e4, 10000 in float16.
    a = np.array([[1e4, 0.0]], dtype=np.float16)
    p = np.zeros((1, 2), dtype=np.float16)
    loss = lossnotes.triplet_margin_loss(a, p, a.copy(), reduction="none")
    assert loss.dtype == np.float16 and loss[0] == 10000
    assert torch_loss("triplet_margin_loss", (a, p, a.copy()), {"reduction": "none"})[0] == 10000
    assert lossnotes.pairwise_distance(a, p)[0] == 10000


def test_float16_gradient_with_identical_anchor_and_positive() -> None:
    # a == p: the difference is eps (1, 1) rounded to float16 (a subnormal), its norm eps sqrt(2)
    # in float32 rounded once, so d(a, p)'s gradient is (1, 1) / sqrt(2); d(a, n)'s is
    # (a - n) / |a - n| = (-0.6, -0.8), subtracted.  Worked by hand: (1.307, 1.507).
    a = np.array([[1.0, 2.0]], dtype=np.float16)
    n = np.array([[4.0, 6.0]], dtype=np.float16)
    kwargs = {"margin": 10.0, "reduction": "sum"}  # 10 + 0 - 5: the hinge is active
    ours = lossnotes.grad.triplet_margin_loss(a, a.copy(), n, **kwargs)
    _, theirs = torch_gradient("triplet_margin_loss", (a, a.copy(), n), kwargs, TRIPLET_WRT)
    np.testing.assert_allclose(ours[0], [[1 / math.sqrt(2) + 0.6, 1 / math.sqrt(2) + 0.8]],
                               rtol=2e-3)  # float16 rounds 1/sqrt(2) and each sum
    for ours_, theirs_ in zip(ours, theirs):
        assert_float16_close(ours_, theirs_, 1.0, "gradient")


def test_distance_over_an_axis_of_length_one_is_the_magnitude() -> None:
    # torch takes the norm over an axis of length 1 to be |x|, without squaring it: 1e30 in
    # float32 for a difference of 1e30, whose square overflows.  A 0-d difference it computes
    # with the formula, and that overflows.  Worked by hand: 1 + 1e30 - |eps| is 1e30.
    big, zero = np.full((2, 1), 1e30, dtype=np.float32), np.zeros((2, 1), dtype=np.float32)
    for name in TRIPLETS:
        loss = getattr(lossnotes, name)(zero, big, zero, reduction="none")
        assert np.array_equal(loss, big[:, 0]) and loss.dtype == np.float32
        assert np.array_equal(torch_loss(name, (zero, big, zero), {"reduction": "none"}), loss)
    assert np.array_equal(lossnotes.pairwise_distance(big, zero, p=3), big[:, 0])
    scalar = lossnotes.triplet_margin_loss(np.float32(0), np.float32(1e30), np.float32(0))
    assert np.isinf(scalar) and np.isinf(
        torch_loss("triplet_margin_loss", (np.float32(0), np.float32(1e30), np.float32(0)))
    )


def test_nan_row_sends_no_gradient_through_the_one_norm() -> None:
    # A NaN in a positive makes its triplet's loss NaN; clamp_min's backward passes nothing
    # there (NaN >= 0 is false), and torch's sgn(NaN) is 0, so the anchor's gradient in that row
    # is 0, not NaN.  The other row: sgn(a - p) - sgn(a - n) = (1, -1) - (-1, -1) = (2, 0).
    a = np.array([[1.0, -1.0], [0.5, 0.5]])
    p = np.array([[0.0, 0.0], [np.nan, 0.0]])
    n = np.array([[3.0, 2.0], [1.0, 1.0]])
    kwargs = {"p": 1, "margin": 10.0, "reduction": "sum"}
    ours = lossnotes.grad.triplet_margin_loss(a, p, n, **kwargs)
    assert np.array_equal(ours[0], [[2.0, 0.0], [0.0, 0.0]])
    _, theirs = torch_gradient("triplet_margin_loss", (a, p, n), kwargs, TRIPLET_WRT)
    for ours_, theirs_ in zip(ours, theirs):
        np.testing.assert_array_equal(ours_, theirs_)


def _family_calls() -> list[tuple[str, tuple, dict]]:
    """Unbatched calls of every loss of the family, for every reduction."""
    one, vector = np.asarray(0.5), np.array([0.5, -1.0, 2.0])
    calls = []
    for reduction in REDUCTIONS:
        kwargs = {"reduction": reduction}
        calls += [
            ("margin_ranking_loss", (one, np.asarray(1.5), np.asarray(1.0)), kwargs),
            ("hinge_embedding_loss", (one, np.asarray(-1.0)), kwargs),
            ("cosine_embedding_loss", (vector, -vector, np.asarray(-1.0)), kwargs),
            ("triplet_margin_loss", (vector, vector + 1, vector - 1), kwargs),
            ("triplet_margin_loss", (one, np.asarray(1.5), np.asarray(0.0)), kwargs),
            ("triplet_margin_with_distance_loss", (vector, vector + 1, vector - 1), kwargs),
        ]
    return calls


def test_every_result_is_an_ndarray_even_0_d() -> None:
    for name, args, kwargs in _family_calls():
        loss = getattr(lossnotes, name)(*args, **kwargs)
        grads = getattr(lossnotes.grad, name)(*args, **kwargs)
        for result in (loss, *(grads if isinstance(grads, tuple) else (grads,))):
            assert type(result) is np.ndarray, (name, kwargs, type(result))
    for result in (lossnotes.pairwise_distance(np.asarray(1.0), np.asarray(2.0)),
                   lossnotes.cosine_similarity(np.asarray(1.0), np.asarray(2.0), dim=0)):
        assert type(result) is np.ndarray and result.shape == ()


def test_numpy_says_nothing_where_torch_overflows_silently() -> None:
    big = np.array([[1e30, -1e30, np.inf]], dtype=np.float32)
    nan = np.array([[np.nan, 0.0, 1.0]], dtype=np.float32)
    half = np.array([6e4, -6e4, np.inf], dtype=np.float16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for args in [(big, nan, -big), (nan, nan, big)]:
            for name in TRIPLETS:
                getattr(lossnotes, name)(*args)
                getattr(lossnotes.grad, name)(*args)
            lossnotes.cosine_embedding_loss(*args[:2], np.ones(1))
            lossnotes.grad.cosine_embedding_loss(*args[:2], np.ones(1))
            lossnotes.cosine_similarity(*args[:2])
        lossnotes.margin_ranking_loss(big[0], -big[0], np.ones(3), margin=1e30)
        lossnotes.hinge_embedding_loss(half, -np.ones(3), margin=6e4)


def test_hinge_margin_beyond_the_dtype_is_refused() -> None:
    # torch fills a tensor of the input's dtype with the margin, checking the conversion.
    x, y = np.ones(3, dtype=np.float16), -np.ones(3)
    with pytest.raises(ValueError, match="margin=70000.0 is beyond float16's range"):
        lossnotes.hinge_embedding_loss(x, y, margin=7e4)
    with pytest.raises(RuntimeError, match="cannot be converted to type c10::Half"):
        torch_loss("hinge_embedding_loss", (x, y), {"margin": 7e4})
    with pytest.raises(ValueError, match="beyond float32's range"):
        lossnotes.grad.hinge_embedding_loss(x.astype(np.float32), y, margin=-1e300)
    assert lossnotes.hinge_embedding_loss(x, y, margin=np.inf) == np.inf  # not a conversion
    assert lossnotes.hinge_embedding_loss(x.astype(float), y, margin=1e300) == 1e300


# --- gradients with respect to the target, and the wrt= contract -----------------------------


def test_margin_ranking_target_gradient_worked_by_hand() -> None:
    # x1 - x2 = (1, -0.5, 0), y = (1, -1, 1), margin 0.5: hinge -y (x1 - x2) + 0.5 is
    # (-0.5, 0, 0.5): the first pair is satisfied, the second exactly at the margin (active,
    # torch's clamp_min), the third violated. d loss / d y = -(x1 - x2) where active.
    x1, x2, y = np.array([2.0, 0.5, 1.0]), np.array([1.0, 1.0, 1.0]), np.array([1.0, -1.0, 1.0])
    ours = lossnotes.grad.margin_ranking_loss(x1, x2, y, margin=0.5, reduction="sum",
                                              wrt="target")
    assert np.array_equal(ours, [0.0, 0.5, 0.0])
    _, theirs = torch_gradient("margin_ranking_loss", (x1, x2, y),
                               {"margin": 0.5, "reduction": "sum"}, wrt=(2,))
    assert np.array_equal(ours, theirs)
    both = lossnotes.grad.margin_ranking_loss(x1, x2, y, margin=0.5, wrt=("target", "input2"))
    assert np.array_equal(both[0], ours / 3)
    assert np.array_equal(both[1], lossnotes.grad.margin_ranking_loss(x1, x2, y, margin=0.5)[1])


@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 4), (2, 3, 2)], ids=str)
def test_margin_ranking_target_gradient_agrees_with_torch(shape) -> None:
    rng = np.random.default_rng(21)
    x1, x2, y = _pair_args("margin_ranking_loss", rng, shape)
    for dtype in (np.float64, np.float32, np.float16):
        tolerance = {np.float64: 1e-12, np.float32: 1e-6, np.float16: 2e-3}[dtype]
        agreement("margin_ranking_loss", (x1, x2), {"target": [y.astype(dtype)],
                  **PAIR_GRIDS["margin_ranking_loss"]}, wrt=(0, 1, "target"),
                  tolerance=tolerance)
    # Broadcast: the target's gradient is summed back to its shape.
    agreement("margin_ranking_loss", (rng.standard_normal((4, 1)), rng.standard_normal((4, 3))),
              {"target": [rng.choice(PAIR_LABELS, (1, 3))], "reduction": PAIR_REDUCTIONS},
              wrt=("target",))


def test_margin_ranking_target_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(22)
    x1, x2, y = _pair_args("margin_ranking_loss", rng, (9,))
    numeric = finite_difference_gradient(
        lambda v: lossnotes.margin_ranking_loss(x1, x2, v, margin=0.3), y)
    analytic = lossnotes.grad.margin_ranking_loss(x1, x2, y, margin=0.3, wrt="target")
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ["hinge_embedding_loss", "cosine_embedding_loss"])
def test_a_target_that_only_selects_terms_has_a_zero_gradient(name) -> None:
    rng = np.random.default_rng(23)
    args = _pair_args(name, rng, (4, 3))
    predictions = args[:-1]
    for target in (args[-1], args[-1].astype(np.float32)):
        ours = getattr(lossnotes.grad, name)(*predictions, target, wrt="target")
        assert ours.dtype == target.dtype and np.array_equal(ours, np.zeros_like(target))
        # torch_gradient gives zeros where torch's autograd has no gradient (None) ...
        _, theirs = torch_gradient(name, (*predictions, target), {},
                                   wrt=(0, len(predictions)))
        assert np.array_equal(ours, theirs[-1]) and ours.dtype == theirs[-1].dtype
    # ... because the target never reaches the graph: without allow_unused torch refuses, and
    # with only the target requiring a gradient the loss has none to give.
    tensors = [torch.from_numpy(a.copy()).requires_grad_() for a in args]
    loss = getattr(F, name)(*tensors)
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        torch.autograd.grad(loss, tensors[-1])
    (materialized,) = torch.autograd.grad(getattr(F, name)(*tensors), tensors[-1],
                                          materialize_grads=True)
    assert np.array_equal(materialized.numpy(), np.zeros_like(args[-1]))
    alone = [torch.from_numpy(a.copy()) for a in args[:-1]]
    target = torch.from_numpy(args[-1].copy()).requires_grad_()
    with pytest.raises(RuntimeError, match="does not require grad"):
        torch.autograd.grad(getattr(F, name)(*alone, target), target)


@pytest.mark.parametrize("name", ["margin_ranking_loss", "hinge_embedding_loss",
                                  "cosine_embedding_loss"])
def test_wrt_refuses_what_autograd_cannot_differentiate(name) -> None:
    rng = np.random.default_rng(24)
    args = _pair_args(name, rng, (4, 3))
    integer = (*args[:-1], args[-1].astype(np.int64))
    with pytest.raises(ValueError, match="floating tensors only, and this target is int64"):
        getattr(lossnotes.grad, name)(*integer, wrt="target")
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require"):
        torch_gradient(name, integer, {}, wrt=(len(integer) - 1,))
    if name != "margin_ranking_loss":  # torch refuses a boolean target there anyway
        boolean = (*args[:-1], args[-1] > 0)
        with pytest.raises(ValueError, match="this target is bool"):
            getattr(lossnotes.grad, name)(*boolean, wrt="target")
    # margin is a number in torch's signature and in ours: no gradient.
    with pytest.raises(ValueError, match="'margin' is not an argument"):
        getattr(lossnotes.grad, name)(*args, wrt="margin")
    with pytest.raises(ValueError, match="names an argument twice"):
        getattr(lossnotes.grad, name)(*args, wrt=("target", "target"))
    with pytest.raises(TypeError, match="wrt must be an argument's name"):
        getattr(lossnotes.grad, name)(*args, wrt=(0,))


@pytest.mark.parametrize("name", TRIPLETS)
def test_triplet_wrt_names_any_of_the_three_embeddings(name) -> None:
    a, p, n = _triplet((5, 4), seed=25)
    every = getattr(lossnotes.grad, name)(a, p, n, swap=True)
    assert isinstance(every, tuple) and len(every) == 3
    chosen = getattr(lossnotes.grad, name)(a, p, n, swap=True, wrt=("negative", "anchor"))
    assert np.array_equal(chosen[0], every[2]) and np.array_equal(chosen[1], every[0])
    alone = getattr(lossnotes.grad, name)(a, p, n, swap=True, wrt="positive")
    assert isinstance(alone, np.ndarray) and np.array_equal(alone, every[1])
    with pytest.raises(ValueError, match="'margin' is not an argument"):
        getattr(lossnotes.grad, name)(a, p, n, wrt="margin")


def test_triplet_with_distance_differentiates_a_tensor_margin_in_torch_only() -> None:
    # torch's Python code adds the margin to the distances, so a 0-d tensor margin
    # (its signature says float) gets a gradient: the number of active triplets / N.
    a, p, n = (torch.from_numpy(x) for x in _triplet((5, 4), seed=26))
    margin = torch.tensor(3.0, requires_grad=True)
    loss = F.triplet_margin_with_distance_loss(a, p, n, margin=margin)
    (grad,) = torch.autograd.grad(loss, margin)
    violation = 3.0 + F.pairwise_distance(a, p) - F.pairwise_distance(a, n)
    assert grad.item() == (violation >= 0).double().mean().item()
    # lossnotes takes a margin as torch's parser takes a float; a 0-d array is refused by both.
    with pytest.raises(TypeError, match="margin must be a real number"):
        lossnotes.triplet_margin_with_distance_loss(a.numpy(), p.numpy(), n.numpy(),
                                                    margin=np.asarray(3.0))
    with pytest.raises(TypeError):
        F.triplet_margin_with_distance_loss(a, p, n, margin=np.asarray(3.0))


def test_margin_ranking_refuses_an_unsigned_target_torch_negates_modulo_256() -> None:
    x1, x2 = np.array([2.0, 0.5]), np.array([1.0, 1.0])
    labels = np.array([1, 0], dtype=np.uint8)
    # torch computes -target in uint8: -1 is 255, so a pair in the right order costs 255.
    theirs = torch_loss("margin_ranking_loss", (x1, x2, labels), {"reduction": "none"})
    assert np.array_equal(theirs, [255.0, 0.0])
    for function in (lossnotes.margin_ranking_loss, lossnotes.grad.margin_ranking_loss):
        with pytest.raises(TypeError, match="target must be signed"):
            function(x1, x2, labels)


def test_scalars_are_taken_as_torch_takes_a_float() -> None:
    # NumPy booleans and integers are numbers to torch's parser (np.bool_ was refused for p and
    # eps before the rules moved to _core.real_number); 0-d arrays are refused by both.
    a, p, n = _triplet((3, 4), seed=27)
    for value in (True, np.bool_(True), 2, np.int64(2), np.float32(2.0)):
        ours = lossnotes.triplet_margin_loss(a, p, n, p=value, eps=value)
        theirs = torch_loss("triplet_margin_loss", (a, p, n), {"p": value, "eps": value})
        np.testing.assert_allclose(ours, theirs, rtol=1e-14)
        np.testing.assert_allclose(lossnotes.pairwise_distance(a, p, p=value),
                                   torch_loss("pairwise_distance", (a, p), {"p": value}),
                                   rtol=1e-14)
    for function, kwargs in ((lossnotes.triplet_margin_loss, {"eps": np.asarray(1e-6)}),
                             (lossnotes.margin_ranking_loss, {"margin": np.asarray(0.5)})):
        args = (a, p, n) if function is lossnotes.triplet_margin_loss else (a, p, np.sign(n))
        with pytest.raises(TypeError, match="must be a real number"):
            function(*args, **kwargs)
        tensors = [torch.from_numpy(x) for x in args]
        with pytest.raises(TypeError, match="must be float, not numpy.ndarray"):
            getattr(F, function.__name__)(*tensors, **kwargs)


def test_float16_squared_norm_gradient_is_summed_before_it_is_rounded() -> None:
    # A tiny float16 embedding against 300 float32 ones: each pair's term of the gradient
    # through |a|^2 is about 2e5, beyond float16's 65504. torch's autograd sums the float32
    # terms over the pairs first and rounds the sum (inf); rounding each term first gave
    # inf - inf = NaN.
    a = np.array([[0.0015087127685546875]], dtype=np.float16)
    b = np.linspace(0.5, 3.0, 300, dtype=np.float32).reshape(300, 1)
    y = np.where(np.arange(300) % 3 == 0, -1.0, 1.0).astype(np.float16)
    upstream = np.cos(np.arange(300)).astype(np.float32)
    ours = lossnotes.grad.cosine_embedding_loss(a, b, y, reduction="none", grad_output=upstream)
    _, theirs = torch_gradient("cosine_embedding_loss", (a, b, y), {"reduction": "none"},
                               wrt=(0, 1), grad_output=upstream)
    assert np.isinf(theirs[0]).all() and np.array_equal(ours[0], theirs[0])
    assert_within_ulps_of(ours[1], theirs[1], 1.0, 4, "input2")
