"""tools/preexecute.py fills the execution cache with exactly what the build looks up."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import NOTEBOOK_HEADER as HEADER
from conftest import ROOT, build_book, build_command, preexecute

pytestmark = pytest.mark.book

CONFIG = """title: tiny
only_build_toc_files: true
execute:
  execute_notebooks: cache
  raise_on_error: true
  show_tb: true
parse:
  myst_enable_extensions: [colon_fence, dollarmath]
"""


def _cached_outputs(book: Path) -> dict[str, list]:
    from jupyter_cache import get_cache

    cache = get_cache(book / "_build" / ".jupyter_cache")
    outputs = {}
    for record in cache.list_cache_records():
        notebook = cache.get_cache_bundle(record.pk).nb
        outputs[Path(record.uri).name] = [
            [_run_independent(output) for output in cell.outputs]
            for cell in notebook.cells
            if cell.cell_type == "code"
        ]
    return dict(sorted(outputs.items()))


def _run_independent(output: dict) -> str:
    """An output without what changes from run to run: counts, process ids in file names."""
    kept = {k: v for k, v in output.items() if k != "execution_count"}
    return re.sub(r"ipykernel_\d+", "ipykernel_PID", json.dumps(kept, sort_keys=True))


@pytest.fixture()
def book(tmp_path: Path) -> Path:
    """Two notebooks and a plain page."""
    (tmp_path / "_config.yml").write_text(CONFIG)
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n  - file: one\n  - file: two\n  - file: plain\n"
    )
    (tmp_path / "intro.md").write_text("# Intro\n")
    (tmp_path / "one.md").write_text(
        HEADER + "# One\n\n```{code-cell} ipython3\nprint(6 * 7)\n```\n\n:::{note}\nA fence.\n:::\n"
    )
    (tmp_path / "two.md").write_text(HEADER + "# Two\n\n```{code-cell} ipython3\n1 + 1\n```\n")
    (tmp_path / "plain.md").write_text("# Plain\n\nNo code.\n")
    return tmp_path


def test_the_build_executes_nothing_after_preexecute(book: Path) -> None:
    first = preexecute(book)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "executing 2 notebook(s)" in first.stdout
    build = build_book(book)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert "Executing" not in build.stdout, build.stdout[-3000:]
    assert build.stdout.count("Using cached notebook") == 2
    assert "42" in (book / "_build" / "html" / "one.html").read_text()


def test_nothing_changed_means_nothing_executed(book: Path) -> None:
    assert preexecute(book).returncode == 0
    again = preexecute(book)
    assert again.returncode == 0
    assert again.stdout == ""
    (book / "two.md").write_text(HEADER + "# Two\n\n```{code-cell} ipython3\n2 + 2\n```\n")
    changed = preexecute(book)
    assert "executing 1 notebook(s)" in changed.stdout


def test_a_failing_chapter_fails_with_its_traceback(book: Path) -> None:
    (book / "two.md").write_text(
        HEADER + "# Two\n\n```{code-cell} ipython3\nraise RuntimeError('chapter is broken')\n```\n"
    )
    result = preexecute(book)
    assert result.returncode == 1
    assert "two.md failed" in result.stderr
    assert "RuntimeError" in result.stderr and "chapter is broken" in result.stderr
    # The chapter that works is cached all the same.
    assert "one.md in" in result.stdout


# The book's extension that holds each pending chapter until it is cached (as _config.yml loads
# it through lossnotes_sphinx).
WAITING = f"""sphinx:
  local_extensions:
    preexecuted: {ROOT / "_ext"}
"""


def test_the_build_runs_alongside_and_reads_each_chapter_once_cached(book: Path) -> None:
    (book / "_config.yml").write_text(CONFIG + WAITING)
    result = preexecute(book, *build_command(book))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)  # Sphinx colours even into a pipe
    assert "executing 2 notebook(s)" in out and "build succeeded" in out
    assert "Executing" not in out and out.count("Using cached notebook") == 2, out[-3000:]
    # The page that needs no execution is read first, then each chapter after it is cached.
    assert out.index("] plain") < out.index("] one") < out.index("] two"), out[-3000:]
    for name in ("one", "two"):
        assert out.index(f"preexecute: {name}.md in") < out.index(f"{name}.md: Using cached")
    assert "42" in (book / "_build" / "html" / "one.html").read_text()


def test_a_failing_chapter_stops_the_build_alongside(book: Path) -> None:
    (book / "_config.yml").write_text(CONFIG + WAITING)
    (book / "two.md").write_text(
        HEADER + "# Two\n\n```{code-cell} ipython3\nraise RuntimeError('chapter is broken')\n```\n"
    )
    result = preexecute(book, *build_command(book))
    assert result.returncode == 1
    assert "two.md failed" in result.stderr and "chapter is broken" in result.stderr
    assert "build succeeded" not in result.stdout
    assert not (book / "_build" / "html" / "two.html").exists()


def test_with_nothing_to_execute_it_only_builds(book: Path) -> None:
    (book / "_config.yml").write_text(CONFIG + WAITING)
    assert preexecute(book).returncode == 0
    result = preexecute(book, *build_command(book))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "preexecute" not in result.stdout and "build succeeded" in result.stdout
    assert result.stdout.count("Using cached notebook") == 2
    # Without tools/preexecute.py around it, the extension does nothing.
    (book / "one.md").write_text(HEADER + "# One\n\n```{code-cell} ipython3\nprint(7 * 6)\n```\n")
    alone = build_book(book)
    assert alone.returncode == 0, alone.stdout[-3000:] + alone.stderr[-3000:]
    assert "Executing" in alone.stdout  # Sphinx re-reads only the changed chapter


# What a chapter could notice of the kernel it runs in (nothing that changes from run to run).
PROBE = """
import os, sys, warnings
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
print(__name__, os.path.basename(os.getcwd()), sys.path[:2], matplotlib.get_backend())
print(sorted(k for k in os.environ if k.startswith(("JPY_", "MPL", "OMP"))))
print(torch.get_default_dtype(), torch.get_num_threads(), np.random.default_rng(1).random())
warnings.warn("careful")
plt.plot([1, 2, 3]);
from ipykernel.kernelapp import IPKernelApp
print(IPKernelApp.instance().parent_handle > 0)  # the kernel watches the process that started it
"""
# What must differ from kernel to kernel, as it does between fresh interpreters.
SEEDS = """
import random, numpy, torch
print(torch.initial_seed(), numpy.random.random(), random.random())
"""


def _probe_book(book: Path) -> None:
    for name in ("one", "two"):
        (book / f"{name}.md").write_text(
            HEADER + f"# {name}\n\n```{{code-cell}} ipython3\n{PROBE}```\n\n"
            f"```{{code-cell}} ipython3\n# {name}{SEEDS}```\n"  # notebooks differ: cached apart
        )


def test_a_forked_kernel_gives_what_a_fresh_one_gives(book: Path, tmp_path_factory) -> None:
    _probe_book(book)
    fresh_book = tmp_path_factory.mktemp("fresh") / book.name  # the probe prints the folder
    shutil.copytree(book, fresh_book)
    warm = preexecute(book)
    fresh = preexecute(fresh_book, LOSSNOTES_FRESH_KERNELS="1")
    assert warm.returncode == 0 and fresh.returncode == 0, warm.stderr + fresh.stderr
    warm_outputs, fresh_outputs = _cached_outputs(book), _cached_outputs(fresh_book)
    for outputs in (warm_outputs, fresh_outputs):
        probe = str(outputs["two.md"][0])
        assert "careful" in probe and "image/png" in probe
        # The seeds cell: one stream of its own in each kernel.
        assert outputs["one.md"][1] != outputs["two.md"][1]
    assert [cells[0] for cells in warm_outputs.values()] == [
        cells[0] for cells in fresh_outputs.values()
    ]


def _tools() -> None:
    import sys

    if str(ROOT / "tools") not in sys.path:
        sys.path.insert(0, str(ROOT / "tools"))


def test_settings_are_jupyter_books_own(book: Path) -> None:
    """The extensions come from Jupyter Book's configuration of the book (the tiny book names
    two; the rest is Jupyter Book's), and the cache is myst-nb's default place."""
    _tools()
    from jupyter_book.config import get_final_config
    from preexecute import read_settings

    settings = read_settings(book)
    config, _ = get_final_config(user_yaml=book / "_config.yml",
                                 cli_config={"latex_individualpages": False}, sourcedir=book)
    assert settings.extensions == config["myst_enable_extensions"] == ["colon_fence", "dollarmath"]
    assert settings.mode == "cache" and settings.cache == book / "_build" / ".jupyter_cache"
    assert settings.timeout == config["nb_execution_timeout"]


def test_kernels_listen_on_the_ports_assigned_them() -> None:
    """Each kernel gets five ports of its own, free when assigned, and listens on them: kernels
    started at once by several workers no longer pick the same free port."""
    import asyncio
    import socket

    _tools()
    import warmkernel

    blocks = warmkernel.free_port_blocks(3)
    ports = [port for block in blocks for port in block]
    assert [len(block) for block in blocks] == [5, 5, 5] and len(set(ports)) == 15
    # Outside the ephemeral range, where any outgoing connection could take one meanwhile.
    low, high = warmkernel._ephemeral_ports()
    assert not any(low <= port <= high for port in ports)
    for port in ports:  # free now
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))

    async def start_and_stop() -> dict:
        manager = warmkernel.KernelManager(kernel_name="python3")
        with warmkernel.ports(blocks[1]):
            await manager.start_kernel()
        try:
            client = manager.client()
            client.start_channels()
            await client.wait_for_ready(timeout=60)
            client.stop_channels()
            return manager.get_connection_info()
        finally:
            await manager.shutdown_kernel(now=True)

    info = asyncio.run(start_and_stop())
    assert tuple(info[channel] for channel in warmkernel.CHANNELS) == blocks[1]
