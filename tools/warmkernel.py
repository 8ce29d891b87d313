"""Jupyter kernels forked from a process that has already imported the heavy modules.

Every chapter of the book runs in a kernel of its own, and a fresh kernel spends most of a
chapter's time importing torch, NumPy and matplotlib.  A kernel forked from a process that has
imported them starts with them in ``sys.modules``, so that each chapter pays only for its own
computation; the chapter still gets a kernel of its own, with its own state.

The kernel is otherwise the one ``python -m ipykernel_launcher -f <connection file>`` starts:
the same ``IPKernelApp``, started in the chapter's folder with the environment jupyter_client
prepared, and ``MPLBACKEND`` set before matplotlib loads as ipykernel sets it at start-up.

Use, in a process that executes one notebook at a time::

    warmkernel.preload(["numpy", "torch", "matplotlib.pyplot"])
    warmkernel.freeze()
    with warmkernel.seed():
        single_nb_execution(notebook, ..., kernel_manager_class=warmkernel.KernelManager)

The seed is forked before the notebook client starts its event loop, and waits on a pipe for
the command and environment it is to run the kernel with.

Ports: jupyter_client picks each of a kernel's five ports by binding a socket to a free port and
releasing it; the kernel binds it later.  Kernels started at once by several processes could so
be handed the same port, and the slower one died as it started.  Here the process that starts
the workers assigns each kernel ports of its own (:func:`free_port_blocks`), and
:class:`KernelManager` uses them (``with warmkernel.ports(block):``), fresh kernels included.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import random
import signal
import socket
import sys
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner

# ipykernel sets this at start-up unless it is set; matplotlib reads it when it is imported.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def preload(modules: Iterable[str]) -> None:
    """Import ``modules`` (and the kernel's own machinery) into this process, for forking."""
    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    importlib.import_module("ipykernel.kernelapp")
    # What a kernel imports only as it starts: the kernel class, and its debugger (debugpy,
    # 0.2 s).  debugpy warns on import that
    # "frozen modules are being used" unless this is set; jupyter_client launches kernels
    # without -Xfrozen_modules=off as well, so the warning says nothing about the book.
    # The variable is set for the import only: the kernels get the environment as it was.
    unset = "PYDEVD_DISABLE_FILE_VALIDATION" not in os.environ
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    try:
        importlib.import_module("ipykernel.ipkernel")
        importlib.import_module("ipykernel.debugger")
    finally:
        if unset:
            del os.environ["PYDEVD_DISABLE_FILE_VALIDATION"]
    for module in modules:
        importlib.import_module(module)


def freeze() -> None:
    """Call once everything is loaded, before forking: it moves the objects that exist out of
    the collector's reach.  Otherwise each forked process's first collections write to every
    object's header, and so copy most of the parent's memory."""
    gc.collect()
    gc.freeze()


class _Seed:
    """A forked child that waits for the command of the kernel it is to become."""

    def __init__(self) -> None:
        read, self.write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child
            os.close(self.write)
            os.setsid()  # a session of its own, as jupyter_client starts a kernel
            with os.fdopen(read) as pipe:
                request = pipe.read()
            if not request:  # the notebook never asked for its kernel
                os._exit(0)
            _become_kernel(json.loads(request))
        os.close(read)

    def launch(self, cmd: list[str], env: dict[str, str], cwd: str) -> None:
        with os.fdopen(self.write, "w") as pipe:
            pipe.write(json.dumps({"cmd": cmd, "env": env, "cwd": cwd}))
        self.write = -1

    def discard(self) -> None:
        if self.write >= 0:  # never launched: closing the pipe makes the child exit
            os.close(self.write)
            self.write = -1
            os.waitpid(self.pid, 0)


def _become_kernel(request: dict[str, Any]) -> None:
    """In the seed: run the kernel ``python -m ipykernel_launcher <args>`` would run."""
    import asyncio

    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with open(os.devnull) as devnull:  # jupyter_client gives a kernel a closed stdin
            os.dup2(devnull.fileno(), 0)
        _reseed()
        asyncio.set_event_loop(None)  # the parent's loop, if any, is not the kernel's
        args = request["cmd"][request["cmd"].index("ipykernel_launcher") + 1 :]
        # As ipykernel_launcher: no script folder on sys.path; IPython puts '' (the cwd) first.
        sys.path[:] = [p for p in sys.path if p and p != os.path.dirname(__file__)]
        sys.argv = ["ipykernel_launcher", *args]
        from ipykernel.kernelapp import IPKernelApp

        # Two traits take their defaults from the environment when ipykernel is imported,
        # which here was before the kernel's environment existed.
        app = IPKernelApp.instance(
            parent_handle=int(os.environ.get("JPY_PARENT_PID") or 0),
            interrupt=int(os.environ.get("JPY_INTERRUPT_EVENT") or 0),
        )
        app.initialize(args)
        app.start()
    except SystemExit as exit:
        os._exit(exit.code if isinstance(exit.code, int) else 1)
    except BaseException:  # report, then leave without running the parent's clean-up
        import traceback

        traceback.print_exc()
        os._exit(1)
    os._exit(0)


def _reseed() -> None:
    """Seed from the OS what an interpreter seeds from the OS when it imports it, so that
    forked kernels do not share random streams."""
    import random

    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    if "torch" in sys.modules:
        sys.modules["torch"].seed()


class _ForkedProcess:
    """What LocalProvisioner needs of a Popen, for a child we forked."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


_seed: _Seed | None = None


@contextlib.contextmanager
def seed() -> Iterator[None]:
    """Fork the next kernel now, outside any event loop; the notebook client started inside
    the ``with`` block gets it."""
    global _seed
    _seed = _Seed()
    try:
        yield
    finally:
        _seed.discard()
        _seed = None


class Provisioner(LocalProvisioner):
    """LocalProvisioner, but the kernel process is the seed rather than a new interpreter."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        if _seed is None or "ipykernel_launcher" not in cmd:
            return await super().launch_kernel(cmd, **kwargs)
        env = dict(kwargs.get("env", os.environ))
        env["JPY_PARENT_PID"] = str(os.getpid())  # as jupyter_client's launch_kernel sets it
        _seed.launch(cmd, env, str(kwargs.get("cwd", os.getcwd())))
        self.process = _ForkedProcess(_seed.pid)
        self.pid = self.pgid = _seed.pid
        self.cwd = kwargs.get("cwd")
        return self.connection_info


# The channels of a kernel's connection file, one port each.
CHANNELS = ("shell_port", "iopub_port", "stdin_port", "hb_port", "control_port")

_ports: tuple[int, ...] | None = None


def _ephemeral_ports() -> tuple[int, int]:
    """The range the kernel hands out to outgoing connections (Linux; its default elsewhere)."""
    try:
        low, high = open("/proc/sys/net/ipv4/ip_local_port_range").read().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port_blocks(count: int, host: str = "127.0.0.1") -> list[tuple[int, ...]]:
    """``count`` disjoint blocks of ports, one port per channel each, free on ``host`` now.

    Consecutive ports from a random start, outside the operating system's ephemeral range: a
    port from that range, free when assigned, could be taken by any outgoing connection (the
    notebook clients' own among them) before the kernel binds it.  Two builds on one machine
    are unlikely to start from the same place; a taken port is skipped.
    """
    low, high = _ephemeral_ports()
    # Unprivileged ports below the ephemeral range, or above it if it starts low.
    first, last = (10000, low - 1) if low > 20000 else (high + 1, 65535)
    found: list[int] = []
    port = random.randrange(first, last)
    while len(found) < count * len(CHANNELS):
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
                found.append(port)
            except OSError:
                pass
        port = port + 1 if port < last else first
    size = len(CHANNELS)
    return [tuple(found[i : i + size]) for i in range(0, len(found), size)]


@contextlib.contextmanager
def ports(block: tuple[int, ...]) -> Iterator[None]:
    """The kernel started inside the ``with`` block listens on ``block``."""
    global _ports
    _ports = block
    try:
        yield
    finally:
        _ports = None


class KernelManager(AsyncKernelManager):
    """AsyncKernelManager with the :class:`Provisioner` and the assigned :func:`ports`; pass
    as ``kernel_manager_class``."""

    async def _async_pre_start_kernel(self, **kw: Any) -> Any:
        if _ports is not None:  # jupyter_client then writes them, and picks none
            self.cache_ports = False
            for channel, port in zip(CHANNELS, _ports, strict=True):
                setattr(self, channel, port)
        self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
        if self.provisioner is None:
            self.provisioner = Provisioner(
                kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self
            )
        return await super()._async_pre_start_kernel(**kw)
