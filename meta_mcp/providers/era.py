"""`ClientEra`: the protocol era of the one client a stdio-served meta-mcp has, as its first message says.

Stdio servers whose era setting is `follow` (`stdio_upstream_protocol`, the default) are spoken to in it: a
handshake-era client's servers in the 2025-11-25 handshake — which costs an SDK server less per request
over stdio, and loses nothing, since such a client is served the same by a server of either era — and a
2026-era client's in the newest era both sides support, so their own requests (elicitation, sampling)
still reach it as `input_required`.
"""

from __future__ import annotations

import json
from typing import Literal

import anyio

Era = Literal["handshake", "modern"]


class ClientEra:
    """What the client's first JSON-RPC message with a method says: `initialize` → "handshake"; any other
    method → "modern" (a 2026-era client opens with `server/discover` or a request carrying its version).
    Later messages change nothing, and a line that is not such a message is passed over.

    How it degrades: `wait` gives None when nothing has said it within its bound (the caller then speaks
    the newest era both sides support), and `note_line` never raises.

        era = ClientEra()
        era.note_line(b'{"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {}}')
        await era.wait(2.0)   # "handshake"
    """

    def __init__(self) -> None:
        self.era: Era | None = None
        self._known = anyio.Event()

    def note_line(self, line: bytes) -> None:
        """Learn the era from `line` (one stdin line within the message limits) if it is still unknown."""
        if self.era is not None:
            return
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            return
        method = message.get("method") if isinstance(message, dict) else None
        if isinstance(method, str):
            self.era = "handshake" if method == "initialize" else "modern"
            self._known.set()

    async def wait(self, timeout: float) -> Era | None:
        """The era once known, waiting at most `timeout` seconds for it; None if still unknown."""
        with anyio.move_on_after(timeout):
            await self._known.wait()
        return self.era
