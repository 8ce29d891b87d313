"""Sequence and large-vocabulary losses.

CTC, adaptive log-softmax and linear cross entropy.
"""

from __future__ import annotations

# >>> sequence-ctc: imports
# <<< sequence-ctc
# >>> sequence-vocab: imports
# <<< sequence-vocab

__all__ = [
    # >>> sequence-ctc: names
    # <<< sequence-ctc
    # >>> sequence-vocab: names
    # <<< sequence-vocab
]


# >>> sequence-ctc: code
# <<< sequence-ctc
# >>> sequence-vocab: code
# <<< sequence-vocab
