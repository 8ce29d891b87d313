"""lossnotes: NumPy reference implementations of PyTorch's loss functions.

Each ``lossnotes.<name>`` mirrors ``torch.nn.functional.<name>`` (same
parameters, order and defaults) and ``lossnotes.grad.<name>`` gives its
gradient.  The package needs only NumPy; torch is used by the notes and tests
that check it, never here.
"""

from . import grad
from ._regression import huber_loss, l1_loss, mse_loss, smooth_l1_loss

__version__ = "0.1.0"

__all__ = ["grad", "huber_loss", "l1_loss", "mse_loss", "smooth_l1_loss"]
