"""The chat API front door (FastAPI): the seed's REST/SSE shapes over the shared operations.

- `app`: `build_api(workspaces, services)`, health and readiness;
- `servers`: `/mcp/find`, `/mcp/add`, `/mcp/remove`, `/mcp/servers`;
- `identity`: the workspace of a request (`X-MCP-Workspace`, the seed's `X-User-Id`);
- `errors`: outcomes and failures as status codes with JSON bodies.
"""
