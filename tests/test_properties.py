"""Properties of every lossnotes function, on calls hypothesis draws (see lossspecs.py).

Agreement with torch (loss, gradient for a random ``grad_output``, and warnings), and the laws of
the reductions: 'sum' is the sum of 'none', 'mean' is the right average of 'none', permuting the
batch permutes 'none' and changes nothing else, and the legacy ``size_average`` / ``reduce``
flags mean what torch says they mean.  ``LOSSNOTES_HYPOTHESIS=thorough`` runs many more examples.
"""

from __future__ import annotations

import warnings
from typing import Any

import _profiles  # noqa: F401  (loads the hypothesis profile)
import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from lossspecs import SPECS, Call, LossSpec, assert_close, assert_near, effective_reduction
from torch.nn._reduction import legacy_get_string

import lossnotes
from lossnotes.torchcheck import torch_function, torch_gradient

every_loss = pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)


def every_loss_but_the_exempt(test: str) -> pytest.MarkDecorator:
    """:data:`every_loss` without the specs to which ``test``'s law does not apply.

    Not a skip: a law about reductions says nothing of a loss that has none.  Each exemption
    states its reason in ``LossSpec.exempt``, and ``test_every_exemption_is_checked_elsewhere``
    holds each reason to naming the test that checks what the law would have.
    """
    return pytest.mark.parametrize(
        "spec", [spec for spec in SPECS if test not in spec.exempt], ids=lambda spec: spec.name
    )


def test_every_exemption_is_checked_elsewhere() -> None:
    for spec in SPECS:
        for test, reason in spec.exempt.items():
            assert test in globals(), f"{spec.name}: exempt from {test!r}, which does not exist"
            assert "test_" in reason and ".py" in reason, (
                f"{spec.name}: the exemption from {test} must name where it is checked instead"
            )


def _quietly(function: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def _as_tuple(gradient: Any) -> tuple[np.ndarray, ...]:
    return gradient if isinstance(gradient, tuple) else (gradient,)


def _messages(caught: list[warnings.WarningMessage]) -> list[str]:
    return sorted(f"{w.category.__name__}: {w.message}" for w in caught)


def _torch_loss_and_warnings(spec: LossSpec, call: Call, options: dict[str, Any]):
    def tensor(value: Any) -> Any:
        return torch.from_numpy(value.copy()) if isinstance(value, np.ndarray) else value

    kwargs = {key: tensor(value) for key, value in {**call.kwargs, **options}.items()}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loss = torch_function(spec.name)(*map(tensor, call.args), **kwargs)
    if isinstance(loss, tuple):  # a module's (output, loss)
        return tuple(part.detach().numpy() for part in loss), _messages(caught)
    return loss.numpy(), _messages(caught)


def _grad_output(data: st.DataObject, loss: Any) -> Any:
    """Shaped like the loss; a tuple of such for a loss of several results."""
    if isinstance(loss, tuple):
        return tuple(_grad_output(data, part) for part in loss)
    seed = data.draw(st.integers(0, 2**32 - 1), label="grad_output seed")
    drawn = np.random.default_rng(seed).standard_normal(loss.shape)
    return np.asarray(drawn, dtype=loss.dtype)


def _gradient_magnitude(
    spec: LossSpec, call: Call, options: dict[str, Any], upstream: np.ndarray
) -> float:
    if spec.gradient_magnitude is None:
        return 0.0
    return _quietly(spec.gradient_magnitude, spec, call, options, upstream)


def _loss_magnitude(spec: LossSpec, call: Call, options: dict[str, Any]) -> float:
    """The size of the terms the loss adds and cancels, reduced as the loss is (see
    ``LossSpec.term_magnitude``); 0 where the loss's own size bounds its rounding."""
    if spec.term_magnitude is None:
        return 0.0
    terms = spec.term_magnitude(call)
    reduction = effective_reduction(options) if spec.reductions else "none"
    if reduction == "sum":
        return float(terms.sum())
    if reduction == "mean":  # NaN where 'mean' divides by 0: the loss is NaN, compared exactly
        return float(np.nan_to_num(abs(_quietly(spec.mean_of_none, terms, call))))
    return float(terms.max(initial=0.0))


def _none_and(spec: LossSpec, call: Call, reduction: str) -> tuple[np.ndarray, np.ndarray]:
    none = _quietly(spec.loss, *call.args, **call.kwargs, reduction="none")
    reduced = _quietly(spec.loss, *call.args, **call.kwargs, reduction=reduction)
    return none, reduced


@every_loss
@given(data=st.data())
def test_loss_gradient_and_warnings_agree_with_torch(spec: LossSpec, data: st.DataObject) -> None:
    call = data.draw(spec.calls(), label="call")
    options = data.draw(spec.reduction_options(), label="options")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = spec.loss(*call.args, **call.kwargs, **options)
    theirs, their_warnings = _torch_loss_and_warnings(spec, call, options)
    precision = call.precision(*_as_tuple(theirs))
    loss_magnitude = _loss_magnitude(spec, call, options)
    assert len(_as_tuple(ours)) == len(_as_tuple(theirs)), "not as many results as torch"
    for ours_, theirs_ in zip(_as_tuple(ours), _as_tuple(theirs)):
        assert_close(ours_, theirs_, "loss", spec.pointwise and theirs_.ndim > 0, precision,
                     loss_magnitude)
    assert _messages(caught) == their_warnings

    upstream = _grad_output(data, theirs)
    magnitude = _gradient_magnitude(spec, call, options, upstream)
    differentiable = spec.torch_differentiable(call)
    if differentiable is not None:  # a known refusal of torch's backward: still there?
        with pytest.raises(RuntimeError, match="Found dtype"):
            torch_gradient(spec.name, call.args, {**call.kwargs, **options}, spec.wrt, upstream)
        call = differentiable
    _, their_gradient = torch_gradient(
        spec.name, call.args, {**call.kwargs, **options}, spec.wrt, upstream
    )
    our_gradient = _quietly(spec.grad, *call.args, **call.kwargs, **options, grad_output=upstream)
    for position, ours_, theirs_ in zip(spec.wrt, *map(_as_tuple, (our_gradient, their_gradient))):
        assert_close(ours_, theirs_, f"gradient with respect to argument {position}",
                     precision=precision, magnitude=magnitude)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.other_wrt], ids=lambda spec: spec.name)
@given(data=st.data())
def test_gradient_with_respect_to_every_differentiable_argument_agrees_with_torch(
    spec: LossSpec, data: st.DataObject
) -> None:
    """lossnotes.grad.<name>(..., wrt=names) against torch's autograd for the predictions and
    every other argument torch differentiates (targets, weights) that the call passes as a
    floating array, in a drawn order."""
    call = data.draw(spec.calls(), label="call")
    options = data.draw(spec.reduction_options(), label="options")
    call = spec.torch_differentiable(call) or call
    names = spec.parameter_names()
    given_ = {**dict(zip(names, call.args)), **call.kwargs}
    candidates = [names[i] for i in spec.wrt] + [
        name for name in spec.other_wrt
        if isinstance(given_.get(name), np.ndarray) and given_[name].dtype.kind == "f"
    ]
    chosen = data.draw(st.permutations(candidates), label="wrt")
    theirs_loss, _ = _torch_loss_and_warnings(spec, call, options)
    upstream = _grad_output(data, theirs_loss)
    positions = [names.index(name) if name not in call.kwargs else name for name in chosen]
    _, theirs = torch_gradient(spec.name, call.args, {**call.kwargs, **options}, positions,
                               upstream)
    ours = _quietly(spec.grad, *call.args, **call.kwargs, **options, grad_output=upstream,
                    wrt=tuple(chosen))
    assert isinstance(ours, tuple) and len(ours) == len(chosen)
    magnitude = _gradient_magnitude(spec, call, options, upstream)
    for name, ours_, theirs_ in zip(chosen, ours, _as_tuple(theirs)):
        assert_close(ours_, theirs_, f"gradient with respect to {name}",
                     precision=call.precision(theirs_), magnitude=magnitude)


@every_loss_but_the_exempt("test_sum_is_the_sum_of_none")
@given(data=st.data())
def test_sum_is_the_sum_of_none(spec: LossSpec, data: st.DataObject) -> None:
    call = data.draw(spec.calls(), label="call")
    none, total = _none_and(spec, call, "sum")
    terms = none.astype(np.float64)
    assert_near(total, terms.sum(), np.abs(terms).sum(), call.precision(none), "'sum'")


@every_loss_but_the_exempt("test_mean_is_the_right_average_of_none")
@given(data=st.data())
def test_mean_is_the_right_average_of_none(spec: LossSpec, data: st.DataObject) -> None:
    call = data.draw(spec.calls(), label="call")
    none, mean = _none_and(spec, call, "mean")
    expected = spec.mean_of_none(none, call)
    scale = abs(spec.mean_of_none(np.abs(none), call))
    assert_near(mean, expected, scale, call.precision(none), "'mean'")


@every_loss_but_the_exempt("test_permuting_the_batch_permutes_none_and_changes_nothing_else")
@given(data=st.data())
def test_permuting_the_batch_permutes_none_and_changes_nothing_else(
    spec: LossSpec, data: st.DataObject
) -> None:
    call = data.draw(spec.calls(), label="call")
    assume(call.output_batch_axis is not None and call.batch_size() > 1)
    order = np.array(data.draw(st.permutations(range(call.batch_size())), label="order"))
    permuted = call.permuted(order)
    reduction = data.draw(st.sampled_from(spec.reductions), label="reduction")

    loss = _quietly(spec.loss, *call.args, **call.kwargs, reduction=reduction)
    permuted_loss = _quietly(spec.loss, *permuted.args, **permuted.kwargs, reduction=reduction)
    if reduction == "none":
        loss = np.take(loss, order, axis=call.output_batch_axis)
    precision = call.precision(loss)
    assert_close(permuted_loss, loss, "loss", reduction == "none", precision)

    upstream = _grad_output(data, loss)
    magnitude = _gradient_magnitude(spec, call, {"reduction": reduction}, upstream)
    gradient = _quietly(spec.grad, *call.args, **call.kwargs, reduction=reduction,
                        grad_output=upstream)
    if reduction == "none":  # the upstream gradient follows its loss element
        upstream = np.take(upstream, order, axis=call.output_batch_axis)
    permuted_gradient = _quietly(spec.grad, *permuted.args, **permuted.kwargs,
                                 reduction=reduction, grad_output=upstream)
    for position, ours, original in zip(
        spec.wrt, *map(_as_tuple, (permuted_gradient, gradient))
    ):
        axis = call.batch_axes.get(position)
        if axis is not None and original.shape[axis] == len(order):
            original = np.take(original, order, axis=axis)
        assert_close(ours, original, f"gradient with respect to argument {position}",
                     precision=precision, magnitude=magnitude)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.legacy], ids=lambda spec: spec.name)
@given(data=st.data())
def test_legacy_flags_mean_what_torch_says(spec: LossSpec, data: st.DataObject) -> None:
    call = data.draw(spec.calls(), label="call")
    flags = {
        "size_average": data.draw(st.sampled_from((None, True, False)), label="size_average"),
        "reduce": data.draw(st.sampled_from((None, True, False)), label="reduce"),
    }
    assume(flags != {"size_average": None, "reduce": None})
    # The flags override reduction, whatever it says.
    reduction = data.draw(st.sampled_from(spec.reductions), label="reduction (overridden)")
    meant = legacy_get_string(**flags, emit_warning=False)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        flagged = spec.loss(*call.args, **call.kwargs, **flags, reduction=reduction)
    assert f"please use reduction='{meant}' instead" in " ".join(map(str, _messages(caught)))
    plain = _quietly(spec.loss, *call.args, **call.kwargs, reduction=meant)
    np.testing.assert_array_equal(flagged, plain)

    upstream = _grad_output(data, plain)
    flagged_gradient = _quietly(spec.grad, *call.args, **call.kwargs, **flags,
                                reduction=reduction, grad_output=upstream)
    plain_gradient = _quietly(spec.grad, *call.args, **call.kwargs, reduction=meant,
                              grad_output=upstream)
    for flagged_, plain_ in zip(*map(_as_tuple, (flagged_gradient, plain_gradient))):
        np.testing.assert_array_equal(flagged_, plain_)


def test_every_function_has_a_spec_and_a_benchmark() -> None:
    import sys

    from conftest import ROOT

    sys.path.insert(0, str(ROOT))
    from benchmarks.bench import CASES

    functions = set(lossnotes.__all__) - {"grad", *lossnotes.HELPERS}
    assert functions <= {spec.name for spec in SPECS}, "add a LossSpec to tests/lossspecs.py"
    assert functions <= {case.name for case in CASES}, "add a Case to benchmarks/bench.py"
    assert set(lossnotes.grad.__all__) == functions, "every loss has a gradient, nothing else"


def test_the_error_model_bounds_cancellation_by_the_terms_not_the_result() -> None:
    """The two results of #20 that were rounding noise around a true value near 0, judged
    against the size of the result itself: lossnotes -1.3e-18 and torch -7.0e-10 for a
    float32 linear cross entropy of logits near 47 (an AVX-512 machine); judged against the
    terms that cancelled (about 94), both are well within float32's rounding."""
    from lossspecs import linear_class_term_magnitude

    call = Call((np.array([-62.86356735229492], dtype=np.float32),
                 np.array([[-0.7441647052764893], [-0.15181972086429596]], dtype=np.float32),
                 np.array(0)))
    ours, theirs = np.array(-1.3e-18, dtype=np.float32), np.array(-7.0e-10, dtype=np.float32)
    magnitude = float(linear_class_term_magnitude(call).max())
    assert 90 < magnitude < 100  # 2 * 62.86 * 0.744 + log 2
    assert_close(ours, theirs, "loss", magnitude=magnitude)
    with pytest.raises(AssertionError, match="of the largest value"):
        assert_close(ours, theirs, "loss")
