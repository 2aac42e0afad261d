"""Providers: sources of tools, resources and prompts (builtin meta tools, one per upstream server)."""

from meta_mcp.providers.base import CallContext, Listing, LogFn, ProgressFn, Provider, ProviderStatus, ToolError

__all__ = ["CallContext", "Listing", "LogFn", "ProgressFn", "Provider", "ProviderStatus", "ToolError"]
