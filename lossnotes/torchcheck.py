"""Compare lossnotes with torch over a grid of arguments.

Used by the chapters and the tests.  It is the one module of the package that
touches torch, and it imports torch lazily, inside the functions, so that
``import lossnotes`` never needs it.
"""

from __future__ import annotations

import html
import itertools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Agreement",
    "agreement",
    "finite_difference_gradient",
    "torch_gradient",
    "torch_loss",
    "torch_version",
]


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


def torch_loss(
    name: str, args: Sequence[Any], kwargs: dict[str, Any] | None = None
) -> np.ndarray:
    """``torch.nn.functional.<name>(*args, **kwargs)``, NumPy in and out."""
    import torch.nn.functional as F

    tensors = [_to_torch(a) for a in args]
    kw = {k: _to_torch(v) for k, v in (kwargs or {}).items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(F, name)(*tensors, **kw).detach().numpy()


def torch_gradient(
    name: str,
    args: Sequence[Any],
    kwargs: dict[str, Any] | None = None,
    wrt: Sequence[int] = (0,),
    grad_output: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | tuple[np.ndarray, ...]]:
    """Loss and autograd gradient of ``torch.nn.functional.<name>``.

    Returns ``(loss, gradient)``, the gradient with respect to ``args[wrt]``:
    a single array when ``wrt`` has one entry and a tuple otherwise, like
    ``lossnotes.grad``.
    """
    import torch
    import torch.nn.functional as F

    tensors = [
        _to_torch(a, requires_grad=i in wrt) for i, a in enumerate(args)
    ]
    kw = {k: _to_torch(v) for k, v in (kwargs or {}).items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loss = getattr(F, name)(*tensors, **kw)
    upstream = (
        torch.ones_like(loss)
        if grad_output is None
        else torch.from_numpy(grad_output)
    )
    inputs = [tensors[i] for i in wrt]
    grads = torch.autograd.grad(loss, inputs, upstream, allow_unused=True)
    grads = tuple(
        np.zeros(t.shape, dtype=t.detach().numpy().dtype)
        if g is None
        else g.numpy()
        for t, g in zip(inputs, grads)
    )
    return loss.detach().numpy(), grads[0] if len(grads) == 1 else grads


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

    NaN against NaN counts as 0.
    """
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
            f"lossnotes.{self.name} against torch.nn.functional.{self.name}: "
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


def agreement(
    name: str,
    args: Sequence[Any],
    grid: dict[str, Sequence[Any]] | None = None,
    wrt: Sequence[int] = (0,),
    tolerance: float = 1e-12,
    seed: int = 0,
) -> Agreement:
    """Check ``lossnotes.<name>`` and its gradient against torch.

    Each keyword combination of ``grid`` is passed to both implementations with
    the positional ``args``; the gradient with respect to ``args[i]`` for ``i``
    in ``wrt`` is compared too, with a random ``grad_output``.  Errors are
    relative to the size of torch's value.  Raises ``AssertionError`` naming
    the failing cases, so a chapter cell that calls this fails the build;
    otherwise returns the table.
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
            upstream = rng.standard_normal(theirs.shape).astype(theirs.dtype)
            grad_error = None
            if wrt:
                _, their_grad = torch_gradient(
                    name, args, kwargs, wrt, upstream
                )
                our_grad = ours_grad(*args, **kwargs, grad_output=upstream)
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
                "shape": tuple(theirs.shape),
                "loss error": _max_error(ours, theirs)
                if np.asarray(ours).dtype == theirs.dtype
                else np.inf,
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
