"""Every chapter and the property suite again, on the other SIMD code paths of NumPy and torch.

NumPy and torch each choose, when imported, the vector code they run for the CPU at hand:
NumPy's dispatch groups ``X86_V3`` (AVX2) and ``X86_V4`` (AVX-512), torch's
``ATEN_CPU_CAPABILITY`` (``default``, ``avx2``, ``avx512``).  A float32 ``log1p`` can round one
ulp apart on one path and not on another, so an assertion that holds where the book was written
may fail elsewhere.  The build and the other tests run on the best path this machine has (on an
AVX-512 machine, NumPy's ``X86_V4`` and torch's ``avx512``); here each path below runs in
subprocesses whose environment turns both down: every executed page of the book (into an empty
execution cache of its own, so all of them run) and the whole property suite.  The Performance
page, which times lossnotes against torch and asserts nothing about a code path, is left out.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest
from conftest import ROOT, preexecute

X86 = platform.machine().lower() in ("x86_64", "amd64")

# The paths below the best one: NumPy without AVX-512 and torch's AVX2 kernels; NumPy's baseline
# (SSE) and torch's default (scalar) kernels.  NumPy's groups exist on x86-64 only; elsewhere
# torch's default kernels are the path below its best.
DISPATCHES = {
    "numpy-X86_V3-torch-avx2": {"NPY_DISABLE_CPU_FEATURES": "X86_V4",
                                "ATEN_CPU_CAPABILITY": "avx2"},
    "numpy-baseline-torch-default": {"NPY_DISABLE_CPU_FEATURES": "X86_V4 X86_V3",
                                     "ATEN_CPU_CAPABILITY": "default"},
} if X86 else {"torch-default": {"ATEN_CPU_CAPABILITY": "default"}}

REPORT = """
import json, numpy, torch
from numpy._core._multiarray_umath import __cpu_features__
print(json.dumps({"torch": torch.backends.cpu.get_cpu_capability(),
                  "numpy": sorted(k for k, on in __cpu_features__.items() if on)}))
"""


def _environment(dispatch: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **dispatch, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}


def _paths(dispatch: dict[str, str]) -> dict[str, object]:
    result = subprocess.run([sys.executable, "-c", REPORT], capture_output=True, text=True,
                            env=_environment(dispatch), check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module", params=list(DISPATCHES), ids=list(DISPATCHES))
def dispatch(request: pytest.FixtureRequest) -> dict[str, str]:
    chosen = DISPATCHES[request.param]
    # torch falls back without a word from a capability the CPU lacks (avx2 on an old CPU).
    if _paths(chosen)["torch"] != chosen["ATEN_CPU_CAPABILITY"].upper():
        pytest.skip(f"this CPU has no {chosen['ATEN_CPU_CAPABILITY']} kernels for torch")
    return chosen


def test_the_environment_turns_the_paths_down(dispatch: dict[str, str]) -> None:
    """The variables take effect: torch runs the capability asked for, and NumPy has lost the
    groups it was asked to leave out (where the machine had them)."""
    best, chosen = _paths({}), _paths(dispatch)
    assert chosen["torch"] == dispatch["ATEN_CPU_CAPABILITY"].upper()
    for group in dispatch.get("NPY_DISABLE_CPU_FEATURES", "").split():
        assert group not in chosen["numpy"], f"NumPy still dispatches {group}"
        if group in best["numpy"]:
            assert set(chosen["numpy"]) < set(best["numpy"])


def test_every_chapter_executes(dispatch: dict[str, str], tmp_path) -> None:
    result = preexecute(ROOT, options=("--cache", str(tmp_path / "cache"),
                                       "--exclude", "about/performance.md"), **dispatch)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-8000:]
    assert "executing" in result.stdout, result.stdout  # chapters ran, none was cached


def test_property_suite_passes(dispatch: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(ROOT / "tests" / "test_properties.py")],
        capture_output=True, text=True, cwd=ROOT, env=_environment(dispatch), timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-3000:]
