"""Ranking and embedding losses, and the distances they are built on.

Margin ranking, hinge embedding, cosine embedding and the two triplet losses.
"""

from __future__ import annotations

# >>> embedding-pairs: imports
# <<< embedding-pairs
# >>> embedding-triplets: imports
# <<< embedding-triplets

__all__ = [
    # >>> embedding-pairs: names
    # <<< embedding-pairs
    # >>> embedding-triplets: names
    # <<< embedding-triplets
]


# >>> embedding-pairs: code
# <<< embedding-pairs
# >>> embedding-triplets: code
# <<< embedding-triplets
