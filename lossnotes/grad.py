"""Gradients of the losses with respect to their prediction arguments.

``lossnotes.grad.<name>`` takes the arguments of ``lossnotes.<name>`` plus
``grad_output`` (the upstream gradient, shaped like the loss; default ones) and
returns what ``torch.autograd`` computes for the prediction argument(s): one
array, or a tuple in positional order where a loss has several predictions.
"""

from ._regression import huber_loss_grad as huber_loss
from ._regression import l1_loss_grad as l1_loss
from ._regression import mse_loss_grad as mse_loss
from ._regression import smooth_l1_loss_grad as smooth_l1_loss

# >>> imports by family
# <<< imports

__all__ = [
    "huber_loss",
    "l1_loss",
    "mse_loss",
    "smooth_l1_loss",
    # >>> names by family
    # <<< names
]
