"""Sequence and large-vocabulary losses.

CTC, adaptive log-softmax and linear cross entropy.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._classification import cross_entropy, cross_entropy_grad
from ._core import (
    apply_reduction,
    as_float_array,
    check_positive,
    check_reduction,
    reduce_backward,
)

__all__ = [
    "ctc_loss",
    "ctc_loss_grad",
    "LinearCrossEntropyOptions",
    "adaptive_log_softmax_log_prob",
    "adaptive_log_softmax_predict",
    "adaptive_log_softmax_with_loss",
    "adaptive_log_softmax_with_loss_grad",
    "linear_cross_entropy",
    "linear_cross_entropy_grad",
]


# Where a length or a class index must be an integer, these dtype kinds are
# integers (bool is not: torch refuses a boolean length tensor).
_INTEGER_KINDS = "iu"


def _accumulation(dtype: np.dtype) -> np.dtype:
    """The dtype torch's CPU kernels compute a float16 tensor in: float32,
    rounding the result to float16 once; other dtypes compute in their own.
    """
    return np.dtype(np.float32) if dtype == np.float16 else np.dtype(dtype)


def _linear(
    input: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None
) -> np.ndarray:
    """``torch.nn.functional.linear``: ``input @ weight.T + bias``, summed
    in :func:`_accumulation` and rounded to the input's dtype once."""
    wide = _accumulation(input.dtype)
    with np.errstate(invalid="ignore", over="ignore"):  # inf times 0: NaN
        product = input.astype(wide, copy=False) @ weight.astype(wide).T
        if bias is not None:
            product += bias.astype(wide, copy=False)
        return product.astype(input.dtype, copy=False)


def _matmul(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``first @ second`` as torch's CPU matrix product: summed in
    :func:`_accumulation`, rounded to the dtype once."""
    wide = _accumulation(first.dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        product = first.astype(wide, copy=False) @ second.astype(
            wide, copy=False
        )
        return product.astype(first.dtype, copy=False)


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


class _Lattice:
    """A validated CTC call, laid out for the recursions.

    ``log_probs`` is ``(T, N, C)`` (an unbatched ``(T, C)`` input gains an
    axis of 1) in float64; ``extended`` is the label sequence with blanks
    between and around the labels, ``(N, K)`` with ``K = 2 * max(S) + 1``;
    ``emissions`` is ``log_probs`` gathered along it, ``(T, N, K)``, and
    ``-inf`` at every time step past an input length and every state past
    a target's end, so that those cells stay ``-inf`` in both recursions
    whatever ``log_probs`` holds there; ``skip`` says where the recursion
    may jump over a blank: from state ``s - 2`` to state ``s``.
    """

    def __init__(
        self,
        log_probs: Any,
        targets: Any,
        input_lengths: Any,
        target_lengths: Any,
        blank: Any,
    ) -> None:
        log_probs = as_float_array(log_probs, "log_probs")
        if log_probs.dtype not in (np.float32, np.float64):
            # torch's CPU kernel is compiled for float and double only.
            raise TypeError(
                "log_probs must be float32 or float64 (torch's ctc_loss is "
                f"not implemented for {log_probs.dtype}); got "
                f"{log_probs.dtype}"
            )
        if log_probs.ndim not in (2, 3):
            raise ValueError(
                "log_probs must have shape (T, N, C), or (T, C) for one "
                f"unbatched sequence; got shape {log_probs.shape}"
            )
        if log_probs.size == 0:
            raise ValueError(
                "log_probs must not be empty (T, N and C at least 1); got "
                f"shape {log_probs.shape}"
            )
        self.batched = log_probs.ndim == 3
        self.dtype = log_probs.dtype
        self.shape = log_probs.shape
        if not self.batched:
            log_probs = log_probs[:, None, :]
        steps, batch, classes = log_probs.shape
        self.input_lengths = _lengths(input_lengths, "input_lengths", batch)
        self.target_lengths = _lengths(target_lengths, "target_lengths", batch)
        if isinstance(blank, (bool, np.bool_)) or not isinstance(
            blank, (int, np.integer)
        ):
            raise TypeError(f"blank must be an integer; got {blank!r}")
        if not 0 <= blank < classes:
            raise ValueError(
                f"blank must be a class index in [0, {classes - 1}] (C = "
                f"{classes}); got {blank}"
            )
        if np.any(self.input_lengths > steps):
            raise ValueError(
                f"input_lengths must be at most T = {steps}; got "
                f"{self.input_lengths.max()}"
            )
        labels = _padded_targets(
            targets, self.target_lengths, batch, self.batched
        )
        # Only the labels within the target lengths are read (the padding
        # may hold anything, -1 for instance), and those must index a class.
        within = np.arange(labels.shape[1]) < self.target_lengths[:, None]
        used = labels[within]
        if used.size and (used.min() < 0 or used.max() >= classes):
            bad = used[(used < 0) | (used >= classes)][0]
            raise ValueError(
                f"targets must be class indices in [0, {classes - 1}] "
                f"within the target lengths; got {bad}"
            )
        labels = np.where(within, labels, blank)

        states = 2 * labels.shape[1] + 1
        extended = np.full((batch, states), blank, dtype=np.int64)
        extended[:, 1::2] = labels
        # The jump s - 2 -> s over a blank is allowed only between two
        # different labels: between repeats the blank is what separates
        # them, and between two blanks there is nothing to jump over.
        skip = np.zeros((batch, states), dtype=bool)
        skip[:, 2:] = extended[:, 2:] != extended[:, :-2]

        # In the dtype of log_probs, as torch's kernel computes: float32
        # input is not promoted, so that both round the same steps.
        emissions = np.take_along_axis(
            log_probs, np.broadcast_to(extended, (steps, batch, states)), 2
        )
        in_time = np.arange(steps)[:, None] < self.input_lengths
        in_target = np.arange(states) <= 2 * self.target_lengths[:, None]
        valid = in_time[:, :, None] & in_target
        self.log_probs = log_probs
        self.extended = extended
        self.skip = skip
        self.valid = valid
        self.emissions = np.where(valid, emissions, -np.inf)


def _lengths(value: Any, name: str, batch: int) -> np.ndarray:
    """One non-negative integer length per batch element, as int64."""
    if isinstance(value, (bool, int, float, complex)):
        # torch takes a tensor, or a tuple or list of ints, never a number.
        raise TypeError(
            f"{name} must be an array, tuple or list of integers, one per "
            f"sequence; got the number {value!r}"
        )
    try:
        array = np.asarray(value)
    except ValueError as error:
        raise ValueError(f"{name} must be a flat list: {error}") from None
    if array.size == 0 and not isinstance(value, np.ndarray):
        array = array.astype(np.int64)  # [] has no dtype of its own
    if array.dtype.kind not in _INTEGER_KINDS:
        raise TypeError(f"{name} must hold integers; got dtype {array.dtype}")
    # torch counts the elements, whatever the shape (an (N, 1) tensor is N
    # lengths, a 0-d one is one).
    array = array.reshape(-1).astype(np.int64)
    if array.size != batch:
        raise ValueError(
            f"{name} must have one length per sequence, {batch}; got "
            f"{array.size}"
        )
    if np.any(array < 0):
        raise ValueError(f"{name} must be non-negative; got {array.min()}")
    return array


def _padded_targets(
    targets: Any, target_lengths: np.ndarray, batch: int, batched: bool
) -> np.ndarray:
    """The targets as an ``(N, max(target_lengths))`` int64 array.

    Padded ``(N, S)`` targets keep their first ``max(target_lengths)``
    columns; concatenated 1-D ones are cut at the cumulative lengths.
    """
    array = np.asarray(targets)
    if array.size == 0 and not isinstance(targets, np.ndarray):
        array = array.astype(np.int64)
    if array.dtype.kind not in _INTEGER_KINDS:
        # torch casts the targets to int64 without a word (1.7 becomes 1,
        # True becomes 1); lossnotes refuses anything but integers.
        raise TypeError(
            f"targets must hold integer class indices; got dtype {array.dtype}"
        )
    longest = int(target_lengths.max(initial=0))
    if array.ndim == 2:
        if array.shape[0] != batch:
            raise ValueError(
                f"targets of shape (N, S) must have N = {batch} rows"
                + ("" if batched else " (one, for unbatched log_probs)")
                + f"; got shape {array.shape}"
            )
        if array.shape[1] < longest:
            raise ValueError(
                f"targets of shape (N, S) must have S >= max(target_lengths)"
                f" = {longest}; got shape {array.shape}"
            )
        return array[:, :longest].astype(np.int64)
    if array.ndim == 1:
        total = int(target_lengths.sum())
        if array.shape[0] != total:
            raise ValueError(
                "1-D targets are the concatenated target sequences and must "
                f"have sum(target_lengths) = {total} elements; got shape "
                f"{array.shape}"
            )
        if total == 0:
            return np.zeros((batch, 0), dtype=np.int64)
        starts = np.cumsum(target_lengths) - target_lengths
        within = np.arange(longest) < target_lengths[:, None]
        index = np.where(within, starts[:, None] + np.arange(longest), 0)
        return np.where(within, array[index], 0).astype(np.int64)
    raise ValueError(
        "targets must have shape (N, S) (padded) or (sum(target_lengths),) "
        f"(concatenated); got shape {array.shape}"
    )


def _logsumexp3(
    first: np.ndarray, second: np.ndarray, third: np.ndarray
) -> np.ndarray:
    """``log(exp(first) + exp(second) + exp(third))``, element by element.

    Shifted by the largest of the three, as torch's kernel does; where all
    three are ``-inf`` the shift is 0, so the result is ``-inf`` rather
    than the NaN of ``-inf - (-inf)``.
    """
    shift = np.maximum(np.maximum(first, second), third)
    shift[shift == -np.inf] = 0.0
    # exp(-inf) is 0 and log(0) is -inf, as meant; a NaN propagates.
    with np.errstate(divide="ignore", invalid="ignore"):
        total = np.exp(first - shift)
        total += np.exp(second - shift)
        total += np.exp(third - shift)
        return np.log(total) + shift


def _logaddexp(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``log(exp(first) + exp(second))`` as torch's kernel writes it: shifted
    by ``std::max(first, second)``, a shift of ``-inf`` taken as 0."""
    shift = np.where(first < second, second, first)
    shift[shift == -np.inf] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(np.exp(first - shift) + np.exp(second - shift)) + shift


def _forward_variables(lattice: _Lattice) -> np.ndarray:
    """``log alpha``, ``(T, N, K)``: all prefixes of paths ending in a state.

    One step of the loop advances every sequence of the batch and every
    state at once; a state takes from itself, from the one before, and
    from two before where :attr:`_Lattice.skip` allows.
    """
    emissions, skip = lattice.emissions, lattice.skip
    steps, batch, states = emissions.shape
    alpha = np.full((steps, batch, states), -np.inf, dtype=lattice.dtype)
    # A path starts in the leading blank or in the first label.
    alpha[0, :, :2] = emissions[0, :, :2]
    # Two -inf columns in front: state s reads s, s - 1 and s - 2 from it.
    previous = np.full((batch, states + 2), -np.inf, dtype=lattice.dtype)
    jump = np.empty((batch, states), dtype=lattice.dtype)
    for time in range(1, steps):
        previous[:, 2:] = alpha[time - 1]
        jump.fill(-np.inf)
        np.copyto(jump, previous[:, :-2], where=skip)
        alpha[time] = _logsumexp3(previous[:, 2:], previous[:, 1:-1], jump)
        with np.errstate(invalid="ignore"):  # +inf log_probs give NaN
            alpha[time] += emissions[time]
    return alpha


def _backward_variables(lattice: _Lattice) -> np.ndarray:
    """``log beta``, ``(T, N, K)``: all suffixes of paths from a state.

    The mirror of :func:`_forward_variables`, run backwards from each
    sequence's last time step, where a path ends in the trailing blank or
    in the last label (every other state of that step is ``-inf``).  As in
    torch (and Graves et al.), both variables include the emission of
    their own time step.
    """
    emissions, skip = lattice.emissions, lattice.skip
    steps, batch, states = emissions.shape
    beta = np.full((steps, batch, states), -np.inf, dtype=lattice.dtype)
    rows = np.arange(batch)
    lengths = lattice.target_lengths
    last = lattice.input_lengths - 1
    # State s + 2 may jump to s where s may be jumped to from s - 2.
    skip_back = np.zeros((batch, states), dtype=bool)
    skip_back[:, :-2] = skip[:, 2:]
    following = np.full((batch, states + 2), -np.inf, dtype=lattice.dtype)
    jump = np.empty((batch, states), dtype=lattice.dtype)
    for time in range(steps - 1, -1, -1):
        if time < steps - 1:
            following[:, :-2] = beta[time + 1]
            jump.fill(-np.inf)
            np.copyto(jump, following[:, 2:], where=skip_back)
            beta[time] = _logsumexp3(
                following[:, :-2], following[:, 1:-1], jump
            )
            with np.errstate(invalid="ignore"):
                beta[time] += emissions[time]
        # The sequences whose last step this is start here.
        ending = rows[last == time]
        beta[time, ending] = -np.inf
        end = 2 * lengths[ending]
        beta[time, ending, end] = emissions[time, ending, end]
        labelled = ending[lengths[ending] > 0]
        end = 2 * lengths[labelled] - 1
        beta[time, labelled, end] = emissions[time, labelled, end]
    return beta


def _negative_log_likelihood(
    lattice: _Lattice, alpha: np.ndarray
) -> np.ndarray:
    """``-log p(target | log_probs)`` per sequence, ``(N,)``, in the dtype.

    The complete paths are those in the trailing blank or the last label
    at the last time step (only the blank for an empty target).  No time
    step at all aligns only the empty target.
    """
    rows = np.arange(alpha.shape[1])
    lengths = lattice.target_lengths
    final = alpha[np.maximum(lattice.input_lengths - 1, 0), rows]
    in_blank = final[rows, 2 * lengths]
    in_label = final[rows, np.maximum(2 * lengths - 1, 0)]
    likelihood = np.where(
        lengths > 0, _logaddexp(in_blank, in_label), in_blank
    )
    likelihood = np.where(
        lattice.input_lengths == 0,
        np.where(lengths == 0, 0.0, -np.inf),
        likelihood,
    ).astype(lattice.dtype)
    return -likelihood


def _collected_paths(
    lattice: _Lattice, alpha: np.ndarray, beta: np.ndarray
) -> np.ndarray:
    """``log sum_s alpha_t(s) beta_t(s)`` over the states of each class,
    ``(T, N, C)``, ``-inf`` where no state has the class.

    Added up as torch's kernel does, so that both round alike: at each
    sequence's last step only its two final states, the last label's
    replacing the trailing blank's when the last label is the blank index
    itself (torch assigns both, it does not add them; its loss counts
    both); at every earlier step the states from the last down to the
    first, each added to its class's running total with
    :func:`_logaddexp`.
    """
    steps, batch, classes = lattice.log_probs.shape
    collected = np.full((steps, batch, classes), -np.inf, dtype=lattice.dtype)
    rows = np.arange(batch)
    lengths, last = lattice.target_lengths, lattice.input_lengths - 1
    earlier = np.arange(steps)[:, None] < last  # (T, N): t < T_n - 1
    with np.errstate(invalid="ignore"):
        through = alpha + beta  # (T, N, K)
    for state in range(lattice.extended.shape[1] - 1, -1, -1):
        # One state of every sequence at every step at once: its class.
        label = lattice.extended[:, state]
        total = collected[:, rows, label]
        product = through[:, :, state]
        added = np.where(total == -np.inf, product, _logaddexp(total, product))
        counted = earlier & (state <= 2 * lengths)
        collected[:, rows, label] = np.where(counted, added, total)
    ending = rows[last >= 0]
    end = 2 * lengths[ending]
    collected[last[ending], ending, lattice.extended[ending, end]] = through[
        last[ending], ending, end
    ]
    labelled = ending[lengths[ending] > 0]
    end = 2 * lengths[labelled] - 1
    collected[last[labelled], labelled, lattice.extended[labelled, end]] = (
        through[last[labelled], labelled, end]
    )
    return collected


def _reduce(loss: np.ndarray, lattice: _Lattice, reduction: str) -> np.ndarray:
    if reduction == "mean":
        # torch divides each loss by its target length, clamped at 1, and
        # then averages over the batch.
        per_label = loss / np.maximum(lattice.target_lengths, 1).astype(
            loss.dtype
        )
        return apply_reduction(per_label, "mean")
    if reduction == "none" and not lattice.batched:
        return loss.reshape(())
    return apply_reduction(loss, reduction)


def _zeroed(loss: np.ndarray, zero_infinity: bool) -> np.ndarray:
    if zero_infinity:
        return np.where(loss == np.inf, 0.0, loss).astype(loss.dtype)
    return loss


def _check_flag(zero_infinity: Any) -> bool:
    if not isinstance(zero_infinity, (bool, np.bool_)):
        raise TypeError(
            f"zero_infinity must be True or False; got {zero_infinity!r}"
        )
    return bool(zero_infinity)


def ctc_loss(
    log_probs: Any,
    targets: Any,
    input_lengths: Any,
    target_lengths: Any,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> np.ndarray:
    r"""Connectionist temporal classification loss.

    The negative log-probability of a target label sequence, summed over
    every alignment of it to the input's time steps: each step emits a
    class or the blank, repeats merge, then blanks are dropped.

    Parameters
    ----------
    log_probs : ndarray of shape (T, N, C) or (T, C), float32 or float64
        Log-probabilities over the C classes (blank included) at each of
        the T time steps, for N sequences: the output of a
        ``log_softmax`` over the last axis.  Not logits, not
        probabilities: nothing checks this.
    targets : int ndarray of shape (N, S) or (sum(target_lengths),)
        The label sequences, padded to a common length S (the padding is
        never read), or concatenated.  For unbatched `log_probs`,
        ``(target_length,)`` or ``(1, S)``.
    input_lengths : int ndarray, tuple or list of N integers
        The number of valid time steps of each sequence, each at most T
        (0-d, or one element, for unbatched `log_probs`).
    target_lengths : int ndarray, tuple or list of N integers
        The number of labels of each target.
    blank : int
        The class index of the blank, in [0, C).
    reduction : {'mean', 'sum', 'none'}
        ``'none'``: the loss of each sequence; ``'sum'``: their sum;
        ``'mean'``: the mean over the batch of each loss divided by its
        target length (clamped at 1).
    zero_infinity : bool
        Replace the infinite loss of an impossible alignment (a target
        that needs more time steps than the input has) by 0, and its
        gradient by 0.

    Returns
    -------
    ndarray
        The loss, of the dtype of `log_probs`: 0-d unless
        ``reduction='none'``, which gives shape (N,) (0-d if unbatched).

    Raises
    ------
    ValueError
        If a shape, a length, `blank` or a label is out of range, or
        `reduction` is unknown.
    TypeError
        If `log_probs` is not float32 or float64, a length or a label is
        not an integer, or `blank` or `zero_infinity` has the wrong type.

    See Also
    --------
    torch.nn.CTCLoss, torch.nn.functional.ctc_loss

    Notes
    -----
    With :math:`l'` the target with a blank before, between and after its
    labels (length :math:`2L + 1`) and :math:`y_t^k = e^{x_{t,k}}`, the
    forward variables are :math:`\alpha_1(0) = y_1^{b}`,
    :math:`\alpha_1(1) = y_1^{l'_1}` and

    .. math::

        \alpha_t(s) = y_t^{l'_s} \bigl(\alpha_{t-1}(s) + \alpha_{t-1}(s-1)
        + [l'_s \ne l'_{s-2}] \, \alpha_{t-1}(s-2)\bigr),

    computed in log space; the loss is
    :math:`-\log(\alpha_T(2L) + \alpha_T(2L-1))`.  A target containing the
    blank index is not refused (torch does not refuse it either): the
    blank is then treated as an ordinary label.

    Examples
    --------
    Two time steps, classes (blank, a), each step 50:50; the target "a"
    has three alignments (a a, a -, - a) of probability 1/4 each:

    >>> half = np.log(np.full((2, 2), 0.5))
    >>> float(ctc_loss(half, [1], [2], [1]))  # -log(3/4)
    0.2876820724517...
    >>> ctc_loss(half, [1, 1], [2], [2], reduction="none")  # needs a - a
    array(inf)
    """
    reduction = check_reduction(reduction)
    zero_infinity = _check_flag(zero_infinity)
    lattice = _Lattice(
        log_probs, targets, input_lengths, target_lengths, blank
    )
    alpha = _forward_variables(lattice)
    loss = _negative_log_likelihood(lattice, alpha).astype(lattice.dtype)
    return _reduce(_zeroed(loss, zero_infinity), lattice, reduction)


def ctc_loss_grad(
    log_probs: Any,
    targets: Any,
    input_lengths: Any,
    target_lengths: Any,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
    grad_output: Any = None,
) -> np.ndarray:
    r"""Gradient torch's autograd gives for `log_probs` in :func:`ctc_loss`.

    It is **not** the partial derivative of the loss in `log_probs`:
    torch's kernel assumes that `log_probs` come out of a ``log_softmax``
    and returns the gradient with respect to the logits before it,
    :math:`y - \gamma`, a term :math:`y_t^k = e^{x_{t,k}}` more than the
    partial derivative :math:`-\gamma`.  Both give the same logits
    gradient once passed back through a ``log_softmax``.

    Parameters
    ----------
    log_probs, targets, input_lengths, target_lengths
        As for :func:`ctc_loss`.
    blank, reduction, zero_infinity
        As for :func:`ctc_loss`.
    grad_output : ndarray, optional
        The upstream gradient, of the shape of the loss; default ones.

    Returns
    -------
    ndarray
        Of the shape and dtype of `log_probs`; zero at the time steps past
        each input length, and NaN for a sequence whose loss is infinite
        unless `zero_infinity`, which makes it zero.

    Raises
    ------
    ValueError, TypeError
        As for :func:`ctc_loss`, and a `grad_output` of the wrong shape.

    See Also
    --------
    torch.nn.functional.ctc_loss

    Notes
    -----
    With :math:`\alpha, \beta` the forward and backward variables (both
    including the emission at :math:`t`) and :math:`p` the likelihood,
    the occupation probability of class :math:`k` at step :math:`t` is
    :math:`\gamma_t(k) = \sum_{s : l'_s = k}
    \alpha_t(s) \beta_t(s) / (p \, y_t^k)`, and torch returns, times the
    upstream gradient :math:`g` of each sequence,

    .. math::

        \frac{\partial \ell}{\partial x_{t,k}} \Big|_{\text{torch}}
        = g \, \bigl(y_t^k - \gamma_t(k)\bigr),
        \qquad
        \frac{\partial \ell}{\partial x_{t,k}} = -g \, \gamma_t(k) .

    Examples
    --------
    With the two 50:50 steps of :func:`ctc_loss`'s example, the target
    "a" occupies class a with probability 2/3 at each step (two of the
    three alignments), so torch's gradient is 1/2 - 2/3 for a and
    1/2 - 1/3 for the blank:

    >>> half = np.log(np.full((2, 2), 0.5))
    >>> ctc_loss_grad(half, [1], [2], [1], reduction="sum")
    array([[ 0.16666667, -0.16666667],
           [ 0.16666667, -0.16666667]])
    """
    reduction = check_reduction(reduction)
    zero_infinity = _check_flag(zero_infinity)
    lattice = _Lattice(
        log_probs, targets, input_lengths, target_lengths, blank
    )
    alpha = _forward_variables(lattice)
    nll = _negative_log_likelihood(lattice, alpha)
    batch = nll.shape[0]
    loss_shape = (batch,) if lattice.batched else ()
    # torch's backward of its reduction, in the dtype: 'mean' divides by N
    # and then by each clamped target length.
    upstream = reduce_backward(
        grad_output, loss_shape, lattice.dtype, reduction
    ).reshape(batch)
    if reduction == "mean":
        upstream = upstream / np.maximum(lattice.target_lengths, 1).astype(
            lattice.dtype
        )
    collected = _collected_paths(lattice, alpha, _backward_variables(lattice))
    # torch's y - exp(log(sum alpha beta) + nll - log y): the occupation
    # gamma in log space, NaN where log y is -inf or the likelihood is 0.
    log_probs = lattice.log_probs
    with np.errstate(invalid="ignore", over="ignore"):
        occupation = np.exp(collected + nll[:, None] - log_probs)
        grad = (np.exp(log_probs) - occupation) * upstream[:, None]
    grad[~lattice.valid[..., 0]] = 0.0  # past the input lengths
    if zero_infinity:
        grad[:, nll == np.inf] = 0.0
    return grad if lattice.batched else grad[:, 0]


@dataclass(frozen=True)
class LinearCrossEntropyOptions:
    """How :func:`linear_cross_entropy` splits the batch into chunks.

    The fields, defaults and checks of ``torch.nn.LinearCrossEntropyOptions``
    (torch 2.13), so that either object can be passed as ``options``:
    lossnotes reads them by attribute and never imports torch.

    Parameters
    ----------
    allow_retain_graph : bool, optional
        In torch, lets the backward of a scalar reduction run twice.  NumPy
        keeps no graph, so it changes nothing here.
    batch_chunk_size : int or None, optional
        Rows of the batch per chunk.  ``None``: ``chunking_method`` decides,
        or the whole batch is one chunk when that is ``None`` too.
    chunking_method : str or None, optional
        ``'aspect_ratio:N'`` (``N >= 1``; ``'aspect_ratio'`` is ``N = 1``)
        sizes a chunk so that its ``(rows, C)`` logits take about ``1/N``
        of the memory of the ``(N, in_features)`` input; ``'auto'`` (the
        default) is ``'aspect_ratio'`` for float16 and ``'aspect_ratio:2'``
        otherwise, torch's choice on the CPU, unless ``batch_chunk_size``
        is given.
    acc_policy : {'auto', 'accurate', 'balanced', 'compact'}, optional
        torch's trade-off between memory and precision when it accumulates
        in a wider dtype than the input's.  lossnotes computes a whole chunk
        in ``acc_dtype``, which is ``'accurate'``; the value is checked and
        otherwise has no effect.
    acc_dtype : dtype or None, optional
        The dtype of the computation: ``None`` for the input's (float32 for
        float16 input under ``acc_policy='auto'``, as torch on the CPU).
        Only float32 with float16 input may differ from the input's dtype.
        A NumPy dtype, its name, or a torch dtype.

    Raises
    ------
    ValueError
        For a value torch's options refuse.
    TypeError
        If ``batch_chunk_size`` is not an integer.

    See Also
    --------
    torch.nn.LinearCrossEntropyOptions

    Examples
    --------
    >>> LinearCrossEntropyOptions(batch_chunk_size=256).batch_chunk_size
    256
    """

    allow_retain_graph: bool = False
    batch_chunk_size: int | None = None
    chunking_method: str | None = "auto"
    acc_policy: str = "auto"
    acc_dtype: Any = None

    def __post_init__(self) -> None:
        _check_options(self)


_ACC_POLICIES = ("auto", "accurate", "balanced", "compact")
_OPTION_FIELDS = (
    "allow_retain_graph",
    "batch_chunk_size",
    "chunking_method",
    "acc_policy",
    "acc_dtype",
)


def _check_options(options: Any) -> None:
    """torch's checks of ``LinearCrossEntropyOptions``, by attribute."""
    missing = [name for name in _OPTION_FIELDS if not hasattr(options, name)]
    if missing:
        raise TypeError(
            "options must be None or a LinearCrossEntropyOptions (lossnotes' "
            f"or torch's); got {options!r}, without {', '.join(missing)}"
        )
    if options.acc_policy not in _ACC_POLICIES:
        raise ValueError(
            f"options.acc_policy must be one of {_ACC_POLICIES}; "
            f"got {options.acc_policy!r}"
        )
    method = options.chunking_method
    if method is not None and method != "auto":
        name, _, factor = str(method).partition(":")
        factor = factor or "1"
        if not (
            isinstance(method, str)
            and name == "aspect_ratio"
            and factor.isdigit()
            and int(factor) > 0
        ):
            raise ValueError(
                "options.chunking_method must be None, 'auto', "
                f"'aspect_ratio' or 'aspect_ratio:N' (N >= 1); got {method!r}"
            )
    size = options.batch_chunk_size
    # torch's own check lets True through as a size of 1, and then fails
    # deep inside: a flag is not a size.
    if size is not None and (
        isinstance(size, bool) or not isinstance(size, (int, np.integer))
    ):
        raise TypeError(
            "options.batch_chunk_size must be a positive integer or None; "
            f"got {size!r}"
        )
    if size is not None and size <= 0:
        raise ValueError(
            "options.batch_chunk_size must be a positive integer or None; "
            f"got {size!r}"
        )
    _acc_dtype(options.acc_dtype)


def _acc_dtype(value: Any) -> np.dtype | None:
    """A NumPy dtype from NumPy's or torch's spelling (``torch.float32``)."""
    if value is None:
        return None
    try:
        dtype = np.dtype(str(value).removeprefix("torch."))
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind != "f":
        raise ValueError(
            "options.acc_dtype must be None, float16, float32 or float64 "
            f"(NumPy has no bfloat16); got {value!r}"
        )
    return dtype


@dataclass(frozen=True)
class _ChunkPlan:
    """How torch's chunked path computes a call: rows per chunk, and the
    dtype of each of its buffers (``LinearCrossEntropyOptions._adjust`` and
    ``_ChunkContext.build`` of torch 2.13, on the CPU).

    With float16 input and a float32 ``accumulate`` (``acc_dtype``), the
    ``'accurate'`` policy (the CPU's default) computes the logits and the
    input gradient in float32; ``'balanced'`` and ``'compact'`` keep the
    logits in float16.  Otherwise everything is in the input's dtype.
    """

    rows: int
    accumulate: np.dtype  # the softmax denominators, and scratch sums
    logits: np.dtype  # the logits, the forward product, the input gradient
    scaled: np.dtype  # each row's weight w_t / -d, and the loss's two dots
    output: np.dtype  # the running loss
    weight_grad_scratch: bool  # a chunk's weight gradient in `accumulate`


def _chunk_plan(
    options: Any,
    num_batches: int,
    in_features: int,
    num_classes: int,
    dtype: np.dtype,
) -> _ChunkPlan:
    """The :class:`_ChunkPlan` of a call, as torch 2.13 makes it on the CPU.

    As ``LinearCrossEntropyOptions._adjust``: an explicit
    ``batch_chunk_size`` turns the ``'auto'`` method off, and one that
    disagrees with an explicit method is refused.
    """
    dtype = np.dtype(dtype)
    method = options.chunking_method
    size = options.batch_chunk_size
    if method == "auto":
        automatic = "aspect_ratio" if dtype == np.float16 else "aspect_ratio:2"
        method = None if size is not None else automatic
    chunk = num_batches if size is None else min(size, num_batches)
    if method is not None:
        if in_features == 0:
            raise ValueError(
                f"options.chunking_method {method!r} divides by in_features, "
                "which is 0; give a batch_chunk_size instead"
            )
        factor = int(method.partition(":")[2] or 1)
        classes_per_feature = -(-num_classes // in_features)
        rows = -(-num_batches // classes_per_feature)
        power_of_two = 1 << (rows - 1).bit_length()
        computed = min(power_of_two // factor, num_batches)
        if size is not None and size != computed:
            raise ValueError(
                f"options.batch_chunk_size (={size}) and chunking_method "
                f"({method!r}) give different chunk sizes ({size} vs "
                f"{computed}); pass only one"
            )
        chunk = computed
    accumulate = _acc_dtype(options.acc_dtype)
    if accumulate is None:
        wider = options.acc_policy == "auto" and dtype == np.float16
        accumulate = np.dtype(np.float32) if wider else dtype
    if accumulate != dtype and not (
        dtype == np.float16 and accumulate == np.float32
    ):
        raise ValueError(
            "options.acc_dtype may differ from the input's dtype only as "
            f"float32 for float16 input; got {accumulate} for {dtype} input"
        )
    policy = options.acc_policy
    if policy == "auto":
        policy = "accurate" if dtype == np.float16 else "compact"
    wider = accumulate != dtype
    logits = accumulate
    if not wider or (dtype == np.float16 and policy != "accurate"):
        logits = dtype
    return _ChunkPlan(
        rows=max(1, chunk),
        accumulate=accumulate,
        logits=logits,
        scaled=accumulate,
        output=accumulate,
        weight_grad_scratch=not (policy == "compact" and logits == dtype),
    )


@dataclass(frozen=True)
class _LinearCrossEntropyCall:
    """A validated call of :func:`linear_cross_entropy`.

    ``input`` is ``(N, in_features)`` (``N = 1`` for unbatched input),
    ``linear_weight`` ``(C * D, in_features)`` and ``linear_bias``
    ``(C * D,)``, with ``D`` the product of the K extra dimensions (1
    without them); ``target`` keeps its shape.  ``plan`` is None for
    torch's reference path, ``cross_entropy`` of the whole logits.
    """

    input: np.ndarray
    linear_weight: np.ndarray
    linear_bias: np.ndarray | None
    target: np.ndarray
    weight: np.ndarray | None
    reduction: str
    ignore_index: int
    label_smoothing: float
    logits_shape: tuple[int, ...]
    plan: _ChunkPlan | None
    shapes: tuple[Any, ...]  # of input, linear_weight and linear_bias

    @property
    def loss_shape(self) -> tuple[int, ...]:
        """The ``'none'`` loss's: the logits' without the class axis."""
        axis = 1 if len(self.shapes[0]) == 2 else 0
        return self.logits_shape[:axis] + self.logits_shape[axis + 1 :]


def _check_same_dtype(array: np.ndarray, name: str, dtype: np.dtype) -> None:
    if array.dtype != dtype:
        raise TypeError(
            f"{name} must have the dtype of input, {dtype}; got {array.dtype}"
        )


def _check_label_smoothing(label_smoothing: Any) -> float:
    if isinstance(label_smoothing, bool) or not isinstance(
        label_smoothing, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"label_smoothing must be a real number; got {label_smoothing!r}"
        )
    # Written so that NaN fails too.  torch refuses only values above 1;
    # below 0 (and NaN) its cross_entropy silently does no smoothing.
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"label_smoothing must be in [0, 1]; got {label_smoothing!r}"
        )
    return float(label_smoothing)


def _checked_layer(
    input: Any, linear_weight: Any, linear_bias: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The projection's arrays, checked in torch's order."""
    input = as_float_array(input, "input")
    linear_weight = as_float_array(linear_weight, "linear_weight")
    if input.ndim not in (1, 2):
        raise ValueError(
            "input must have 1 or 2 dimensions, (in_features,) or "
            f"(N, in_features); got shape {input.shape}"
        )
    if linear_weight.ndim < 2:
        raise ValueError(
            "linear_weight must have shape (C, in_features) or (C, d1, ..., "
            f"dK, in_features); got shape {linear_weight.shape}"
        )
    in_features = input.shape[-1]
    if linear_weight.shape[-1] != in_features:
        raise ValueError(
            "input and linear_weight must have the same last dimension "
            f"(in_features); got {in_features} and {linear_weight.shape[-1]}"
        )
    _check_same_dtype(linear_weight, "linear_weight", input.dtype)
    if linear_bias is not None:
        linear_bias = as_float_array(linear_bias, "linear_bias")
        if linear_bias.shape != linear_weight.shape[:-1]:
            raise ValueError(
                f"linear_bias must have shape {linear_weight.shape[:-1]} "
                f"(linear_weight's without in_features); got "
                f"{linear_bias.shape}"
            )
        _check_same_dtype(linear_bias, "linear_bias", input.dtype)
    if linear_weight.ndim > 2 and input.ndim == 1:
        raise ValueError(
            "a K-dimensional loss (linear_weight of shape "
            f"{linear_weight.shape}) needs batched input (N, {in_features}); "
            f"got shape {input.shape}"
        )
    return input, linear_weight, linear_bias


def _checked_target(
    target: Any,
    logits_shape: tuple[int, ...],
    ignore_index: Any,
) -> tuple[np.ndarray, int]:
    """Class indices, checked as torch's ``nll_loss`` does, or probabilities
    (a target of the logits' shape); and the index to ignore, torch's -100
    for ``None``."""
    target = np.asarray(target)
    axis = 1 if len(logits_shape) > 1 else 0
    num_classes = logits_shape[axis]
    if target.shape == logits_shape:  # torch's rule: probabilities
        if ignore_index is not None:
            raise ValueError(
                "ignore_index must be None when target holds class "
                "probabilities (it applies to class indices only)"
            )
        if target.dtype.kind != "f":
            raise TypeError(
                "target of the logits' shape holds class probabilities and "
                f"must be floating point; got dtype {target.dtype}"
            )
        return target, -100
    index_shape = logits_shape[:axis] + logits_shape[axis + 1 :]
    if target.shape != index_shape:
        raise ValueError(
            f"target must have shape {index_shape} (class indices) or "
            f"{logits_shape} (class probabilities); got {target.shape}"
        )
    if target.dtype not in (np.int64, np.uint8):
        raise TypeError(
            "target of class indices must be int64 or uint8 (torch's Long "
            f"or Byte); got dtype {target.dtype}"
        )
    if target.dtype == np.uint8 and len(logits_shape) > 2:
        raise TypeError(
            "target of uint8 class indices cannot be used with a "
            "K-dimensional loss (torch's kernel takes int64 only); pass "
            "int64 indices"
        )
    ignore_index = -100 if ignore_index is None else ignore_index
    if isinstance(ignore_index, bool) or not isinstance(
        ignore_index, (int, np.integer)
    ):
        raise TypeError(
            f"ignore_index must be an integer or None; got {ignore_index!r}"
        )
    indices = target.astype(np.int64)
    bad = (indices != ignore_index) & (
        (indices < 0) | (indices >= num_classes)
    )
    if np.any(bad):
        raise ValueError(
            f"target must hold class indices in [0, {num_classes}) or "
            f"ignore_index ({ignore_index}); got {indices[bad][0]}"
        )
    return target, int(ignore_index)


def _checked_class_weight(
    weight: Any, num_classes: int, dtype: np.dtype
) -> np.ndarray | None:
    if weight is None:
        return None
    # One per class, also where torch's chunked path gathers the weights
    # at the targets without looking at the shape (test_hostile.py).
    weight = as_float_array(weight, "weight")
    if weight.shape != (num_classes,):
        raise ValueError(
            f"weight must have shape ({num_classes},), one per class; got "
            f"{weight.shape}"
        )
    _check_same_dtype(weight, "weight", dtype)
    return weight


def _options_plan(
    options: Any,
    input: np.ndarray,
    linear_weight: np.ndarray,
    target: np.ndarray,
    reduction: str,
    label_smoothing: Any,
    linear_bias: np.ndarray | None,
) -> _ChunkPlan | None:
    """The chunk plan of ``options``, or None where torch takes its
    reference path: without options, and, with torch's warning, for a
    K-dimensional loss, label smoothing or a target that is not int64
    class indices."""
    if options is None:
        return None
    _check_options(options)
    out_features = linear_weight.shape[1:-1]
    if out_features or label_smoothing != 0.0 or target.dtype != np.int64:
        warnings.warn(
            "linear_cross_entropy: ``options`` ignored; chunked path "
            "needs reduction in {'mean','sum','none'}, label_smoothing "
            "== 0, target.dtype == int64, out_features == (). Got "
            f"reduction={reduction!r}, label_smoothing={label_smoothing}, "
            f"target.dtype=torch.{target.dtype}, out_features="
            f"{out_features}, tracing=False, linear_bias.shape="
            f"{None if linear_bias is None else linear_bias.shape}.",
            UserWarning,
            stacklevel=5,
        )
        return None
    batch = input.shape[0] if input.ndim == 2 else 1
    return _chunk_plan(
        options,
        batch,
        input.shape[-1],
        linear_weight.shape[0],
        input.dtype,
    )


def _linear_cross_entropy_call(
    input: Any,
    linear_weight: Any,
    target: Any,
    linear_bias: Any,
    weight: Any,
    reduction: str,
    ignore_index: int | None,
    label_smoothing: float,
    options: Any,
) -> _LinearCrossEntropyCall:
    """Validate a call, in the order torch 2.13 checks it, and lay it out
    for the two paths."""
    input, linear_weight, linear_bias = _checked_layer(
        input, linear_weight, linear_bias
    )
    num_classes, *out_features = linear_weight.shape[:-1]
    logits_shape = (*input.shape[:-1], num_classes, *out_features)
    target, ignore_index = _checked_target(target, logits_shape, ignore_index)
    reduction = check_reduction(reduction)
    weight = _checked_class_weight(weight, num_classes, input.dtype)
    smoothing_as_given = label_smoothing  # for torch's warning, verbatim
    label_smoothing = _check_label_smoothing(label_smoothing)
    if (
        target.dtype == np.uint8
        and label_smoothing > 0
        and weight is not None
        and reduction == "mean"
    ):
        # torch 2.13 gathers the weights with the uint8 indices there, and
        # gather takes only int32/int64 ("Expected dtype int32/int64").
        raise TypeError(
            "target of uint8 class indices cannot be used with "
            "label_smoothing, a weight and reduction='mean' (torch refuses "
            "it); pass int64 indices"
        )
    plan = _options_plan(
        options,
        input,
        linear_weight,
        target,
        reduction,
        smoothing_as_given,
        linear_bias,
    )
    in_features = input.shape[-1]
    return _LinearCrossEntropyCall(
        input=input.reshape(-1, in_features),
        linear_weight=linear_weight.reshape(-1, in_features),
        linear_bias=None if linear_bias is None else linear_bias.reshape(-1),
        target=target,
        weight=weight,
        reduction=reduction,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        logits_shape=logits_shape,
        plan=plan,
        shapes=(
            input.shape,
            linear_weight.shape,
            None if linear_bias is None else linear_bias.shape,
        ),
    )


# --- torch's reference path: linear, then cross_entropy ---------------------


def _reference_logits(call: _LinearCrossEntropyCall) -> np.ndarray:
    """``torch.nn.functional.linear`` of the call (a float32 sum rounded
    once for float16), in the logits' shape."""
    logits = _linear(call.input, call.linear_weight, call.linear_bias)
    return logits.reshape(call.logits_shape)


def _cross_entropy_options(call: _LinearCrossEntropyCall) -> dict[str, Any]:
    return {
        "weight": call.weight,
        "ignore_index": call.ignore_index,
        "reduction": call.reduction,
        "label_smoothing": call.label_smoothing,
    }


def _reference_gradients(
    call: _LinearCrossEntropyCall, grad_output: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Through cross_entropy's gradient ``G`` in the logits, then the
    projection: ``G W``, ``G^T x`` and the sum of ``G`` over the batch."""
    logits = _reference_logits(call)
    grad_logits = cross_entropy_grad(
        logits,
        call.target,
        **_cross_entropy_options(call),
        grad_output=grad_output,
    ).reshape(call.input.shape[0], call.linear_weight.shape[0])
    grad_input = _matmul(grad_logits, call.linear_weight)
    grad_weight = _matmul(grad_logits.T, call.input)
    if call.linear_bias is None:
        return grad_input, grad_weight, None
    wide = _accumulation(grad_logits.dtype)
    grad_bias = np.sum(grad_logits, axis=0, dtype=wide)
    return grad_input, grad_weight, grad_bias.astype(grad_logits.dtype)


# --- torch's chunked path ---------------------------------------------------


def _row_weights(call: _LinearCrossEntropyCall) -> tuple[Any, Any]:
    """Each row's class weight (0 where the target is ignored) in the
    plan's ``scaled`` dtype, and the targets torch gathers with: an
    ignored target outside [0, C) is read as class 0."""
    target = call.target.reshape(-1)
    ignored = target == call.ignore_index
    classes = call.linear_weight.shape[0]
    gather = target
    if not 0 <= call.ignore_index < classes:
        gather = np.where(ignored, 0, target)
    dtype = call.plan.scaled
    weight = (
        np.ones(target.shape, dtype=dtype)
        if call.weight is None
        else call.weight[gather].astype(dtype)
    )
    return np.where(ignored, dtype.type(0), weight), gather


def _scaled_weights(
    call: _LinearCrossEntropyCall, grad_output: Any
) -> tuple[np.ndarray, np.ndarray]:
    """torch's ``neg_weight_target``: each row's weight over ``-d``
    (``'mean'``, ``d`` their sum; NaN for every row when ``d`` is 0),
    negated (``'sum'``), or negated and times its upstream gradient
    (``'none'``); and the targets to gather with."""
    weight, gather = _row_weights(call)
    dtype = call.plan.scaled
    if call.reduction == "mean":
        total = np.sum(weight, dtype=_accumulation(dtype)).astype(dtype)
        divisor = dtype.type(np.nan) if total == 0 else -total
        return weight / divisor, gather
    if call.reduction == "sum":
        return -weight, gather
    return -weight * np.asarray(grad_output).reshape(-1).astype(dtype), gather


def _dot(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """torch's ``dot`` on the CPU: float16 in float32, rounded once."""
    wide = _accumulation(first.dtype)
    total = np.dot(first.astype(wide), second.astype(wide))
    return np.asarray(total).astype(first.dtype)


def _chunk_logits(
    call: _LinearCrossEntropyCall, rows: slice
) -> tuple[np.ndarray, np.ndarray]:
    """One chunk's logits less each row's largest, in the plan's logits
    dtype (the product, then the bias, each rounded): the only place
    where logits exist, one chunk of them at a time."""
    dtype = call.plan.logits
    logits = _matmul(
        call.input[rows].astype(dtype, copy=False),
        call.linear_weight.astype(dtype, copy=False).T,
    )
    if call.linear_bias is not None:
        logits += call.linear_bias.astype(dtype)
    with np.errstate(invalid="ignore"):
        logits -= np.max(logits, axis=1, keepdims=True)
    return logits


def _exponentiated(call: _LinearCrossEntropyCall, logits: Any) -> Any:
    """``exp`` of the shifted logits in place (rounded to their dtype), and
    their sum per row in ``accumulate``."""
    with np.errstate(over="ignore", invalid="ignore"):
        np.exp(logits, out=logits)
    return np.sum(logits, axis=1, dtype=call.plan.accumulate)


def _chunked_none_loss(call: _LinearCrossEntropyCall) -> np.ndarray:
    """torch's chunked ``'none'`` forward: each row's
    ``(log sum exp(z - m) - (z_t - m)) w_t``, 0 times that for an ignored
    target (NaN where that is not finite)."""
    weight, gather = _row_weights(call)
    loss = np.empty(call.input.shape[0], dtype=call.input.dtype)
    for start in range(0, loss.size, call.plan.rows):
        rows = slice(start, start + call.plan.rows)
        logits = _chunk_logits(call, rows)
        picked = logits[np.arange(logits.shape[0]), gather[rows]]
        total = _exponentiated(call, logits)
        wide = total.dtype
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            chunk = np.log(total) - picked.astype(wide)
            chunk *= weight[rows].astype(wide)
        loss[rows] = chunk
    return loss


def _chunked(
    call: _LinearCrossEntropyCall, grad_output: Any, gradients: bool
) -> tuple[np.ndarray, ...]:
    """torch's chunked accumulator: the loss of ``'mean'`` or ``'sum'``
    and, if ``gradients``, the gradients for an upstream gradient of 1
    (for ``'none'``, of ``grad_output``), chunk by chunk in the plan's
    dtypes.  A chunk adds ``w . (z_t - m)`` and subtracts
    ``w . log sum exp(z - m)`` to the loss, with ``w`` the rows'
    :func:`_scaled_weights`; its logits become ``w softmax``, which the
    gradients multiply: ``G = -w (softmax - onehot)``."""
    plan, dtype = call.plan, call.input.dtype
    scaled, gather = _scaled_weights(call, grad_output)
    batch = call.input.shape[0]
    output = np.zeros((), dtype=plan.output)
    if call.reduction == "mean" and batch == 0:
        output = np.full((), np.nan, dtype=plan.output)
    grad_input = np.empty(call.input.shape, dtype=plan.logits)
    grad_weight = np.zeros(call.linear_weight.shape, dtype=dtype)
    grad_bias = np.zeros(call.linear_weight.shape[:1], dtype=dtype)
    weight_cast = call.linear_weight.astype(plan.logits, copy=False)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for start in range(0, batch, plan.rows):
            rows = slice(start, start + plan.rows)
            logits = _chunk_logits(call, rows)
            weight, target = scaled[rows], gather[rows]
            picked = logits[np.arange(logits.shape[0]), target]
            output += _dot(weight, picked.astype(weight.dtype))
            total = _exponentiated(call, logits)
            if gradients:
                factor = (weight / total).astype(plan.logits)
                logits *= factor[:, None]  # w softmax
            output -= _dot(weight.astype(total.dtype), np.log(total))
            if not gradients:
                continue
            if call.linear_bias is not None:
                grad_bias = _chunk_bias_grad(
                    call, grad_bias, logits, weight, target
                )
            grad_input[rows] = _addmm(
                weight_cast[target] * weight.astype(plan.logits)[:, None],
                logits,
                weight_cast,
            )
            grad_weight = _chunk_weight_grad(
                call, grad_weight, logits, weight, target, rows
            )
        # float16: the float32 loss and input gradient rounded, once.
        return (
            output.astype(dtype),
            grad_input.astype(dtype),
            grad_weight,
            grad_bias,
        )


def _addmm(start: np.ndarray, first: Any, second: Any) -> np.ndarray:
    """``start - first @ second`` as torch's ``addmm(alpha=-1)``: float16
    summed in float32 and rounded once; other dtypes in place."""
    wide = _accumulation(start.dtype)
    product = first.astype(wide, copy=False) @ second.astype(wide, copy=False)
    if wide == start.dtype:
        start -= product
        return start
    return (start.astype(wide) - product).astype(start.dtype)


def _chunk_bias_grad(
    call: _LinearCrossEntropyCall,
    grad_bias: np.ndarray,
    logits: np.ndarray,
    weight: np.ndarray,
    target: np.ndarray,
) -> np.ndarray:
    """``grad_b -= sum_n w_n softmax_n; grad_b[t_n] += w_n``: with float32
    accumulation for float16 input a chunk is summed in a float32 scratch
    and added to the float16 gradient once."""
    plan = call.plan
    wide = plan.accumulate
    scratch = (
        grad_bias
        if wide == grad_bias.dtype
        else np.zeros_like(grad_bias, dtype=wide)
    )
    scratch -= np.sum(logits, axis=0, dtype=wide)
    np.add.at(scratch, target, weight.astype(wide))
    if scratch is grad_bias:
        return grad_bias
    return grad_bias + scratch.astype(grad_bias.dtype)


def _chunk_weight_grad(
    call: _LinearCrossEntropyCall,
    grad_weight: np.ndarray,
    logits: np.ndarray,
    weight: np.ndarray,
    target: np.ndarray,
    rows: slice,
) -> np.ndarray:
    """``grad_W -= (w softmax)^T x; grad_W[t_n] += w_n x_n``, as torch
    orders it: through a per-chunk scratch in ``accumulate``, subtracted
    once, or (``'compact'``) straight into the gradient."""
    plan, dtype = call.plan, grad_weight.dtype
    rows_input = call.input[rows].astype(plan.accumulate)
    scaled_input = rows_input * weight.astype(plan.accumulate)[:, None]
    if plan.weight_grad_scratch:
        scratch = _matmul(logits.T.astype(plan.accumulate), rows_input)
        np.subtract.at(scratch, target, scaled_input)
        if scratch.dtype == dtype:
            grad_weight -= scratch
            return grad_weight
        wide = _accumulation(dtype)
        return (grad_weight.astype(wide) - scratch).astype(dtype)
    grad_weight = _addmm(grad_weight, logits.T, call.input[rows])
    np.add.at(grad_weight, target, scaled_input.astype(dtype))
    return grad_weight


def _chunked_loss(call: _LinearCrossEntropyCall) -> np.ndarray:
    if call.reduction == "none":
        return _chunked_none_loss(call).reshape(call.loss_shape)
    return _chunked(call, None, gradients=False)[0]


def _chunked_gradients(
    call: _LinearCrossEntropyCall, grad_output: Any
) -> tuple[np.ndarray, ...]:
    """The three gradients of torch's chunked path: for ``'none'`` computed
    with each row's upstream gradient folded into its weight; for
    ``'mean'`` and ``'sum'`` computed for an upstream gradient of 1 and
    then multiplied by ``grad_output``, rounded to the dtype."""
    dtype = call.input.dtype
    if call.reduction == "none":
        upstream = reduce_backward(grad_output, call.loss_shape, dtype, "none")
        return _chunked(call, upstream, gradients=True)[1:]
    scale = reduce_backward(grad_output, (), dtype, "sum")
    return tuple(
        grad * scale for grad in _chunked(call, None, gradients=True)[1:]
    )


def linear_cross_entropy(
    input: Any,
    linear_weight: Any,
    target: Any,
    *,
    linear_bias: Any = None,
    weight: Any = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    options: Any = None,
) -> np.ndarray:
    r"""Cross entropy of a linear projection, optionally a chunk at a time.

    Equal to ``cross_entropy(input @ linear_weight.T + linear_bias,
    target, ...)``; with ``options`` the batch is processed
    ``batch_chunk_size`` rows at a time, so that the ``(N, C)`` logits
    never exist at once.

    Parameters
    ----------
    input : ndarray of shape (in_features,) or (N, in_features)
        Hidden states (the features before the output layer), floating.
    linear_weight : ndarray of shape (C, in_features) or (C, d1, ..., dK,
        in_features)
        The output layer's weight (``torch.nn.Linear`` layout), of the
        dtype of ``input``; K extra dimensions give a K-dimensional loss
        and need batched input.
    target : ndarray
        Class indices (int64 or uint8) of shape ``()``, ``(N,)`` or ``(N,
        d1, ..., dK)``, or class probabilities of the logits' shape ``(C,)``,
        ``(N, C)`` or ``(N, C, d1, ..., dK)``.
    linear_bias : ndarray of shape (C,) or (C, d1, ..., dK), optional
        Added to the logits.
    weight : ndarray of shape (C,), optional
        A weight per class, as in ``cross_entropy``.
    reduction : {'mean', 'sum', 'none'}, optional
        ``'mean'`` divides by the summed weight of the class-index targets
        that count, or by the number of elements for probabilities.
    ignore_index : int or None, optional
        A class index that contributes nothing; ``None`` is torch's -100.
        Must be ``None`` with probabilities.
    label_smoothing : float, optional
        In [0, 1]: the target is mixed with the uniform distribution.
    options : LinearCrossEntropyOptions or None, optional
        lossnotes' or torch's; ``None`` computes all logits at once.  As in
        torch, it is ignored, with torch's warning, for a K-dimensional
        loss, label smoothing or a target that is not int64 indices.

    Returns
    -------
    ndarray
        The loss: of the shape of the class-index target for ``'none'``,
        0-d otherwise; the dtype of ``input`` (promoted with float
        probabilities).

    Raises
    ------
    ValueError
        For shapes that do not fit, a class index out of range, an unknown
        reduction, ``label_smoothing`` outside [0, 1], bad options.
    TypeError
        For non-floating input, mixed dtypes, a target of the wrong dtype.

    See Also
    --------
    torch.nn.functional.linear_cross_entropy, torch.nn.LinearCrossEntropyLoss

    Notes
    -----
    With logits :math:`z = W x_n + b` and :math:`p = \operatorname{softmax}
    (z)`, the per-sample loss for class index :math:`y_n` is

    .. math::

        \ell_n = (1 - \varepsilon)\, w_{y_n} (-\log p_{n y_n})
                 + \frac{\varepsilon}{C} \sum_c w_c (-\log p_{nc}) .

    Only one chunk of logits exists at a time; the loss of a row does not
    depend on the chunk it is in, so chunked and unchunked losses are equal.

    Examples
    --------
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> w = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    >>> y = np.array([0, 2])
    >>> linear_cross_entropy(x, w, y, reduction="none").round(6)
    array([0.551445, 1.551445])
    >>> options = LinearCrossEntropyOptions(batch_chunk_size=1)
    >>> linear_cross_entropy(x, w, y, options=options).round(6)
    np.float64(1.051445)
    """
    call = _linear_cross_entropy_call(
        input,
        linear_weight,
        target,
        linear_bias,
        weight,
        reduction,
        ignore_index,
        label_smoothing,
        options,
    )
    if call.plan is not None:
        return _chunked_loss(call)
    return np.asarray(
        cross_entropy(
            _reference_logits(call),
            call.target,
            **_cross_entropy_options(call),
        )
    )


def linear_cross_entropy_grad(
    input: Any,
    linear_weight: Any,
    target: Any,
    *,
    linear_bias: Any = None,
    weight: Any = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    options: Any = None,
    grad_output: Any = None,
) -> tuple[np.ndarray, ...]:
    r"""Gradient of :func:`linear_cross_entropy`, chunk by chunk.

    Parameters
    ----------
    input, linear_weight, target
        As for :func:`linear_cross_entropy`.
    linear_bias, weight, reduction, ignore_index, label_smoothing, options
        As for :func:`linear_cross_entropy`.
    grad_output : ndarray, optional
        Upstream gradient of the shape of the loss (default ones).

    Returns
    -------
    tuple of ndarray
        The gradients with respect to ``input`` and ``linear_weight``, and
        ``linear_bias`` when it is given, each of its argument's shape.

    Raises
    ------
    ValueError, TypeError
        As :func:`linear_cross_entropy`; ``ValueError`` for a
        ``grad_output`` of the wrong shape.

    See Also
    --------
    torch.nn.functional.linear_cross_entropy

    Notes
    -----
    With :math:`A_{nc}` the coefficient of :math:`-\log p_{nc}` in the loss
    (:math:`(1-\varepsilon) w_{y_n} [c = y_n] + \varepsilon w_c / C` for
    class indices, :math:`w_c \tilde t_{nc}` for probabilities) and
    :math:`g_n` the upstream gradient after the reduction,

    .. math::

        \frac{\partial \ell}{\partial z_{nc}}
        = g_n \Bigl(p_{nc} \sum_k A_{nk} - A_{nc}\Bigr) = G_{nc},
        \qquad
        \nabla_x = G W, \quad \nabla_W = G^\top x, \quad
        \nabla_b = \textstyle\sum_n G_n .

    Examples
    --------
    The logits of ``x = (1, 0)`` through the identity are ``(1, 0)``, and
    the gradient with respect to them is ``softmax - one_hot``:

    >>> x, identity = np.array([[1.0, 0.0]]), np.eye(2)
    >>> grad_x, grad_w = linear_cross_entropy_grad(x, identity, np.array([0]))
    >>> grad_x.round(4)
    array([[-0.2689,  0.2689]])
    """
    call = _linear_cross_entropy_call(
        input,
        linear_weight,
        target,
        linear_bias,
        weight,
        reduction,
        ignore_index,
        label_smoothing,
        options,
    )
    if call.plan is None:
        grads = _reference_gradients(call, grad_output)
    else:
        grads = _chunked_gradients(call, grad_output)
    shapes = [shape for shape in call.shapes if shape is not None]
    return tuple(
        np.asarray(grad).reshape(shape) for grad, shape in zip(grads, shapes)
    )


# --- adaptive log-softmax -------------------------------------------------


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
