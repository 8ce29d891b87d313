"""Hostile inputs, one table for every lossnotes function, with torch's own behaviour recorded.

Each row is a call, what torch 2.13.0 does with it (refuses with an exception whose message
contains a fragment, or accepts), and what lossnotes does.  The rules:

- what torch refuses, lossnotes refuses with ``ValueError`` or ``TypeError`` whose message names
  the offending argument, and so does ``lossnotes.grad``;
- what both accept gives the same result (NaN propagates as in torch), and the same gradient;
- lossnotes may be stricter than torch only where a row says why;
- lossnotes may give another number than torch only where a row declares it (:class:`Differs`):
  the rows whose ``ours`` is a ``Differs`` are the one table of deliberate numeric differences,
  each with its reason and both values, checked as recorded.

torch's behaviour is asserted too, so a torch upgrade that changes it fails here and is noticed.
A new loss adds its rows with :func:`rows`; ``test_every_function_has_rows`` enforces it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch
from lossspecs import SPECS_BY_NAME, Call, assert_close

import lossnotes
from lossnotes.torchcheck import torch_function, torch_gradient


@dataclass(frozen=True)
class Refuses:
    """An exception of type ``error`` whose message contains ``fragment``."""

    error: type[Exception]
    fragment: str


@dataclass(frozen=True)
class Differs:
    """Both accept the call, and lossnotes gives another value than torch on purpose, for the
    reason ``why``: torch's value and ours as recorded (the loss, or the gradient when the row
    has a ``grad_output``), NaN and infinities included."""

    why: str
    torch_value: Any
    ours_value: Any


ACCEPTS = "accepts"
Outcome = Refuses | Differs | str


@dataclass(frozen=True)
class Row:
    function: str
    label: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    torch: Outcome
    ours: Outcome
    why_stricter: str = ""  # required when torch accepts and lossnotes refuses
    grad_output: Any = field(default=None)  # passed to lossnotes.grad, and to torch's autograd

    @property
    def id(self) -> str:
        return f"{self.function}: {self.label}"


def rows(
    functions: tuple[str, ...] | str,
    label: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any] | None = None,
    *,
    torch: Outcome | dict[str, Outcome],
    ours: Outcome | dict[str, Outcome],
    why_stricter: str = "",
    grad_output: Any = None,
) -> list[Row]:
    """One row per function; ``torch`` and ``ours`` may differ by function (a dict by name)."""
    functions = (functions,) if isinstance(functions, str) else functions

    def pick(outcome: Outcome | dict[str, Outcome], name: str) -> Outcome:
        return outcome[name] if isinstance(outcome, dict) else outcome

    return [
        Row(name, label, args, dict(kwargs or {}), pick(torch, name), pick(ours, name),
            why_stricter, grad_output)
        for name in functions
    ]


REGRESSION = ("l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss")
WEIGHTED = ("l1_loss", "mse_loss", "huber_loss")

x = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -3.0]])
y = np.array([[1.0, 1.0, 1.0], [0.0, 0.25, -2.0]])
integers = np.array([[1, 2, 3], [4, 5, 6]])
nan_x = np.array([[np.nan, 1.0, 2.0], [0.0, np.inf, -np.inf]])

PREDICTION_MUST_BE_FLOAT = (
    "a prediction is what a model outputs and is differentiated: torch's autograd cannot "
    "differentiate an integer or complex tensor, so lossnotes refuses one up front"
)

CLASS_LOSSES = ("cross_entropy", "nll_loss")
CE_MULTI_TARGET = "0D or 1D target tensor expected, multi-target not supported"
CE_SIZE_MISMATCH = "size mismatch (got input: [2, 5, 3, 4] , target: [2, 3, 5]"
ce_x = np.array([[0.5, -1.0, 2.0, 0.0, 1.5], [1.0, 0.0, -3.0, 0.5, 0.25],
                 [2.0, 1.0, 0.0, -1.0, -2.0]])  # (N, C) = (3, 5)
ce_index = np.array([1, 0, 4])
ce_probabilities = np.full((3, 5), 0.2)
ce_weight = np.array([1.0, 2.0, 0.5, 1.0, 3.0])
ce_image = np.linspace(-2.0, 2.0, 2 * 5 * 3 * 4).reshape(2, 5, 3, 4)  # (N, C, H, W)
ce_nan_x = np.array([[np.nan, 1.0, 0.0, 0.0, 0.0], [0.0, np.inf, 0.0, 0.0, 0.0],
                     [0.0, 1.0, -np.inf, 0.0, 0.0]])
NEGATIVE_SMOOTHING = (
    "the docs give label_smoothing in [0.0, 1.0], and torch refuses values above 1, but its "
    "kernel smooths only when label_smoothing > 0, so a negative value or NaN is silently "
    "taken as 0: a typo that changes nothing without a word; lossnotes refuses it"
)
UINT8_WRAP = (
    "torch's smoothing term compares uint8 targets with ignore_index in uint8 (modulo 256: "
    "-100 is 156), its likelihood term compares them exactly, so class 156 of 200 is half "
    "ignored (dropped from the smoothing term and its 'mean' denominator, kept in the "
    "likelihood): a number no formula gives; lossnotes refuses it rather than reproduce it"
)
BINARY = ("binary_cross_entropy", "binary_cross_entropy_with_logits")
BCE_ONLY, LOGITS_ONLY = BINARY
probs = np.array([[0.2, 0.7, 0.9], [0.5, 0.1, 0.3]])
labels = np.array([[0.0, 1.0, 1.0], [0.0, 1.0, 0.0]])
saturated = np.array([[0.0, 1.0, 0.0], [1.0, 1e-30, 1.0]])
huge_logits = np.array([[-1e4, 1e4, -1e4], [1e4, 0.0, -40.0]])
BCE_INPUT_RANGE = "all elements of input should be between 0 and 1"
BCE_TARGET_RANGE = "all elements of target should be between 0 and 1"


def binary_rows(label: str, build: Any, kwargs: dict[str, Any] | None = None, **outcomes: Any):
    """:func:`rows` for both binary losses, ``build(prediction)`` making the arguments from the
    prediction each takes: probabilities for binary_cross_entropy, logits (``x``) for the
    other."""
    predictions = {BCE_ONLY: probs, LOGITS_ONLY: x}
    return [
        row
        for name in BINARY
        for row in rows(name, label, build(predictions[name]), kwargs, **outcomes)
    ]


log_q = np.log(np.array([[0.25, 0.5, 0.25], [0.5, 0.25, 0.25]]))  # kl_div's input
p = np.array([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]])  # its target, with exact zeros
log_rate = np.array([[0.5, -1.0, 2.0], [0.0, 1.0, -3.0]])
counts = np.array([[0.0, 1.0, 3.0], [7.0, 0.0, 2.0]])
mean = x
variance = np.array([[1.0, 0.5, 2.0], [0.25, 1.0, 4.0]])


def _poisson_full(log_rate: np.ndarray, counts: np.ndarray, dtype: type) -> np.ndarray:
    """poisson_nll_loss(log_rate, counts, full=True, reduction='none') worked by hand in float64,
    but for Stirling's term of the counts above 1, each operation in ``dtype``."""
    t = counts.astype(dtype)
    half, two_pi = dtype(0.5), dtype(2 * np.pi)
    stirling = (t * np.log(t) - t + half * np.log(two_pi * t)).astype(np.float64)
    c = counts.astype(np.float64)
    return np.exp(log_rate) - c * log_rate + np.where(c > 1, stirling, 0.0)
# Gaussian rows are refusals only: test_what_both_accept_agrees compares one gradient, and
# lossnotes.grad.gaussian_nll_loss returns two (input, var); test_likelihood.py checks what
# torch accepts, var shape by var shape.
scores1 = np.array([2.0, 0.5, 1.0])
scores2 = np.array([1.0, 1.0, 1.0])
ranks = np.array([1.0, -1.0, 1.0])
distances = np.array([[0.25, 1.0, 2.0], [0.0, 0.5, 1.5]])
similar = np.array([[1.0, -1.0, -1.0], [1.0, 1.0, -1.0]])
emb1 = np.array([[1.0, 0.0, 2.0], [0.5, -1.0, 0.0], [0.0, 0.0, 0.0]])
emb2 = np.array([[1.0, 1.0, 0.0], [0.5, -1.0, 0.0], [1.0, 2.0, 3.0]])
pair_labels = np.array([1.0, -1.0, 1.0])
# Margin ranking and cosine embedding rows are mostly refusals: test_embedding.py checks what
# torch accepts, shape by shape and label by label (and at the edges of every dtype).
COMPLEX_LABEL = (
    "a label is 1, -1 or another real number; torch only compares a complex one with 1 and -1, "
    "so lossnotes refuses it rather than guess what it means"
)
TRIPLETS = ("triplet_margin_loss", "triplet_margin_with_distance_loss")
anchors = np.array([[0.0, 0.0], [1.0, 2.0], [-1.0, 0.5]])
positives = np.array([[0.5, 0.0], [1.0, 2.0], [0.0, 0.0]])
negatives = np.array([[2.0, 1.0], [1.0, 2.5], [0.0, 3.0]])
triplet = (anchors, positives, negatives)
# Triplet rows are mostly refusals: test_embedding.py checks what torch accepts.
CLASS_HINGES = ("multilabel_margin_loss", "multi_margin_loss")
EMPTY_BATCH = (
    "torch checks the dtypes of target and weight in its kernel, which an empty batch never "
    "reaches; lossnotes checks them for every batch, as torch does for a non-empty one"
)
class_scores = np.array([[0.1, 0.2, 0.4, 0.8], [0.5, -1.0, 2.0, 0.0]])
# Targets 3 and 0 (the 1 after the -1 is ignored), and target 2 alone.
padded_labels = np.array([[3, 0, -1, 1], [2, -1, -1, -1]])
class_labels = np.array([3, 2])
CLASS_TARGETS = {"multilabel_margin_loss": padded_labels, "multi_margin_loss": class_labels}


def class_rows(label: str, change: Any = None, kwargs: dict[str, Any] | None = None,
               **outcomes: Any) -> list[Row]:
    """Rows for both class-index hinge losses on (class_scores, its target), after
    ``change(input, target, name) -> (input, target)``."""
    found = []
    for name in CLASS_HINGES:
        args = (class_scores, CLASS_TARGETS[name])
        if change is not None:
            args = change(*args, name)
        found += rows(name, label, args, kwargs, **outcomes)
    return found
scores = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -3.0]])
signs = np.array([[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0]])
labels01 = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
# CTC: T = 5, N = 2, C = 3, targets "1 2" and "2 2" (the repeat needs 3 steps; 4 given).
ctc_log_probs = np.log(np.random.default_rng(0).dirichlet(np.ones(3), size=(5, 2)))
ctc_targets = np.array([[1, 2], [2, 2]])
ctc_lengths = (np.array([5, 4]), np.array([2, 2]))
CTC = (ctc_log_probs, ctc_targets, *ctc_lengths)
ctc_spoiled = ctc_log_probs.copy()
ctc_spoiled[1, 0, 1] = -np.inf  # a label of probability 0: its gradient is NaN in torch
ctc_spoiled[2, 1, 0] = np.nan  # the whole second sequence is NaN
CTC_TORCH_CASTS_TARGETS = (
    "torch casts the targets to int64 without a word (1.7 becomes label 1, True label 1); a "
    "label is an integer, so lossnotes refuses any other dtype"
)
CTC_TORCH_READS_OUTSIDE = (
    "torch's kernel does not check the labels and reads log_probs outside the class axis "
    "(another sequence's or time step's entry, or memory outside the tensor): a meaningless "
    "number, so lossnotes refuses a label outside [0, C)"
)
# linear_cross_entropy: hidden states (4, 3), a projection to 5 classes, and the class indices.
# Mostly refusals (and stricter-than-torch rows); test_sequence.py checks what torch accepts,
# parameter by parameter, and its extreme values.
hidden = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -3.0], [0.0, 1.0, 1.0], [2.0, 2.0, -1.0]])
projection = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, -1.0], [1.0, 1.0, 1.0], [0.0, 0.0, 2.0],
                       [-1.0, 0.5, 0.0]])
tokens = np.array([0, 4, 2, 1])
token_probs = np.full((4, 5), 0.2)


def _chunked(**fields: Any) -> Any:
    return torch.nn.LinearCrossEntropyOptions(**fields)

# adaptive_log_softmax_with_loss: 3 hidden states of 8 features, 10 classes, cutoffs [3, 6] with
# div_value 2, in the module's layout. Refusals only (and stricter-than-torch rows): it returns
# two results, which test_what_both_accept_agrees does not compare; test_sequence.py checks
# what torch accepts against the module's own weights.
_vocab_rng = np.random.default_rng(7)
asm_input = _vocab_rng.standard_normal((3, 8))
asm_target = np.array([0, 4, 9])
asm_head = _vocab_rng.standard_normal((5, 8))
asm_tail = [(_vocab_rng.standard_normal((4, 8)), _vocab_rng.standard_normal((3, 4))),
            (_vocab_rng.standard_normal((2, 8)), _vocab_rng.standard_normal((4, 2)))]
ASM_CUTOFFS_RULE = "cutoffs should be a sequence of unique, positive integers sorted"


def asm_args(**changes: Any) -> tuple[Any, ...]:
    """(input, target, head_weight, tail_weights, n_classes, cutoffs), some replaced."""
    args = {"input": asm_input, "target": asm_target, "head_weight": asm_head,
            "tail_weights": asm_tail, "n_classes": 10, "cutoffs": [3, 6], **changes}
    return tuple(args.values())

TABLE: list[Row] = [
    # Shapes.
    *rows(REGRESSION, "shapes that do not broadcast", (x, np.ones((2, 4))),
          torch=Refuses(RuntimeError, "must match the size of tensor"),
          ours=Refuses(ValueError, "target")),
    *rows(REGRESSION, "3 against 2 elements", (np.ones(3), np.ones(2)),
          torch=Refuses(RuntimeError, "must match the size of tensor"),
          ours=Refuses(ValueError, "target")),
    *rows(WEIGHTED, "weight of another shape", (x, y), {"weight": np.ones(3)},
          torch=Refuses(ValueError, "Weights and input must have the same size"),
          ours=Refuses(ValueError, "weight")),
    *rows(WEIGHTED, "weight of the broadcast shape, not the input's", (np.ones((2, 1)), y),
          {"weight": np.ones((2, 3))},
          torch=Refuses(ValueError, "Weights and input must have the same size"),
          ours=Refuses(ValueError, "weight")),
    *rows(REGRESSION, "broadcastable shapes (torch warns)", (np.ones((2, 1)), y),
          torch=ACCEPTS, ours=ACCEPTS),
    *rows(REGRESSION, "empty batch: 'mean' is NaN", (np.ones((0, 3)), np.ones((0, 3))),
          torch=ACCEPTS, ours=ACCEPTS),
    # Reductions.
    *rows(REGRESSION, "unknown reduction", (x, y), {"reduction": "avg"},
          torch=Refuses(ValueError, "avg is not a valid value for reduction"),
          ours=Refuses(ValueError, "reduction")),
    *rows(REGRESSION, "reduction of another case", (x, y), {"reduction": "Mean"},
          torch=Refuses(ValueError, "Mean is not a valid value for reduction"),
          ours=Refuses(ValueError, "reduction")),
    *rows(WEIGHTED, "unknown reduction with a weight", (x, y),
          {"reduction": "avg", "weight": np.ones((2, 3))},
          torch=Refuses(ValueError, "Invalid reduction mode: avg"),
          ours=Refuses(ValueError, "reduction")),
    *rows(REGRESSION, "reduction that is not a string", (x, y), {"reduction": 1},
          torch=Refuses(ValueError, "1 is not a valid value for reduction"),
          ours=Refuses(TypeError, "reduction")),
    *rows(REGRESSION, "reduction=None", (x, y), {"reduction": None},
          torch=Refuses(ValueError, "None is not a valid value for reduction"),
          ours=Refuses(TypeError, "reduction")),
    # Dtypes.
    *rows(REGRESSION, "integer input and target", (integers, integers),
          torch={
              "l1_loss": Refuses(RuntimeError, "could not infer output dtype"),
              "mse_loss": Refuses(NotImplementedError, "\"mse_cpu\" not implemented for 'Long'"),
              "smooth_l1_loss": Refuses(
                  NotImplementedError, "\"smooth_l1_cpu\" not implemented for 'Long'"
              ),
              "huber_loss": Refuses(
                  NotImplementedError, "\"huber_cpu\" not implemented for 'Long'"
              ),
          },
          ours=Refuses(TypeError, "input")),
    *rows(REGRESSION, "integer input, float target", (integers, y),
          torch={
              "l1_loss": ACCEPTS,
              "mse_loss": ACCEPTS,
              "smooth_l1_loss": ACCEPTS,
              "huber_loss": Refuses(RuntimeError, "can't be cast to the desired output type Long"),
          },
          ours=Refuses(TypeError, "input"), why_stricter=PREDICTION_MUST_BE_FLOAT),
    *rows(REGRESSION, "complex input and target", (x.astype(complex), y.astype(complex)),
          torch={
              "l1_loss": ACCEPTS,
              "mse_loss": Refuses(NotImplementedError, "not implemented for 'ComplexDouble'"),
              "smooth_l1_loss": Refuses(
                  NotImplementedError, "not implemented for 'ComplexDouble'"
              ),
              "huber_loss": Refuses(NotImplementedError, "not implemented for 'ComplexDouble'"),
          },
          ours=Refuses(TypeError, "input"), why_stricter=PREDICTION_MUST_BE_FLOAT),
    *rows(REGRESSION, "boolean input, float target", (integers > 2, y),
          torch={
              "l1_loss": Refuses(RuntimeError, "with a bool tensor is not supported"),
              "mse_loss": ACCEPTS,
              "smooth_l1_loss": ACCEPTS,
              "huber_loss": Refuses(RuntimeError, "can't be cast to the desired output type Bool"),
          },
          ours=Refuses(TypeError, "input"), why_stricter=PREDICTION_MUST_BE_FLOAT),
    *rows(REGRESSION, "complex target", (x, y.astype(complex)),
          torch={
              "l1_loss": ACCEPTS,
              "mse_loss": Refuses(NotImplementedError, "not implemented for 'ComplexDouble'"),
              "smooth_l1_loss": Refuses(
                  NotImplementedError, "not implemented for 'ComplexDouble'"
              ),
              "huber_loss": Refuses(
                  RuntimeError, "ComplexDouble can't be cast to the desired output type Double"
              ),
          },
          ours=Refuses(TypeError, "target"),
          why_stricter="a regression target is a real value; torch's l1_loss takes a complex "
          "one and returns the modulus |x - y|, which no regression loss documents"),
    *rows(REGRESSION, "integer target is promoted", (x, integers), torch=ACCEPTS, ours=ACCEPTS),
    *rows(REGRESSION, "boolean target", (x, integers > 2),
          torch={
              "l1_loss": Refuses(RuntimeError, "with a bool tensor is not supported"),
              "mse_loss": ACCEPTS,
              "smooth_l1_loss": ACCEPTS,
              "huber_loss": ACCEPTS,
          },
          ours=Refuses(TypeError, "target"),
          why_stricter="a boolean is a mask, not a regression target; torch's l1_loss refuses "
          "it, and lossnotes refuses it in all four rather than in one"),
    *rows(WEIGHTED, "integer weight", (x, y), {"weight": integers},
          torch=ACCEPTS, ours=Refuses(TypeError, "weight"),
          why_stricter="a weight is refused unless floating point; torch promotes it"),
    # Values: NaN and infinities propagate in the regression losses.
    *rows(REGRESSION, "NaN and infinite input", (nan_x, y), {"reduction": "none"},
          torch=ACCEPTS, ours=ACCEPTS),
    *rows(REGRESSION, "NaN and infinite input, 'mean'", (nan_x, y), torch=ACCEPTS, ours=ACCEPTS),
    *rows(REGRESSION, "NaN and infinite target", (y, nan_x), {"reduction": "sum"},
          torch=ACCEPTS, ours=ACCEPTS),
    # Parameters.
    *rows("smooth_l1_loss", "negative beta", (x, y), {"beta": -0.5},
          torch=Refuses(RuntimeError, "does not support negative values for beta"),
          ours=Refuses(ValueError, "beta")),
    *rows("smooth_l1_loss", "NaN beta", (x, y), {"beta": float("nan")},
          torch=Refuses(RuntimeError, "does not support negative values for beta"),
          ours=Refuses(ValueError, "beta")),
    *rows("smooth_l1_loss", "beta that is a string", (x, y), {"beta": "1"},
          torch=Refuses(TypeError, "argument 'beta' (position 4) must be float, not str"),
          ours=Refuses(TypeError, "beta")),
    *rows("smooth_l1_loss", "beta=None", (x, y), {"beta": None},
          torch=Refuses(TypeError, "must be float, not NoneType"),
          ours=Refuses(TypeError, "beta")),
    *rows("smooth_l1_loss", "beta=0 is the L1 loss", (x, y), {"beta": 0.0},
          torch=ACCEPTS, ours=ACCEPTS),
    *rows("smooth_l1_loss", "infinite beta", (x, y), {"beta": float("inf")},
          torch=ACCEPTS, ours=ACCEPTS),
    *rows("huber_loss", "zero delta", (x, y), {"delta": 0.0},
          torch=Refuses(RuntimeError, "does not support non-positive values for delta"),
          ours=Refuses(ValueError, "delta")),
    *rows("huber_loss", "negative delta", (x, y), {"delta": -1.0},
          torch=Refuses(RuntimeError, "does not support non-positive values for delta"),
          ours=Refuses(ValueError, "delta")),
    *rows("huber_loss", "NaN delta", (x, y), {"delta": float("nan")},
          torch=Refuses(RuntimeError, "does not support non-positive values for delta"),
          ours=Refuses(ValueError, "delta")),
    *rows("huber_loss", "delta that is a string", (x, y), {"delta": "1"},
          torch=Refuses(TypeError, "argument 'delta' (position 4) must be float, not str"),
          ours=Refuses(TypeError, "delta")),
    *rows("huber_loss", "infinite delta", (x, y), {"delta": float("inf")},
          torch=ACCEPTS, ours=ACCEPTS),
    # torch's Huber and Smooth L1 backward kernels compute each block of 32 elements with one
    # formula and the n mod 32 left over with another; lossnotes computes every element as the
    # blocks are computed (the chapters' pitfalls), so a short input can differ from torch's.
    *rows("smooth_l1_loss", "gradient at d = 0 once beta rounds to 0, under 32 elements",
          (np.array([1.0, -2.0, 0.5, 0.0], np.float32), np.zeros(4, np.float32)),
          {"beta": 1e-46, "reduction": "none"}, grad_output=np.ones(4, np.float32),
          torch=ACCEPTS,
          ours=Differs("torch's kernel gives sign(d) once beta is 0 in float32, with -1 at "
                       "d = 0 on its blocks of 32 elements but d / beta = 0 on the rest (beta "
                       "unrounded there); lossnotes gives every element the blocks' -1",
                       torch_value=[1.0, -1.0, 1.0, 0.0], ours_value=[1.0, -1.0, 1.0, -1.0])),
    *rows("huber_loss", "gradient with delta below float32's range, under 32 elements",
          (np.array([2.0, 0.5], np.float32), np.zeros(2, np.float32)),
          {"delta": 1e-46, "reduction": "none"},
          grad_output=np.array([np.inf, 1.0], np.float32), torch=ACCEPTS,
          ours=Differs("torch's kernel multiplies the upstream gradient by delta rounded to "
                       "the dtype (0, and 0 * inf is NaN) on its blocks of 32 elements but by "
                       "delta unrounded (1e-46 * inf = inf) on the rest; lossnotes computes "
                       "every element as the blocks do (so does float16, with delta = 1e-12)",
                       torch_value=[np.inf, 0.0], ours_value=[np.nan, 0.0])),
    *rows(("l1_loss", "mse_loss", "smooth_l1_loss"), "legacy flags override reduction", (x, y),
          {"size_average": False, "reduce": True, "reduction": "none"},
          torch=ACCEPTS, ours=ACCEPTS),
    # The upstream gradient.
    *rows(REGRESSION, "grad_output of the wrong shape", (x, y), {"reduction": "none"},
          grad_output=np.ones(3),
          torch=Refuses(RuntimeError, "Mismatch in shape"),
          ours=Refuses(ValueError, "grad_output")),
    *rows(REGRESSION, "grad_output that is not a scalar for 'mean'", (x, y),
          grad_output=np.ones((2, 3)),
          torch=Refuses(RuntimeError, "Mismatch in shape"),
          ours=Refuses(ValueError, "grad_output")),
    # Shapes.
    *rows(CLASS_LOSSES, "batch size of target does not match: shape", (ce_x, np.array([1, 0])),
          torch=Refuses(ValueError, "Expected input batch_size (3) to match target batch_size (2)"),
          ours=Refuses(ValueError, "target")),
    *rows(CLASS_LOSSES, "spatial shape of target does not match (N, C, H, W)",
          (ce_image, np.zeros((2, 3, 5), dtype=np.int64)),
          torch=Refuses(RuntimeError, CE_SIZE_MISMATCH),
          ours=Refuses(ValueError, "target")),
    *rows(CLASS_LOSSES, "spatial shape of target does not match (N, C, d1)",
          (ce_image[..., 0], np.zeros((2, 4), dtype=np.int64)),
          torch=Refuses(RuntimeError, "Expected target size [2, 3], got [2, 4]"),
          ours=Refuses(ValueError, "target")),
    *rows(CLASS_LOSSES, "target of shape (N, 1) for (N, C) input",
          (ce_x, ce_index.reshape(3, 1)),
          torch=Refuses(RuntimeError, CE_MULTI_TARGET),
          ours=Refuses(ValueError, "target")),
    *rows(CLASS_LOSSES, "target of shape (2,) for an unbatched (C,) input",
          (ce_x[0], np.array([1, 2])),
          torch=Refuses(ValueError, "For 1D input, 1D target must have size 1"),
          ours=Refuses(ValueError, "target")),
    *rows(CLASS_LOSSES, "0-d input has no class axis: shape", (np.array(0.5), np.array(0)),
          torch={
              "cross_entropy": Refuses(RuntimeError, "Expected floating point type for target"),
              "nll_loss": Refuses(ValueError, "Expected 1 or more dimensions (got 0)"),
          },
          ours=Refuses(ValueError, "input")),
    *rows("cross_entropy", "probability target of another shape than input",
          (ce_x, np.full((3, 4), 0.25)),
          torch=Refuses(RuntimeError, CE_MULTI_TARGET),
          ours=Refuses(TypeError, "target")),
    *rows("nll_loss", "probability target (nll_loss takes class indices only)",
          (ce_x, ce_probabilities),
          torch=Refuses(RuntimeError, CE_MULTI_TARGET),
          ours=Refuses(TypeError, "target")),
    *rows("cross_entropy", "(1,) target of an unbatched input with label_smoothing",
          (ce_x[0], np.array([2])), {"label_smoothing": 0.1},
          torch=Refuses(RuntimeError, "output with shape [] doesn't match the broadcast shape [1]"),
          ours=Refuses(ValueError, "target")),
    *rows(CLASS_LOSSES, "(1,) target of an unbatched input is a 0-d one",
          (ce_x[0], np.array([2])), torch=ACCEPTS, ours=ACCEPTS),
    *rows(CLASS_LOSSES, "weight of shape (4,) for 5 classes", (ce_x, ce_index),
          {"weight": np.ones(4)},
          torch=Refuses(RuntimeError, "weight tensor should be defined either for all 5 classes"),
          ours=Refuses(ValueError, "weight")),
    *rows(CLASS_LOSSES, "weight of shape (5, 1)", (ce_x, ce_index), {"weight": np.ones((5, 1))},
          torch=Refuses(RuntimeError, "but got weight tensor of shape: [5, 1]"),
          ours=Refuses(ValueError, "weight")),
    *rows("cross_entropy", "weight of shape (4,) with probability targets",
          (ce_x, ce_probabilities), {"weight": np.ones(4)},
          torch=Refuses(RuntimeError, "cross_entropy: weight tensor should be defined"),
          ours=Refuses(ValueError, "weight")),
    *rows(CLASS_LOSSES, "float32 weight for float64 input with class indices", (ce_x, ce_index),
          {"weight": ce_weight.astype(np.float32)},
          torch=Refuses(RuntimeError, "expected scalar type Double but found Float"),
          ours=Refuses(TypeError, "weight")),
    *rows("cross_entropy", "float32 weight with probability targets promotes",
          (ce_x, ce_probabilities), {"weight": ce_weight.astype(np.float32)},
          torch=ACCEPTS, ours=ACCEPTS),
    *rows(CLASS_LOSSES, "empty batch: 'mean' is NaN",
          (np.zeros((0, 5)), np.zeros(0, dtype=np.int64)), torch=ACCEPTS, ours=ACCEPTS),
    *rows(CLASS_LOSSES, "empty spatial dimension",
          (np.zeros((2, 5, 0)), np.zeros((2, 0), dtype=np.int64)),
          {"reduction": "sum"}, torch=ACCEPTS, ours=ACCEPTS),
    # Reductions.
    *rows(CLASS_LOSSES, "unknown reduction", (ce_x, ce_index), {"reduction": "avg"},
          torch=Refuses(ValueError, "avg is not a valid value for reduction"),
          ours=Refuses(ValueError, "reduction")),
    *rows(CLASS_LOSSES, "reduction of another case", (ce_x, ce_index), {"reduction": "Mean"},
          torch=Refuses(ValueError, "Mean is not a valid value for reduction"),
          ours=Refuses(ValueError, "reduction")),
    *rows(CLASS_LOSSES, "reduction=None", (ce_x, ce_index), {"reduction": None},
          torch=Refuses(ValueError, "None is not a valid value for reduction"),
          ours=Refuses(TypeError, "reduction")),
    *rows("cross_entropy", "unknown reduction with probability targets",
          (ce_x, ce_probabilities), {"reduction": "avg"},
          torch=Refuses(ValueError, "avg is not a valid value for reduction"),
          ours=Refuses(ValueError, "reduction")),
    *rows(CLASS_LOSSES, "legacy flags override reduction", (ce_x, ce_index),
          {"size_average": False, "reduce": True, "reduction": "none"},
          torch=ACCEPTS, ours=ACCEPTS),
    # Dtypes.
    *rows(CLASS_LOSSES, "integer input", (ce_index.reshape(3, 1).repeat(5, 1), ce_index),
          torch={
              "cross_entropy": Refuses(
                  NotImplementedError,
                  "\"log_softmax_lastdim_kernel_impl\" not implemented for 'Long'",
              ),
              "nll_loss": Refuses(
                  NotImplementedError, "\"nll_loss_out_frame\" not implemented for 'Long'"
              ),
          },
          ours=Refuses(TypeError, "input")),
    *rows(CLASS_LOSSES, "complex input", (ce_x.astype(complex), ce_index),
          torch=Refuses(NotImplementedError, "not implemented for 'ComplexDouble'"),
          ours=Refuses(TypeError, "input")),
    *rows(CLASS_LOSSES, "floating class indices (the post's FloatTensor(3).random_(5))",
          (ce_x, ce_index.astype(np.float32)),
          torch=Refuses(RuntimeError, "expected target dtype to be Long or Byte, but got Float"),
          ours=Refuses(TypeError, "target")),
    *rows(CLASS_LOSSES, "integer target of dtype int32", (ce_x, ce_index.astype(np.int32)),
          torch=Refuses(RuntimeError, "expected target dtype to be Long or Byte, but got Int"),
          ours=Refuses(TypeError, "target")),
    *rows(CLASS_LOSSES, "boolean target", (ce_x, ce_index > 0),
          torch=Refuses(RuntimeError, "expected target dtype to be Long or Byte, but got Bool"),
          ours=Refuses(TypeError, "target")),
    *rows(CLASS_LOSSES, "uint8 class indices are accepted", (ce_x, ce_index.astype(np.uint8)),
          torch=ACCEPTS, ours=ACCEPTS),
    *rows(CLASS_LOSSES, "uint8 class indices with K-dimensional input",
          (ce_image, np.zeros((2, 3, 4), dtype=np.uint8)),
          torch=Refuses(RuntimeError, "expected scalar type Long but found Byte"),
          ours=Refuses(TypeError, "target")),
    *rows("cross_entropy", "uint8 class indices with weight, label_smoothing and 'mean'",
          (ce_x, ce_index.astype(np.uint8), ce_weight), {"label_smoothing": 0.1},
          torch=Refuses(RuntimeError, "gather(): Expected dtype int32/int64 for index"),
          ours=Refuses(TypeError, "target")),
    *rows("cross_entropy", "uint8 class 156 under label_smoothing with ignore_index=-100",
          (np.zeros((2, 200)), np.array([156, 3], dtype=np.uint8)), {"label_smoothing": 0.1},
          torch=ACCEPTS, ours=Refuses(ValueError, "ignore_index"), why_stricter=UINT8_WRAP),
    *rows("cross_entropy", "integer probability targets (the shape of input)",
          (ce_x, np.ones((3, 5), dtype=np.int64)),
          torch=Refuses(RuntimeError,
                        "Expected floating point type for target with class probabilities"),
          ours=Refuses(TypeError, "target")),
    *rows("cross_entropy", "float32 probabilities for float64 logits promote",
          (ce_x, ce_probabilities.astype(np.float32)), torch=ACCEPTS, ours=ACCEPTS),
    # Class indices.
    *rows(CLASS_LOSSES, "class index out of range", (ce_x, np.array([1, 0, 5])),
          torch=Refuses(IndexError, "Target 5 is out of bounds."),
          ours=Refuses(ValueError, "target")),
    *rows(CLASS_LOSSES, "negative class index", (ce_x, np.array([1, -1, 4])),
          torch=Refuses(IndexError, "Target -1 is out of bounds."),
          ours=Refuses(ValueError, "target")),
    *rows(CLASS_LOSSES, "class index out of range, reduction='none'", (ce_x, np.array([7, 0, 4])),
          {"reduction": "none"},
          torch=Refuses(IndexError, "Target 7 is out of bounds."),
          ours=Refuses(ValueError, "target")),
    *rows(CLASS_LOSSES, "index out of range but equal to ignore_index", (ce_x, np.array([1, 0, 5])),
          {"ignore_index": 5}, torch=ACCEPTS, ours=ACCEPTS),
    *rows(CLASS_LOSSES, "ignore_index that is a class", (ce_x, ce_index), {"ignore_index": 0},
          torch=ACCEPTS, ours=ACCEPTS),
    *rows(CLASS_LOSSES, "all targets ignored: 'mean' is NaN, the gradient 0",
          (ce_x, np.full(3, -100)), torch=ACCEPTS, ours=ACCEPTS),
    *rows(CLASS_LOSSES, "ignore_index that is a float", (ce_x, ce_index), {"ignore_index": 1.0},
          torch=Refuses(TypeError, "argument 'ignore_index' (position 5) must be int, not float"),
          ours=Refuses(TypeError, "ignore_index")),
    *rows("cross_entropy", "ignore_index >= 0 with probability targets", (ce_x, ce_probabilities),
          {"ignore_index": 1},
          torch=Refuses(RuntimeError, "ignore_index is not supported for floating point target"),
          ours=Refuses(ValueError, "ignore_index")),
    *rows("cross_entropy", "negative ignore_index with probability targets (unused)",
          (ce_x, ce_probabilities), {"ignore_index": -1}, torch=ACCEPTS, ours=ACCEPTS),
    # Label smoothing.
    *rows("cross_entropy", "label_smoothing above 1", (ce_x, ce_index), {"label_smoothing": 1.1},
          torch=Refuses(RuntimeError, "label_smoothing must be between 0.0 and 1.0. Got: 1.1"),
          ours=Refuses(ValueError, "label_smoothing")),
    *rows("cross_entropy", "label_smoothing above 1, probability targets",
          (ce_x, ce_probabilities), {"label_smoothing": 1.5},
          torch=Refuses(RuntimeError, "label_smoothing must be between 0.0 and 1.0. Got: 1.5"),
          ours=Refuses(ValueError, "label_smoothing")),
    *rows("cross_entropy", "infinite label_smoothing", (ce_x, ce_index),
          {"label_smoothing": float("inf")},
          torch=Refuses(RuntimeError, "label_smoothing must be between 0.0 and 1.0. Got: inf"),
          ours=Refuses(ValueError, "label_smoothing")),
    *rows("cross_entropy", "negative label_smoothing", (ce_x, ce_index), {"label_smoothing": -0.1},
          torch=ACCEPTS, ours=Refuses(ValueError, "label_smoothing"),
          why_stricter=NEGATIVE_SMOOTHING),
    *rows("cross_entropy", "NaN label_smoothing", (ce_x, ce_probabilities),
          {"label_smoothing": float("nan")},
          torch=ACCEPTS, ours=Refuses(ValueError, "label_smoothing"),
          why_stricter=NEGATIVE_SMOOTHING),
    *rows("cross_entropy", "label_smoothing that is a string", (ce_x, ce_index),
          {"label_smoothing": "0.1"},
          torch=Refuses(TypeError,
                        "argument 'label_smoothing' (position 6) must be float, not str"),
          ours=Refuses(TypeError, "label_smoothing")),
    *rows("cross_entropy", "label_smoothing=1 is the uniform target", (ce_x, ce_index, ce_weight),
          {"label_smoothing": 1.0}, torch=ACCEPTS, ours=ACCEPTS),
    # gather() refuses uint8 indices only when there is one to gather: with every target
    # ignored, the weighted 'mean' of the smoothing term is 0 / 0.
    *rows("cross_entropy", "uint8 class indices, weight, smoothing and 'mean', all ignored",
          (ce_x, np.full(3, 4, dtype=np.uint8), ce_weight),
          {"label_smoothing": 0.1, "ignore_index": 4}, torch=ACCEPTS, ours=ACCEPTS),
    *rows("cross_entropy", "float16 logits of -inf with label_smoothing 1e-8: inf",
          (np.array([[0.0, -np.inf, 1.0]], dtype=np.float16), np.array([0])),
          {"label_smoothing": 1e-8}, torch=ACCEPTS, ours=ACCEPTS),
    *rows(CLASS_LOSSES, "float16 logits", (ce_x.astype(np.float16), ce_index),
          {"weight": ce_weight.astype(np.float16), "reduction": "none"},
          torch=ACCEPTS, ours=ACCEPTS),
    # Values.
    *rows(CLASS_LOSSES, "NaN and infinite logits", (ce_nan_x, ce_index), {"reduction": "none"},
          torch=ACCEPTS, ours=ACCEPTS),
    *rows("cross_entropy", "logits of +-1e4", (ce_x * 1e4, ce_index), {"label_smoothing": 0.2},
          torch=ACCEPTS, ours=ACCEPTS),
    # The upstream gradient.
    *rows(CLASS_LOSSES, "grad_output of the wrong shape", (ce_x, ce_index), {"reduction": "none"},
          grad_output=np.ones(2),
          torch=Refuses(RuntimeError, "Mismatch in shape"),
          ours=Refuses(ValueError, "grad_output")),
    *rows(CLASS_LOSSES, "grad_output that is not a scalar for 'mean'", (ce_x, ce_index),
          grad_output=np.ones(3),
          torch=Refuses(RuntimeError, "Mismatch in shape"),
          ours=Refuses(ValueError, "grad_output")),
    # Shapes: neither loss broadcasts input against target, not even (N, 1) against (N,).
    *binary_rows("shapes that differ", lambda p: (p, np.ones((2, 4))),
                 torch={BCE_ONLY: Refuses(ValueError, "is different to the input size"),
                        LOGITS_ONLY: Refuses(ValueError, "must be the same as input size")},
                 ours=Refuses(ValueError, "target")),
    *binary_rows("broadcastable shapes are refused too", lambda p: (p[:, :1], labels),
                 torch={BCE_ONLY: Refuses(ValueError, "is different to the input size"),
                        LOGITS_ONLY: Refuses(ValueError, "must be the same as input size")},
                 ours=Refuses(ValueError, "target")),
    *binary_rows("same element count, another shape", lambda p: (p, labels.reshape(6)),
                 torch={BCE_ONLY: Refuses(ValueError, "is different to the input size"),
                        LOGITS_ONLY: Refuses(ValueError, "must be the same as input size")},
                 ours=Refuses(ValueError, "target")),
    *binary_rows("weight of a shape that does not broadcast", lambda p: (p, labels),
                 {"weight": np.ones(2)},
                 torch={BCE_ONLY: Refuses(RuntimeError, "Attempting to broadcast a dimension"),
                        LOGITS_ONLY: Refuses(RuntimeError, "must match the size of tensor b")},
                 ours=Refuses(ValueError, "weight")),
    *binary_rows("weight of more dimensions than input, though it broadcasts",
                 lambda p: (p, labels), {"weight": np.ones((1, 2, 3))},
                 torch=Refuses(RuntimeError, "doesn't match the broadcast shape [1, 2, 3]"),
                 ours=Refuses(ValueError, "weight")),
    *binary_rows("weight of shape (C,) broadcasts over the batch", lambda p: (p, labels),
                 {"weight": np.array([1.0, 2.0, 0.5]), "reduction": "none"},
                 torch=ACCEPTS, ours=ACCEPTS),
    *binary_rows("weight of shape (N, 1), one per sample", lambda p: (p, labels),
                 {"weight": np.array([[1.0], [3.0]])}, torch=ACCEPTS, ours=ACCEPTS),
    *binary_rows("0-d weight", lambda p: (p, labels), {"weight": np.asarray(2.5)},
                 torch=ACCEPTS, ours=ACCEPTS),
    *rows(LOGITS_ONLY, "pos_weight of a shape that does not broadcast", (x, labels),
          {"pos_weight": np.ones(2)},
          torch=Refuses(RuntimeError, "must match the size of tensor b"),
          ours=Refuses(ValueError, "pos_weight")),
    *rows(LOGITS_ONLY, "pos_weight of more dimensions than input", (x, labels),
          {"pos_weight": np.ones((1, 2, 3))},
          torch=Refuses(RuntimeError, "doesn't match the broadcast shape [1, 2, 3]"),
          ours=Refuses(ValueError, "pos_weight")),
    *rows(LOGITS_ONLY, "pos_weight of shape (C,), one per class", (x, labels),
          {"pos_weight": np.array([1.0, 3.0, 0.5]), "reduction": "none"},
          torch=ACCEPTS, ours=ACCEPTS),
    *rows(LOGITS_ONLY, "pos_weight of shape (N, 1), one per sample", (x, labels),
          {"pos_weight": np.array([[2.0], [0.0]]), "reduction": "sum"},
          torch=ACCEPTS, ours=ACCEPTS),
    *binary_rows("empty batch: 'mean' is NaN", lambda p: (np.ones((0, 3)) / 2, np.ones((0, 3))),
                 torch=ACCEPTS, ours=ACCEPTS),
    *binary_rows("0-d input and target", lambda p: (np.asarray(0.25), np.asarray(1.0)),
                 {"reduction": "none"}, torch=ACCEPTS, ours=ACCEPTS),
    # Reductions.
    *binary_rows("unknown reduction", lambda p: (p, labels), {"reduction": "avg"},
                 torch=Refuses(ValueError, "avg is not a valid value for reduction"),
                 ours=Refuses(ValueError, "reduction")),
    *binary_rows("reduction of another case", lambda p: (p, labels), {"reduction": "Mean"},
                 torch=Refuses(ValueError, "Mean is not a valid value for reduction"),
                 ours=Refuses(ValueError, "reduction")),
    *binary_rows("reduction that is not a string", lambda p: (p, labels), {"reduction": 1},
                 torch=Refuses(ValueError, "1 is not a valid value for reduction"),
                 ours=Refuses(TypeError, "reduction")),
    *binary_rows("reduction=None", lambda p: (p, labels), {"reduction": None},
                 torch=Refuses(ValueError, "None is not a valid value for reduction"),
                 ours=Refuses(TypeError, "reduction")),
    *binary_rows("legacy flags override reduction", lambda p: (p, labels),
                 {"size_average": False, "reduce": True, "reduction": "none"},
                 torch=ACCEPTS, ours=ACCEPTS),
    # Dtypes.
    *binary_rows("integer input and target",
                 lambda p: (labels.astype(np.int64), labels.astype(np.int64)),
                 torch={BCE_ONLY: Refuses(NotImplementedError,
                                          "\"binary_cross_entropy\" not implemented for 'Long'"),
                        LOGITS_ONLY: Refuses(NotImplementedError,
                                             "\"log_sigmoid_cpu\" not implemented for 'Long'")},
                 ours=Refuses(TypeError, "input")),
    *binary_rows("integer input, float target", lambda p: (labels.astype(np.int64), labels),
                 torch={BCE_ONLY: Refuses(RuntimeError, "Found dtype Double but expected Long"),
                        LOGITS_ONLY: Refuses(NotImplementedError,
                                             "\"log_sigmoid_cpu\" not implemented for 'Long'")},
                 ours=Refuses(TypeError, "input")),
    *binary_rows("integer target (0/1 labels as int64)",
                 lambda p: (p, labels.astype(np.int64)),
                 torch={BCE_ONLY: Refuses(RuntimeError, "Found dtype Long but expected Double"),
                        LOGITS_ONLY: Refuses(RuntimeError,
                                             "can't be cast to the desired output type Long")},
                 ours=Refuses(TypeError, "target")),
    *binary_rows("boolean target", lambda p: (p, labels > 0),
                 torch={BCE_ONLY: Refuses(RuntimeError, "Found dtype Bool but expected Double"),
                        LOGITS_ONLY: Refuses(RuntimeError, "with two bool tensors")},
                 ours=Refuses(TypeError, "target")),
    *binary_rows("complex input and target",
                 lambda p: (p.astype(complex), labels.astype(complex)),
                 torch={BCE_ONLY: Refuses(NotImplementedError,
                                          "not implemented for 'ComplexDouble'"),
                        LOGITS_ONLY: Refuses(NotImplementedError,
                                             "not implemented for 'ComplexDouble'")},
                 ours=Refuses(TypeError, "input")),
    *rows(BCE_ONLY, "float32 input, float64 target", (probs.astype(np.float32), labels),
          torch=Refuses(RuntimeError, "Found dtype Double but expected Float"),
          ours=Refuses(TypeError, "target")),
    # Logits whose float32 log-sigmoid is exact (0, +-1e4, -40), so that the float64 loss is
    # compared at float64's tolerance: elsewhere torch's and NumPy's float32 exp and log1p
    # differ in the last bit, which the float64 loss keeps.
    *rows(LOGITS_ONLY, "float32 input, float64 target: the loss is float64",
          (huge_logits.astype(np.float32), labels), torch=ACCEPTS, ours=ACCEPTS),
    *rows(LOGITS_ONLY, "float64 input, float32 target: the loss is float32",
          (x, labels.astype(np.float32)), {"reduction": "none"}, torch=ACCEPTS, ours=ACCEPTS),
    *binary_rows("integer weight is promoted", lambda p: (p, labels),
                 {"weight": np.array([1, 2, 3])}, torch=ACCEPTS, ours=ACCEPTS),
    *binary_rows("boolean weight is a mask", lambda p: (p, labels),
                 {"weight": np.array([True, False, True]), "reduction": "none"},
                 torch=ACCEPTS, ours=ACCEPTS),
    *binary_rows("complex weight", lambda p: (p, labels), {"weight": np.ones(3, complex)},
                 torch=Refuses(RuntimeError, "can't be cast to the desired output type Double"),
                 ours=Refuses(TypeError, "weight")),
    *rows(LOGITS_ONLY, "integer pos_weight is promoted", (x, labels),
          {"pos_weight": np.array([1, 2, 3])}, torch=ACCEPTS, ours=ACCEPTS),
    *rows(LOGITS_ONLY, "boolean pos_weight", (x, labels),
          {"pos_weight": np.array([True, False, True])},
          torch=Refuses(RuntimeError, "with a bool tensor is not supported"),
          ours=Refuses(TypeError, "pos_weight")),
    *rows(LOGITS_ONLY, "complex pos_weight", (x, labels), {"pos_weight": np.ones(3, complex)},
          torch=Refuses(RuntimeError, "can't be cast to the desired output type Double"),
          ours=Refuses(TypeError, "pos_weight")),
    # Values: binary_cross_entropy checks both arguments; the logits version checks nothing.
    *rows(BCE_ONLY, "input above 1", (probs * 2, labels),
          torch=Refuses(RuntimeError, BCE_INPUT_RANGE), ours=Refuses(ValueError, "input")),
    *rows(BCE_ONLY, "negative input (logits passed as probabilities)", (x, labels),
          torch=Refuses(RuntimeError, BCE_INPUT_RANGE), ours=Refuses(ValueError, "input")),
    *rows(BCE_ONLY, "NaN input", (np.where(probs > 0.8, np.nan, probs), labels),
          torch=Refuses(RuntimeError, BCE_INPUT_RANGE), ours=Refuses(ValueError, "input")),
    *rows(BCE_ONLY, "infinite input", (np.where(probs > 0.8, np.inf, probs), labels),
          torch=Refuses(RuntimeError, BCE_INPUT_RANGE), ours=Refuses(ValueError, "input")),
    *rows(BCE_ONLY, "target above 1", (probs, labels * 2),
          torch=Refuses(RuntimeError, BCE_TARGET_RANGE), ours=Refuses(ValueError, "target")),
    *rows(BCE_ONLY, "negative target (labels in {-1, 1})", (probs, 2 * labels - 1),
          torch=Refuses(RuntimeError, BCE_TARGET_RANGE), ours=Refuses(ValueError, "target")),
    *rows(BCE_ONLY, "NaN target", (probs, np.where(labels > 0, np.nan, 0.0)),
          torch=Refuses(RuntimeError, BCE_TARGET_RANGE), ours=Refuses(ValueError, "target")),
    *rows(BCE_ONLY, "probabilities of exactly 0 and 1: each log clamped at -100",
          (saturated, labels), {"reduction": "none"}, torch=ACCEPTS, ours=ACCEPTS),
    *rows(BCE_ONLY, "soft targets", (probs, probs[::-1]), torch=ACCEPTS, ours=ACCEPTS),
    *rows(LOGITS_ONLY, "target outside [0, 1]", (x, 3 * labels - 1), {"reduction": "none"},
          torch=ACCEPTS, ours=ACCEPTS),
    *rows(LOGITS_ONLY, "logits of +-1e4", (huge_logits, labels), {"reduction": "none"},
          torch=ACCEPTS, ours=ACCEPTS),
    *rows(LOGITS_ONLY, "NaN and infinite logits", (nan_x, labels), {"reduction": "none"},
          torch=ACCEPTS, ours=ACCEPTS),
    # The upstream gradient.
    *binary_rows("grad_output of the wrong shape", lambda p: (p, labels), {"reduction": "none"},
                 grad_output=np.ones(3),
                 torch=Refuses(RuntimeError, "Mismatch in shape"),
                 ours=Refuses(ValueError, "grad_output")),
    *binary_rows("grad_output that is not a scalar for 'mean'", lambda p: (p, labels),
                 grad_output=np.ones((2, 3)),
                 torch=Refuses(RuntimeError, "Mismatch in shape"),
                 ours=Refuses(ValueError, "grad_output")),
    *rows(("kl_div", "poisson_nll_loss"), "shapes that do not broadcast", (log_q, np.ones((2, 4))),
          torch=Refuses(RuntimeError, "must match the size of tensor"),
          ours=Refuses(ValueError, "target")),
    *rows(("kl_div", "poisson_nll_loss"), "broadcastable shapes (torch does not warn)",
          (log_q, p[:1]), torch=ACCEPTS, ours=ACCEPTS),
    *rows(("kl_div", "poisson_nll_loss"), "unknown reduction", (log_q, p), {"reduction": "avg"},
          torch=Refuses(ValueError, "avg is not a valid value for reduction"),
          ours=Refuses(ValueError, "reduction")),
    *rows("kl_div", "reduction=None", (log_q, p), {"reduction": None},
          torch=Refuses(ValueError, "None is not a valid value for reduction"),
          ours=Refuses(TypeError, "reduction")),
    *rows("poisson_nll_loss", "reduction=None", (log_rate, counts), {"reduction": None},
          torch=Refuses(TypeError, "unsupported operand type(s) for +: 'NoneType' and 'str'"),
          ours=Refuses(TypeError, "reduction")),
    *rows("poisson_nll_loss", "reduction 'batchmean' (kl_div's alone)", (log_rate, counts),
          {"reduction": "batchmean"},
          torch=Refuses(ValueError, "batchmean is not a valid value for reduction"),
          ours=Refuses(ValueError, "reduction")),
    *rows("kl_div", "deprecated reduction 'elementwise_mean'", (log_q, p),
          {"reduction": "elementwise_mean"}, torch=ACCEPTS, ours=Refuses(ValueError, "reduction"),
          why_stricter="torch still takes this alias of 'mean' (with a warning) where the "
          "reduction goes through _Reduction.get_enum; lossnotes takes it in no loss"),
    *rows("kl_div", "'batchmean' of an empty batch is NaN", (np.ones((0, 3)), np.ones((0, 3))),
          {"reduction": "batchmean"}, torch=ACCEPTS, ours=ACCEPTS),
    *rows("kl_div", "'batchmean' with legacy flags still divides by the batch", (log_q, p),
          {"reduction": "batchmean", "reduce": False}, torch=ACCEPTS, ours=ACCEPTS),
    *rows("kl_div", "'batchmean' of a 0-d input divides by nothing",
          (np.array(-0.5), np.array(0.25)), {"reduction": "batchmean"},
          torch=ACCEPTS, ours=ACCEPTS),
    *rows("kl_div", "integer target", (log_q, integers),
          torch=Refuses(RuntimeError, "kl_div: Integral inputs not supported"),
          ours=Refuses(TypeError, "target")),
    *rows("kl_div", "integer input and target", (integers, integers),
          torch=Refuses(RuntimeError, "kl_div: Integral inputs not supported"),
          ours=Refuses(TypeError, "input")),
    *rows("kl_div", "boolean target", (log_q, p > 0),
          torch=Refuses(RuntimeError, "kl_div: Integral inputs not supported"),
          ours=Refuses(TypeError, "target")),
    *rows("kl_div", "complex input", (log_q.astype(complex), p),
          torch=Refuses(RuntimeError, "kl_div: Complex inputs not supported"),
          ours=Refuses(TypeError, "input")),
    *rows("kl_div", "target 0 against input -inf is NaN (0 * -inf)",
          (np.array([[-np.inf, 0.0]]), np.array([[0.0, 1.0]])), {"reduction": "none"},
          torch=ACCEPTS, ours=ACCEPTS),
    *rows("kl_div", "log_target with a log-probability of -inf is NaN",
          (log_q, np.array([[-np.log(2), -np.log(2), -np.inf], [-np.inf, 0.0, -np.inf]])),
          {"reduction": "sum", "log_target": True},
          torch=ACCEPTS, ours=ACCEPTS),
    *rows("kl_div", "target that is not a distribution (negative, above 1)",
          (log_q, np.array([[-0.5, 1.5, 0.0], [2.0, 0.0, 0.0]])), {"reduction": "none"},
          torch=ACCEPTS, ours=ACCEPTS),
    *rows("poisson_nll_loss", "integer input is not differentiable", (integers, counts),
          {"reduction": "sum"}, grad_output=np.array(1.0),
          torch=Refuses(RuntimeError, "only Tensors of floating point dtype can require gradients"),
          ours=Refuses(TypeError, "input")),
    *rows("poisson_nll_loss", "integer input (torch computes in float32)", (integers, counts),
          torch=ACCEPTS, ours=Refuses(TypeError, "input"),
          why_stricter=PREDICTION_MUST_BE_FLOAT),
    *rows("poisson_nll_loss", "complex input", (log_rate.astype(complex), counts),
          torch=ACCEPTS, ours=Refuses(TypeError, "input"),
          why_stricter=PREDICTION_MUST_BE_FLOAT),
    *rows("poisson_nll_loss", "boolean input, float target", (integers > 2, counts),
          torch=ACCEPTS, ours=Refuses(TypeError, "input"),
          why_stricter=PREDICTION_MUST_BE_FLOAT),
    *rows("poisson_nll_loss", "complex target", (log_rate, counts.astype(complex)),
          torch=ACCEPTS, ours=Refuses(TypeError, "target"),
          why_stricter="a count is a real number; torch takes a complex one and returns a "
          "complex loss"),
    *rows("poisson_nll_loss", "integer counts with full=True and a float64 input",
          (log_rate, integers), {"full": True, "reduction": "none"}, torch=ACCEPTS,
          ours=Differs("torch takes the logarithms of Stirling's term of an integer count in "
                       "its default dtype, float32, even for a float64 input (relative errors "
                       "near 1e-7); lossnotes computes it in float64 with the input (in float32 "
                       "for a float16 or float32 input, as torch)",
                       torch_value=_poisson_full(log_rate, integers, np.float32),
                       ours_value=_poisson_full(log_rate, integers, np.float64))),
    *rows("poisson_nll_loss", "boolean input and target", (integers > 2, integers > 2),
          torch=Refuses(RuntimeError, "with a bool tensor is not supported"),
          ours=Refuses(TypeError, "input")),
    *rows("poisson_nll_loss", "boolean target", (log_rate, integers > 2),
          torch=ACCEPTS, ours=Refuses(TypeError, "target"),
          why_stricter="a boolean is a mask, not a count; refused as in the regression losses"),
    *rows("poisson_nll_loss", "integer counts are promoted", (log_rate, integers),
          torch=ACCEPTS, ours=ACCEPTS),
    *rows("poisson_nll_loss", "eps that is a string", (log_rate, counts), {"eps": "1"},
          torch=Refuses(TypeError, "argument 'eps' (position 5) must be float, not str"),
          ours=Refuses(TypeError, "eps")),
    *rows("poisson_nll_loss", "eps=None", (log_rate, counts), {"eps": None},
          torch=Refuses(TypeError, "must be float, not NoneType"),
          ours=Refuses(TypeError, "eps")),
    *rows("poisson_nll_loss", "rate 0 with eps=0: infinite loss, NaN at count 0",
          (np.array([0.0, 0.0, 1.0]), np.array([0.0, 2.0, 2.0])),
          {"log_input": False, "eps": 0.0, "reduction": "none"}, torch=ACCEPTS, ours=ACCEPTS),
    *rows("poisson_nll_loss", "negative and fractional counts, full=True",
          (log_rate, np.array([[-1.0, 0.5, 1.0], [1.5, 2.0, 1e6]])),
          {"full": True, "reduction": "none"}, torch=ACCEPTS, ours=ACCEPTS),
    *rows("poisson_nll_loss", "NaN count with full=True is NaN (not masked as <= 1)",
          (log_rate, np.array([[np.nan, 0.0, 1.0], [2.0, 3.0, 4.0]])),
          {"full": True, "reduction": "none"}, torch=ACCEPTS, ours=ACCEPTS),
    *rows("gaussian_nll_loss", "var shape (1, 1) for input (2, 3): two broadcast axes",
          (mean, y, np.ones((1, 1))),
          torch=Refuses(ValueError, "var is of incorrect size"), ours=Refuses(ValueError, "var")),
    *rows("gaussian_nll_loss", "var shape (3,): the input's last axis, not its first",
          (mean, y, np.ones(3)),
          torch=Refuses(ValueError, "var is of incorrect size"), ours=Refuses(ValueError, "var")),
    *rows("gaussian_nll_loss", "var shape (2, 3, 1): one axis too many",
          (mean, y, np.ones((2, 3, 1))),
          torch=Refuses(ValueError, "var is of incorrect size"), ours=Refuses(ValueError, "var")),
    *rows("gaussian_nll_loss", "0-d var array with a 2-d input (a float is fine)",
          (mean, y, np.array(1.0)),
          torch=Refuses(ValueError, "var is of incorrect size"), ours=Refuses(ValueError, "var")),
    *rows("gaussian_nll_loss", "target shape that does not broadcast", (mean, np.ones((2, 4)),
          variance), torch=Refuses(RuntimeError, "must match the size of tensor"),
          ours=Refuses(ValueError, "target")),
    *rows("gaussian_nll_loss", "negative var", (mean, y, -variance),
          torch=Refuses(ValueError, "var has negative entry/entries"),
          ours=Refuses(ValueError, "var")),
    *rows("gaussian_nll_loss", "negative float var", (mean, y, -1.0),
          torch=Refuses(ValueError, "var has negative entry/entries"),
          ours=Refuses(ValueError, "var")),
    *rows("gaussian_nll_loss", "unknown reduction", (mean, y, variance), {"reduction": "avg"},
          torch=Refuses(ValueError, "avg is not valid"), ours=Refuses(ValueError, "reduction")),
    *rows("gaussian_nll_loss", "reduction 'batchmean' (kl_div's alone)", (mean, y, variance),
          {"reduction": "batchmean"},
          torch=Refuses(ValueError, "batchmean is not valid"),
          ours=Refuses(ValueError, "reduction")),
    *rows("gaussian_nll_loss", "reduction=None", (mean, y, variance), {"reduction": None},
          torch=Refuses(TypeError, "unsupported operand type(s) for +: 'NoneType' and 'str'"),
          ours=Refuses(TypeError, "reduction")),
    *rows("gaussian_nll_loss", "integer var", (mean, y, integers),
          torch=Refuses(RuntimeError, "can't be cast to the desired output type"),
          ours=Refuses(TypeError, "var")),
    *rows("gaussian_nll_loss", "var that is a Python integer", (mean, y, 1),
          torch=Refuses(TypeError, "any() received an invalid combination of arguments"),
          ours=Refuses(TypeError, "var")),
    *rows("gaussian_nll_loss", "integer input is not differentiable", (integers, y, variance),
          {"reduction": "sum"}, grad_output=np.array(1.0),
          torch=Refuses(RuntimeError, "only Tensors of floating point dtype can require gradients"),
          ours=Refuses(TypeError, "input")),
    *rows("gaussian_nll_loss", "integer input (torch promotes it)", (integers, y, variance),
          torch=ACCEPTS, ours=Refuses(TypeError, "input"),
          why_stricter=PREDICTION_MUST_BE_FLOAT),
    *rows("gaussian_nll_loss", "complex input", (mean.astype(complex), y, variance),
          torch=ACCEPTS, ours=Refuses(TypeError, "input"),
          why_stricter=PREDICTION_MUST_BE_FLOAT),
    *rows("gaussian_nll_loss", "eps that is a string", (mean, y, variance), {"eps": "1"},
          torch=Refuses(TypeError, "clamp_() received an invalid combination of arguments"),
          ours=Refuses(TypeError, "eps")),
    *rows(("kl_div", "poisson_nll_loss"), "grad_output of the wrong shape", (log_q, p),
          {"reduction": "none"}, grad_output=np.ones(3),
          torch=Refuses(RuntimeError, "Mismatch in shape"),
          ours=Refuses(ValueError, "grad_output")),
    *rows("gaussian_nll_loss", "grad_output of the wrong shape", (mean, y, variance),
          {"reduction": "none"}, grad_output=np.ones(3),
          torch=Refuses(RuntimeError, "Mismatch in shape"),
          ours=Refuses(ValueError, "grad_output")),
    # Margin ranking: the three arrays must have one number of dimensions and broadcast.
    *rows("margin_ranking_loss", "shapes with different numbers of dimensions",
          (scores1, scores2, np.array(1.0)),
          torch=Refuses(RuntimeError, "All input tensors should have same dimension"),
          ours=Refuses(ValueError, "same number of dimensions")),
    *rows("margin_ranking_loss", "shapes that do not broadcast",
          (scores1, np.ones(2), ranks),
          torch=Refuses(RuntimeError, "must match the size of tensor"),
          ours=Refuses(ValueError, "input2 of shape (2,)")),
    *rows("margin_ranking_loss", "target shape that does not broadcast",
          (scores1, scores2, np.ones(2)),
          torch=Refuses(RuntimeError, "must match the size of tensor"),
          ours=Refuses(ValueError, "target of shape (2,)")),
    *rows("margin_ranking_loss", "unknown reduction", (scores1, scores2, ranks),
          {"reduction": "avg"},
          torch=Refuses(ValueError, "avg is not a valid value for reduction"),
          ours=Refuses(ValueError, "reduction")),
    *rows("margin_ranking_loss", "reduction that is not a string", (scores1, scores2, ranks),
          {"reduction": None},
          torch=Refuses(ValueError, "None is not a valid value for reduction"),
          ours=Refuses(TypeError, "reduction")),
    *rows("margin_ranking_loss", "integer input1 (autograd cannot differentiate it)",
          (np.array([2, 0, 1]), scores2, ranks), grad_output=np.ones(()),
          torch=Refuses(RuntimeError, "only Tensors of floating point dtype can require grad"),
          ours=Refuses(TypeError, "input1")),
    *rows("margin_ranking_loss", "integer scores (torch's forward computes in float32)",
          (np.array([2, 0, 1]), np.array([1, 1, 1]), ranks), torch=ACCEPTS,
          ours=Refuses(TypeError, "input1"), why_stricter=PREDICTION_MUST_BE_FLOAT),
    *rows("margin_ranking_loss", "complex scores",
          (scores1.astype(complex), scores2.astype(complex), ranks),
          torch=Refuses(NotImplementedError, "clamp is not supported for complex types"),
          ours=Refuses(TypeError, "input1")),
    *rows("margin_ranking_loss", "boolean target", (scores1, scores2, ranks > 0),
          torch=Refuses(RuntimeError, "on a bool tensor is not supported"),
          ours=Refuses(TypeError, "target")),
    *rows("margin_ranking_loss", "margin that is a string", (scores1, scores2, ranks),
          {"margin": "1"},
          torch=Refuses(TypeError, "argument 'margin' (position 4) must be float, not str"),
          ours=Refuses(TypeError, "margin")),
    *rows("margin_ranking_loss", "grad_output of the wrong shape", (scores1, scores2, ranks),
          {"reduction": "none"}, grad_output=np.ones(2),
          torch=Refuses(RuntimeError, "Mismatch in shape"),
          ours=Refuses(ValueError, "grad_output")),
    # Hinge embedding: input and target broadcast (no warning); any real label is taken.
    *rows("hinge_embedding_loss", "shapes that do not broadcast", (distances, np.ones((2, 2))),
          torch=Refuses(RuntimeError, "must match the size of tensor"),
          ours=Refuses(ValueError, "target of shape (2, 2)")),
    *rows("hinge_embedding_loss", "unknown reduction", (distances, similar),
          {"reduction": "avg"},
          torch=Refuses(ValueError, "avg is not a valid value for reduction"),
          ours=Refuses(ValueError, "reduction")),
    *rows("hinge_embedding_loss", "reduction that is not a string", (distances, similar),
          {"reduction": 1},
          torch=Refuses(ValueError, "1 is not a valid value for reduction"),
          ours=Refuses(TypeError, "reduction")),
    *rows("hinge_embedding_loss", "integer input, 'mean'", (integers, similar),
          torch=Refuses(RuntimeError, "mean(): could not infer output dtype"),
          ours=Refuses(TypeError, "input")),
    *rows("hinge_embedding_loss", "integer input, 'sum' (torch returns an integer loss)",
          (integers, similar), {"reduction": "sum"}, torch=ACCEPTS,
          ours=Refuses(TypeError, "input"), why_stricter=PREDICTION_MUST_BE_FLOAT),
    *rows("hinge_embedding_loss", "complex input", (distances.astype(complex), similar),
          torch=Refuses(NotImplementedError, "clamp is not supported for complex types"),
          ours=Refuses(TypeError, "input")),
    *rows("hinge_embedding_loss", "margin that is a string", (distances, similar),
          {"margin": "1"},
          torch=Refuses(TypeError, "argument 'margin' (position 3) must be float, not str"),
          ours=Refuses(TypeError, "margin")),
    *rows("hinge_embedding_loss", "labels other than +-1 give x + max(0, margin - x)",
          (distances, np.array([[0.0, 2.0, 0.5], [np.nan, -1.0, 1.0]])), {"reduction": "none"},
          torch=ACCEPTS, ours=ACCEPTS),
    *rows("hinge_embedding_loss", "boolean target (False is a label of 0)",
          (distances, similar > 0), {"reduction": "none"}, torch=ACCEPTS, ours=ACCEPTS),
    *rows("hinge_embedding_loss", "integer target", (distances, similar.astype(int)),
          torch=ACCEPTS, ours=ACCEPTS),
    *rows("hinge_embedding_loss", "distances exactly at the margin", (distances, -similar ** 2),
          {"reduction": "sum", "margin": 1.5}, torch=ACCEPTS, ours=ACCEPTS),
    *rows("hinge_embedding_loss", "input broadcast against the target (torch does not warn)",
          (distances[:, :1], similar), {"reduction": "none"}, torch=ACCEPTS, ours=ACCEPTS),
    *rows("hinge_embedding_loss", "float32 input, float64 target: the loss is float32",
          (distances.astype(np.float32), similar), torch=ACCEPTS, ours=ACCEPTS),
    *rows("hinge_embedding_loss", "empty batch: 'mean' is NaN", (np.ones((0, 3)), np.ones(3)),
          torch=ACCEPTS, ours=ACCEPTS),
    *rows("hinge_embedding_loss", "NaN and infinite input", (nan_x, similar),
          {"reduction": "none"}, torch=ACCEPTS, ours=ACCEPTS),
    *rows("hinge_embedding_loss", "negative margin", (distances, similar),
          {"reduction": "none", "margin": -1.0}, torch=ACCEPTS, ours=ACCEPTS),
    *rows("hinge_embedding_loss", "NaN margin", (distances, similar),
          {"reduction": "none", "margin": float("nan")}, torch=ACCEPTS, ours=ACCEPTS),
    *rows("hinge_embedding_loss", "margin beyond float32's range", (distances.astype(np.float32),
                                                                     similar), {"margin": 1e300},
          torch=Refuses(RuntimeError, "value cannot be converted to type float without overflow"),
          ours=Refuses(ValueError, "margin")),
    *rows("hinge_embedding_loss", "margin beyond float16's range",
          (distances.astype(np.float16), similar), {"margin": -7e4},
          torch=Refuses(RuntimeError, "value cannot be converted to type c10::Half without"),
          ours=Refuses(ValueError, "margin")),
    *rows("hinge_embedding_loss", "margin beyond float16's range, input of one element",
          (distances[:1, :1].astype(np.float16), similar[:1, :1]), {"margin": 7e4},
          torch=ACCEPTS, ours=Refuses(ValueError, "margin"),
          why_stricter="torch fills a tensor of the input's dtype with the margin and refuses one "
          "that does not fit, except for a float16 tensor of one element, whose fill takes "
          "another path and gives inf; lossnotes refuses it whatever the size"),
    *rows("hinge_embedding_loss", "float16 distances (torch computes each step in float32)",
          (distances.astype(np.float16), similar), {"reduction": "none", "margin": 1.3},
          torch=ACCEPTS, ours=ACCEPTS),
    *rows("hinge_embedding_loss", "legacy flags override reduction", (distances, similar),
          {"size_average": False, "reduce": True, "reduction": "none"},
          torch=ACCEPTS, ours=ACCEPTS),
    *rows("hinge_embedding_loss", "complex target", (distances, similar.astype(complex)),
          torch=ACCEPTS, ours=Refuses(TypeError, "target"), why_stricter=COMPLEX_LABEL),
    *rows("cosine_embedding_loss", "complex target", (emb1, emb2, pair_labels.astype(complex)),
          torch=ACCEPTS, ours=Refuses(TypeError, "target"), why_stricter=COMPLEX_LABEL),
    *rows("margin_ranking_loss", "complex target", (scores1, scores2, ranks.astype(complex)),
          torch=Refuses(NotImplementedError, "clamp is not supported for complex types"),
          ours=Refuses(TypeError, "target")),
    *rows("hinge_embedding_loss", "grad_output of the wrong shape", (distances, similar),
          {"reduction": "none"}, grad_output=np.ones(3),
          torch=Refuses(RuntimeError, "Mismatch in shape"),
          ours=Refuses(ValueError, "grad_output")),
    # Cosine embedding: a 1-D target with (N, D) inputs or a 0-D one with (D,) inputs.
    *rows("cosine_embedding_loss", "target of shape (N, 1)", (emb1, emb2, np.ones((3, 1))),
          torch=Refuses(RuntimeError, "0D or 1D target tensor expected, multi-target not"),
          ours=Refuses(ValueError, "target must be 0-D")),
    *rows("cosine_embedding_loss", "1-D target with inputs of shape (D,)",
          (emb1[0], emb2[0], np.ones(1)),
          torch=Refuses(RuntimeError, "1D target tensor expects 2D input tensors"),
          ours=Refuses(ValueError, "1-D target needs 2-D input1 and input2")),
    *rows("cosine_embedding_loss", "0-D target with inputs of shape (N, D)",
          (emb1, emb2, np.array(1.0)),
          torch=Refuses(RuntimeError, "0D target tensor expects 1D input tensors"),
          ours=Refuses(ValueError, "0-D target needs 1-D input1 and input2")),
    *rows("cosine_embedding_loss", "input2 of shape (D,) against input1 of shape (N, D)",
          (emb1, emb2[0], pair_labels),
          torch=Refuses(RuntimeError, "1D target tensor expects 2D input tensors"),
          ours=Refuses(ValueError, "input2")),
    *rows("cosine_embedding_loss", "embedding sizes that differ: shapes (3, 3) and (3, 2)",
          (emb1, emb2[:, :2], pair_labels),
          torch=Refuses(RuntimeError, "must match the size of tensor"),
          ours=Refuses(ValueError, "input2 of shape (3, 2)")),
    *rows("cosine_embedding_loss", "target shape of another batch size",
          (emb1, emb2, np.ones(2)),
          torch=Refuses(RuntimeError, "must match the size of tensor"),
          ours=Refuses(ValueError, "target of shape (2,)")),
    *rows("cosine_embedding_loss", "unknown reduction", (emb1, emb2, pair_labels),
          {"reduction": "avg"},
          torch=Refuses(ValueError, "avg is not a valid value for reduction"),
          ours=Refuses(ValueError, "reduction")),
    *rows("cosine_embedding_loss", "reduction that is not a string", (emb1, emb2, pair_labels),
          {"reduction": None},
          torch=Refuses(ValueError, "None is not a valid value for reduction"),
          ours=Refuses(TypeError, "reduction")),
    *rows("cosine_embedding_loss", "integer input1 (autograd cannot differentiate it)",
          (emb1.astype(int), emb2, pair_labels), grad_output=np.ones(()),
          torch=Refuses(RuntimeError, "only Tensors of floating point dtype can require grad"),
          ours=Refuses(TypeError, "input1")),
    *rows("cosine_embedding_loss", "integer embeddings (torch's forward computes in float32)",
          (emb1.astype(int), emb2.astype(int), pair_labels), torch=ACCEPTS,
          ours=Refuses(TypeError, "input1"), why_stricter=PREDICTION_MUST_BE_FLOAT),
    *rows("cosine_embedding_loss", "complex embeddings",
          (emb1.astype(complex), emb2.astype(complex), pair_labels),
          torch=Refuses(NotImplementedError, "clamp is not supported for complex types"),
          ours=Refuses(TypeError, "input1")),
    *rows("cosine_embedding_loss", "boolean input1 beside a float input2",
          (emb1 > 0, emb2, pair_labels), torch=ACCEPTS, ours=Refuses(TypeError, "input1"),
          why_stricter=PREDICTION_MUST_BE_FLOAT),
    *rows("cosine_embedding_loss", "boolean embeddings (torch's forward computes in float32)",
          (emb1 > 0, emb2 > 0, pair_labels), torch=ACCEPTS, ours=Refuses(TypeError, "input1"),
          why_stricter=PREDICTION_MUST_BE_FLOAT),
    *rows("cosine_embedding_loss", "float16 embeddings (torch sums them in float32)",
          (emb1.astype(np.float16), emb2.astype(np.float16), pair_labels),
          {"reduction": "none", "margin": 0.2}, torch=ACCEPTS, ours=ACCEPTS),
    *rows("cosine_embedding_loss", "margin that is a string", (emb1, emb2, pair_labels),
          {"margin": "1"},
          torch=Refuses(TypeError, "argument 'margin' (position 4) must be float, not str"),
          ours=Refuses(TypeError, "margin")),
    *rows("cosine_embedding_loss", "grad_output of the wrong shape", (emb1, emb2, pair_labels),
          {"reduction": "none"}, grad_output=np.ones(2),
          torch=Refuses(RuntimeError, "Mismatch in shape"),
          ours=Refuses(ValueError, "grad_output")),
    *rows(TRIPLETS, "shapes of different dimensions", (anchors, positives[0], negatives),
          torch=Refuses(RuntimeError, "expected to have the same number of dimensions"),
          ours=Refuses(ValueError, "same number of dimensions")),
    *rows(TRIPLETS, "vector sizes that do not broadcast (shape)", (anchors, np.ones((3, 3)),
          negatives),
          torch=Refuses(RuntimeError, "must match the size of tensor"),
          ours=Refuses(ValueError, "positive of shape")),
    *rows(TRIPLETS, "batch shapes that do not broadcast", (anchors, positives[:2], negatives),
          torch=Refuses(RuntimeError, "must match the size of tensor"),
          ours=Refuses(ValueError, "anchor of shape")),
    *rows(TRIPLETS, "unknown reduction", triplet, {"reduction": "avg"},
          torch=Refuses(ValueError, "avg is not a valid value for reduction"),
          ours=Refuses(ValueError, "reduction")),
    *rows(TRIPLETS, "reduction that is not a string", triplet, {"reduction": 1},
          torch=Refuses(ValueError, "1 is not a valid value for reduction"),
          ours=Refuses(TypeError, "reduction")),
    *rows(TRIPLETS, "integer inputs (torch computes in its default dtype)",
          tuple(np.arange(6).reshape(3, 2) + k for k in range(3)),
          torch=ACCEPTS, ours=Refuses(TypeError, "anchor"),
          why_stricter=PREDICTION_MUST_BE_FLOAT + "; torch's result has its global default "
          "dtype, which NumPy does not have"),
    *rows(TRIPLETS, "integer anchor: autograd refuses to differentiate it",
          (np.arange(6).reshape(3, 2), positives, negatives), grad_output=np.asarray(1.0),
          torch=Refuses(RuntimeError, "only Tensors of floating point dtype can require"),
          ours=Refuses(TypeError, "anchor")),
    *rows(TRIPLETS, "boolean inputs", (anchors > 0, positives > 0, negatives > 0),
          torch=Refuses(RuntimeError, "with two bool tensors is not supported"),
          ours=Refuses(TypeError, "anchor")),
    *rows(TRIPLETS, "complex inputs", tuple(x.astype(complex) for x in triplet),
          torch=ACCEPTS, ours=Refuses(TypeError, "anchor"), why_stricter=PREDICTION_MUST_BE_FLOAT),
    *rows(TRIPLETS, "zero margin", triplet, {"margin": 0.0},
          torch=Refuses(ValueError, "margin must be greater than 0, got 0.0"),
          ours=Refuses(ValueError, "margin")),
    *rows(TRIPLETS, "negative margin", triplet, {"margin": -1.0},
          torch=Refuses(ValueError, "margin must be greater than 0, got -1.0"),
          ours=Refuses(ValueError, "margin")),
    *rows(TRIPLETS, "margin that is a string", triplet, {"margin": "1"},
          torch=Refuses(TypeError, "'<=' not supported"), ours=Refuses(TypeError, "margin")),
    *rows(TRIPLETS, "NaN margin", triplet, {"margin": float("nan")},
          torch=ACCEPTS, ours=Refuses(ValueError, "margin"),
          why_stricter="a NaN margin makes every loss NaN; torch's check margin <= 0 lets it "
          "through only because NaN fails every comparison"),
    *rows("triplet_margin_loss", "p that is a string", triplet, {"p": "2"},
          torch=Refuses(TypeError, "argument 'p' (position 5) must be float, not str"),
          ours=Refuses(TypeError, "p must be a real number")),
    *rows("triplet_margin_loss", "eps=None", triplet, {"eps": None},
          torch=Refuses(TypeError, "argument 'eps' (position 6) must be float, not NoneType"),
          ours=Refuses(TypeError, "eps")),
    *rows("triplet_margin_loss", "inf norm of vectors of length 0",
          (np.ones((2, 0)), np.ones((2, 0)), np.ones((2, 0))), {"p": float("inf")},
          torch=Refuses(RuntimeError, "cannot compute the inf norm"),
          ours=Refuses(ValueError, "p=inf")),
    *rows("triplet_margin_loss", "swap that is an integer", triplet, {"swap": 1},
          torch=Refuses(TypeError, "argument 'swap' (position 7) must be bool, not int"),
          ours=Refuses(TypeError, "swap")),
    *rows("triplet_margin_with_distance_loss", "swap that is a string", triplet, {"swap": "no"},
          torch=ACCEPTS, ours=Refuses(TypeError, "swap"),
          why_stricter="torch tests only the truth of swap, so swap='no' swaps; lossnotes wants "
          "a bool, as triplet_margin_loss does in torch"),
    *rows("triplet_margin_with_distance_loss", "distance_function that is not callable",
          triplet, {"distance_function": 3},
          torch=Refuses(TypeError, "'int' object is not callable"),
          ours=Refuses(TypeError, "distance_function")),
    *rows("triplet_margin_with_distance_loss", "margin passed by position", (*triplet, 1.0),
          torch=Refuses(TypeError, "takes 3 positional arguments but 4 were given"),
          ours=Refuses(TypeError, "takes 3 positional arguments but 4 were given")),
    # A callable that works on tensors and arrays alike: torch differentiates it, lossnotes.grad
    # cannot (its forward takes it; test_embedding.py compares the losses).
    *rows("triplet_margin_with_distance_loss", "gradient through a custom distance", triplet,
          {"distance_function": lambda x1, x2: abs(x1 - x2).sum(-1)}, grad_output=np.asarray(1.0),
          torch=ACCEPTS, ours=Refuses(TypeError, "distance_function"),
          why_stricter="lossnotes.grad cannot differentiate an arbitrary NumPy callable"),
    *rows("triplet_margin_with_distance_loss", "boolean anchor with a distance that takes it",
          (anchors > 0, positives, negatives),
          {"distance_function": lambda x1, x2: 1.0 - torch.nn.functional.cosine_similarity(x1, x2)},
          torch=ACCEPTS, ours=Refuses(TypeError, "anchor"), why_stricter=PREDICTION_MUST_BE_FLOAT),
    *rows(TRIPLETS, "boolean anchor beside float embeddings", (anchors > 0, positives, negatives),
          torch=Refuses(RuntimeError, "Subtraction, the `-` operator, with a bool tensor"),
          ours=Refuses(TypeError, "anchor")),
    *rows(TRIPLETS, "float16 embeddings (torch's norms accumulate in float32)",
          tuple(x.astype(np.float16) for x in triplet), {"reduction": "none"},
          torch=ACCEPTS, ours=ACCEPTS),
    *rows(TRIPLETS, "grad_output of the wrong shape", triplet, {"reduction": "none"},
          grad_output=np.ones(2),
          torch=Refuses(RuntimeError, "Mismatch in shape"),
          ours=Refuses(ValueError, "grad_output")),
    # Shapes.
    *rows("multilabel_margin_loss", "target of another shape", (class_scores, padded_labels[:, :3]),
          torch=Refuses(RuntimeError, "inconsistent target size"),
          ours=Refuses(ValueError, "target")),
    *rows("multilabel_margin_loss", "1-D target shape for a (1, C) input",
          (class_scores[:1], padded_labels[0]),
          torch=Refuses(RuntimeError, "inconsistent target size"),
          ours=Refuses(ValueError, "target")),
    *rows("multi_margin_loss", "target of shape (N, 1)", (class_scores, class_labels[:, None]),
          torch=Refuses(RuntimeError, "target tensor should be 1-D with size equal to the number"),
          ours=Refuses(ValueError, "target")),
    *rows("multi_margin_loss", "target of another batch size (shape)",
          (class_scores, class_labels[:1]),
          torch=Refuses(RuntimeError, "target tensor should be 1-D with size equal to the number"),
          ours=Refuses(ValueError, "target")),
    *class_rows("3-D input shape", lambda x, t, name: (x[None], t[None]),
                torch=Refuses(RuntimeError, "Expected non-empty vector or matrix"),
                ours=Refuses(ValueError, "input")),
    *class_rows("no classes: input shape (2, 0)",
                lambda x, t, name: (x[:, :0], t[:, :0] if t.ndim == 2 else t),
                torch=Refuses(RuntimeError, "Expected non-empty vector or matrix"),
                ours=Refuses(ValueError, "input")),
    *rows("multi_margin_loss", "weight of shape (C - 1,)", (class_scores, class_labels),
          {"weight": np.ones(3)},
          torch=Refuses(RuntimeError, "inconsistent weight size, expected 4 but got [3]"),
          ours=Refuses(ValueError, "weight")),
    *rows("multi_margin_loss", "weight of shape (1, C)", (class_scores, class_labels),
          {"weight": np.ones((1, 4))},
          torch=Refuses(ValueError, "weight must be one-dimensional"),
          ours=Refuses(ValueError, "weight")),
    *class_rows("one sample, 1-D input", lambda x, t, name: (x[0], np.array(t[0])),
                torch=ACCEPTS, ours=ACCEPTS),
    *class_rows("one sample, 0-d input (C = 1)",
                lambda x, t, name: (np.array(x[0, 0]), np.array(0)),
                {"reduction": "none"}, torch=ACCEPTS, ours=ACCEPTS),
    *rows("multi_margin_loss", "(1, C) input, 0-d target: a 0-d 'none' loss",
          (class_scores[:1], np.array(class_labels[0])), {"reduction": "none"},
          torch=ACCEPTS, ours=ACCEPTS),
    # Class indices.
    *class_rows("class index C is out of range",
                lambda x, t, name: (x, np.where(t == 2, 4, t)),
                torch={"multilabel_margin_loss": Refuses(RuntimeError, "'target' is out of range"),
                       "multi_margin_loss": Refuses(RuntimeError, "target out of range")},
                ours=Refuses(ValueError, "target")),
    *rows("multilabel_margin_loss", "index -2 is out of range (only -1 pads)",
          (class_scores, np.where(padded_labels == 0, -2, padded_labels)),
          torch=Refuses(RuntimeError, "'target' is out of range"),
          ours=Refuses(ValueError, "target")),
    *rows("multilabel_margin_loss", "an index >= C after the padding is refused too",
          (class_scores, np.array([[3, 0, -1, 9], [2, -1, -1, -1]])),
          torch=Refuses(RuntimeError, "'target' is out of range"),
          ours=Refuses(ValueError, "target")),
    *rows("multi_margin_loss", "-1 is out of range (no padding here)",
          (class_scores, np.array([3, -1])),
          torch=Refuses(RuntimeError, "target out of range"),
          ours=Refuses(ValueError, "target")),
    *rows("multilabel_margin_loss", "all padding: loss 0", (class_scores, -np.ones((2, 4), int)),
          {"reduction": "none"}, torch=ACCEPTS, ours=ACCEPTS),
    *rows("multilabel_margin_loss", "repeated target counts twice",
          (class_scores, np.array([[3, 3, -1, 1], [2, 2, 2, 2]])), {"reduction": "none"},
          torch=ACCEPTS, ours=ACCEPTS),
    *rows("multilabel_margin_loss", "every class a target: loss 0",
          (class_scores, np.array([[0, 1, 2, 3], [3, 2, 1, 0]])), torch=ACCEPTS, ours=ACCEPTS),
    # Values: the kernels skip a NaN term (z > 0 is False), and an infinite one is infinite.
    *class_rows("NaN and infinite scores", lambda x, t, name: (nan_x[:, [0, 1, 2, 2]], t),
                {"reduction": "none"}, torch=ACCEPTS, ours=ACCEPTS),
    # Reductions.
    *class_rows("unknown reduction", kwargs={"reduction": "avg"},
                torch=Refuses(ValueError, "avg is not a valid value for reduction"),
                ours=Refuses(ValueError, "reduction")),
    *class_rows("reduction=None", kwargs={"reduction": None},
                torch=Refuses(ValueError, "None is not a valid value for reduction"),
                ours=Refuses(TypeError, "reduction")),
    *class_rows("legacy flags override reduction",
                kwargs={"size_average": False, "reduce": True, "reduction": "none"},
                torch=ACCEPTS, ours=ACCEPTS),
    # Dtypes.
    *class_rows("integer input", lambda x, t, name: (np.round(x * 10).astype(np.int64), t),
                torch=Refuses(NotImplementedError, "not implemented for 'Long'"),
                ours=Refuses(TypeError, "input")),
    *class_rows("float16 input", lambda x, t, name: (x.astype(np.float16), t),
                torch=Refuses(NotImplementedError, "not implemented for 'Half'"),
                ours=Refuses(TypeError, "input")),
    # An empty batch never reaches the kernels, which check dtypes: torch takes float16 there,
    # and so does lossnotes; it still checks the target's and weight's dtypes, as for any batch.
    *class_rows("float16 input, empty batch",
                lambda x, t, name: (x[:0].astype(np.float16), t[:0]),
                {"reduction": "none"}, torch=ACCEPTS, ours=ACCEPTS),
    *class_rows("int32 integer target, empty batch",
                lambda x, t, name: (x[:0], t[:0].astype(np.int32)), {"reduction": "none"},
                torch=ACCEPTS, ours=Refuses(TypeError, "target"), why_stricter=EMPTY_BATCH),
    *rows("multi_margin_loss", "float32 weight for a float64 input, empty batch",
          (class_scores[:0], class_labels[:0]),
          {"weight": np.ones(4, dtype=np.float32), "reduction": "none"},
          torch=ACCEPTS, ours=Refuses(TypeError, "weight"), why_stricter=EMPTY_BATCH),
    *class_rows("floating (not integer) target", lambda x, t, name: (x, t.astype(np.float64)),
                torch=Refuses(RuntimeError, "expected scalar type Long but found Double"),
                ours=Refuses(TypeError, "target")),
    *class_rows("int32 integer target", lambda x, t, name: (x, t.astype(np.int32)),
                torch=Refuses(RuntimeError, "expected scalar type Long but found Int"),
                ours=Refuses(TypeError, "target")),
    *rows("multi_margin_loss", "integer weight", (class_scores, class_labels),
          {"weight": np.array([1, 2, 3, 4])},
          torch=Refuses(RuntimeError, "expected scalar type Double but found Long"),
          ours=Refuses(TypeError, "weight")),
    *rows("multi_margin_loss", "float32 weight for a float64 input", (class_scores, class_labels),
          {"weight": np.ones(4, dtype=np.float32)},
          torch=Refuses(RuntimeError, "expected scalar type Double but found Float"),
          ours=Refuses(TypeError, "weight")),
    # Parameters.
    *rows("multi_margin_loss", "p=3", (class_scores, class_labels), {"p": 3},
          torch=Refuses(ValueError, "only p == 1 and p == 2 supported"),
          ours=Refuses(ValueError, "p must be 1 or 2")),
    *rows("multi_margin_loss", "p=1.5", (class_scores, class_labels), {"p": 1.5},
          torch=Refuses(ValueError, "only p == 1 and p == 2 supported"),
          ours=Refuses(ValueError, "p must be 1 or 2")),
    *rows("multi_margin_loss", "p=2.0, a float equal to 2", (class_scores, class_labels),
          {"p": 2.0}, torch=ACCEPTS, ours=ACCEPTS),
    *rows("multi_margin_loss", "margin that is a string", (class_scores, class_labels),
          {"margin": "1"},
          torch=Refuses(TypeError, "argument 'margin' (position 4) must be Number, not str"),
          ours=Refuses(TypeError, "margin")),
    *rows("multi_margin_loss", "margin=None", (class_scores, class_labels), {"margin": None},
          torch=Refuses(TypeError, "must be Number, not NoneType"),
          ours=Refuses(TypeError, "margin")),
    *rows("multi_margin_loss", "negative margin", (class_scores, class_labels),
          {"margin": -0.5, "reduction": "none"}, torch=ACCEPTS, ours=ACCEPTS),
    *rows("multi_margin_loss", "infinite margin", (class_scores, class_labels),
          {"margin": float("inf"), "p": 2, "reduction": "none"}, torch=ACCEPTS, ours=ACCEPTS),
    *rows("multi_margin_loss", "negative class weight", (class_scores, class_labels),
          {"weight": np.array([1.0, -2.0, 3.0, -4.0])}, torch=ACCEPTS, ours=ACCEPTS),
    # The upstream gradient.
    *class_rows("grad_output of the wrong shape", kwargs={"reduction": "none"},
                grad_output=np.ones(3),
                torch=Refuses(RuntimeError, "Mismatch in shape"),
                ours=Refuses(ValueError, "grad_output")),
    *rows("soft_margin_loss", "target shape that does not broadcast", (scores, np.ones((2, 4))),
          torch=Refuses(RuntimeError, "must match the size of tensor"),
          ours=Refuses(ValueError, "target")),
    *rows("soft_margin_loss", "target shape larger than the input's", (scores[0], signs),
          torch=Refuses(RuntimeError, "doesn't match the broadcast shape"),
          ours=Refuses(ValueError, "target")),
    *rows("soft_margin_loss", "unknown reduction", (scores, signs), {"reduction": "avg"},
          torch=Refuses(ValueError, "avg is not a valid value for reduction"),
          ours=Refuses(ValueError, "reduction")),
    *rows("soft_margin_loss", "integer input", (integers, signs),
          torch=Refuses(RuntimeError, "can't be cast to the desired output type Long"),
          ours=Refuses(TypeError, "input")),
    *rows("soft_margin_loss", "complex input", (scores.astype(np.complex128), signs),
          torch=ACCEPTS, ours=Refuses(TypeError, "input"),
          why_stricter="torch computes a complex soft margin loss, but its autograd refuses to "
          "differentiate it (the row below); " + PREDICTION_MUST_BE_FLOAT),
    *rows("soft_margin_loss", "complex input and target, differentiated",
          (scores.astype(np.complex128), signs.astype(np.complex128)), grad_output=np.ones(()),
          torch=Refuses(RuntimeError, "does not support automatic differentiation for outputs "
                        "with complex dtype"),
          ours=Refuses(TypeError, "input")),
    *rows("soft_margin_loss", "complex target", (scores, signs.astype(np.complex128)),
          torch=Refuses(RuntimeError, "can't be cast to the desired output type"),
          ours=Refuses(TypeError, "target")),
    *rows("soft_margin_loss", "integer target of the input's shape",
          (scores, signs.astype(np.int64)), torch=ACCEPTS, ours=ACCEPTS),
    *rows("soft_margin_loss", "a target row broadcast over the batch", (scores, signs[0]),
          torch=ACCEPTS, ours=ACCEPTS),
    # Infinite margins y x = +inf only: at y x = -inf torch's gradient is inf / inf = NaN where
    # lossnotes gives the limit -y (test_margin.py, where torch overflows).
    *rows("soft_margin_loss", "NaN scores, and infinite margins",
          (nan_x, np.array([1.0, 1.0, -1.0])), torch=ACCEPTS, ours=ACCEPTS),
    *rows("soft_margin_loss", "empty batch: 'mean' is NaN", (np.ones((0, 3)), np.ones((0, 3))),
          torch=ACCEPTS, ours=ACCEPTS),
    *rows("soft_margin_loss", "a margin of -1000: torch's log1p(exp) overflows",
          (np.array([-1000.0, 1.0]), np.array([1.0, 1.0])), {"reduction": "none"},
          torch=ACCEPTS,
          ours=Differs("torch 2.13 evaluates log1p(exp(-y x)) as written, which overflows to "
                       "inf once -y x passes the exponential's range; lossnotes gives the true "
                       "value, -y x + log1p(exp(y x))",
                       torch_value=[np.inf, np.log1p(np.exp(-1.0))],
                       ours_value=[1000.0, np.log1p(np.exp(-1.0))])),
    *rows("soft_margin_loss", "its gradient at a margin of -1000: NaN in torch",
          (np.array([-1000.0, 1.0]), np.array([1.0, 1.0])), {"reduction": "none"},
          grad_output=np.ones(2), torch=ACCEPTS,
          ours=Differs("the gradient of the overflowing log1p(exp(-y x)) is inf/inf, NaN; "
                       "lossnotes' is the true -y sigmoid(-y x), -1 here",
                       torch_value=[np.nan, -1.0 / (1.0 + np.e)],
                       ours_value=[-1.0, -1.0 / (1.0 + np.e)])),
    *rows("soft_margin_loss", "a margin of -1000 in float16 too: torch's overflows past 11.09",
          (np.array([-11.0, -11.1, -1000.0], dtype=np.float16), np.ones(3, dtype=np.float16)),
          {"reduction": "none"}, torch=ACCEPTS,
          ours=Differs("torch's float16 exp(-y x) overflows past 65504, a margin of -11.09; "
                       "lossnotes gives the true value there, -y x + log1p(exp(y x))",
                       torch_value=[11.0, np.inf, np.inf], ours_value=[11.0, 11.1, 1000.0])),
    *rows("soft_margin_loss", "its float16 gradient past a margin of -11.09: NaN in torch",
          (np.array([-11.0, -11.1, -1000.0], dtype=np.float16), np.ones(3, dtype=np.float16)),
          {"reduction": "none"}, grad_output=np.ones(3, dtype=np.float16), torch=ACCEPTS,
          ours=Differs("the float16 gradient of the overflowing log1p(exp(-y x)) is inf/inf, "
                       "NaN; lossnotes' is -y sigmoid(-y x), -1 here",
                       torch_value=[-1.0, np.nan, np.nan], ours_value=[-1.0, -1.0, -1.0])),
    *rows("soft_margin_loss", "its gradient at a margin of -inf: NaN in torch",
          (np.array([-np.inf, 1.0]), np.array([1.0, 1.0])), {"reduction": "none"},
          grad_output=np.ones(2), torch=ACCEPTS,
          ours=Differs("exp(-y x) is inf at y x = -inf, and torch's gradient inf/inf; the loss "
                       "is inf in both, lossnotes' gradient the limit -y",
                       torch_value=[np.nan, -1.0 / (1.0 + np.e)],
                       ours_value=[-1.0, -1.0 / (1.0 + np.e)])),
    *rows("soft_margin_loss", "float16 scores (the #20 gradient at 7.184)",
          (np.array([7.184, -7.184, 0.0, 3.0], dtype=np.float16),
           np.array([1.0, 1.0, -1.0, -1.0], dtype=np.float16)), {"reduction": "none"},
          torch=ACCEPTS, ours=ACCEPTS),
    *rows("multilabel_soft_margin_loss", "a wrong infinite logit costs inf, a right one NaN",
          (np.array([[np.inf, -np.inf], [np.inf, 1.0]]), np.array([[0.0, 1.0], [1.0, 0.0]])),
          {"reduction": "none"}, torch=ACCEPTS, ours=ACCEPTS),
    *rows("multilabel_soft_margin_loss", "float16 logits and weight", (scores.astype(np.float16),
          labels01.astype(np.float16)), {"weight": np.array([1.0, 0.5, 2.0], np.float16)},
          torch=ACCEPTS, ours=ACCEPTS),
    *rows("multilabel_soft_margin_loss", "0-d input (no class axis): shape",
          (np.array(1.0), np.array(1.0)),
          torch=Refuses(IndexError, "Dimension specified as -1 but tensor has no dimensions"),
          ours=Refuses(ValueError, "input")),
    *rows("multilabel_soft_margin_loss", "target shape that does not broadcast",
          (scores, np.ones((2, 4))),
          torch=Refuses(RuntimeError, "must match the size of tensor"),
          ours=Refuses(ValueError, "target")),
    *rows("multilabel_soft_margin_loss", "weight shape of another class count", (scores, labels01),
          {"weight": np.ones(4)},
          torch=Refuses(RuntimeError, "must match the size of tensor"),
          ours=Refuses(ValueError, "weight")),
    *rows("multilabel_soft_margin_loss", "boolean target", (scores, labels01.astype(bool)),
          torch=Refuses(RuntimeError, "Subtraction, the `-` operator, with a bool tensor"),
          ours=Refuses(TypeError, "target")),
    *rows("multilabel_soft_margin_loss", "unknown reduction", (scores, labels01),
          {"reduction": "avg"},
          torch=Refuses(ValueError, "avg is not valid"),
          ours=Refuses(ValueError, "reduction")),
    *rows("multilabel_soft_margin_loss", "integer input", (integers, labels01),
          torch=Refuses(NotImplementedError, "not implemented for 'Long'"),
          ours=Refuses(TypeError, "input")),
    *rows("multilabel_soft_margin_loss", "integer weight per class", (scores, labels01),
          {"weight": np.array([1, 0, 2])}, torch=ACCEPTS, ours=ACCEPTS),
    *rows("multilabel_soft_margin_loss", "integer target", (scores, labels01.astype(np.int64)),
          torch=ACCEPTS, ours=ACCEPTS),
    *rows("multilabel_soft_margin_loss", "1-D input: one sample", (scores[0], labels01[0]),
          torch=ACCEPTS, ours=ACCEPTS),
    *rows("multilabel_soft_margin_loss", "logits of +-1e4", (np.array([[1e4, -1e4, 0.0]]),
          labels01[:1]), torch=ACCEPTS, ours=ACCEPTS),
    *rows("multilabel_soft_margin_loss", "empty batch: 'mean' is NaN",
          (np.ones((0, 3)), np.ones((0, 3))), torch=ACCEPTS, ours=ACCEPTS),
    # CTC: shapes.
    *rows("ctc_loss", "log_probs of shape (T,): wrong number of dimensions",
          (ctc_log_probs[:, 0, 0], ctc_targets[0], np.array(5), np.array(2)),
          torch=Refuses(RuntimeError, "Expected 3-dimensional tensor, but got 2-dimensional"),
          ours=Refuses(ValueError, "log_probs")),
    *rows("ctc_loss", "log_probs of shape (1, T, N, C)", (ctc_log_probs[None], *CTC[1:]),
          torch=Refuses(RuntimeError, "Expected 3-dimensional tensor, but got 5-dimensional"),
          ours=Refuses(ValueError, "log_probs")),
    *rows("ctc_loss", "log_probs of an empty shape (C = 0)",
          (np.zeros((5, 2, 0)), *CTC[1:]),
          torch=Refuses(RuntimeError, "log_probs tensor must not be empty"),
          ours=Refuses(ValueError, "log_probs")),
    *rows("ctc_loss", "targets of shape (1, N, S)",
          (ctc_log_probs, ctc_targets[None], *ctc_lengths),
          torch=Refuses(RuntimeError, "Expected 1 to 2 dimensions, but got 3-dimensional"),
          ours=Refuses(ValueError, "targets")),
    *rows("ctc_loss", "padded targets of shape (1, S) for N = 2",
          (ctc_log_probs, ctc_targets[:1], *ctc_lengths),
          torch=Refuses(RuntimeError, "Expected tensor to have size 2 at dimension 0"),
          ours=Refuses(ValueError, "targets")),
    *rows("ctc_loss", "padded targets of shape (N, 1), narrower than a target length",
          (ctc_log_probs, ctc_targets[:, :1], *ctc_lengths),
          torch=Refuses(RuntimeError, "Expected tensor to have size at least 2 at dimension 1"),
          ours=Refuses(ValueError, "targets")),
    *rows("ctc_loss", "concatenated targets of shape (3,), not sum(target_lengths)",
          (ctc_log_probs, np.array([1, 2, 2]), *ctc_lengths),
          torch=Refuses(RuntimeError, "Expected tensor to have size 4 at dimension 0"),
          ours=Refuses(ValueError, "targets")),
    *rows("ctc_loss", "input_lengths of shape (3,) for N = 2",
          (ctc_log_probs, ctc_targets, np.array([5, 4, 3]), ctc_lengths[1]),
          torch=Refuses(RuntimeError, "input_lengths must be of size batch_size"),
          ours=Refuses(ValueError, "input_lengths")),
    *rows("ctc_loss", "target_lengths of shape (1,) for N = 2",
          (ctc_log_probs, ctc_targets, ctc_lengths[0], np.array([2])),
          torch=Refuses(RuntimeError, "target_lengths must be of size batch_size"),
          ours=Refuses(ValueError, "target_lengths")),
    *rows("ctc_loss", "unbatched (T, C) log_probs with lengths of shape (2,)",
          (ctc_log_probs[:, 0], ctc_targets[0], *ctc_lengths),
          torch=Refuses(RuntimeError, "input_lengths must be of size batch_size"),
          ours=Refuses(ValueError, "input_lengths")),
    *rows("ctc_loss", "lengths of shape (N, 1): torch counts the elements",
          (ctc_log_probs, ctc_targets, ctc_lengths[0][:, None], ctc_lengths[1][:, None]),
          {"reduction": "none"}, torch=ACCEPTS, ours=ACCEPTS),
    # CTC: length values and blank.
    *rows("ctc_loss", "input length 6 > T = 5", (ctc_log_probs, ctc_targets, (6, 4), (2, 2)),
          torch=Refuses(RuntimeError, "Expected input_lengths to have value at most 5"),
          ours=Refuses(ValueError, "input_lengths")),
    *rows("ctc_loss", "negative input length", (ctc_log_probs, ctc_targets, (-1, 4), (2, 2)),
          torch=Refuses(RuntimeError, "Expected input_lengths to have value at least 0"),
          ours=Refuses(ValueError, "input_lengths")),
    *rows("ctc_loss", "negative target length", (ctc_log_probs, ctc_targets, (5, 4), (-1, 2)),
          torch=Refuses(RuntimeError, "Expected target_lengths to have value at least 0"),
          ours=Refuses(ValueError, "target_lengths")),
    *rows("ctc_loss", "blank = C", CTC, {"blank": 3},
          torch=Refuses(RuntimeError, "blank must be in label range"),
          ours=Refuses(ValueError, "blank")),
    *rows("ctc_loss", "negative blank", CTC, {"blank": -1},
          torch=Refuses(RuntimeError, "blank must be in label range"),
          ours=Refuses(ValueError, "blank")),
    *rows("ctc_loss", "blank that is a float", CTC, {"blank": 0.0},
          torch=Refuses(TypeError, "received an invalid combination of arguments"),
          ours=Refuses(TypeError, "blank")),
    *rows("ctc_loss", "zero_infinity that is an integer", CTC, {"zero_infinity": 1},
          torch=Refuses(TypeError, "received an invalid combination of arguments"),
          ours=Refuses(TypeError, "zero_infinity")),
    # CTC: reductions.
    *rows("ctc_loss", "unknown reduction", CTC, {"reduction": "avg"},
          torch=Refuses(ValueError, "avg is not a valid value for reduction"),
          ours=Refuses(ValueError, "reduction")),
    *rows("ctc_loss", "reduction=None", CTC, {"reduction": None},
          torch=Refuses(ValueError, "None is not a valid value for reduction"),
          ours=Refuses(TypeError, "reduction")),
    # CTC: dtypes.
    *rows("ctc_loss", "non-integer input_lengths (float array)",
          (ctc_log_probs, ctc_targets, np.array([5.0, 4.0]), ctc_lengths[1]),
          torch=Refuses(RuntimeError, "input_lengths must be integral"),
          ours=Refuses(TypeError, "input_lengths")),
    *rows("ctc_loss", "non-integer target_lengths (tuple of floats)",
          (ctc_log_probs, ctc_targets, (5, 4), (2.0, 2.0)),
          torch=Refuses(TypeError, "received an invalid combination of arguments"),
          ours=Refuses(TypeError, "target_lengths")),
    *rows("ctc_loss", "boolean input_lengths, not integer",
          (ctc_log_probs, ctc_targets, np.array([True, True]), ctc_lengths[1]),
          torch=Refuses(RuntimeError, "input_lengths must be integral"),
          ours=Refuses(TypeError, "input_lengths")),
    *rows("ctc_loss", "input_lengths as one Python integer",
          (ctc_log_probs[:, :1], ctc_targets[:1], 5, (2,)),
          torch=Refuses(TypeError, "received an invalid combination of arguments"),
          ours=Refuses(TypeError, "input_lengths")),
    *rows("ctc_loss", "integer log_probs", ((ctc_log_probs * 10).astype(int), *CTC[1:]),
          torch=Refuses(NotImplementedError, "\"ctc_loss_cpu\" not implemented for 'Long'"),
          ours=Refuses(TypeError, "log_probs")),
    *rows("ctc_loss", "float16 log_probs", (ctc_log_probs.astype(np.float16), *CTC[1:]),
          torch=Refuses(NotImplementedError, "\"ctc_loss_cpu\" not implemented for 'Half'"),
          ours=Refuses(TypeError, "log_probs")),
    *rows("ctc_loss", "float targets, not integer",
          (ctc_log_probs, ctc_targets + 0.7, *ctc_lengths),
          torch=ACCEPTS, ours=Refuses(TypeError, "targets"), why_stricter=CTC_TORCH_CASTS_TARGETS),
    *rows("ctc_loss", "boolean targets, not integer",
          (ctc_log_probs, ctc_targets > 1, *ctc_lengths),
          torch=ACCEPTS, ours=Refuses(TypeError, "targets"), why_stricter=CTC_TORCH_CASTS_TARGETS),
    *rows("ctc_loss", "int32 targets and lengths",
          (ctc_log_probs, ctc_targets.astype(np.int32), *(a.astype(np.int32) for a in ctc_lengths)),
          torch=ACCEPTS, ours=ACCEPTS),
    # CTC: label values.  Labels out of range only in the first sequence (C) and in the second
    # (-1), so that torch's unchecked read stays inside the tensor.
    *rows("ctc_loss", "label C, out of range", (ctc_log_probs, np.array([[1, 3], [2, 2]]),
                                                 *ctc_lengths),
          torch=ACCEPTS, ours=Refuses(ValueError, "targets"), why_stricter=CTC_TORCH_READS_OUTSIDE),
    *rows("ctc_loss", "label -1, out of range", (ctc_log_probs, np.array([[1, 2], [2, -1]]),
                                                  *ctc_lengths),
          torch=ACCEPTS, ours=Refuses(ValueError, "targets"), why_stricter=CTC_TORCH_READS_OUTSIDE),
    *rows("ctc_loss", "padding out of range is never read",
          (ctc_log_probs, np.array([[1, 99], [2, 2]]), ctc_lengths[0], np.array([1, 2])),
          {"reduction": "none"}, torch=ACCEPTS, ours=ACCEPTS),
    *rows("ctc_loss", "targets containing the blank (torch's docstring forbids them)",
          (ctc_log_probs, np.array([[0, 1], [2, 0]]), *ctc_lengths), {"reduction": "none"},
          torch=ACCEPTS, ours=ACCEPTS),
    # CTC: values.
    *rows("ctc_loss", "impossible alignment: infinite loss, NaN gradient",
          (ctc_log_probs, ctc_targets, (5, 2), (2, 2)), {"reduction": "none"},
          torch=ACCEPTS, ours=ACCEPTS),
    *rows("ctc_loss", "impossible alignment with zero_infinity",
          (ctc_log_probs, ctc_targets, (5, 2), (2, 2)), {"zero_infinity": True},
          torch=ACCEPTS, ours=ACCEPTS),
    *rows("ctc_loss", "empty input and empty target", (ctc_log_probs, ctc_targets, (0, 0), (0, 2)),
          {"reduction": "none"}, torch=ACCEPTS, ours=ACCEPTS),
    *rows("ctc_loss", "probabilities instead of log-probabilities (not checked)",
          (np.exp(ctc_log_probs), *CTC[1:]), {"reduction": "none"}, torch=ACCEPTS, ours=ACCEPTS),
    *rows("ctc_loss", "NaN and -inf log_probs", (ctc_spoiled, *CTC[1:]), {"reduction": "none"},
          torch=ACCEPTS, ours=ACCEPTS),
    # CTC: the upstream gradient.
    *rows("ctc_loss", "grad_output of the wrong shape", CTC, {"reduction": "none"},
          grad_output=np.ones(3), torch=Refuses(RuntimeError, "Mismatch in shape"),
          ours=Refuses(ValueError, "grad_output")),
    *rows("linear_cross_entropy", "input shape of 3 dimensions",
          (hidden[None], projection, tokens),
          torch=Refuses(RuntimeError, "expected input with dimensionality 1 or 2"),
          ours=Refuses(ValueError, "input")),
    *rows("linear_cross_entropy", "linear_weight shape of 1 dimension",
          (hidden, projection[0], tokens),
          torch=Refuses(RuntimeError, "expected linear_weight with dimensionality at least 2"),
          ours=Refuses(ValueError, "linear_weight")),
    *rows("linear_cross_entropy", "in_features of input and linear_weight differ (shape)",
          (hidden, projection[:, :2], tokens),
          torch=Refuses(RuntimeError, "expected equal input and linear_weight last dimensions"),
          ours=Refuses(ValueError, "in_features")),
    *rows("linear_cross_entropy", "linear_bias of another shape", (hidden, projection, tokens),
          {"linear_bias": np.ones(4)},
          torch=Refuses(RuntimeError, "expected linear_bias shape (5,), got (4,)"),
          ours=Refuses(ValueError, "linear_bias")),
    *rows("linear_cross_entropy", "target of another batch shape",
          (hidden, projection, tokens[:3]),
          torch=Refuses(ValueError, "Expected input batch_size (4) to match target batch_size"),
          ours=Refuses(ValueError, "target")),
    *rows("linear_cross_entropy", "target of shape (N, 1)", (hidden, projection, tokens[:, None]),
          torch=Refuses(RuntimeError, "0D or 1D target tensor expected"),
          ours=Refuses(ValueError, "target")),
    *rows("linear_cross_entropy", "K-dimensional linear_weight shape with unbatched input",
          (hidden[0], projection[:, None], tokens[:1]),
          torch=Refuses(RuntimeError, "requires batched input"),
          ours=Refuses(ValueError, "batched")),
    *rows("linear_cross_entropy", "weight of another shape", (hidden, projection, tokens),
          {"weight": np.ones(4)},
          torch=Refuses(RuntimeError, "weight tensor should be defined either for all 5 classes"),
          ours=Refuses(ValueError, "weight")),
    *rows("linear_cross_entropy", "unbatched input with a target of shape (1,)",
          (hidden[0], projection, tokens[:1]), torch=ACCEPTS, ours=Refuses(ValueError, "target"),
          why_stricter="torch's nll_loss reads a 1-element target against 1-D logits as the "
          "documented 0-d one; lossnotes asks for the documented shape ()"),
    *rows("linear_cross_entropy", "unknown reduction", (hidden, projection, tokens),
          {"reduction": "avg"},
          torch=Refuses(ValueError, "avg is not a valid value for reduction"),
          ours=Refuses(ValueError, "reduction")),
    *rows("linear_cross_entropy", "unknown reduction, chunked", (hidden, projection, tokens),
          {"reduction": "avg", "options": _chunked(batch_chunk_size=2)},
          torch=Refuses(ValueError, "avg is not a valid value for reduction"),
          ours=Refuses(ValueError, "reduction")),
    *rows("linear_cross_entropy", "reduction=None", (hidden, projection, tokens),
          {"reduction": None},
          torch=Refuses(ValueError, "None is not a valid value for reduction"),
          ours=Refuses(TypeError, "reduction")),
    *rows("linear_cross_entropy", "integer input and linear_weight",
          (integers[:, :2], integers[:, :2], np.array([0, 1])),
          torch=Refuses(NotImplementedError, "not implemented for 'Long'"),
          ours=Refuses(TypeError, "input")),
    *rows("linear_cross_entropy", "integer input, float linear_weight",
          (hidden.astype(np.int64), projection, tokens),
          torch=Refuses(RuntimeError, "expected m1 and m2 to have the same dtype"),
          ours=Refuses(TypeError, "input")),
    *rows("linear_cross_entropy", "int32 integer class indices",
          (hidden, projection, tokens.astype(np.int32)),
          torch=Refuses(RuntimeError, "expected target dtype to be Long or Byte, but got Int"),
          ours=Refuses(TypeError, "target")),
    *rows("linear_cross_entropy", "float target of the class indices' shape",
          (hidden, projection, tokens.astype(float)),
          torch=Refuses(RuntimeError, "expected target dtype to be Long or Byte, but got Double"),
          ours=Refuses(TypeError, "target")),
    *rows("linear_cross_entropy", "integer probabilities", (hidden, projection, integers[:, :1]
                                                             .repeat(5, 1).repeat(2, 0)),
          torch=Refuses(RuntimeError, "Expected floating point type for target with class"),
          ours=Refuses(TypeError, "target")),
    *rows("linear_cross_entropy", "class index out of range", (hidden, projection, tokens + 1),
          torch=Refuses(IndexError, "Target 5 is out of bounds"),
          ours=Refuses(ValueError, "target")),
    *rows("linear_cross_entropy", "negative class index", (hidden, projection, tokens - 1),
          torch=Refuses(IndexError, "Target -1 is out of bounds"),
          ours=Refuses(ValueError, "target")),
    *rows("linear_cross_entropy", "class index out of range, chunked",
          (hidden, projection, tokens + 1), {"options": _chunked(batch_chunk_size=2)},
          torch=Refuses(RuntimeError, "index 5 is out of bounds for dimension 1 with size 5"),
          ours=Refuses(ValueError, "target")),
    *rows("linear_cross_entropy", "ignore_index with probabilities",
          (hidden, projection, token_probs), {"ignore_index": -100},
          torch=Refuses(RuntimeError, "ignore_index cannot be specified when target contains"),
          ours=Refuses(ValueError, "ignore_index")),
    *rows("linear_cross_entropy", "label_smoothing above 1", (hidden, projection, tokens),
          {"label_smoothing": 1.5},
          torch=Refuses(RuntimeError, "label_smoothing must be between 0.0 and 1.0"),
          ours=Refuses(ValueError, "label_smoothing")),
    *rows("linear_cross_entropy", "negative label_smoothing", (hidden, projection, tokens),
          {"label_smoothing": -0.1}, torch=ACCEPTS, ours=Refuses(ValueError, "label_smoothing"),
          why_stricter="torch's cross_entropy silently does no smoothing below 0 (its docstring "
          "and LinearCrossEntropyLoss ask for [0, 1])"),
    *rows("linear_cross_entropy", "NaN label_smoothing", (hidden, projection, tokens),
          {"label_smoothing": float("nan")}, torch=ACCEPTS,
          ours=Refuses(ValueError, "label_smoothing"),
          why_stricter="torch's cross_entropy silently does no smoothing for NaN"),
    *rows("linear_cross_entropy", "float32 weight for float64 input", (hidden, projection, tokens),
          {"weight": np.ones(5, dtype=np.float32)},
          torch=Refuses(RuntimeError, "expected scalar type Double but found Float"),
          ours=Refuses(TypeError, "weight")),
    *rows("linear_cross_entropy", "float32 linear_weight for float64 input",
          (hidden, projection.astype(np.float32), tokens),
          torch=Refuses(RuntimeError, "expected m1 and m2 to have the same dtype"),
          ours=Refuses(TypeError, "linear_weight")),
    *rows("linear_cross_entropy", "float32 linear_bias for float64 input, chunked",
          (hidden, projection, tokens),
          {"linear_bias": np.ones(5, dtype=np.float32), "options": _chunked()},
          torch=ACCEPTS, ours=Refuses(TypeError, "linear_bias"),
          why_stricter="torch's reference path (options=None) refuses it ('self and mat2 must "
          "have the same dtype'); its chunked path casts: lossnotes refuses on both"),
    *rows("linear_cross_entropy", "options that are not options", (hidden, projection, tokens),
          {"options": "fast"},
          torch=Refuses(AttributeError, "'str' object has no attribute '_adjust'"),
          ours=Refuses(TypeError, "options")),
    *rows("linear_cross_entropy", "batch_chunk_size disagreeing with chunking_method",
          (hidden, projection, tokens),
          {"options": _chunked(batch_chunk_size=3, chunking_method="aspect_ratio")},
          torch=Refuses(ValueError, "give different chunk sizes (3 vs 2)"),
          ours=Refuses(ValueError, "batch_chunk_size")),
    *rows("linear_cross_entropy", "acc_dtype float64 for float32 input",
          (hidden.astype(np.float32), projection.astype(np.float32), tokens),
          {"options": _chunked(acc_dtype=torch.float64)},
          torch=Refuses(RuntimeError, "supports float32 acc_dtype with float16/bfloat16 inputs"),
          ours=Refuses(ValueError, "acc_dtype")),
    *rows("linear_cross_entropy", "uint8 class indices with smoothing, a weight and 'mean'",
          (hidden, projection, tokens.astype(np.uint8)),
          {"label_smoothing": 0.1, "weight": np.ones(5)},
          torch=Refuses(RuntimeError, "gather(): Expected dtype int32/int64 for index"),
          ours=Refuses(TypeError, "uint8")),
    *rows("linear_cross_entropy", "weight longer than C, chunked", (hidden, projection, tokens),
          {"weight": np.ones(7), "options": _chunked(batch_chunk_size=2)},
          torch=ACCEPTS, ours=Refuses(ValueError, "weight"),
          why_stricter="torch's chunked path gathers the class weights at the targets without "
          "looking at the weight's shape (its reference path, options=None, refuses it): a "
          "weight that is not one per class is a mistake on both paths"),
    *rows("linear_cross_entropy", "weight shorter than C, chunked, every target below its length",
          (hidden, projection, np.array([0, 1, 2, 1])),
          {"weight": np.ones(3), "options": _chunked(batch_chunk_size=2)},
          torch=ACCEPTS, ours=Refuses(ValueError, "weight"),
          why_stricter="as for a longer weight: torch's chunked path reads the weight only at "
          "the targets"),
    *rows("linear_cross_entropy", "uint8 class indices with a K-dimensional loss",
          (hidden, projection[:, None], tokens[:, None].astype(np.uint8)),
          torch=Refuses(RuntimeError, "expected scalar type Long but found Byte"),
          ours=Refuses(TypeError, "uint8")),
    *rows("linear_cross_entropy", "uint8 class indices with a K-dimensional loss, empty batch",
          (hidden[:0], projection[:, None], tokens[:0, None].astype(np.uint8)),
          torch=ACCEPTS, ours=Refuses(TypeError, "uint8"),
          why_stricter="torch's K-dimensional kernel refuses uint8 indices, but its 'mean' and "
          "'sum' of an empty batch return before looking: lossnotes refuses them whatever the "
          "batch"),
    *rows("linear_cross_entropy", "a NaN hidden state on an ignored target, chunked: NaN",
          (np.where(np.arange(4)[:, None] == 2, np.nan, hidden), projection,
           np.array([0, 4, -100, 1])), {"options": _chunked(batch_chunk_size=2)},
          torch=ACCEPTS, ours=ACCEPTS),
    *rows("linear_cross_entropy", "a NaN hidden state on an ignored target, options=None: finite",
          (np.where(np.arange(4)[:, None] == 2, np.nan, hidden), projection,
           np.array([0, 4, -100, 1])), torch=ACCEPTS, ours=ACCEPTS),
    *rows("linear_cross_entropy", "every target ignored, 'mean', chunked: NaN loss and gradient",
          (hidden, projection, np.full(4, -100)), {"options": _chunked(batch_chunk_size=3)},
          torch=ACCEPTS, ours=ACCEPTS),
    *rows("linear_cross_entropy", "grad_output of the wrong shape", (hidden, projection, tokens),
          {"reduction": "none"}, grad_output=np.ones(3),
          torch=Refuses(RuntimeError, "Mismatch in shape"),
          ours=Refuses(ValueError, "grad_output")),
    *rows("adaptive_log_softmax_with_loss", "cutoffs not increasing", asm_args(cutoffs=[6, 3]),
          {"div_value": 2.0},
          torch=Refuses(ValueError, ASM_CUTOFFS_RULE), ours=Refuses(ValueError, "cutoffs")),
    *rows("adaptive_log_softmax_with_loss", "cutoffs repeated", asm_args(cutoffs=[3, 3]),
          {"div_value": 2.0},
          torch=Refuses(ValueError, ASM_CUTOFFS_RULE), ours=Refuses(ValueError, "cutoffs")),
    *rows("adaptive_log_softmax_with_loss", "cutoff of n_classes (out of range)",
          asm_args(cutoffs=[3, 10]), {"div_value": 2.0},
          torch=Refuses(ValueError, ASM_CUTOFFS_RULE), ours=Refuses(ValueError, "cutoffs")),
    *rows("adaptive_log_softmax_with_loss", "cutoff of 0", asm_args(cutoffs=[0, 6]),
          {"div_value": 2.0},
          torch=Refuses(ValueError, ASM_CUTOFFS_RULE), ours=Refuses(ValueError, "cutoffs")),
    *rows("adaptive_log_softmax_with_loss", "no cutoffs", asm_args(cutoffs=[]),
          {"div_value": 2.0},
          torch=Refuses(ValueError, "cutoffs should be a sequence of length larger than 0"),
          ours=Refuses(ValueError, "cutoffs")),
    *rows("adaptive_log_softmax_with_loss", "target above n_classes - 1",
          asm_args(target=np.array([0, 4, 10])), {"div_value": 2.0},
          torch=Refuses(RuntimeError, "Target values should be in [0, 9]"),
          ours=Refuses(ValueError, "target")),
    *rows("adaptive_log_softmax_with_loss", "negative target",
          asm_args(target=np.array([0, -1, 9])), {"div_value": 2.0},
          torch=Refuses(RuntimeError, "Target values should be in [0, 9]"),
          ours=Refuses(ValueError, "target")),
    *rows("adaptive_log_softmax_with_loss", "input shape of 3 dimensions",
          asm_args(input=asm_input[:, None]), {"div_value": 2.0},
          torch=Refuses(RuntimeError, "1D target tensor expects 2D input tensors"),
          ours=Refuses(ValueError, "input")),
    *rows("adaptive_log_softmax_with_loss", "batch shapes differ",
          asm_args(target=asm_target[:2]), {"div_value": 2.0},
          torch=Refuses(RuntimeError, "Input and target should have the same size in the batch"),
          ours=Refuses(ValueError, "batch size")),
    *rows("adaptive_log_softmax_with_loss", "target shape of 2 dimensions",
          asm_args(target=asm_target[None]), {"div_value": 2.0},
          torch=Refuses(RuntimeError, "0D or 1D target tensor expected"),
          ours=Refuses(ValueError, "target")),
    *rows("adaptive_log_softmax_with_loss", "0-d target with input of shape (N, H)",
          asm_args(target=np.array(4)), {"div_value": 2.0},
          torch=Refuses(RuntimeError, "0D target tensor expects 1D input tensors"),
          ours=Refuses(ValueError, "input")),
    *rows("adaptive_log_softmax_with_loss", "head_weight shape of another in_features",
          asm_args(head_weight=asm_head[:, :7]), {"div_value": 2.0},
          torch=Refuses(RuntimeError, "mat1 and mat2 shapes cannot be multiplied"),
          ours=Refuses(ValueError, "head_weight")),
    *rows("adaptive_log_softmax_with_loss", "head_weight shape without a cluster's entry",
          asm_args(head_weight=asm_head[:4]), {"div_value": 2.0},
          torch=Refuses(RuntimeError, "index 4 is out of bounds for dimension 1 with size 4"),
          ours=Refuses(ValueError, "head_weight")),
    *rows("adaptive_log_softmax_with_loss", "head_bias shape", asm_args(),
          {"div_value": 2.0, "head_bias": np.ones(4)},
          torch=Refuses(RuntimeError, "must match the existing size (4)"),
          ours=Refuses(ValueError, "head_bias")),
    *rows("adaptive_log_softmax_with_loss", "head_bias=True (the module's flag, not the bias)",
          asm_args(), {"div_value": 2.0, "head_bias": True},
          torch=Refuses(RuntimeError, "self and mat2 must have the same dtype"),
          ours=Refuses(TypeError, "head_bias")),
    *rows("adaptive_log_softmax_with_loss", "tail weights that do not multiply",
          asm_args(tail_weights=[(np.ones((4, 8)), np.ones((3, 5))), asm_tail[1]]),
          {"div_value": 2.0},
          torch=Refuses(RuntimeError, "mat1 and mat2 shapes cannot be multiplied"),
          ours=Refuses(ValueError, "tail_weights[0][1]")),
    *rows("adaptive_log_softmax_with_loss", "tail weights of other sizes than div_value gives",
          asm_args(tail_weights=[(np.ones((5, 8)), np.ones((3, 5))), asm_tail[1]]),
          {"div_value": 2.0}, torch=ACCEPTS, ours=Refuses(ValueError, "tail_weights[0][0]"),
          why_stricter="torch's forward multiplies whatever weights it holds; the module "
          "itself can only hold in_features // div_value ** (i + 1) hidden units, the layout "
          "lossnotes asks for"),
    *rows("adaptive_log_softmax_with_loss", "a cluster's pair missing",
          asm_args(tail_weights=asm_tail[:1]), {"div_value": 2.0},
          torch=Refuses(RuntimeError, "Missing key(s)"),
          ours=Refuses(ValueError, "tail_weights")),
    *rows("adaptive_log_softmax_with_loss", "div_value of 0", asm_args(), {"div_value": 0.0},
          torch=Refuses(ZeroDivisionError, "float floor division by zero"),
          ours=Refuses(ValueError, "div_value")),
    *rows("adaptive_log_softmax_with_loss", "integer input",
          asm_args(input=asm_input.astype(np.int64)), {"div_value": 2.0},
          torch=Refuses(RuntimeError, "expected m1 and m2 to have the same dtype"),
          ours=Refuses(TypeError, "input")),
    *rows("adaptive_log_softmax_with_loss", "float32 input, float64 weights",
          asm_args(input=asm_input.astype(np.float32)), {"div_value": 2.0},
          torch=Refuses(RuntimeError, "expected m1 and m2 to have the same dtype"),
          ours=Refuses(TypeError, "dtype of input")),
    *rows("adaptive_log_softmax_with_loss", "float target (not integer class indices)",
          asm_args(target=asm_target.astype(float)), {"div_value": 2.0},
          torch=Refuses(RuntimeError, "gather(): Expected dtype int32/int64 for index"),
          ours=Refuses(TypeError, "target")),
    *rows("adaptive_log_softmax_with_loss", "uint8 target (not int64 or int32 integer indices)",
          asm_args(target=asm_target.astype(np.uint8)), {"div_value": 2.0},
          torch=Refuses(RuntimeError, "gather(): Expected dtype int32/int64 for index"),
          ours=Refuses(TypeError, "target")),
    # No reduction: the module's loss is always mean(-output), and an argument for another is
    # refused by both (Python's own TypeError).
    *rows("adaptive_log_softmax_with_loss", "reduction, which it does not take", asm_args(),
          {"div_value": 2.0, "reduction": "sum"},
          torch=Refuses(TypeError, "unexpected keyword argument 'reduction'"),
          ours=Refuses(TypeError, "unexpected keyword argument 'reduction'")),
]


def _tensor(value: Any) -> Any:
    return torch.from_numpy(value.copy()) if isinstance(value, np.ndarray) else value


def _torch(row: Row) -> Any:
    """What torch does with the row: the loss, or the gradient when the row is about one."""
    args = [_tensor(a) for a in row.args]
    kwargs = {k: _tensor(v) for k, v in row.kwargs.items()}
    if row.grad_output is None:
        return torch_function(row.function)(*args, **kwargs)
    args[0].requires_grad_(True)
    loss = torch_function(row.function)(*args, **kwargs)
    return torch.autograd.grad(loss, args[0], _tensor(row.grad_output))


def _ours(row: Row, function: Any) -> Any:
    if row.grad_output is None:
        return function(*row.args, **row.kwargs)
    return function(*row.args, **row.kwargs, grad_output=row.grad_output)


def _check_refusal(outcome: Refuses, call: Any) -> None:
    with pytest.raises(outcome.error) as raised:
        call()
    assert outcome.fragment in str(raised.value), (
        f"message {str(raised.value)!r} lacks {outcome.fragment!r}"
    )


@pytest.fixture(autouse=True)
def _quiet() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.mark.parametrize("row", TABLE, ids=lambda row: row.id)
def test_torch_behaves_as_recorded(row: Row) -> None:
    if isinstance(row.torch, Refuses):
        _check_refusal(row.torch, lambda: _torch(row))
    else:
        _torch(row)


@pytest.mark.parametrize("row", TABLE, ids=lambda row: row.id)
def test_lossnotes_refuses_what_torch_refuses(row: Row) -> None:
    if isinstance(row.torch, Refuses):
        assert isinstance(row.ours, Refuses), "torch refuses this; lossnotes must too"
    elif isinstance(row.ours, Refuses):
        assert row.why_stricter, "lossnotes refuses what torch accepts: say why in the row"
    if not isinstance(row.ours, Refuses):
        return
    assert row.ours.error in (ValueError, TypeError)
    functions = [getattr(lossnotes.grad, row.function)]
    if row.grad_output is None:  # a refusal of the call itself: the loss refuses it too
        functions.append(getattr(lossnotes, row.function))
    for function in functions:
        _check_refusal(row.ours, lambda function=function: _ours(row, function))


@pytest.mark.parametrize(
    "row", [row for row in TABLE if row.ours == ACCEPTS], ids=lambda row: row.id
)
def test_what_both_accept_agrees(row: Row) -> None:
    ours = _ours(row, getattr(lossnotes, row.function))
    theirs = _torch(row).detach().numpy()
    assert_close(ours, theirs, "loss", elementwise=True)
    spec = SPECS_BY_NAME[row.function]
    # Every prediction argument that is a floating array is differentiated (a Python float,
    # such as gaussian_nll_loss's var, has no gradient in either).
    wrt = tuple(
        position for position in spec.wrt
        if isinstance(row.args[position], np.ndarray) and row.args[position].dtype.kind == "f"
    )
    if not wrt:
        return
    call = Call(row.args, row.kwargs)
    call = spec.torch_differentiable(call) or call  # a torch bug aside
    _, their_gradient = torch_gradient(row.function, call.args, call.kwargs, wrt)
    our_gradient = getattr(lossnotes.grad, row.function)(*row.args, **row.kwargs)
    ours_by_position = dict(zip(spec.wrt, _as_tuple(our_gradient)))
    for position, theirs_ in zip(wrt, _as_tuple(their_gradient)):
        assert_close(ours_by_position[position], theirs_,
                     f"gradient with respect to argument {position}")


def _as_tuple(gradient: Any) -> tuple[Any, ...]:
    return gradient if isinstance(gradient, tuple) else (gradient,)


DIFFERENCES = [row for row in TABLE if isinstance(row.ours, Differs)]


@pytest.mark.parametrize("row", DIFFERENCES, ids=lambda row: row.id)
def test_declared_differences_show_both_values(row: Row) -> None:
    """Each deliberate difference is still there, and each side gives its recorded value: a torch
    that changes, or a lossnotes that drifts, fails here."""
    assert row.torch == ACCEPTS and row.ours.why, "a difference is declared with its reason"
    theirs = _torch(row)
    theirs = theirs[0] if isinstance(theirs, tuple) else theirs
    theirs = theirs.detach().numpy()
    ours = _ours(row, getattr(lossnotes.grad if row.grad_output is not None else lossnotes,
                              row.function))
    expected_theirs = np.asarray(row.ours.torch_value, dtype=theirs.dtype)
    expected_ours = np.asarray(row.ours.ours_value, dtype=theirs.dtype)
    assert_close(theirs, expected_theirs, "torch's value", elementwise=True)
    assert_close(ours, expected_ours, "lossnotes' value", elementwise=True)
    with pytest.raises(AssertionError):
        assert_close(ours, theirs, "the declared difference", elementwise=True)


def test_every_function_has_rows() -> None:
    functions = set(lossnotes.__all__) - {"grad", *lossnotes.HELPERS}
    covered = {row.function for row in TABLE}
    assert functions <= covered, f"no hostile-input rows for {sorted(functions - covered)}"
    for name in functions:
        refused = [row for row in TABLE if row.function == name and row.torch != ACCEPTS]
        labels = " ".join(row.label for row in refused)
        for must in ("shape", "reduction", "integer"):
            assert must in labels, f"{name}: no row refusing a bad {must}"
