"""What one client request brings to the call it makes: its connection, its caller, its `CallContext`.

Every handler of `surface.handlers` serves a request through these, so a proxied call sees the same
thing whichever method brought it:
- `_meta` is forwarded upstream without the progress token (the SDK mints its own upstream and maps
  progress back) and without protocol keys, except the 2026-era log-level opt-in; a handshake-era
  client's `logging/setLevel` (kept on its connection) becomes that opt-in for modern upstreams;
- the caller is the identity the HTTP auth guard put in the scope, or `LOCAL` over stdio;
- a call that answers `input_required` is resolved for handshake-era clients by asking them
  (`input_bridge`); modern clients get it as it is. Passed-through results are marked complete.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp_types import LOG_LEVEL_META_KEY
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from meta_mcp.auth.context import identity_in
from meta_mcp.identity import LOCAL, Identity
from meta_mcp.providers.base import CallContext, LogFn
from meta_mcp.surface import input_bridge

_RESERVED_META_PREFIX = "io.modelcontextprotocol/"
LOG_LEVEL_STATE = "meta_mcp.log_level"
"""Where a connection keeps the level its client set with `logging/setLevel`."""


def connection(ctx: ServerRequestContext[Any]) -> Any:
    """The connection this request came on: the one handle that outlives the request and can notify
    the client later."""
    # The SDK exposes it only privately on the per-request session.
    return ctx.session._connection  # noqa: SLF001


def identity(ctx: ServerRequestContext[Any]) -> Identity:
    """Who sent this request: over HTTP the identity the auth guard put in the scope; over stdio `LOCAL`."""
    request = ctx.request
    return identity_in(request.scope, LOCAL) if request is not None else LOCAL


def call_context(ctx: ServerRequestContext[Any], params: Any) -> CallContext:
    """What this request brings to the upstream call: `_meta`, progress, logs, input responses, its
    origin and caller (see the module docstring)."""
    meta = ctx.meta or {}
    forward = {
        k: v for k, v in meta.items()
        if k not in ("progress_token", "progressToken")
        and (not k.startswith(_RESERVED_META_PREFIX) or k == LOG_LEVEL_META_KEY)
    }
    level = connection(ctx).state.get(LOG_LEVEL_STATE)
    if level and LOG_LEVEL_META_KEY not in forward:
        forward[LOG_LEVEL_META_KEY] = level
    wants_progress = "progress_token" in meta or "progressToken" in meta
    session = ctx.session
    request_id = ctx.request_id

    async def log(level: str, data: Any, logger_name: str | None) -> None:
        await session.send_log_message(level, data, logger_name, related_request_id=request_id)  # type: ignore[arg-type]

    logger_fn: LogFn = log

    async def ask(method: str, params: dict[str, Any]) -> dict[str, Any]:
        return await input_bridge.ask(ctx, {"method": method, "params": params})

    handshake = ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS
    return CallContext(
        meta=forward or None,
        progress=session.report_progress if wants_progress else None,
        log=logger_fn,
        input_responses=_wire(getattr(params, "input_responses", None)),
        request_state=getattr(params, "request_state", None),
        can_elicit=bool(session.client_capabilities and session.client_capabilities.elicitation),
        ask=ask if handshake and session.can_send_request else None,
        can_sample=bool(session.client_capabilities and session.client_capabilities.sampling),
        origin="http" if ctx.request is not None else "stdio",
        identity=identity(ctx),
    )


def _wire(responses: dict[str, Any] | None) -> dict[str, Any] | None:
    """Input responses as wire dicts (the SDK hands them over as models)."""
    if not responses:
        return None
    return {
        key: value.model_dump(by_alias=True, mode="json", exclude_none=True) if hasattr(value, "model_dump") else value
        for key, value in responses.items()
    }


def complete(result: dict[str, Any]) -> dict[str, Any]:
    """Mark a passed-through result complete: 2026-era results need `resultType`; older upstreams omit it."""
    result.setdefault("resultType", "complete")
    return result


async def interactive(
    ctx: ServerRequestContext[Any], params: Any, invoke: Callable[[CallContext], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    """Run a call that may answer `input_required`; resolve that for handshake-era clients."""
    call = call_context(ctx, params)
    first = await invoke(call)

    async def retry(responses: dict[str, Any] | None, state: str | None) -> dict[str, Any]:
        return await invoke(replace(call, input_responses=responses, request_state=state))

    return complete(await input_bridge.resolve(ctx, first, retry))
