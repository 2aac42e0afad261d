"""A tool's `CallToolResult` as the console shows it: what a client gets, item by item.

`view(result)` returns the parts a template renders: `is_error`, the content items (text; images and
audio as `data:` URLs; embedded resources with their text; resource links by URI, never as a
clickable link), `structuredContent` (rendered as a tree), an `input_required` result (which a form
cannot answer here) and the whole wire dict as JSON. Upstream text is only ever escaped by the
templates, and a `data:` URL is built only from a well-formed media type and base64.

Example:
    view({"content": [{"type": "text", "text": "hi"}], "isError": False})
    → {"is_error": False, "items": [{"kind": "text", "text": "hi"}], "structured": None, …}
"""

from __future__ import annotations

import json
import re
from typing import Any

_MIME = re.compile(r"^[a-z]+/[A-Za-z0-9.+-]{1,100}$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]*$")
_MAX_TEXT = 200_000


def _data_url(mime: Any, data: Any, family: str) -> str | None:
    if not (isinstance(mime, str) and isinstance(data, str) and _MIME.match(mime) and mime.startswith(family + "/")
            and _BASE64.match(data)):
        return None
    return f"data:{mime};base64,{''.join(data.split())}"


def _item(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        return {"kind": "other", "json": json.dumps(item, ensure_ascii=False)}
    kind = item.get("type")
    if kind == "text":
        return {"kind": "text", "text": str(item.get("text", ""))[:_MAX_TEXT]}
    if kind in ("image", "audio"):
        url = _data_url(item.get("mimeType"), item.get("data"), kind)
        if url is not None:
            return {"kind": kind, "src": url, "mime": item.get("mimeType")}
    if kind == "resource" and isinstance(item.get("resource"), dict):
        resource = item["resource"]
        text = resource.get("text")
        return {"kind": "resource", "uri": str(resource.get("uri", "")), "mime": resource.get("mimeType"),
                "text": str(text)[:_MAX_TEXT] if text is not None else None,
                "size": len(resource.get("blob") or "") * 3 // 4 if text is None else None}
    if kind == "resource_link":
        return {"kind": "resource_link", "uri": str(item.get("uri", "")), "name": item.get("name"),
                "description": item.get("description")}
    return {"kind": "other", "json": json.dumps(item, indent=2, ensure_ascii=False)[:_MAX_TEXT]}


def view(result: dict[str, Any]) -> dict[str, Any]:
    """The parts of `result` to render (see the module docstring)."""
    structured = result.get("structuredContent")
    return {
        "is_error": bool(result.get("isError")),
        "input_required": result.get("resultType") == "input_required" or "inputRequests" in result,
        "items": [_item(i) for i in result.get("content") or []],
        "structured": structured,
        "has_structured": "structuredContent" in result,
        "raw": json.dumps(result, indent=2, ensure_ascii=False, default=str)[:_MAX_TEXT],
    }
