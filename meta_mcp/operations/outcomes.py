"""What an operation can answer: typed outcomes, rendered by each front door in its own way.

Every outcome is a frozen dataclass with `ok` (did the operation do what was asked, or find it
already done), a `message` for people and models, and `data(outcome)`: a JSON object with `"outcome"`
(the kind, e.g. `"needs_secrets"`), the outcome's fields and its `flags` (`"added": true` …) — what a meta tool puts in
`structuredContent` and what the chat API returns. `parse(data)` turns such an object back into the
outcome, so a consumer of tool results (the agent loop) reacts to a type, never to text.

The catalog's planning outcomes (`NeedsConfig`, `NeedsSecrets`, `InvalidConfig`, `CannotRun`) are
defined with `plan_launch` in `services.catalog.plan` and re-exported here.

Example:
    outcome = await add_server(workspace, "brave")
    if isinstance(outcome, NeedsSecrets):
        print([s.env for s in outcome.secrets])       # ["BRAVE_API_KEY"]
    outcome.data()   # {"outcome": "needs_secrets", "server": "brave", "secrets": [...], "message": "…"}
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from meta_mcp.services.catalog.plan import (
    CannotRun,
    ConfigField,
    InvalidConfig,
    NeedsConfig,
    NeedsSecrets,
    SecretNeed,
)
from meta_mcp.validation import did_you_mean


@dataclass(frozen=True, slots=True)
class Added:
    server: str
    status: str
    tools: tuple[str, ...]
    ok: ClassVar[bool] = True
    flags: ClassVar[dict[str, Any]] = {"added": True}

    @property
    def message(self) -> str:
        return f"Added {self.server!r} with {len(self.tools)} tools; clients were notified."


@dataclass(frozen=True, slots=True)
class AlreadyActive:
    server: str
    status: str
    tools: tuple[str, ...]
    ok: ClassVar[bool] = True
    flags: ClassVar[dict[str, Any]] = {"added": False}

    @property
    def message(self) -> str:
        return f"Server {self.server!r} is already active; nothing changed."


@dataclass(frozen=True, slots=True)
class DidNotStart:
    server: str
    reason: str
    replaced: bool = False
    """The server was running before (configure_server): that instance was stopped and is gone."""
    ok: ClassVar[bool] = False

    @property
    def message(self) -> str:
        if self.replaced:
            return (f"Server {self.server!r} did not start with the new config: {self.reason}. The previous "
                    "instance was stopped and the server removed; fix the config and add it again.")
        return f"Server {self.server!r} did not start: {self.reason}. Nothing was added."


@dataclass(frozen=True, slots=True)
class UnknownServer:
    """`server` is neither in the catalog nor active (`where` says which was searched)."""

    server: str
    suggestions: tuple[str, ...] = ()
    where: str = "catalog"
    ok: ClassVar[bool] = False

    @property
    def message(self) -> str:
        hint = did_you_mean(list(self.suggestions))
        if self.where == "catalog":
            return (f"Unknown server {self.server!r}: it is not in the catalog.{hint} Use find_servers to search the "
                    "catalog, or pass spec={'command': …} or spec={'url': …} to add a server that is not in it.")
        return f"Unknown server {self.server!r}: it is not in the catalog.{hint}"


@dataclass(frozen=True, slots=True)
class InvalidSpec:
    server: str
    problems: tuple[str, ...]
    ok: ClassVar[bool] = False

    @property
    def message(self) -> str:
        return f"Invalid spec for {self.server!r}: {'; '.join(self.problems)}"


@dataclass(frozen=True, slots=True)
class Refused:
    """A policy forbids this here (e.g. ad-hoc specs from an agent's model); `reason` says which and why."""

    server: str
    reason: str
    action: str = "add"
    ok: ClassVar[bool] = False

    @property
    def message(self) -> str:
        return f"Cannot {self.action} {self.server!r}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Declined:
    server: str
    ok: ClassVar[bool] = False

    @property
    def message(self) -> str:
        return f"Configuration for {self.server!r} was declined; nothing was added."


@dataclass(frozen=True, slots=True)
class CatalogUnavailable:
    reason: str
    ok: ClassVar[bool] = False

    @property
    def message(self) -> str:
        return f"The server catalog cannot be loaded: {self.reason}"


@dataclass(frozen=True, slots=True)
class NotSaved:
    """The state store could not record the change, so it was not made (nothing is half-applied)."""

    server: str
    reason: str
    ok: ClassVar[bool] = False

    @property
    def message(self) -> str:
        return f"Could not change {self.server!r}: the state store is unavailable ({self.reason}); nothing changed."


@dataclass(frozen=True, slots=True)
class Removed:
    server: str
    tools: tuple[str, ...]
    ok: ClassVar[bool] = True
    flags: ClassVar[dict[str, Any]] = {"removed": True}

    @property
    def message(self) -> str:
        return f"Removed {self.server!r}; its {len(self.tools)} tools are gone and clients were notified."


@dataclass(frozen=True, slots=True)
class NotActive:
    server: str
    active: tuple[str, ...]
    ok: ClassVar[bool] = False

    @property
    def message(self) -> str:
        return f"Server {self.server!r} is not active in this workspace (active: {', '.join(self.active) or 'none'})."


@dataclass(frozen=True, slots=True)
class Configured:
    server: str
    stored: tuple[str, ...]
    restarted: bool
    tools: tuple[str, ...] | None = None
    ok: ClassVar[bool] = True

    @property
    def message(self) -> str:
        if self.restarted:
            return f"Stored config for {self.server!r} and restarted it with {len(self.tools or ())} tools."
        return f"Stored config for {self.server!r}; it applies when the server is added."


@dataclass(frozen=True, slots=True)
class GatewayNeedsSecrets(NeedsSecrets):
    """`NeedsSecrets` (kind "needs_secrets") of a server the Docker MCP Gateway runs: its secrets come from
    Docker's secret store, set with `commands` (`docker mcp secret set NAME`, the value on stdin);
    `pushable` names those meta-mcp itself has, which `meta-mcp secrets push NAME` copies there."""

    commands: tuple[str, ...] = ()
    pushable: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        lines = "\n".join(f"- {s.name}{f' ({s.env})' if s.env else ''}{': ' + s.description if s.description else ''}"
                          for s in self.secrets)
        commands = "\n".join(f"  {c}" for c in self.commands)
        push = (f"\nmeta-mcp has {', '.join(self.pushable)} itself: `meta-mcp secrets push {' '.join(self.pushable)}` "
                "copies them there." if self.pushable else "")
        return (f"Server {self.server!r} runs in the Docker MCP Gateway, which needs secrets that are not set in "
                f"{self.sources}:\n{lines}\nSet each with (the value is read from stdin):\n{commands}{push}\nThen add "
                "the server again. Secrets are never taken through chat or tool arguments.")


@dataclass(frozen=True, slots=True)
class NotConfigurable:
    """An active server added from a spec has no catalog config to change."""

    server: str
    ok: ClassVar[bool] = False

    @property
    def message(self) -> str:
        return (f"Server {self.server!r} was added from a spec, not the catalog: remove it and add it again with a "
                "new spec to change its configuration.")


@dataclass(frozen=True, slots=True)
class Restarted:
    """Server `server` was stopped and started again from the same launch spec; its record and config are
    unchanged. Not `ok` when it did not come back ready: it stays listed with its state and `reason`."""

    server: str
    status: str
    tools: tuple[str, ...]
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ready"

    @property
    def message(self) -> str:
        if self.ok:
            return f"Restarted {self.server!r}: ready with {len(self.tools)} tools; clients were notified."
        return f"Restarted {self.server!r}, but it is {self.status}: {self.reason or 'no reason given'}."


@dataclass(frozen=True, slots=True)
class NotRestartable:
    """Server `server` is active but meta-mcp does not run it itself (`reason` says who does)."""

    server: str
    reason: str
    ok: ClassVar[bool] = False

    @property
    def message(self) -> str:
        return f"Server {self.server!r} cannot be restarted from meta-mcp: {self.reason}."


AddOutcome = (Added | AlreadyActive | DidNotStart | UnknownServer | InvalidSpec | Refused | Declined
              | CatalogUnavailable | NeedsConfig | NeedsSecrets | InvalidConfig | CannotRun | NotSaved)
RemoveOutcome = Removed | NotActive | NotSaved
RestartOutcome = Restarted | NotActive | NotRestartable
ConfigureOutcome = Configured | NotConfigurable | UnknownServer | CatalogUnavailable | InvalidConfig | Refused

_KINDS: dict[str, type] = {
    "added": Added, "already_active": AlreadyActive, "did_not_start": DidNotStart, "unknown_server": UnknownServer,
    "invalid_spec": InvalidSpec, "refused": Refused, "declined": Declined, "catalog_unavailable": CatalogUnavailable,
    "needs_config": NeedsConfig, "needs_secrets": NeedsSecrets, "invalid_config": InvalidConfig,
    "cannot_run": CannotRun, "removed": Removed, "not_active": NotActive, "configured": Configured,
    "not_configurable": NotConfigurable, "not_saved": NotSaved, "restarted": Restarted,
    "not_restartable": NotRestartable,
}
_KIND_OF = {cls: kind for kind, cls in _KINDS.items()} | {GatewayNeedsSecrets: "needs_secrets"}


def kind(outcome: Any) -> str:
    """The outcome's kind as it appears in `data()["outcome"]`."""
    return _KIND_OF[type(outcome)]


def data(outcome: Any) -> dict[str, Any]:
    """The outcome as a JSON object: `{"outcome": kind, **fields, "message": …}`."""
    out: dict[str, Any] = {"outcome": kind(outcome)}
    for f in fields(outcome):
        value = getattr(outcome, f.name)
        if isinstance(value, tuple):
            value = [v.as_dict() if hasattr(v, "as_dict") else v for v in value]
        out[f.name] = value
    out.update(getattr(outcome, "flags", {}))
    out["message"] = outcome.message
    return out


def parse(value: Any) -> Any | None:
    """The outcome a `data()` object describes, or None when `value` is not one."""
    if not isinstance(value, dict) or (cls := _KINDS.get(value.get("outcome"))) is None:
        return None
    items = {f.name: value.get(f.name) for f in fields(cls) if f.name in value}
    try:
        if cls is NeedsSecrets:
            items["secrets"] = tuple(SecretNeed(**s) for s in items.get("secrets") or ())
        elif cls is NeedsConfig:
            items["fields"] = tuple(ConfigField(**f) for f in items.get("fields") or ())
        for f in fields(cls):
            if isinstance(items.get(f.name), list):
                items[f.name] = tuple(items[f.name])
        return cls(**items)
    except (TypeError, ValueError):
        return None


__all__ = [
    "AddOutcome", "Added", "AlreadyActive", "CannotRun", "CatalogUnavailable", "ConfigField", "ConfigureOutcome",
    "Configured", "Declined", "DidNotStart", "GatewayNeedsSecrets", "InvalidConfig", "InvalidSpec", "NeedsConfig",
    "NeedsSecrets", "NotActive", "NotConfigurable", "NotRestartable", "NotSaved", "Refused", "RemoveOutcome", "Removed",
    "RestartOutcome", "Restarted", "SecretNeed", "UnknownServer", "data", "kind", "parse",
]
