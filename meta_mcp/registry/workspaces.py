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

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from meta_mcp.providers.base import Provider
from meta_mcp.registry.interceptors import Interceptor
from meta_mcp.registry.pool import UpstreamPool
from meta_mcp.registry.registry import Registry
from meta_mcp.settings import Settings
from meta_mcp.validation import NAME_RE, NAME_RULE

DEFAULT = "default"
logger = logging.getLogger(__name__)


class TooManyWorkspaces(ValueError):
    """No workspace can be created: `max_workspaces` are live and none of them is idle."""


class Workspaces:
    """Registries by workspace name, created on first use, each with the `builtin` provider."""

    def __init__(self, settings: Settings, pool: UpstreamPool,
                 builtin: Callable[[Registry], Provider] | None = None,
                 on_create: Callable[[Registry], None] | None = None,
                 interceptors: Sequence[Interceptor] = (), scrub: Callable[[Any], Any] | None = None) -> None:
        self.settings = settings
        self.pool = pool
        self.interceptors = list(interceptors)
        """What every tool call of every workspace passes through (see `registry.interceptors`)."""
        self.scrub = scrub
        """What every prompt and resource read passes through (secret values masked: `Redactor.scrub`)."""
        self._builtin = builtin
        self._on_create = on_create
        """Called with each new registry (meta-mcp restores the workspace's servers from its state)."""
        self._registries: OrderedDict[str, Registry] = OrderedDict()
        """Least recently used first."""

    def __iter__(self) -> Iterator[Registry]:
        return iter(self._registries.values())

    def get(self, name: str = DEFAULT) -> Registry:
        """The registry of workspace `name` (which must match `validation.NAME_RE`).

        Creating one past `max_workspaces` first drops the least recently used idle workspace (no
        servers, no connected clients: nothing is lost, it is made anew on its next use); when none
        is idle, `TooManyWorkspaces`."""
        registry = self._registries.get(name)
        if registry is not None:
            self._registries.move_to_end(name)
            return registry
        if not NAME_RE.match(name):
            raise ValueError(f"invalid workspace name {name!r}: {NAME_RULE}")
        if len(self._registries) >= self.settings.max_workspaces:
            self._evict_idle()
        registry = Registry(self.settings, self.pool, workspace=name, interceptors=self.interceptors,
                            scrub=self.scrub)
        if self._builtin is not None:
            registry.add_builtin(self._builtin(registry))
        self._registries[name] = registry
        if self._on_create is not None:
            self._on_create(registry)
        return registry

    def _evict_idle(self) -> None:
        for name, registry in self._registries.items():
            if name != DEFAULT and not registry.servers and not registry.notifier.has_clients:
                del self._registries[name]
                logger.debug("workspace %r dropped (idle, over max_workspaces)", name)
                return
        raise TooManyWorkspaces(f"too many workspaces ({len(self._registries)} live, none idle); the limit is "
                                "META_MCP_MAX_WORKSPACES")

    async def aclose(self) -> None:
        for registry in self._registries.values():
            await registry.aclose()
        await self.pool.aclose()
