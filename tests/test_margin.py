"""lossnotes._margin against torch, finite differences and hand-worked values."""

from __future__ import annotations

# Imports for everybody's blocks (shared file: add what you need here, one line each).

# >>> margin-multi: tests
# <<< margin-multi
# >>> margin-soft: tests
# <<< margin-soft
