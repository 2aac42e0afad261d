"""Secrets: where a server's required secrets come from, behind one small interface.

A `SecretsSource` answers "what is the value of the secret that this catalog entry reads from
environment variable ENV?" (or under Docker's dotted name). The sources, chained in the order of the
`secrets_order` setting by `sources_from_settings` — environment → `.env` → Infisical → Docker MCP
secrets by default — are asked one after another by `ChainSecrets`: the first source that knows a
secret wins. `EnvSecrets` reads the environment handed over at start-up, `DotenvSecrets` a `.env` file
(both read once, never behind the caller's back), `services.infisical.InfisicalSecrets` an Infisical
project. A source that fails is skipped (it reports why itself); the chain goes on to the next.

Secret values are handed only to the upstream process (its environment) or its HTTP headers. They
never appear in tool results, errors, logs or traces: messages name the variable, never the value,
and every value the chain hands out is added to its `Redactor`, which scrubs it from everything that
leaves meta-mcp (see `meta_mcp.redaction`). `where(env)` says which source has a secret — for
`list_servers` and `find_servers` — without showing the value.

Example:
    secrets = ChainSecrets([EnvSecrets(os.environ), DotenvSecrets(Path(".env"))])
    await secrets.get("BRAVE_API_KEY")      # → "…" or None
    await secrets.where("BRAVE_API_KEY", "brave.api_key")    # → "dotenv" or None
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from dotenv import dotenv_values

from meta_mcp.redaction import Redactor

if TYPE_CHECKING:
    from meta_mcp.settings import Settings

logger = logging.getLogger(__name__)


class SecretsSource(Protocol):
    """Looks secrets up by the environment variable name a server reads them from."""

    name: str

    async def get(self, env: str) -> str | None:
        """The secret's value, or None when this source does not have it."""
        ...


class EnvSecrets:
    """Secrets from environment variables, then from a `.env` file (the environment wins)."""

    name = "environment"

    def __init__(self, environ: Mapping[str, str], dotenv: Path | None = None) -> None:
        values: dict[str, str] = {}
        if dotenv is not None and dotenv.is_file():
            values.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
        values.update(environ)
        self._values = values

    async def get(self, env: str) -> str | None:
        value = self._values.get(env)
        return value if value else None


class DotenvSecrets(EnvSecrets):
    """Secrets from a `.env` file alone (a source of its own, so `where` can name it)."""

    name = "dotenv"

    def __init__(self, path: Path) -> None:
        super().__init__({}, path)


class ChainSecrets:
    """Several sources in order; the first that has a secret wins. Each value found is added to
    `redactor` before it is returned."""

    name = "chain"

    def __init__(self, sources: Sequence[SecretsSource], redactor: Redactor | None = None) -> None:
        self.sources = list(sources)
        self.redactor = redactor if redactor is not None else Redactor()

    async def lookup(self, env: str) -> tuple[str, str] | None:
        """(value, name of the source that has it), or None."""
        for source in self.sources:
            try:
                value = await source.get(env)
            except Exception as exc:  # a broken source must not hide the others; sources report their own outages
                logger.debug("secrets source %s failed for %s: %s", source.name, env, type(exc).__name__)
                continue
            if value is not None:
                self.redactor.add(value)
                return value, source.name
        return None

    async def get(self, env: str) -> str | None:
        found = await self.lookup(env)
        return found[0] if found is not None else None

    async def where(self, *names: str) -> str | None:
        """The name of the source that has the secret (never its value), or None: each name in turn (a
        catalog secret's variable, then its dotted name), as `resolve_secrets` looks them up."""
        for name in names:
            if (found := await self.lookup(name)) is not None:
                return found[1]
        return None

    def describe(self) -> str:
        """Where secrets are looked for, for instructions in error messages."""
        return ", ".join(source.name for source in self.sources)


def sources_from_settings(settings: Settings, environ: Mapping[str, str], dotenv: Path | None
                          ) -> list[SecretsSource]:
    """The sources named by `settings.secrets_order`, in that order; an unconfigured one (Infisical without a
    client id, a missing `.env`, Docker secrets where none can be read) is left out."""
    sources: list[SecretsSource] = []
    for name in settings.secrets_order:
        if name == "environment":
            sources.append(EnvSecrets(environ))
        elif name == "dotenv" and dotenv is not None and dotenv.is_file():
            sources.append(DotenvSecrets(dotenv))
        elif name == "infisical" and settings.infisical_client_id:
            from meta_mcp.services.infisical import InfisicalSecrets

            sources.append(InfisicalSecrets.from_settings(settings))
        elif name == "docker" and (docker := _docker_source(settings)) is not None:
            sources.append(docker)
    return sources


def _docker_source(settings: Settings) -> SecretsSource | None:
    """Docker MCP secrets (`meta_mcp.services.docker_secrets`), when that module offers a source here."""
    try:
        from meta_mcp.services import docker_secrets  # type: ignore[attr-defined]
    except ImportError:
        return None
    make = getattr(docker_secrets, "from_settings", None)
    return make(settings) if callable(make) else None
