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
from meta_mcp.registry.naming import SEPARATOR, Key, NameTable, base_name
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
        snapshot: the SDK asks it on every 2026-era call with arguments, see `surface.handlers`)."""
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
    draft = _Draft(tool_names)
    for entry in entries:
        draft.add_tools(entry, tool_keys)
        draft.add_denied(entry)
        draft.add_prompts(entry, prompt_keys)
        draft.add_resources(entry)
    return draft.finish()


@dataclass
class _Draft:
    """A snapshot being assembled, one entry after another: what an entry adds never displaces what an
    earlier one added (a name, a route, a URI)."""

    tool_names: NameTable
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_routes: dict[str, Route] = field(default_factory=dict)
    hidden: dict[str, Hidden] = field(default_factory=dict)
    """Withheld tools by every name a caller may use."""
    denied: dict[str, Hidden] = field(default_factory=dict)
    """Tools curation hid, by every name a caller may use (they yield to withheld ones)."""
    withheld: set[str] = field(default_factory=set)
    candidates: list[tuple[str, str]] = field(default_factory=list)
    """(another name a caller may use, the exposed name): aliases, unless the name is taken."""
    prompts: list[dict[str, Any]] = field(default_factory=list)
    prompt_routes: dict[str, Route] = field(default_factory=dict)
    resources: list[dict[str, Any]] = field(default_factory=list)
    templates: list[dict[str, Any]] = field(default_factory=list)
    resource_routes: dict[str, Route] = field(default_factory=dict)
    unprefixed: list[Provider] = field(default_factory=list)

    def add_tools(self, entry: Entry, keys: dict[Key, str]) -> None:
        """Route the entry's curated tools under their exposed names; withheld ones are named, not routed."""
        server = entry.provider.name
        for item in entry.tools:
            exposed = keys[(server, item.display)]
            if exposed in self.tool_routes or exposed in self.withheld:
                continue  # a server listing the same tool twice (or renaming onto another): the first stands
            forms = _forms(server, entry.prefix, item.original, item.display, self.tool_names)
            if item.withheld is not None:
                gone = Hidden(server, item.original, item.withheld, exposed)
                self.withheld.add(exposed)
                for name in (exposed, *forms):
                    self.hidden.setdefault(name, gone)
                continue
            wire = item.wire
            self.tools.append(wire if exposed == wire["name"] else {**wire, "name": exposed})
            self.tool_routes[exposed] = (entry.provider, item.original)
            self.candidates.extend((form, exposed) for form in forms if form != exposed)

    def add_denied(self, entry: Entry) -> None:
        """Note the tools curation hid, under every name a caller may use for them."""
        server = entry.provider.name
        for original, why in entry.denied:
            gone = Hidden(server, original, why)
            for name in _forms(server, entry.prefix, original, original, self.tool_names):
                self.denied.setdefault(name, gone)

    def add_prompts(self, entry: Entry, keys: dict[Key, str]) -> None:
        provider = entry.provider
        for prompt in provider.listing.prompts:
            exposed = keys[(provider.name, prompt["name"])]
            if exposed in self.prompt_routes:
                continue
            self.prompts.append(prompt if exposed == prompt["name"] else {**prompt, "name": exposed})
            self.prompt_routes[exposed] = (provider, prompt["name"])

    def add_resources(self, entry: Entry) -> None:
        """Resources under `meta://<server>/…` for a prefixed server; an unprefixed server keeps its URIs
        unless one is taken (or looks like ours). Templates are listed; their expansions are routed by URI."""
        provider, prefix, listing = entry.provider, entry.prefix, entry.provider.listing
        if not (listing.resources or listing.resource_templates):
            return
        if not prefix:
            self.unprefixed.append(provider)
        for resource in listing.resources:
            uri = resource["uri"]
            exposed = uri
            if prefix or uri in self.resource_routes or uri.startswith("meta://"):
                exposed = exposed_uri(provider.name, uri)
            if exposed in self.resource_routes:
                continue
            self.resources.append(resource if exposed == uri else {**resource, "uri": exposed})
            self.resource_routes[exposed] = (provider, uri)
        for template in listing.resource_templates:
            original = template["uriTemplate"]
            exposed = original if not prefix else exposed_uri(provider.name, original)
            self.templates.append(template if exposed == original else {**template, "uriTemplate": exposed})

    def finish(self) -> Snapshot:
        """The snapshot: a routed name is never refused, and an alias never shadows a routed or hidden name."""
        hidden = self.hidden
        for name, gone in self.denied.items():
            hidden.setdefault(name, gone)
        aliases: dict[str, str] = {}
        for form, exposed in self.candidates:
            if form not in self.tool_routes and form not in hidden:
                aliases.setdefault(form, exposed)
        for name in list(hidden):
            if name in self.tool_routes:
                del hidden[name]
        return Snapshot(
            tools=self.tools,
            tool_routes=self.tool_routes,
            all_tools=self.tools,
            aliases=aliases,
            hidden=hidden,
            resources=self.resources,
            resource_templates=self.templates,
            resource_routes=self.resource_routes,
            unprefixed=tuple(self.unprefixed),
            prompts=self.prompts,
            prompt_routes=self.prompt_routes,
        )


def _forms(server: str, prefix: str, original: str, display: str, names: NameTable) -> tuple[str, ...]:
    """The other names a caller may use for a tool: `<server>__<tool>` and `<prefix>__<tool>` as the
    server names it (before characters are replaced or the name shortened), and with its new name."""
    forms = [f"{server}{SEPARATOR}{original}", f"{prefix}{SEPARATOR}{original}" if prefix else original,
             base_name(prefix, original, names.policy)]
    if display != original:
        forms += [f"{server}{SEPARATOR}{display}", f"{prefix}{SEPARATOR}{display}" if prefix else display]
    return tuple(dict.fromkeys(forms))
