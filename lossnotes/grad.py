"""Gradients of the losses with respect to their prediction arguments.

``lossnotes.grad.<name>`` takes the arguments of ``lossnotes.<name>`` plus
``grad_output`` (the upstream gradient, shaped like the loss; default ones) and
returns what ``torch.autograd`` computes for the prediction argument(s): one
array, or a tuple in positional order where a loss has several predictions.
For ``ctc_loss`` that is not the textbook derivative (see its docstring).

``wrt`` chooses other arguments torch differentiates (a target, a weight, a
variance): one name gives one array, a sequence of names a tuple in that
order; ``None`` (the default) the predictions.  An argument torch refuses to
differentiate (integer class indices, a target its kernel has no derivative
for) or one not given is refused with a ``ValueError`` that says why.
"""

# ruff: noqa: E501  (an import "as" its loss's name can be longer than a line)
from ._adaptive_softmax import (
    adaptive_log_softmax_with_loss_grad as adaptive_log_softmax_with_loss,
)
from ._classification import (
    binary_cross_entropy_grad as binary_cross_entropy,
)
from ._classification import (
    binary_cross_entropy_with_logits_grad as binary_cross_entropy_with_logits,
)
from ._classification import cross_entropy_grad as cross_entropy
from ._classification import nll_loss_grad as nll_loss
from ._ctc import ctc_loss_grad as ctc_loss
from ._embedding import cosine_embedding_loss_grad as cosine_embedding_loss
from ._embedding import hinge_embedding_loss_grad as hinge_embedding_loss
from ._embedding import margin_ranking_loss_grad as margin_ranking_loss
from ._embedding import triplet_margin_loss_grad as triplet_margin_loss
from ._embedding import (
    triplet_margin_with_distance_loss_grad as triplet_margin_with_distance_loss,
)
from ._likelihood import gaussian_nll_loss_grad as gaussian_nll_loss
from ._likelihood import kl_div_grad as kl_div
from ._likelihood import poisson_nll_loss_grad as poisson_nll_loss
from ._linear_cross_entropy import (
    linear_cross_entropy_grad as linear_cross_entropy,
)
from ._margin import multi_margin_loss_grad as multi_margin_loss
from ._margin import multilabel_margin_loss_grad as multilabel_margin_loss
from ._margin import (
    multilabel_soft_margin_loss_grad as multilabel_soft_margin_loss,
)
from ._margin import soft_margin_loss_grad as soft_margin_loss
from ._regression import huber_loss_grad as huber_loss
from ._regression import l1_loss_grad as l1_loss
from ._regression import mse_loss_grad as mse_loss
from ._regression import smooth_l1_loss_grad as smooth_l1_loss

__all__ = [
    # Regression losses
    "huber_loss",
    "l1_loss",
    "mse_loss",
    "smooth_l1_loss",
    # Classification losses
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "nll_loss",
    # Divergences and likelihoods
    "gaussian_nll_loss",
    "kl_div",
    "poisson_nll_loss",
    # Ranking and embedding losses
    "cosine_embedding_loss",
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
    # Margin classification losses
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "soft_margin_loss",
    # Sequence and large-vocabulary losses
    "adaptive_log_softmax_with_loss",
    "ctc_loss",
    "linear_cross_entropy",
]
