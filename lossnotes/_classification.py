"""Classification losses and the stable helpers they are built on.

``log_softmax``, ``softmax``, ``sigmoid`` and ``logsigmoid`` are the four
functions every likelihood-based loss of torch.nn needs, written so that they
stay finite where the textbook formula overflows: shift by the maximum before
exponentiating, and take ``log1p`` of a number that is at most one.  The later
families (likelihoods, margins, sequences) import them from here.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ._core import as_float_array

# >>> classification-ce: imports
# <<< classification-ce
# >>> classification-bce: imports
# <<< classification-bce

__all__ = [
    "log_softmax",
    "logsigmoid",
    "sigmoid",
    "softmax",
    # >>> classification-ce: names
    # <<< classification-ce
    # >>> classification-bce: names
    # <<< classification-bce
]


def _softmax_dim(name: str, ndim: int, dim: Any, stacklevel: int) -> int:
    """The axis a softmax runs along, chosen and checked as torch does.

    Without ``dim`` torch picks one from the number of dimensions (0 for 0-,
    1- and 3-dimensional input, else 1) and warns that the choice is
    deprecated; an axis out of range is refused.
    """
    if dim is None:
        dim = 0 if ndim in (0, 1, 3) else 1
        warnings.warn(
            f"Implicit dimension choice for {name} has been deprecated. "
            "Change the call to include dim=X as an argument.",
            UserWarning,
            stacklevel=stacklevel + 1,
        )
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"dim must be an integer; got {dim!r}")
    # A 0-d tensor has one axis for this purpose, as in torch.
    axes = max(ndim, 1)
    if not -axes <= dim < axes:
        raise ValueError(
            f"dim must be in [{-axes}, {axes - 1}] for an input with {ndim} "
            f"dimensions; got {dim}"
        )
    return int(dim) % axes


def _softmax_input(input: Any, dtype: Any) -> np.ndarray:
    input = as_float_array(input, "input")
    if dtype is not None:
        input = input.astype(np.dtype(dtype))
    return input


def log_softmax(
    input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> np.ndarray:
    r"""Logarithm of the softmax along ``dim``, without overflow.

    Parameters
    ----------
    input : array_like of floating dtype, any shape
        Logits.
    dim : int, optional
        The axis that holds the classes.  Without it torch's deprecated
        implicit choice is made (0 for 0-, 1- and 3-dimensional input, else
        1), with torch's warning.
    _stacklevel : int, optional
        Where the implicit-dimension warning points, as in torch.
    dtype : dtype, optional
        Cast ``input`` to this dtype first.

    Returns
    -------
    ndarray
        Log-probabilities of the shape and dtype of ``input``.

    Raises
    ------
    TypeError
        If ``input`` is not floating point or ``dim`` is not an integer.
    ValueError
        If ``dim`` is out of range.

    See Also
    --------
    torch.nn.functional.log_softmax

    Notes
    -----
    With :math:`m = \max_j x_j`,

    .. math::

        \log \operatorname{softmax}(x)_i
        = (x_i - m) - \log \sum_j e^{x_j - m} .

    Every exponent is at most zero, so nothing overflows, and the sum is at
    least one, so its logarithm is finite: the naive
    :math:`\log(e^{x_i} / \sum_j e^{x_j})` gives ``nan`` or ``-inf`` as soon
    as a logit passes about 710 (float64) or 89 (float32).

    Examples
    --------
    >>> log_softmax(np.array([1000.0, 1.0]), dim=0)
    array([   0., -999.])
    """
    input = _softmax_input(input, dtype)
    axis = _softmax_dim("log_softmax", input.ndim, dim, _stacklevel)
    logits = input.reshape(input.shape or (1,))
    shifted = logits - np.max(logits, axis=axis, keepdims=True)
    total = np.sum(np.exp(shifted), axis=axis, keepdims=True)
    return (shifted - np.log(total)).reshape(input.shape)


def softmax(
    input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> np.ndarray:
    r"""Softmax along ``dim``, without overflow.

    Parameters
    ----------
    input : array_like of floating dtype, any shape
        Logits.
    dim : int, optional
        The axis that holds the classes (torch's implicit choice, with its
        warning, when omitted; see :func:`log_softmax`).
    _stacklevel : int, optional
        Where the implicit-dimension warning points, as in torch.
    dtype : dtype, optional
        Cast ``input`` to this dtype first.

    Returns
    -------
    ndarray
        Probabilities of the shape and dtype of ``input``, summing to one
        along ``dim``.

    Raises
    ------
    TypeError
        If ``input`` is not floating point or ``dim`` is not an integer.
    ValueError
        If ``dim`` is out of range.

    See Also
    --------
    torch.nn.functional.softmax

    Notes
    -----
    .. math::

        \operatorname{softmax}(x)_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}},
        \qquad m = \max_j x_j ,

    the same value as :math:`e^{x_i} / \sum_j e^{x_j}`, which overflows to
    ``inf / inf = nan`` for large logits.

    Examples
    --------
    >>> softmax(np.array([1000.0, 1000.0]), dim=0)
    array([0.5, 0.5])
    """
    input = _softmax_input(input, dtype)
    axis = _softmax_dim("softmax", input.ndim, dim, _stacklevel)
    logits = input.reshape(input.shape or (1,))
    exponentials = np.exp(logits - np.max(logits, axis=axis, keepdims=True))
    exponentials /= np.sum(exponentials, axis=axis, keepdims=True)
    return exponentials.reshape(input.shape)


def sigmoid(input: Any) -> np.ndarray:
    r"""Logistic sigmoid, without overflow for logits of either sign.

    Parameters
    ----------
    input : array_like of floating dtype, any shape
        Logits.

    Returns
    -------
    ndarray
        :math:`\sigma(x)` in [0, 1], of the shape and dtype of ``input``.

    Raises
    ------
    TypeError
        If ``input`` is not floating point.

    See Also
    --------
    torch.sigmoid, torch.nn.functional.sigmoid

    Notes
    -----
    With :math:`e = e^{-\lvert x \rvert} \le 1`,

    .. math::

        \sigma(x) = \frac{1}{1 + e^{-x}} =
        \begin{cases} 1 / (1 + e) & x \ge 0, \\
                      e / (1 + e) & x < 0 , \end{cases}

    so the exponential never overflows (``exp(-x)`` does for
    :math:`x < -710` in float64, and NumPy warns).

    Examples
    --------
    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    array([0. , 0.5, 1. ])
    """
    input = as_float_array(input, "input")
    small = np.exp(-np.abs(input))
    ratio = 1 / (1 + small)
    # For x < 0 the value is small / (1 + small): the complement, computed
    # without the cancellation of 1 - ratio.
    return np.where(input >= 0, ratio, small * ratio).astype(
        input.dtype, copy=False
    )


def logsigmoid(input: Any) -> np.ndarray:
    r"""Logarithm of the sigmoid, finite for every finite logit.

    Parameters
    ----------
    input : array_like of floating dtype, any shape
        Logits.

    Returns
    -------
    ndarray
        :math:`\log \sigma(x) \le 0`, of the shape and dtype of ``input``.

    Raises
    ------
    TypeError
        If ``input`` is not floating point.

    See Also
    --------
    torch.nn.functional.logsigmoid

    Notes
    -----
    .. math::

        \log \sigma(x) = -\log(1 + e^{-x})
        = \min(x, 0) - \operatorname{log1p}\bigl(e^{-\lvert x \rvert}\bigr) .

    The exponent is at most zero, and ``log1p`` keeps the digits of a small
    argument: :math:`\log \sigma(-10^4) = -10^4` where ``log(sigmoid(x))``
    gives ``-inf``, and :math:`\log \sigma(40) \approx -4.2 \cdot 10^{-18}`
    where it gives 0.

    Examples
    --------
    >>> logsigmoid(np.array([-1e4, 0.0]))
    array([-1.00000000e+04, -6.93147181e-01])
    """
    input = as_float_array(input, "input")
    return np.minimum(input, 0) - np.log1p(np.exp(-np.abs(input)))


# >>> classification-ce: code
# <<< classification-ce
# >>> classification-bce: code
# <<< classification-bce
