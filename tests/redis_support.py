"""A real `redis-server` for the tests (the Debian package; `scripts/setup --tests` installs it).

- ``RedisServer(port=…, unixsocket=…, password=…)``: start / stop / restart one server without
  persistence (``--save '' --appendonly no``), on a free TCP port or a unix socket only.
- ``redis_server``: a pytest fixture, one server per test session; tests share it by using their own key
  prefix. A test that stops its server starts its own ``RedisServer``.

Example (in a test module):
    from redis_support import redis_server  # noqa: F401  (the fixture)

    async def test_x(redis_server):
        store = RedisStore(redis_server.url, prefix="test-x")
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """One redis-server process (see the module docstring)."""

    def __init__(self, port: int | None = None, *, unixsocket: Path | None = None, password: str | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: run scripts/setup --tests (it installs the Debian package)")
        self.binary = binary
        self.unixsocket = unixsocket
        self.port = 0 if unixsocket else (port or free_port())  # --port 0: no TCP at all
        self.password = password
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        if self.unixsocket:
            return f"unix://{auth}{self.unixsocket}"
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--daemonize", "no", "--loglevel", "warning"]
        if self.unixsocket:
            args += ["--unixsocket", str(self.unixsocket), "--unixsocketperm", "700"]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not self._answers():
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}: {err}")
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not answer PING within 10 s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def _answers(self) -> bool:
        try:
            if self.unixsocket:
                s = socket.socket(socket.AF_UNIX)
                s.connect(str(self.unixsocket))
            else:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=1)
        except OSError:
            return False
        with s:
            s.settimeout(1)
            s.sendall(b"PING\r\n")
            try:
                reply = s.recv(64)
            except OSError:
                return False
            return reply.startswith((b"+PONG", b"-NOAUTH"))


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()
