"""The handle every operation takes: one workspace's registry and the process's services.

Example:
    ws = Workspace(workspaces.get("team-a"), services)
    await add_server(ws, "time")
"""

from __future__ import annotations

from dataclasses import dataclass

from meta_mcp.registry.registry import Registry
from meta_mcp.services import Services
from meta_mcp.settings import Settings


@dataclass(frozen=True, slots=True)
class Workspace:
    """One workspace as the operations see it."""

    registry: Registry
    services: Services

    @property
    def name(self) -> str:
        return self.registry.workspace

    @property
    def settings(self) -> Settings:
        return self.services.settings
