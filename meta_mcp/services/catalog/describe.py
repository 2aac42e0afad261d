"""A catalog entry as a plain dict for listings (`find_servers`, `meta-mcp catalog search --json`).

Secrets are listed by name and environment variable only — never a value, never an example.

Example:
    describe(catalog.get("time"), docker_available=False)
    → {"name": "time", "title": "Time", "runs": {"kind": "command", "command": "uvx mcp-server-time …"},
       "runs_here": True, "why_not": None, "secrets": [], "config": [{"name": "local_timezone", …}], …}
"""

from __future__ import annotations

from typing import Any

from meta_mcp.services.catalog.model import CatalogEntry


def config_fields(entry: CatalogEntry) -> list[dict[str, Any]]:
    """The entry's top-level config fields: name, type, description and whether required."""
    schema = entry.config_schema()
    if not schema:
        return []
    required = set(schema.get("required", []))
    fields = []
    for name, prop in (schema.get("properties") or {}).items():
        prop = prop if isinstance(prop, dict) else {}
        kind = prop.get("type", "string")
        fields.append({"name": name, "type": kind if isinstance(kind, str) else "string",
                       "description": prop.get("description") or "", "required": name in required})
    return fields


def describe(entry: CatalogEntry, *, docker_available: bool) -> dict[str, Any]:
    """Name, title, description, how it runs and whether it can here, secrets (names) and config fields."""
    runs_here, why = entry.runs_here(docker_available)
    return {
        "name": entry.name,
        "title": entry.title,
        "description": entry.description,
        "runs": entry.describe_run(docker_available),
        "runs_here": runs_here,
        "why_not": why,
        "secrets": [{"name": s.name, "env": s.env, "required": s.required} for s in entry.secrets],
        "config": config_fields(entry),
        "tags": list(entry.tags),
    }
