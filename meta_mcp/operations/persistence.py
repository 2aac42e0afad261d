"""What survives a restart and what replicas share: the servers a workspace added at run time.

The server operations write a `ServerRecord` for each server added at run time (never a secret value)
and publish `{"workspace", "kind": "servers"}` on the store's change feed. This module reads them back:
- `restore(ws, skip)`: the launch specs of a workspace's records, for `Registry.preload` — a
  workspace is restored when it is first used (on start for "default"), so an HTTP deployment with
  many workspaces starts only what is used. Catalog records are planned again (their secrets come
  from the secrets chain now); one that cannot start any more (a secret unset since) is logged and
  kept, so it comes back once fixed. Servers of the `--config` file are never records (`skip`).
  Gateway records (`source="gateway"`) come back as their gateway views (`operations.gateway`).
- `follow(workspaces, store)`: applies the changes other replicas publish: servers whose record
  appeared are started, servers whose record is gone are stopped, servers whose record now launches
  differently (configured through another replica) are restarted with it; pins, curation and
  approved definitions changed there (`"kind": "surface"`) are read again and re-applied; every
  client of this replica is told, in both eras. After missed events (`RESYNC`) every live workspace is reconciled.

Example:
    registry.preload(lambda: restore(ws, skip={"time"}))
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import anyio
from pydantic import ValidationError

from meta_mcp.config import ServerSpec
from meta_mcp.operations.workspace import Workspace
from meta_mcp.services.state import ServerRecord, StateError, StateStore

logger = logging.getLogger(__name__)


async def spec_of(ws: Workspace, record: ServerRecord) -> ServerSpec | None:
    """How to start `record` now, or None (logged) when it cannot start."""
    if record.source == "spec" and record.spec is not None:
        try:
            return ServerSpec.model_validate({**record.spec, "name": record.name})
        except ValidationError as exc:
            logger.warning("workspace %r: stored server %r has an invalid spec: %s", ws.name, record.name, exc)
            return None
    # The gateway and the catalog are imported only for records that need them: most starts have none.
    if record.source == "gateway":  # its view adds it on the gateway again if the gateway lost it
        from meta_mcp.operations.gateway import restore_spec

        return restore_spec(ws, record)
    if record.source != "catalog":
        return None
    from meta_mcp.services.catalog import CatalogError, adocker_available
    from meta_mcp.services.catalog.plan import Launch, plan_launch, resolve_secrets

    try:
        entry = ws.services.catalog.get(record.catalog_name or record.name)
    except CatalogError as exc:
        logger.warning("workspace %r: cannot restore %r: %s", ws.name, record.name, exc)
        return None
    if entry is None:
        logger.warning("workspace %r: cannot restore %r: no longer in the catalog", ws.name, record.name)
        return None
    config = {**record.config, **await ws.services.state.get_config(ws.name, entry.name)}
    secrets = await resolve_secrets(entry, ws.services.secrets)
    plan = plan_launch(entry, config, secrets, docker_available=await adocker_available())
    if not isinstance(plan, Launch):
        logger.warning("workspace %r: cannot restore %r now: %s", ws.name, record.name, plan.message)
        return None
    return plan.spec


async def restore(ws: Workspace, skip: Iterable[str] = ()) -> list[ServerSpec]:
    """The specs of the workspace's records that are not active (nor in `skip`), in the order added."""
    skipped = set(skip) | set(ws.registry.servers)
    try:
        records = await ws.services.state.servers(ws.name)
    except StateError as exc:
        logger.error("workspace %r: cannot read its servers from the state store: %s", ws.name, exc)
        return []
    specs = []
    for record in records.values():
        if record.name not in skipped and (spec := await spec_of(ws, record)) is not None:
            specs.append(spec)
    if specs:
        logger.info("workspace %r: restoring %s", ws.name, ", ".join(s.name for s in specs))
    return specs


async def reconcile(ws: Workspace, owned: Callable[[str], bool]) -> None:
    """Make the workspace's record-managed servers match its records (another replica changed them).

    `owned(name)` says whether an active server is managed by records (not from the config file)."""
    records = await ws.services.state.servers(ws.name)
    registry = ws.registry
    for name in [n for n in registry.servers if owned(n) and n not in records]:
        logger.info("workspace %r: %r was removed by another replica", ws.name, name)
        await registry.remove_server(name, missing_ok=True)
    for record in records.values():
        active = registry.servers.get(record.name)
        if active is not None and not owned(record.name):
            continue
        spec = await spec_of(ws, record)
        if spec is None:
            continue
        if active is None and record.name not in registry.servers:
            logger.info("workspace %r: %r was added by another replica", ws.name, record.name)
            await registry.add_server(spec)
        elif registry.servers.get(record.name) is active and getattr(active, "spec", spec) != spec:
            logger.info("workspace %r: %r was reconfigured by another replica; restarting it", ws.name, record.name)
            await registry.remove_server(record.name, missing_ok=True)
            await registry.add_server(spec)


async def follow(live: Callable[[], Iterable[Workspace]], store: StateStore,
                 owned: Callable[[str, str], bool]) -> None:
    """Apply other replicas' changes as their events arrive, for as long as it runs (see the module doc)."""
    origin = store.origin
    while True:
        try:
            async with store.subscribe() as events:
                async for event in events:
                    if event.get("origin") == origin:
                        continue  # our own change, already applied (RESYNC has no origin)
                    kind = event.get("kind")
                    targets = [ws for ws in live() if kind == "resync" or ws.name == event.get("workspace")]
                    for ws in targets:
                        try:
                            if kind in ("servers", "resync"):
                                await reconcile(ws, lambda name, w=ws.name: owned(w, name))
                            if kind in ("surface", "resync"):
                                await ws.registry.reload_kept()
                        except StateError as exc:
                            logger.warning("workspace %r: cannot apply a change from another replica: %s",
                                           ws.name, exc)
        except StateError as exc:
            logger.warning("state change feed interrupted: %s; resubscribing", exc)
        await anyio.sleep(1)
