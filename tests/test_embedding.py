"""lossnotes._embedding against torch, finite differences and hand-worked values."""

from __future__ import annotations

# Imports for everybody's blocks (shared file: add what you need here, one line each).

# >>> embedding-pairs: tests
# <<< embedding-pairs
# >>> embedding-triplets: tests
# <<< embedding-triplets
