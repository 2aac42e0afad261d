"""Launch planning: can this catalog entry start here, with this config and these secrets — and if
not, exactly what is missing.

`plan_launch(entry, config, secrets, docker_available=…)` returns one of
- `Launch(spec, config)`: ready to start;
- `NeedsSecrets(server, secrets)`: required secrets are not set (named by variable, never a value);
  secrets win over config, because a user can fix config in chat but never a secret;
- `NeedsConfig(server, fields)`: required config fields are missing (and nothing else is wrong);
- `InvalidConfig(server, problems)`: the given config breaks the entry's schema;
- `CannotRun(server, reason)`: no launch method works on this machine, or a template fails.
Nothing here does I/O: the caller resolves secrets (`resolve_secrets`) and probes Docker first.

Example:
    plan_launch(catalog.get("time"), {}, {}, docker_available=False)
    → Launch(spec=ServerSpec(name="time", command="uvx", …), config={})
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from meta_mcp.services.catalog.describe import config_fields
from meta_mcp.services.catalog.model import CatalogEntry, CatalogError
from meta_mcp.validation import schema_problems

if TYPE_CHECKING:
    from meta_mcp.config import ServerSpec
    from meta_mcp.services.secrets import ChainSecrets

FORM_TYPES = frozenset({"string", "number", "integer", "boolean"})
"""Field types an elicitation form can hold."""


@dataclass(frozen=True, slots=True)
class ConfigField:
    """A config field of a catalog entry."""

    name: str
    type: str = "string"
    description: str = ""
    required: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "description": self.description, "required": self.required}


@dataclass(frozen=True, slots=True)
class SecretNeed:
    """A secret an entry needs: the variable the server reads, Docker's dotted name, what it is."""

    env: str
    name: str
    description: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"env": self.env, "name": self.name, "description": self.description}


@dataclass(frozen=True, slots=True)
class Launch:
    """Everything needed to start the entry: the spec (with secret values in its env) and the config used."""

    spec: ServerSpec
    config: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NeedsSecrets:
    ok: ClassVar[bool] = False
    server: str
    secrets: tuple[SecretNeed, ...]
    sources: str = "meta-mcp's environment or its .env file"
    """Where secrets are looked up (for the instructions)."""

    @property
    def message(self) -> str:
        lines = "\n".join(f"- {s.env} (secret {s.name}){': ' + s.description if s.description else ''}"
                          for s in self.secrets)
        return (f"Server {self.server!r} needs secrets that are not set:\n{lines}\nSet each in {self.sources} and "
                "restart meta-mcp, then add the server again. Secrets are never taken through chat or tool arguments.")


@dataclass(frozen=True, slots=True)
class NeedsConfig:
    ok: ClassVar[bool] = False
    server: str
    fields: tuple[ConfigField, ...]

    @property
    def formable(self) -> bool:
        """Whether an elicitation form can ask for every field (primitive types only)."""
        return bool(self.fields) and all(f.type in FORM_TYPES for f in self.fields)

    @property
    def message(self) -> str:
        lines = "\n".join(f"- {f.name} ({f.type}): {f.description}" for f in self.fields)
        example = "{" + ", ".join(f'"{f.name}": <{f.type}>' for f in self.fields) + "}"
        return (f"Server {self.server!r} needs configuration:\n{lines}\nPass it as add_server(name={self.server!r}, "
                f"config={example}) or store it first with configure_server.")


@dataclass(frozen=True, slots=True)
class InvalidConfig:
    ok: ClassVar[bool] = False
    server: str
    problems: tuple[str, ...]

    @property
    def message(self) -> str:
        return f"Invalid config for {self.server!r}:\n" + "\n".join(f"- {p}" for p in self.problems)


@dataclass(frozen=True, slots=True)
class CannotRun:
    ok: ClassVar[bool] = False
    server: str
    reason: str

    @property
    def message(self) -> str:
        return f"Server {self.server!r} cannot run here: {self.reason}"


Plan = Launch | NeedsSecrets | NeedsConfig | InvalidConfig | CannotRun


@dataclass(frozen=True, slots=True)
class ResolvedSecrets:
    """Values found for an entry's secrets (by env var) and the required ones that are missing."""

    values: dict[str, str] = field(default_factory=dict, repr=False)
    missing: tuple[SecretNeed, ...] = ()


async def resolve_secrets(entry: CatalogEntry, secrets: ChainSecrets) -> ResolvedSecrets:
    """Look each of the entry's secrets up by its variable, then by Docker's dotted name."""
    values: dict[str, str] = {}
    missing: list[SecretNeed] = []
    for ref in entry.secrets:
        value = await secrets.get(ref.env) or await secrets.get(ref.name)
        if value is not None:
            values[ref.env] = value
        elif ref.required:
            missing.append(SecretNeed(env=ref.env, name=ref.name, description=ref.description or ""))
    return ResolvedSecrets(values, tuple(missing))


def plan_launch(entry: CatalogEntry, config: Mapping[str, Any], secrets: ResolvedSecrets, *,
                docker_available: bool, secret_sources: str | None = None) -> Plan:
    """Decide how `entry` starts with `config` (see the module docstring for the order of checks)."""
    runs, why = entry.runs_here(docker_available)
    if not runs:
        return CannotRun(entry.name, why or "no launch method works on this machine")
    if secrets.missing:
        return (NeedsSecrets(entry.name, secrets.missing, secret_sources) if secret_sources
                else NeedsSecrets(entry.name, secrets.missing))
    config = dict(config)
    problems = schema_problems(entry.config_schema(), config, partial=True)
    if problems:
        return InvalidConfig(entry.name, tuple(problems))
    missing = entry.missing_config(config)
    if missing:
        described = {f["name"]: f for f in config_fields(entry)}
        return NeedsConfig(entry.name, tuple(
            ConfigField(name=m["name"], type=m.get("type", "string"), description=m.get("description") or "",
                        required=described.get(m["name"], {}).get("required", True))
            for m in missing))
    try:
        return Launch(entry.launch(config, secrets.values, docker_available=docker_available), config)
    except CatalogError as exc:
        return CannotRun(entry.name, str(exc))
