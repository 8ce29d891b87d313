"""Time and memory of the package's functions, as chapters and benchmarks
measure them.

NumPy and the standard library only.  Times are the CPU time of the calling
thread (``time.thread_time``), so that waiting for the processor while other
processes run does not count; NumPy's BLAS is put on one thread first, as
torch is, so that a comparison is of implementations, not of thread pools.
"""

from __future__ import annotations

import ctypes
import glob
import os
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["best_of", "one_blas_thread", "peak_mib"]

# The names OpenBLAS's thread setting has in NumPy's wheels, newest first.
_SET_THREADS = (
    "scipy_openblas_set_num_threads64_",
    "openblas_set_num_threads",
)


def one_blas_thread() -> bool:
    """Put the OpenBLAS of NumPy's wheel on one thread; False if none is.

    Examples
    --------
    >>> one_blas_thread()
    True
    """
    folder = os.path.join(os.path.dirname(np.__file__), os.pardir)
    libraries = os.path.join(folder, "numpy.libs", "*openblas*")
    for library in glob.glob(libraries):
        handle = ctypes.CDLL(library)
        for name in _SET_THREADS:
            if hasattr(handle, name):
                getattr(handle, name)(1)
                return True
    return False


def best_of(
    functions: Sequence[Callable[[], Any]], repeat: int = 5, number: int = 1
) -> list[float]:
    """The best time in seconds of each function: ``repeat`` rounds of
    ``number`` calls.

    Each function is called once first (first calls allocate and initialise
    lazily); every other round runs them in reverse order, so that a function
    reading what the one before it just brought into the cache runs first as
    often as second.
    """
    for function in functions:
        function()
    best = [np.inf] * len(functions)
    for round_ in range(repeat):
        order = range(len(functions))
        for index in order if round_ % 2 == 0 else reversed(order):
            start = time.thread_time()
            for _ in range(number):
                functions[index]()
            seconds = (time.thread_time() - start) / number
            best[index] = min(best[index], seconds)
    return best


def peak_mib(function: Callable[[], Any]) -> float:
    """The peak memory Python and NumPy allocate during one call, in MiB.

    Examples
    --------
    >>> peak_mib(lambda: np.ones(2**20)) >= 8.0
    True
    """
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
