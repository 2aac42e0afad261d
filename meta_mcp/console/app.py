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
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import anyio
import jinja2
from mcp import MCPError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from meta_mcp import __version__
from meta_mcp.console import PATH, forms, results
from meta_mcp.console.activity import Monitor, Versions, label
from meta_mcp.identity import LOCAL
from meta_mcp.operations import outcomes
from meta_mcp.operations import servers as server_ops
from meta_mcp.operations import tools as tool_ops
from meta_mcp.operations.workspace import Workspace
from meta_mcp.providers.base import CallContext
from meta_mcp.registry.workspaces import DEFAULT, Workspaces
from meta_mcp.services import Services

HERE = Path(__file__).parent
IDENTITY_KEY = "meta_mcp.identity"
"""Where the HTTP guard puts the authenticated identity in the ASGI scope (absent: no authentication)."""
STREAM_S = 30.0
"""How long one events stream stays open; the browser reconnects at once (so a shutdown never waits longer)."""
KEEPALIVE_S = 10.0
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
PAGES = (("servers", "Servers", ""), ("catalog", "Catalog", "/catalog"), ("tools", "Tools", "/tools"),
         ("chat", "Chat", "/chat"), ("activity", "Activity", "/activity"))


class Problem(Exception):
    """A request the console refuses: an error page (or fragment) with this status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Context:
    """One request as the pages see it."""

    request: Request
    ws: Workspace
    identity: Any
    default: str

    @property
    def htmx(self) -> bool:
        return self.request.headers.get("hx-request") == "true"

    def url(self, path: str = "", **params: Any) -> str:
        """A console URL that keeps the workspace."""
        query = {k: v for k, v in params.items() if v not in (None, "")}
        if self.ws.name != self.default:
            query = {"workspace": self.ws.name, **query}
        return PATH + path + ("?" + urlencode(query) if query else "")

    @property
    def ws_query(self) -> str:
        """`workspace=NAME` when links must carry the workspace, else ""."""
        return urlencode({"workspace": self.ws.name}) if self.ws.name != self.default else ""

    @property
    def call(self) -> CallContext:
        return CallContext(origin="http", identity=self.identity)


def _where(provider: Any) -> tuple[str, str]:
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


def build_console(workspaces: Workspaces, services: Services, *, chat_api: bool) -> Starlette:
    """The console over `workspaces`; `chat_api` says whether the chat API (`/sse/chat`) is served beside it."""
    settings = services.settings
    header = settings.workspace_header
    monitor = Monitor(workspaces, services)
    workspaces.interceptors.insert(0, monitor.intercept)  # outermost: it sees refused calls too
    workspaces.pool.task_group.start_soon(monitor.run, name="console-monitor")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.globals.update(version=__version__, label=label, pages=PAGES, base=PATH)
    env.filters["json"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False, default=str)

    def context(request: Request) -> Context:
        identity = request.scope.get(IDENTITY_KEY) or LOCAL
        default = getattr(identity, "default_workspace", DEFAULT)
        name = request.query_params.get("workspace") or request.headers.get(header) or default
        if not identity.may_use(name):
            raise Problem(403, f"{identity.subject} may not use workspace {name!r}.")
        try:
            return Context(request, Workspace(workspaces.get(name), services), identity, default)
        except ValueError as exc:
            raise Problem(400, f"Workspace: {exc}") from None

    def render(ctx: Context | None, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        page = env.get_template(template).render(ctx=ctx, ws=ctx.ws.name if ctx else DEFAULT, header=header,
                                                 chat_api=chat_api, **values)
        return HTMLResponse(page, status_code=status, headers={
            "Content-Security-Policy": CSP, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer"})

    def same_origin(request: Request) -> None:
        origin = request.headers.get("origin")
        if origin is not None:
            hosts = {request.headers.get("host", ""), *request.headers.get("x-forwarded-host", "").split(",")}
            if urlsplit(origin).netloc not in {h.strip() for h in hosts if h.strip()}:
                raise Problem(403, "Refused: this request came from another site (its Origin is not this console's).")
        elif request.headers.get("sec-fetch-site") == "cross-site":
            raise Problem(403, "Refused: this request came from another site.")

    async def form_of(request: Request) -> dict[str, str]:
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind != "application/x-www-form-urlencoded":
            raise Problem(415, "Forms are sent as application/x-www-form-urlencoded.")
        return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))

    # -- servers ---------------------------------------------------------------------------------

    def servers_view(ctx: Context) -> dict[str, Any]:
        registry = ctx.ws.registry
        tools = tool_ops.visible_tools(ctx.ws, lambda server, _: True)
        rows = []
        for info in server_ops.list_servers(ctx.ws):
            provider = registry.servers.get(info.name)
            where, detail = _where(provider)
            rows.append({**info.as_dict(), "label": label(info.status), "where": where, "where_detail": detail,
                         "tool_names": [t.exposed for t in tools if t.server == info.name],
                         "restartable": getattr(provider, "spec", None) is not None and where != "gateway"})
        counts: dict[str, int] = {}
        for row in rows:
            counts[row["label"]] = counts.get(row["label"], 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in counts.items())
        return {"servers": rows, "summary": f"{len(rows)} server{'s' * (len(rows) != 1)}" + (f": {summary}" if rows else "")}

    async def servers_page(request: Request) -> Response:
        ctx = context(request)
        await ctx.ws.registry.wait_preloaded()
        monitor.scan()  # what the page shows is what the monitor has seen: the stream sends only later changes
        return render(ctx, "servers.html", page="servers", versions=monitor.versions(ctx.ws.name),
                      **servers_view(ctx))

    async def server_action(request: Request) -> Response:
        same_origin(request)
        ctx = context(request)
        name, action = request.path_params["name"], request.path_params["action"]
        if action == "remove":
            outcome = await server_ops.remove_server(ctx.ws, name)
            note, ok = outcome.message, outcome.ok
        elif action == "restart":
            note, ok = await _restart(ctx.ws, name)
        else:
            raise Problem(404, f"No action {action!r}.")
        monitor.wake()
        if ctx.htmx:
            return render(ctx, "_server_action.html", 200 if ok else 409, note=note, note_ok=ok, **servers_view(ctx))
        return render(ctx, "servers.html", 200 if ok else 409, page="servers", note=note, note_ok=ok,
                      versions=Versions(-1, -1), **servers_view(ctx))

    # -- catalog ---------------------------------------------------------------------------------

    async def catalog_page(request: Request) -> Response:
        ctx = context(request)
        query = (request.query_params.get("q") or "").strip()[:1000]
        found, problem = None, None
        if query:
            answer = await server_ops.find_servers(ctx.ws, query, limit=20)
            if isinstance(answer, outcomes.CatalogUnavailable):
                problem = answer.message
            else:
                found = answer
        values = {"page": "catalog", "query": query, "found": found, "problem": problem}
        if ctx.htmx and request.headers.get("hx-target") == "catalog-results":
            return render(ctx, "_catalog_results.html", **values)
        return render(ctx, "catalog.html", **values)

    async def entry_values(ctx: Context, name: str) -> dict[str, Any]:
        from meta_mcp.services.catalog import CatalogError, adocker_available
        from meta_mcp.services.catalog.describe import describe
        from meta_mcp.services.catalog.plan import resolve_secrets

        try:
            catalog = await anyio.to_thread.run_sync(lambda: ctx.ws.services.catalog)
        except CatalogError as exc:
            raise Problem(503, f"The catalog cannot be loaded: {exc}") from None
        entry = catalog.get(name)
        if entry is None:
            hint = ", ".join(catalog.suggest(name))
            raise Problem(404, f"No catalog entry {name!r}." + (f" Close: {hint}." if hint else ""))
        described = describe(entry, docker_available=await adocker_available())
        missing = {s.env for s in (await resolve_secrets(entry, ctx.ws.services.secrets)).missing}
        secrets = [{**s, "set": s["env"] not in missing} for s in described["secrets"]]
        sources = getattr(ctx.ws.services.secrets, "describe", lambda: "meta-mcp's environment or its .env file")()
        stored = await ctx.ws.services.state.get_config(ctx.ws.name, entry.name)
        return {"page": "catalog", "entry": described, "schema": entry.config_schema(), "secrets": secrets,
                "sources": sources, "stored": stored, "active": entry.name in ctx.ws.registry.servers}

    async def entry_page(request: Request) -> Response:
        ctx = context(request)
        values = await entry_values(ctx, request.path_params["name"])
        return render(ctx, "entry.html", fields=forms.fields(values["schema"], values["stored"]), **values)

    async def entry_add(request: Request) -> Response:
        same_origin(request)
        ctx = context(request)
        submitted = await form_of(request)
        values = await entry_values(ctx, request.path_params["name"])
        schema = values["schema"]
        config, errors = forms.parse(schema, submitted)
        outcome: Any = None
        general: list[str] = []
        if not errors:
            outcome = await server_ops.add_server(ctx.ws, values["entry"]["name"], config=config or None, origin="http")
            monitor.wake()
            names = list((schema or {}).get("properties") or {})
            if isinstance(outcome, outcomes.InvalidConfig):
                errors, general = forms.problems_by_field(outcome.problems, names)
            elif isinstance(outcome, outcomes.NeedsConfig):
                errors = {f.name: "required" for f in outcome.fields if f.name in names}
                general = [f"{f.name}: required" for f in outcome.fields if f.name not in names]
        ok = outcome is not None and outcome.ok
        status = 200 if ok else 422 if errors or general else _status(outcome)
        shown = {**values, "outcome": outcome, "outcome_kind": outcomes.kind(outcome) if outcome is not None else None,
                 "general": general, "fields": forms.fields(schema, config, errors, submitted),
                 "raw_error": errors.get(forms.RAW), "raw": submitted.get(forms.RAW, "")}
        if ok:
            shown["active"] = True
        return render(ctx, "_entry_add.html" if ctx.htmx else "entry.html", status, **shown)

    # -- tools -----------------------------------------------------------------------------------

    def tool_groups(ctx: Context) -> list[tuple[str, list[tool_ops.VisibleTool]]]:
        groups: dict[str, list[tool_ops.VisibleTool]] = {}
        for tool in tool_ops.visible_tools(ctx.ws, lambda server, _: True):
            groups.setdefault(tool.server, []).append(tool)
        meta = groups.pop(tool_ops.META_SERVER, None)
        return list(groups.items()) + ([(tool_ops.META_SERVER, meta)] if meta else [])

    async def tools_page(request: Request) -> Response:
        ctx = context(request)
        await ctx.ws.registry.wait_preloaded()
        groups = tool_groups(ctx)
        return render(ctx, "tools.html", page="tools", groups=groups, count=sum(len(g) for _, g in groups))

    def find_tool(ctx: Context, name: str) -> tool_ops.VisibleTool:
        for tool in tool_ops.visible_tools(ctx.ws, lambda server, _: True):
            if tool.exposed == name:
                return tool
        raise Problem(404, f"No tool {name!r} in workspace {ctx.ws.name!r} (it may have been removed).")

    async def tool_page(request: Request) -> Response:
        ctx = context(request)
        await ctx.ws.registry.wait_preloaded()
        tool = find_tool(ctx, request.path_params["name"])
        schema = tool.definition.get("inputSchema") or {}
        return render(ctx, "tool.html", page="tools", tool=tool, fields=forms.fields(schema), raw="", raw_error=None,
                      result=None)

    async def tool_call(request: Request) -> Response:
        same_origin(request)
        ctx = context(request)
        submitted = await form_of(request)
        tool = find_tool(ctx, request.path_params["name"])
        schema = tool.definition.get("inputSchema") or {}
        arguments, errors = forms.parse(schema, submitted)
        result: dict[str, Any] | None = None
        status = 422 if errors else 200
        if not errors:
            started = time.monotonic()
            try:
                wire = await tool_ops.call_tool(ctx.ws, tool.exposed, arguments, ctx.call)
                result = {**results.view(wire), "error": None}
            except MCPError as exc:  # the client would get this JSON-RPC error, not a result
                result = {"error": {"code": exc.error.code, "message": exc.error.message}, "is_error": True}
            result["ms"] = round((time.monotonic() - started) * 1000, 1)
            result["arguments"] = arguments
        values = {"page": "tools", "tool": tool, "fields": forms.fields(schema, arguments, errors, submitted),
                  "raw": submitted.get(forms.RAW, ""), "raw_error": errors.get(forms.RAW), "result": result}
        return render(ctx, "_tool_call.html" if ctx.htmx else "tool.html", status, **values)

    # -- chat and activity -------------------------------------------------------------------------

    async def chat_page(request: Request) -> Response:
        ctx = context(request)
        return render(ctx, "chat.html", page="chat")

    async def activity_page(request: Request) -> Response:
        ctx = context(request)
        monitor.scan()
        return render(ctx, "activity.html", page="activity", versions=monitor.versions(ctx.ws.name),
                      events=monitor.events(ctx.ws.name))

    async def events(request: Request) -> Response:
        ctx = context(request)
        views = [v for v in request.query_params.getlist("view") if v in ("servers", "activity")]
        if not views:
            raise Problem(400, "Name the views to follow: ?view=servers and/or ?view=activity.")

        def fragment(view: str) -> str:
            if view == "servers":
                html = env.get_template("_servers.html").render(ctx=ctx, **servers_view(ctx))
            else:
                html = env.get_template("_activity.html").render(ctx=ctx, events=monitor.events(ctx.ws.name))
            return f"event: {view}\n" + "".join(f"data: {line}\n" for line in html.splitlines()) + "\n"

        def shown(view: str) -> int:
            value = request.query_params.get(view, "-1")
            return int(value) if value.lstrip("-").isdigit() else -1

        async def stream() -> AsyncIterator[str]:
            yield "retry: 200\n\n"
            seen = Versions(shown("servers"), shown("activity"))
            deadline = anyio.current_time() + STREAM_S
            while anyio.current_time() < deadline:
                with anyio.move_on_after(min(KEEPALIVE_S, max(deadline - anyio.current_time(), 0))):
                    now = await monitor.wait(ctx.ws.name, seen)
                    if "servers" in views and now.servers != seen.servers:
                        yield fragment("servers")
                    if "activity" in views and now.activity != seen.activity:
                        yield fragment("activity")
                    seen = now
                    continue
                yield ": keep-alive\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def problem(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, Problem):  # Starlette's own 404 / 405
            exc = Problem(getattr(exc, "status_code", 404), str(getattr(exc, "detail", "")) or "Not found.")
        if request.headers.get("hx-request") == "true":
            return HTMLResponse(env.get_template("_problem.html").render(message=exc.message),
                                status_code=exc.status, headers={"Content-Security-Policy": CSP})
        return render(None, "problem.html", exc.status, page="", message=exc.message, code=exc.status)

    routes = [
        Route(PATH, servers_page),
        Route(PATH + "/", servers_page),
        Route(PATH + "/servers/{name}/{action}", server_action, methods=["POST"]),
        Route(PATH + "/catalog", catalog_page),
        Route(PATH + "/catalog/{name}", entry_page),
        Route(PATH + "/catalog/{name}/add", entry_add, methods=["POST"]),
        Route(PATH + "/tools", tools_page),
        Route(PATH + "/tools/{name}", tool_page),
        Route(PATH + "/tools/{name}/call", tool_call, methods=["POST"]),
        Route(PATH + "/chat", chat_page),
        Route(PATH + "/activity", activity_page),
        Route(PATH + "/events", events),
        Mount(PATH + "/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(routes=routes, exception_handlers={Problem: problem, 404: problem, 405: problem},
                     middleware=[Middleware(GZipMiddleware, minimum_size=1024)])


def _status(outcome: Any) -> int:
    from meta_mcp.api.errors import status_of

    return status_of(outcome) if outcome is not None else 400


async def _restart(ws: Workspace, name: str) -> tuple[str, bool]:
    """Stop server `name` and start it again from the same launch spec (its record and config are unchanged).

    There is no restart among the operations yet: this takes the registry's own remove and add, as
    `operations.servers` does when it restarts a server with new config. A server another workspace
    shares keeps running (this workspace lets go of it and takes it again)."""
    registry = ws.registry
    provider = registry.servers.get(name)
    if provider is None:
        return f"Server {name!r} is not active in this workspace.", False
    spec = getattr(provider, "spec", None)
    if spec is None or getattr(provider, "transport", "") == "gateway":
        return f"Server {name!r} cannot be restarted from here.", False
    await registry.remove_server(name)
    provider = await registry.add_server(spec)
    if provider.status != "ready":
        return f"Restarted {name!r}, but it is {label(provider.status)}: {provider.last_error or 'no reason given'}.", False
    return f"Restarted {name!r}: {label(provider.status)} with {len(provider.listing.tools)} tools.", True
