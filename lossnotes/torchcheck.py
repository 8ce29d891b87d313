"""Compare lossnotes with torch over a grid of arguments.

Used by the chapters and the tests.  It is the one module of the package that
touches torch, and it imports torch lazily, inside the functions, so that
``import lossnotes`` never needs it.
"""

from __future__ import annotations

import functools
import html
import inspect
import itertools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Agreement",
    "Edges",
    "agreement",
    "assert_within_ulps",
    "edges",
    "module_class",
    "module_weights",
    "second_derivatives",
    "signatures",
    "finite_difference_gradient",
    "torch_gradient",
    "torch_loss",
    "torch_version",
    "ulp_distance",
]

# Where NumPy and torch compute a transcendental function (log, log1p, exp,
# expm1, tanh, pow, ...) in float32 or float16, each picks its SIMD code for
# the CPU it runs on (NumPy's X86_V3/X86_V4 groups, torch's
# ATEN_CPU_CAPABILITY), and the two may round the same value one ulp apart
# on one machine and not on another.  Such results are compared within a
# bound in ulps of the dtype, never bit for bit: this is the bound for one
# such function evaluated on the same argument by both libraries.
TRANSCENDENTAL_ULPS = 4


def torch_version() -> str:
    """The installed torch's version, for pages that say what they checked."""
    import torch

    return torch.__version__


def _to_torch(value: Any, requires_grad: bool = False):
    import torch

    if isinstance(value, (np.ndarray, np.generic)):
        # A copy: torch must not share our memory.
        tensor = torch.from_numpy(np.array(value))
        return (
            tensor.requires_grad_(requires_grad) if requires_grad else tensor
        )
    return value


def _adaptive_log_softmax_with_loss(
    input: Any,
    target: Any,
    head_weight: Any,
    tail_weights: Any,
    n_classes: int,
    cutoffs: Any,
    div_value: float = 4.0,
    head_bias: Any = None,
) -> tuple[Any, Any]:
    """``torch.nn.AdaptiveLogSoftmaxWithLoss(...)(input, target)`` with the
    given weights (tensors or arrays), in the signature of
    ``lossnotes.adaptive_log_softmax_with_loss``."""
    import torch

    input = torch.as_tensor(input)
    features = input.shape[-1] if input.dim() else 0
    with warnings.catch_warnings():
        # The constructor initialises its own weights, replaced below (and
        # warns about one of zero elements); only the forward is compared.
        warnings.simplefilter("ignore")
        module = torch.nn.AdaptiveLogSoftmaxWithLoss(
            features,
            n_classes,
            cutoffs,
            div_value=div_value,
            head_bias=head_bias is not None,
            dtype=torch.as_tensor(head_weight).dtype,
        )
    parameters = {"head.weight": torch.as_tensor(head_weight)}
    if head_bias is not None:
        parameters["head.bias"] = torch.as_tensor(head_bias)
    for cluster, pair in enumerate(tail_weights):
        for layer, weight in enumerate(pair):
            parameters[f"tail.{cluster}.{layer}.weight"] = torch.as_tensor(
                weight
            )
    # strict: every weight given, none of the module's own random ones used.
    result = torch.func.functional_call(
        module, parameters, (input, target), strict=True
    )
    return tuple(result)


def module_weights(module: Any) -> tuple[Any, list[tuple[Any, Any]], Any]:
    """The weights of a ``torch.nn.AdaptiveLogSoftmaxWithLoss`` as
    ``lossnotes.adaptive_log_softmax_with_loss`` takes them: ``head_weight``,
    ``tail_weights`` (one pair of projections per cluster) and ``head_bias``
    (None without one), copied to NumPy."""

    def array(parameter: Any) -> np.ndarray:
        return parameter.detach().numpy().copy()

    tail = [(array(one.weight), array(two.weight)) for one, two in module.tail]
    bias = None if module.head.bias is None else array(module.head.bias)
    return array(module.head.weight), tail, bias


# Losses that torch has only as a module: the function torch_loss and
# torch_gradient call in place of torch.nn.functional.<name>, built from the
# module with lossnotes.<name>'s signature.  Such a function returns the
# module's (output, loss) pair: a tuple whose last entry is the loss.
MODULE_REFERENCES: dict[str, Callable[..., Any]] = {
    "adaptive_log_softmax_with_loss": _adaptive_log_softmax_with_loss,
}
_MODULE_NAMES = {
    "adaptive_log_softmax_with_loss": "torch.nn.AdaptiveLogSoftmaxWithLoss"
}


def _torch_name(name: str) -> str:
    """What lossnotes.<name> is compared with, for a table's caption."""
    return _MODULE_NAMES.get(name, f"torch.nn.functional.{name}")


def torch_function(name: str) -> Callable[..., Any]:
    """torch's ``<name>``: ``torch.nn.functional.<name>``, or the reference
    built from a module (``MODULE_REFERENCES``)."""
    import torch.nn.functional as F

    return MODULE_REFERENCES.get(name) or getattr(F, name)


def _numpy(result: Any) -> Any:
    """A tensor, or a tuple of them, as NumPy."""
    if isinstance(result, tuple):
        return tuple(part.detach().numpy() for part in result)
    return result.detach().numpy()


def torch_loss(
    name: str, args: Sequence[Any], kwargs: dict[str, Any] | None = None
) -> np.ndarray:
    """``torch.nn.functional.<name>(*args, **kwargs)``, NumPy in and out.

    A tuple of arrays for a loss of ``MODULE_REFERENCES``.
    """
    tensors = [_to_torch(a) for a in args]
    kw = {k: _to_torch(v) for k, v in (kwargs or {}).items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _numpy(torch_function(name)(*tensors, **kw))


def torch_gradient(
    name: str,
    args: Sequence[Any],
    kwargs: dict[str, Any] | None = None,
    wrt: Sequence[int | str] = (0,),
    grad_output: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | tuple[np.ndarray, ...]]:
    """Loss and autograd gradient of ``torch.nn.functional.<name>``.

    Returns ``(loss, gradient)``, the gradient with respect to each entry of
    ``wrt``, a position in ``args`` or the name of a keyword argument: a
    single array when ``wrt`` has one entry and a tuple otherwise, like
    ``lossnotes.grad``.  For a loss of ``MODULE_REFERENCES``, which
    returns ``(output, loss)``, the loss is that tuple and ``grad_output`` a
    tuple too; by default the gradient is that of the last entry, the loss.
    """
    import torch

    tensors = [
        _to_torch(a, requires_grad=i in wrt) for i, a in enumerate(args)
    ]
    kw = {
        k: _to_torch(v, requires_grad=k in wrt)
        for k, v in (kwargs or {}).items()
    }
    chosen = [kw[w] if isinstance(w, str) else tensors[w] for w in wrt]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loss = torch_function(name)(*tensors, **kw)
    if isinstance(loss, tuple):
        upstream = (
            (*map(torch.zeros_like, loss[:-1]), torch.ones_like(loss[-1]))
            if grad_output is None
            else tuple(torch.from_numpy(np.asarray(g)) for g in grad_output)
        )
    else:
        upstream = (
            torch.ones_like(loss)
            if grad_output is None
            else torch.from_numpy(grad_output)
        )
    # A prediction passed as a Python number (gaussian_nll_loss's float var)
    # is no tensor: it has no gradient, and gets None in its place.
    inputs = [t for t in chosen if isinstance(t, torch.Tensor)]
    found = iter(
        torch.autograd.grad(loss, inputs, upstream, allow_unused=True)
    )
    grads = tuple(
        None
        if not isinstance(t, torch.Tensor)
        else _zeros_if_unused(t, next(found))
        for t in chosen
    )
    return _numpy(loss), grads[0] if len(grads) == 1 else grads


def _zeros_if_unused(tensor: Any, grad: Any) -> np.ndarray:
    if grad is None:
        return np.zeros(tensor.shape, dtype=tensor.detach().numpy().dtype)
    return grad.numpy()


def ulp_distance(ours: Any, theirs: Any) -> np.ndarray:
    """How many units in the last place of ``theirs``'s dtype separate the two,
    element by element.

    The unit is that of the dtype at torch's value (``np.spacing``; subnormal
    spacing near 0).  NaN against NaN and equal infinities are 0 apart; NaN
    against a number, or an infinity against anything else, infinitely far.
    """
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    if ours.shape != theirs.shape or ours.dtype != theirs.dtype:
        raise ValueError(
            f"ours is {ours.dtype}{ours.shape}, theirs {theirs.dtype}"
            f"{theirs.shape}: ulps are counted between arrays of one dtype "
            "and shape"
        )
    with np.errstate(invalid="ignore", over="ignore"):
        unit = np.spacing(np.abs(theirs)).astype(np.float64)
        apart = np.abs(
            ours.astype(np.float64) - theirs.astype(np.float64)
        ) / np.where(np.isfinite(unit), unit, 1.0)
    same = (ours == theirs) | (np.isnan(ours) & np.isnan(theirs))
    return np.where(same, 0.0, np.where(np.isnan(apart), np.inf, apart))


def assert_within_ulps(
    ours: Any,
    theirs: Any,
    ulps: float = TRANSCENDENTAL_ULPS,
    label: str = "value",
) -> float:
    """Assert that ``ours`` is within ``ulps`` units in the last place of
    ``theirs`` everywhere (same dtype and shape, NaN and infinities in the
    same places); return the largest distance found, in ulps.

    The comparison for float32 and float16 results of transcendental
    functions, whose last bit depends on the SIMD code each library picks for
    the CPU (see ``TRANSCENDENTAL_ULPS``).
    """
    apart = ulp_distance(ours, theirs)
    worst = float(apart.max(initial=0.0))
    if not worst <= ulps:
        index = np.unravel_index(int(np.argmax(apart)), apart.shape)
        raise AssertionError(
            f"{label}: {np.asarray(ours)[index]!r} where torch has "
            f"{np.asarray(theirs)[index]!r}, {worst:.3g} ulps apart "
            f"(bound {ulps})"
        )
    return worst


def finite_difference_gradient(
    function: Callable[[np.ndarray], Any],
    point: np.ndarray,
    step: float = 1e-6,
) -> np.ndarray:
    """Central-difference gradient of a scalar ``function`` at ``point``.

    Computed in float64, independent of both implementations, so it checks a
    derivation rather than agreement.  Only meaningful away from kinks.
    """
    point = np.asarray(point, dtype=np.float64)
    gradient = np.empty_like(point)
    # One pair of evaluations per coordinate.
    for index in np.ndindex(point.shape):
        shifted = point.copy()
        shifted[index] += step
        upper = float(function(shifted))
        shifted[index] -= 2 * step
        gradient[index] = (upper - float(function(shifted))) / (2 * step)
    return gradient


def _max_error(ours: Any, theirs: Any) -> float:
    """Largest difference, relative to the size of torch's value.

    NaN against NaN counts as 0, and so does no gradient (None) against none.
    """
    if ours is None or theirs is None:
        return 0.0 if ours is None and theirs is None else np.inf
    ours, theirs = (
        np.asarray(ours, dtype=np.float64),
        np.asarray(theirs, dtype=np.float64),
    )
    if ours.shape != theirs.shape:
        return np.inf
    if ours.size == 0:
        return 0.0
    both_nan = np.isnan(ours) & np.isnan(theirs)
    same = (ours == theirs) | both_nan  # covers equal infinities
    scale = np.maximum(1.0, np.abs(np.where(np.isfinite(theirs), theirs, 0.0)))
    with np.errstate(invalid="ignore"):
        error = np.where(same, 0.0, np.abs(ours - theirs) / scale)
    return float(np.max(np.where(np.isnan(error), np.inf, error)))


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array{value.shape}"
    return repr(value)


@dataclass
class Agreement:
    """The rows of one comparison; renders as a table in a notebook."""

    name: str
    tolerance: float
    parameters: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def worst(self) -> float:
        errors = [row["loss error"] for row in self.rows] + [
            row["grad error"]
            for row in self.rows
            if row["grad error"] is not None
        ]
        return max(errors, default=0.0)

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [
            row
            for row in self.rows
            if not row["loss error"] <= self.tolerance
            or (
                row["grad error"] is not None
                and not row["grad error"] <= self.tolerance
            )
        ]

    def _cells(self, row: dict[str, Any]) -> list[str]:
        grad = row["grad error"]
        return [
            _describe(row["kwargs"].get(p, "")) for p in self.parameters
        ] + [
            str(row["shape"]),
            f"{row['loss error']:.1e}",
            "–" if grad is None else f"{grad:.1e}",
        ]

    def _header(self) -> list[str]:
        return [*self.parameters, "loss shape", "loss error", "grad error"]

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self._header())
        body = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape(c)}</td>" for c in self._cells(row))
            + "</tr>"
            for row in self.rows
        )
        caption = (
            f"lossnotes.{self.name} against {_torch_name(self.name)}: "
            f"{len(self.rows)} cases, largest relative error {self.worst:.1e} "
            f"(tolerance {self.tolerance:.0e})"
        )
        return (
            '<table class="agreement">'
            f"<caption>{html.escape(caption)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )

    def __repr__(self) -> str:
        lines = [" | ".join(self._header())]
        lines += [" | ".join(self._cells(row)) for row in self.rows]
        return "\n".join(lines)


def _parts(result: Any) -> tuple[Any, ...]:
    return result if isinstance(result, tuple) else (result,)


def _result_error(ours: Any, theirs: Any) -> float:
    """:func:`_max_error` of each result, infinite for another dtype."""
    ours, theirs = _parts(ours), _parts(theirs)
    if len(ours) != len(theirs):
        return np.inf
    return max(
        _max_error(a, b) if np.asarray(a).dtype == b.dtype else np.inf
        for a, b in zip(ours, theirs)
    )


def _per_result(function: Callable[[Any], Any], result: Any) -> Any:
    """``function`` of each array of a tuple result, or of the one array."""
    if isinstance(result, tuple):
        return tuple(function(part) for part in result)
    return function(result)


def _wrt_names(function: Callable[..., Any], wrt: Sequence[int | str]):
    """``wrt`` as the names of ``function``'s parameters."""
    names = list(inspect.signature(function).parameters)
    return tuple(names[w] if isinstance(w, int) else w for w in wrt)


def agreement(
    name: str,
    args: Sequence[Any],
    grid: dict[str, Sequence[Any]] | None = None,
    wrt: Sequence[int | str] = (0,),
    tolerance: float = 1e-12,
    seed: int = 0,
) -> Agreement:
    """Check ``lossnotes.<name>`` and its gradient against torch.

    Each keyword combination of ``grid`` is passed to both implementations with
    the positional ``args``; the gradient with respect to each entry of
    ``wrt`` is compared too, with a random ``grad_output``: positions in
    ``args`` (the predictions, which ``lossnotes.grad`` differentiates by
    default), or, where any entry is a name, the arguments ``wrt`` names
    (``lossnotes.grad.<name>(..., wrt=...)``, targets or weights included).
    Errors are relative to the size of torch's value.  Raises
    ``AssertionError`` naming the failing cases, so a chapter cell that calls
    this fails the build; otherwise returns the table.
    """
    import lossnotes

    grid = grid or {}
    ours_loss = getattr(lossnotes, name)
    ours_grad = getattr(lossnotes.grad, name)
    rng = np.random.default_rng(seed)
    result = Agreement(name, tolerance, list(grid))
    for values in itertools.product(*grid.values()):
        kwargs = dict(zip(grid, values))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = ours_loss(*args, **kwargs)
            theirs = torch_loss(name, args, kwargs)
            # One array per result (several for a module's (output, loss)).
            upstream = _per_result(
                lambda t: rng.standard_normal(t.shape).astype(t.dtype), theirs
            )
            grad_error = None
            if wrt:
                _, their_grad = torch_gradient(
                    name, args, kwargs, wrt, upstream
                )
                by_name = (
                    {"wrt": _wrt_names(ours_loss, wrt)}
                    if any(isinstance(w, str) for w in wrt)
                    else {}
                )
                our_grad = ours_grad(
                    *args, **kwargs, **by_name, grad_output=upstream
                )
                pairs = zip(
                    *(
                        g if isinstance(g, tuple) else (g,)
                        for g in (our_grad, their_grad)
                    )
                )
                grad_error = max(_max_error(a, b) for a, b in pairs)
        result.rows.append(
            {
                "kwargs": kwargs,
                "shape": _per_result(lambda t: tuple(t.shape), theirs),
                "loss error": _result_error(ours, theirs),
                "grad error": grad_error,
            }
        )
    if result.failures:
        raise AssertionError(
            f"lossnotes.{name} disagrees with torch in "
            f"{len(result.failures)} case(s):\n"
            + "\n".join(repr(row) for row in result.failures)
        )
    return result


# Relative to the larger of 1 and torch's value, per dtype: rounding of a
# few operations (float16's epsilon is 9.8e-4).
_EDGE_TOLERANCE = {
    np.dtype(np.float16): 16 * float(np.finfo(np.float16).eps),
    np.dtype(np.float32): 1e-5,
    np.dtype(np.float64): 1e-12,
}


def _first_line(error: BaseException) -> str:
    """``Type: first line of the message``, as a reader's traceback ends."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}".strip()


def _outcome(
    loss: Callable[..., Any], grad: Callable[..., Any], *args: Any
) -> dict:
    """The loss and gradient of one call, or the first exception raised."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return {"loss": loss(*args), "grad": grad(*args), "error": None}
    except Exception as error:  # what is shown is the error itself
        return {"loss": None, "grad": None, "error": error}


def _torch_grad(
    name: str, args: Sequence[Any], kwargs: dict[str, Any], wrt: Sequence[int]
) -> Any:
    """torch's gradient; None where no argument can have one (integers)."""
    return torch_gradient(name, args, kwargs, wrt)[1] if wrt else None


def _verdict(
    theirs: dict, ours: dict, stricter: bool, declared: bool
) -> tuple[str, bool]:
    """How the two outcomes of one case compare, and whether that keeps the
    contract."""
    if theirs["error"] is not None:
        if isinstance(ours["error"], (ValueError, TypeError)):
            return "both refuse", True
        return "lossnotes accepts", False
    if ours["error"] is not None:
        return ("stricter", True) if stricter else ("lossnotes refuses", False)
    same = _close(ours["loss"], theirs["loss"]) and _close(
        ours["grad"], theirs["grad"]
    )
    if declared:
        return ("differs on purpose", True) if not same else ("equal", False)
    return ("agree", True) if same else ("disagree", False)


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ", ".join(_show(part) for part in value)
    array = np.asarray(value)
    text = np.array2string(
        array, precision=4, separator=", ", threshold=6, edgeitems=2
    )
    return text if array.dtype == np.float64 else f"{text} {array.dtype}"


def _close(ours: Any, theirs: Any) -> bool:
    ours, theirs = _parts(ours), _parts(theirs)
    return len(ours) == len(theirs) and all(
        np.asarray(a).dtype == np.asarray(b).dtype
        and _max_error(a, b) <= _EDGE_TOLERANCE.get(np.asarray(b).dtype, 0.0)
        for a, b in zip(ours, theirs)
    )


@dataclass
class Edges:
    """What torch and lossnotes do with each call of an edge; renders as a
    table in a notebook (see :func:`edges`)."""

    name: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    @staticmethod
    def _side(outcome: dict) -> str:
        if outcome["error"] is not None:
            return _first_line(outcome["error"])
        grad = outcome["grad"]
        shown = "none" if grad is None else _show(grad)
        return f"loss {_show(outcome['loss'])}; grad {shown}"

    def _cells(self, row: dict[str, Any]) -> list[str]:
        return [
            row["case"],
            self._side(row["torch"]),
            self._side(row["ours"]),
            row["verdict"],
        ]

    def _header(self) -> list[str]:
        return ["case", "torch 2.13", "lossnotes", ""]

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self._header())
        body = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape(c)}</td>" for c in self._cells(row))
            + "</tr>"
            for row in self.rows
        )
        caption = (
            f"{_torch_name(self.name)} and lossnotes.{self.name} at the "
            "edges: each side's loss and gradient, or its error's first line"
        )
        return (
            '<table class="agreement edges">'
            f"<caption>{html.escape(caption)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )

    def __repr__(self) -> str:
        lines = [" | ".join(self._header())]
        lines += [" | ".join(self._cells(row)) for row in self.rows]
        return "\n".join(lines)


def edges(
    name: str,
    cases: dict[str, tuple[Sequence[Any], dict[str, Any]]],
    wrt: Sequence[int] = (0,),
    stricter: dict[str, str] | None = None,
    declared: dict[str, str] | None = None,
) -> Edges:
    """Call torch and ``lossnotes.<name>`` (and its gradient with respect to
    ``args[i]`` for ``i`` in ``wrt``) on each of ``cases``, a label and
    ``(args, kwargs)`` each, and hold lossnotes to the contract.

    Where torch raises, lossnotes must raise ``ValueError`` or ``TypeError``;
    the table shows both messages' first lines, torch's captured as it runs.
    Where both answer, the losses and gradients must agree (dtype, shape, NaN
    and infinities in the same places, values within a few roundings of the
    dtype), unless the case is in ``declared`` (label: why lossnotes differs
    on purpose; then they must differ).  Where only lossnotes refuses, the
    case must be in ``stricter`` (label: why).  Raises ``AssertionError``
    naming every case that breaks a rule, so a chapter cell fails the build;
    otherwise returns the table.
    """
    import lossnotes

    stricter, declared = stricter or {}, declared or {}
    ours_loss = getattr(lossnotes, name)
    ours_grad = getattr(lossnotes.grad, name)
    table, broken = Edges(name), []
    for case, (args, kwargs) in cases.items():
        differentiable = tuple(
            i
            for i in wrt
            if isinstance(args[i], np.ndarray) and args[i].dtype.kind == "f"
        )
        theirs = _outcome(
            functools.partial(torch_loss, name, args, kwargs),
            functools.partial(_torch_grad, name, args, kwargs, differentiable),
        )
        ours = _outcome(
            functools.partial(ours_loss, *args, **kwargs),
            functools.partial(ours_grad, *args, **kwargs),
        )
        verdict, kept = _verdict(
            theirs, ours, case in stricter, case in declared
        )
        if not kept:
            broken.append(f"{case}: {verdict}")
        table.rows.append(
            {"case": case, "torch": theirs, "ours": ours, "verdict": verdict}
        )
    if broken:
        raise AssertionError(
            f"lossnotes.{name} breaks the contract at the edges:\n"
            + "\n".join(broken)
            + "\n"
            + repr(table)
        )
    return table


# The torch.nn module of each loss.
MODULES = {
    "adaptive_log_softmax_with_loss": "AdaptiveLogSoftmaxWithLoss",
    "binary_cross_entropy": "BCELoss",
    "binary_cross_entropy_with_logits": "BCEWithLogitsLoss",
    "cosine_embedding_loss": "CosineEmbeddingLoss",
    "cross_entropy": "CrossEntropyLoss",
    "ctc_loss": "CTCLoss",
    "gaussian_nll_loss": "GaussianNLLLoss",
    "hinge_embedding_loss": "HingeEmbeddingLoss",
    "huber_loss": "HuberLoss",
    "kl_div": "KLDivLoss",
    "l1_loss": "L1Loss",
    "linear_cross_entropy": "LinearCrossEntropyLoss",
    "margin_ranking_loss": "MarginRankingLoss",
    "mse_loss": "MSELoss",
    "multi_margin_loss": "MultiMarginLoss",
    "multilabel_margin_loss": "MultiLabelMarginLoss",
    "multilabel_soft_margin_loss": "MultiLabelSoftMarginLoss",
    "nll_loss": "NLLLoss",
    "poisson_nll_loss": "PoissonNLLLoss",
    "smooth_l1_loss": "SmoothL1Loss",
    "soft_margin_loss": "SoftMarginLoss",
    "triplet_margin_loss": "TripletMarginLoss",
    "triplet_margin_with_distance_loss": "TripletMarginWithDistanceLoss",
}


def module_class(name: str) -> type:
    """``torch.nn.<Module>`` of the loss ``name`` (``torch.nn.L1Loss`` for
    ``l1_loss``)."""
    import torch

    return getattr(torch.nn, MODULES[name])


_EMPTY = inspect.Parameter.empty


def _parameters(function: Any, skip_self: bool) -> dict[str, Any]:
    parameters = list(inspect.signature(function).parameters.values())
    return {
        p.name: p.default
        for p in parameters[1 if skip_self else 0 :]
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


@dataclass
class Signatures:
    """The parameters of a loss's functional form and of its module, as
    ``inspect.signature`` reads them from the installed torch."""

    name: str
    functional: dict[str, Any] | None
    constructor: dict[str, Any]
    call: dict[str, Any]

    @property
    def renamed(self) -> dict[str, str]:
        """Tensor arguments the module's call names otherwise: a required
        functional parameter whose place in the call holds a name that is
        not one of the functional's required parameters
        (``PoissonNLLLoss.forward(log_input, target)`` for ``input``)."""
        functional = self.functional or {}
        required = [p for p, d in functional.items() if d is _EMPTY]
        call = list(self.call)
        return {
            name: call[position]
            for position, name in enumerate(required)
            if name not in self.call
            and position < len(call)
            and call[position] not in required
        }

    @property
    def module_only(self) -> list[str]:
        functional = self.functional or {}
        return [p for p in self.constructor if p not in functional]

    @property
    def functional_only(self) -> list[str]:
        return [
            p
            for p in self.functional or {}
            if p not in self.constructor
            and p not in self.call
            and p not in self.renamed
        ]

    def _rows(self) -> list[list[str]]:
        names = list(self.functional or {})
        names += [p for p in [*self.call, *self.constructor] if p not in names]

        def cell(table: dict[str, Any] | None, name: str, where: str) -> str:
            if table is None or name not in table:
                return "–"
            default = table[name]
            empty = default is _EMPTY
            return where if empty else f"{where}, default {default!r}"

        renamed = self.renamed
        return [
            [
                name,
                cell(self.functional, name, "yes"),
                cell(self.constructor, name, "constructor"),
                f"call, as {renamed[name]}"
                if name in renamed
                else "–"
                if name in renamed.values()
                else cell(self.call, name, "call"),
            ]
            for name in names
            if name not in renamed.values() or name in (self.functional or {})
        ]

    def _header(self) -> list[str]:
        module = MODULES[self.name]
        functional = "–" if self.functional is None else f"F.{self.name}"
        return ["parameter", functional, f"nn.{module}(...)", "module(...)"]

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self._header())
        body = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape(c)}</td>" for c in row)
            + "</tr>"
            for row in self._rows()
        )
        caption = (
            f"Where each parameter of {self.name} is given, as "
            "inspect.signature reads the installed torch"
        )
        return (
            '<table class="agreement signatures">'
            f"<caption>{html.escape(caption)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )

    def __repr__(self) -> str:
        lines = [" | ".join(self._header())]
        lines += [" | ".join(row) for row in self._rows()]
        return "\n".join(lines)


def signatures(name: str) -> Signatures:
    """Which parameters torch's functional ``name`` takes, which its module's
    constructor takes, and which the module's call, with their defaults."""
    import torch.nn.functional as F

    module = module_class(name)
    functional = getattr(F, name, None)
    return Signatures(
        name,
        None if functional is None else _parameters(functional, False),
        _parameters(module.__init__, True),
        _parameters(module.forward, True),
    )


def second_derivatives(
    name: str,
    args: Sequence[Any],
    kwargs: dict[str, Any] | None = None,
    wrt: Sequence[int] = (0,),
) -> str | None:
    """Whether torch 2.13 differentiates its own gradient of ``name``: None
    where ``torch.autograd.gradgradcheck`` passes at the float64 ``args``
    (with respect to ``args[i]`` for ``i`` in ``wrt``), otherwise the first
    line of the error torch raises (its backward has no derivative)."""
    import torch

    kw = {k: _to_torch(v) for k, v in (kwargs or {}).items()}
    chosen = tuple(_to_torch(args[i], requires_grad=True) for i in wrt)

    def loss(*differentiated: Any) -> Any:
        tensors = [_to_torch(a) for a in args]
        for i, tensor in zip(wrt, differentiated):
            tensors[i] = tensor
        result = torch_function(name)(*tensors, **kw)
        return result[-1] if isinstance(result, tuple) else result

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.autograd.gradgradcheck(loss, chosen)
    except Exception as error:  # torch's message is the answer
        return _first_line(error)
    return None
