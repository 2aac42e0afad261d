"""Curation of a server's tools in a workspace: what it exposes of them, under which names and descriptions.

`curate_server(ws, name, tools={allow, deny}, rename=…, descriptions=…)` stores the workspace's curation
of server `name` (replacing what was stored, laid over its config entry's own) and re-applies it at
once: hidden tools are gone from every call path and clients are told. It answers `Curated`, or
`InvalidSpec` / `NotSaved`.

Example:
    outcome = await curate_server(ws, "github", tools={"allow": ["search_*"]})
    outcome.tools, outcome.hidden            # exposed names now, the tools it hides
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from meta_mcp.operations.outcomes import InvalidSpec, NotSaved
from meta_mcp.operations.workspace import Workspace
from meta_mcp.services.state import StateError
from meta_mcp.validation import pydantic_problems


@dataclass(frozen=True, slots=True)
class Curated:
    """What `curate_server` did: the curation is stored; when the server is active, its tools now."""

    server: str
    active: bool
    tools: tuple[str, ...] = ()
    """Exposed names of its callable tools now."""
    hidden: tuple[str, ...] = ()
    """Its tools (own names) that curation hides now."""
    ok = True

    @property
    def message(self) -> str:
        if not self.active:
            return f"Stored the curation of {self.server!r}; it applies when the server is added."
        return (f"Curated {self.server!r}: {len(self.tools)} tools exposed, {len(self.hidden)} hidden; clients were "
                "notified.")

    def data(self) -> dict[str, Any]:
        return {"outcome": "curated", "server": self.server, "active": self.active, "tools": list(self.tools),
                "hidden": list(self.hidden), "message": self.message}


async def curate_server(ws: Workspace, name: str, *, tools: dict[str, Any] | None = None,
                        rename: dict[str, str] | None = None, descriptions: dict[str, str] | None = None
                        ) -> Curated | InvalidSpec | NotSaved:
    """Store what workspace `ws` exposes of server `name`'s tools (replacing what was stored; laid over its
    config entry's own curation) and re-apply it at once: hidden tools are gone from every call path."""
    from meta_mcp.config import Curation

    try:
        curation = Curation.model_validate({"tools": tools, "rename": rename or {}, "descriptions": descriptions or {}})
    except ValidationError as exc:
        return InvalidSpec(name, tuple(pydantic_problems(exc, "curation")))
    registry = ws.registry
    try:
        await registry.set_curation(name, curation)
    except StateError as exc:
        return NotSaved(name, str(exc))
    await ws.announce("surface")
    snapshot = registry.snapshot
    hidden = sorted({h.original for h in snapshot.hidden.values() if h.server == name and h.exposed is None})
    return Curated(name, name in registry.servers, tuple(registry.exposed_tools_of(name)), tuple(hidden))
