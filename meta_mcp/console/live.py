"""What the monitor has seen, as a page and as it happens: the Activity page (`GET /ui/activity`) and the
server-sent events (`GET /ui/events?view=servers&view=activity`).

The activity page lists the workspace's last calls and state changes, with durations and errors. The
events stream sends a view's HTML (the servers table, the activity list) whenever it changed since
the versions the page was rendered with (`?servers=N&activity=N`, see `activity.Versions`), a
keep-alive comment every `KEEPALIVE_S`, and ends after `STREAM_S` (the browser reconnects at once).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from meta_mcp.console import servers
from meta_mcp.console.activity import Versions
from meta_mcp.console.page import Console, Context, Problem

STREAM_S = 30.0
"""How long one events stream stays open; the browser reconnects at once (so a shutdown never waits longer)."""
KEEPALIVE_S = 10.0
VIEWS = ("servers", "activity")


def routes(console: Console) -> list[Route]:
    return [
        console.route("/activity", activity_page),
        console.route("/events", events),
    ]


async def activity_page(console: Console, request: Request) -> Response:
    ctx = console.context(request)
    console.monitor.scan()
    return console.render(ctx, "activity.html", page="activity", versions=console.monitor.versions(ctx.ws.name),
                          events=console.monitor.events(ctx.ws.name))


async def events(console: Console, request: Request) -> Response:
    ctx = console.context(request)
    views = [v for v in request.query_params.getlist("view") if v in VIEWS]
    if not views:
        raise Problem(400, "Name the views to follow: ?view=servers and/or ?view=activity.")
    return StreamingResponse(_stream(console, ctx, views), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _stream(console: Console, ctx: Context, views: list[str]) -> AsyncIterator[str]:
    """The events of `views` for `ctx`'s workspace, from the versions the page showed, for `STREAM_S`."""
    yield "retry: 200\n\n"
    seen = Versions(_shown(ctx, "servers"), _shown(ctx, "activity"))
    deadline = anyio.current_time() + STREAM_S
    while anyio.current_time() < deadline:
        with anyio.move_on_after(min(KEEPALIVE_S, max(deadline - anyio.current_time(), 0))):
            now = await console.monitor.wait(ctx.ws.name, seen)
            if "servers" in views and now.servers != seen.servers:
                yield _event(console, ctx, "servers")
            if "activity" in views and now.activity != seen.activity:
                yield _event(console, ctx, "activity")
            seen = now
            continue
        yield ": keep-alive\n\n"


def _shown(ctx: Context, view: str) -> int:
    """The version of `view` the page was rendered with (-1: unknown, send it at the first change)."""
    value = ctx.request.query_params.get(view, "-1")
    return int(value) if value.lstrip("-").isdigit() else -1


def _event(console: Console, ctx: Context, view: str) -> str:
    """One server-sent event: `view`'s HTML now."""
    if view == "servers":
        html = console.fragment("_servers.html", ctx=ctx, **servers.view(ctx))
    else:
        html = console.fragment("_activity.html", ctx=ctx, events=console.monitor.events(ctx.ws.name))
    return f"event: {view}\n" + "".join(f"data: {line}\n" for line in html.splitlines()) + "\n"
