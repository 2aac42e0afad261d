"""Providers: sources of tools, resources and prompts (builtin meta tools, one per upstream server)."""

from meta_mcp.providers.base import Listing, ProgressFn, Provider, ProviderStatus, ToolError

__all__ = ["Listing", "ProgressFn", "Provider", "ProviderStatus", "ToolError"]
