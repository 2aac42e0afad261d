"""The `mcpServers` config file: Claude Desktop / VS Code shapes, JSON or YAML.

One entry becomes a `ServerSpec`. Our extensions are `prefix` (the tool-name prefix; default the
server's name, `""` for none), `timeout` (seconds per upstream call), `protocol` (`"auto"`: the newest
era both sides speak; `"handshake"`: the 2025-11-25 initialize handshake; default `"auto"`, or for a
stdio server the `stdio_upstream_protocol` setting's, `follow` unless set: the era of meta-mcp's stdio client) and curation of the server's tools
(`Curation`: `tools: {allow: [glob…], deny: [glob…]}`, `rename: {tool: new_name}`,
`descriptions: {tool: text}`; globs and keys are the tool's own name at its server). A top-level
`policy` section beside `mcpServers` is the HTTP policy, read by `meta_mcp.auth.policy` (a file may
hold only that).

Example:
    {"mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time"]},
                    "gh": {"url": "https://example.com/mcp", "tools": {"deny": ["delete_*"]},
                           "rename": {"search_code": "code_search"}}}}
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from meta_mcp.validation import NAME_PATTERN, NAME_RE, pydantic_problems


UpstreamTransport = Literal["stdio", "http", "sse"]
UpstreamProtocol = Literal["auto", "handshake"]
"""The protocol era spoken to an upstream: the newest both sides support, or the 2025-11-25 handshake."""


class ConfigError(ValueError):
    """A config file or entry is invalid; the message names the file, entry and field."""


class ToolFilter(BaseModel):
    """Which tools are exposed: with `allow`, only tools matching one of its globs; never those matching
    a `deny` glob (deny wins). Globs are `fnmatch` patterns, case-sensitive."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allow: tuple[str, ...] | None = None
    deny: tuple[str, ...] = ()

    def refusal(self, name: str) -> str | None:
        """Why `name` is hidden (the rule that hides it), or None when it passes."""
        for glob in self.deny:
            if fnmatch.fnmatchcase(name, glob):
                return f"tools.deny {glob!r}"
        if self.allow is not None and not any(fnmatch.fnmatchcase(name, glob) for glob in self.allow):
            return "not in tools.allow"
        return None


_RENAMED = Field(default_factory=dict, description="tool → its new own name (the prefix still applies)")


class Curation(BaseModel):
    """What a workspace exposes of a server's tools: a filter, new names and new descriptions.

    In a server's entry the globs and keys are the tool's own names; in the workspace-wide curation (the
    `curation` setting) they are `<server>__<tool>` (the server's name, the tool's own name)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tools: ToolFilter | None = None
    rename: dict[str, str] = _RENAMED
    descriptions: dict[str, str] = Field(default_factory=dict, description="tool → the description shown instead")

    @model_validator(mode="after")
    def _check_names(self) -> Curation:
        for old, new in self.rename.items():
            if not new or len(new) > 128:
                raise ValueError(f"rename {old!r}: the new name must have 1-128 characters")
        return self

    def __bool__(self) -> bool:
        return bool(self.tools or self.rename or self.descriptions)

    def over(self, base: Curation) -> Curation:
        """This curation laid over `base`: its filter replaces base's, its names and descriptions win."""
        return Curation(tools=self.tools if self.tools is not None else base.tools,
                        rename={**base.rename, **self.rename}, descriptions={**base.descriptions, **self.descriptions})


CURATION_FIELDS = frozenset({"tools", "rename", "descriptions"})
"""ServerSpec fields that shape what a workspace exposes, not how the server is launched."""


class ServerSpec(BaseModel):
    """How to reach one upstream MCP server.

    Exactly one of `command` (a stdio process) or `url` (streamable HTTP, or SSE when `transport` is
    "sse" or the URL ends in `/sse`) is set.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    transport: UpstreamTransport = "stdio"
    prefix: str | None = None
    timeout: float | None = Field(default=None, gt=0)
    protocol: UpstreamProtocol | None = None
    """None: `"auto"`, or for a stdio server the `stdio_upstream_protocol` setting's."""
    tools: ToolFilter | None = None
    rename: dict[str, str] = _RENAMED
    descriptions: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _infer_transport(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        kind = data.pop("type", None)  # VS Code's "type": "stdio" | "http" | "sse"
        if "transport" not in data:
            if data.get("url"):
                if kind == "sse" or str(data["url"]).rstrip("/").endswith("/sse"):
                    data["transport"] = "sse"
                else:
                    data["transport"] = "http"
            else:
                data["transport"] = "stdio"
        return data

    @model_validator(mode="after")
    def _check(self) -> ServerSpec:
        if not NAME_RE.match(self.name):
            raise ValueError(f"name must match {NAME_PATTERN}")
        if self.transport == "stdio" and not self.command:
            raise ValueError("a stdio server needs 'command' (or give 'url' for a remote server)")
        if self.transport in ("http", "sse") and not self.url:
            raise ValueError(f"a {self.transport} server needs 'url'")
        if self.prefix and not NAME_RE.match(self.prefix):
            raise ValueError(f"prefix must be empty or match {NAME_PATTERN}")
        self.curation  # noqa: B018 - validates the new names
        return self

    @property
    def effective_prefix(self) -> str:
        """The prefix tools are exposed under: the explicit one, else the server's name."""
        return self.name if self.prefix is None else self.prefix

    @property
    def curation(self) -> Curation:
        """The entry's curation of its tools (empty when it sets none)."""
        return Curation(tools=self.tools, rename=self.rename, descriptions=self.descriptions)


def parse_servers(data: Any, *, source: str = "config") -> list[ServerSpec]:
    """Turn a parsed config document into specs; raise `ConfigError` naming entry and field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected an object with 'mcpServers' (or 'servers')")
    entries = data.get("mcpServers", data.get("servers"))
    if entries is None and "policy" in data:
        return []  # a file with only a policy section (meta_mcp.auth.policy reads it)
    if entries is None:
        raise ConfigError(f"{source}: no 'mcpServers' (or VS Code 'servers') object found")
    if not isinstance(entries, dict):
        raise ConfigError(f"{source}: 'mcpServers' must be an object of name → server")
    specs = []
    for name, entry in entries.items():
        if not isinstance(entry, dict):
            raise ConfigError(f"{source}: server {name!r}: entry must be an object")
        try:
            specs.append(ServerSpec.model_validate({**entry, "name": name}))
        except ValidationError as exc:
            problems = "; ".join(pydantic_problems(exc))
            raise ConfigError(f"{source}: server {name!r}: {problems}") from None
    return specs


def read_document(path: Path) -> Any:
    """The parsed JSON (`.json`) or YAML document of a config file; `ConfigError` naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    import yaml  # only for a YAML file: a JSON config (the usual one) does not pay for PyYAML

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


def load_config(path: Path) -> list[ServerSpec]:
    """Read a JSON or YAML `mcpServers` file."""
    return parse_servers(read_document(path), source=str(path))
