"""Is a Docker engine reachable? (`docker info` exits 0 within a few seconds.)

Having the `docker` client is not enough: image-only catalog entries need an engine. The answer is
cached for `TTL` seconds per `docker` executable found on PATH, so changing PATH (or installing
Docker) is noticed at once, and a quick burst of calls runs `docker info` once. A missing client, a
non-zero exit or a hang past the timeout all mean "not available"; nothing raises.

Example:
    if not docker_available():
        print("image-only servers cannot run here")
    await adocker_available()      # the same, without blocking the event loop
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time

TTL = 30.0
TIMEOUT = 3.0

_lock = threading.Lock()
_cache: dict[str, tuple[float, bool]] = {}


def docker_available(*, refresh: bool = False, timeout: float = TIMEOUT) -> bool:
    """True if `docker info` (the `docker` found on PATH) exits 0 within `timeout` seconds."""
    exe = shutil.which("docker")
    if exe is None:
        return False
    with _lock:
        hit = _cache.get(exe)
        if hit is not None and not refresh and time.monotonic() - hit[0] < TTL:
            return hit[1]
        try:
            done = subprocess.run([exe, "info"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, timeout=timeout, check=False)
            ok = done.returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        _cache[exe] = (time.monotonic(), ok)
        return ok


async def adocker_available(*, refresh: bool = False, timeout: float = TIMEOUT) -> bool:
    """`docker_available` run in a worker thread, for async callers."""
    import anyio

    return await anyio.to_thread.run_sync(lambda: docker_available(refresh=refresh, timeout=timeout))


def forget() -> None:
    """Drop cached answers (tests that swap the `docker` on PATH call this)."""
    with _lock:
        _cache.clear()
