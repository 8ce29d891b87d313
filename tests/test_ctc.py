"""lossnotes._ctc against torch, finite differences and hand-worked values."""

from __future__ import annotations

import itertools
import re
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _sequence_agreement import (
    SPECIAL_VALUES,
    assert_within_term_ulps,
    torch_on_one_thread,
)

import lossnotes
from lossnotes.torchcheck import (
    TRANSCENDENTAL_ULPS,
    agreement,
    assert_within_ulps,
    finite_difference_gradient,
    torch_gradient,
    torch_loss,
)

# The CTC loss.  Targets are class indices 1..C-1 with the blank 0 unless a test says otherwise.

CTC_REDUCTIONS = ["none", "mean", "sum"]


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _collapse(path: tuple[int, ...], blank: int) -> tuple[int, ...]:
    """CTC's many-to-one map: merge repeats, then drop blanks."""
    merged = [label for i, label in enumerate(path) if i == 0 or label != path[i - 1]]
    return tuple(label for label in merged if label != blank)


def _brute_force_nll(log_probs: np.ndarray, target: list[int], blank: int = 0) -> float:
    """-log of the summed probability of every path of length T that collapses to target:
    an independent reference, by enumeration of all C**T paths."""
    steps, classes = log_probs.shape
    total = 0.0
    for path in itertools.product(range(classes), repeat=steps):
        if _collapse(path, blank) == tuple(target):
            total += np.exp(sum(log_probs[t, k] for t, k in enumerate(path)))
    return -np.log(total) if total > 0 else np.inf


def _ctc_batch(seed: int, steps: int = 6, batch: int = 3, classes: int = 4, longest: int = 3,
               repeats: bool = True):
    """log_probs (T, N, C), padded targets (N, S) with padding -1, lengths: every alignment
    possible (a target with r repeats needs L + r steps)."""
    rng = np.random.default_rng(seed)
    log_probs = _log_softmax(rng.standard_normal((steps, batch, classes)) * 2)
    targets = rng.integers(1, classes, size=(batch, longest))
    if repeats:
        targets[0, 1] = targets[0, 0]  # a repeated label needs a blank in between
    target_lengths = np.array([longest, *rng.integers(0, longest + 1, size=batch - 1)])
    within = np.arange(1, longest) < target_lengths[:, None]
    repeats = (targets[:, 1:] == targets[:, :-1]) & within
    needed = target_lengths + repeats.sum(axis=1)
    input_lengths = np.maximum(needed, rng.integers(1, steps + 1, size=batch))
    input_lengths[0] = steps
    targets = np.where(np.arange(longest) < target_lengths[:, None], targets, -1)
    return log_probs, targets, input_lengths, target_lengths


def _concatenated(targets: np.ndarray, target_lengths: np.ndarray) -> np.ndarray:
    return targets[np.arange(targets.shape[1]) < target_lengths[:, None]]


def test_ctc_matches_brute_force_enumeration() -> None:
    # Every path of C**T enumerated, independently of the recursions (and of torch).
    for seed in range(6):
        log_probs, targets, input_lengths, target_lengths = _ctc_batch(seed, steps=5, classes=3)
        ours = lossnotes.ctc_loss(log_probs, targets, input_lengths, target_lengths,
                                  reduction="none")
        for b in range(3):
            target = list(targets[b, : target_lengths[b]])
            expected = _brute_force_nll(log_probs[: input_lengths[b], b], target)
            np.testing.assert_allclose(ours[b], expected, rtol=1e-13)


def test_ctc_worked_example() -> None:  # chapters/sequence/ctc_loss.md, worked by hand there
    # T = 4, classes (blank, a, b), target "a a": five paths collapse to it.
    a = np.array([0.5, 0.4, 0.3, 0.6])
    blank = np.array([0.4, 0.5, 0.6, 0.3])
    probs = np.stack([blank, a, 1 - a - blank], axis=1)
    paths = [
        a[0] * a[1] * blank[2] * a[3],  # a a - a: 0.072
        a[0] * blank[1] * blank[2] * a[3],  # a - - a: 0.09
        a[0] * blank[1] * a[2] * a[3],  # a - a a: 0.045
        blank[0] * a[1] * blank[2] * a[3],  # - a - a: 0.0576
        a[0] * blank[1] * a[2] * blank[3],  # a - a -: 0.0225
    ]
    np.testing.assert_allclose(paths, [0.072, 0.09, 0.045, 0.0576, 0.0225], rtol=1e-14)
    loss = lossnotes.ctc_loss(np.log(probs), [1, 1], [4], [2], reduction="sum")
    np.testing.assert_allclose(loss, -np.log(0.2871), rtol=1e-14)
    mean = lossnotes.ctc_loss(np.log(probs), [1, 1], [4], [2])
    np.testing.assert_allclose(mean, -np.log(0.2871) / 2, rtol=1e-14)  # divided by L = 2
    three = lossnotes.ctc_loss(np.log(probs[:3]), [1, 1], [3], [2], reduction="sum")
    np.testing.assert_allclose(three, -np.log(0.5 * 0.5 * 0.3), rtol=1e-14)  # only a - a
    assert lossnotes.ctc_loss(np.log(probs), [1, 1], [2], [2], reduction="sum") == np.inf


def test_ctc_small_doctest_values() -> None:
    half = np.log(np.full((2, 2), 0.5))
    assert lossnotes.ctc_loss(half, [1], [2], [1]) == pytest.approx(-np.log(0.75), rel=1e-15)
    np.testing.assert_allclose(
        lossnotes.grad.ctc_loss(half, [1], [2], [1], reduction="sum"),
        [[0.5 - 1 / 3, 0.5 - 2 / 3]] * 2, rtol=1e-14,
    )


@pytest.mark.parametrize("target_form", ["padded", "concatenated"])
@pytest.mark.parametrize("length_kind", ["array", "tuple", "list"])
def test_ctc_agrees_with_torch_over_every_parameter(target_form, length_kind) -> None:
    log_probs, targets, input_lengths, target_lengths = _ctc_batch(8, steps=7, batch=4,
                                                                  classes=5)
    if target_form == "concatenated":
        targets = _concatenated(targets, target_lengths)
    convert = {"array": np.asarray, "tuple": lambda a: tuple(int(v) for v in a),
               "list": lambda a: [int(v) for v in a]}[length_kind]
    args = (log_probs, targets, convert(input_lengths), convert(target_lengths))
    agreement("ctc_loss", args, {"reduction": CTC_REDUCTIONS, "zero_infinity": [False, True]})


@pytest.mark.parametrize("blank", [1, 4])
def test_ctc_agrees_with_torch_for_another_blank(blank) -> None:
    log_probs, targets, input_lengths, target_lengths = _ctc_batch(9, classes=5)
    # Move every label off the new blank: labels 1..4 become the classes other than blank.
    others = np.array([k for k in range(5) if k != blank])
    targets = np.where(targets >= 1, others[np.clip(targets, 1, 4) - 1], -1)
    args = (log_probs, targets, input_lengths, target_lengths)
    agreement("ctc_loss", args, {"reduction": CTC_REDUCTIONS, "blank": [blank]})


def test_ctc_unbatched_agrees_with_torch_and_has_unbatched_shapes() -> None:
    log_probs, targets, input_lengths, target_lengths = _ctc_batch(10)
    single = log_probs[:, 0]
    target = targets[0, : target_lengths[0]]
    for lengths in [(np.array(input_lengths[0]), np.array(target_lengths[0])),
                    (input_lengths[:1], target_lengths[:1])]:
        for form in (target, target[None]):  # (S,) or (1, S)
            table = agreement("ctc_loss", (single, form, *lengths),
                              {"reduction": CTC_REDUCTIONS})
            assert all(row["shape"] == () for row in table.rows)
    assert lossnotes.grad.ctc_loss(single, target, *lengths).shape == single.shape


# float32 CTC: lossnotes runs torch's recursions in float32 in torch's order, so only the
# exponentials and logarithms differ (NumPy's SIMD code against the C library's), each by a few
# ulps.  The loss stays within two transcendental bounds; the gradient y - gamma cancels the
# occupation gamma = exp(log sum alpha beta + nll - x), whose exponent is a difference of sums
# the size of the log-likelihood: its rounding is that size times epsilon.
CTC_LOSS_ULPS = 2 * TRANSCENDENTAL_ULPS
CTC_GRADIENT_ULPS = 2 * TRANSCENDENTAL_ULPS


def _ctc_gradient_terms(log_probs: np.ndarray, gradient: Any, nll: np.ndarray,
                        upstream: Any) -> np.ndarray:
    """The size of the two terms of torch's gradient g (y - gamma), y and g gamma (at most
    |g| y + |gradient|), times 1 + |log-likelihood| of the sequence: the rounding of gamma's
    log-space exponent."""
    with np.errstate(over="ignore", invalid="ignore"):
        size = (np.abs(np.asarray(upstream, np.float64)).max(initial=0.0)
                * np.exp(log_probs.astype(np.float64)) + np.abs(gradient.astype(np.float64)))
    finite_nll = np.where(np.isfinite(nll), np.abs(nll.astype(np.float64)), 0.0)
    return size * (1 + finite_nll.reshape(1, -1, 1) if log_probs.ndim == 3 else 1 + finite_nll)


def test_ctc_float32_agrees_within_ulps_and_keeps_dtype() -> None:
    log_probs, targets, input_lengths, target_lengths = _ctc_batch(11, steps=30, batch=5,
                                                                  classes=8, longest=10)
    args = (log_probs.astype(np.float32), targets, input_lengths, target_lengths)
    nll = torch_loss("ctc_loss", args, {"reduction": "none"})
    for reduction in CTC_REDUCTIONS:
        upstream = np.random.default_rng(3).standard_normal(nll.shape if reduction == "none"
                                                            else ()).astype(np.float32)
        ours = lossnotes.ctc_loss(*args, reduction=reduction)
        theirs, their_grad = torch_gradient("ctc_loss", args, {"reduction": reduction},
                                            grad_output=upstream)
        assert ours.dtype == np.float32 and ours.shape == theirs.shape
        assert_within_ulps(ours, theirs, CTC_LOSS_ULPS, "loss")
        grad = lossnotes.grad.ctc_loss(*args, reduction=reduction, grad_output=upstream)
        assert grad.dtype == np.float32
        terms = _ctc_gradient_terms(args[0], their_grad, nll, upstream)
        assert_within_term_ulps(grad, their_grad, terms, CTC_GRADIENT_ULPS, "gradient")


def test_ctc_float16_is_refused_as_torch_refuses_it() -> None:
    # torch's CPU kernel is compiled for float and double only.
    log_probs, targets, input_lengths, target_lengths = _ctc_batch(11)
    args = (log_probs.astype(np.float16), targets, input_lengths, target_lengths)
    with pytest.raises(NotImplementedError, match="'Half'"):
        torch_loss("ctc_loss", args)
    for function in (lossnotes.ctc_loss, lossnotes.grad.ctc_loss):
        with pytest.raises(TypeError, match="float16"):
            function(*args)


# The sweep: one extreme value at a time, at every frame, sequence and class of a small batch
# (a repeated label, an empty target, a short input), for both dtypes; the reductions and
# zero_infinity take turns.
_CTC_SWEEP_LOG_PROBS = np.log(np.random.default_rng(4).dirichlet(np.ones(3), size=(4, 3)))
_CTC_SWEEP_CALL = (np.array([[1, 2], [2, 2], [1, -1]]), np.array([4, 3, 4]), np.array([2, 2, 0]))
_CTC_SWEEP_OPTIONS = list(itertools.product(CTC_REDUCTIONS, (False, True)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("value", SPECIAL_VALUES, ids=repr)
def test_ctc_extreme_values_agree_with_torch(dtype, value) -> None:
    with torch_on_one_thread():
        for case, position in enumerate(np.ndindex(_CTC_SWEEP_LOG_PROBS.shape)):
            log_probs = _CTC_SWEEP_LOG_PROBS.copy()
            log_probs[position] = value
            args = (log_probs.astype(dtype), *_CTC_SWEEP_CALL)
            reduction, zero_infinity = _CTC_SWEEP_OPTIONS[case % len(_CTC_SWEEP_OPTIONS)]
            kwargs = {"reduction": reduction, "zero_infinity": zero_infinity}
            upstream = np.array([1.0, -2.0, 0.5] if reduction == "none" else 1.5, dtype=dtype)
            label = f"log_probs{list(position)} = {value}, {kwargs}"
            with np.errstate(all="ignore"):
                nll = torch_loss("ctc_loss", args, {"reduction": "none"})
            theirs, their_grad = torch_gradient("ctc_loss", args, kwargs, grad_output=upstream)
            ours = lossnotes.ctc_loss(*args, **kwargs)
            assert_within_term_ulps(ours, theirs, 0.0, CTC_LOSS_ULPS, f"loss, {label}")
            grad = lossnotes.grad.ctc_loss(*args, **kwargs, grad_output=upstream)
            terms = _ctc_gradient_terms(args[0], their_grad, nll, upstream)
            assert_within_term_ulps(grad, their_grad, terms, CTC_GRADIENT_ULPS,
                                    f"gradient, {label}")


def test_ctc_mean_divides_by_the_clamped_target_lengths() -> None:
    log_probs, targets, input_lengths, target_lengths = _ctc_batch(12, batch=4)
    target_lengths[1] = 0  # the empty target: its length is clamped to 1
    args = (log_probs, targets, input_lengths, target_lengths)
    none = lossnotes.ctc_loss(*args, reduction="none")
    mean = lossnotes.ctc_loss(*args)
    assert mean == pytest.approx(np.mean(none / np.maximum(target_lengths, 1)), rel=1e-15)
    assert mean != pytest.approx(np.mean(none), rel=1e-3)  # not the plain batch mean
    assert mean == pytest.approx(torch_loss("ctc_loss", args), rel=1e-14)


def test_ctc_impossible_alignments_are_infinite_and_zero_infinity_zeroes_them() -> None:
    log_probs, targets, _, _ = _ctc_batch(13, steps=6, batch=3, classes=4)
    targets = np.array([[1, 1, 2], [1, 2, 3], [2, 2, 2]])
    # Needs: 3 + 1 = 4 steps, 3 steps, 3 + 2 = 5 steps; given 3, 3, 4.
    input_lengths, target_lengths = np.array([3, 3, 4]), np.array([3, 3, 3])
    args = (log_probs, targets, input_lengths, target_lengths)
    loss = lossnotes.ctc_loss(*args, reduction="none")
    assert loss[0] == np.inf and np.isfinite(loss[1]) and loss[2] == np.inf
    zeroed = lossnotes.ctc_loss(*args, reduction="none", zero_infinity=True)
    np.testing.assert_array_equal(zeroed, [0.0, loss[1], 0.0])
    grad = lossnotes.grad.ctc_loss(*args, reduction="sum")
    _, their_grad = torch_gradient("ctc_loss", args, {"reduction": "sum"})
    # Without zero_infinity the impossible sequences' gradients are NaN (0 * inf), in torch too,
    # up to their input lengths.
    assert np.isnan(grad[:3, 0]).all() and (grad[3:, 0] == 0).all()
    np.testing.assert_array_equal(np.isnan(grad), np.isnan(their_grad))
    zero_grad = lossnotes.grad.ctc_loss(*args, reduction="sum", zero_infinity=True)
    assert (zero_grad[:, [0, 2]] == 0).all() and np.isfinite(zero_grad).all()
    np.testing.assert_allclose(zero_grad[:, 1], grad[:, 1], rtol=1e-15)
    agreement("ctc_loss", args, {"reduction": CTC_REDUCTIONS, "zero_infinity": [True]})


def test_ctc_edge_lengths_agree_with_torch() -> None:
    log_probs, _, _, _ = _ctc_batch(14, steps=5, batch=4)
    targets = np.array([[1, 2], [3, 1], [2, 2], [3, 3]])
    # An empty input with an empty target (loss 0) and with a label (inf); an empty target.
    args = (log_probs, targets, np.array([0, 0, 5, 1]), np.array([0, 2, 0, 1]))
    for zero_infinity in (False, True):
        ours = lossnotes.ctc_loss(*args, reduction="none", zero_infinity=zero_infinity)
        np.testing.assert_array_equal(
            ours, torch_loss("ctc_loss", args, {"reduction": "none",
                                                "zero_infinity": zero_infinity}))
    agreement("ctc_loss", args, {"reduction": CTC_REDUCTIONS, "zero_infinity": [True]})
    assert lossnotes.ctc_loss(*args, reduction="none")[0] == 0.0


def test_ctc_torch_gradient_is_softmax_minus_occupation_not_the_partial_derivative() -> None:
    log_probs, targets, input_lengths, target_lengths = _ctc_batch(15, steps=5, batch=2)
    args = (targets, input_lengths, target_lengths)
    torch_style = lossnotes.grad.ctc_loss(log_probs, *args, reduction="sum")
    partial = finite_difference_gradient(
        lambda v: lossnotes.ctc_loss(v, *args, reduction="sum"), log_probs
    )
    within = np.arange(5)[:, None] < input_lengths  # past the input lengths both are 0
    # torch's gradient is the partial derivative plus softmax: exp(log_probs) ...
    np.testing.assert_allclose(torch_style, partial + np.exp(log_probs) * within[..., None],
                               atol=1e-8)
    # ... which is the gradient in the logits z of log_probs = log_softmax(z), at z = log_probs.
    through_softmax = finite_difference_gradient(
        lambda z: lossnotes.ctc_loss(_log_softmax(z), *args, reduction="sum"), log_probs
    )
    np.testing.assert_allclose(torch_style, through_softmax, atol=1e-8)
    assert np.abs(torch_style - partial).max() > 0.1  # the two really differ


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_ctc_gradient_matches_finite_differences_through_log_softmax(reduction) -> None:
    log_probs, targets, input_lengths, target_lengths = _ctc_batch(16, steps=5, batch=3)
    args = (targets, input_lengths, target_lengths)
    numeric = finite_difference_gradient(
        lambda z: lossnotes.ctc_loss(_log_softmax(z), *args, reduction=reduction), log_probs
    )
    ours = lossnotes.grad.ctc_loss(log_probs, *args, reduction=reduction)
    np.testing.assert_allclose(ours, numeric, atol=1e-8)


def test_ctc_targets_containing_blank_are_accepted_as_torch_does() -> None:
    # torch's docstring says a target cannot be blank; torch 2.13 does not check, and its kernel
    # treats a target blank as an ordinary label (emitted at its state with p(blank)).
    log_probs, _, _, _ = _ctc_batch(17, steps=5, batch=2, classes=3)
    targets = np.array([[0, 1], [1, 0]])  # the blank first, and last
    args = (log_probs, targets, np.array([5, 5]), np.array([2, 2]))
    ours = lossnotes.ctc_loss(*args, reduction="none")
    for b in range(2):  # the recursion's loss: paths of l' = (0, 0, 0, 1, 0), not a collapse
        assert np.isfinite(ours[b])
    agreement("ctc_loss", args, {"reduction": CTC_REDUCTIONS})
    # The second sequence ends in the blank: there torch's gradient at the last step counts only
    # the paths ending in the last label, so it is not the gradient of its loss.
    torch_style = lossnotes.grad.ctc_loss(*args, reduction="none",
                                          grad_output=np.array([1.0, 0.0]))
    partial = finite_difference_gradient(
        lambda v: lossnotes.ctc_loss(v, *args[1:], reduction="none")[0], log_probs
    )
    np.testing.assert_allclose(torch_style[:, 0], (partial + np.exp(log_probs))[:, 0], atol=1e-8)
    torch_style = lossnotes.grad.ctc_loss(*args, reduction="none",
                                          grad_output=np.array([0.0, 1.0]))
    partial = finite_difference_gradient(
        lambda v: lossnotes.ctc_loss(v, *args[1:], reduction="none")[1], log_probs
    )
    wrong = torch_style[:, 1] - (partial + np.exp(log_probs))[:, 1]
    assert np.abs(wrong[:4]).max() < 1e-8 and np.abs(wrong[4, 0]) > 1e-3


def test_ctc_padding_is_never_read() -> None:
    log_probs, targets, input_lengths, target_lengths = _ctc_batch(18)
    args = (input_lengths, target_lengths)
    padded_99 = np.where(targets == -1, 99, targets)
    np.testing.assert_array_equal(lossnotes.ctc_loss(log_probs, targets, *args),
                                  lossnotes.ctc_loss(log_probs, padded_99, *args))
    # And the padding, or time steps past an input length, may hold NaN.
    spoiled = log_probs.copy()
    spoiled[input_lengths[1]:, 1] = np.nan
    agreement("ctc_loss", (spoiled, targets, *args), {"reduction": CTC_REDUCTIONS})


def test_ctc_nan_and_minus_infinity_propagate_as_in_torch() -> None:
    log_probs, targets, input_lengths, target_lengths = _ctc_batch(19)
    args = (targets, input_lengths, target_lengths)
    zero_probability = log_probs.copy()
    zero_probability[1, 0, :] = [0.0, -np.inf, -np.inf, -np.inf]  # certain blank at t = 1
    for spoiled in (zero_probability, np.where(np.arange(4) == 2, np.nan, log_probs)):
        loss, their_grad = torch_gradient("ctc_loss", (spoiled, *args), {"reduction": "none"},
                                          grad_output=np.ones(3))
        ours = lossnotes.ctc_loss(spoiled, *args, reduction="none")
        np.testing.assert_allclose(ours, loss, rtol=1e-14)
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(loss))
        grad = lossnotes.grad.ctc_loss(spoiled, *args, reduction="none")
        np.testing.assert_array_equal(np.isnan(grad), np.isnan(their_grad))
        finite = ~np.isnan(grad)
        np.testing.assert_allclose(grad[finite], their_grad[finite], rtol=1e-12, atol=1e-14)


def test_ctc_probabilities_instead_of_log_probabilities_are_not_refused() -> None:
    # torch checks nothing: probabilities give a finite, often negative, meaningless loss.
    log_probs, targets, input_lengths, target_lengths = _ctc_batch(20)
    args = (np.exp(log_probs), targets, input_lengths, target_lengths)
    ours = lossnotes.ctc_loss(*args, reduction="none")
    np.testing.assert_allclose(ours, torch_loss("ctc_loss", args, {"reduction": "none"}),
                               rtol=1e-14)
    assert (ours < 0).any()


CTC_REFUSALS = [
    # (change to the valid call, error, fragment of lossnotes' message)
    ({"log_probs": np.zeros((4, 2, 3), dtype=np.float16)}, TypeError, "log_probs"),
    ({"log_probs": np.zeros((4, 2, 3), dtype=np.int64)}, TypeError, "log_probs"),
    ({"log_probs": np.zeros(4)}, ValueError, "log_probs must have shape"),
    ({"log_probs": np.zeros((1, 4, 2, 3))}, ValueError, "log_probs must have shape"),
    ({"log_probs": np.zeros((4, 2, 0))}, ValueError, "log_probs must not be empty"),
    ({"targets": np.array([[1.0, 2.0], [1.0, 1.0]])}, TypeError, "targets"),
    ({"targets": np.array([[True, True], [True, False]])}, TypeError, "targets"),
    ({"targets": np.ones((2, 2, 1), dtype=int)}, ValueError, "targets must have shape"),
    ({"targets": np.array(1)}, ValueError, "targets must have shape"),
    ({"targets": np.ones((3, 2), dtype=int)}, ValueError, "N = 2 rows"),
    ({"targets": np.ones((2, 1), dtype=int)}, ValueError, "S >= max(target_lengths)"),
    ({"targets": np.ones(3, dtype=int)}, ValueError, "sum(target_lengths) = 4"),
    ({"targets": np.array([[1, 3], [1, 1]])}, ValueError, "targets must be class indices"),
    ({"targets": np.array([[1, -1], [1, 1]])}, ValueError, "targets must be class indices"),
    ({"input_lengths": np.array([4.0, 4.0])}, TypeError, "input_lengths must hold integers"),
    ({"input_lengths": [4.0, 4.0]}, TypeError, "input_lengths must hold integers"),
    ({"input_lengths": np.array([True, True])}, TypeError, "input_lengths must hold integers"),
    ({"target_lengths": (2.0, 2.0)}, TypeError, "target_lengths must hold integers"),
    ({"input_lengths": 4}, TypeError, "input_lengths must be an array"),
    ({"input_lengths": np.array([4, 4, 4])}, ValueError, "input_lengths must have one length"),
    ({"target_lengths": [2]}, ValueError, "target_lengths must have one length"),
    ({"input_lengths": np.array([5, 4])}, ValueError, "input_lengths must be at most T = 4"),
    ({"input_lengths": np.array([-1, 4])}, ValueError, "input_lengths must be non-negative"),
    ({"target_lengths": np.array([-1, 2])}, ValueError, "target_lengths must be non-negative"),
    ({"input_lengths": [[4, 4], [4]]}, ValueError, "input_lengths"),
    ({"blank": 3}, ValueError, "blank must be a class index in [0, 2]"),
    ({"blank": -1}, ValueError, "blank must be a class index"),
    ({"blank": 1.0}, TypeError, "blank must be an integer"),
    ({"blank": True}, TypeError, "blank must be an integer"),
    ({"reduction": "avg"}, ValueError, "reduction"),
    ({"reduction": None}, TypeError, "reduction"),
    ({"zero_infinity": 1}, TypeError, "zero_infinity"),
]


@pytest.mark.parametrize(("change", "error", "fragment"), CTC_REFUSALS,
                         ids=[str(list(c)[0]) + f" {i}" for i, (c, _, _) in
                              enumerate(CTC_REFUSALS)])
def test_ctc_refusals(change, error, fragment) -> None:
    call = {
        "log_probs": _log_softmax(np.random.default_rng(21).standard_normal((4, 2, 3))),
        "targets": np.array([[1, 2], [2, 2]]),
        "input_lengths": np.array([4, 4]),
        "target_lengths": np.array([2, 2]),
        **change,
    }
    for function in (lossnotes.ctc_loss, lossnotes.grad.ctc_loss):
        with pytest.raises(error, match=re.escape(fragment)):
            function(**call)
    # torch refuses all of these too, except the ones lossnotes is stricter on (see
    # tests/test_hostile.py): float or boolean targets, which torch truncates to int64, and
    # labels out of range, which torch's kernel reads outside log_probs for.
    stricter = "targets" in change and (
        change["targets"].dtype.kind in "fb" or change["targets"].ndim == 2
        and change["targets"].shape == (2, 2)
    )
    tensors = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
               for k, v in call.items()}
    if stricter:
        F.ctc_loss(**tensors)
    else:
        with pytest.raises((RuntimeError, ValueError, TypeError, NotImplementedError)):
            F.ctc_loss(**tensors)


def test_ctc_results_are_ndarrays() -> None:
    # 0-d where reduced, never a NumPy scalar: every return path.
    ctc = (_log_softmax(np.zeros((3, 2, 3))), np.array([[1, 2], [2, 1]]), [3, 3], [2, 2])
    results = [
        *(lossnotes.ctc_loss(*ctc, reduction=r) for r in CTC_REDUCTIONS),
        lossnotes.ctc_loss(ctc[0][:, 0], ctc[1][0], [3], [2], reduction="none"),
        lossnotes.grad.ctc_loss(*ctc),
    ]
    for result in results:
        assert isinstance(result, np.ndarray), type(result)
    assert [r.ndim for r in results[:4]] == [1, 0, 0, 0]  # 'none', 'mean', 'sum', unbatched


def test_ctc_grad_output_shape_is_checked() -> None:
    log_probs, targets, input_lengths, target_lengths = _ctc_batch(22)
    args = (log_probs, targets, input_lengths, target_lengths)
    with pytest.raises(ValueError, match="grad_output"):
        lossnotes.grad.ctc_loss(*args, reduction="none", grad_output=np.ones(2))
    with pytest.raises(ValueError, match="grad_output"):
        lossnotes.grad.ctc_loss(*args, grad_output=np.ones(3))
