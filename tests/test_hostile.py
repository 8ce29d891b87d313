"""Hostile inputs, one table for every lossnotes function, with torch's own behaviour recorded.

Each row is a call, what torch 2.13.0 does with it (refuses with an exception whose message
contains a fragment, or accepts), and what lossnotes does.  The rules:

- what torch refuses, lossnotes refuses with ``ValueError`` or ``TypeError`` whose message names
  the offending argument, and so does ``lossnotes.grad``;
- what both accept gives the same result (NaN propagates as in torch), and the same gradient;
- lossnotes may be stricter than torch only where a row says why.

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
import torch.nn.functional as F
from lossspecs import SPECS_BY_NAME, Call, assert_close

import lossnotes
from lossnotes.torchcheck import torch_gradient


@dataclass(frozen=True)
class Refuses:
    """An exception of type ``error`` whose message contains ``fragment``."""

    error: type[Exception]
    fragment: str


ACCEPTS = "accepts"
Outcome = Refuses | str


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

# >>> classification-ce: data
# <<< classification-ce
# >>> classification-bce: data
# <<< classification-bce
# >>> likelihood: data
# <<< likelihood
# >>> embedding-pairs: data
# <<< embedding-pairs
# >>> embedding-triplets: data
# <<< embedding-triplets
# >>> margin-multi: data
# <<< margin-multi
# >>> margin-soft: data
# <<< margin-soft
# >>> sequence-ctc: data
# <<< sequence-ctc
# >>> sequence-vocab: data
# <<< sequence-vocab

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
    # >>> classification-ce: rows
    # <<< classification-ce
    # >>> classification-bce: rows
    # <<< classification-bce
    # >>> likelihood: rows
    # <<< likelihood
    # >>> embedding-pairs: rows
    # <<< embedding-pairs
    # >>> embedding-triplets: rows
    # <<< embedding-triplets
    # >>> margin-multi: rows
    # <<< margin-multi
    # >>> margin-soft: rows
    # <<< margin-soft
    # >>> sequence-ctc: rows
    # <<< sequence-ctc
    # >>> sequence-vocab: rows
    # <<< sequence-vocab
]


def _tensor(value: Any) -> Any:
    return torch.from_numpy(value.copy()) if isinstance(value, np.ndarray) else value


def _torch(row: Row) -> Any:
    """What torch does with the row: the loss, or the gradient when the row is about one."""
    args = [_tensor(a) for a in row.args]
    kwargs = {k: _tensor(v) for k, v in row.kwargs.items()}
    if row.grad_output is None:
        return getattr(F, row.function)(*args, **kwargs)
    args[0].requires_grad_(True)
    loss = getattr(F, row.function)(*args, **kwargs)
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
    if row.args[0].dtype.kind != "f":
        return
    call = Call(row.args, row.kwargs)
    call = SPECS_BY_NAME[row.function].torch_differentiable(call) or call  # a torch bug aside
    _, their_gradient = torch_gradient(row.function, call.args, call.kwargs)
    our_gradient = getattr(lossnotes.grad, row.function)(*row.args, **row.kwargs)
    assert_close(our_gradient, their_gradient, "gradient")


def test_every_function_has_rows() -> None:
    functions = set(lossnotes.__all__) - {"grad", *lossnotes.HELPERS}
    covered = {row.function for row in TABLE}
    assert functions <= covered, f"no hostile-input rows for {sorted(functions - covered)}"
    for name in functions:
        refused = [row for row in TABLE if row.function == name and row.torch != ACCEPTS]
        labels = " ".join(row.label for row in refused)
        for must in ("shape", "reduction", "integer"):
            assert must in labels, f"{name}: no row refusing a bad {must}"
