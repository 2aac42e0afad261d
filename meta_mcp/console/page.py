"""What every console page shares: the request as a page sees it, the refusal, and the `Console` itself.

- `Context`: one request — its workspace (from `?workspace=`, the workspace header, else the caller's
  default; a workspace the authenticated identity may not use is refused), whether htmx sent it, and
  console URLs that keep the workspace.
- `Problem`: a request the console refuses; `Console.problem` renders it as an error page, or as a
  fragment for htmx (Starlette's own 404 and 405 too).
- `Console`: the workspaces, services, live `Monitor` and templates every page needs; `render` answers
  with the strict headers (Content-Security-Policy: scripts, styles and connections only from
  meta-mcp itself), `route` binds a page function `(console, request)` to a path under `/ui`.
- `same_origin` and `form_of`: the checks a form post passes before it changes anything.

Example (a page module):
    async def chat_page(console: Console, request: Request) -> Response:
        return console.render(console.context(request), "chat.html", page="chat")

    routes = [console.route("/chat", chat_page)]
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from meta_mcp import __version__
from meta_mcp.auth.audit import audit
from meta_mcp.console import PATH
from meta_mcp.console.activity import Monitor, label
from meta_mcp.identity import LOCAL
from meta_mcp.operations import outcomes
from meta_mcp.operations.workspace import Workspace
from meta_mcp.providers.base import CallContext
from meta_mcp.registry.workspaces import DEFAULT, Workspaces
from meta_mcp.services import Services

HERE = Path(__file__).parent
IDENTITY_KEY = "meta_mcp.identity"
"""Where the HTTP guard puts the authenticated identity in the ASGI scope (absent: no authentication)."""
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
PAGES = (("servers", "Servers", ""), ("catalog", "Catalog", "/catalog"), ("tools", "Tools", "/tools"),
         ("chat", "Chat", "/chat"), ("activity", "Activity", "/activity"))

Endpoint = Callable[["Console", Request], Awaitable[Response]]
"""A page function: the console and the request in, a response out."""


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

    def audit(self, what: str, outcome: Any) -> None:
        """One audit line for a change made (or refused) from the console, as the chat API and meta tools
        write theirs: who, the workspace, what (`POST /ui/servers/time/remove`) and the outcome's kind."""
        kind = outcomes.kind(outcome)
        audit("denied" if kind == "refused" else "change", self.identity, self.ws.name, what,
              "ok" if outcome.ok else kind, origin="console")


class Console:
    """The console's shared parts: the workspaces and services it shows, its `Monitor` and its templates.

    `chat_api` says whether the chat API (`/sse/chat`) is served beside it (the chat page needs it)."""

    def __init__(self, workspaces: Workspaces, services: Services, monitor: Monitor, *, chat_api: bool) -> None:
        self.workspaces = workspaces
        self.services = services
        self.monitor = monitor
        self.chat_api = chat_api
        self.header = services.settings.workspace_header
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                                      trim_blocks=True, lstrip_blocks=True)
        self.env.globals.update(version=__version__, label=label, pages=PAGES, base=PATH)
        self.env.filters["json"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False, default=str)

    def context(self, request: Request) -> Context:
        """The request's workspace and identity; `Problem` 403 for a workspace the identity may not use, 400
        for a workspace name that is not valid."""
        identity = request.scope.get(IDENTITY_KEY) or LOCAL
        default = getattr(identity, "default_workspace", DEFAULT)
        name = request.query_params.get("workspace") or request.headers.get(self.header) or default
        if not identity.may_use(name):
            raise Problem(403, f"{identity.subject} may not use workspace {name!r}.")
        try:
            return Context(request, Workspace(self.workspaces.get(name), self.services), identity, default)
        except ValueError as exc:
            raise Problem(400, f"Workspace: {exc}") from None

    def render(self, ctx: Context | None, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        """`template` rendered for `ctx` (None: no workspace, an error page), never cached, with the CSP."""
        page = self.env.get_template(template).render(ctx=ctx, ws=ctx.ws.name if ctx else DEFAULT,
                                                      header=self.header, chat_api=self.chat_api, **values)
        return HTMLResponse(page, status_code=status, headers={
            "Content-Security-Policy": CSP, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer"})

    def fragment(self, template: str, **values: Any) -> str:
        """`template` rendered as text (a part of a page, sent on its own)."""
        return self.env.get_template(template).render(**values)

    def route(self, path: str, endpoint: Endpoint, methods: list[str] | None = None) -> Route:
        """A route at `/ui` + `path` that calls `endpoint(self, request)`."""
        return Route(PATH + path, partial(endpoint, self), methods=methods)

    async def problem(self, request: Request, exc: Exception) -> Response:
        """The error page (a fragment for htmx) of a `Problem`, or of Starlette's own 404 / 405."""
        if not isinstance(exc, Problem):  # Starlette's own 404 / 405
            exc = Problem(getattr(exc, "status_code", 404), str(getattr(exc, "detail", "")) or "Not found.")
        if request.headers.get("hx-request") == "true":
            return HTMLResponse(self.fragment("_problem.html", message=exc.message),
                                status_code=exc.status, headers={"Content-Security-Policy": CSP})
        return self.render(None, "problem.html", exc.status, page="", message=exc.message, code=exc.status)


def same_origin(request: Request) -> None:
    """Refuse (`Problem` 403) an unsafe request that came from another site."""
    origin = request.headers.get("origin")
    if origin is not None:
        hosts = {request.headers.get("host", ""), *request.headers.get("x-forwarded-host", "").split(",")}
        if urlsplit(origin).netloc not in {h.strip() for h in hosts if h.strip()}:
            raise Problem(403, "Refused: this request came from another site (its Origin is not this console's).")
    elif request.headers.get("sec-fetch-site") == "cross-site":
        raise Problem(403, "Refused: this request came from another site.")


async def form_of(request: Request) -> dict[str, str]:
    """The posted form's fields (`Problem` 415 unless it is application/x-www-form-urlencoded)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/x-www-form-urlencoded":
        raise Problem(415, "Forms are sent as application/x-www-form-urlencoded.")
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
