"""Progressive exposure: which callable tools `tools/list` shows, and what the registry keeps for it.

Models choose worse among many tools, and every listed schema costs context on every turn. So
`expose` decides what a client's `tools/list` shows; everything callable stays routed either way:
- `all`: every tool;
- `search`: the meta tools and the pinned tools; `find_tools` finds the rest (with full schemas) and
  `call_tool` calls them;
- `auto` (default): `all` while the workspace has at most `expose_auto_max` tools (40), else `search`.
`pin_tools(names)` / `unpin_tools(names)` change the pins of a workspace (kept in the state store) and
the listing with them; clients are told with list_changed. The meta tools see a `SurfaceSummary` of
what stands behind them, so `find_tools` can say what it searches ("312 tools of github, slack, …").

The pins, like everything else a workspace keeps beyond its servers, are kept by `records`
(`SurfaceRecords`, `PINS_KEY`; re-exported here).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from meta_mcp.registry.records import PINS_KEY, MemoryRecords, SurfaceRecords, curation_key, definitions_key

__all__ = [
    "PINS_KEY", "MemoryRecords", "SurfaceRecords", "SurfaceSummary", "curation_key", "definitions_key", "listed",
    "lists_all", "summarize",
]


@dataclass(frozen=True, slots=True)
class SurfaceSummary:
    """What stands behind the meta tools: callable proxied tools, per server, and how they are listed."""

    tools: int
    servers: tuple[tuple[str, int], ...]
    """(server, callable tools), most tools first."""
    listed_all: bool
    """Whether tools/list shows every tool (else only the meta tools and pinned ones)."""
    mode: str


def lists_all(mode: str, count: int, auto_max: int) -> bool:
    return mode == "all" or (mode == "auto" and count <= auto_max)


def summarize(counts: dict[str, int], mode: str, auto_max: int) -> SurfaceSummary:
    total = sum(counts.values())
    servers = tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    return SurfaceSummary(total, servers, lists_all(mode, total, auto_max), mode)


def listed(tools: Sequence[dict[str, Any]], owner: dict[str, tuple[str, str]], always: Collection[str],
           pins: Collection[tuple[str, str]], listed_all: bool) -> list[dict[str, Any]]:
    """The tools a client's tools/list shows: all of them, or those of `always` (the meta tools'
    provider) and the pinned ones. `owner` maps an exposed name to (server, the tool's own name)."""
    if listed_all:
        return list(tools)
    return [t for t in tools if (who := owner[t["name"]])[0] in always or who in pins]
