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
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import lossnotes  # noqa: E402
from lossnotes.examples import padded_multilabel_targets  # noqa: E402
from lossnotes.measure import best_of  # noqa: E402

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


# Logits of a classifier at scale 1: a batch of 5,000 over 1,000 classes.
CLASSIFICATION_SHAPE = (5_000, 1_000)


@dataclass(frozen=True)
class VariantCase(Case):
    """A :class:`Case` whose label also names its variant ("weight"), so
    that several cases of one loss stay apart in the table."""

    variant: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} ({self.variant})" if self.variant else self.name


def class_logits(
    weighted: bool = False,
    label_smoothing: float = 0.0,
    log_probabilities: bool = False,
) -> Callable[[np.random.Generator, float, np.dtype], Arguments]:
    """``(input, target)``: standard normal logits of ``scale * 5,000``
    rows by 1,000 classes (their log-softmax for ``log_probabilities``) and
    int64 class indices, with an optional per-class weight."""

    def inputs(
        rng: np.random.Generator, scale: float, dtype: np.dtype
    ) -> Arguments:
        rows, classes = CLASSIFICATION_SHAPE
        rows = max(1, round(scale * rows))
        logits = rng.standard_normal((rows, classes)).astype(dtype)
        if log_probabilities:
            logits = lossnotes.log_softmax(logits, dim=1)
        target = rng.integers(0, classes, rows)
        # The weight goes by position (the third parameter of both losses):
        # measure() hands torch the positional arrays as tensors.
        weight = rng.uniform(0.5, 2, classes).astype(dtype)
        args = (logits, target, weight) if weighted else (logits, target)
        parameters: dict[str, Any] = {}
        if label_smoothing:
            parameters["label_smoothing"] = label_smoothing
        return args, parameters

    return inputs


def binary(logits: bool) -> Callable[[np.random.Generator, float, np.dtype], Arguments]:
    """``(input, target)`` of ``scale * ELEMENTWISE_SIZE`` elements: 0/1 labels against logits
    (normal, standard deviation 3, so that some saturate) or against their sigmoid."""

    def inputs(rng: np.random.Generator, scale: float, dtype: np.dtype) -> Arguments:
        size = max(1, round(scale * ELEMENTWISE_SIZE))
        scores = 3 * rng.standard_normal(size)
        target = (rng.random(size) < 0.5).astype(dtype)
        input = scores if logits else 1 / (1 + np.exp(-scores))
        return (input.astype(dtype), target), {}

    return inputs


def distributions(**parameters: Any) -> Callable[[np.random.Generator, float, np.dtype], Arguments]:
    """kl_div's log-probabilities and probabilities, ``(N, 100)`` with ``scale * 2e6`` elements.

    One element in ten of the target is exactly 0, where the entropy term is 0 (the branch
    of ``xlogy``).
    """

    def inputs(rng: np.random.Generator, scale: float, dtype: np.dtype) -> Arguments:
        rows = max(1, round(scale * ELEMENTWISE_SIZE / 100))
        input = lossnotes.log_softmax(rng.standard_normal((rows, 100)), dim=1)
        target = lossnotes.softmax(rng.standard_normal((rows, 100)), dim=1)
        target[rng.random(target.shape) < 0.1] = 0.0
        return (input.astype(dtype), target.astype(dtype)), dict(parameters)

    return inputs


def counts(**parameters: Any) -> Callable[[np.random.Generator, float, np.dtype], Arguments]:
    """Log-rates (or rates, with ``log_input=False``) and Poisson counts of those rates."""

    def inputs(rng: np.random.Generator, scale: float, dtype: np.dtype) -> Arguments:
        size = max(1, round(scale * ELEMENTWISE_SIZE))
        log_rate = rng.normal(0.0, 1.5, size)
        target = rng.poisson(np.exp(log_rate)).astype(dtype)
        rate = log_rate if parameters.get("log_input", True) else np.exp(log_rate)
        return (rate.astype(dtype), target), dict(parameters)

    return inputs


def normals(var_shape: str) -> Callable[[np.random.Generator, float, np.dtype], Arguments]:
    """Means, targets and variances of shape ``(N, 10)``; ``var_shape`` ``'same'`` or ``'row'``
    (one variance per row, shape ``(N,)``), a tenth of the variances below ``eps``."""

    def inputs(rng: np.random.Generator, scale: float, dtype: np.dtype) -> Arguments:
        rows = max(1, round(scale * ELEMENTWISE_SIZE / 10))
        input = rng.standard_normal((rows, 10)).astype(dtype)
        target = rng.standard_normal((rows, 10)).astype(dtype)
        var = rng.exponential(1.0, (rows, 10) if var_shape == "same" else (rows,))
        var[rng.random(var.shape) < 0.1] = 1e-8
        return (input, target, var.astype(dtype)), {}

    return inputs


# Embeddings of the cosine embedding loss at scale 1: 20,000 pairs of dimension 128.
EMBEDDING_SHAPE = (20_000, 128)


def ranked_pairs(
    rng: np.random.Generator, scale: float, dtype: np.dtype
) -> Arguments:
    """Two score vectors and labels +-1, ``scale * 2e6`` pairs; margin 0.5, so that about a
    third of the pairs are on each side of the hinge at random."""
    size = max(1, round(scale * ELEMENTWISE_SIZE))
    scores1 = rng.standard_normal(size).astype(dtype)
    scores2 = rng.standard_normal(size).astype(dtype)
    target = rng.choice(np.array([-1.0, 1.0], dtype=dtype), size)
    return (scores1, scores2, target), {"margin": 0.5}


def labelled_distances(
    rng: np.random.Generator, scale: float, dtype: np.dtype
) -> Arguments:
    """``scale * 2e6`` distances, exponential with mean 1 (so on both sides of the margin 1),
    and labels +-1."""
    size = max(1, round(scale * ELEMENTWISE_SIZE))
    distance = rng.exponential(1.0, size).astype(dtype)
    target = rng.choice(np.array([-1.0, 1.0], dtype=dtype), size)
    return (distance, target), {}


def embedding_pairs(
    rng: np.random.Generator, scale: float, dtype: np.dtype
) -> Arguments:
    """``(N, 128)`` standard normal embeddings with ``N = scale * 20,000``, labels +-1 and
    margin 0: about half the dissimilar pairs have a positive cosine and are pushed."""
    rows = max(1, round(scale * EMBEDDING_SHAPE[0]))
    shape = (rows, EMBEDDING_SHAPE[1])
    input1 = rng.standard_normal(shape).astype(dtype)
    input2 = rng.standard_normal(shape).astype(dtype)
    target = rng.choice(np.array([-1.0, 1.0], dtype=dtype), rows)
    return (input1, input2, target), {}


TRIPLET_SHAPE = (20_000, 128)  # embeddings at scale 1


def triplets(**parameters: Any) -> Callable[[np.random.Generator, float, np.dtype], Arguments]:
    """(anchor, positive, negative) of ``scale * 20000`` standard normal 128-vectors.

    The positives are perturbed anchors and the negatives independent: distances of about 11.3
    and 16.0, so that about half the triplets violate the margin of 4.7 and the clamp is active
    on some rows and not on others.
    """

    def inputs(rng: np.random.Generator, scale: float, dtype: np.dtype) -> Arguments:
        shape = (max(1, round(scale * TRIPLET_SHAPE[0])), TRIPLET_SHAPE[1])
        anchor = rng.standard_normal(shape)
        positive = anchor + rng.standard_normal(shape)
        negative = rng.standard_normal(shape)
        arrays = tuple(x.astype(dtype) for x in (anchor, positive, negative))
        return arrays, {"margin": 4.7, **parameters}

    return inputs


# Scores of a class-index hinge loss at scale 1: samples by classes.
CLASS_SCORES_SHAPE = (2_000, 100)


def class_scores(rng: np.random.Generator, scale: float, dtype: np.dtype) -> np.ndarray:
    samples = max(1, round(scale * CLASS_SCORES_SHAPE[0]))
    return rng.standard_normal((samples, CLASS_SCORES_SHAPE[1])).astype(dtype)


def padded_targets(rng: np.random.Generator, scale: float, dtype: np.dtype) -> Arguments:
    """Scores, and 1 to 10 distinct target classes per sample, padded with -1."""
    scores = class_scores(rng, scale, dtype)
    samples, classes = scores.shape
    listed = rng.integers(1, 11, size=samples)
    return (scores, padded_multilabel_targets(rng, samples, classes, listed=listed)), {}


def weighted_class_targets(rng: np.random.Generator, scale: float, dtype: np.dtype) -> Arguments:
    """Scores, one class index per sample, ``p=2``, ``margin=1`` and a weight per class.

    All positional (``input, target, p, margin, weight``): measure() hands positional arrays to
    torch as tensors, keyword ones as they are."""
    scores = class_scores(rng, scale, dtype)
    target = rng.integers(0, scores.shape[1], size=scores.shape[0])
    weight = rng.uniform(0.5, 2.0, scores.shape[1]).astype(dtype)
    return (scores, target, 2, 1.0, weight), {}
def signed_targets(classes: int | None = None, **parameters: Any):
    """Scores of ``scale * ELEMENTWISE_SIZE`` standard normal elements and their targets:
    +-1 (``classes`` None: soft margin) or 0/1 in rows of ``classes`` (multi-label)."""

    def inputs(rng: np.random.Generator, scale: float, dtype: np.dtype) -> Arguments:
        size = max(1, round(scale * ELEMENTWISE_SIZE))
        shape = (size,) if classes is None else (max(1, size // classes), classes)
        input = rng.standard_normal(shape).astype(dtype)
        positive = rng.random(shape) < 0.5
        target = (positive if classes else 2.0 * positive - 1).astype(dtype)
        return (input, target), dict(parameters)

    return inputs


def ctc_inputs(rng: np.random.Generator, scale: float, dtype: np.dtype) -> Arguments:
    """CTC with T = 200, N = 16, C = 50 and padded targets of S = 40 at scale 1 (T and S scale).

    Input lengths between 3/4 T and T, target lengths between S/2 and S, labels 1..C-1.
    """
    steps = max(4, round(200 * scale))
    longest = max(2, round(40 * scale))
    batch, classes = 16, 50
    logits = rng.standard_normal((steps, batch, classes))
    shifted = logits - logits.max(axis=2, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    targets = rng.integers(1, classes, size=(batch, longest))
    input_lengths = rng.integers((3 * steps) // 4, steps + 1, size=batch)
    target_lengths = rng.integers(longest // 2, longest + 1, size=batch)
    return (log_probs.astype(dtype), targets, input_lengths, target_lengths), {}


def linear_cross_entropy_inputs(rng: np.random.Generator, scale: float,
                                dtype: np.dtype) -> Arguments:
    """An output layer at scale 1: 256 hidden states of 128 features, 4096 classes."""
    rows = max(1, round(scale * 256))
    hidden = rng.standard_normal((rows, 128)).astype(dtype)
    projection = (rng.standard_normal((4096, 128)) / 11).astype(dtype)
    return (hidden, projection, rng.integers(0, 4096, rows)), {}


def adaptive_softmax_inputs(rng: np.random.Generator, scale: float,
                            dtype: np.dtype) -> Arguments:
    """At scale 1: 512 hidden states of 128 features, 50 000 classes in a head of 1000 and
    clusters from 1000 and 10 000 (div_value 4), targets by Zipf's law as words in text."""
    rows = max(1, round(scale * 512))
    classes, cutoffs = 50_000, [1000, 10_000]
    bounds = [*cutoffs, classes]
    head = (rng.standard_normal((cutoffs[0] + 2, 128)) / 11).astype(dtype)
    tail = [((rng.standard_normal((128 // 4 ** (i + 1), 128)) / 11).astype(dtype),
             (rng.standard_normal((bounds[i + 1] - bounds[i], 128 // 4 ** (i + 1))) / 6)
             .astype(dtype)) for i in range(2)]
    frequency = 1 / np.arange(1, classes + 1)
    target = rng.choice(classes, rows, p=frequency / frequency.sum())
    hidden = rng.standard_normal((rows, 128)).astype(dtype)
    return (hidden, target, head, tail, classes, cutoffs), {"div_value": 4.0}


CASES: tuple[Case, ...] = (
    Case("l1_loss", elementwise(), limit=3.0),
    Case("mse_loss", elementwise(), limit=3.0),
    Case("smooth_l1_loss", elementwise(beta=1.0), limit=3.0),
    Case("huber_loss", elementwise(delta=1.0), limit=3.0),
    VariantCase("cross_entropy", class_logits(), limit=3.0),
    VariantCase(
        "cross_entropy", class_logits(weighted=True), 3.0, variant="weight"
    ),
    VariantCase(
        "cross_entropy",
        class_logits(label_smoothing=0.1),
        3.0,
        variant="label_smoothing",
    ),
    VariantCase("nll_loss", class_logits(log_probabilities=True), limit=3.0),
    VariantCase(
        "nll_loss",
        class_logits(weighted=True, log_probabilities=True),
        3.0,
        variant="weight",
    ),
    Case("binary_cross_entropy", binary(logits=False), limit=3.0),
    Case("binary_cross_entropy_with_logits", binary(logits=True), limit=3.0),
    Case("kl_div", distributions(reduction="batchmean"), limit=3.0),
    Case("poisson_nll_loss", counts(), limit=3.0),
    Case("gaussian_nll_loss", normals("same"), limit=3.0, wrt=(0, 2)),
    Case("margin_ranking_loss", ranked_pairs, limit=3.0, wrt=(0, 1)),
    Case("hinge_embedding_loss", labelled_distances, limit=3.0),
    Case("cosine_embedding_loss", embedding_pairs, limit=10.0, wrt=(0, 1)),
    Case("triplet_margin_loss", triplets(), limit=10.0, wrt=(0, 1, 2)),
    Case("triplet_margin_with_distance_loss", triplets(swap=True), limit=10.0, wrt=(0, 1, 2)),
    Case("multilabel_margin_loss", padded_targets, limit=10.0),
    Case("multi_margin_loss", weighted_class_targets, limit=10.0),
    Case("soft_margin_loss", signed_targets(), limit=3.0),
    Case("multilabel_soft_margin_loss", signed_targets(classes=100), limit=3.0),
    Case("ctc_loss", ctc_inputs, limit=10.0),
    Case("linear_cross_entropy", linear_cross_entropy_inputs, limit=3.0, wrt=(0, 1)),
    Case("adaptive_log_softmax_with_loss", adaptive_softmax_inputs, limit=3.0),
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


def measure(case: Case, dtype: Any, scale: float = 1.0, repeat: int = 5, number: int = 3,
            seed: int = 0) -> Result:
    """Time one case at one dtype."""
    import torch

    from lossnotes.torchcheck import torch_function

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
    theirs = torch_function(case.name)

    def torch_gradient() -> Any:
        result = theirs(*with_leaves, **kwargs)
        # A module's (output, loss): the gradient of the loss, as lossnotes.grad's default.
        loss = result[-1] if isinstance(result, tuple) else result
        return torch.autograd.grad(loss, leaves)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        forward, torch_forward, gradient, torch_grad = best_of(
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
