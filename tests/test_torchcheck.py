"""lossnotes.torchcheck: the comparisons the chapters and tests make with torch."""

from __future__ import annotations

import numpy as np
import pytest

from lossnotes.torchcheck import (
    TRANSCENDENTAL_ULPS,
    assert_within_ulps,
    edges,
    ulp_distance,
)


def test_ulp_distance_counts_units_of_torchs_dtype() -> None:
    theirs = np.array([1.0, 2.0, 0.0, np.nan, np.inf, -np.inf], dtype=np.float32)
    up = np.nextafter(theirs, np.float32(np.inf))
    ours = np.array([up[0], np.nextafter(up[1], np.float32(9)), up[2], np.nan, np.inf, 1.0],
                    dtype=np.float32)
    np.testing.assert_array_equal(ulp_distance(ours, theirs), [1, 2, 1, 0, 0, np.inf])
    assert ulp_distance(np.float16(1.0), np.float16(1.0) + np.finfo(np.float16).eps) == 1


def test_ulp_distance_refuses_arrays_of_another_dtype() -> None:
    with pytest.raises(ValueError, match="one dtype and shape"):
        ulp_distance(np.ones(2), np.ones(2, dtype=np.float32))


def test_assert_within_ulps_on_the_avx512_log1p() -> None:
    # np.log1p(np.float32(-0.1)) on NumPy's X86_V4 path, and torch's (correctly rounded) value.
    ours, theirs = np.float32([-0.10536052]), np.float32([-0.105360515])
    assert assert_within_ulps(ours, theirs) == 1.0
    with pytest.raises(AssertionError, match="1 ulps apart"):
        assert_within_ulps(ours, theirs, ulps=0)
    with pytest.raises(AssertionError, match="inf ulps apart"):
        assert_within_ulps(np.float32([np.nan]), theirs)
    assert TRANSCENDENTAL_ULPS == 4


def test_edges_show_both_errors_and_hold_lossnotes_to_the_contract() -> None:
    x, y = np.array([0.5, np.nan, np.inf]), np.ones(3)
    table = edges("mse_loss", {
        "NaN and inf": ((x, y), {"reduction": "none"}),
        "shapes that do not broadcast": ((np.ones(3), np.ones(4)), {}),
    })
    verdicts = [row["verdict"] for row in table.rows]
    assert verdicts == ["agree", "both refuse"]
    text = repr(table)
    # torch's own message, captured from torch as it ran, beside ours.
    assert "RuntimeError: The size of tensor a (3) must match the size of tensor b (4)" in text
    assert "ValueError: input of shape (3,)" in text
    assert "<table" in table._repr_html_()


def test_edges_fail_on_an_undeclared_difference_or_refusal() -> None:
    overflow = {"-1000": ((np.array([-1000.0]), np.array([1.0])), {})}
    with pytest.raises(AssertionError, match="-1000: disagree"):
        edges("soft_margin_loss", overflow)
    declared = edges("soft_margin_loss", overflow, declared={"-1000": "torch overflows"})
    assert declared.rows[0]["verdict"] == "differs on purpose"
    agreeing = {"ordinary": ((np.array([1.0]), np.array([1.0])), {})}
    with pytest.raises(AssertionError, match="ordinary: equal"):
        edges("soft_margin_loss", agreeing, declared={"ordinary": "no longer true"})
    integers = {"integer input": ((np.array([1, 2]), np.array([1.0, 1.0])), {})}
    with pytest.raises(AssertionError, match="integer input: lossnotes refuses"):
        edges("l1_loss", integers)
    assert edges("l1_loss", integers, stricter={"integer input": "a prediction is a float"})


def test_signatures_read_torchs_functional_and_module() -> None:
    import lossnotes
    from lossnotes.torchcheck import MODULES, signatures

    losses = set(lossnotes.__all__) - {"grad", *lossnotes.HELPERS}
    assert set(MODULES) == losses
    l1 = signatures("l1_loss")
    # torch 2.13.0: F.l1_loss takes a weight, nn.L1Loss has none.
    assert l1.functional_only == ["weight"] and l1.module_only == []
    assert "weight | yes, default None | – | –" in repr(l1)
    linear = signatures("linear_cross_entropy")
    assert {"in_features", "num_classes", "bias"} <= set(linear.module_only)
    assert signatures("adaptive_log_softmax_with_loss").functional is None


def test_second_derivatives_reports_torchs_refusal() -> None:
    from lossnotes.torchcheck import second_derivatives

    rng = np.random.default_rng(0)
    assert second_derivatives("mse_loss", (rng.standard_normal(3), rng.standard_normal(3))) is None
    refusal = second_derivatives(
        "multilabel_margin_loss", (rng.standard_normal((2, 4)), np.array([[0, 1, -1, 0]] * 2))
    )
    assert refusal == (
        "RuntimeError: derivative for aten::multilabel_margin_loss_backward is not implemented"
    )


def test_signatures_pair_a_renamed_tensor_argument() -> None:
    from lossnotes.torchcheck import signatures

    # torch 2.13.0: F.poisson_nll_loss(input, target, log_input=True, ...) but
    # nn.PoissonNLLLoss(log_input=True, ...).forward(log_input, target).
    poisson = signatures("poisson_nll_loss")
    assert poisson.renamed == {"input": "log_input"} and poisson.functional_only == []
    assert "input | yes | – | call, as log_input" in repr(poisson)
    assert "log_input | yes, default True | constructor, default True | –" in repr(poisson)


def test_module_weights_reproduce_the_module() -> None:
    import torch

    import lossnotes
    from lossnotes.torchcheck import module_weights

    torch.manual_seed(0)
    module = torch.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6], div_value=2.0, head_bias=True,
                                                 dtype=torch.float64)
    head, tail, bias = module_weights(module)
    assert head.shape == (5, 8) and len(tail) == 2 and bias.shape == (5,)
    x, y = torch.randn(4, 8, dtype=torch.float64), torch.tensor([0, 4, 7, 9])
    theirs = module(x, y)
    ours = lossnotes.adaptive_log_softmax_with_loss(x.numpy(), y.numpy(), head, tail, 10, [3, 6],
                                                   div_value=2.0, head_bias=bias)
    np.testing.assert_allclose(ours[1], theirs.loss.item(), rtol=1e-12)
