"""Meta tool over the server catalog: `find_servers` (ranked search of servers one could add).

For each hit: name, title, description, how it runs (local command, remote URL, Docker image, or
through the Docker MCP Gateway, whose catalog is merged in when one is configured),
whether it can run on this machine (and why not), required secrets (name and environment variable
only — never values), config fields, and whether it is already active in this workspace. The result
is structuredContent plus a readable text rendering of the same list. An adapter over
`operations.servers.find_servers`.

Failure modes: a catalog that cannot be loaded (a broken `--catalog` file) is a tool error naming
the file, entry and field; an empty result is not an error.

Example:
    find_servers(query="what time is it in Tokyo", limit=3)
    → {"query": "…", "servers": [{"name": "time", "runs": {"kind": "command", …}, "runs_here": true, …}]}
"""

from __future__ import annotations

from typing import Any

from meta_mcp.surface.meta_tools.base import MetaContext, MetaTool, rendered


def _text(query: str, servers: list[dict[str, Any]], size: int) -> str:
    if not servers:
        return (f"No server in the catalog ({size} entries) matches {query!r}. Try other words, or add a server "
                "that is not in the catalog with add_server(name=…, spec={'command': …} or {'url': …}).")
    lines = [f"Servers matching {query!r}, best first (add one with add_server(name=…)):"]
    for rank, s in enumerate(servers, 1):
        runs = s["runs"]
        gateway = runs["kind"] == "docker-gateway"
        how = runs.get("command") or runs.get("url") or runs.get("gateway") or runs.get("image") or "?"
        state = "ACTIVE" if s["active"] else ("can run here" if s["runs_here"] else f"cannot run here: {s['why_not']}")
        lines.append(f"{rank}. {s['name']} — {s['title']} [{state}]")
        if s["description"]:
            lines.append(f"   {s['description']}")
        lines.append(f"   runs: {runs['kind']}: {how}")
        if s["secrets"]:
            where = "Docker's secret store: docker mcp secret set NAME" if gateway else "meta-mcp's environment"
            lines.append(f"   needs secrets (set in {where}): "
                         + ", ".join(_secret(x, gateway) for x in s["secrets"] if x["required"]))
        required = [f"{f['name']} ({f['type']})" for f in s["config"] if f["required"]]
        if required:
            lines.append("   required config: " + ", ".join(required))
    return "\n".join(lines)


def _secret(secret: dict[str, Any], gateway: bool) -> str:
    """A required secret as the text lists it: its name, and whether it is set (when that is known)."""
    name = secret["name"] if gateway or not secret.get("env") else secret["env"]
    if "set" not in secret or secret["set"] is None:
        return name
    return f"{name} (set, {secret['source']})" if secret["set"] else f"{name} (not set)"


async def find_servers(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    # Imported on first call: the operations and the catalog they load are not needed to serve the first request.
    from meta_mcp.operations import servers as ops
    from meta_mcp.operations.outcomes import CatalogUnavailable

    query: str = args["query"]
    found = await ops.find_servers(ctx.workspace, query, args.get("limit", 10))
    if isinstance(found, CatalogUnavailable):
        return rendered(found)
    servers = list(found.servers)
    data = {"query": query, "servers": servers}
    return {"content": [{"type": "text", "text": _text(query, servers, found.catalog_size)}], "structuredContent": data}


FIND_SERVERS = MetaTool(
    {
        "name": "find_servers",
        "title": "Find servers",
        "description": "Search the catalog of servers you can add by what you want to do: how each runs, whether "
        "it can run here, the secrets and config it needs. Add one with add_server.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 1},
                "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
            },
            "required": ["query"],
        },
        "outputSchema": {
            "type": "object",
            "properties": {"query": {"type": "string"}, "servers": {"type": "array", "items": {"type": "object"}}},
            "required": ["query", "servers"],
        },
        "annotations": {"readOnlyHint": True, "openWorldHint": False},
    },
    find_servers,
)
