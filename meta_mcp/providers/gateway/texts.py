"""What the Docker MCP Gateway's dynamic tools answer, parsed into small typed values.

The gateway (docker/mcp-gateway v0.43.x, see tests/fake_gateway.py for the pinned texts) answers its
dynamic tools in prose, never with `isError` for a refusal, so meta-mcp reads the texts here, in one
place, instead of matching strings wherever they are used:

- `parse_add(server, text)`: `mcp-add` → `AddedTools` (with the "Newly added tools" JSON, or none),
  `Missing` (secrets and config items named), `NotInCatalog`, or `AddRefused` (any other "Error: …":
  a tool-name collision, an image pull failure, a policy block);
- `parse_find(text)`: `mcp-find`'s compact JSON → its `servers` list;
- `parse_config_set(result)`: `mcp-config-set` (either schema) → `ConfigSet(problems, not_found)`:
  the validation failure's "  - item: error" lines, one problem each;
- `config_schema(items)`: Docker's `config:` items as one JSON Schema, the way the gateway validates a
  server's config object (against every item, flat).

Example:
    parse_add("echo", "Successfully added 1 tools in server 'echo'. …\n\nNewly added tools:\n```json\n{…}\n```")
    → AddedTools(server="echo", tools=({"name": "echo", "description": "…", "inputSchema": {…}},), note="")
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

DYNAMIC_TOOLS = frozenset({"mcp-find", "mcp-add", "mcp-remove", "mcp-config-set"})
"""The gateway's tools that change or search its global state: meta-mcp's meta tools cover them, so
they are never exposed to clients."""


@dataclass(frozen=True, slots=True)
class AddedTools:
    """`mcp-add` succeeded; `tools` are the gateway's definitions of the server's tools (gateway names);
    `note` is the gateway's text when it said more than the usual sentence (an OAuth hint)."""

    server: str
    tools: tuple[dict[str, Any], ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class Missing:
    """`mcp-add` refused: these secrets (Docker's names) and config items are missing or invalid.

    `config` holds (item, state): state "missing", or the gateway's validation error for the item."""

    server: str
    secrets: tuple[str, ...]
    config: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class NotInCatalog:
    server: str


@dataclass(frozen=True, slots=True)
class AddRefused:
    """Any other refusal of `mcp-add`; `reason` is the gateway's text without its "Error: " head."""

    server: str
    reason: str


AddResult = AddedTools | Missing | NotInCatalog | AddRefused


def describe(result: AddResult) -> str:
    """A refusal of `mcp-add` in a few words (for a view's last_error and the logs)."""
    if isinstance(result, Missing):
        items = [f"secrets ({', '.join(result.secrets)})"] if result.secrets else []
        if result.config:
            items.append("config (" + ", ".join(f"{name} ({state})" for name, state in result.config) + ")")
        return "missing required " + " and ".join(items)
    if isinstance(result, NotInCatalog):
        return f"{result.server!r} is not in the gateway's catalog"
    if isinstance(result, AddRefused):
        return result.reason
    return f"added with {len(result.tools)} tools"


@dataclass(frozen=True, slots=True)
class ConfigSet:
    """What `mcp-config-set` answered: nothing wrong, validation `problems` (one per line), or an unknown server."""

    problems: tuple[str, ...] = ()
    not_found: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems and not self.not_found


_TOOLS_BLOCK = re.compile(r"Newly added tools:\n```json\n(.*)\n```", re.S)
_MISSING = re.compile(r"^Error: Cannot add server '[^']*'\. Missing required (.*)\.$", re.M)
_SECRETS = re.compile(r"secrets \(([^()]*)\)")
_CONFIG_ITEM = re.compile(r"(?:^|, )([^\s(),]+) \(")


def text_of(result: dict[str, Any]) -> str:
    """The text items of a `CallToolResult` wire dict, joined."""
    return "".join(c.get("text", "") for c in result.get("content") or () if c.get("type") == "text")


def parse_add(server: str, text: str) -> AddResult:
    """Read `mcp-add`'s answer for `server` (see the module docstring)."""
    if text.startswith("Successfully added"):
        tools: tuple[dict[str, Any], ...] = ()
        if (block := _TOOLS_BLOCK.search(text)) is not None:
            try:
                listed = json.loads(block.group(1)).get("tools") or []
                tools = tuple(t for t in listed if isinstance(t, dict) and isinstance(t.get("name"), str))
            except (ValueError, AttributeError):
                tools = ()
        first = text.split("\n", 1)[0]
        note = "" if first.startswith(f"Successfully added {len(tools)} tools in server") else text
        return AddedTools(server, tools, note)
    if text.startswith(f"Error: Server '{server}' not found in catalog"):
        return NotInCatalog(server)
    if (missing := _MISSING.search(text)) is not None:
        items = missing.group(1)
        secrets = _SECRETS.search(items)
        names = tuple(s.strip() for s in secrets.group(1).split(",") if s.strip()) if secrets else ()
        config_part = items.split("config (", 1)[1][:-1] if "config (" in items else ""
        return Missing(server, names, _config_items(config_part))
    reason = text[len("Error: "):] if text.startswith("Error: ") else text
    return AddRefused(server, reason.strip() or "the gateway gave no reason")


def _config_items(part: str) -> tuple[tuple[str, str], ...]:
    """`c (missing), d (validating root: …)` → (("c", "missing"), ("d", "validating root: …"))."""
    starts = [(m.start(1), m.group(1)) for m in _CONFIG_ITEM.finditer(part)]
    items = []
    for i, (start, name) in enumerate(starts):
        end = starts[i + 1][0] - 2 if i + 1 < len(starts) else len(part)
        state = part[start + len(name) + 2:end]
        items.append((name, state[:-1] if state.endswith(")") else state))
    return tuple(items)


def parse_find(text: str) -> list[dict[str, Any]]:
    """`mcp-find`'s servers, best first (each has `name`, maybe `description`, `required_secrets`,
    `config_schema`, `long_lived`); [] for an answer that is not its JSON."""
    try:
        servers = json.loads(text).get("servers") or []
    except (ValueError, AttributeError):
        return []
    return [s for s in servers if isinstance(s, dict) and isinstance(s.get("name"), str)]


def parse_config_set(result: dict[str, Any]) -> ConfigSet:
    """`mcp-config-set`'s answer: ok, field-by-field validation problems, or an unknown server."""
    text = text_of(result)
    if text.startswith("Error: Server '") and "not found in catalog" in text:
        return ConfigSet(not_found=True)
    if not result.get("isError"):
        return ConfigSet()
    head = text.split("\nServer config schema:", 1)[0]
    problems = tuple(line.strip()[2:] for line in head.splitlines() if line.strip().startswith("- "))
    return ConfigSet(problems=problems or (text.strip() or "the gateway refused the config",))


def config_schema(items: list[Any]) -> dict[str, Any] | None:
    """One JSON Schema for Docker's `config:` items as the gateway applies them: the server's config
    object must satisfy every item, so their properties and required fields merge flat."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        properties.update(item.get("properties") or {})
        required += [r for r in item.get("required") or [] if isinstance(r, str) and r not in required]
    if not properties and not required:
        return None
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema

