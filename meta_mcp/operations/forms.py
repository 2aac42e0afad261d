"""The config form an operation asks a client for, and the client's answer.

`add_server` of a catalog entry whose config is incomplete answers `NeedsConfig`; a front door that can
ask the client (an elicitation form, the chat API's interrupt) does, tags the form with
`form_state(server)` (echoed back by the client as `requestState`) and calls again with the
`FormAnswer`. `form_server(state)` reads which server an echoed state is for.

Example:
    state = form_state("fs")                        # '{"server": "fs"}'
    form_server(state)                              # "fs"
    await add_server(ws, "fs", answer=FormAnswer({"paths": ["/tmp"]}))
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FormAnswer:
    """A client's answer to a config form: the values, or that it declined."""

    values: dict[str, Any]
    declined: bool = False


def form_state(server: str) -> str:
    """The `requestState` of a config form asked for `server` (echoed back by the client)."""
    return json.dumps({"server": server})


def form_server(state: Any) -> str | None:
    """The server a config form's `requestState` is for, if it is one of ours."""
    try:
        value = json.loads(state) if isinstance(state, str) and len(state) < 1024 else None
    except json.JSONDecodeError:
        return None
    server = value.get("server") if isinstance(value, dict) else None
    return server if isinstance(server, str) else None
