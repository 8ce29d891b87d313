"""Read each chapter as soon as tools/preexecute.py has executed it, while the others still run.

``make book`` runs ``tools/preexecute.py . -- jupyter-book build ...``: the script starts the
build at once and executes the chapters that are not in the cache meanwhile.  It tells the
build about them through a pipe whose descriptor is in ``LOSSNOTES_PREEXECUTE_FD``: first a
line naming the pending chapters in the order they are executed, then a line for each as it
is cached (or fails).  This extension moves the pending chapters to the end of Sphinx's reading
order, in that order, and holds the reading of each until its line arrives, so that Sphinx
starts, and reads the other pages, while the chapters execute, and then finds every chapter in
the cache and executes nothing itself.

Without the variable (a plain ``jupyter-book build``) the extension does nothing.
"""

from __future__ import annotations

import json
import os
from typing import IO, Any

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.errors import ExtensionError

ENVIRONMENT = "LOSSNOTES_PREEXECUTE_FD"


class _Announcements:
    """What tools/preexecute.py says on the pipe: the pending chapters, then each outcome."""

    def __init__(self, pipe: IO[str]) -> None:
        self.pipe = pipe
        first = pipe.readline()
        if not first:
            raise ExtensionError(f"{ENVIRONMENT}: the pipe closed before naming the chapters")
        self.pending = [os.path.realpath(path) for path in json.loads(first)["pending"]]
        self.outcome: dict[str, bool] = {}

    def wait(self, path: str) -> bool:
        """Block until ``path`` is cached (True) or has failed (False)."""
        while path not in self.outcome:
            line = self.pipe.readline()
            if not line:
                raise ExtensionError(
                    f"pre-execution ended before {path} was executed (see its output above)"
                )
            message = json.loads(line)
            self.outcome[os.path.realpath(message["path"])] = bool(message["ok"])
        return self.outcome[path]


def _announcements(app: Sphinx) -> _Announcements | None:
    return getattr(app, "_lossnotes_preexecuted", None)


def _open(app: Sphinx) -> None:
    descriptor = os.environ.get(ENVIRONMENT)
    if not descriptor:
        return
    if app.parallel > 1:
        raise ExtensionError(f"{ENVIRONMENT} is set: the build must read serially (no -j)")
    app._lossnotes_preexecuted = _Announcements(os.fdopen(int(descriptor), encoding="utf-8"))


def _docname(env: BuildEnvironment, path: str) -> str | None:
    return env.path2doc(os.path.relpath(path, os.path.realpath(env.srcdir)))


def _read_pending_last(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    """Read the pages that need no execution first, then the chapters in execution order."""
    announcements = _announcements(app)
    if announcements is None:
        return
    pending = [_docname(env, path) for path in announcements.pending]
    last = [name for name in pending if name in docnames]
    docnames[:] = [name for name in docnames if name not in last] + last


def _wait_for_chapter(app: Sphinx, docname: str, source: list[str]) -> None:
    announcements = _announcements(app)
    if announcements is None:
        return
    path = os.path.realpath(app.env.doc2path(docname))
    if path in announcements.pending and not announcements.wait(path):
        raise ExtensionError(f"{docname}: its execution failed (the traceback is above)")


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", _open)
    app.connect("env-before-read-docs", _read_pending_last)
    app.connect("source-read", _wait_for_chapter)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
