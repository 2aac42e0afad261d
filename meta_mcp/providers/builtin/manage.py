"""Meta tools that change the surface: `add_server`, `remove_server`, `configure_server`.

Semantics:
- `add_server(name)` adds a catalog entry; `add_server(name, spec={...})` adds an ad-hoc server from
  one `mcpServers` entry. Required secrets are looked up in the secrets source and never asked for
  in chat; missing ones are a tool error that names each variable and how to set it. Missing config
  is asked for through elicitation when the client supports it (a form with just the missing
  fields), otherwise it is a tool error listing each field and how to pass it.
- On success the server is running, its tools are listed to every client of the workspace, and the
  result names the added tools. If it fails to start, nothing is added and the error says why.
- Adding an active server again says so and changes nothing. An unknown name suggests close ones.
- `remove_server` stops (or, when another workspace shares it, just releases) the server; its
  tools, resources and prompts are gone from the lists and can no longer be called.
- `configure_server` validates against the entry's config schema, stores the values and, if the
  server is active, restarts it with them.
Config values are stored per workspace; secret values are never stored or echoed.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from meta_mcp.config import ServerSpec
from meta_mcp.providers.builtin.base import MetaContext, MetaTool, failure, structured
from meta_mcp.services.state import ServerRecord

_PRIMITIVE = {"string", "number", "integer", "boolean"}


class _Refusal(Exception):
    """Adding cannot proceed; the message is the tool error shown to the model."""


def _schema_errors(schema: dict[str, Any] | None, config: dict[str, Any], *, partial: bool = False) -> list[str]:
    """Problems with `config`; with `partial`, missing required fields are not problems (yet)."""
    if not schema:
        return []
    from jsonschema import Draft202012Validator  # off the start-up path

    errors = sorted(Draft202012Validator(schema).iter_errors(config), key=lambda e: list(e.path))
    if partial:
        errors = [e for e in errors if not (e.validator == "required" and not e.path)]
    return [f"{'.'.join(map(str, e.path)) or 'config'}: {e.message}" for e in errors]


def _elicitation(name: str, missing: list[dict[str, Any]]) -> dict[str, Any] | None:
    """An `input_required` result asking for `missing` config through a form, if a form can hold them."""
    if not missing or any(field.get("type", "string") not in _PRIMITIVE for field in missing):
        return None
    properties = {
        f["name"]: {"type": f.get("type", "string"), "title": f["name"], "description": f.get("description") or ""}
        for f in missing
    }
    request = {
        "method": "elicitation/create",
        "params": {
            "mode": "form",
            "message": f"Server {name!r} needs configuration before it can start.",
            "requestedSchema": {"type": "object", "properties": properties, "required": list(properties)},
        },
    }
    return {"resultType": "input_required", "inputRequests": {"config": request},
            "requestState": json.dumps({"server": name})}


def _elicited(ctx: MetaContext) -> tuple[dict[str, Any], bool]:
    """Config values the client gave in an elicitation round, and whether it declined."""
    answer = (ctx.call.input_responses or {}).get("config")
    if not isinstance(answer, dict):
        return {}, False
    if answer.get("action") != "accept":
        return {}, True
    content = answer.get("content")
    return (content if isinstance(content, dict) else {}), False


async def _catalog_spec(ctx: MetaContext, name: str, config: dict[str, Any]) -> tuple[ServerSpec, dict] | dict:
    """The launch spec of catalog entry `name` with `config`, or an `input_required` result."""
    from meta_mcp.services.catalog import CatalogError, adocker_available

    services = ctx.registry.services
    try:
        catalog = ctx.registry.catalog
    except CatalogError as exc:
        raise _Refusal(f"The server catalog cannot be loaded: {exc}") from None
    entry = catalog.get(name)
    if entry is None:
        close = catalog.suggest(name)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise _Refusal(f"Unknown server {name!r}: it is not in the catalog.{hint} Use find_servers to search the "
                       "catalog, or pass spec={'command': …} or spec={'url': …} to add a server that is not in it.")
    docker = await adocker_available()
    runs, why = entry.runs_here(docker)
    if not runs:
        raise _Refusal(f"Server {name!r} cannot run here: {why}")

    secrets: dict[str, str] = {}
    missing_secrets = []
    for ref in entry.secrets:
        value = await services.secrets.get(ref.env)
        if value is None:
            if ref.required:
                missing_secrets.append(ref)
        else:
            secrets[ref.env] = value
    if missing_secrets:
        lines = "\n".join(
            f"- {ref.env} (secret {ref.name}){': ' + ref.description if ref.description else ''}"
            for ref in missing_secrets
        )
        raise _Refusal(
            f"Server {name!r} needs secrets that are not set:\n{lines}\nSet each as an environment variable of "
            "meta-mcp (or in its .env file) and restart meta-mcp, then call add_server again. Secrets are "
            "never taken through chat or tool arguments."
        )

    elicited, declined = _elicited(ctx)
    config = {**config, **elicited}
    errors = _schema_errors(entry.config_schema(), config, partial=True)
    missing = entry.missing_config(config)
    if missing and not errors:
        if declined:
            raise _Refusal(f"Configuration for {name!r} was declined; nothing was added.")
        if ctx.call.can_elicit and not elicited and (ask := _elicitation(name, missing)) is not None:
            return ask
        lines = "\n".join(f"- {f['name']} ({f.get('type', 'string')}): {f.get('description') or ''}" for f in missing)
        example = json.dumps({f["name"]: f"<{f.get('type', 'string')}>" for f in missing})
        raise _Refusal(f"Server {name!r} needs configuration:\n{lines}\nPass it as add_server(name={name!r}, "
                       f"config={example}) or store it first with configure_server.")
    if errors:
        raise _Refusal(f"Invalid config for {name!r}:\n" + "\n".join(f"- {e}" for e in errors))
    try:
        return entry.launch(config, secrets, docker_available=docker), config
    except CatalogError as exc:
        raise _Refusal(f"Server {name!r} cannot be started: {exc}") from None


def _adhoc_spec(name: str, spec: dict[str, Any]) -> ServerSpec:
    try:
        return ServerSpec.model_validate({**spec, "name": name})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg']}" for e in exc.errors())
        raise _Refusal(f"Invalid spec for {name!r}: {problems}") from None


async def _start(ctx: MetaContext, spec: ServerSpec, record: ServerRecord) -> dict[str, Any]:
    registry = ctx.registry
    provider = await registry.add_server(spec)
    if provider.status != "ready":
        reason = provider.last_error or provider.status
        await registry.remove_server(spec.name)
        return failure(f"Server {spec.name!r} did not start: {reason}. Nothing was added.")
    state = registry.services.state
    await state.put_server(registry.workspace, record)
    tools = registry.exposed_tools_of(spec.name)
    return structured({"server": spec.name, "status": provider.status, "added": True, "tools": tools,
                       "message": f"Added {spec.name!r} with {len(tools)} tools; clients were notified."})


async def add_server(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    name: str = args["name"]
    registry = ctx.registry
    if name in registry.servers:
        provider = registry.servers[name]
        return structured({"server": name, "status": provider.status, "added": False,
                           "tools": registry.exposed_tools_of(name),
                           "message": f"Server {name!r} is already active; nothing changed."})
    state = registry.services.state
    try:
        if args.get("spec") is not None:
            spec = _adhoc_spec(name, args["spec"])
            record = ServerRecord(name=name, source="spec", spec=args["spec"])
            return await _start(ctx, spec, record)
        stored = await state.get_config(registry.workspace, name)
        prepared = await _catalog_spec(ctx, name, {**stored, **(args.get("config") or {})})
    except _Refusal as exc:
        return failure(str(exc))
    if isinstance(prepared, dict):
        return prepared  # input_required: ask the client for the missing config
    spec, config = prepared
    await state.set_config(registry.workspace, name, config)
    return await _start(ctx, spec, ServerRecord(name=name, source="catalog", config=config))


async def remove_server(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    name: str = args["name"]
    registry = ctx.registry
    if name not in registry.servers:
        active = ", ".join(sorted(registry.servers)) or "none"
        return failure(f"Server {name!r} is not active in this workspace (active: {active}).")
    tools = registry.exposed_tools_of(name)
    await registry.remove_server(name)
    await registry.services.state.delete_server(registry.workspace, name)
    return structured({"server": name, "removed": True, "tools": tools,
                       "message": f"Removed {name!r}; its {len(tools)} tools are gone and clients were notified."})


async def configure_server(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    name: str = args["name"]
    registry = ctx.registry
    services = registry.services
    from meta_mcp.services.catalog import CatalogError

    try:
        catalog = registry.catalog
    except CatalogError as exc:
        return failure(f"The server catalog cannot be loaded: {exc}")
    entry = catalog.get(name)
    if entry is None:
        if name in registry.servers:
            return failure(f"Server {name!r} was added from a spec, not the catalog: remove it and add it again "
                           "with a new spec to change its configuration.")
        close = catalog.suggest(name)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return failure(f"Unknown server {name!r}: it is not in the catalog.{hint}")
    config = {**await services.state.get_config(registry.workspace, name), **args["config"]}
    errors = _schema_errors(entry.config_schema(), config, partial=True)
    if errors:
        return failure(f"Invalid config for {name!r}; nothing was stored:\n" + "\n".join(f"- {e}" for e in errors))
    await services.state.set_config(registry.workspace, name, config)
    if name not in registry.servers:
        return structured({"server": name, "stored": sorted(config), "restarted": False,
                           "message": f"Stored config for {name!r}; it applies when the server is added."})
    await registry.remove_server(name)
    result = await add_server(ctx, {"name": name})
    if result.get("isError"):
        return result
    data = result["structuredContent"]
    return structured({"server": name, "stored": sorted(config), "restarted": True, "tools": data["tools"],
                       "message": f"Stored config for {name!r} and restarted it with {len(data['tools'])} tools."})


_NAME = {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$", "description": "Server name"}
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
