"""Pagination of the exposed lists (tools, resources, templates, prompts) with opaque cursors.

A page holds at most `max_items` entries and at most `max_bytes` of their JSON (always at least one
entry, however large), so an aggregated list never outgrows a client's message limit. A cursor names
the snapshot it was cut from and the offset, so a client paging through sees one consistent list
even while the surface changes: the registry keeps its last few snapshots (`SnapshotHistory`). A
cursor that is malformed, forged or too old is an `INVALID_PARAMS` error telling the client to list
again from the start.

Example:
    items, next_cursor = page(snapshot.tools, history.generation, cursor=None, max_items=200,
                              max_bytes=256_000)
"""

from __future__ import annotations

import base64
import json
from collections import deque
from typing import Any

from mcp import MCPError
from mcp_types import INVALID_PARAMS

from meta_mcp.registry.snapshot import Snapshot

_KEEP = 8
"""Snapshots kept for cursors: a client must finish paging within this many surface changes."""


class SnapshotHistory:
    """The current snapshot and the few before it, by generation number."""

    def __init__(self, first: Snapshot) -> None:
        self.generation = 0
        self._kept: deque[tuple[int, Snapshot]] = deque([(0, first)], maxlen=_KEEP)

    def push(self, snapshot: Snapshot) -> None:
        self.generation += 1
        self._kept.append((self.generation, snapshot))

    def at(self, generation: int) -> Snapshot | None:
        for gen, snapshot in self._kept:
            if gen == generation:
                return snapshot
        return None


def encode_cursor(generation: int, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{generation}:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    """(generation, offset) of a cursor we issued; `INVALID_PARAMS` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode() if len(cursor) < 64 else ""
        generation, offset = (int(part) for part in raw.split(":"))
    except (ValueError, UnicodeDecodeError):
        raise MCPError(INVALID_PARAMS, "Invalid cursor: list again without a cursor.") from None
    if generation < 0 or offset <= 0:
        raise MCPError(INVALID_PARAMS, "Invalid cursor: list again without a cursor.")
    return generation, offset


def page(items: list[dict[str, Any]], offset: int, generation: int, *, max_items: int, max_bytes: int
         ) -> tuple[list[dict[str, Any]], str | None]:
    """The page of `items` starting at `offset`, and the cursor of the next page (None at the end)."""
    if offset > len(items):
        raise MCPError(INVALID_PARAMS, "Invalid cursor: list again without a cursor.")
    end, size = offset, 0
    while end < len(items) and end - offset < max_items:
        size += len(json.dumps(items[end], separators=(",", ":")))
        if size > max_bytes and end > offset:
            break
        end += 1
    return items[offset:end], (encode_cursor(generation, end) if end < len(items) else None)
