"""lossnotes.examples: inputs the chapters, tests and benchmarks draw alike."""

from __future__ import annotations

import numpy as np
import pytest

from lossnotes.examples import padded_multilabel_targets


@pytest.mark.parametrize("repeats", [False, True])
def test_padded_targets_list_classes_then_minus_one(repeats: bool) -> None:
    rng = np.random.default_rng(3)
    listed = np.array([0, 2, 5, 3])
    target = padded_multilabel_targets(rng, 4, 5, repeats=repeats, listed=listed)
    assert target.shape == (4, 5) and target.dtype == np.int64
    for row, count in zip(target, listed):
        assert ((0 <= row[:count]) & (row[:count] < 5)).all()
        if count < 5:
            assert row[count] == -1
            assert ((-1 <= row[count:]) & (row[count:] < 5)).all()
        if not repeats:
            assert len(set(row[:count])) == count


def test_padded_targets_draw_their_counts() -> None:
    target = padded_multilabel_targets(np.random.default_rng(0), 200, 4)
    ends = [list(row).index(-1) if -1 in row else 4 for row in target]
    assert set(ends) == {0, 1, 2, 3, 4}
