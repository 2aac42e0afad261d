"""meta-mcp: an MCP server that aggregates MCP servers."""

__version__ = "0.1.0"
