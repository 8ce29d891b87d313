"""Connectionist temporal classification: torch's recursions, in its order.

The forward and backward variables of Graves et al. run over a lattice of
label and blank states, in log space and in the dtype of ``log_probs``, as
torch's CPU kernel runs them, so that both round the same steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._core import (
    apply_reduction,
    as_float_array,
    check_flag,
    check_reduction,
    reduce_backward,
)

__all__ = ["ctc_loss", "ctc_loss_grad"]


# Where a length or a class index must be an integer, these dtype kinds are
# integers (bool is not: torch refuses a boolean length tensor).
_INTEGER_KINDS = "iu"


class _Lattice:
    """A validated CTC call, laid out for the recursions.

    ``log_probs`` is ``(T, N, C)`` (an unbatched ``(T, C)`` input gains an
    axis of 1) in its own dtype; ``extended`` is the label sequence with
    blanks between and around the labels, ``(N, K)`` with ``K = 2 * max(S)
    + 1``; ``emissions`` is ``log_probs`` gathered along it, ``(T, N, K)``,
    and ``-inf`` at every time step past an input length and every state
    past a target's end, so that those cells stay ``-inf`` in both
    recursions whatever ``log_probs`` holds there; ``skip`` says where the
    recursion may jump over a blank: from state ``s - 2`` to state ``s``.
    """

    def __init__(
        self,
        log_probs: Any,
        targets: Any,
        input_lengths: Any,
        target_lengths: Any,
        blank: Any,
    ) -> None:
        log_probs, self.batched = _checked_log_probs(log_probs)
        steps, batch, classes = log_probs.shape
        self.input_lengths = _lengths(input_lengths, "input_lengths", batch)
        self.target_lengths = _lengths(target_lengths, "target_lengths", batch)
        blank = _checked_blank(blank, classes)
        if np.any(self.input_lengths > steps):
            raise ValueError(
                f"input_lengths must be at most T = {steps}; got "
                f"{self.input_lengths.max()}"
            )
        labels = _checked_labels(
            targets, self.target_lengths, self.batched, classes, blank
        )
        self.dtype = log_probs.dtype
        self.log_probs = log_probs
        self._lay_out(labels, blank)

    def _lay_out(self, labels: np.ndarray, blank: int) -> None:
        """``extended``, ``skip``, ``valid`` and ``emissions`` from the
        checked labels, ``(N, max(S))``."""
        steps, batch, _ = self.log_probs.shape
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
            self.log_probs,
            np.broadcast_to(extended, (steps, batch, states)),
            2,
        )
        in_time = np.arange(steps)[:, None] < self.input_lengths
        in_target = np.arange(states) <= 2 * self.target_lengths[:, None]
        self.extended = extended
        self.skip = skip
        self.valid = in_time[:, :, None] & in_target
        self.emissions = np.where(self.valid, emissions, -np.inf)


def _checked_log_probs(log_probs: Any) -> tuple[np.ndarray, bool]:
    """``log_probs`` as ``(T, N, C)``, and whether it was batched."""
    log_probs = as_float_array(log_probs, "log_probs")
    if log_probs.dtype not in (np.float32, np.float64):
        # torch's CPU kernel is compiled for float and double only.
        raise TypeError(
            "log_probs must be float32 or float64 (torch's ctc_loss is "
            f"not implemented for {log_probs.dtype}); got {log_probs.dtype}"
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
    batched = log_probs.ndim == 3
    return (log_probs if batched else log_probs[:, None, :]), batched


def _checked_blank(blank: Any, classes: int) -> int:
    if isinstance(blank, (bool, np.bool_)) or not isinstance(
        blank, (int, np.integer)
    ):
        raise TypeError(f"blank must be an integer; got {blank!r}")
    if not 0 <= blank < classes:
        raise ValueError(
            f"blank must be a class index in [0, {classes - 1}] (C = "
            f"{classes}); got {blank}"
        )
    return int(blank)


def _checked_labels(
    targets: Any,
    target_lengths: np.ndarray,
    batched: bool,
    classes: int,
    blank: int,
) -> np.ndarray:
    """The labels, ``(N, max(target_lengths))``: only those within the
    target lengths are read (the padding may hold anything, -1 for
    instance), and those must index a class; past a target's end, the
    blank."""
    labels = _padded_targets(
        targets, target_lengths, target_lengths.size, batched
    )
    within = np.arange(labels.shape[1]) < target_lengths[:, None]
    used = labels[within]
    if used.size and (used.min() < 0 or used.max() >= classes):
        bad = used[(used < 0) | (used >= classes)][0]
        raise ValueError(
            f"targets must be class indices in [0, {classes - 1}] "
            f"within the target lengths; got {bad}"
        )
    return np.where(within, labels, blank)


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
    zero_infinity = check_flag(zero_infinity, "zero_infinity")
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
    zero_infinity = check_flag(zero_infinity, "zero_infinity")
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
