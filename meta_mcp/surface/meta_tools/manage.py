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

from typing import TYPE_CHECKING, Any

from meta_mcp.providers.base import tool_error
from meta_mcp.surface.meta_tools.base import MetaContext, MetaTool, rendered, structured
from meta_mcp.validation import NAME_PATTERN

if TYPE_CHECKING:
    from meta_mcp.operations.outcomes import NeedsConfig
    from meta_mcp.operations.servers import FormAnswer

# The handlers import `meta_mcp.operations.servers` on first call: it pulls in the catalog, the gateway and the
# outcomes, which serving the first request does not need.


def _form(outcome: NeedsConfig) -> dict[str, Any]:
    """An `input_required` result asking for the missing config through a form."""
    from meta_mcp.operations.servers import form_state

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
            "requestState": form_state(outcome.server)}


def _answer(ctx: MetaContext) -> FormAnswer | None:
    """The client's answer to our config form, if this call carries one."""
    from meta_mcp.operations.servers import FormAnswer

    answer = (ctx.call.input_responses or {}).get("config")
    if not isinstance(answer, dict):
        return None
    if answer.get("action") != "accept":
        return FormAnswer({}, declined=True)
    content = answer.get("content")
    return FormAnswer(content if isinstance(content, dict) else {})


async def add_server(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    from meta_mcp.operations import servers
    from meta_mcp.operations.outcomes import NeedsConfig

    if (refused := await _curate(ctx, args)) is not None:
        return refused
    answer = _answer(ctx)
    outcome = await servers.add_server(ctx.workspace, args["name"], spec=args.get("spec"), config=args.get("config"),
                                       answer=answer, origin=ctx.call.origin, via=args.get("via"))
    if isinstance(outcome, NeedsConfig) and ctx.call.can_elicit and answer is None and outcome.formable:
        return _form(outcome)
    return rendered(outcome)


async def remove_server(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    from meta_mcp.operations import servers

    return rendered(await servers.remove_server(ctx.workspace, args["name"]))


_CURATION_ARGS = ("tools", "rename", "descriptions")


async def _curate(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any] | None:
    """Store the call's curation options, if it has any; the result when that failed, else None."""
    if not any(key in args for key in _CURATION_ARGS):
        return None
    from meta_mcp.operations import servers

    outcome = await servers.curate_server(ctx.workspace, args["name"], **{k: args.get(k) for k in _CURATION_ARGS})
    return None if outcome.ok else rendered(outcome)


async def configure_server(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    from meta_mcp.operations import servers

    if "config" not in args:
        if not any(key in args for key in _CURATION_ARGS):
            return tool_error("configure_server: give config, or curation (tools, rename, descriptions)")
        outcome = await servers.curate_server(ctx.workspace, args["name"], **{k: args.get(k) for k in _CURATION_ARGS})
        return structured(outcome.data()) if isinstance(outcome, servers.Curated) else rendered(outcome)
    if (refused := await _curate(ctx, args)) is not None:
        return refused
    return rendered(await servers.configure_server(ctx.workspace, args["name"], args["config"],
                                                   origin=ctx.call.origin))


_NAME = {"type": "string", "pattern": NAME_PATTERN}
_SPEC = {  # an mcpServers entry; ServerSpec validates all of it, curation keys included
    "type": "object",
    "properties": {
        "command": {"type": "string"}, "args": {"type": "array", "items": {"type": "string"}},
        "env": {"type": "object", "additionalProperties": {"type": "string"}}, "cwd": {"type": "string"},
        "url": {"type": "string"}, "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "transport": {"enum": ["stdio", "http", "sse"]}, "prefix": {"type": "string"},
        "timeout": {"type": "number", "exclusiveMinimum": 0},
    },
}
_GLOBS = {"type": "array", "items": {"type": "string"}}
_CURATION = {  # a spec may carry these too (like a config file entry); the top-level arguments say the same
    "tools": {"type": "object", "properties": {"allow": _GLOBS, "deny": _GLOBS}, "additionalProperties": False,
              "description": "Globs of its tools' own names to expose; deny wins"},
    "rename": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1},
               "description": "{own name: new name}"},
    "descriptions": {"type": "object", "additionalProperties": {"type": "string"},
                     "description": "{own name: description shown}"},
}

ADD_SERVER = MetaTool(
    {
        "name": "add_server",
        "title": "Add a server",
        "description": "Start or connect a server: a catalog entry by name (find_servers; with config if it "
        "needs some), or any name plus spec (an mcpServers entry). Its tools appear as <server>__<tool>. "
        "Secrets come from meta-mcp's environment, never from chat.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "name": _NAME,
                "spec": _SPEC,
                "config": {"type": "object"},
                **_CURATION,
                "via": {"enum": ["local", "gateway"], "description": "Who runs a catalog server when a Docker MCP "
                        "Gateway is connected"},
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
        "description": "Stop or disconnect a server; its tools, resources and prompts disappear.",
        "inputSchema": {"type": "object", "properties": {"name": _NAME}, "required": ["name"]},
        "annotations": {"destructiveHint": True, "idempotentHint": True, "openWorldHint": False},
    },
    remove_server,
)

CONFIGURE_SERVER = MetaTool(
    {
        "name": "configure_server",
        "title": "Configure a server",
        "description": "Store a catalog server's config (merged, validated; restarts it if active), and/or change "
        "which of a server's tools are exposed and how. Not for secrets.",
        "inputSchema": {
            "type": "object",
            "properties": {"name": _NAME, "config": {"type": "object"}, **_CURATION},
            "required": ["name"],
        },
        "annotations": {"destructiveHint": False, "openWorldHint": False},
    },
    configure_server,
)
