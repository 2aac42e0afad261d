"""Which workspace a chat-API request acts on.

The seed's `X-User-Id` header selects the workspace, like `X-MCP-Workspace` (which wins when both are
sent); without either, `default` — the authenticated identity's own workspace (the default workspace
when authentication is off). A user id that is not a valid workspace name (an email, say) is mapped
to `user-<sha256[:16]>` (`identity.personal_workspace`), deterministic and collision-resistant. The
headers only choose among the identity's workspaces: the HTTP guard (`meta_mcp.auth.guard`) and the
API's workspace dependency answer 403 for any other.

Example:
    workspace_name({"x-user-id": "alice@example.com"}, "X-MCP-Workspace")   # → "user-3c…"
"""

from __future__ import annotations

from collections.abc import Mapping

from meta_mcp.identity import DEFAULT_WORKSPACE, personal_workspace

USER_HEADER = "X-User-Id"


def workspace_name(headers: Mapping[str, str], workspace_header: str, default: str = DEFAULT_WORKSPACE) -> str:
    explicit = headers.get(workspace_header.lower()) or headers.get(workspace_header)
    if explicit:
        return explicit  # validated by Workspaces.get, like on /mcp
    user = headers.get(USER_HEADER.lower()) or headers.get(USER_HEADER)
    if not user:
        return default
    return personal_workspace(user)
