"""lossnotes._classification against torch, finite differences and hand-worked values."""

from __future__ import annotations

# Imports for everybody's blocks (shared file: add what you need here, one line each).

# >>> classification-ce: tests
# <<< classification-ce
# >>> classification-bce: tests
# <<< classification-bce
