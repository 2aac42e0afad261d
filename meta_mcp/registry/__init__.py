"""The registry: the live set of components of a workspace, naming, routing and change notification."""

from meta_mcp.registry.registry import Registry

__all__ = ["Registry"]
