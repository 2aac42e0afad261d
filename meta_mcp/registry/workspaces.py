"""Workspaces: one registry (active servers, names, clients to notify) per workspace.

Over stdio there is one workspace, "default". Over HTTP each request names its workspace in a header
(`X-MCP-Workspace` by default, see settings); clients in different workspaces see different active
sets and are notified only of their own workspace's changes. Upstreams are shared through the
`UpstreamPool` when two workspaces add the identical server.

The registry does not know the meta tools: whoever builds `Workspaces` passes `builtin`, which makes
the provider of unprefixed, reserved tools (the meta tools) for each new registry.

Example:
    workspaces = Workspaces(settings, pool, builtin=lambda registry: MetaToolsProvider(…))
    registry = workspaces.get("team-a")
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from meta_mcp.providers.base import Provider
from meta_mcp.registry.pool import UpstreamPool
from meta_mcp.registry.registry import Registry
from meta_mcp.settings import Settings
from meta_mcp.validation import NAME_RE, NAME_RULE

DEFAULT = "default"


class Workspaces:
    """Registries by workspace name, created on first use, each with the `builtin` provider."""

    def __init__(self, settings: Settings, pool: UpstreamPool,
                 builtin: Callable[[Registry], Provider] | None = None) -> None:
        self.settings = settings
        self.pool = pool
        self._builtin = builtin
        self._registries: dict[str, Registry] = {}

    def __iter__(self) -> Iterator[Registry]:
        return iter(self._registries.values())

    def get(self, name: str = DEFAULT) -> Registry:
        """The registry of workspace `name` (which must match `validation.NAME_RE`)."""
        registry = self._registries.get(name)
        if registry is None:
            if not NAME_RE.match(name):
                raise ValueError(f"invalid workspace name {name!r}: {NAME_RULE}")
            registry = Registry(self.settings, self.pool, workspace=name)
            if self._builtin is not None:
                registry.add_builtin(self._builtin(registry))
            self._registries[name] = registry
        return registry

    async def aclose(self) -> None:
        for registry in self._registries.values():
            await registry.aclose()
        await self.pool.aclose()
