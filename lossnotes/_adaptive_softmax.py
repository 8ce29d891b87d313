"""Adaptive log-softmax: the module ``torch.nn.AdaptiveLogSoftmaxWithLoss``.

A head over the frequent classes and one entry per cluster of rarer ones,
each cluster with its own smaller projection; computed as the module
computes it, its gradient as autograd's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._core import apply_reduction, as_float_array, check_positive
from ._linear_cross_entropy import _accumulation, _linear, _matmul

__all__ = [
    "adaptive_log_softmax_log_prob",
    "adaptive_log_softmax_predict",
    "adaptive_log_softmax_with_loss",
    "adaptive_log_softmax_with_loss_grad",
]


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    """``log_softmax(logits, dim=1)`` of a 2-D array, as torch's CPU kernel
    for the last axis computes it: ``(x - m) - log sum exp(x - m)``, and
    for float16 in float32 with the sum and its logarithm rounded to
    float16 (the kernel keeps them in float16 buffers), the result once."""
    wide = _accumulation(logits.dtype)
    shifted = logits.astype(wide)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        shifted -= np.max(shifted, axis=1, keepdims=True)
        total = np.sum(np.exp(shifted), axis=1, keepdims=True)
        if logits.dtype == np.float16:
            total = total.astype(np.float16).astype(wide)
            log_total = np.log(total).astype(np.float16).astype(wide)
        else:
            log_total = np.log(total)
        return (shifted - log_total).astype(logits.dtype, copy=False)


def _log_softmax_backward(
    upstream: np.ndarray, log_probs: np.ndarray
) -> np.ndarray:
    """The gradient torch's ``log_softmax`` backward passes on, along axis
    1: ``upstream - exp(log_probs) * sum(upstream)``, from the rounded
    ``log_probs`` it kept, computed in :func:`_accumulation`."""
    wide = _accumulation(log_probs.dtype)
    upstream = upstream.astype(wide, copy=False)
    total = np.sum(upstream, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", over="ignore"):
        grad = upstream - np.exp(log_probs.astype(wide)) * total
    return grad.astype(log_probs.dtype, copy=False)


@dataclass(frozen=True)
class _AdaptiveSoftmax:
    """Validated weights of an adaptive softmax, in the module's layout.

    ``cutoffs`` ends with ``n_classes``; cluster ``i`` (from 0) holds the
    classes ``cutoffs[i]`` to ``cutoffs[i + 1] - 1`` and is reached through
    the head's class ``shortlist + i``.
    """

    head_weight: np.ndarray
    head_bias: np.ndarray | None
    tail_weights: tuple[tuple[np.ndarray, np.ndarray], ...]
    cutoffs: tuple[int, ...]

    @property
    def shortlist(self) -> int:
        return self.cutoffs[0]

    @property
    def n_classes(self) -> int:
        return self.cutoffs[-1]

    def head_logits(self, input: np.ndarray) -> np.ndarray:
        return _linear(input, self.head_weight, self.head_bias)

    def head_log_probs(self, input: np.ndarray) -> np.ndarray:
        return _log_softmax(self.head_logits(input))

    def cluster_log_probs(self, input: np.ndarray, cluster: int) -> Any:
        # Two layers, as the module's tail: the hidden units are rounded to
        # the dtype between them.
        projection, output = self.tail_weights[cluster]
        return _log_softmax(_linear(_linear(input, projection), output))


def _adaptive_softmax(
    input: Any,
    head_weight: Any,
    tail_weights: Any,
    n_classes: Any,
    cutoffs: Any,
    div_value: Any,
    head_bias: Any,
) -> tuple[np.ndarray, _AdaptiveSoftmax]:
    """Check the weights as the module's constructor lays them out."""
    input = as_float_array(input, "input")
    if isinstance(n_classes, bool) or not isinstance(
        n_classes, (int, np.integer)
    ):
        raise TypeError(f"n_classes must be an integer; got {n_classes!r}")
    try:
        cutoffs = list(cutoffs)
    except TypeError:
        raise TypeError(
            f"cutoffs must be a sequence of integers; got {cutoffs!r}"
        ) from None
    if not cutoffs:
        raise ValueError("cutoffs must hold at least one class index")
    # The module's rule, in its words: unique, increasing, in [1, C - 1].
    if (
        any(isinstance(c, bool) or int(c) != c for c in cutoffs)
        or cutoffs != sorted(cutoffs)
        or len(set(cutoffs)) != len(cutoffs)
        or min(cutoffs) <= 0
        or max(cutoffs) > n_classes - 1
    ):
        raise ValueError(
            "cutoffs must be unique positive integers in increasing order, "
            f"each between 1 and n_classes - 1 = {n_classes - 1}; "
            f"got {cutoffs}"
        )
    bounds = (*(int(c) for c in cutoffs), int(n_classes))
    div_value = check_positive(div_value, "div_value", allow_zero=False)
    features = input.shape[-1] if input.ndim else 0
    clusters = len(bounds) - 1
    head_weight = _checked_weight(
        head_weight, "head_weight", (bounds[0] + clusters, features), input
    )
    if head_bias is not None:
        if isinstance(head_bias, (bool, np.bool_)):
            raise TypeError(
                "head_bias must be the head's bias array (the module's "
                "head.bias when built with head_bias=True) or None; got "
                f"{head_bias!r}"
            )
        head_bias = _checked_weight(
            head_bias, "head_bias", (bounds[0] + clusters,), input
        )
    tail_weights = list(tail_weights)
    if len(tail_weights) != clusters:
        raise ValueError(
            f"tail_weights must hold one pair per cluster, {clusters}; "
            f"got {len(tail_weights)}"
        )
    pairs = []
    for cluster, pair in enumerate(tail_weights):
        # The module's sizes: in_features // div_value ** (i + 1) hidden
        # units, then the cluster's classes.
        hidden = int(features // (div_value ** (cluster + 1)))
        size = bounds[cluster + 1] - bounds[cluster]
        if len(pair) != 2:
            raise ValueError(
                f"tail_weights[{cluster}] must be a pair of weights "
                f"(tail[{cluster}][0].weight, tail[{cluster}][1].weight)"
            )
        pairs.append(
            (
                _checked_weight(
                    pair[0],
                    f"tail_weights[{cluster}][0]",
                    (hidden, features),
                    input,
                ),
                _checked_weight(
                    pair[1],
                    f"tail_weights[{cluster}][1]",
                    (size, hidden),
                    input,
                ),
            )
        )
    return input, _AdaptiveSoftmax(
        head_weight, head_bias, tuple(pairs), bounds
    )


def _batched_adaptive_softmax(
    input: Any, *weights: Any
) -> tuple[np.ndarray, _AdaptiveSoftmax]:
    """:func:`_adaptive_softmax` for ``log_prob`` and ``predict``, which, as
    the module's methods, take only a batch of shape (N, in_features)."""
    input, model = _adaptive_softmax(input, *weights)
    if input.ndim != 2:
        raise ValueError(
            f"input must have shape (N, in_features); got {input.shape}"
        )
    return input, model


def _checked_weight(
    value: Any, name: str, shape: tuple[int, ...], input: np.ndarray
) -> np.ndarray:
    weight = as_float_array(value, name)
    if weight.shape != shape:
        raise ValueError(
            f"{name} must have shape {shape} (the module's layout for this "
            f"input, n_classes, cutoffs and div_value); got {weight.shape}"
        )
    if weight.dtype != input.dtype:
        raise TypeError(
            f"{name} must have the dtype of input, {input.dtype}; got "
            f"{weight.dtype}"
        )
    return weight


def _adaptive_target(
    input: np.ndarray, target: Any, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(input, target)`` as a batch, checked as the module's forward."""
    target = np.asarray(target)
    if target.ndim == 1:
        if input.ndim != 2:
            raise ValueError(
                "a 1-D target needs input of shape (N, in_features); got "
                f"input of shape {input.shape}"
            )
        if input.shape[0] != target.shape[0]:
            raise ValueError(
                "input and target must have the same batch size; got "
                f"{input.shape[0]} and {target.shape[0]}"
            )
    elif target.ndim == 0:
        if input.ndim != 1:
            raise ValueError(
                "a 0-d target needs input of shape (in_features,); got "
                f"input of shape {input.shape}"
            )
    else:
        raise ValueError(
            "target must be 0-d or 1-D (one class per sample); got shape "
            f"{target.shape}"
        )
    # torch gathers with the target, which takes int32 and int64 only.
    if target.dtype not in (np.int32, np.int64):
        raise TypeError(
            f"target must hold int64 (or int32) class indices; got dtype "
            f"{target.dtype}"
        )
    target = target.astype(np.int64).reshape(-1)
    if np.any((target < 0) | (target >= n_classes)):
        raise ValueError(
            f"target must hold class indices in [0, {n_classes - 1}]; got "
            f"values in [{target.min()}, {target.max()}]"
        )
    return input.reshape(-1, input.shape[-1]), target


def adaptive_log_softmax_with_loss(
    input: Any,
    target: Any,
    head_weight: Any,
    tail_weights: Any,
    n_classes: int,
    cutoffs: Any,
    div_value: float = 4.0,
    head_bias: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Log-probability of each target, and their negated mean, as
    ``torch.nn.AdaptiveLogSoftmaxWithLoss``'s forward.

    The vocabulary is split by ``cutoffs``: the head scores the first
    ``cutoffs[0]`` classes and one entry per tail cluster; a class in a
    cluster gets the head's probability of the cluster times the cluster's
    own softmax, computed through a smaller projection.

    Parameters
    ----------
    input : ndarray of shape (N, in_features) or (in_features,)
        Hidden states, floating.
    target : ndarray of shape (N,) or ()
        Class indices in ``[0, n_classes - 1]``, int64 (or int32).
    head_weight : ndarray of shape (cutoffs[0] + n_clusters, in_features)
        The module's ``head.weight``.
    tail_weights : sequence of n_clusters pairs of ndarrays
        ``(tail[i][0].weight, tail[i][1].weight)`` for each cluster ``i``,
        of shapes ``(h_i, in_features)`` and ``(size_i, h_i)`` with
        ``h_i = in_features // div_value ** (i + 1)``.
    n_classes : int
        The number of classes.
    cutoffs : sequence of int
        Increasing class indices in ``[1, n_classes - 1]`` where the
        clusters start (``n_classes`` itself is implied).
    div_value : float, optional
        Divides the hidden size from one cluster to the next; fixes the
        shapes of ``tail_weights``.
    head_bias : ndarray of shape (cutoffs[0] + n_clusters,), optional
        The module's ``head.bias`` when it was built with ``head_bias=True``.

    Returns
    -------
    output : ndarray of shape (N,) or ()
        The log-probability of each target.
    loss : ndarray of shape ()
        ``mean(-output)``: NaN for an empty batch.

    Raises
    ------
    ValueError
        For bad cutoffs, weights of the wrong shapes, a target out of range
        or of the wrong shape, or input of the wrong number of dimensions.
    TypeError
        For non-floating input or weights, mixed dtypes, a non-integer
        target.

    See Also
    --------
    torch.nn.AdaptiveLogSoftmaxWithLoss
    adaptive_log_softmax_log_prob, adaptive_log_softmax_predict

    Notes
    -----
    With the head's log-softmax :math:`h(x)` and the log-softmax
    :math:`t_i(x)` of cluster :math:`i`, reached through head entry
    :math:`s + i` (:math:`s` = ``cutoffs[0]``),

    .. math::

        \log p(y \mid x) = \begin{cases}
            h(x)_y & y < s, \\
            h(x)_{s+i} + t_i(x)_{y - c_i} & c_i \le y < c_{i+1} .
        \end{cases}

    Examples
    --------
    One cluster of two classes behind a head of two shortlisted classes;
    with zero weights every head entry has probability 1/3 and each
    cluster class 1/2 of its cluster's:

    >>> head = np.zeros((3, 2))
    >>> tail = [(np.zeros((1, 2)), np.zeros((2, 1)))]
    >>> output, loss = adaptive_log_softmax_with_loss(
    ...     np.ones((2, 2)), np.array([0, 3]), head, tail, 4, [2], 2.0
    ... )
    >>> np.exp(output).round(4)
    array([0.3333, 0.1667])
    """
    input, model = _adaptive_softmax(
        input,
        head_weight,
        tail_weights,
        n_classes,
        cutoffs,
        div_value,
        head_bias,
    )
    batch_input, batch_target = _adaptive_target(input, target, n_classes)
    output, _ = _adaptive_forward(model, batch_input, batch_target)
    # The module's (-output).mean(): NaN for an empty batch; float16 summed
    # in float32 and rounded once.
    loss = apply_reduction(-output, "mean")
    return output.reshape(np.shape(target)), loss


def _adaptive_forward(
    model: _AdaptiveSoftmax, input: np.ndarray, target: np.ndarray
) -> tuple[np.ndarray, list[Any]]:
    """Log-probabilities of the targets, and what the gradient reuses:
    the head's log-softmax and the gather index into it, and for each
    cluster its rows and log-softmax."""
    output = np.zeros(target.shape, dtype=input.dtype)
    head_index = target.copy()
    saved = []
    # A loop over clusters (a handful), each vectorised over its rows.
    for cluster in range(len(model.tail_weights)):
        low, high = model.cutoffs[cluster], model.cutoffs[cluster + 1]
        rows = np.flatnonzero((target >= low) & (target < high))
        if rows.size == 0:
            continue
        log_probs = model.cluster_log_probs(input[rows], cluster)
        local = target[rows] - low
        output[rows] = log_probs[np.arange(rows.size), local]
        head_index[rows] = model.shortlist + cluster
        saved.append((cluster, rows, local, log_probs))
    head = model.head_log_probs(input)
    output += head[np.arange(target.size), head_index]
    return output, [head, head_index, saved]


def adaptive_log_softmax_with_loss_grad(
    input: Any,
    target: Any,
    head_weight: Any,
    tail_weights: Any,
    n_classes: int,
    cutoffs: Any,
    div_value: float = 4.0,
    head_bias: Any = None,
    grad_output: Any = None,
) -> np.ndarray:
    r"""Gradient of :func:`adaptive_log_softmax_with_loss` with respect to
    ``input``.

    Parameters
    ----------
    input, target, head_weight, tail_weights, n_classes, cutoffs
        As for :func:`adaptive_log_softmax_with_loss`.
    div_value, head_bias
        As for :func:`adaptive_log_softmax_with_loss`.
    grad_output : ndarray or pair of ndarrays, optional
        The upstream gradient: of ``loss`` alone (0-d; default 1, what
        ``loss.backward()`` uses), or a pair ``(of output, of loss)``, as
        ``torch.autograd.grad((output, loss), input, grad_output)``.

    Returns
    -------
    ndarray
        Of the shape and dtype of ``input``.

    Raises
    ------
    ValueError, TypeError
        As :func:`adaptive_log_softmax_with_loss`; ``ValueError`` for a
        ``grad_output`` of the wrong shape.

    See Also
    --------
    torch.nn.AdaptiveLogSoftmaxWithLoss

    Notes
    -----
    ``loss = -mean(output)``, so the upstream gradient of each ``output_n``
    is :math:`u_n = g^{\text{out}}_n - g^{\text{loss}} / N`.  Through a
    log-softmax of logits :math:`z = A x`, :math:`\partial \log p_k /
    \partial x = A^\top (e_k - p)`; a cluster's logits are
    :math:`W_2 W_1 x`, so

    .. math::

        \nabla_{x_n} = u_n \Bigl( H^\top (e_{j_n} - p^{h}_n)
          + [y_n \in i]\, W_1^\top W_2^\top (e_{y_n - c_i} - p^{i}_n)
          \Bigr) .

    Examples
    --------
    The head's logits are ``(1, 1, 0)``; for class 0 the gradient of the
    loss with respect to them is ``softmax - one_hot``, and the head's
    weight passes its first two entries to ``x``:

    >>> tail = [(np.zeros((1, 2)), np.zeros((2, 1)))]
    >>> adaptive_log_softmax_with_loss_grad(
    ...     np.ones((1, 2)), np.array([0]), np.eye(3, 2), tail, 4, [2], 2.0
    ... ).round(4)
    array([[-0.5777,  0.4223]])
    """
    input, model = _adaptive_softmax(
        input,
        head_weight,
        tail_weights,
        n_classes,
        cutoffs,
        div_value,
        head_bias,
    )
    batch_input, batch_target = _adaptive_target(input, target, n_classes)
    size = batch_target.size
    output_grad, loss_grad = _adaptive_upstream(
        grad_output, np.shape(target), input.dtype
    )
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        # autograd's order: the mean's backward divides, rounded to the
        # dtype, and the two upstream gradients of output are then added.
        upstream = output_grad.reshape(-1) + -(loss_grad / size)
    _, (head, head_index, saved) = _adaptive_forward(
        model, batch_input, batch_target
    )
    # Through a gather and a log-softmax: upstream at the gathered entry,
    # then e_j - p, as torch's log_softmax backward computes it.
    head_upstream = np.zeros(head.shape, dtype=head.dtype)
    head_upstream[np.arange(size), head_index] = upstream
    grad = _matmul(
        _log_softmax_backward(head_upstream, head), model.head_weight
    )
    for cluster, members, local, log_probs in saved:
        projection, output = model.tail_weights[cluster]
        cluster_upstream = np.zeros(log_probs.shape, dtype=log_probs.dtype)
        cluster_upstream[np.arange(members.size), local] = upstream[members]
        cluster_grad = _log_softmax_backward(cluster_upstream, log_probs)
        hidden_grad = _matmul(cluster_grad, output)
        grad[members] += _matmul(hidden_grad, projection)
    return grad.reshape(input.shape)


def _adaptive_upstream(
    grad_output: Any, output_shape: tuple[int, ...], dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    """``(of output, of loss)`` from ``grad_output``."""
    if grad_output is None:
        return np.zeros(output_shape, dtype), np.ones((), dtype)
    if isinstance(grad_output, (tuple, list)):
        if len(grad_output) != 2:
            raise ValueError(
                "grad_output must be the gradient of loss, or a pair (of "
                f"output, of loss); got {len(grad_output)} entries"
            )
        output_grad, loss_grad = (np.asarray(g, dtype) for g in grad_output)
    else:
        output_grad = np.zeros(output_shape, dtype)
        loss_grad = np.asarray(grad_output, dtype)
    if output_grad.shape != output_shape or loss_grad.shape != ():
        raise ValueError(
            "grad_output must have the shapes of output and loss, "
            f"{output_shape} and (); got {output_grad.shape} and "
            f"{loss_grad.shape}"
        )
    return output_grad, loss_grad


def adaptive_log_softmax_log_prob(
    input: Any,
    head_weight: Any,
    tail_weights: Any,
    n_classes: int,
    cutoffs: Any,
    div_value: float = 4.0,
    head_bias: Any = None,
) -> np.ndarray:
    r"""Log-probabilities of every class, as the module's ``log_prob``.

    Parameters
    ----------
    input : ndarray of shape (N, in_features)
        Hidden states, floating (torch's ``log_prob`` refuses 1-D input).
    head_weight, tail_weights, n_classes, cutoffs, div_value, head_bias
        As for :func:`adaptive_log_softmax_with_loss`.

    Returns
    -------
    ndarray of shape (N, n_classes)
        Each row a log-distribution: its exponentials sum to one.

    Raises
    ------
    ValueError, TypeError
        As :func:`adaptive_log_softmax_with_loss`.

    See Also
    --------
    torch.nn.AdaptiveLogSoftmaxWithLoss.log_prob

    Notes
    -----
    .. math::

        \log p(\cdot \mid x) = \bigl(h(x)_{0:s},\;
          h(x)_{s} + t_0(x),\; \dots,\; h(x)_{s+k-1} + t_{k-1}(x)\bigr) .

    Examples
    --------
    >>> head = np.zeros((3, 2))
    >>> tail = [(np.zeros((1, 2)), np.zeros((2, 1)))]
    >>> log_prob = adaptive_log_softmax_log_prob(
    ...     np.ones((1, 2)), head, tail, 4, [2], 2.0
    ... )
    >>> np.exp(log_prob).round(4), float(np.exp(log_prob).sum())
    (array([[0.3333, 0.3333, 0.1667, 0.1667]]), 1.0)
    """
    input, model = _batched_adaptive_softmax(
        input,
        head_weight,
        tail_weights,
        n_classes,
        cutoffs,
        div_value,
        head_bias,
    )
    return _full_log_prob(model, input, model.head_log_probs(input))


def _full_log_prob(
    model: _AdaptiveSoftmax, input: np.ndarray, head: np.ndarray
) -> np.ndarray:
    parts = [head[:, : model.shortlist]]
    for cluster in range(len(model.tail_weights)):
        entry = head[:, model.shortlist + cluster, None]
        parts.append(model.cluster_log_probs(input, cluster) + entry)
    return np.concatenate(parts, axis=1)


def adaptive_log_softmax_predict(
    input: Any,
    head_weight: Any,
    tail_weights: Any,
    n_classes: int,
    cutoffs: Any,
    div_value: float = 4.0,
    head_bias: Any = None,
) -> np.ndarray:
    """The most probable class of each sample, as the module's ``predict``.

    Parameters
    ----------
    input : ndarray of shape (N, in_features)
        Hidden states, floating.
    head_weight, tail_weights, n_classes, cutoffs, div_value, head_bias
        As for :func:`adaptive_log_softmax_with_loss`.

    Returns
    -------
    ndarray of shape (N,), int64
        ``argmax`` of :func:`adaptive_log_softmax_log_prob`, found from the
        head alone when its best entry is a shortlisted class: no class of
        a cluster can then be more probable.

    Raises
    ------
    ValueError, TypeError
        As :func:`adaptive_log_softmax_with_loss`.

    See Also
    --------
    torch.nn.AdaptiveLogSoftmaxWithLoss.predict

    Examples
    --------
    >>> head = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    >>> tail = [(np.ones((1, 2)), np.array([[0.0], [1.0]]))]
    >>> adaptive_log_softmax_predict(
    ...     np.array([[2.0, 0.0], [0.0, 2.0]]), head, tail, 4, [2], 2.0
    ... )
    array([0, 3])
    """
    input, model = _batched_adaptive_softmax(
        input,
        head_weight,
        tail_weights,
        n_classes,
        cutoffs,
        div_value,
        head_bias,
    )
    head = model.head_log_probs(input)
    best = np.argmax(head, axis=1)
    # A cluster's classes have at most the head's probability of the
    # cluster: only rows whose best head entry is a cluster need the rest.
    outside = best >= model.shortlist
    if np.any(outside):
        full = _full_log_prob(model, input[outside], head[outside])
        best[outside] = np.argmax(full, axis=1)
    return best.astype(np.int64)
