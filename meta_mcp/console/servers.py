"""The Servers page (`GET /ui`) and its actions (`POST /ui/servers/{name}/restart|remove`).

Each server of the workspace with its state (running, restarting, failed with the last error), its
transport, where it runs (a local command, a remote host, the Docker MCP Gateway), tool counts and
names. Remove is `operations.servers.remove_server`, restart `operations.servers.restart_server` (it
stops the server and starts it again from the same launch spec); each action is audited. `view(ctx)` is also what the events stream sends when the servers changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from meta_mcp.console.activity import Versions, label
from meta_mcp.console.page import Console, Context, Problem, same_origin
from meta_mcp.operations import servers as server_ops
from meta_mcp.operations import tools as tool_ops


def routes(console: Console) -> list[Route]:
    return [
        console.route("", servers_page),
        console.route("/", servers_page),
        console.route("/servers/{name}/{action}", server_action, methods=["POST"]),
    ]


def where(provider: Any) -> tuple[str, str]:
    """Where a server runs, as (kind, detail): local (its command), remote (host only), gateway."""
    transport = getattr(provider, "transport", "")
    spec = getattr(provider, "spec", None)
    if transport == "gateway":
        return "gateway", "Docker MCP Gateway"
    if transport in ("http", "sse") and spec is not None and spec.url:
        parts = urlsplit(spec.url)
        return "remote", parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else "remote"
    if spec is not None and spec.command:
        return "local", Path(spec.command).name
    return "local", ""


def view(ctx: Context) -> dict[str, Any]:
    """The servers of the request's workspace as the templates show them, and a one-line summary."""
    registry = ctx.ws.registry
    tools = tool_ops.visible_tools(ctx.ws, lambda server, _: True)
    rows = []
    for info in server_ops.list_servers(ctx.ws):
        provider = registry.servers.get(info.name)
        kind, detail = where(provider)
        rows.append({**info.as_dict(), "label": label(info.status), "where": kind, "where_detail": detail,
                     "tool_names": [t.exposed for t in tools if t.server == info.name],
                     "restartable": getattr(provider, "spec", None) is not None and kind != "gateway"})
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["label"]] = counts.get(row["label"], 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    return {"servers": rows,
            "summary": f"{len(rows)} server{'s' * (len(rows) != 1)}" + (f": {summary}" if rows else "")}


async def servers_page(console: Console, request: Request) -> Response:
    ctx = console.context(request)
    await ctx.ws.registry.wait_preloaded()
    console.monitor.scan()  # what the page shows is what the monitor has seen: the stream sends only later changes
    return console.render(ctx, "servers.html", page="servers", versions=console.monitor.versions(ctx.ws.name),
                          **view(ctx))


async def server_action(console: Console, request: Request) -> Response:
    same_origin(request)
    ctx = console.context(request)
    name, action = request.path_params["name"], request.path_params["action"]
    if action == "remove":
        outcome: Any = await server_ops.remove_server(ctx.ws, name)
    elif action == "restart":
        outcome = await server_ops.restart_server(ctx.ws, name)
    else:
        raise Problem(404, f"No action {action!r}.")
    ctx.audit(f"POST /ui/servers/{name}/{action}", outcome)
    console.monitor.wake()
    note, ok = outcome.message, outcome.ok
    if ctx.htmx:
        return console.render(ctx, "_server_action.html", 200 if ok else 409, note=note, note_ok=ok, **view(ctx))
    return console.render(ctx, "servers.html", 200 if ok else 409, page="servers", note=note, note_ok=ok,
                          versions=Versions(-1, -1), **view(ctx))
