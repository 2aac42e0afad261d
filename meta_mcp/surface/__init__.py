"""The surface: the MCP server hosts connect to (stdio and streamable HTTP)."""
