"""The catalog as a workspace sees it: ranked search, and whether each entry's secrets are set.

- `find_servers(ws, query)`: catalog entries matching `query`, best first, each saying how it runs,
  whether it runs here, whether it is active in the workspace and the status of its secrets; with a
  Docker MCP Gateway its catalog is merged into the same ranked list (`operations.gateway`).
- `secret_status(ws, entry)` / `active_secrets(ws)`: for each secret an entry declares, whether it is set
  and in which source of the secrets chain — never its value.

Example:
    found = await find_servers(ws, "what time is it in Tokyo", limit=3)
    found.servers[0]["name"], found.servers[0]["secrets"]     # "time", []
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio

from meta_mcp.operations import gateway as gateway_ops
from meta_mcp.operations.outcomes import CatalogUnavailable
from meta_mcp.operations.workspace import Workspace


@dataclass(frozen=True, slots=True)
class Found:
    """Catalog matches, best first: `describe()` dicts plus `score` and `active`."""

    query: str
    servers: tuple[dict[str, Any], ...]
    catalog_size: int

async def find_servers(ws: Workspace, query: str, limit: int = 10) -> Found | CatalogUnavailable:
    """Catalog entries matching `query`, best first, each saying how it runs and what it needs."""
    from meta_mcp.services.catalog import CatalogError, adocker_available
    from meta_mcp.services.catalog.describe import describe

    try:
        # First use loads and indexes the catalog files: keep that off the event loop.
        catalog = await anyio.to_thread.run_sync(lambda: ws.services.catalog)
        hits = await anyio.to_thread.run_sync(lambda: catalog.search(query, limit=limit))
    except CatalogError as exc:
        return CatalogUnavailable(str(exc))
    needs_docker = any(h.entry.image and h.entry.choose(False)[0] is None for h in hits)
    docker = await adocker_available() if needs_docker else False
    active = ws.registry.servers
    servers = tuple([{**describe(h.entry, docker_available=docker), "score": h.score, "active": h.entry.name in active,
                      "secrets": await secret_status(ws, h.entry)} for h in hits])
    if (gateway := await gateway_ops.gateway_of(ws)) is not None:  # its catalog too, one ranked list
        servers = await gateway_ops.merge_found(ws, gateway, query, limit, [(h.entry, s) for h, s in zip(hits, servers)])
    return Found(query, servers, len(catalog))


async def secret_status(ws: Workspace, entry: Any) -> list[dict[str, Any]]:
    """Each secret catalog entry `entry` declares — name, variable, required — with whether it is set and in
    which source of the secrets chain (`environment`, `dotenv`, `infisical`, …); never its value."""
    chain = ws.services.secrets
    status = []
    for secret in entry.secrets:
        source = await chain.where(secret.env, secret.name)
        status.append({"name": secret.name, "env": secret.env, "required": secret.required, "set": source is not None,
                       "source": source})
    return status


async def active_secrets(ws: Workspace) -> dict[str, list[dict[str, Any]]]:
    """`secret_status` of each active server that was added from the catalog and declares secrets, by name."""
    from meta_mcp.services.catalog import CatalogError

    records = await ws.services.state.servers(ws.name)
    status: dict[str, list[dict[str, Any]]] = {}
    for name in ws.registry.servers:
        record = records.get(name)
        if record is None or record.source != "catalog":
            continue
        try:
            entry = ws.services.catalog.get(name)
        except CatalogError:
            return status
        if entry is not None and entry.secrets:
            status[name] = await secret_status(ws, entry)
    return status
