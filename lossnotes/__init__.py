"""lossnotes: NumPy reference implementations of PyTorch's loss functions.

Each ``lossnotes.<name>`` mirrors ``torch.nn.functional.<name>`` (same
parameters, order and defaults) and ``lossnotes.grad.<name>`` gives its
gradient.  The package needs only NumPy; torch is used by the notes and tests
that check it, never here.
"""

from . import grad
from ._classification import log_softmax, logsigmoid, sigmoid, softmax
from ._regression import huber_loss, l1_loss, mse_loss, smooth_l1_loss

# >>> imports by family (one block per chapter group; merged at the end)
# <<< imports

__version__ = "0.1.0"

# The building blocks that are not losses (no gradient in lossnotes.grad):
# every other name here is a loss.
HELPERS = ("log_softmax", "logsigmoid", "sigmoid", "softmax")

__all__ = [
    "grad",
    "huber_loss",
    "l1_loss",
    "log_softmax",
    "logsigmoid",
    "mse_loss",
    "sigmoid",
    "smooth_l1_loss",
    "softmax",
    # >>> names by family
    # <<< names
]
