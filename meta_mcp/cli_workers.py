"""`meta-mcp serve --workers N`: the parent process that binds the port once and supervises N workers.

Each worker is a fresh `meta-mcp serve` as given (spawned, not forked), with the listening socket, the
full environment handed over as at start-up (`cli_environ`) and `META_MCP_WORKER`
(`index/count/listen_fd/socket_dir`, read by `surface.http.Worker`). The parent serves nothing itself.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from meta_mcp.cli_environ import ENV_FD_VAR, handover, handover_fd, kept, serve_settings

if TYPE_CHECKING:
    from meta_mcp.settings import Settings


def serve_workers(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """The parent of `--workers N`: binds the port once, starts N workers, restarts one that dies, and stops
    them all on SIGTERM/SIGINT; the exit code (2 for unusable settings, 1 when the port cannot be bound)."""
    settings = _workers_settings(args, environ)
    if settings is None:
        return 2
    try:
        listener = socket.create_server((settings.host, settings.port), backlog=2048, reuse_port=False)
    except OSError as exc:
        print(f"meta-mcp: cannot listen on {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        return 1
    workers = _Workers(settings.workers, listener, environ)
    signal.signal(signal.SIGTERM, workers.stop)
    signal.signal(signal.SIGINT, workers.stop)
    print(f"meta-mcp: {workers.count} workers on http://{settings.host}:{listener.getsockname()[1]}/mcp",
          file=sys.stderr, flush=True)
    try:
        workers.start_all()
        workers.supervise()
    finally:
        workers.close()
    return 0


def _workers_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings | None:
    """Settings that workers can share: HTTP, and a Redis state store whose change feed keeps them in step;
    None, with the reason on stderr, otherwise."""
    settings = serve_settings(args, environ)
    if settings is None:
        return None
    if settings.transport != "http":
        print("meta-mcp: --workers is for --transport http (a stdio server has one client)", file=sys.stderr)
        return None
    store = settings.state_url or settings.redis_url or "sqlite://"
    if store.split(":", 1)[0] not in ("redis", "rediss", "unix"):
        print(f"meta-mcp: --workers {settings.workers} needs a state store the workers share, with its change feed: "
              f"Redis (--state redis://host:6379/0 or REDIS_URL), not {store.split(':', 1)[0]}://", file=sys.stderr)
        return None
    return settings


class _Workers:
    """N worker processes on one listening socket, each restarted when it exits until `stop`."""

    def __init__(self, count: int, listener: socket.socket, environ: Mapping[str, str]) -> None:
        import tempfile

        self.count, self._listener = count, listener
        listener.set_inheritable(True)
        self._sockets = tempfile.mkdtemp(prefix="meta-mcp-workers-")
        self._handover = handover((os.fsencode(k), os.fsencode(v)) for k, v in environ.items())
        self._kept = {k: v for k, v in os.environ.items() if kept(k, v) and k != ENV_FD_VAR}
        self._children: dict[int, subprocess.Popen] = {}
        self._restarted: dict[int, float] = {}
        self._stopping = False

    def start_all(self) -> None:
        for index in range(self.count):
            self._start(index)

    def _start(self, index: int) -> None:
        fd = handover_fd(self._handover)
        worker = f"{index}/{self.count}/{self._listener.fileno()}/{self._sockets}"
        env = {**self._kept, ENV_FD_VAR: str(fd), "META_MCP_WORKER": worker}
        try:
            self._children[index] = subprocess.Popen(sys.orig_argv, env=env, pass_fds=(fd, self._listener.fileno()),
                                                     preexec_fn=_die_with_parent)
        finally:
            os.close(fd)

    def stop(self, signum: int, frame: object) -> None:
        """The SIGTERM/SIGINT handler: SIGTERM to every running worker; `supervise` then returns."""
        self._stopping = True
        for child in self._children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    def supervise(self) -> None:
        """Restart workers that exit (after 1 s, or 5 s when the same one restarted within 10 s) until `stop`."""
        while not self._stopping:
            time.sleep(0.2)
            for index, child in list(self._children.items()):
                if child.poll() is not None and not self._stopping:
                    self._restart(index, child.returncode)

    def _restart(self, index: int, returncode: int) -> None:
        wait = 1.0 if time.monotonic() - self._restarted.get(index, 0.0) > 10 else 5.0
        print(f"meta-mcp: worker {index} exited with code {returncode}; restarting it in {wait:g} s",
              file=sys.stderr, flush=True)
        time.sleep(wait)
        self._restarted[index] = time.monotonic()
        if not self._stopping:
            self._start(index)

    def close(self) -> None:
        """Wait up to 15 s for the workers to exit (then kill them), close the socket, remove the socket folder."""
        deadline = time.monotonic() + 15
        for child in self._children.values():
            try:
                child.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self._listener.close()
        import shutil

        shutil.rmtree(self._sockets, ignore_errors=True)


def _die_with_parent() -> None:
    """In a worker, before exec: SIGTERM when the parent dies (Linux), so no worker outlives it."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
