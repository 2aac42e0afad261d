"""Meta tools that change the surface: `add_server`, `remove_server`, `configure_server`.

Both `add_server` and `configure_server` take curation options — `tools: {allow, deny}`, `rename`,
`descriptions` — stored for the workspace and re-applied at once (`operations.servers.curate_server`).

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
from meta_mcp.providers.base import tool_error
from meta_mcp.surface.meta_tools.base import MetaContext, MetaTool, rendered, structured
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
    if (refused := await _curate(ctx, args)) is not None:
        return refused
    answer = _answer(ctx)
    outcome = await servers.add_server(ctx.workspace, args["name"], spec=args.get("spec"), config=args.get("config"),
                                       answer=answer, origin=ctx.call.origin, via=args.get("via"))
    if isinstance(outcome, NeedsConfig) and ctx.call.can_elicit and answer is None and outcome.formable:
        return _form(outcome)
    return rendered(outcome)


async def remove_server(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    return rendered(await servers.remove_server(ctx.workspace, args["name"]))


_CURATION_ARGS = ("tools", "rename", "descriptions")


async def _curate(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any] | None:
    """Store the call's curation options, if it has any; the result when that failed, else None."""
    if not any(key in args for key in _CURATION_ARGS):
        return None
    outcome = await servers.curate_server(ctx.workspace, args["name"], **{k: args.get(k) for k in _CURATION_ARGS})
    return None if outcome.ok else rendered(outcome)


async def configure_server(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    if "config" not in args:
        if not any(key in args for key in _CURATION_ARGS):
            return tool_error("configure_server: give config, or curation (tools, rename, descriptions)")
        outcome = await servers.curate_server(ctx.workspace, args["name"], **{k: args.get(k) for k in _CURATION_ARGS})
        return structured(outcome.data()) if isinstance(outcome, servers.Curated) else rendered(outcome)
    if (refused := await _curate(ctx, args)) is not None:
        return refused
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
_GLOBS = {"type": "array", "items": {"type": "string"}}
_CURATION = {
    "tools": {"type": "object", "properties": {"allow": _GLOBS, "deny": _GLOBS}, "additionalProperties": False,
              "description": "Which of the server's tools are exposed: globs of their own names, deny wins"},
    "rename": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1},
               "description": "tool → new name (the server's prefix still applies)"},
    "descriptions": {"type": "object", "additionalProperties": {"type": "string"},
                     "description": "tool → the description shown instead"},
}
_SPEC["properties"].update(_CURATION)  # a spec may carry its curation, like a config file entry

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
                **_CURATION,
                "via": {"enum": ["local", "gateway"], "description": "Where a catalog server runs, when a Docker "
                        "MCP Gateway is connected: 'local' (meta-mcp starts it) or 'gateway' (the gateway runs it). "
                        "Default: locally when it runs here without Docker, else through the gateway."},
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
        "restarts it with them if it is active. Not for secrets: those come from meta-mcp's environment. "
        "With tools / rename / descriptions, changes which of any server's tools are exposed, and how, at once.",
        "inputSchema": {
            "type": "object",
            "properties": {"name": _NAME, "config": {"type": "object"}, **_CURATION},
            "required": ["name"],
        },
        "annotations": {"destructiveHint": False, "openWorldHint": False},
    },
    configure_server,
)
