"""Which workspace a chat-API request acts on.

The seed's `X-User-Id` header selects the workspace, like `X-MCP-Workspace` (which wins when both are
sent); without either, the default workspace. A user id that is not a valid workspace name (an email,
say) is mapped to `user-<sha256[:16]>`, deterministic and collision-resistant. (The authentication
issue will bind both headers to a verified identity.)

Example:
    workspace_name({"x-user-id": "alice@example.com"}, "X-MCP-Workspace")   # → "user-3c…"
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from meta_mcp.registry.workspaces import DEFAULT
from meta_mcp.validation import NAME_RE

USER_HEADER = "X-User-Id"


def workspace_name(headers: Mapping[str, str], workspace_header: str) -> str:
    explicit = headers.get(workspace_header.lower()) or headers.get(workspace_header)
    if explicit:
        return explicit  # validated by Workspaces.get, like on /mcp
    user = headers.get(USER_HEADER.lower()) or headers.get(USER_HEADER)
    if not user:
        return DEFAULT
    if NAME_RE.match(user):
        return user
    return "user-" + hashlib.sha256(user.encode("utf-8", "surrogatepass")).hexdigest()[:16]
