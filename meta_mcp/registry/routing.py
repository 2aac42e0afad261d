"""Routing: how a name or URI a caller uses finds the provider serving it, within one snapshot.

- A tool is found by its exposed name, else by an alias (`Snapshot.aliases`: `<server>__<tool>` as
  the server names it); a hidden tool (curation, quarantine) is found as `Hidden`, so every path can
  refuse it with the reason (`refused`); anything else is unknown.
- A resource is found by its exposed URI; else a `meta://<server>/<uri>` of an added server goes to
  that server (a URI it did not list: an expanded template); else a URI is taken as an unprefixed
  server's own (their URIs are not namespaced): the only such server's, or the first whose template's
  literal head it starts with.
- What nothing serves is a JSON-RPC `INVALID_PARAMS` error naming it, with close matches (`unknown`).

These are pure functions of a snapshot; waiting for preloaded servers before giving up is the
registry's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mcp import MCPError
from mcp_types import INVALID_PARAMS

from meta_mcp.providers.base import Provider
from meta_mcp.registry.snapshot import Hidden, Route, Snapshot
from meta_mcp.registry.uris import split_uri
from meta_mcp.validation import close_matches, did_you_mean


def find_tool(snapshot: Snapshot, name: str) -> tuple[str, Route] | Hidden | None:
    """(exposed name, route) of `name` (exposed or an alias), the `Hidden` record of a hidden tool, or None."""
    exposed = name if name in snapshot.tool_routes else snapshot.aliases.get(name)
    if exposed is not None:
        return exposed, snapshot.tool_routes[exposed]
    return snapshot.hidden.get(name)


def find_resource(snapshot: Snapshot, uri: str, servers: Mapping[str, Provider]) -> Route | None:
    """The route of resource `uri` (see the module docstring), or None; `servers` are the added ones by name."""
    if (route := snapshot.resource_routes.get(uri)) is not None:
        return route
    if (split := split_uri(uri)) is not None and split[0] in servers:
        return servers[split[0]], split[1]
    if len(snapshot.unprefixed) == 1:
        return snapshot.unprefixed[0], uri
    for provider in snapshot.unprefixed:
        for template in provider.listing.resource_templates:
            head = template["uriTemplate"].split("{", 1)[0]
            if head and uri.startswith(head):
                return provider, uri
    return None


def refused(name: str, hidden: Hidden) -> MCPError:
    """The error every call path answers for a hidden tool: which server's tool it is and why it is hidden."""
    return MCPError(INVALID_PARAMS, f"Tool {name!r} of server {hidden.server!r} is not available here: "
                    f"{hidden.reason}.")


def unknown(kind: str, name: str, known: Iterable[str]) -> MCPError:
    """The error for a `kind` ("tool", "prompt", …) nothing serves by `name`, suggesting close `known` names."""
    return MCPError(INVALID_PARAMS, f"Unknown {kind}: {name!r}.{did_you_mean(close_matches(name, known))}")
