"""The exposed surface: one immutable snapshot of every tool, resource and prompt, and their routes.

A `Snapshot` is rebuilt from the providers' listings whenever one changes and swapped in whole, so a
request always sees one consistent set: what `tools/list` returned is exactly what `tools/call`
routes. Wire dicts are passed through untouched except for the exposed `name` / `uri` /
`uriTemplate` (and a curated tool's description).

Tools come curated (`curation.curate`): hidden ones never get a route. A tool withheld after naming (its
definition changed and is quarantined, see `pinning`) keeps its name but no route either. Both are in
`hidden`, so every call path refuses them with the reason. `aliases` map the original
`<server>__<tool>` form (and `<prefix>__<tool>` before any shortening or rename) to the exposed name.
`all_tools` is every callable tool; `tools` is what `tools/list` shows (see `exposure`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from meta_mcp.providers.base import Provider
from meta_mcp.registry.naming import SEPARATOR, NameTable, base_name
from meta_mcp.registry.uris import exposed_uri

Route = tuple[Provider, str]
"""The provider serving an exposed component, and the component's own name or URI there."""


@dataclass(frozen=True, slots=True)
class ToolEntry:
    """One curated tool of a provider: its own name there, its name after renames, its wire definition,
    and why it is withheld (named, not routed), if it is."""

    original: str
    display: str
    wire: dict[str, Any]
    withheld: str | None = None


@dataclass(frozen=True, slots=True)
class Hidden:
    """A tool that exists upstream but is not callable here, and why."""

    server: str
    original: str
    reason: str
    exposed: str | None = None
    """Its exposed name when it has one (withheld tools keep theirs)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """A provider's part of the surface: its prefix, its curated tools and the tools curation hid."""

    provider: Provider
    prefix: str
    tools: Sequence[ToolEntry]
    denied: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True)
class Snapshot:
    """What clients see now. Lists are wire dicts under exposed names; routes map them back."""

    tools: list[dict[str, Any]] = field(default_factory=list)
    """What tools/list shows (every callable tool, or the exposed subset)."""
    tool_routes: dict[str, Route] = field(default_factory=dict)
    all_tools: list[dict[str, Any]] = field(default_factory=list)
    """Every callable tool, in listing order: what find_tools, run_code and agent_chat choose from."""
    aliases: dict[str, str] = field(default_factory=dict)
    """Other accepted names (`<server>__<tool>` as the server names it) → the exposed name."""
    hidden: dict[str, Hidden] = field(default_factory=dict)
    """Names (exposed, `<server>__<tool>`, `<prefix>__<tool>`) of tools that are not callable, and why."""
    resources: list[dict[str, Any]] = field(default_factory=list)
    resource_templates: list[dict[str, Any]] = field(default_factory=list)
    resource_routes: dict[str, Route] = field(default_factory=dict)
    unprefixed: tuple[Provider, ...] = ()
    prompts: list[dict[str, Any]] = field(default_factory=list)
    prompt_routes: dict[str, Route] = field(default_factory=dict)

    def listed_schema(self, name: str) -> dict[str, Any] | None:
        """The `inputSchema` tools/list shows for tool `name`, or None when it does not list it (computed once per
        snapshot: the SDK asks it on every 2026-era call with arguments, see `surface.server`)."""
        schemas = self.__dict__.get("_listed_schemas")
        if schemas is None:
            schemas = {tool["name"]: tool.get("inputSchema") for tool in self.tools}
            object.__setattr__(self, "_listed_schemas", schemas)
        return schemas.get(name)

    def signature(self) -> tuple[Any, Any, Any]:
        """A cheap value that differs when a client-visible list differs (tools, resources, prompts)."""
        return (self.tools, self.resources + self.resource_templates, self.prompts)


def build_snapshot(entries: Sequence[Entry], tool_names: NameTable, prompt_names: NameTable,
                   reserved: dict[str, str]) -> Snapshot:
    """Assemble the surface from provider entries, in priority order: earlier wins new clashes.

    `tools` of the result is every callable tool; the registry narrows it to the exposed subset."""
    tool_keys = tool_names.assign(
        ((e.provider.name, e.prefix, t.display) for e in entries for t in e.tools), reserved=reserved
    )
    prompt_keys = prompt_names.assign(
        (e.provider.name, e.prefix, t["name"]) for e in entries for t in e.provider.listing.prompts
    )

    tools: list[dict[str, Any]] = []
    tool_routes: dict[str, Route] = {}
    hidden: dict[str, Hidden] = {}
    denied: dict[str, Hidden] = {}
    withheld: set[str] = set()
    prompts: list[dict[str, Any]] = []
    prompt_routes: dict[str, Route] = {}
    resources: list[dict[str, Any]] = []
    templates: list[dict[str, Any]] = []
    resource_routes: dict[str, Route] = {}
    unprefixed: list[Provider] = []
    candidates: list[tuple[str, str]] = []

    for entry in entries:
        provider, prefix = entry.provider, entry.prefix
        server = provider.name
        for item in entry.tools:
            exposed = tool_keys[(server, item.display)]
            if exposed in tool_routes or exposed in withheld:
                continue  # a server listing the same tool twice (or renaming onto another): the first stands
            forms = _forms(server, prefix, item.original, item.display, tool_names)
            if item.withheld is not None:
                gone = Hidden(server, item.original, item.withheld, exposed)
                withheld.add(exposed)
                for name in (exposed, *forms):
                    hidden.setdefault(name, gone)
                continue
            wire = item.wire
            tools.append(wire if exposed == wire["name"] else {**wire, "name": exposed})
            tool_routes[exposed] = (provider, item.original)
            candidates.extend((form, exposed) for form in forms if form != exposed)
        for original, why in entry.denied:
            gone = Hidden(server, original, why)
            for name in _forms(server, prefix, original, original, tool_names):
                denied.setdefault(name, gone)
        listing = provider.listing
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

    for name, gone in denied.items():
        hidden.setdefault(name, gone)
    aliases: dict[str, str] = {}
    for form, exposed in candidates:
        if form not in tool_routes and form not in hidden:
            aliases.setdefault(form, exposed)
    for name in list(hidden):
        if name in tool_routes:
            del hidden[name]  # a routed tool's name is never refused
    return Snapshot(
        tools=tools,
        tool_routes=tool_routes,
        all_tools=tools,
        aliases=aliases,
        hidden=hidden,
        resources=resources,
        resource_templates=templates,
        resource_routes=resource_routes,
        unprefixed=tuple(unprefixed),
        prompts=prompts,
        prompt_routes=prompt_routes,
    )


def _forms(server: str, prefix: str, original: str, display: str, names: NameTable) -> tuple[str, ...]:
    """The other names a caller may use for a tool: `<server>__<tool>` and `<prefix>__<tool>` as the
    server names it (before characters are replaced or the name shortened), and with its new name."""
    forms = [f"{server}{SEPARATOR}{original}", f"{prefix}{SEPARATOR}{original}" if prefix else original,
             base_name(prefix, original, names.policy)]
    if display != original:
        forms += [f"{server}{SEPARATOR}{display}", f"{prefix}{SEPARATOR}{display}" if prefix else display]
    return tuple(dict.fromkeys(forms))
