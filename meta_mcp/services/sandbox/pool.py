"""A few Deno processes started ahead of the runs they will serve, each used once.

A run normally waits for its process to start (Deno, the prelude: most of a trivial run's time).
The pool keeps up to `size` processes started and waiting on stdin (see `process.py`: a waiting
process has seen nothing of any run), so a run can take one that is ready:

- **used once**: a taken process leaves the pool for good; the run kills it when it ends. A new one
  is started in the background (a worker thread) as soon as one is taken;
- **bounded**: at most `size` processes wait (or are starting) at any time; `size` 0 is no pool;
- **lazy**: nothing is started until the first `fill`, which the sandbox calls after its first run
  (so a meta-mcp that never runs code starts no Deno);
- **the same limits**: a process is started with one run's `heap_mb` / `data_mb` (its `Key`) and is
  only given to a run with the same; a run with other limits starts its own (and the pool switches
  to the new key);
- **dead ones are dropped**: a process that exited while it waited (killed, crashed) is discarded
  at `take`, and the run starts its own;
- **emptied at exit**: `close` kills what waits and deletes its directory; it runs at interpreter
  exit too. Should meta-mcp be killed instead, a waiting process sees its stdin close and exits,
  and the next meta-mcp's `sweep` deletes the directory.
"""

from __future__ import annotations

import atexit
import logging
import shutil
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from meta_mcp.services.sandbox.process import DenoProcess

logger = logging.getLogger(__name__)

Key = tuple[int, int]
"""(heap_mb, data_mb): the limits a process was started with."""


@dataclass
class PoolStats:
    started: int = 0
    taken: int = 0
    discarded: int = 0
    """Processes dropped without serving a run: dead, of another key, or left at close."""


class Pool:
    """Up to `size` pre-started processes (see the module docstring). `start(key)` starts one (it
    runs in a worker thread and may raise OSError); `discard(process)` disposes of an unused one."""

    def __init__(self, size: int, start: Callable[[Key], DenoProcess]) -> None:
        self.size = size
        self.stats = PoolStats()
        self._start = start
        self._ready: deque[DenoProcess] = deque()
        self._starting = 0
        self._key: Key | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._worker: ThreadPoolExecutor | None = None

    def __len__(self) -> int:
        return len(self._ready)

    def pids(self) -> list[int]:
        """The processes waiting now."""
        with self._lock:
            return [p.pid for p in self._ready]

    def take(self, key: Key) -> DenoProcess | None:
        """A live, waiting process started with `key`, removed from the pool for good; None if there
        is none (the caller starts its own). Processes that died meanwhile are discarded."""
        while True:
            with self._lock:
                if not self._ready:
                    return None
                process = self._ready.popleft()
            if process.heap_mb == key[0] and process.data_mb == key[1] and process.alive():
                self.stats.taken += 1
                return process
            self._discard(process)

    def fill(self, key: Key) -> None:
        """Start processes in the background until `size` wait or are starting (for runs with `key`)."""
        if self.size <= 0:
            return
        with self._lock:
            if self._closed:
                return
            if self._key != key:
                stale, self._key = list(self._ready), key
                self._ready.clear()
            else:
                stale = []
            wanted = self.size - len(self._ready) - self._starting
            self._starting += max(wanted, 0)
            if self._worker is None and wanted > 0:
                self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-pool")
                atexit.register(self.close)
            worker = self._worker
        for process in stale:
            self._discard(process)
        for _ in range(max(wanted, 0)):
            assert worker is not None
            worker.submit(self._start_one, key)

    def _start_one(self, key: Key) -> None:
        try:
            process = self._start(key)
        except Exception as exc:  # noqa: BLE001  (a run that starts its own process reports the cause)
            logger.debug("sandbox pool: could not start a process: %s", exc)
            with self._lock:
                self._starting -= 1
            return
        with self._lock:
            self._starting -= 1
            keep = not self._closed and key == self._key and len(self._ready) < self.size
            if keep:
                self._ready.append(process)
                self.stats.started += 1
        if not keep:
            self._discard(process)

    def _discard(self, process: DenoProcess) -> None:
        self.stats.discarded += 1
        process.close()
        shutil.rmtree(process.workdir, ignore_errors=True)

    def close(self) -> None:
        """Kill every waiting process and delete its directory; start no more (also at interpreter exit)."""
        with self._lock:
            self._closed = True
            left = list(self._ready)
            self._ready.clear()
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.shutdown(wait=True, cancel_futures=True)  # a start under way finishes, and is discarded
        for process in left:
            self._discard(process)
        atexit.unregister(self.close)
