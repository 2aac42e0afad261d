"""Server operations: list, find, add, remove, restart and configure the servers of a workspace.

Semantics (every front door — meta tools, chat API, CLI — gets exactly these):
- `add_server(ws, name)` adds a catalog entry; with `spec` an ad-hoc server from one `mcpServers`
  entry. Secrets are looked up in the secrets chain and never taken as arguments; missing ones are
  `NeedsSecrets`. Config is the stored config, overlaid by `config`, overlaid by a form `answer`;
  what is still missing is `NeedsConfig` (the front door may ask for it and call again), what is
  invalid is `InvalidConfig`. On success the server is ready, its tools are exposed and every client
  of the workspace was told (`Added`); if it fails to start nothing is added (`DidNotStart`).
  Adding an active server again is `AlreadyActive` and changes nothing.
- `remove_server` stops (or, when another workspace shares it, releases) the server: `Removed`.
- `restart_server` stops a server and starts it again from the same launch spec: `Restarted`.
- `configure_server` validates against the entry's schema, stores the values (never secrets) and,
  if the server is active, restarts it with them: `Configured`.
- `curate_server` stores what the workspace exposes of a server's tools (`tools: {allow, deny}`,
  `rename`, `descriptions`; laid over its config entry's own) and re-applies it at once: `Curated`.
- `find_servers` (ranked catalog search) is in `operations.catalog`, `curate_server` in
  `operations.curation`, the config form's answer and state in `operations.forms`; all are imported
  from here too.
- With a Docker MCP Gateway (`--gateway`), `find_servers` merges its catalog (`mcp-find`) into one
  ranked list, and a catalog server that cannot run here without Docker (or any name, with
  `via="gateway"`) is added, removed and configured through the gateway: see `operations.gateway`
  for the rule and the per-workspace reference counts.

Example:
    outcome = await add_server(ws, "fs", config={"paths": ["/tmp"]})
    match outcome:
        case Added(tools=tools): ...
        case NeedsConfig(fields=fields): ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from meta_mcp.auth.context import current_caller
from meta_mcp.auth.policy import Rules
from meta_mcp.config import ServerSpec
from meta_mcp.operations import gateway as gateway_ops
from meta_mcp.operations.catalog import Found as Found
from meta_mcp.operations.catalog import active_secrets as active_secrets
from meta_mcp.operations.catalog import find_servers as find_servers
from meta_mcp.operations.catalog import secret_status as secret_status
from meta_mcp.operations.curation import Curated as Curated
from meta_mcp.operations.curation import curate_server as curate_server
from meta_mcp.operations.endpoints import endpoint_refusal
from meta_mcp.operations.forms import FormAnswer
from meta_mcp.operations.forms import form_server as form_server
from meta_mcp.operations.forms import form_state as form_state
from meta_mcp.operations.outcomes import (
    AddOutcome,
    Added,
    AlreadyActive,
    CannotRun,
    CatalogUnavailable,
    ConfigureOutcome,
    Configured,
    Declined,
    DidNotStart,
    InvalidConfig,
    InvalidSpec,
    NeedsConfig,
    Refused,
    NotActive,
    NotConfigurable,
    NotRestartable,
    NotSaved,
    RemoveOutcome,
    Removed,
    Restarted,
    RestartOutcome,
    UnknownServer,
)
from meta_mcp.operations.workspace import Workspace
from meta_mcp.providers.base import Origin
from meta_mcp.providers.gateway import GatewayConnection
from meta_mcp.services.catalog.plan import Launch, plan_launch, resolve_secrets
from meta_mcp.services.state import ServerRecord, StateError
from meta_mcp.services.telemetry import traced
from meta_mcp.settings import Settings
from meta_mcp.validation import pydantic_problems, schema_problems

if TYPE_CHECKING:
    from meta_mcp.services.catalog.model import CatalogEntry


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """One active server as `list_servers` shows it."""

    name: str
    status: str
    transport: str
    prefix: str
    tools: int
    resources: int
    prompts: int
    restarts: int
    last_error: str | None
    changed_tools: tuple[dict[str, Any], ...] = ()
    """Tools whose definition differs from the first one seen: {tool, status, diff} (see registry.pinning)."""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "transport": self.transport, "prefix": self.prefix,
                "tools": self.tools, "resources": self.resources, "prompts": self.prompts,
                "restarts": self.restarts, "last_error": self.last_error, "changed_tools": list(self.changed_tools)}



def list_servers(ws: Workspace) -> list[ServerInfo]:
    """The workspace's servers in the order they were added."""
    registry = ws.registry
    return [
        ServerInfo(name=p.name, status=p.status, transport=p.transport, prefix=registry.prefix_of(p.name),
                   tools=len(p.listing.tools), resources=len(p.listing.resources) + len(p.listing.resource_templates),
                   prompts=len(p.listing.prompts), restarts=p.restarts, last_error=p.last_error,
                   changed_tools=tuple(c.as_dict() for c in registry.changed_tools(p.name)))
        for p in registry.servers.values()
    ]



def adhoc_refusal(settings: Settings, origin: Origin, rules: Rules | None = None) -> str | None:
    """Why `origin` may not add a server from an ad-hoc spec (a command that runs as meta-mcp's user), or
    None when it may. The desktop's own user over stdio may. An HTTP client may when the policy for its
    role and workspace says `adhoc: true` (`rules`, see `meta_mcp.auth.policy`; where the policy says
    nothing, when META_MCP_ALLOW_ADHOC_HTTP is set). The agent's model only when META_MCP_ALLOW_ADHOC_AGENT
    is set and the policy does not say `adhoc: false` for its caller; sandbox code and anything else never."""
    if origin == "stdio":
        return None
    policy_says = rules.adhoc if rules is not None else None
    if origin in ("http", "agent") and policy_says is False:
        return ("the policy does not allow ad-hoc specs for this caller in this workspace (adhoc: false). "
                "Catalog servers can be added by name.")
    if origin == "http":
        return None if policy_says or settings.allow_adhoc_http else (
            "ad-hoc specs run a command as meta-mcp's user; the operator can allow them with `adhoc: true` in the "
            "config file's policy (for a role or workspace) or with META_MCP_ALLOW_ADHOC_HTTP=1. Catalog servers "
            "can be added by name.")
    if origin == "agent":
        return None if settings.allow_adhoc_agent else (
            "an agent's model may not start arbitrary commands (a prompt injection in any tool output reaches it); "
            "the operator can allow it with META_MCP_ALLOW_ADHOC_AGENT=1. Catalog servers can be added by name.")
    return f"ad-hoc specs are not accepted from {origin} callers."


@traced("add_server")
async def add_server(ws: Workspace, name: str, *, spec: dict[str, Any] | None = None,
                     config: dict[str, Any] | None = None, answer: FormAnswer | None = None,
                     origin: Origin = "internal", via: gateway_ops.Via | None = None) -> AddOutcome:
    """Add server `name` to the workspace (see the module docstring); `origin` is who asks (for policy);
    `via` forces where a catalog server runs ("local" or "gateway", see `operations.gateway`)."""
    registry = ws.registry
    if spec is None:
        name = _canonical(ws, name)
    if name in registry.servers:
        provider = registry.servers[name]
        return AlreadyActive(name, provider.status, tuple(registry.exposed_tools_of(name)))
    rules = current_caller().rules(ws.name)  # the policy for who asks (None: stdio's trusted user)
    if spec is not None:
        if (why := adhoc_refusal(ws.settings, origin, rules)) is not None:
            return Refused(name, why)
        try:
            server = ServerSpec.model_validate({**spec, "name": name})
        except ValidationError as exc:
            return InvalidSpec(name, tuple(pydantic_problems(exc, "spec")))
        return await _start(ws, server, ServerRecord(name=name, source="spec", spec=spec))
    if rules is not None and (why := rules.catalog_refusal(name)) is not None:
        return Refused(name, why)
    where = await gateway_ops.route(ws, name, via)
    if isinstance(where, CannotRun):
        return where
    if where is not None:
        outcome = await gateway_ops.add(ws, where, name, config, answer)
        if isinstance(outcome, Added):
            await ws.announce("servers")
        return outcome
    plan = await _plan_and_store(ws, name, config or {}, answer, origin)
    if not isinstance(plan, Launch):
        return plan
    return await _start_planned(ws, name, plan)


def _canonical(ws: Workspace, name: str) -> str:
    """The catalog's own name for `name` (an alias, or another capitalisation), else `name` unchanged."""
    from meta_mcp.services.catalog import CatalogError

    try:
        entry = ws.services.catalog.get(name)
    except CatalogError:
        return name
    return entry.name if entry is not None else name


def _catalog_entry(ws: Workspace, name: str, where: str = "catalog"
                   ) -> CatalogEntry | CatalogUnavailable | UnknownServer:
    """Catalog entry `name`; else `UnknownServer` (with close names; `where` as it says), or `CatalogUnavailable`
    when the catalog cannot be loaded."""
    from meta_mcp.services.catalog import CatalogError

    try:
        catalog = ws.services.catalog
    except CatalogError as exc:
        return CatalogUnavailable(str(exc))
    entry = catalog.get(name)
    return entry if entry is not None else UnknownServer(name, tuple(catalog.suggest(name)), where=where)


async def _plan_and_store(ws: Workspace, name: str, config: dict[str, Any], answer: FormAnswer | None,
                          origin: Origin) -> Launch | AddOutcome:
    """How catalog entry `name` launches with `config` (from `origin`) laid over its stored config and under
    the form's `answer`; a plan that launches has its config stored (what the server starts with is what is
    kept). A model may not move where the server sends its secrets (`endpoints.endpoint_refusal`)."""
    from meta_mcp.services.catalog import adocker_available

    entry = _catalog_entry(ws, name)
    if isinstance(entry, (CatalogUnavailable, UnknownServer)):
        return entry
    stored = await ws.services.state.get_config(ws.name, name)
    if (why := endpoint_refusal(entry, stored=stored, given=config, origin=origin)) is not None:
        return Refused(name, why)
    merged = {**stored, **config, **(answer.values if answer else {})}
    secrets = await resolve_secrets(entry, ws.services.secrets)
    plan = plan_launch(entry, merged, secrets, docker_available=await adocker_available())
    if isinstance(plan, NeedsConfig) and answer is not None and answer.declined:
        return Declined(name)
    if isinstance(plan, Launch):
        await ws.services.state.set_config(ws.name, name, plan.config)
    return plan


async def _start_planned(ws: Workspace, name: str, plan: Launch) -> Added | DidNotStart | NotSaved:
    """Start catalog server `name` as `plan` says, recorded with the plan's config."""
    return await _start(ws, plan.spec, ServerRecord(name=name, source="catalog", config=plan.config))


async def _start(ws: Workspace, spec: ServerSpec, record: ServerRecord) -> Added | DidNotStart | NotSaved:
    """Start `spec`; keep it only if it got ready and its record was saved (then other replicas are told)."""
    registry = ws.registry
    provider = await registry.add_server(spec)
    if provider.status != "ready":
        reason = provider.last_error or provider.status
        await registry.remove_server(spec.name, missing_ok=True)
        return DidNotStart(spec.name, reason)
    try:
        await ws.services.state.put_server(ws.name, record)
    except StateError as exc:
        await registry.remove_server(spec.name, missing_ok=True)
        return NotSaved(spec.name, str(exc))
    await ws.announce("servers")
    return Added(spec.name, provider.status, tuple(registry.exposed_tools_of(spec.name)))


@traced("remove_server")
async def remove_server(ws: Workspace, name: str) -> RemoveOutcome:
    """Stop or release server `name`; its tools, resources and prompts are gone for every client."""
    registry = ws.registry
    if name not in registry.servers:
        name = _canonical(ws, name)
    if name not in registry.servers:
        return NotActive(name, tuple(sorted(registry.servers)))
    if (view := gateway_ops.gateway_server(ws, name)) is not None:
        outcome = await gateway_ops.remove(ws, view, name)
        if isinstance(outcome, Removed):
            await ws.announce("servers")
        return outcome
    tools = tuple(registry.exposed_tools_of(name))
    try:
        await ws.services.state.delete_server(ws.name, name)
    except StateError as exc:
        return NotSaved(name, str(exc))
    await registry.remove_server(name)
    await ws.announce("servers")
    return Removed(name, tools)


@traced("restart_server")
async def restart_server(ws: Workspace, name: str) -> RestartOutcome:
    """Stop active server `name` and start it again from the same launch spec (record and config unchanged).

    A server another workspace shares keeps running for that workspace (this one lets go of it and takes
    it again). One that does not come back ready stays listed, failed, with its error (`Restarted.ok` is
    false); servers the Docker MCP Gateway runs are restarted there, not here (`NotRestartable`)."""
    registry = ws.registry
    if name not in registry.servers:
        name = _canonical(ws, name)
    provider = registry.servers.get(name)
    if provider is None:
        return NotActive(name, tuple(sorted(registry.servers)))
    spec = getattr(provider, "spec", None)
    if spec is None or gateway_ops.gateway_server(ws, name) is not None:
        return NotRestartable(name, "the Docker MCP Gateway runs it" if spec is not None else "it has no launch spec")
    await registry.remove_server(name)
    provider = await registry.add_server(spec)
    return Restarted(name, provider.status, tuple(registry.exposed_tools_of(name)),
                     None if provider.status == "ready" else provider.last_error)


@traced("configure_server")
async def configure_server(ws: Workspace, name: str, config: dict[str, Any], *, origin: Origin = "internal"
                           ) -> ConfigureOutcome | AddOutcome:
    """Validate and store `config` for catalog entry `name` (merged over what is stored); restart it
    with the new values when it is active. Nothing is stored when the values are invalid, or when a
    model-driven `origin` would move where the server sends its secrets (`Refused`)."""
    registry = ws.registry
    if (view := gateway_ops.gateway_server(ws, name)) is not None:
        return await gateway_ops.configure(ws, view.connection, name, config)
    if name not in registry.servers and isinstance(where := await gateway_ops.route(ws, _canonical(ws, name), None),
                                                   GatewayConnection):
        return await gateway_ops.configure(ws, where, _canonical(ws, name), config)
    entry = _catalog_entry(ws, name, where="configure")
    if isinstance(entry, UnknownServer) and name in registry.servers:
        return NotConfigurable(name)
    if isinstance(entry, (CatalogUnavailable, UnknownServer)):
        return entry
    name, state = entry.name, ws.services.state
    if name in registry.servers:
        record = (await state.servers(ws.name)).get(name)
        if record is None or record.source != "catalog":  # a spec or --config server that shares the name
            return NotConfigurable(name)
        return await _restart_with(ws, name, config, origin)
    stored = await state.get_config(ws.name, name)
    if (why := endpoint_refusal(entry, stored=stored, given=config, origin=origin)) is not None:
        return Refused(name, why, action="configure")
    merged = {**stored, **config}
    problems = schema_problems(entry.config_schema(), merged, partial=True)
    if problems:
        return InvalidConfig(name, tuple(problems))
    await state.set_config(ws.name, name, merged)
    return Configured(name, tuple(sorted(merged)), restarted=False)


async def _restart_with(ws: Workspace, name: str, config: dict[str, Any], origin: Origin
                        ) -> ConfigureOutcome | AddOutcome:
    """Restart active catalog server `name` with `config` merged over its stored config. The new config is
    planned first: if it cannot start (missing or invalid config, missing secrets), nothing changes."""
    plan = await _plan_and_store(ws, name, config, None, origin)
    if isinstance(plan, Refused):
        return Refused(name, plan.reason, action="configure")
    if not isinstance(plan, Launch):
        return plan
    await ws.registry.remove_server(name)
    outcome = await _start_planned(ws, name, plan)
    if isinstance(outcome, DidNotStart):
        await ws.services.state.delete_server(ws.name, name)
        return DidNotStart(name, outcome.reason, replaced=True)
    return Configured(name, tuple(sorted(plan.config)), restarted=True, tools=outcome.tools)
