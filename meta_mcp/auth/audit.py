"""The audit trail: one JSON line per state change and per denied request, on the `meta_mcp.audit` logger.

Each line says who (subject and role), in which workspace, what (a tool, a route, a server), and the
outcome; a denial also says why. Argument values are never written (they may hold secrets): only
names. With `audit_log` set the lines also go, bare, to that file (one JSON object per line).

Example:
    audit("denied", Identity("bob", ("team-a",), "member"), "team-a", "tools/call github__delete_repo",
          "denied", reason="tool not allowed by the policy")
    → {"ts": "2026-…Z", "event": "denied", "who": "bob", "role": "member", "workspace": "team-a",
       "what": "tools/call github__delete_repo", "outcome": "denied", "reason": "…"}
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from meta_mcp.identity import Identity

LOGGER_NAME = "meta_mcp.audit"
logger = logging.getLogger(LOGGER_NAME)


def audit(event: str, who: Identity | str, workspace: str | None, what: str, outcome: str, **extra: Any) -> None:
    """Write one audit line: `event` is "change" (the state changed or was attempted) or "denied"."""
    identity = who if isinstance(who, Identity) else None
    record: dict[str, Any] = {
        "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "event": event,
        "who": identity.subject if identity is not None else who,
        "role": identity.role if identity is not None else None,
        "workspace": workspace,
        "what": what,
        "outcome": outcome,
        **{k: v for k, v in extra.items() if v is not None},
    }
    logger.info(json.dumps(record, ensure_ascii=False, default=str))


def configure(path: Path | None) -> None:
    """Audit lines are written whatever the log level; with `path` also appended, bare, to that file."""
    logger.setLevel(logging.INFO)
    if path is None:
        return
    resolved = path.expanduser().resolve()
    for handler in logger.handlers:
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename) == resolved:
            return
    resolved.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(resolved, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
