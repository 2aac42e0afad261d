"""Fake providers for the in-process tier: listings and results the test controls.

- `FakeProvider`: a `Provider` built from a `ServerSpec` like an upstream. Its listing is what the
  test gave it; `await provider.update(tools=[...])` replaces it and announces the change through
  `Provider.changed()`, as an upstream's list_changed would. A tool call answers with who served it:
  structuredContent `{"server", "tool", "arguments"}`; prompts and resources answer the same way in
  text (`"<server>:<name>:<arguments as JSON>"`, `"<server>:<uri>"`). Every call is recorded in
  `calls`; `start()` / `stop()` are counted.
- `FakeUpstreams`: a provider factory for `UpstreamPool(provider_factory=…)`. A spec whose name was
  `define`d becomes a `FakeProvider`; any other spec gets the real `UpstreamProvider`, so "a command
  that does not exist" is a real failed start.
- `tool(name)`, `prompt(name)`, `resource(uri)`, `template(uri_template)`: minimal wire dicts.

Example:
    upstreams = FakeUpstreams()
    upstreams.define("alpha", tools=["echo"], errors={"echo": "crashed"})
    pool = UpstreamPool(settings, tg, provider_factory=upstreams)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import anyio.abc
from mcp import MCPError
from mcp_types import INVALID_PARAMS

from meta_mcp.config import ServerSpec
from meta_mcp.providers.base import NO_CONTEXT, CallContext, Listing, Provider, ToolError
from meta_mcp.providers.process import Prespawned
from meta_mcp.providers.upstream import UpstreamProvider
from meta_mcp.settings import Settings

Component = str | dict[str, Any]
"""A component given by name (or URI), or as its full wire dict."""


def tool(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "inputSchema": {"type": "object"}, **extra}


def prompt(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, **extra}


def resource(uri: str, **extra: Any) -> dict[str, Any]:
    return {"uri": uri, "name": uri.rsplit("/", 1)[-1], **extra}


def template(uri_template: str, **extra: Any) -> dict[str, Any]:
    return {"uriTemplate": uri_template, "name": uri_template.rsplit("/", 1)[-1], **extra}


def _wire(items: Iterable[Component], make: Any) -> tuple[dict[str, Any], ...]:
    return tuple(item if isinstance(item, dict) else make(item) for item in items)


class FakeProvider(Provider):
    """A provider whose listing and results the test controls (see the module docstring)."""

    def __init__(self, spec: ServerSpec, *, tools: Iterable[Component] = (), prompts: Iterable[Component] = (),
                 resources: Iterable[Component] = (), templates: Iterable[Component] = (),
                 errors: Mapping[str, str | MCPError] | None = None, fail: str | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.name = spec.name
        self.prefix = spec.effective_prefix
        self.transport = spec.transport
        self.status = "starting"
        self.errors = dict(errors or {})
        """Component name (or URI) → what a call of it raises: a `ToolError` with this message, or this
        `MCPError` (a protocol error, as an upstream answers one)."""
        self.fail = fail
        """When set, `start()` leaves the provider `failed` with this as its last error."""
        self.calls: list[tuple[str, str, Any]] = []
        """(kind, the provider's own name or URI, arguments) of every call, in order."""
        self.starts = 0
        self.stops = 0
        self.listing = Listing(tools=_wire(tools, tool), prompts=_wire(prompts, prompt),
                               resources=_wire(resources, resource), resource_templates=_wire(templates, template))

    async def update(self, *, tools: Iterable[Component] | None = None, prompts: Iterable[Component] | None = None,
                     resources: Iterable[Component] | None = None, templates: Iterable[Component] | None = None
                     ) -> None:
        """Replace the given parts of the listing and tell the listeners (like an upstream's list_changed)."""
        listing = self.listing
        if tools is not None:
            listing = replace(listing, tools=_wire(tools, tool))
        if prompts is not None:
            listing = replace(listing, prompts=_wire(prompts, prompt))
        if resources is not None:
            listing = replace(listing, resources=_wire(resources, resource))
        if templates is not None:
            listing = replace(listing, resource_templates=_wire(templates, template))
        self.listing = listing
        await self.changed()

    async def start(self) -> None:
        self.starts += 1
        if self.fail is not None:
            self.status, self.last_error = "failed", self.fail
        else:
            self.status = "ready"

    async def stop(self) -> None:
        self.stops += 1
        self.status = "stopped"

    def _serve(self, kind: str, name: str, arguments: Any, listed: Iterable[str]) -> None:
        self.calls.append((kind, name, arguments))
        error = self.errors.get(name)
        if isinstance(error, MCPError):
            raise error
        if error is not None:
            raise ToolError(f"Server {self.name!r} failed: {error}")
        if name not in listed:
            raise MCPError(INVALID_PARAMS, f"{self.name} has no {kind} {name!r}")

    async def call_tool(self, name: str, arguments: dict[str, Any] | None, call: CallContext = NO_CONTEXT
                        ) -> dict[str, Any]:
        self._serve("tool", name, arguments, [t["name"] for t in self.listing.tools])
        served = {"server": self.name, "tool": name, "arguments": arguments}
        return {"content": [{"type": "text", "text": json.dumps(served)}], "structuredContent": served}

    async def get_prompt(self, name: str, arguments: dict[str, str] | None, call: CallContext = NO_CONTEXT
                         ) -> dict[str, Any]:
        self._serve("prompt", name, arguments, [p["name"] for p in self.listing.prompts])
        text = f"{self.name}:{name}:{json.dumps(arguments, sort_keys=True)}"
        return {"messages": [{"role": "user", "content": {"type": "text", "text": text}}]}

    async def read_resource(self, uri: str, call: CallContext = NO_CONTEXT) -> dict[str, Any]:
        heads = [t["uriTemplate"].split("{", 1)[0] for t in self.listing.resource_templates]
        known = [r["uri"] for r in self.listing.resources] + [uri for head in heads if uri.startswith(head)]
        self._serve("resource", uri, None, known)
        return {"contents": [{"uri": uri, "text": f"{self.name}:{uri}"}]}


class FakeUpstreams:
    """A provider factory for `UpstreamPool`: fakes for `define`d names, real upstreams otherwise."""

    def __init__(self) -> None:
        self.blueprints: dict[str, dict[str, Any]] = {}
        self.created: list[Provider] = []
        """Every provider made, in order (the pool makes one per distinct launch spec)."""

    def define(self, name: str, **blueprint: Any) -> None:
        """Servers called `name` become `FakeProvider(spec, **blueprint)`."""
        self.blueprints[name] = blueprint

    def __call__(self, spec: ServerSpec, settings: Settings, task_group: anyio.abc.TaskGroup,
                 prespawned: Prespawned | None = None) -> Any:
        blueprint = self.blueprints.get(spec.name)
        provider: Provider = (FakeProvider(spec, **blueprint) if blueprint is not None
                              else UpstreamProvider(spec, settings, task_group, prespawned))
        self.created.append(provider)
        return provider

    def made(self, name: str) -> list[FakeProvider]:
        """The fake providers made for server `name`, oldest first."""
        return [p for p in self.created if isinstance(p, FakeProvider) and p.name == name]

    def last(self, name: str) -> FakeProvider:
        """The most recent fake provider made for server `name`."""
        made = self.made(name)
        assert made, f"no fake provider was made for {name!r} (made: {[p.name for p in self.created]})"
        return made[-1]
