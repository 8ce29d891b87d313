"""lossnotes: NumPy reference implementations of PyTorch's loss functions.

Each ``lossnotes.<name>`` mirrors ``torch.nn.functional.<name>`` (same
parameters, order and defaults) and ``lossnotes.grad.<name>`` gives its
gradient.  The package needs only NumPy; torch is used by the notes and tests
that check it, never here.  The one loss torch has only as a module,
``AdaptiveLogSoftmaxWithLoss``, is ``adaptive_log_softmax_with_loss`` here,
with the module's weights as arguments.
"""

from . import grad
from ._adaptive_softmax import (
    adaptive_log_softmax_log_prob,
    adaptive_log_softmax_predict,
    adaptive_log_softmax_with_loss,
)
from ._classification import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    log_softmax,
    logsigmoid,
    nll_loss,
    sigmoid,
    softmax,
)
from ._ctc import ctc_loss
from ._embedding import (
    cosine_embedding_loss,
    cosine_similarity,
    hinge_embedding_loss,
    margin_ranking_loss,
    pairwise_distance,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
)
from ._likelihood import gaussian_nll_loss, kl_div, poisson_nll_loss
from ._linear_cross_entropy import (
    LinearCrossEntropyOptions,
    linear_cross_entropy,
)
from ._margin import (
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    soft_margin_loss,
)
from ._regression import huber_loss, l1_loss, mse_loss, smooth_l1_loss

__version__ = "0.1.0"

# The building blocks that are not losses (no gradient in lossnotes.grad):
# every other name here is a loss.
HELPERS = (
    "LinearCrossEntropyOptions",
    "adaptive_log_softmax_log_prob",
    "adaptive_log_softmax_predict",
    "cosine_similarity",
    "log_softmax",
    "logsigmoid",
    "pairwise_distance",
    "sigmoid",
    "softmax",
)

__all__ = [
    "grad",
    # Regression losses
    "huber_loss",
    "l1_loss",
    "mse_loss",
    "smooth_l1_loss",
    # Classification losses, and the stable functions they are built on
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "log_softmax",
    "logsigmoid",
    "nll_loss",
    "sigmoid",
    "softmax",
    # Divergences and likelihoods
    "gaussian_nll_loss",
    "kl_div",
    "poisson_nll_loss",
    # Ranking and embedding losses, and their distances
    "cosine_embedding_loss",
    "cosine_similarity",
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "pairwise_distance",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
    # Margin classification losses
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "soft_margin_loss",
    # Sequence and large-vocabulary losses
    "LinearCrossEntropyOptions",
    "adaptive_log_softmax_log_prob",
    "adaptive_log_softmax_predict",
    "adaptive_log_softmax_with_loss",
    "ctc_loss",
    "linear_cross_entropy",
]
