"""The shared machinery in lossnotes._core: reduction, legacy flags, conversion, broadcasting."""

from __future__ import annotations

import itertools
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from torch.nn import _reduction as torch_reduction

from lossnotes import _core

FLAGS = [None, True, False]


@pytest.mark.parametrize(("size_average", "reduce"), list(itertools.product(FLAGS, FLAGS)))
def test_legacy_flags_resolve_as_torch_does(size_average, reduce) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = _core.legacy_reduction(size_average, reduce)
        theirs = torch_reduction.legacy_get_string(size_average, reduce)
    assert ours == theirs
    # Both warn with the same words.
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2 and messages[0] == messages[1]


def test_legacy_flags_override_reduction_only_when_given() -> None:
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert _core.resolve_reduction(True, False, "sum") == "none"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning without legacy flags
        assert _core.resolve_reduction(None, None, "sum") == "sum"


@pytest.mark.parametrize("bad", ["avg", "MEAN", "", "batchmean"])
def test_unknown_reduction_is_refused_by_name(bad) -> None:
    with pytest.raises(ValueError, match="reduction must be one of"):
        _core.check_reduction(bad)


@pytest.mark.parametrize("bad", [None, 1, True])
def test_non_string_reduction_is_a_type_error(bad) -> None:
    with pytest.raises(TypeError, match="reduction must be a string"):
        _core.check_reduction(bad)


def test_loss_specific_reductions_are_opt_in() -> None:
    assert _core.check_reduction("batchmean", ("none", "batchmean")) == "batchmean"


def test_apply_reduction_on_empty_and_dtype() -> None:
    empty = np.zeros(0, dtype=np.float32)
    assert np.isnan(_core.apply_reduction(empty, "mean"))
    total = _core.apply_reduction(empty, "sum")
    assert total == 0 and total.dtype == np.float32 and total.shape == ()
    loss = np.array([1.0, 2.0, 6.0])
    assert _core.apply_reduction(loss, "mean") == 3.0
    assert _core.apply_reduction(loss, "mean", denominator=4.5) == 2.0
    assert _core.apply_reduction(loss, "none") is loss


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_float16_reductions_accumulate_in_float32_as_torch_does(reduction) -> None:
    # 200 squared errors of 20 (torch 2.13.0: mean 400, sum inf, both float16): the float16
    # sum 80000 is past 65504, but torch adds in float32 and rounds once.
    squares = np.full(200, 400.0, dtype=np.float16)
    theirs = getattr(torch.from_numpy(squares), reduction)().numpy()
    ours = _core.apply_reduction(squares, reduction)
    assert ours.dtype == np.float16 and ours.shape == ()
    np.testing.assert_array_equal(ours, theirs)
    assert (reduction == "mean") == np.isfinite(ours)


def test_zero_dimensional_results_are_arrays() -> None:
    loss = np.float64(0.5) * np.ones(())  # NumPy makes a scalar of 0-d arithmetic
    assert type(_core.apply_reduction(loss, "none")) is np.ndarray
    assert type(_core.unbroadcast(np.float64(2.0), ())) is np.ndarray


def test_reduce_backward_shapes_and_refusal() -> None:
    grad = _core.reduce_backward(None, (2, 3), np.dtype(np.float64), "mean")
    assert grad.shape == (2, 3) and np.all(grad == 1 / 6)
    with pytest.raises(ValueError, match="grad_output must have the shape of the loss"):
        _core.reduce_backward(np.ones(3), (2, 3), np.dtype(np.float64), "none")


def test_as_float_array_rules() -> None:
    assert _core.as_float_array([1, 2], "input").dtype == np.float64  # plain Python numbers
    assert _core.as_float_array(np.ones(2, np.float32), "input").dtype == np.float32
    with pytest.raises(TypeError, match="input must be a floating-point array"):
        _core.as_float_array(np.array([1, 2]), "input")
    with pytest.raises(TypeError, match="target must be a floating-point array"):
        _core.as_float_array(np.array([1 + 2j]), "target")
    with pytest.raises(ValueError, match="input must be a rectangular array"):
        _core.as_float_array([[1.0], [1.0, 2.0]], "input")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ((3,), ()),
        ((), (3,)),
        ((2, 1), (3,)),
        ((), ()),
    ],
)
@pytest.mark.parametrize("dtypes", [(np.float32, np.float64), (np.float64, np.float32)])
def test_result_dtype_follows_torch_promotion(first, second, dtypes) -> None:
    a = np.zeros(first, dtype=dtypes[0])
    b = np.zeros(second, dtype=dtypes[1])
    expected = torch.result_type(torch.from_numpy(a), torch.from_numpy(b))
    assert _core.result_dtype(a, b) == torch.empty(0, dtype=expected).numpy().dtype


def test_broadcast_pair_warns_like_torch_and_refuses_mismatch() -> None:
    with pytest.warns(UserWarning, match=r"torch.Size\(\[3\]\).*torch.Size\(\[3, 1\]\)"):
        _core.broadcast_pair(np.zeros((3, 1)), np.zeros(3))
    with pytest.raises(ValueError, match=r"input of shape \(3,\) and target of shape \(2,\)"):
        _core.broadcast_pair(np.zeros(3), np.zeros(2))


@pytest.mark.parametrize(
    ("grad_shape", "shape"),
    [((4, 3), (4, 1)), ((4, 3), (3,)), ((4, 3), ()), ((2, 4, 3), (1, 4, 1))],
)
def test_unbroadcast_matches_autograd(grad_shape, shape) -> None:
    grad = np.random.default_rng(0).standard_normal(grad_shape)
    leaf = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
    (leaf.expand(grad_shape) * torch.from_numpy(grad)).sum().backward()
    assert np.allclose(_core.unbroadcast(grad, shape), leaf.grad.numpy(), rtol=1e-14)


def test_check_positive() -> None:
    assert _core.check_positive(0, "beta", allow_zero=True) == 0.0
    with pytest.raises(ValueError, match="beta must be non-negative"):
        _core.check_positive(-1.0, "beta", allow_zero=True)
    with pytest.raises(ValueError, match="delta must be positive"):
        _core.check_positive(0.0, "delta", allow_zero=False)
    with pytest.raises(TypeError, match="delta must be a real number"):
        _core.check_positive("1", "delta", allow_zero=False)


def test_importing_lossnotes_does_not_import_torch() -> None:
    code = "import sys, lossnotes, lossnotes.grad; assert 'torch' not in sys.modules, 'torch'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(("shape_x", "shape_y"), [((3,), ()), ((), (3,)), ((2, 1), (3,))])
def test_broadcast_pair_promotes_as_torch_after_broadcasting(shape_x, shape_y) -> None:
    # torch broadcasts input and target before subtracting them, so a 0-d float64 side counts.
    x, y = np.zeros(shape_x, np.float32), np.zeros(shape_y, np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expanded_x, expanded_y = _core.broadcast_pair(x, y)
        theirs = torch.nn.functional.l1_loss(torch.from_numpy(x), torch.from_numpy(y))
    assert expanded_x.dtype == expanded_y.dtype == theirs.numpy().dtype


# What torch's argument parser takes for a float (torch 2.13.0: margin_ranking_loss's margin,
# huber_loss's delta, cross_entropy's label_smoothing): Python and NumPy numbers and bools;
# not a string, None, complex or a 0-d NumPy array.
@pytest.mark.parametrize("value", [1, 1.5, True, np.float32(0.5), np.int64(2), np.bool_(True)])
def test_real_number_takes_what_torchs_parser_takes(value) -> None:
    assert _core.real_number(value, "margin") == float(value)
    theirs = torch.nn.functional.huber_loss(torch.zeros(1), torch.ones(1), delta=value)
    assert theirs.shape == ()


@pytest.mark.parametrize("value", ["1", None, 1 + 0j, np.array(1.0), np.array([1.0])])
def test_real_number_refuses_what_torchs_parser_refuses(value) -> None:
    with pytest.raises(TypeError, match="margin must be a real number"):
        _core.real_number(value, "margin")
    with pytest.raises(TypeError):
        torch.nn.functional.huber_loss(torch.zeros(1), torch.ones(1), delta=value)


def test_check_flag_takes_bools_only() -> None:
    assert _core.check_flag(np.bool_(False), "swap") is False
    for value in (1, "yes", None):
        with pytest.raises(TypeError, match="swap must be a bool"):
            _core.check_flag(value, "swap")


def test_label_smoothing_rule() -> None:
    # torch takes True as 1 and refuses 1.5; below 0 and NaN it silently smooths nothing.
    assert _core.check_label_smoothing(True) == 1.0
    for value in (1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\]"):
            _core.check_label_smoothing(value)
    with pytest.raises(TypeError, match="label_smoothing must be a real number"):
        _core.check_label_smoothing("0.1")


def test_smoothing_mixes() -> None:
    np.testing.assert_array_equal(
        _core.smooth_index_terms(np.array([2.0]), np.array([6.0]), 0.5, 3), [2.0]
    )
    np.testing.assert_array_equal(
        _core.smooth_probabilities(np.array([1.0, 0.0]), 0.5, 2), [0.75, 0.25]
    )


def test_common_shape_names_every_array() -> None:
    shapes = {"input1": np.ones((2, 3)), "input2": np.ones(3), "target": np.ones((2, 1))}
    assert _core.common_shape(**shapes) == (2, 3)
    with pytest.raises(ValueError, match=r"input1 of shape \(2, 3\), input2 of shape \(4,\) "
                                         r"and target of shape \(2, 1\)"):
        _core.common_shape(**{**shapes, "input2": np.ones(4)})


def test_check_class_indices_names_the_dtypes() -> None:
    assert _core.check_class_indices(np.array([1]), (np.int64,)).dtype == np.int64
    with pytest.raises(TypeError, match="dtype int64 or uint8; got float64; a hint"):
        _core.check_class_indices(np.array([1.0]), (np.int64, np.uint8), "; a hint")


def test_operation_dtype_as_torch() -> None:
    cases = [(np.ones(2, np.float32), np.ones(2, np.int64)),
             (np.ones(2, np.int64), np.ones(2, np.float16)),
             (np.ones(2, np.float32), np.ones((), np.float64)),
             (np.ones(2, np.float16), np.ones(2, np.float32))]
    for first, second in cases:
        theirs = (torch.from_numpy(first) * torch.from_numpy(second)).numpy().dtype
        assert _core.operation_dtype(first, second) == theirs
