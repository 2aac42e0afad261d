"""Reading results: wire form, the parts a proxy must forward unchanged, and text content."""

from __future__ import annotations

from typing import Any


def dump(model: Any) -> Any:
    """Wire form (by alias, JSON mode, no None) of a pydantic model or list of models."""
    if isinstance(model, list):
        return [dump(m) for m in model]
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


def result_essence(result: Any) -> dict[str, Any]:
    """The parts of a CallToolResult a proxy must forward unchanged."""
    d = dump(result)
    return {
        "content": d.get("content"),
        "structuredContent": d.get("structuredContent"),
        "isError": d.get("isError", False),
        "_meta": _strip_protocol_meta(d.get("_meta")),
    }


def _strip_protocol_meta(meta: Any) -> Any:
    """Drop SDK/protocol-reserved ``io.modelcontextprotocol/*`` keys that a hop may legitimately stamp."""
    if not isinstance(meta, dict):
        return meta
    kept = {k: v for k, v in meta.items() if not k.startswith("io.modelcontextprotocol/")}
    return kept or None


def text_of(result: Any) -> str:
    """All text content of a result joined with newlines."""
    return "\n".join(getattr(c, "text", "") for c in getattr(result, "content", []) if getattr(c, "type", "") == "text")
