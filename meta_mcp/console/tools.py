"""The Tools pages: every visible tool (`GET /ui/tools`), one tool with a form from its input schema
(`GET /ui/tools/{name}`), and a call from that form (`POST /ui/tools/{name}/call`).

Tools are `operations.tools.visible_tools` (grouped by server, the meta tools last) and a call is
`operations.tools.call_tool`, the registry's one call path: the result is shown as a client gets it,
with the duration; a JSON-RPC error the client would get instead of a result is shown as that error.
"""

from __future__ import annotations

import time
from typing import Any

from mcp import MCPError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from meta_mcp.console import forms, results
from meta_mcp.console.page import Console, Context, Problem, form_of, same_origin
from meta_mcp.operations import tools as tool_ops


def routes(console: Console) -> list[Route]:
    return [
        console.route("/tools", tools_page),
        console.route("/tools/{name}", tool_page),
        console.route("/tools/{name}/call", tool_call, methods=["POST"]),
    ]


def tool_groups(ctx: Context) -> list[tuple[str, list[tool_ops.VisibleTool]]]:
    """The workspace's visible tools by server, in the order servers were added, the meta tools last."""
    groups: dict[str, list[tool_ops.VisibleTool]] = {}
    for tool in tool_ops.visible_tools(ctx.ws, lambda server, _: True):
        groups.setdefault(tool.server, []).append(tool)
    meta = groups.pop(tool_ops.META_SERVER, None)
    return list(groups.items()) + ([(tool_ops.META_SERVER, meta)] if meta else [])


def find_tool(ctx: Context, name: str) -> tool_ops.VisibleTool:
    """The visible tool exposed as `name`; `Problem` 404 when there is none."""
    for tool in tool_ops.visible_tools(ctx.ws, lambda server, _: True):
        if tool.exposed == name:
            return tool
    raise Problem(404, f"No tool {name!r} in workspace {ctx.ws.name!r} (it may have been removed).")


async def tools_page(console: Console, request: Request) -> Response:
    ctx = console.context(request)
    await ctx.ws.registry.wait_preloaded()
    groups = tool_groups(ctx)
    return console.render(ctx, "tools.html", page="tools", groups=groups, count=sum(len(g) for _, g in groups))


async def tool_page(console: Console, request: Request) -> Response:
    ctx = console.context(request)
    await ctx.ws.registry.wait_preloaded()
    tool = find_tool(ctx, request.path_params["name"])
    schema = tool.definition.get("inputSchema") or {}
    return console.render(ctx, "tool.html", page="tools", tool=tool, fields=forms.fields(schema), raw="",
                          raw_error=None, result=None)


async def tool_call(console: Console, request: Request) -> Response:
    same_origin(request)
    ctx = console.context(request)
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
    return console.render(ctx, "_tool_call.html" if ctx.htmx else "tool.html", status, **values)
