"""lossnotes.measure: the timing and memory helpers of the chapters and the benchmarks."""

from __future__ import annotations

import numpy as np

from lossnotes.measure import best_of, one_blas_thread, peak_mib


def test_best_of_calls_each_function_and_keeps_its_best() -> None:
    calls = {"a": 0, "b": 0}

    def counting(name: str):
        def call() -> None:
            calls[name] += 1
            np.ones(1000).sum()
        return call

    times = best_of([counting("a"), counting("b")], repeat=3, number=2)
    assert calls == {"a": 1 + 3 * 2, "b": 1 + 3 * 2}  # a warm-up call, then the rounds
    assert len(times) == 2 and all(0 <= t < 1 for t in times)


def test_peak_mib_sees_an_allocation() -> None:
    assert 7.9 < peak_mib(lambda: np.ones(2**20)) < 9  # 8 MiB of float64
    assert peak_mib(lambda: None) < 0.1


def test_numpys_blas_can_be_put_on_one_thread() -> None:
    assert one_blas_thread()
