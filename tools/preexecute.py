"""Execute the book's changed notebooks in parallel, into the cache `jupyter-book build` reads.

Jupyter Book 1 executes notebooks one after another, and each chapter's time is mostly its
kernel importing torch, so on a machine with several cores most of them wait.  With
``execute_notebooks: cache``, myst-nb first looks a notebook up in the jupyter-cache database
(``_build/.jupyter_cache``) and executes it only when it is not there.  This script fills that
cache first, running the notebooks that are not cached on all cores; the build that follows
finds every chapter and executes nothing.  Each kernel is forked from a process that has
already imported torch, NumPy and matplotlib (see warmkernel.py), so that the import, which is
most of a chapter's time, is paid once rather than once per chapter.

The cached notebook is exactly the one myst-nb looks up, because it is produced the way myst-nb
produces it: each MyST chapter is read by myst-nb's own reader with the book's MyST extensions,
executed by the jupyter-cache function myst-nb calls (``single_nb_execution``, in the chapter's
folder, with the book's timeout), and stored with ``cache_notebook_bundle``; the lookup key is
jupyter-cache's hash of the code cells and the kernelspec.  (Jupyter-cache's own
``local-parallel`` executor does the same, but reads MyST files without the book's extensions.)

Usage: ``python tools/preexecute.py [BOOK] [--cache DIR] [--exclude PATTERN ...]
[-- BUILD COMMAND]`` (default: the current directory).  ``--cache`` executes into another
cache than the book's (an empty one executes every chapter: tests/test_dispatch.py runs them so
on other SIMD code paths), ``--exclude`` leaves out pages as the book's own
``exclude_patterns`` do.  When nothing changed it only hashes the chapters.  If a chapter
raises, its traceback is printed and the exit status is 1, after the other chapters have run.

With a build command (``make book`` passes ``jupyter-book build``), the build is started first
and runs alongside the execution of the pending chapters: Sphinx starts up and reads the other
pages meanwhile, and _ext/preexecuted.py holds the reading of each pending chapter until this
script says, through a pipe, that it is cached.  The exit status is then the build's, or 1 if a
chapter failed (the build is stopped).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.util
import io
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

import nbformat
import warmkernel
import yaml
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from myst_nb.core.read import is_myst_markdown_notebook, read_myst_markdown_notebook
from myst_parser.config.main import MdParserConfig


def _pipe_variable() -> str:
    """The variable that names the pipe, from the extension whose protocol it is (loaded from
    its file: the kernels forked from here must not find _ext/ on their path)."""
    path = Path(__file__).resolve().parent.parent / "_ext" / "preexecuted.py"
    spec = importlib.util.spec_from_file_location("_lossnotes_preexecuted", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ENVIRONMENT


PIPE_VARIABLE = _pipe_variable()

# What the chapters import that takes long to import: imported once, before the kernels fork
# (warmkernel.preload adds the kernel's own modules).  torch.autograd.grad imports symbolic_shapes,
# and so sympy, only on its first call, which cost each chapter 0.4 s.
PRELOAD = (
    "numpy",
    "matplotlib.pyplot",
    "torch",
    "torch.fx.experimental.symbolic_shapes",
    "IPython.display",
    "myst_nb",
    "lossnotes.torchcheck",
)



@dataclass(frozen=True)
class Settings:
    mode: str
    cache: Path
    timeout: int | None
    allow_errors: bool
    exclude: list[str]
    extensions: list[str]


def read_settings(book: Path) -> Settings:
    """The execution settings the build will use: the Sphinx configuration Jupyter Book itself
    makes of ``book/_config.yml`` and its own defaults (``get_final_config``)."""
    from jupyter_book.config import get_final_config

    # The CLI's one option without a default there; `jupyter-book build` passes False too.
    config, _ = get_final_config(
        user_yaml=book / "_config.yml",
        cli_config={"latex_individualpages": False},
        sourcedir=book,
    )
    # An empty cache path is myst-nb's "next to the output": <_build/html>/../.jupyter_cache.
    cache = config.get("nb_execution_cache_path") or "_build/.jupyter_cache"
    return Settings(
        mode=str(config["nb_execution_mode"]),
        cache=book / cache,
        timeout=config["nb_execution_timeout"],
        allow_errors=bool(config["nb_execution_allow_errors"]),
        exclude=list(config.get("nb_execution_excludepatterns") or []),
        extensions=list(config.get("myst_enable_extensions") or []),
    )


def toc_files(book: Path) -> list[Path]:
    """The source file of every document in ``_toc.yml``, in order."""
    toc = yaml.safe_load((book / "_toc.yml").read_text())
    names: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("root", "file"):
                if isinstance(node.get(key), str):
                    names.append(node[key])
            for value in node.values():
                if isinstance(value, (dict, list)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    files = []
    for name in names:
        candidates = [book / name] + [book / f"{name}{suffix}" for suffix in (".md", ".ipynb")]
        files += [path for path in candidates if path.is_file()][:1]
    return files


def read_notebook(path: Path, md_config: MdParserConfig) -> nbformat.NotebookNode | None:
    """The notebook myst-nb makes of ``path``, or None for a page that is not a notebook."""
    if path.suffix == ".ipynb":
        return nbformat.reads(path.read_text(encoding="utf8"), as_version=nbformat.NO_CONVERT)
    text = path.read_text(encoding="utf8")
    if not is_myst_markdown_notebook(text):
        return None
    return read_myst_markdown_notebook(text, config=md_config, add_source_map=True, path=str(path))


def execute(
    path: Path, notebook: nbformat.NotebookNode, settings: Settings, ports: tuple[int, ...]
) -> tuple[Any, ...]:
    """Run in a worker process: execute ``notebook`` as myst-nb would, in its folder, in a
    kernel forked from this process (see warmkernel.py) unless LOSSNOTES_FRESH_KERNELS is set,
    listening on the ``ports`` the parent assigned it."""
    from jupyter_cache.executors.utils import single_nb_execution

    fresh = bool(os.environ.get("LOSSNOTES_FRESH_KERNELS"))
    with contextlib.nullcontext() if fresh else warmkernel.seed(), warmkernel.ports(ports):
        result = single_nb_execution(
            notebook,
            cwd=str(path.parent),
            timeout=settings.timeout,
            allow_errors=settings.allow_errors,
            meta_override=True,
            kernel_manager_class=warmkernel.KernelManager,
        )
    return result.nb, result.time, result.exc_string if result.err is not None else None


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv, command = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    else:
        command = []
    options = argparse.ArgumentParser(prog="preexecute")
    options.add_argument("book", nargs="?", default=".", type=Path)
    options.add_argument("--cache", type=Path)
    options.add_argument("--exclude", action="append", default=[])
    arguments = options.parse_args(argv)
    book = arguments.book.resolve()
    # The build starts first: it takes longer to start up than this script takes to hash the
    # chapters, and waits for the list of pending ones only once it is ready to read.
    build = Build(command) if command else None
    try:
        settings = read_settings(book)
        settings = replace(
            settings,
            cache=(arguments.cache or settings.cache).resolve(),
            exclude=settings.exclude + arguments.exclude,
        )
        pending = pending_notebooks(book, settings) if settings.mode == "cache" else []
        if build is not None:
            build.tell({"pending": [str(path) for path, _ in pending]})
        failed = execute_all(book, pending, settings, build) if pending else []
    except BaseException:
        if build is not None:
            build.stop()
        raise
    if failed:
        print(f"preexecute: failed: {', '.join(map(str, failed))}", file=sys.stderr)
        if build is not None:
            build.stop()
        return 1
    return build.wait() if build is not None else 0


def draw_a_figure() -> None:
    """Draw and save a figure with mathematical labels, as most chapters do: matplotlib builds
    its mathtext parser (a tenth of a second) on first use and keeps it for the process.

    The figure is drawn on an Agg canvas of its own, without pyplot, so that the backend the
    kernels' pyplot chooses (ipykernel's inline backend) is not loaded before they start."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4, 3), constrained_layout=True)
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], label="$|x - y|$")
    axes.set(xlabel=r"$\partial \ell / \partial x$", title="loss")
    axes.legend()
    figure.savefig(io.BytesIO(), format="png")


def pending_notebooks(book: Path, settings: Settings) -> list[tuple[Path, nbformat.NotebookNode]]:
    """The notebooks of the book that are not in the cache, longest first (by the last run of
    the same file, so that no long chapter starts last), otherwise in the order of the toc."""
    md_config = MdParserConfig(enable_extensions=set(settings.extensions))
    cache = get_cache(settings.cache)
    last_seconds = {
        record.uri: record.data.get("execution_seconds") or 0.0
        for record in cache.list_cache_records()
    }
    pending: list[tuple[Path, nbformat.NotebookNode]] = []
    for path in toc_files(book):
        if any(PurePosixPath(path.as_posix()).match(p) for p in settings.exclude):
            continue
        notebook = read_notebook(path, md_config)
        if notebook is None:
            continue
        try:
            cache.match_cache_notebook(notebook)
        except KeyError:
            pending.append((path, notebook))
    pending.sort(key=lambda item: -last_seconds.get(str(item[0]), 0.0))
    return pending


class Build:
    """The build command, started at once and told through a pipe which chapters are pending
    and when each is cached (the protocol of _ext/preexecuted.py, whose variable names the
    pipe)."""

    ENVIRONMENT = PIPE_VARIABLE

    def __init__(self, command: list[str]) -> None:
        read, self.descriptor = os.pipe()
        self.pipe = os.fdopen(self.descriptor, "w", encoding="utf-8")
        self.process = subprocess.Popen(
            command, pass_fds=(read,), env={**os.environ, self.ENVIRONMENT: str(read)}
        )
        os.close(read)

    def tell(self, message: dict[str, Any]) -> None:
        try:
            self.pipe.write(json.dumps(message) + "\n")
            self.pipe.flush()
        except BrokenPipeError:  # the build has stopped; wait() reports how
            pass

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()

    def wait(self) -> int:
        with contextlib.suppress(BrokenPipeError):
            self.pipe.close()
        return self.process.wait()


def execute_all(
    book: Path,
    pending: list[tuple[Path, nbformat.NotebookNode]],
    settings: Settings,
    build: Build | None,
) -> list[Path]:
    """Execute ``pending`` in parallel into the cache; return the chapters that failed."""
    cache = get_cache(settings.cache)
    if not os.environ.get("LOSSNOTES_FRESH_KERNELS"):
        # Once here, rather than in every chapter's kernel: the workers and their kernels fork.
        warmkernel.preload(PRELOAD)
        draw_a_figure()
        warmkernel.freeze()
    # Two per core: a kernel spends part of its life waiting for messages (start-up, shutdown).
    workers = min(len(pending), 2 * (os.cpu_count() or 1))
    print(f"preexecute: executing {len(pending)} notebook(s) on {workers} processes", flush=True)
    start = time.perf_counter()
    failed = []
    # The workers, and the kernels they fork, must not hold the build's pipe open.
    close_pipe = None if build is None else functools.partial(os.close, build.descriptor)
    # Ports for each kernel, assigned here: kernels that picked their own at once could collide.
    blocks = warmkernel.free_port_blocks(len(pending))
    with ProcessPoolExecutor(workers, initializer=close_pipe) as pool:
        futures = {
            pool.submit(execute, path, nb, settings, block): path
            for (path, nb), block in zip(pending, blocks)
        }
        for future in as_completed(futures):
            path = futures[future]
            name = path.relative_to(book)
            executed, seconds, traceback = future.result()
            if traceback is None:
                bundle = CacheBundleIn(executed, str(path), data={"execution_seconds": seconds})
                cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)
                print(f"preexecute: {name} in {seconds:.1f} s", flush=True)
            else:
                failed.append(name)
                print(f"preexecute: {name} failed:\n{traceback}", file=sys.stderr, flush=True)
            if build is not None:
                build.tell({"path": str(path), "ok": traceback is None})
    print(f"preexecute: done in {time.perf_counter() - start:.1f} s", flush=True)
    return failed


if __name__ == "__main__":
    status = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # Without the interpreter's clean-up, which takes about 0.8 s once torch is imported: the
    # cache is written, the workers have exited, and nothing else is left to close.
    os._exit(status)
