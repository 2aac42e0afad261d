"""`LeanChannel`: requests to one upstream written past the SDK client's dispatcher.

`providers.upstream.calls` sends `tools/call` (and list pages) through it when the connection has one
(`providers.connect.open_transport` builds it beside the read stream): the request is written as the
SDK's dispatcher would write it and its answer is taken out of the read stream before the SDK sees it,
so a forwarded result is neither re-validated nor re-serialised. The dispatcher's promises hold (see
the class). The connection's poster sends the request from the caller's task instead: a stdio upstream's
`process._Pipe` writes it to the child's stdin, a streamable-HTTP upstream's `lean_http.DirectPost` POSTs
it; either hands a plain success for it over as sent (`deliver_line`), and a stdio pipe also its progress.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
import anyio.lowlevel
from mcp import MCPError
from mcp.shared.message import ClientMessageMetadata, SessionMessage
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT, ErrorData, JSONRPCNotification, JSONRPCRequest

from meta_mcp.providers.deadline import Deadline

logger = logging.getLogger(__name__)

MAX_ID_DIGITS = 20
"""An id echoed as a numeric string longer than this is not one of ours (ours are below 2**53): it is
not converted (a long digit string costs quadratic time to convert, and over 4,300 digits raises)."""


LEAN_ID_BASE = 1 << 40
"""Ids of lean requests start here: far above the SDK client's own (1, 2, 3, …) on the same connection, and
exact in every JSON implementation (below 2**53)."""


class _Slot:
    """One lean request waiting: its outcome once `finished`, and progress not yet reported (`updates`); `wake`,
    while the caller waits, is set when either arrives (a fresh event each time it waits again)."""

    __slots__ = ("deadline", "finished", "outcome", "progress", "updates", "wake")

    def __init__(self, progress: Any, deadline: Deadline) -> None:
        self.finished = False
        self.outcome: Any = None
        self.progress = progress
        self.deadline = deadline
        self.updates: list[tuple[float, Any, Any]] = []
        self.wake: anyio.Event | None = None

    def finish(self, outcome: Any) -> None:
        self.outcome, self.finished = outcome, True
        self.notify()

    def notify(self) -> None:
        if self.wake is not None:
            self.wake.set()

    async def settled(self) -> None:
        """Report each progress update in order, in the caller's task, until the outcome is in and every
        update before it has been reported: a caller never sees its result before the progress that preceded it."""
        while True:
            if self.updates:
                updates, self.updates = self.updates, []
                for value, total, message in updates:
                    await _report(self.progress, value, total, message)
            elif self.finished:
                return
            else:
                self.wake = anyio.Event()
                await self.wake.wait()


class LeanChannel:
    """Requests to one upstream past the SDK client's dispatcher (see `providers.upstream.calls`).

    A request is written to the transport's write stream as the dispatcher would write it (or, with a
    `direct` poster, written or POSTed by the caller), with an id of its own (`LEAN_ID_BASE` and up); its
    answer, and progress notifications naming it, are taken out of the read stream (`take`) before the SDK
    sees them, or handed over by the poster (`deliver`, `deliver_line`); everything else the upstream sends —
    its own requests, log messages, list changes, answers to the SDK's requests — reaches the SDK as before.
    Progress is reported by the caller's own task, in the order it came, and all of it before the result
    is returned (a callback that raises is logged, and the call goes on).
    What the SDK's dispatcher promises holds: the timeout counts from the write, and on timeout or when
    the caller cancels, the upstream is told (`notifications/cancelled`, bounded); a connection that ends
    fails every request in flight with `CONNECTION_CLOSED`.
    """

    def __init__(self, write: Any, direct: Any = None) -> None:
        self._write = write
        self._direct = direct  # the connection's poster (`process._Pipe`, `lean_http.DirectPost`), or None
        if direct is not None:
            direct.attach(self)
        self._pending: dict[int, _Slot] = {}
        self._next = LEAN_ID_BASE
        self.closed = False

    async def request(self, method: str, params: dict[str, Any], *, deadline: Deadline,
                      progress: Any = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """Send `method` with `params` (already stamped for the negotiated version); its result as sent, or
        `MCPError` (the upstream's error, `REQUEST_TIMEOUT` when `deadline` ran out — its progress extends
        it —, `CONNECTION_CLOSED`)."""
        if self.closed:
            raise MCPError(code=CONNECTION_CLOSED, message="Connection closed")
        self._next += 1
        request_id = self._next
        if progress is not None:
            params = {**params, "_meta": {**(params.get("_meta") or {}), "progressToken": request_id}}
        slot = self._pending[request_id] = _Slot(progress, deadline)
        message = SessionMessage(JSONRPCRequest.model_construct(jsonrpc="2.0", id=request_id, method=method,
                                                                params=params),
                                 metadata=ClientMessageMetadata(headers=headers) if headers else None)
        written = False
        try:
            await anyio.lowlevel.checkpoint_if_cancelled()
            written = True
            with deadline.scope():
                if self._direct is not None:
                    await self._direct.post(message)  # its answer reaches the slot, here or through `take`
                else:
                    try:
                        await self._write.send(message)
                    except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                        raise MCPError(code=CONNECTION_CLOSED, message="Connection closed") from None
                await slot.settled()
            if not slot.finished:
                await self._cancel(request_id, f"timed out after {deadline.timeout}s", shield=False)
                raise MCPError(code=REQUEST_TIMEOUT, message=f"Request {method!r} timed out")
        except anyio.get_cancelled_exc_class():
            if written and not slot.finished:
                await self._cancel(request_id, "caller cancelled", shield=True)
            raise
        finally:
            self._pending.pop(request_id, None)
        outcome = slot.outcome
        if isinstance(outcome, dict):
            return outcome
        raise MCPError(code=outcome.code, message=outcome.message, data=outcome.data)

    async def _cancel(self, request_id: int, reason: str, *, shield: bool) -> None:
        note = JSONRPCNotification(jsonrpc="2.0", method="notifications/cancelled",
                                   params={"requestId": request_id, "reason": reason})
        with anyio.CancelScope(shield=shield), anyio.move_on_after(5):
            try:
                await self._write.send(SessionMessage(note))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass

    def expects(self, request_id: Any) -> bool:
        """Whether `request_id` is a lean request still waiting for its answer."""
        slot = self._pending.get(request_id) if type(request_id) is int else None
        return slot is not None and not slot.finished

    def deliver(self, request_id: int, result: dict[str, Any]) -> bool:
        """Answer lean request `request_id` with `result` (a success as the upstream sent it); whether it waited."""
        if not self.expects(request_id):
            return False
        self._pending[request_id].finish(result)
        return True

    def deliver_line(self, content: bytes, request_id: int | None = None) -> bool:
        """Answer a lean request with `content`, one JSON-RPC message as the upstream sent it (within the
        message limits), when it is a well-formed success for a request still waiting (for `request_id`
        only, when given); whether it did. Anything else — an error, a request or notification, a result
        that is not an object, malformed JSON — is the caller's to pass the SDK's way."""
        if not self._pending:
            return False
        try:
            answer = json.loads(content)
        except (ValueError, RecursionError):
            return False
        if type(answer) is not dict or answer.get("jsonrpc") != "2.0" or "error" in answer:
            return False
        if "method" in answer:  # its progress, which must reach the caller before its answer, goes the same way
            return (answer["method"] == "notifications/progress" and "id" not in answer and request_id is None
                    and self._progress(answer.get("params")))
        answer_id, result = answer.get("id"), answer.get("result")
        if type(answer_id) is not int or type(result) is not dict or request_id not in (None, answer_id):
            return False
        return self.deliver(answer_id, result)

    def take(self, item: Any) -> bool:
        """Whether `item` (from the upstream) is a lean request's answer or progress, now delivered."""
        if not self._pending:
            return False
        message = getattr(item, "message", None)
        request_id = getattr(message, "id", None)
        if request_id is not None and not hasattr(message, "method"):  # a response or an error
            slot = self._pending.get(_as_int(request_id))
            if slot is None or slot.finished:
                return False
            error = getattr(message, "error", None)
            slot.finish(error if error is not None else message.result)
            return True
        if getattr(message, "method", None) == "notifications/progress":
            return self._progress(message.params)
        return False

    def _progress(self, params: Any) -> bool:
        """Report a progress notification's `params` to the lean request it names; whether it named one."""
        if not isinstance(params, dict):
            return False
        token, progress = params.get("progressToken"), params.get("progress")
        slot = self._pending.get(_as_int(token)) if not isinstance(token, bool) else None
        if slot is None or slot.finished or slot.progress is None or isinstance(progress, bool) or not isinstance(
                progress, (int, float)):
            return False
        slot.updates.append((float(progress), params.get("total"), params.get("message")))
        slot.deadline.progress()
        slot.notify()
        return True

    def close(self) -> None:
        """The connection ended: every request in flight fails with `CONNECTION_CLOSED`."""
        self.closed = True
        for slot in self._pending.values():
            if not slot.finished:
                slot.finish(ErrorData(code=CONNECTION_CLOSED, message="Connection closed"))


def _as_int(request_id: Any) -> int | None:
    """The id as the int it was sent as (a peer may echo it as a numeric string, as the SDK also accepts)."""
    if isinstance(request_id, int) and not isinstance(request_id, bool):
        return request_id
    if isinstance(request_id, str) and len(request_id) <= MAX_ID_DIGITS and request_id.isdigit():
        return int(request_id)
    return None


async def _report(progress: Any, value: float, total: Any, message: Any) -> None:
    try:
        await progress(value, total, message)
    except Exception:  # a caller gone away must not break the upstream connection (the SDK's rule too)
        logger.exception("progress callback raised")
