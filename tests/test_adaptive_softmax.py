"""lossnotes._adaptive_softmax against torch.nn.AdaptiveLogSoftmaxWithLoss, finite differences and
hand-worked values."""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy as np
import pytest
import torch
from _sequence_agreement import (
    SPECIAL_VALUES,
    assert_within_term_ulps,
    torch_on_one_thread,
)
from lossspecs import SPECS_BY_NAME, Call, adaptive_gradient_magnitude, adaptive_term_magnitude

import lossnotes
from lossnotes.torchcheck import (
    TRANSCENDENTAL_ULPS,
    agreement,
    assert_within_ulps,
    finite_difference_gradient,
    torch_gradient,
    torch_loss,
)


def _asm_module(features: int, n_classes: int, cutoffs: list[int], div_value: float,
                head_bias: bool, dtype: Any = torch.float64, seed: int = 0) -> Any:
    torch.manual_seed(seed)
    with warnings.catch_warnings():  # "Initializing zero-element tensors is a no-op"
        warnings.simplefilter("ignore")
        return torch.nn.AdaptiveLogSoftmaxWithLoss(features, n_classes, cutoffs,
                                                   div_value=div_value, head_bias=head_bias,
                                                   dtype=dtype)


def _asm_weights(module: Any) -> tuple[Any, ...]:
    """The module's own weights, in lossnotes' arguments: head, tail pairs, n_classes,
    cutoffs, and the keywords."""
    head = module.head.weight.detach().numpy().copy()
    tail = [(a.weight.detach().numpy().copy(), b.weight.detach().numpy().copy())
            for a, b in module.tail]
    bias = None if module.head.bias is None else module.head.bias.detach().numpy().copy()
    return (head, tail, module.n_classes, module.cutoffs[:-1],
            {"div_value": module.div_value, "head_bias": bias})


ASM_CONFIGS = [
    # (in_features, n_classes, cutoffs, div_value, head_bias)
    (8, 10, [3, 6], 2.0, False),
    (8, 10, [3, 6], 2.0, True),
    (16, 50, [5], 4.0, False),
    (16, 300, [10, 50, 150], 4.0, True),
    (4, 12, [1, 2, 11], 1.5, False),  # one-class clusters, and hidden sizes down to 1
    (2, 6, [2, 4], 4.0, False),  # hidden sizes 0: those clusters are uniform
]


@pytest.mark.parametrize("config", ASM_CONFIGS, ids=str)
@pytest.mark.parametrize("batch", [(), (0,), (1,), (5,), (64,)], ids=str)
def test_adaptive_softmax_matches_the_module(config, batch) -> None:
    features, n_classes, cutoffs, div_value, head_bias = config
    module = _asm_module(*config)
    head, tail, classes, cuts, kwargs = _asm_weights(module)
    rng = np.random.default_rng(len(batch) + features)
    x = rng.standard_normal((*batch, features))
    target = rng.integers(0, n_classes, batch)
    output, loss = lossnotes.adaptive_log_softmax_with_loss(x, target, head, tail, classes, cuts,
                                                            **kwargs)
    tensor = torch.tensor(x, requires_grad=True)
    theirs = module(tensor, torch.tensor(target))
    assert output.shape == tuple(theirs.output.shape) and output.dtype == np.float64
    np.testing.assert_allclose(output, theirs.output.detach().numpy(), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(loss, theirs.loss.detach().numpy(), rtol=1e-13, equal_nan=True)
    # The loss is exactly the mean of -output, whatever the batch.
    assert np.array_equal(loss, np.mean(-output) if output.size else np.nan, equal_nan=True)
    # Gradient of loss (loss.backward()), and for a random upstream of both results.
    upstream = rng.standard_normal(output.shape)
    for grad_output, torch_upstream in (
        (None, (torch.zeros_like(theirs.output), torch.ones_like(theirs.loss))),
        ((upstream, np.array(0.7)),
         (torch.tensor(upstream), torch.tensor(0.7, dtype=torch.float64))),
    ):
        ours = lossnotes.grad.adaptive_log_softmax_with_loss(
            x, target, head, tail, classes, cuts, **kwargs, grad_output=grad_output)
        (their_grad,) = torch.autograd.grad(tuple(theirs), tensor, torch_upstream,
                                            retain_graph=True)
        if x.size:
            np.testing.assert_allclose(ours, their_grad.numpy(), rtol=1e-12, atol=1e-14)
    if len(batch) == 1:
        log_prob = lossnotes.adaptive_log_softmax_log_prob(x, head, tail, classes, cuts, **kwargs)
        np.testing.assert_allclose(log_prob, module.log_prob(tensor).detach().numpy(),
                                   rtol=1e-13, atol=1e-14)
        # Each row a distribution over all classes; output is log_prob at the target.
        np.testing.assert_allclose(np.exp(log_prob).sum(axis=1), 1.0, rtol=1e-13)
        np.testing.assert_allclose(log_prob[np.arange(batch[0]), target], output, rtol=1e-13)
        predicted = lossnotes.adaptive_log_softmax_predict(x, head, tail, classes, cuts, **kwargs)
        assert predicted.dtype == np.int64
        assert np.array_equal(predicted, module.predict(tensor).numpy())
        assert np.array_equal(predicted, np.argmax(log_prob, axis=1))


def test_adaptive_softmax_agrees_with_torch_in_float32_and_over_the_parameters() -> None:
    rng = np.random.default_rng(11)
    for config in ASM_CONFIGS:
        features, n_classes, cutoffs, div_value, head_bias = config
        module = _asm_module(*config)
        head, tail, classes, cuts, kwargs = _asm_weights(module)
        x = rng.standard_normal((33, features))
        target = rng.integers(0, n_classes, 33)
        result = agreement("adaptive_log_softmax_with_loss",
                           (x, target, head, tail, classes, cuts), {
                               "div_value": [div_value], "head_bias": [kwargs["head_bias"]]})
        assert result.worst < 1e-13
        single = (x.astype(np.float32), target.astype(np.int32), head.astype(np.float32),
                  [(a.astype(np.float32), b.astype(np.float32)) for a, b in tail], classes, cuts)
        bias = kwargs["head_bias"]
        agreement("adaptive_log_softmax_with_loss", single,
                  {"div_value": [div_value],
                   "head_bias": [None if bias is None else bias.astype(np.float32)]},
                  tolerance=1e-5)


# Within a few ulps of the size of the terms (lossspecs' magnitudes): the log-softmaxes cancel
# their logits' sizes, and the gradient e - p through two layers.
ASM_ULPS = TRANSCENDENTAL_ULPS

# float16 as the module computes it: each linear layer a float32 sum rounded once, the
# log-softmax with its sum and logarithm rounded to float16, every later step rounded; lossnotes
# takes the same steps, so only float32 exponentials and sums in another order differ, which
# rounding to float16 hides but for an ulp.
ASM_FLOAT16_ULPS = 1


@pytest.mark.parametrize("config", ASM_CONFIGS, ids=str)
def test_adaptive_softmax_float16_agrees_with_the_module(config) -> None:
    with torch_on_one_thread():
        features, n_classes, cutoffs, div_value, head_bias = config
        module = _asm_module(*config, dtype=torch.float16)
        head, tail, classes, cuts, kwargs = _asm_weights(module)
        rng = np.random.default_rng(24)
        x = (rng.standard_normal((64, features)) * 3).astype(np.float16)
        target = rng.integers(0, n_classes, 64)
        args = (x, target, head, tail, classes, cuts)
        upstream = (rng.standard_normal(64).astype(np.float16), np.array(0.7, dtype=np.float16))
        (output, loss), their_grad = torch_gradient("adaptive_log_softmax_with_loss", args, kwargs,
                                                    grad_output=upstream)
        ours = lossnotes.adaptive_log_softmax_with_loss(*args, **kwargs)
        assert_within_ulps(ours[0], output, ASM_FLOAT16_ULPS, "output")
        assert_within_ulps(ours[1], loss, ASM_FLOAT16_ULPS, "loss")
        grad = lossnotes.grad.adaptive_log_softmax_with_loss(*args, **kwargs, grad_output=upstream)
        assert_within_ulps(grad, their_grad, ASM_FLOAT16_ULPS, "gradient")
        tensor = torch.from_numpy(x)
        assert_within_ulps(lossnotes.adaptive_log_softmax_log_prob(x, *args[2:], **kwargs),
                           module.log_prob(tensor).detach().numpy(), ASM_FLOAT16_ULPS, "log_prob")
        assert np.array_equal(lossnotes.adaptive_log_softmax_predict(x, *args[2:], **kwargs),
                              module.predict(tensor).numpy())  # argmax of the same logits


# The sweep: one extreme value at a time in the hidden states, the head's weight or bias, or a
# cluster's projection or output weight, for targets in the shortlist and in both clusters.
_ASM_SWEEP_RNG = np.random.default_rng(25)
_ASM_SWEEP_HEAD = _ASM_SWEEP_RNG.standard_normal((4, 4))
_ASM_SWEEP_TAIL = [(_ASM_SWEEP_RNG.standard_normal((2, 4)), _ASM_SWEEP_RNG.standard_normal((2, 2))),
                   (_ASM_SWEEP_RNG.standard_normal((1, 4)), _ASM_SWEEP_RNG.standard_normal((2, 1)))]
_ASM_SWEEP_INPUT = _ASM_SWEEP_RNG.standard_normal((3, 4))
_ASM_SWEEP_BIAS = _ASM_SWEEP_RNG.standard_normal(4)
_ASM_SWEEP_PLACES = ("input", "head_weight", "head_bias", "projection", "output")


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_adaptive_softmax_extreme_values_agree_with_the_module(dtype) -> None:
    with torch_on_one_thread():
        for value, where, row in itertools.product(SPECIAL_VALUES, _ASM_SWEEP_PLACES, range(3)):
            x, head, bias = _ASM_SWEEP_INPUT.copy(), _ASM_SWEEP_HEAD.copy(), _ASM_SWEEP_BIAS.copy()
            tail = [(first.copy(), second.copy()) for first, second in _ASM_SWEEP_TAIL]
            place = {"input": (x, (row, 1)), "head_weight": (head, (row, 1)),
                     "head_bias": (bias, (row,)), "projection": (tail[0][0], (row % 2, 1)),
                     "output": (tail[1][1], (row % 2, 0))}[where]
            place[0][place[1]] = value
            with np.errstate(over="ignore"):  # 1e30 is inf in float16
                cast = [a.astype(dtype) for a in (x, head, bias)]
                tail = [(first.astype(dtype), second.astype(dtype)) for first, second in tail]
            args = (cast[0], np.array([0, 3, 5]), cast[1], tail, 6, [2, 4])
            kwargs = {"div_value": 2.0, "head_bias": cast[2]}
            upstream = (np.array([1.0, -2.0, 0.5], dtype=dtype), np.array(0.7, dtype=dtype))
            label = f"{where}[{row}] = {value}"
            with np.errstate(all="ignore"):
                (output, loss), their_grad = torch_gradient("adaptive_log_softmax_with_loss", args,
                                                            kwargs, grad_output=upstream)
            ours = lossnotes.adaptive_log_softmax_with_loss(*args, **kwargs)
            grad = lossnotes.grad.adaptive_log_softmax_with_loss(*args, **kwargs,
                                                                 grad_output=upstream)
            call = Call(args, kwargs)
            terms = adaptive_term_magnitude(call)
            spec = SPECS_BY_NAME["adaptive_log_softmax_with_loss"]
            gradient_terms = adaptive_gradient_magnitude(spec, call, {}, upstream)
            for mine, their, size, name in ((ours[0], output, terms, "output"),
                                            (ours[1], loss, terms.max(), "loss"),
                                            (grad, their_grad, gradient_terms, "gradient")):
                assert_within_term_ulps(mine, their, size, ASM_ULPS, f"{name}, {label}")


def test_adaptive_softmax_results_are_ndarrays() -> None:
    # 0-d where reduced, never a NumPy scalar: every return path.
    head, tail = np.zeros((3, 2)), [(np.zeros((1, 2)), np.zeros((2, 1)))]
    results = [
        *lossnotes.adaptive_log_softmax_with_loss(np.ones(2), np.array(3), head, tail, 4, [2], 2.0),
        *lossnotes.adaptive_log_softmax_with_loss(np.ones((2, 2)), np.array([0, 3]), head, tail,
                                                  4, [2], 2.0),
        lossnotes.grad.adaptive_log_softmax_with_loss(np.ones(2), np.array(3), head, tail, 4, [2],
                                                      2.0),
        lossnotes.adaptive_log_softmax_log_prob(np.ones((2, 2)), head, tail, 4, [2], 2.0),
        lossnotes.adaptive_log_softmax_predict(np.ones((2, 2)), head, tail, 4, [2], 2.0),
    ]
    for result in results:
        assert isinstance(result, np.ndarray), type(result)


def test_adaptive_softmax_worked_example() -> None:
    # Worked by hand (chapter adaptive_log_softmax_with_loss:worked-example): with zero weights
    # the head gives each of its 3 entries 1/3 and the cluster each of its 2 classes 1/2, so
    # class 3 has probability 1/6.
    head, tail = np.zeros((3, 2)), [(np.zeros((1, 2)), np.zeros((2, 1)))]
    output, loss = lossnotes.adaptive_log_softmax_with_loss(
        np.ones((2, 2)), np.array([0, 3]), head, tail, 4, [2], 2.0)
    np.testing.assert_allclose(output, np.log([1 / 3, 1 / 6]), rtol=1e-15)
    assert np.isclose(loss, (np.log(3) + np.log(6)) / 2, rtol=1e-15)


def test_adaptive_softmax_permuting_the_batch() -> None:
    # The property test_properties.py exempts: output and its gradient permute, loss does not
    # change.
    module = _asm_module(16, 300, [10, 50, 150], 4.0, True)
    head, tail, classes, cuts, kwargs = _asm_weights(module)
    rng = np.random.default_rng(12)
    x, target = rng.standard_normal((40, 16)), rng.integers(0, 300, 40)
    order = rng.permutation(40)
    args = (head, tail, classes, cuts)
    output, loss = lossnotes.adaptive_log_softmax_with_loss(x, target, *args, **kwargs)
    moved, moved_loss = lossnotes.adaptive_log_softmax_with_loss(x[order], target[order], *args,
                                                                 **kwargs)
    np.testing.assert_allclose(moved, output[order], rtol=1e-15)
    np.testing.assert_allclose(moved_loss, loss, rtol=1e-14)
    upstream = (rng.standard_normal(40), np.array(1.3))
    grad = lossnotes.grad.adaptive_log_softmax_with_loss(x, target, *args, **kwargs,
                                                         grad_output=upstream)
    moved_grad = lossnotes.grad.adaptive_log_softmax_with_loss(
        x[order], target[order], *args, **kwargs,
        grad_output=(upstream[0][order], upstream[1]))
    np.testing.assert_allclose(moved_grad, grad[order], rtol=1e-12, atol=1e-15)


def test_adaptive_softmax_gradient_matches_finite_differences() -> None:
    module = _asm_module(8, 10, [3, 6], 2.0, True)
    head, tail, classes, cuts, kwargs = _asm_weights(module)
    rng = np.random.default_rng(13)
    x, target = rng.standard_normal((6, 8)), np.array([0, 2, 3, 5, 6, 9])
    analytic = lossnotes.grad.adaptive_log_softmax_with_loss(x, target, head, tail, classes,
                                                            cuts, **kwargs)
    numeric = finite_difference_gradient(
        lambda v: lossnotes.adaptive_log_softmax_with_loss(v, target, head, tail, classes, cuts,
                                                           **kwargs)[1], x)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def _asm_call(**changes: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    module = _asm_module(8, 10, [3, 6], 2.0, False)
    head, tail, classes, cuts, kwargs = _asm_weights(module)
    call = {"input": np.ones((3, 8)), "target": np.array([0, 4, 9]), "head_weight": head,
            "tail_weights": tail, "n_classes": classes, "cutoffs": cuts, **kwargs}
    call.update(changes)
    return call


ASM_REFUSALS = [
    # (label, changes, our error, fragment); torch's refusal is checked against the module.
    ("cutoffs not increasing", {"cutoffs": [6, 3]}, ValueError, "cutoffs"),
    ("cutoffs repeated", {"cutoffs": [3, 3]}, ValueError, "cutoffs"),
    ("cutoff of 0", {"cutoffs": [0, 6]}, ValueError, "cutoffs"),
    ("cutoff of n_classes", {"cutoffs": [3, 10]}, ValueError, "cutoffs"),
    ("fractional cutoff", {"cutoffs": [3.5, 6]}, ValueError, "cutoffs"),
    ("no cutoffs", {"cutoffs": []}, ValueError, "cutoffs"),
    ("target too large", {"target": np.array([0, 4, 10])}, ValueError, "target"),
    ("negative target", {"target": np.array([0, -1, 9])}, ValueError, "target"),
    ("float target", {"target": np.array([0.0, 4.0, 9.0])}, TypeError, "target"),
    ("2-D target", {"target": np.array([[0, 4, 9]])}, ValueError, "target"),
    ("batch sizes differ", {"target": np.array([0, 4])}, ValueError, "batch"),
    ("1-D target with 1-D input", {"input": np.ones(8)}, ValueError, "input"),
    ("0-d target with 2-D input", {"target": np.array(4)}, ValueError, "input"),
    ("3-D input", {"input": np.ones((1, 3, 8))}, ValueError, "input"),
    ("integer input", {"input": np.ones((3, 8), dtype=np.int64)}, TypeError, "input"),
    ("float32 input, float64 weights", {"input": np.ones((3, 8), dtype=np.float32)}, TypeError,
     "dtype"),
    ("head_weight shape", {"head_weight": np.ones((4, 8))}, ValueError, "head_weight"),
    ("tail projection shape", {"tail_weights": "wide"}, ValueError, "tail_weights"),
    ("one pair too few", {"tail_weights": "short"}, ValueError, "tail_weights"),
]


@pytest.mark.parametrize("case", ASM_REFUSALS, ids=lambda case: case[0])
def test_adaptive_softmax_refuses_what_torch_refuses(case) -> None:
    label, changes, error, fragment = case
    call = _asm_call()
    if changes.get("tail_weights") == "wide":
        tail = list(call["tail_weights"])
        tail[0] = (np.ones((4, 8)), np.ones((3, 5)))  # 4 hidden units in, 5 out
        changes = {"tail_weights": tail}
    elif changes.get("tail_weights") == "short":
        changes = {"tail_weights": call["tail_weights"][:1]}
    call.update(changes)
    arguments = [call.pop(name) for name in ("input", "target", "head_weight", "tail_weights",
                                             "n_classes", "cutoffs")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises((ValueError, RuntimeError, IndexError)):
            # The module's constructor and forward, on lossnotes' arguments.
            from lossnotes.torchcheck import torch_loss

            torch_loss("adaptive_log_softmax_with_loss", arguments, call)
        for function in (lossnotes.adaptive_log_softmax_with_loss,
                         lossnotes.grad.adaptive_log_softmax_with_loss):
            with pytest.raises(error, match=fragment):
                function(*arguments, **call)


def test_adaptive_softmax_stricter_than_torch() -> None:
    call = _asm_call()
    arguments = [call.pop(name) for name in ("input", "target", "head_weight", "tail_weights",
                                             "n_classes", "cutoffs")]
    # A tail pair of other sizes that still multiply: torch's forward takes them (functional
    # weights), the module could never hold them; lossnotes asks for the module's layout.
    odd = list(arguments)
    odd[3] = [(np.ones((5, 8)), np.ones((3, 5))), arguments[3][1]]
    torch_loss("adaptive_log_softmax_with_loss", odd, call)
    with pytest.raises(ValueError, match="tail_weights"):
        lossnotes.adaptive_log_softmax_with_loss(*odd, **call)
    # log_prob and predict of 1-D input: torch fails inside (IndexError), lossnotes refuses.
    module = _asm_module(8, 10, [3, 6], 2.0, False)
    with pytest.raises(IndexError):
        module.log_prob(torch.ones(8, dtype=torch.float64))
    for function in (lossnotes.adaptive_log_softmax_log_prob,
                     lossnotes.adaptive_log_softmax_predict):
        with pytest.raises(ValueError, match="input"):
            function(np.ones(8), *arguments[2:], **call)
    # grad_output of the wrong shapes.
    for upstream in (np.ones(3), (np.ones(2), np.array(1.0)), (np.ones(3),)):
        with pytest.raises(ValueError, match="grad_output"):
            lossnotes.grad.adaptive_log_softmax_with_loss(*arguments, **call,
                                                          grad_output=upstream)
