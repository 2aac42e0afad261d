"""The exposed surface: one immutable snapshot of every tool, resource and prompt, and their routes.

A `Snapshot` is rebuilt from the providers' listings whenever one changes and swapped in whole, so a
request always sees one consistent set: what `tools/list` returned is exactly what `tools/call`
routes. Wire dicts are passed through untouched except for the exposed `name` / `uri` /
`uriTemplate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from meta_mcp.providers.base import Provider
from meta_mcp.registry.naming import NameTable
from meta_mcp.registry.uris import exposed_uri

Route = tuple[Provider, str]
"""The provider serving an exposed component, and the component's own name or URI there."""


@dataclass(frozen=True)
class Snapshot:
    """What clients see now. Lists are wire dicts under exposed names; routes map them back."""

    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_routes: dict[str, Route] = field(default_factory=dict)
    resources: list[dict[str, Any]] = field(default_factory=list)
    resource_templates: list[dict[str, Any]] = field(default_factory=list)
    resource_routes: dict[str, Route] = field(default_factory=dict)
    unprefixed: tuple[Provider, ...] = ()
    prompts: list[dict[str, Any]] = field(default_factory=list)
    prompt_routes: dict[str, Route] = field(default_factory=dict)

    def signature(self) -> tuple[Any, Any, Any]:
        """A cheap value that differs when a client-visible list differs (tools, resources, prompts)."""
        return (self.tools, self.resources + self.resource_templates, self.prompts)


def build_snapshot(
    entries: Sequence[tuple[Provider, str]], tool_names: NameTable, prompt_names: NameTable, reserved: dict[str, str]
) -> Snapshot:
    """Assemble the surface from (provider, prefix) entries, in priority order: earlier wins new clashes."""
    tool_keys = tool_names.assign(
        ((p.name, prefix, t["name"]) for p, prefix in entries for t in p.listing.tools), reserved=reserved
    )
    prompt_keys = prompt_names.assign((p.name, prefix, t["name"]) for p, prefix in entries for t in p.listing.prompts)

    tools: list[dict[str, Any]] = []
    tool_routes: dict[str, Route] = {}
    prompts: list[dict[str, Any]] = []
    prompt_routes: dict[str, Route] = {}
    resources: list[dict[str, Any]] = []
    templates: list[dict[str, Any]] = []
    resource_routes: dict[str, Route] = {}
    unprefixed: list[Provider] = []

    for provider, prefix in entries:
        listing = provider.listing
        for tool in listing.tools:
            exposed = tool_keys[(provider.name, tool["name"])]
            if exposed in tool_routes:
                continue  # a server listing the same tool twice: the first entry stands
            tools.append(tool if exposed == tool["name"] else {**tool, "name": exposed})
            tool_routes[exposed] = (provider, tool["name"])
        for prompt in listing.prompts:
            exposed = prompt_keys[(provider.name, prompt["name"])]
            if exposed in prompt_routes:
                continue
            prompts.append(prompt if exposed == prompt["name"] else {**prompt, "name": exposed})
            prompt_routes[exposed] = (provider, prompt["name"])
        if not (listing.resources or listing.resource_templates):
            continue
        if not prefix:
            unprefixed.append(provider)
        for resource in listing.resources:
            uri = resource["uri"]
            exposed = uri
            if prefix or uri in resource_routes or uri.startswith("meta://"):
                exposed = exposed_uri(provider.name, uri)
            if exposed in resource_routes:
                continue
            resources.append(resource if exposed == uri else {**resource, "uri": exposed})
            resource_routes[exposed] = (provider, uri)
        for template in listing.resource_templates:
            original = template["uriTemplate"]
            exposed = original if not prefix else exposed_uri(provider.name, original)
            templates.append(template if exposed == original else {**template, "uriTemplate": exposed})

    return Snapshot(
        tools=tools,
        tool_routes=tool_routes,
        resources=resources,
        resource_templates=templates,
        resource_routes=resource_routes,
        unprefixed=tuple(unprefixed),
        prompts=prompts,
        prompt_routes=prompt_routes,
    )
