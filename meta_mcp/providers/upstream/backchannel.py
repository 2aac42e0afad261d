"""The upstream's back-channel: its log messages and its own requests to a client.

Who wins:
- a log message goes to every call to this server in flight that asked for logs (`CallContext.log`);
  only when none is in flight does it go to the provider's listeners (the registry then sends it to
  the clients);
- a handshake-era upstream's `sampling/createMessage` or `elicitation/create` goes to the client
  whose call is in flight — the most recent one, since JSON-RPC over stdio does not say which call a
  request belongs to (`CallContext.ask`).

How errors degrade: a log message that cannot be delivered (its caller went away) is dropped with a
debug line, never breaking the upstream connection; a request no client can answer now (no call in
flight, or only 2026-era callers, which have no back-channel mid-call) is answered with an
`INVALID_REQUEST` error naming the server; a JSON-RPC error from the asked client is passed back
upstream as it came.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import mcp_types as types
from mcp import MCPError
from mcp_types import INVALID_REQUEST
from pydantic import ValidationError

from meta_mcp.providers.base import AskFn, CallContext, LogFn, Provider

logger = logging.getLogger(__name__)


class BackChannel:
    """Routes one upstream's log messages and server→client requests to callers (see the module docstring)."""

    def __init__(self, provider: Provider) -> None:
        self._provider = provider
        self._logs: dict[object, LogFn] = {}
        self._askers: dict[object, AskFn] = {}

    def client_options(self) -> dict[str, Any]:
        """The `mcp.Client` callbacks through which the upstream reaches this back-channel."""
        return {"logging_callback": self.on_log_message, "sampling_callback": self.on_sampling,
                "elicitation_callback": self.on_elicitation}

    @contextmanager
    def serving(self, call: CallContext) -> Iterator[None]:
        """While the block runs, `call` is in flight: it receives log messages and may be asked."""
        token = object()
        if call.log is not None:
            self._logs[token] = call.log
        if call.ask is not None:
            self._askers[token] = call.ask
        try:
            yield
        finally:
            self._logs.pop(token, None)
            self._askers.pop(token, None)

    async def on_log_message(self, params: types.LoggingMessageNotificationParams) -> None:
        """Route an upstream log message to the calls in flight, else to the listeners."""
        provider = self._provider
        try:
            if self._logs:
                for target in list(self._logs.values()):
                    await target(params.level, params.data, params.logger)
            else:
                for listener in list(provider.listeners):
                    await listener.provider_log(provider, params.level, params.data, params.logger)
        except Exception as exc:  # a caller gone away must not break the upstream connection
            logger.debug("server %r: dropping a log message: %s", provider.name, exc)

    async def on_sampling(self, context: Any, params: types.CreateMessageRequestParams) -> Any:
        answer = await self._forward_request("sampling/createMessage", params)
        if isinstance(answer, types.ErrorData):
            return answer
        try:
            return types.CreateMessageResult.model_validate(answer)
        except ValidationError:  # a reply with tool use (the caller's host supports sampling tools)
            return types.CreateMessageResultWithTools.model_validate(answer)

    async def on_elicitation(self, context: Any, params: types.ElicitRequestParams) -> Any:
        answer = await self._forward_request("elicitation/create", params)
        return answer if isinstance(answer, types.ErrorData) else types.ElicitResult.model_validate(answer)

    async def _forward_request(self, method: str, params: Any) -> dict[str, Any] | types.ErrorData:
        """A handshake-era upstream's own server→client request, passed to the client whose call is in
        flight (the most recent one: JSON-RPC over stdio does not say which call a request belongs to)."""
        askers = list(self._askers.values())
        if not askers:
            return types.ErrorData(code=INVALID_REQUEST, message=(
                f"meta-mcp: no client can answer {method} for server {self._provider.name!r} now (it is asked "
                "only during a call from a client of the 2025 protocol era that supports it)"))
        try:
            return await askers[-1](method, params.model_dump(by_alias=True, mode="json", exclude_none=True))
        except MCPError as exc:
            return exc.error
