"""Meta tools that change the surface: `add_server`, `remove_server`, `configure_server`.

Thin adapters over `meta_mcp.operations.servers` (where the semantics are stated): arguments in, the
typed outcome out as a tool result (`rendered`). One thing is theirs: when `add_server` needs config
and the client can show a form, they ask for the missing fields with an `input_required`
elicitation (handshake-era clients get it through the surface's input bridge) and add the server
when the answer comes back.
"""

from __future__ import annotations

from typing import Any

from meta_mcp.operations import servers
from meta_mcp.operations.outcomes import NeedsConfig
from meta_mcp.surface.meta_tools.base import MetaContext, MetaTool, rendered
from meta_mcp.validation import NAME_PATTERN


def _form(outcome: NeedsConfig) -> dict[str, Any]:
    """An `input_required` result asking for the missing config through a form."""
    properties = {f.name: {"type": f.type, "title": f.name, "description": f.description} for f in outcome.fields}
    request = {
        "method": "elicitation/create",
        "params": {
            "mode": "form",
            "message": f"Server {outcome.server!r} needs configuration before it can start.",
            "requestedSchema": {"type": "object", "properties": properties, "required": list(properties)},
        },
    }
    return {"resultType": "input_required", "inputRequests": {"config": request},
            "requestState": servers.form_state(outcome.server)}


def _answer(ctx: MetaContext) -> servers.FormAnswer | None:
    """The client's answer to our config form, if this call carries one."""
    answer = (ctx.call.input_responses or {}).get("config")
    if not isinstance(answer, dict):
        return None
    if answer.get("action") != "accept":
        return servers.FormAnswer({}, declined=True)
    content = answer.get("content")
    return servers.FormAnswer(content if isinstance(content, dict) else {})


async def add_server(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    answer = _answer(ctx)
    outcome = await servers.add_server(ctx.workspace, args["name"], spec=args.get("spec"), config=args.get("config"),
                                       answer=answer, origin=ctx.call.origin)
    if isinstance(outcome, NeedsConfig) and ctx.call.can_elicit and answer is None and outcome.formable:
        return _form(outcome)
    return rendered(outcome)


async def remove_server(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    return rendered(await servers.remove_server(ctx.workspace, args["name"]))


async def configure_server(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    return rendered(await servers.configure_server(ctx.workspace, args["name"], args["config"]))


_NAME = {"type": "string", "pattern": NAME_PATTERN, "description": "Server name"}
_SPEC = {
    "type": "object",
    "description": "An mcpServers entry for a server that is not in the catalog: "
    "{command, args, env, cwd} or {url, headers}; optional prefix, timeout, transport",
    "properties": {
        "command": {"type": "string"}, "args": {"type": "array", "items": {"type": "string"}},
        "env": {"type": "object", "additionalProperties": {"type": "string"}}, "cwd": {"type": "string"},
        "url": {"type": "string"}, "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "transport": {"enum": ["stdio", "http", "sse"]}, "prefix": {"type": "string"},
        "timeout": {"type": "number", "exclusiveMinimum": 0},
    },
}

ADD_SERVER = MetaTool(
    {
        "name": "add_server",
        "title": "Add a server",
        "description": "Start or connect an MCP server and expose its tools as <server>__<tool>. Give the name of "
        "a catalog entry (see find_servers), optionally with config; or a name plus spec for a server not in the "
        "catalog. Returns the added tool names. Secrets come from meta-mcp's environment, never from chat.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "name": _NAME,
                "spec": _SPEC,
                "config": {"type": "object", "description": "Config values of a catalog entry"},
            },
            "required": ["name"],
        },
        "annotations": {"destructiveHint": False, "openWorldHint": True},
    },
    add_server,
)

REMOVE_SERVER = MetaTool(
    {
        "name": "remove_server",
        "title": "Remove a server",
        "description": "Stop or disconnect an active server; its tools, resources and prompts disappear.",
        "inputSchema": {"type": "object", "properties": {"name": _NAME}, "required": ["name"]},
        "annotations": {"destructiveHint": True, "idempotentHint": True, "openWorldHint": False},
    },
    remove_server,
)

CONFIGURE_SERVER = MetaTool(
    {
        "name": "configure_server",
        "title": "Configure a server",
        "description": "Validate and store config values for a catalog server (merged over what is stored); "
        "restarts it with them if it is active. Not for secrets: those come from meta-mcp's environment.",
        "inputSchema": {
            "type": "object",
            "properties": {"name": _NAME, "config": {"type": "object"}},
            "required": ["name", "config"],
        },
        "annotations": {"destructiveHint": False, "openWorldHint": False},
    },
    configure_server,
)
