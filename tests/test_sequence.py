"""lossnotes._sequence against torch, finite differences and hand-worked values."""

from __future__ import annotations

# Imports for everybody's blocks (shared file: add what you need here, one line each).

# >>> sequence-ctc: tests
# <<< sequence-ctc
# >>> sequence-vocab: tests
# <<< sequence-vocab
