"""The tools a model sees in one step, and what it sees of their results.

Exposed names may hold characters or lengths OpenAI function names may not (`^[A-Za-z0-9_-]{1,64}$`):
`ToolSet` gives each tool a function name (the exposed name when it is valid, else a sanitized,
hash-suffixed one; deterministic) and maps it back. Results become text for the model: text blocks
as they are, structuredContent as JSON when there is no text, other blocks as short placeholders,
`isError` marked, and the whole capped at `max_chars`.

Example:
    tools = ToolSet([("time__get_current_time", {...definition...})])
    tools.openai()                          # → [{"type": "function", "function": {"name": …, …}}]
    tools.exposed("time__get_current_time")  # → "time__get_current_time"
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

_VALID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def function_name(exposed: str) -> str:
    if _VALID.match(exposed):
        return exposed
    clean = re.sub(r"[^A-Za-z0-9_-]", "_", exposed)[:55]
    return f"{clean}_{hashlib.sha1(exposed.encode()).hexdigest()[:8]}"


class ToolSet:
    """Function name ↔ exposed name for the tools of one step, and their OpenAI definitions."""

    def __init__(self, tools: list[tuple[str, dict[str, Any]]]) -> None:
        self._by_function: dict[str, tuple[str, dict[str, Any]]] = {}
        for exposed, definition in tools:
            self._by_function[function_name(exposed)] = (exposed, definition)

    def exposed(self, function: str) -> str | None:
        entry = self._by_function.get(function)
        return entry[0] if entry else None

    def names(self) -> list[str]:
        return list(self._by_function)

    def openai(self) -> list[dict[str, Any]]:
        out = []
        for function, (_exposed, definition) in self._by_function.items():
            description = " — ".join(p for p in (definition.get("title"), definition.get("description")) if p)
            parameters = definition.get("inputSchema") or {"type": "object", "properties": {}}
            out.append({"type": "function", "function": {"name": function, "description": description[:1024],
                                                         "parameters": parameters}})
        return out


def result_text(result: dict[str, Any], max_chars: int) -> str:
    """What the model reads of a `CallToolResult` wire dict."""
    parts: list[str] = []
    for block in result.get("content") or []:
        kind = block.get("type")
        if kind == "text":
            parts.append(block.get("text", ""))
        elif kind == "resource":
            resource = block.get("resource") or {}
            parts.append(resource.get("text") or f"[resource {resource.get('uri', '')}]")
        elif kind == "resource_link":
            parts.append(f"[resource link {block.get('uri', '')}]")
        else:
            parts.append(f"[{kind} content, {block.get('mimeType', 'unknown type')}]")
    if not any(p.strip() for p in parts) and result.get("structuredContent") is not None:
        parts = [json.dumps(result["structuredContent"], ensure_ascii=False)]
    text = "\n".join(parts)
    if result.get("isError"):
        text = "ERROR: " + text
    if len(text) > max_chars:
        text = text[:max_chars] + f"\n[… cut: {len(text) - max_chars} more characters]"
    return text
