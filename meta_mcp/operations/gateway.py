"""The server operations' Docker MCP Gateway side: where a server runs, and find/add/remove/configure there.

Where a server runs (`route`) — the rule, also in the README ("Using Docker's MCP Toolkit"):
1. an ad-hoc `spec` always runs locally (it never reaches this module);
2. a catalog entry of ours that runs here without Docker — a local command found on PATH, or a
   remote URL — runs locally: meta-mcp supervises it and gives it secrets from its own chain;
3. otherwise, when a gateway is configured, the gateway runs it (`mcp-add`): Docker images run best
   in Docker's own runtime, with Docker's secrets and OAuth; this includes names our catalog lacks;
4. otherwise our catalog's own plan (a local `docker run` when an engine answers, else `CannotRun`).
`add_server(…, via="local" | "gateway")` forces (2/4) or (3); "gateway" without a gateway is `CannotRun`.

Gateway servers and workspaces: the gateway's state is global; a workspace sees a server added there
only through its own view (`providers.gateway`), exposed as `<server>__<tool>`. Every workspace that
adds it takes a reference (`state.incr_ref("gateway:<server>")`, which survives restarts); removing
it drops the reference, and `mcp-remove` reaches the gateway only when the last one is gone. Records
are `ServerRecord(source="gateway")`, so restore and replicas bring the views back
(`persistence.spec_of`), and the view adds the server on the gateway again if needed.

Outcomes are the same types as for local servers: `mcp-add`'s missing secrets → `GatewayNeedsSecrets`
(a `NeedsSecrets` naming `docker mcp secret set <name>`, never asked for in chat), its missing config
→ `NeedsConfig` (the form asks; the answer goes to `mcp-config-set`, then `mcp-add` again), invalid
config (ours or the gateway's validation, field by field) → `InvalidConfig`, not in its catalog →
`UnknownServer`, any other refusal or a gateway that is not connected → `DidNotStart`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal


from meta_mcp.operations.outcomes import (
    AddOutcome,
    Added,
    CannotRun,
    ConfigField,
    ConfigureOutcome,
    Configured,
    Declined,
    DidNotStart,
    GatewayNeedsSecrets,
    InvalidConfig,
    NeedsConfig,
    NotSaved,
    RemoveOutcome,
    Removed,
    SecretNeed,
    UnknownServer,
)
from meta_mcp.operations.workspace import Workspace
from meta_mcp.providers.gateway import GatewayConnection, GatewayError, GatewayView
from meta_mcp.providers.gateway.texts import AddedTools, AddRefused, Missing, NotInCatalog, config_schema
from meta_mcp.services.catalog.describe import config_fields
from meta_mcp.services.docker_secrets import DockerSecrets
from meta_mcp.services.state import ServerRecord, StateError
from meta_mcp.validation import schema_problems

if TYPE_CHECKING:
    from meta_mcp.config import ServerSpec
    from meta_mcp.operations.forms import FormAnswer
    from meta_mcp.services.catalog.model import CatalogEntry

logger = logging.getLogger(__name__)

Via = Literal["local", "gateway"]
DOCKER_STORE = "Docker's MCP secret store"
RRF_K = 60
"""Reciprocal-rank fusion constant: our catalog's ranking and the gateway's are merged by 1/(K + rank)."""


def ref_key(server: str) -> str:
    """The state store's reference count of a gateway server (workspaces holding it)."""
    return f"gateway:{server}"


# -- finding the gateway and the entry -----------------------------------------------------------------

async def gateway_of(ws: Workspace) -> GatewayConnection | None:
    """The gateway connection as this workspace sees it (through its views), or None when there is none."""
    if not ws.settings.gateway:
        return None
    found = _connection_in(ws)
    if found is None:  # the workspace was just made: its root view is being added
        await ws.registry.wait_preloaded()
        found = _connection_in(ws)
    return found


def _connection_in(ws: Workspace) -> GatewayConnection | None:
    for provider in ws.registry.servers.values():
        if isinstance(provider, GatewayView):
            return provider.connection
    return None


def gateway_server(ws: Workspace, name: str) -> GatewayView | None:
    """The view of gateway server `name` when this workspace holds it."""
    provider = ws.registry.servers.get(name)
    return provider if isinstance(provider, GatewayView) and provider.server is not None else None


def _entry(ws: Workspace, name: str) -> CatalogEntry | None:
    from meta_mcp.services.catalog import CatalogError

    try:
        return ws.services.catalog.get(name)
    except CatalogError:
        return None


def _suggestions(ws: Workspace, name: str) -> tuple[str, ...]:
    from meta_mcp.services.catalog import CatalogError

    try:
        return tuple(ws.services.catalog.suggest(name))
    except CatalogError:
        return ()


def runs_without_docker(entry: CatalogEntry) -> bool:
    """Rule 2: our entry starts here without Docker (a command on PATH, or a remote URL)."""
    return entry.choose(False)[0] is not None


async def route(ws: Workspace, name: str, via: Via | None) -> GatewayConnection | CannotRun | None:
    """Where `add_server(name)` runs it (see the module docstring): the gateway, or None for locally."""
    gateway = await gateway_of(ws)
    if via == "local" or (via is None and gateway is None):
        return None
    if gateway is None:
        return CannotRun(name, "via='gateway' needs a Docker MCP Gateway: start meta-mcp with --gateway URL (or "
                         "--gateway docker); none is configured in this workspace")
    entry = _entry(ws, name) if via is None else None
    return None if entry is not None and runs_without_docker(entry) else gateway


# -- config ------------------------------------------------------------------------------------------

async def _config_items(ws: Workspace, gateway: GatewayConnection, name: str) -> list[Any]:
    """Docker's `config:` items of `name`: our catalog's, else the gateway's (`mcp-find`), else none."""
    entry = _entry(ws, name)
    if entry is not None and entry.config:
        return list(entry.config)
    try:
        hits = await gateway.find(name, 10)
    except GatewayError:
        return []
    for hit in hits:
        if hit["name"] == name:
            return list(hit.get("config_schema") or [])
    return []


def _as_entry(name: str, items: list[Any]) -> CatalogEntry:
    """Docker's config items as the gateway applies them (the config object must satisfy every item: their
    fields merge flat) in the shape of one of our entries, for its config helpers."""
    from meta_mcp.services.catalog.model import CatalogEntry

    schema = config_schema(items)
    return CatalogEntry(name=name, title=name, config=[{**schema, "name": name}] if schema else [])


def _missing_fields(entry: CatalogEntry, config: dict[str, Any]) -> tuple[ConfigField, ...]:
    return tuple(ConfigField(name=m["name"], type=m["type"], description=m["description"])
                 for m in entry.missing_config(config))


async def _set_config(ws: Workspace, gateway: GatewayConnection, name: str, config: dict[str, Any],
                      where: str = "catalog") -> InvalidConfig | UnknownServer | DidNotStart | None:
    """Validate `config` (our check, then the gateway's) and send it with `mcp-config-set`; None when accepted."""
    entry = _as_entry(name, await _config_items(ws, gateway, name))
    problems = schema_problems(entry.config_schema(), config, partial=True)
    if problems:
        return InvalidConfig(name, tuple(problems))
    try:
        result = await gateway.set_config(name, config)
    except GatewayError as exc:
        return DidNotStart(name, str(exc))
    if result.not_found:
        return UnknownServer(name, _suggestions(ws, name), where=where)
    if result.problems:
        return InvalidConfig(name, result.problems)
    return None


# -- add / remove / configure -----------------------------------------------------------------------

async def add(ws: Workspace, gateway: GatewayConnection, name: str, config: dict[str, Any] | None,
              answer: FormAnswer | None) -> AddOutcome:
    """Add `name` through the gateway for this workspace (see the module docstring)."""
    state = ws.services.state
    merged = {**await state.get_config(ws.name, name), **(config or {}), **(answer.values if answer else {})}
    if merged:
        entry = _as_entry(name, await _config_items(ws, gateway, name))
        if missing := _missing_fields(entry, merged):  # never send half a config: the gateway keeps one object
            return Declined(name) if answer is not None and answer.declined else NeedsConfig(name, missing)
        if (refused := await _set_config(ws, gateway, name, merged)) is not None:
            return refused
    try:
        result = await gateway.add(name)
    except GatewayError as exc:
        return DidNotStart(name, str(exc))
    if isinstance(result, NotInCatalog):
        return UnknownServer(name, _suggestions(ws, name))
    if isinstance(result, AddRefused):
        return DidNotStart(name, f"the Docker MCP Gateway refused it: {result.reason}")
    if isinstance(result, Missing):
        return await _missing(ws, gateway, name, result, merged, answer)
    if merged:
        await state.set_config(ws.name, name, merged)
    return await _hold(ws, gateway, name, ServerRecord(name=name, source="gateway", config=merged), result)


async def _missing(ws: Workspace, gateway: GatewayConnection, name: str, result: Missing, config: dict[str, Any],
                   answer: FormAnswer | None) -> AddOutcome:
    """`mcp-add` named missing secrets (they win: only the user can set them) or config."""
    if result.secrets:
        entry = _entry(ws, name)
        refs = {s.name: s for s in entry.secrets} if entry is not None else {}
        needs = tuple(SecretNeed(env=refs[n].env, name=n, description=refs[n].description or "") if n in refs
                      else SecretNeed(env="", name=n) for n in result.secrets)
        chain = ws.services.secrets
        pushable = tuple([s.name for s in needs if await chain.get(s.env or s.name) or await chain.get(s.name)])
        commands = tuple(f"docker mcp secret set {n}" for n in result.secrets)
        return GatewayNeedsSecrets(name, needs, DOCKER_STORE, commands, pushable)
    invalid = tuple(f"{item}: {why}" for item, why in result.config if why != "missing")
    if invalid:
        return InvalidConfig(name, invalid)
    if answer is not None and answer.declined:
        return Declined(name)
    fields = _missing_fields(_as_entry(name, await _config_items(ws, gateway, name)), config)
    return NeedsConfig(name, fields or tuple(ConfigField(name=item, type="object") for item, _ in result.config))


async def _hold(ws: Workspace, gateway: GatewayConnection, name: str, record: ServerRecord,
                result: AddedTools) -> Added | DidNotStart | NotSaved:
    """The gateway has `name`: show it in this workspace, take a reference and save the record."""
    registry, state = ws.registry, ws.services.state
    view = await registry.add_server(gateway.server_spec(name))
    if view.status != "ready":
        await registry.remove_server(name)
        return DidNotStart(name, view.last_error or view.status)
    try:
        await state.incr_ref(ref_key(name))
    except StateError as exc:
        await registry.remove_server(name)
        return NotSaved(name, str(exc))
    try:
        await state.put_server(ws.name, record)
    except StateError as exc:
        await registry.remove_server(name)
        await release(ws, gateway, name)
        return NotSaved(name, str(exc))
    if result.note:
        logger.info("gateway server %r: %s", name, result.note)
    return Added(name, view.status, tuple(registry.exposed_tools_of(name)))


async def release(ws: Workspace, gateway: GatewayConnection, name: str) -> None:
    """Drop this workspace's reference to gateway server `name`; the last one removes it from the gateway."""
    try:
        left = await ws.services.state.decr_ref(ref_key(name))
    except StateError as exc:
        logger.warning("gateway server %r: cannot update its reference count (%s); it stays on the gateway",
                       name, exc)
        return
    if left == 0:
        await gateway.remove(name)


async def remove(ws: Workspace, view: GatewayView, name: str) -> RemoveOutcome:
    """Remove gateway server `name` from this workspace (and from the gateway when no workspace holds it)."""
    tools = tuple(ws.registry.exposed_tools_of(name))
    try:
        await ws.services.state.delete_server(ws.name, name)
    except StateError as exc:
        return NotSaved(name, str(exc))
    await ws.registry.remove_server(name)
    await release(ws, view.connection, name)
    return Removed(name, tools)


async def configure(ws: Workspace, gateway: GatewayConnection, name: str, config: dict[str, Any]
                    ) -> ConfigureOutcome | AddOutcome:
    """Store `config` (merged over what is stored) for gateway server `name` and send it (`mcp-config-set`)."""
    state = ws.services.state
    merged = {**await state.get_config(ws.name, name), **config}
    if (refused := await _set_config(ws, gateway, name, merged, where="configure")) is not None:
        return refused
    await state.set_config(ws.name, name, merged)
    return Configured(name, tuple(sorted(merged)), restarted=False)


# -- find --------------------------------------------------------------------------------------------

async def merge_found(ws: Workspace, gateway: GatewayConnection, query: str, limit: int,
                      ours: list[tuple[CatalogEntry, dict[str, Any]]]) -> tuple[dict[str, Any], ...]:
    """Our catalog's hits and the gateway's (`mcp-find`) as one ranked list, one entry per server name, each
    saying where it would run (`runs.kind`: command, remote, docker-gateway) and, for each secret and
    config field, whether it is set and where."""
    theirs: list[dict[str, Any]] = []
    if gateway.ready:
        try:
            theirs = await gateway.find(query, limit)
        except GatewayError as exc:
            logger.warning("find_servers: the gateway's mcp-find failed: %s", exc)
    merged: dict[str, dict[str, Any]] = {}
    for rank, (entry, described) in enumerate(ours):
        merged[entry.name.lower()] = {"entry": entry, "ours": described, "score": 1 / (RRF_K + rank + 1)}
    for rank, hit in enumerate(theirs):
        item = merged.setdefault(hit["name"].lower(), {"score": 0.0})
        item["gateway"] = hit
        item["score"] += 1 / (RRF_K + rank + 1)
    ranked = sorted(merged.values(), key=lambda i: -i["score"])[:limit]
    docker = next((s for s in ws.services.secrets.sources if isinstance(s, DockerSecrets)), None)
    in_docker = await docker.names() if docker is not None else None
    return tuple([await _describe(ws, gateway, item, in_docker) for item in ranked])


async def _describe(ws: Workspace, gateway: GatewayConnection, item: dict[str, Any],
                    in_docker: frozenset[str] | None) -> dict[str, Any]:
    """One merged hit; gateway secrets are set when Docker's store has them (None: that cannot be known)."""
    entry: CatalogEntry | None = item.get("entry")
    hit: dict[str, Any] | None = item.get("gateway")
    sources = [s for s, key in (("catalog", "ours"), ("gateway", "gateway")) if key in item]
    name = entry.name if entry is not None else str(hit["name"] if hit else "")
    stored = await ws.services.state.get_config(ws.name, name)
    if entry is not None and runs_without_docker(entry):  # rule 2: it runs here (secrets: our chain's, as described)
        out = dict(item["ours"])
    else:
        image = entry.image if entry is not None else None
        out = {
            "name": name,
            "title": entry.title if entry is not None else name,
            "description": (entry.description if entry is not None else "") or (hit or {}).get("description") or "",
            "runs": {"kind": "docker-gateway", "gateway": gateway.where, **({"image": image} if image else {})},
            "runs_here": gateway.ready,
            "why_not": None if gateway.ready else gateway.unavailable(),
            "secrets": [{"name": s.name, "env": s.env, "required": s.required} for s in entry.secrets]
            if entry is not None else [{"name": n, "env": None, "required": True}
                                       for n in (hit or {}).get("required_secrets") or []],
            "config": config_fields(_as_entry(name, list(entry.config) if entry is not None else
                                              (hit or {}).get("config_schema") or [])),
            "tags": list(entry.tags) if entry is not None else [],
        }
        out["secrets"] = [{**s, "set": None if in_docker is None else s["name"] in in_docker,
                           "source": DockerSecrets.name if in_docker is not None and s["name"] in in_docker else None}
                          for s in out["secrets"]]
    out["config"] = [{**f, "set": stored.get(f["name"]) not in (None, "", [], {})} for f in out["config"]]
    out.update(score=round(item["score"], 4), active=name in ws.registry.servers, sources=sources)
    return out


def restore_spec(ws: Workspace, record: ServerRecord) -> ServerSpec | None:
    """The view spec of a gateway record (its view adds the server on the gateway again if needed)."""
    if not ws.settings.gateway:
        logger.warning("workspace %r: cannot restore %r: it ran in the Docker MCP Gateway and no gateway is "
                       "configured (--gateway)", ws.name, record.name)
        return None
    return GatewayConnection.server_spec(record.catalog_name or record.name)

