"""Margin classification losses.

Soft margin, multi-label soft margin, multi-class margin and multi-label
margin.
"""

from __future__ import annotations

# >>> margin-multi: imports
# <<< margin-multi
# >>> margin-soft: imports
# <<< margin-soft

__all__ = [
    # >>> margin-multi: names
    # <<< margin-multi
    # >>> margin-soft: names
    # <<< margin-soft
]


# >>> margin-multi: code
# <<< margin-multi
# >>> margin-soft: code
# <<< margin-soft
