"""Time every lossnotes function against torch on the CPU, both single-threaded.

Run ``.venv/bin/python benchmarks/bench.py`` (``--help`` for the options).  For each loss it
prints the time of the forward pass and of the gradient in lossnotes and in torch, and their
ratio.  The gradient is one call of ``lossnotes.grad.<name>`` against torch's forward plus
``torch.autograd.grad``: what each needs to get the gradient from the inputs.

The book's Performance page imports :func:`run` and :func:`html_table` from here, at a
smaller scale, so that the script and the page measure the same thing.  A new loss adds its
:class:`Case` to :data:`CASES`.
"""

from __future__ import annotations

import os

if __name__ == "__main__":
    # Before NumPy and torch load their thread pools: one thread each, so that the comparison is
    # of the implementations, not of how many cores each one uses.  (measure() also calls
    # torch.set_num_threads(1), for an importer that loaded torch already.)
    for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import html  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import lossnotes  # noqa: E402

Arguments = tuple[tuple[Any, ...], dict[str, Any]]

# Elements of an elementwise loss at scale 1.
ELEMENTWISE_SIZE = 2_000_000


@dataclass(frozen=True)
class Case:
    """One benchmarked call of ``lossnotes.<name>`` and ``torch.nn.functional.<name>``."""

    name: str
    inputs: Callable[[np.random.Generator, float, np.dtype], Arguments]  # (rng, scale, dtype)
    limit: float  # the slowest acceptable ratio lossnotes / torch
    wrt: tuple[int, ...] = (0,)  # positional arguments differentiated

    @property
    def label(self) -> str:
        return self.name


def elementwise(**parameters: Any) -> Callable[[np.random.Generator, float, np.dtype], Arguments]:
    """``(input, target)`` of ``scale * ELEMENTWISE_SIZE`` standard normal elements.

    Differences of two standard normals fall on both sides of a threshold of 1 at random, the
    hard case for code that branches per element.
    """

    def inputs(rng: np.random.Generator, scale: float, dtype: np.dtype) -> Arguments:
        size = max(1, round(scale * ELEMENTWISE_SIZE))
        input = rng.standard_normal(size).astype(dtype)
        target = rng.standard_normal(size).astype(dtype)
        return (input, target), dict(parameters)

    return inputs


# >>> classification-ce: inputs
# <<< classification-ce
# >>> classification-bce: inputs
# <<< classification-bce
# >>> likelihood: inputs
# <<< likelihood
# >>> embedding-pairs: inputs
# <<< embedding-pairs
# >>> embedding-triplets: inputs
# <<< embedding-triplets
# >>> margin-multi: inputs
# <<< margin-multi
# >>> margin-soft: inputs
# <<< margin-soft
# >>> sequence-ctc: inputs
# <<< sequence-ctc
# >>> sequence-vocab: inputs
# <<< sequence-vocab

CASES: tuple[Case, ...] = (
    Case("l1_loss", elementwise(), limit=3.0),
    Case("mse_loss", elementwise(), limit=3.0),
    Case("smooth_l1_loss", elementwise(beta=1.0), limit=3.0),
    Case("huber_loss", elementwise(delta=1.0), limit=3.0),
    # >>> classification-ce: cases
    # <<< classification-ce
    # >>> classification-bce: cases
    # <<< classification-bce
    # >>> likelihood: cases
    # <<< likelihood
    # >>> embedding-pairs: cases
    # <<< embedding-pairs
    # >>> embedding-triplets: cases
    # <<< embedding-triplets
    # >>> margin-multi: cases
    # <<< margin-multi
    # >>> margin-soft: cases
    # <<< margin-soft
    # >>> sequence-ctc: cases
    # <<< sequence-ctc
    # >>> sequence-vocab: cases
    # <<< sequence-vocab
)


@dataclass(frozen=True)
class Result:
    """Seconds per call, best of the repeats."""

    case: Case
    dtype: np.dtype
    forward: float
    torch_forward: float
    gradient: float
    torch_gradient: float

    @property
    def forward_ratio(self) -> float:
        return self.forward / self.torch_forward

    @property
    def gradient_ratio(self) -> float:
        return self.gradient / self.torch_gradient

    @property
    def within_limit(self) -> bool:
        return max(self.forward_ratio, self.gradient_ratio) <= self.case.limit


def _best_of(functions: list[Callable[[], Any]], repeat: int, number: int) -> list[float]:
    """Best time per call of each function.

    The time is the CPU time of the calling thread (both libraries compute in it, held to one
    thread), so that the time the thread waits while other processes run is not counted: the
    book executes its chapters in parallel, this page among them.  The functions take turns,
    so what load elsewhere still costs (shared caches, memory bandwidth) falls on all of them.
    """
    for function in functions:  # warm up: first calls allocate and initialise lazily
        function()
    best = [np.inf] * len(functions)
    for _ in range(repeat):
        for index, function in enumerate(functions):
            start = time.thread_time()
            for _ in range(number):
                function()
            best[index] = min(best[index], (time.thread_time() - start) / number)
    return best


def measure(case: Case, dtype: Any, scale: float = 1.0, repeat: int = 5, number: int = 3,
            seed: int = 0) -> Result:
    """Time one case at one dtype."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(1)
    dtype = np.dtype(dtype)
    args, kwargs = case.inputs(np.random.default_rng(seed), scale, dtype)
    tensors = [torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args]
    leaves = [tensors[i].clone().requires_grad_(True) for i in case.wrt]
    with_leaves = list(tensors)
    for i, leaf in zip(case.wrt, leaves):
        with_leaves[i] = leaf
    ours_loss = getattr(lossnotes, case.name)
    ours_grad = getattr(lossnotes.grad, case.name)
    theirs = getattr(F, case.name)

    def torch_gradient() -> Any:
        return torch.autograd.grad(theirs(*with_leaves, **kwargs), leaves)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        forward, torch_forward, gradient, torch_grad = _best_of(
            [
                lambda: ours_loss(*args, **kwargs),
                lambda: theirs(*tensors, **kwargs),
                lambda: ours_grad(*args, **kwargs),
                torch_gradient,
            ],
            repeat,
            number,
        )
    return Result(case, dtype, forward, torch_forward, gradient, torch_grad)


def run(scale: float = 1.0, dtypes: tuple[Any, ...] = ("float32", "float64"), repeat: int = 5,
        number: int = 3, cases: tuple[Case, ...] = CASES) -> list[Result]:
    """Every case at every dtype."""
    return [
        measure(case, dtype, scale, repeat, number) for case in cases for dtype in dtypes
    ]


def _milliseconds(seconds: float) -> str:
    return f"{seconds * 1e3:.2f}"


def rows(results: list[Result]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the table: times in milliseconds, ratios lossnotes / torch."""
    header = ["loss", "dtype", "forward (ms)", "torch (ms)", "ratio",
              "gradient (ms)", "torch (ms)", "ratio", "limit"]
    body = [
        [r.case.label, str(r.dtype), _milliseconds(r.forward), _milliseconds(r.torch_forward),
         f"{r.forward_ratio:.2f}", _milliseconds(r.gradient), _milliseconds(r.torch_gradient),
         f"{r.gradient_ratio:.2f}", f"{r.case.limit:g}"]
        for r in results
    ]
    return header, body


def text_table(results: list[Result]) -> str:
    header, body = rows(results)
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = [header, ["-" * w for w in widths], *body]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(line, widths)) for line in lines)


def html_table(results: list[Result]) -> str:
    """The table for a notebook (myst-nb renders Markdown output without tables).

    The same cells as :func:`rows`, under a two-level header ("forward (ms)" over "lossnotes",
    "torch", "ratio"), which keeps the columns narrow enough for the page.
    """
    _, body = rows(results)
    groups = [("loss", 1), ("dtype", 1), ("forward (ms)", 3), ("gradient (ms)", 3), ("limit", 1)]
    top = "".join(
        f'<th colspan="{span}">{html.escape(name)}</th>' if span > 1
        else f'<th rowspan="2">{html.escape(name)}</th>'
        for name, span in groups
    )
    sub = "<th>lossnotes</th><th>torch</th><th>ratio</th>" * 2
    lines = [
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in line) + "</tr>"
        for line in body
    ]
    return (
        f'<table class="table benchmark"><thead><tr>{top}</tr><tr>{sub}</tr></thead>'
        f"<tbody>{''.join(lines)}</tbody></table>"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of the full sizes (2 million elements for elementwise)")
    parser.add_argument("--dtype", nargs="+", default=["float32", "float64"])
    parser.add_argument("--repeat", type=int, default=5, help="repeats; the best is kept")
    parser.add_argument("--number", type=int, default=3, help="calls per repeat")
    parser.add_argument("--only", nargs="+", help="names of the losses to run")
    parser.add_argument("--check", action="store_true",
                        help="exit with 1 if a ratio exceeds its limit")
    options = parser.parse_args(argv)
    cases = tuple(c for c in CASES if not options.only or c.name in options.only)
    import torch

    print(f"lossnotes against torch {torch.__version__}, NumPy {np.__version__}, one thread each; "
          f"scale {options.scale:g}, best of {options.repeat} x {options.number} calls")
    results = run(options.scale, tuple(options.dtype), options.repeat, options.number, cases)
    print(text_table(results))
    slow = [f"{r.case.label} ({r.dtype})" for r in results if not r.within_limit]
    if slow:
        print("over the limit: " + ", ".join(slow))
    return 1 if slow and options.check else 0


if __name__ == "__main__":
    sys.exit(main())
