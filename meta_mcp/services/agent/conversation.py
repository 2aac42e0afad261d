"""Conversation history of `agent_chat`: ids, capping and truncation.

History is a list of OpenAI chat messages (dicts) without the system prompt, which is rebuilt for
every step. It is capped by message count and by characters (JSON size); truncation drops the oldest
messages but only at a *cut point*: a message that is not a `tool` result, so an assistant message
with `tool_calls` is never kept without all of its results, nor a result without its call. The
newest turn always survives, even when it alone is over the cap.

Example:
    msgs = [user("a"), assistant_calls(["c1"]), tool("c1"), assistant("done"), user("b")]
    truncate(msgs, max_messages=3, max_chars=10**6)
    → [assistant("done"), user("b")]       # cutting at index 2 would orphan the tool result
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def new_id() -> str:
    return "conv-" + uuid.uuid4().hex[:20]


def valid_id(conversation_id: str) -> bool:
    return bool(_ID.match(conversation_id))


def plain_history(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A caller-kept history as plain chat turns: only `user` / `assistant` text is taken (a client
    cannot inject `system` prompts, tool calls or tool results into the loop's conversation)."""
    return [{"role": m["role"], "content": m["content"]} for m in messages
            if m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str) and m["content"]]


def _size(message: dict[str, Any]) -> int:
    return len(json.dumps(message, ensure_ascii=False))


def truncate(messages: list[dict[str, Any]], *, max_messages: int, max_chars: int) -> list[dict[str, Any]]:
    """The longest suffix of `messages` that starts at a cut point and fits both caps.

    If no cut point gives a fitting suffix, the suffix from the last cut point is kept (the newest
    turn is never dropped). A leading non-cut-point (orphaned tool results) is always dropped.
    """
    sizes = [_size(m) for m in messages]
    total = sum(sizes)
    best: int | None = None
    for i, message in enumerate(messages):
        if message.get("role") != "tool":
            if len(messages) - i <= max_messages and total <= max_chars:
                return messages[i:]
            best = i
        total -= sizes[i]
    return messages[best:] if best is not None else []
