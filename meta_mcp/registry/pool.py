"""Upstream connections shared between workspaces.

Two workspaces that add the identical server — same name and the same launch spec (command, args,
env, cwd, url, headers, transport, timeout) — share one upstream process or connection. The pool
counts who holds each one and stops it when the last holder releases it. The exposed prefix and the
curation of its tools are not part of the identity: they are each workspace's own business.

Example:
    a = pool.hold(spec); await pool.ready(a)      # starts the server
    b = pool.hold(spec); await pool.ready(b)      # the same provider: nothing started
    await pool.release(a); await pool.release(b)  # stopped now
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

import anyio.abc

from meta_mcp.config import CURATION_FIELDS, ServerSpec
from meta_mcp.providers.process import Prespawned
from meta_mcp.providers.upstream import UpstreamProvider
from meta_mcp.settings import Settings

ProviderFactory = Callable[[ServerSpec, Settings, anyio.abc.TaskGroup, Prespawned | None], UpstreamProvider]
"""Builds the (not yet started) provider of a spec; `UpstreamProvider` unless a test passes its own."""


def spec_key(spec: ServerSpec) -> str:
    """The identity of a launch: everything but the exposed prefix and the curation."""
    return json.dumps(spec.model_dump(exclude={"prefix", *CURATION_FIELDS}, mode="json"), sort_keys=True)


class UpstreamPool:
    """Reference-counted upstream providers (see the module docstring)."""

    def __init__(self, settings: Settings, task_group: anyio.abc.TaskGroup,
                 prespawned: Prespawned | None = None, provider_factory: ProviderFactory = UpstreamProvider,
                 *, environ: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.task_group = task_group
        self.prespawned = prespawned if prespawned is not None else Prespawned(environ or {})
        """Starts the stdio servers, adopting those the CLI started before the event loop. It gives them the
        safe part of its environment (`process.child_env`): the CLI's is `Prespawned(os.environ)`; without
        one, the pool makes one from `environ` (none by default: nothing below the CLI reads os.environ)."""
        self._factory = provider_factory
        self._providers: dict[str, UpstreamProvider] = {}
        self._holders: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._providers)

    def hold(self, spec: ServerSpec) -> UpstreamProvider:
        """Take a hold on the provider for `spec`, creating it (not yet started) if nobody holds it."""
        key = spec_key(spec)
        provider = self._providers.get(key)
        if provider is None:
            provider = self._providers[key] = self._factory(spec, self.settings, self.task_group, self.prespawned)
            self._holders[key] = 0
        self._holders[key] += 1
        return provider

    async def ready(self, provider: UpstreamProvider) -> None:
        """Start `provider` if this is its first holder, else wait for its first attempt to finish."""
        await provider.start()

    async def release(self, provider: UpstreamProvider) -> None:
        """Drop one hold on `provider`; stop it when none are left."""
        key = spec_key(provider.spec)
        if self._providers.get(key) is not provider:
            return
        self._holders[key] -= 1
        if self._holders[key] > 0:
            return
        del self._providers[key], self._holders[key]
        await provider.stop()

    async def aclose(self) -> None:
        """Stop everything, including pre-spawned processes nobody adopted."""
        providers, self._providers, self._holders = list(self._providers.values()), {}, {}
        for provider in providers:
            await provider.stop()
        self.prespawned.kill_unclaimed()
