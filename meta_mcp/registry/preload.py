"""Preloading: batches of servers started in the background, and waiting for their first attempts.

A workspace starts its configured or restored servers without holding up its clients; its lists, and
lookups of names not known yet, wait instead until every pending batch has had its first attempt
(`wait`, bounded by the registry by the connect timeout plus a second: a slow server never blocks a
list for longer).
Several batches may be pending at once; waiting ends when the last one is done. A batch may be an
async function that produces the specs (restoring from the state store): waiting starts at once,
before it has produced anything. A producer that fails is logged and its batch counts as done, so it
never keeps lists waiting; a server that fails to start is the start function's to report.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable

import anyio
import anyio.abc

from meta_mcp.config import ServerSpec

logger = logging.getLogger(__name__)

Specs = Iterable[ServerSpec] | Callable[[], Awaitable[Iterable[ServerSpec]]]
"""A batch: the specs, or an async function that produces them."""


class Preloads:
    """The pending preload batches of one workspace (see the module docstring)."""

    def __init__(self, workspace: str) -> None:
        self.workspace = workspace
        self._done = anyio.Event()
        self._done.set()
        self._pending = 0
        """Batches whose first attempts are not finished yet."""

    @property
    def pending(self) -> bool:
        """Whether some batch has not had its first attempt yet."""
        return not self._done.is_set()

    async def wait(self, timeout: float) -> None:
        """Wait, at most `timeout` seconds, until no batch is pending."""
        with anyio.move_on_after(timeout):
            await self._done.wait()

    def start(self, specs: Specs, add: Callable[[ServerSpec], Awaitable[None]], task_group: anyio.abc.TaskGroup
              ) -> None:
        """Run `add` for each spec of `specs` concurrently in `task_group`; pending until all have returned."""
        if not callable(specs):
            specs = list(specs)
            if not specs:
                return
        if self._pending == 0:
            self._done = anyio.Event()
        self._pending += 1
        done = self._done

        async def run() -> None:
            try:
                batch = list(await specs()) if callable(specs) else specs
                async with anyio.create_task_group() as tg:
                    for spec in batch:
                        tg.start_soon(add, spec)
            except Exception:  # a producer that fails must not keep lists waiting
                logger.exception("workspace %r: restoring servers failed", self.workspace)
            finally:
                self._pending -= 1
                if self._pending == 0:
                    done.set()

        task_group.start_soon(run, name="preload")
