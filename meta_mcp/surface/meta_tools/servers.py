"""Meta tool `list_servers`: the workspace's servers, their status and counts, and for a catalog server the
secrets it needs: whether each is set and in which source (never a value)."""

from __future__ import annotations

from typing import Any

from meta_mcp.surface.meta_tools.base import MetaContext, MetaTool, structured


async def list_servers(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    # Imported on first call: operations.servers pulls in the catalog and the gateway (see manage.py).
    from meta_mcp.operations.servers import active_secrets
    from meta_mcp.operations.servers import list_servers as list_op

    secrets = await active_secrets(ctx.workspace)
    servers = [s.as_dict() | ({"secrets": secrets[s.name]} if s.name in secrets else {}) for s in list_op(ctx.workspace)]
    return structured({"servers": servers})


LIST_SERVERS = MetaTool(
    {
        "name": "list_servers",
        "title": "List servers",
        "description": "The workspace's servers: status, tool counts, last error, changed tool definitions "
        "(with a diff), and whether a catalog server's secrets are set.",
        "inputSchema": {"type": "object", "properties": {}},
        "annotations": {"readOnlyHint": True, "openWorldHint": False},
    },
    list_servers,
)
