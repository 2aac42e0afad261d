"""The web console at `/ui`: see and run a workspace — servers, catalog, tools, chat, activity — in a browser.

A third front door (after the meta tools and the chat API) over the same operations: server-rendered
pages (Jinja2) with htmx (vendored in `static/`, served by meta-mcp itself, no CDN, no build step) for
in-place forms, server-sent events for live updates (`activity.Monitor`), and the chat API's
`/sse/chat` streamed into the chat page. It adds no second implementation of anything: servers,
catalog search, add and remove are `operations.servers`; tools and calls are `operations.tools` (the
registry's one call path); chat is the chat API. See `app` for the pages.

`mount_console(other, workspaces, services)` puts the console in front of `other` (the chat API, or
None) when `enabled(settings)`: `/ui` and below go to the console, everything else to `other`. It sits
inside the HTTP guard, so every authentication and policy that wraps `/mcp` and the API wraps it too.

Example (surface/run.py):
    app = HttpGuard(Dispatch(mcp_app, mount_console(api, workspaces, services)), settings)
"""

from __future__ import annotations

import json
import logging
from typing import Any

from meta_mcp.registry.workspaces import Workspaces
from meta_mcp.services import Services
from meta_mcp.settings import Settings

PATH = "/ui"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
logger = logging.getLogger(__name__)


def enabled(settings: Settings) -> bool:
    """Whether to serve the console: the `ui` setting, else on when bound to loopback."""
    return settings.ui if settings.ui is not None else settings.host in LOOPBACK


class _WithConsole:
    """ASGI: `/ui` and below to the console, everything else to `other` (404 when there is none)."""

    def __init__(self, console: Any, other: Any | None) -> None:
        self.console = console
        self.other = other

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == PATH or path.startswith(PATH + "/")):
            await self.console(scope, receive, send)
        elif self.other is not None:
            await self.other(scope, receive, send)
        elif scope["type"] == "http":
            body = json.dumps({"error": {"type": "not_found", "message": f"No route {path}"}}).encode()
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})


def mount_console(other: Any | None, workspaces: Workspaces, services: Services) -> Any | None:
    """`other` with the console at `/ui` in front of it, or `other` unchanged when the console is off."""
    settings = services.settings
    if not enabled(settings):
        return other
    from meta_mcp.surface.deferred import Deferred

    monitor = start_monitor(workspaces, services)  # from start-up: the activity page shows calls made before

    def pages() -> Any:  # built on the first visit (Jinja2 and the routes cost start-up ~0.1 s otherwise)
        from meta_mcp.console.app import build_console

        return build_console(workspaces, services, monitor, chat_api=other is not None and settings.api)

    logger.info("web console at http://%s:%d%s/", settings.host, settings.port, PATH)
    return _WithConsole(Deferred(pages), other)


def start_monitor(workspaces: Workspaces, services: Services) -> Any:
    """The console's activity `Monitor`, running in the upstream pool's task group, its interceptor outermost
    (it sees refused calls too)."""
    from meta_mcp.console.activity import Monitor

    monitor = Monitor(workspaces, services)
    workspaces.interceptors.insert(0, monitor.intercept)
    workspaces.pool.task_group.start_soon(monitor.run, name="console-monitor")
    return monitor
