"""The policy: what each role may do in each workspace, from the `policy:` section of the config file.

It governs HTTP callers (authenticated identities, and `ANONYMOUS` when no authentication is
configured); stdio's one trusted user (`LOCAL`) is not limited by it. A section may set:

- `catalog`: the catalog entries that may be added (glob patterns; unset: all);
- `adhoc`: whether servers may be added from an ad-hoc `spec` (a command that runs as meta-mcp's
  user); unset: `META_MCP_ALLOW_ADHOC_HTTP` (off by default);
- `tools`: `allow` / `deny` glob patterns over exposed tool names (meta tools included): a denied or
  not-allowed tool is left out of `tools/list` and refused on every call path (a client's call,
  `call_tool`, `run_code`'s bridge, `agent_chat`'s loop);
- `run_code`, `agent_chat`: whether those meta tools (and `get_code_api`) are available;
- `rate_limit`: `calls_per_minute` (with `burst`, the calls that may come at once; default the
  per-minute number) and `concurrent_calls`, per identity and workspace.

Sections apply from the general to the specific: `defaults`, then `roles.<role>`, then each
`workspaces.<pattern>` matching the workspace (in file order), then that entry's `roles.<role>`.
A later section replaces what an earlier one set, except `tools.deny`, which adds up (a deny that
applies anywhere wins).

Example (in the `--config` file, beside `mcpServers`):
    policy:
      defaults: {adhoc: false, run_code: false, rate_limit: {calls_per_minute: 120, concurrent_calls: 4}}
      roles:
        admin: {adhoc: true, run_code: true, rate_limit: {calls_per_minute: 600}}
        member: {catalog: ["time", "fetch", "github*"], tools: {deny: ["*__delete_*"]}}
      workspaces:
        team-a: {tools: {deny: ["github__merge_*"]}, roles: {member: {run_code: true}}}

`PolicyStore` re-reads the file when it changes (`reload_if_changed`, polled by the HTTP server,
which then tells every client its tool list changed); an invalid edit keeps the previous policy and
is logged.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from meta_mcp.config import ConfigError, read_document
from meta_mcp.identity import LOCAL, Identity
from meta_mcp.validation import pydantic_problems

logger = logging.getLogger(__name__)

CODE_TOOLS = ("run_code", "get_code_api")
AGENT_TOOLS = ("agent_chat",)


class PolicyError(ValueError):
    """The policy section is invalid; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # built on first use: HTTP with a policy


class ToolPatterns(_Strict):
    allow: list[str] | None = None
    """Only tools matching one of these are available (unset: every tool)."""
    deny: list[str] = Field(default_factory=list)
    """Tools matching one of these are not available (adds up across sections)."""


class RateLimitSection(_Strict):
    calls_per_minute: float | None = Field(default=None, gt=0)
    burst: int | None = Field(default=None, ge=1)
    concurrent_calls: int | None = Field(default=None, ge=1)


class Section(_Strict):
    catalog: list[str] | None = None
    adhoc: bool | None = None
    tools: ToolPatterns | None = None
    run_code: bool | None = None
    agent_chat: bool | None = None
    rate_limit: RateLimitSection | None = None


class WorkspaceSection(Section):
    roles: dict[str, Section] = Field(default_factory=dict)


class Policy(_Strict):
    defaults: Section = Field(default_factory=Section)
    roles: dict[str, Section] = Field(default_factory=dict)
    workspaces: dict[str, WorkspaceSection] = Field(default_factory=dict)
    """Keyed by workspace name or glob pattern ("team-*")."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    calls_per_minute: float | None = None
    burst: int | None = None
    concurrent_calls: int | None = None

    @property
    def unlimited(self) -> bool:
        return self.calls_per_minute is None and self.concurrent_calls is None


@dataclass(frozen=True, slots=True)
class Rules:
    """What one role may do in one workspace: the policy's sections folded together."""

    catalog: tuple[str, ...] | None = None
    adhoc: bool | None = None
    """None: the policy does not say (the settings decide)."""
    allow: tuple[str, ...] | None = None
    deny: tuple[str, ...] = ()
    run_code: bool = True
    agent_chat: bool = True
    rate: RateLimit = RateLimit()

    def tool_refusal(self, name: str) -> str | None:
        """Why tool `name` (an exposed name) is not available, or None when it is."""
        if name in CODE_TOOLS and not self.run_code:
            return f"{name} is not available (the policy turns run_code off)"
        if name in AGENT_TOOLS and not self.agent_chat:
            return f"{name} is not available (the policy turns agent_chat off)"
        if any(fnmatchcase(name, p) for p in self.deny):
            return f"tool {name!r} is denied by the policy (tools.deny)"
        if self.allow is not None and not any(fnmatchcase(name, p) for p in self.allow):
            return f"tool {name!r} is not allowed by the policy (tools.allow)"
        return None

    def tool_allowed(self, name: str) -> bool:
        return self.tool_refusal(name) is None

    def catalog_refusal(self, name: str) -> str | None:
        """Why catalog entry `name` may not be added, or None when it may."""
        if self.catalog is None or any(fnmatchcase(name, p) for p in self.catalog):
            return None
        return f"the policy does not allow adding catalog server {name!r} here (catalog: {', '.join(self.catalog)})"


def fold(sections: list[Section]) -> Rules:
    """Fold sections, general first (see the module docstring)."""
    catalog: tuple[str, ...] | None = None
    adhoc: bool | None = None
    allow: tuple[str, ...] | None = None
    deny: list[str] = []
    run_code = agent_chat = True
    rate = {"calls_per_minute": None, "burst": None, "concurrent_calls": None}
    for section in sections:
        if section.catalog is not None:
            catalog = tuple(section.catalog)
        if section.adhoc is not None:
            adhoc = section.adhoc
        if section.tools is not None:
            if section.tools.allow is not None:
                allow = tuple(section.tools.allow)
            deny += section.tools.deny
        if section.run_code is not None:
            run_code = section.run_code
        if section.agent_chat is not None:
            agent_chat = section.agent_chat
        if section.rate_limit is not None:
            rate.update({k: v for k, v in section.rate_limit.model_dump().items() if v is not None})
    return Rules(catalog=catalog, adhoc=adhoc, allow=allow, deny=tuple(dict.fromkeys(deny)), run_code=run_code,
                 agent_chat=agent_chat, rate=RateLimit(**rate))


def sections_for(policy: Policy, role: str, workspace: str) -> list[Section]:
    """The sections that apply to `role` in `workspace`, general first."""
    sections = [policy.defaults]
    if role in policy.roles:
        sections.append(policy.roles[role])
    for pattern, entry in policy.workspaces.items():
        if pattern == workspace or fnmatchcase(workspace, pattern):
            sections.append(entry)
            if role in entry.roles:
                sections.append(entry.roles[role])
    return sections


def parse_policy(data: Any, source: str = "config") -> Policy:
    """The `policy` section of a parsed config document (an empty policy when there is none)."""
    raw = data.get("policy") if isinstance(data, dict) else None
    if raw is None:
        return Policy()
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(f"{source}: policy: {'; '.join(pydantic_problems(exc, 'policy'))}") from None


def load_policy(path: Path) -> Policy:
    """Read the policy section of a JSON or YAML config file."""
    try:
        data = read_document(path)
    except ConfigError as exc:
        raise PolicyError(str(exc)) from None
    return parse_policy(data, str(path))


class PolicyStore:
    """The current policy of a config file (or of none), and the rules it gives each role and workspace."""

    def __init__(self, path: Path | None, policy: Policy | None = None) -> None:
        self.path = path
        self._stamp = self._stat()
        self.policy = policy if policy is not None else (load_policy(path) if path is not None else Policy())
        self._rules: dict[tuple[str, str], Rules] = {}

    def rules(self, identity: Identity, workspace: str) -> Rules | None:
        """The rules for `identity` in `workspace`; None for stdio's trusted user (no policy applies)."""
        if identity is LOCAL:
            return None
        key = (identity.role, workspace)
        rules = self._rules.get(key)
        if rules is None:
            if len(self._rules) > 10_000:
                self._rules.clear()
            rules = self._rules[key] = fold(sections_for(self.policy, identity.role, workspace))
        return rules

    def _stat(self) -> tuple[int, int, int] | None:
        if self.path is None:
            return None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def reload_if_changed(self) -> bool:
        """Re-read the file if it changed; True when the policy itself changed."""
        stamp = self._stat()
        if stamp == self._stamp or self.path is None:
            return False
        self._stamp = stamp
        try:
            policy = load_policy(self.path)
        except PolicyError as exc:
            logger.error("policy not reloaded, the previous one stays in force: %s", exc)
            return False
        if policy == self.policy:
            return False
        self.policy = policy
        self._rules = {}
        logger.info("policy reloaded from %s", self.path)
        return True
