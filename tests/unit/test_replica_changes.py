"""`operations.persistence.reconcile`: what another replica changed in a workspace's records is applied
here — added, removed, and (configured through the other replica) restarted with the new launch; a
server whose record launches as it runs is left alone, however often the feed says something changed."""

from __future__ import annotations

import pytest

from meta_mcp.operations import servers as ops
from meta_mcp.operations.outcomes import Added
from meta_mcp.operations.persistence import reconcile
from meta_mcp.services.state import ServerRecord

from .harness import Env

pytestmark = pytest.mark.anyio


def _owned(name: str) -> bool:
    return True


async def test_a_config_changed_by_another_replica_restarts_the_server_with_it(catalog_env: Env) -> None:
    ws, state = catalog_env.ws(), catalog_env.services.state
    assert isinstance(await ops.add_server(ws, "greeter", config={"greeting": "hej"}), Added)
    first = ws.registry.servers["greeter"]
    assert first.spec.env["GREETING"] == "hej"
    await reconcile(ws, _owned)  # nothing changed: nothing restarts
    assert ws.registry.servers["greeter"] is first and first.stops == 0

    # Replica B configured it: B wrote the record and the stored config, then published the change.
    await state.set_config(ws.name, "greeter", {"greeting": "hallo"})
    await state.put_server(ws.name, ServerRecord(name="greeter", source="catalog", config={"greeting": "hallo"}))
    await reconcile(ws, _owned)
    second = ws.registry.servers["greeter"]
    assert second is not first and first.stops == 1 and second.spec.env["GREETING"] == "hallo"
    assert second.spec.env["GREETER_TOKEN"] == first.spec.env["GREETER_TOKEN"]  # secrets from this replica's chain
    await reconcile(ws, _owned)
    assert ws.registry.servers["greeter"] is second and second.stops == 0


async def test_servers_not_managed_by_records_are_never_restarted(catalog_env: Env) -> None:
    ws, state = catalog_env.ws(), catalog_env.services.state
    provider = await catalog_env.add("greeter", env={"GREETING": "from the config file"})
    await state.put_server(ws.name, ServerRecord(name="greeter", source="catalog", config={"greeting": "x"}))
    await reconcile(ws, lambda name: name != "greeter")
    assert ws.registry.servers["greeter"] is provider and provider.stops == 0
