"""The handle every operation takes: one workspace's registry and the process's services.

Example:
    ws = Workspace(workspaces.get("team-a"), services)
    await add_server(ws, "time")
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from meta_mcp.registry.registry import Registry
from meta_mcp.services import Services
from meta_mcp.services.state import StateError
from meta_mcp.settings import Settings

logger = logging.getLogger(__name__)

Change = Literal["servers", "surface"]
"""What changed in a workspace, as other replicas are told: its servers (they reconcile from the
records), or what it keeps of their tools — pins, curation, approved definitions (they re-read those)."""


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

    async def announce(self, change: Change) -> None:
        """Tell other replicas that `change` happened here (see `operations.persistence.follow`). What was
        changed is saved already: when the feed is down they catch up once it is back (resync)."""
        try:
            await self.services.state.publish({"workspace": self.name, "kind": change})
        except StateError as exc:
            logger.warning("workspace %r: could not announce a change to other replicas: %s", self.name, exc)
