"""The console's pages (a Starlette app; every path starts with `/ui`).

| page | does |
|---|---|
| `GET /ui` | Servers: state (running, restarting, failed with the last error), transport, where it runs, tool counts and names; restart and remove |
| `GET /ui/catalog?q=` | Catalog search, ranked by `find_servers` |
| `GET /ui/catalog/{name}` | An entry: how it runs, its secrets (set or not, where to set them — never a value), its config as a form from its JSON Schema; add |
| `GET /ui/tools`, `GET /ui/tools/{name}` | Every visible tool with its description and schemas; a form from the input schema; the result as a client gets it, with the duration |
| `GET /ui/chat` | The chat API's `/sse/chat` in a page: messages, tool calls and results as they happen, a config interrupt as a form that resumes the chat, a secrets stop with its instructions |
| `GET /ui/activity` | The last calls and state changes of the workspace, with durations and errors |
| `GET /ui/events?view=servers&view=activity` | Server-sent events: a view's HTML whenever it changed (`activity.Monitor`) |

The workspace is `?workspace=` or the workspace header (`X-MCP-Workspace`), else the caller's default;
links and forms keep it. When authentication put an identity in the request (`scope["meta_mcp.identity"]`),
a workspace it may not use is refused (403) here too. Forms post without JavaScript as well (a whole page
comes back); with htmx, only the part that changed is swapped. Unsafe requests from another origin are
refused (403). Responses carry a strict Content-Security-Policy: scripts, styles and connections only
from meta-mcp itself.

Each page's routes are in a module of its own (`servers`, `catalog`, `tools`, `chat`, `live`: activity
and events); what they share — the request's workspace, rendering, the form-post guards — is `page`.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from meta_mcp.console import PATH, catalog, chat, live, servers, tools
from meta_mcp.console.activity import Monitor
from meta_mcp.console.page import HERE, Console, Problem
from meta_mcp.registry.workspaces import Workspaces
from meta_mcp.services import Services


def build_console(workspaces: Workspaces, services: Services, monitor: Monitor, *, chat_api: bool) -> Starlette:
    """The console's pages over `workspaces`, their activity from `monitor` (started by `start_monitor`);
    `chat_api` says whether the chat API (`/sse/chat`) is served beside it."""
    console = Console(workspaces, services, monitor, chat_api=chat_api)
    routes = [
        *servers.routes(console),
        *catalog.routes(console),
        *tools.routes(console),
        *chat.routes(console),
        *live.routes(console),
        Mount(PATH + "/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    handlers = {Problem: console.problem, 404: console.problem, 405: console.problem}
    return Starlette(routes=routes, exception_handlers=handlers,
                     middleware=[Middleware(GZipMiddleware, minimum_size=1024)])
