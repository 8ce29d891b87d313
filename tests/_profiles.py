"""Hypothesis profiles for the property tests, chosen by ``LOSSNOTES_HYPOTHESIS``.

- ``default``: few examples, drawn deterministically, so that ``make test`` is quick and a failure
  reproduces on the next run.
- ``thorough``: many random examples, for a release check or after touching a loss, e.g.
  ``LOSSNOTES_HYPOTHESIS=thorough .venv/bin/python -m pytest tests/test_properties.py``.

Imported by each module that uses hypothesis; registering twice is harmless.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Drawing arrays of thousands of elements is deliberate, not a mistake of the strategy.
_SLOW_DATA = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]

settings.register_profile(
    "default",
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=_SLOW_DATA,
    print_blob=True,
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=_SLOW_DATA,
    print_blob=True,
)

PROFILE = os.environ.get("LOSSNOTES_HYPOTHESIS", "default")
settings.load_profile(PROFILE)
