"""meta-mcp built in process: workspaces, services and the MCP server, over fake upstreams.

`open_env(tmp_path, catalog=…, secrets=…, **settings)` wires what `surface.run.running_workspaces`
wires (a pool, `Workspaces` whose registries carry the meta tools, `Services`), except that the pool
makes its providers with `FakeUpstreams`, the catalog is only the given one (written to `tmp_path` in
Docker's format) and secrets come only from the given mapping. Clients are the SDK's in-process
`Client(server)`: `mode="legacy"` speaks the 2025-11-25 handshake, `mode="auto"` 2026-07-28.

Over HTTP a request's workspace is chosen by the `X-MCP-Workspace` header; in process there are no
headers, so `Env.client(workspace=…)` talks to a server built over a view of the workspaces that
serves every request from that one workspace.

`hearing(env, mode)` opens a client that records the list-changed notifications it hears, in order,
as "tools" / "prompts" / "resources": a handshake client through its message handler, a 2026 client
through a `subscriptions/listen` stream. To show that a change was *not* heard, make a change of
another kind afterwards as a marker and wait for it: notifications arrive in order, so once the
marker is heard anything sent before it has been heard too.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import yaml
from mcp import Client
from mcp.server import Server
from mcp.shared.subscriptions import PromptsListChanged, ResourcesListChanged, ToolsListChanged
from support import make_client

from meta_mcp.config import ServerSpec
from meta_mcp.operations.workspace import Workspace
from meta_mcp.providers.base import Provider
from meta_mcp.registry.pool import UpstreamPool
from meta_mcp.registry.registry import Registry
from meta_mcp.registry.workspaces import DEFAULT, Workspaces
from meta_mcp.services import Services
from meta_mcp.services.secrets import ChainSecrets, EnvSecrets
from meta_mcp.services.state import MemoryStore
from meta_mcp.settings import Settings
from meta_mcp.surface.meta_tools import META_TOOLS, MetaToolsProvider
from meta_mcp.surface.server import build_server

from .fakes import FakeUpstreams

META_TOOL_NAMES = tuple(t.name for t in META_TOOLS)


def write_catalog(path: Path, catalog: dict[str, Any] | str) -> Path:
    """A catalog file: `{"registry": entries}` as YAML, or `catalog` verbatim when it is text."""
    path.write_text(catalog if isinstance(catalog, str) else yaml.safe_dump({"registry": catalog}))
    return path


class _OneWorkspace:
    """`Workspaces` as a server sees them when every request belongs to workspace `name`."""

    def __init__(self, workspaces: Workspaces, name: str) -> None:
        self.settings = workspaces.settings
        self._workspaces = workspaces
        self._name = name

    def get(self, name: str = DEFAULT) -> Registry:
        return self._workspaces.get(self._name)


@dataclass
class Env:
    """One in-process meta-mcp (see the module docstring)."""

    settings: Settings
    services: Services
    workspaces: Workspaces
    upstreams: FakeUpstreams
    server: Server[Any]
    _servers: dict[str, Server[Any]] = field(default_factory=dict)

    def registry(self, workspace: str = DEFAULT) -> Registry:
        return self.workspaces.get(workspace)

    def ws(self, workspace: str = DEFAULT) -> Workspace:
        """The operations' handle on `workspace`."""
        return Workspace(self.registry(workspace), self.services)

    def server_for(self, workspace: str) -> Server[Any]:
        """A server whose every request is served by `workspace` (the header's job over HTTP)."""
        if workspace == DEFAULT:
            return self.server
        if workspace not in self._servers:
            self._servers[workspace] = build_server(_OneWorkspace(self.workspaces, workspace))  # type: ignore[arg-type]
        return self._servers[workspace]

    def client(self, mode: str = "legacy", *, workspace: str = DEFAULT, **kwargs: Any) -> Client:
        """An in-process client (cache off) of `workspace`; `kwargs` go to `Client`."""
        return make_client(self.server_for(workspace), mode, **kwargs)

    async def add(self, name: str, *, workspace: str = DEFAULT, **spec: Any) -> Provider:
        """Add server `name` straight to the registry (a fake when `upstreams.define`d)."""
        spec.setdefault("command", "fake-upstream")
        return await self.registry(workspace).add_server(ServerSpec(name=name, **spec))


@contextlib.asynccontextmanager
async def open_env(tmp_path: Path, *, catalog: dict[str, Any] | str | None = None,
                   secrets: dict[str, str] | None = None, **overrides: Any) -> AsyncIterator[Env]:
    """An in-process meta-mcp; everything it started is stopped on exit."""
    catalogs = [write_catalog(tmp_path / "catalog.yaml", catalog)] if catalog is not None else []
    settings = Settings(_env_file=None, builtin_catalog=False, catalogs=catalogs,  # type: ignore[call-arg]
                        docker_catalog_dir=tmp_path / "no-docker-catalogs", **overrides)
    services = Services(settings=settings, secrets=ChainSecrets([EnvSecrets(secrets or {}, None)]),
                        state=MemoryStore())
    upstreams = FakeUpstreams()

    def meta_tools(registry: Registry) -> MetaToolsProvider:
        return MetaToolsProvider(Workspace(registry, services), META_TOOLS)

    async with anyio.create_task_group() as tg:
        pool = UpstreamPool(settings, tg, provider_factory=upstreams)
        workspaces = Workspaces(settings, pool, builtin=meta_tools)
        try:
            yield Env(settings, services, workspaces, upstreams, build_server(workspaces))
        finally:
            services.close()  # pooled Deno processes of run_code must not outlive the test
            with anyio.CancelScope(shield=True):
                await workspaces.aclose()
            tg.cancel_scope.cancel()


_KIND_OF_METHOD = {
    "notifications/tools/list_changed": "tools",
    "notifications/prompts/list_changed": "prompts",
    "notifications/resources/list_changed": "resources",
}
_KIND_OF_EVENT = {ToolsListChanged: "tools", PromptsListChanged: "prompts", ResourcesListChanged: "resources"}


class Heard:
    """The list-changed notifications one client heard, in order ("tools", "prompts", "resources")."""

    def __init__(self) -> None:
        self.kinds: list[str] = []
        self._arrived = anyio.Event()

    def record(self, kind: str | None) -> None:
        if kind is not None:
            self.kinds.append(kind)
            self._arrived.set()
            self._arrived = anyio.Event()

    async def on_message(self, message: Any) -> None:
        """A handshake client's `message_handler`."""
        self.record(_KIND_OF_METHOD.get(getattr(message, "method", None) or ""))

    async def wait_for(self, kind: str, count: int = 1, timeout: float = 5.0) -> None:
        """Return once `count` notifications of `kind` have been heard in all."""
        try:
            with anyio.fail_after(timeout):
                while self.kinds.count(kind) < count:
                    await self._arrived.wait()
        except TimeoutError:
            raise AssertionError(f"expected {count} {kind} list_changed in {timeout}s; heard {self.kinds}") from None


@contextlib.asynccontextmanager
async def hearing(env: Env, mode: str, *, workspace: str = DEFAULT, **kwargs: Any
                  ) -> AsyncIterator[tuple[Client, Heard]]:
    """A client of `workspace` in era `mode` and what it hears (see the module docstring)."""
    heard = Heard()
    if mode == "legacy":
        async with env.client(mode, workspace=workspace, message_handler=heard.on_message, **kwargs) as client:
            # The server tracks the connection when `notifications/initialized` is handled; a round
            # trip after it makes sure that has happened before the test changes anything.
            await client.list_tools()
            yield client, heard
        return

    async def pump(subscription: Any) -> None:
        async for event in subscription:
            heard.record(_KIND_OF_EVENT.get(type(event)))

    async with env.client(mode, workspace=workspace, **kwargs) as client:
        async with client.listen(tools_list_changed=True, prompts_list_changed=True,
                                 resources_list_changed=True) as subscription:
            async with anyio.create_task_group() as tg:
                tg.start_soon(pump, subscription)
                try:
                    yield client, heard
                finally:
                    tg.cancel_scope.cancel()
