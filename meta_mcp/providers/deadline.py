"""`Deadline`: how long one request to an upstream may take, and how the server's progress extends it.

A request waits `timeout` seconds for its answer. When the caller asked for progress, each progress
notification the server sends for that request starts the wait again, up to `most` seconds in all: a long
job that keeps reporting is not cut off at the per-call timeout, and a job that reports forever still ends
(the MCP spec lets a client reset its timeout on progress, and says it should always enforce a maximum).
Without progress, or with `most` not above `timeout`, it is a plain timeout.

Example:
    deadline = Deadline(timeout=60, most=600)
    with deadline.scope() as scope:          # cancelled 60 s from now …
        ...                                  # … unless deadline.progress() is called meanwhile
    if scope.cancelled_caught:
        raise ToolError(f"Server timed out: {deadline.describe('tools/call')}")
"""

from __future__ import annotations

import math

import anyio

from meta_mcp.providers.base import ProgressFn


class Deadline:
    """One request's wait (see the module docstring); `scope()` is entered once, by the request."""

    __slots__ = ("_end", "_scope", "most", "timeout")

    def __init__(self, timeout: float | None, most: float | None = None) -> None:
        self.timeout = timeout
        self.most = most if timeout is not None and most is not None and most > timeout else None
        """Seconds in all that progress may extend the wait to; None when progress extends nothing."""
        self._scope: anyio.CancelScope | None = None
        self._end = math.inf

    def scope(self) -> anyio.CancelScope:
        """A cancel scope whose deadline is `timeout` from now (and that `progress` moves)."""
        now = anyio.current_time()
        if self.most is not None:
            self._end = now + self.most
        self._scope = anyio.CancelScope(deadline=math.inf if self.timeout is None else now + self.timeout)
        return self._scope

    def progress(self) -> None:
        """The server reported progress: the wait starts again, within `most` in all."""
        if self.most is not None and self._scope is not None and self.timeout is not None:
            self._scope.deadline = min(anyio.current_time() + self.timeout, self._end)

    def extended_by(self, report: ProgressFn | None) -> ProgressFn | None:
        """`report` (a caller's progress callback), calling `progress` first when progress extends the wait."""
        if report is None or self.most is None:
            return report

        async def extending(value: float, total: float | None, message: str | None) -> None:
            self.progress()
            await report(value, total, message)

        return extending

    def describe(self, what: str) -> str:
        """Why a request that ran out of time did, for an error message: "no answer to `what` within …"."""
        if self.most is not None and self._scope is not None and self._scope.deadline >= self._end:
            return (f"no answer to {what} within {self.most:g} s in all (each report of progress from the server "
                    f"allows {self.timeout:g} s more, up to that)")
        if self.most is not None:
            return f"no answer to {what}, and no progress, within {self.timeout:g} s"
        return f"no answer to {what} within {self.timeout:g} s"
