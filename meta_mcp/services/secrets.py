"""Secrets: where a server's required secrets come from, behind one small interface.

A `SecretsSource` answers "what is the value of the secret that this catalog entry reads from
environment variable ENV?". `EnvSecrets` reads the process environment and a `.env` file (given at
start-up, never re-read behind the caller's back); later sources (Infisical, Docker MCP secrets)
implement the same protocol and are chained with `ChainSecrets` — the first source that knows a
secret wins.

Secret values are handed only to the upstream process (its environment) or its HTTP headers. They
never appear in tool results, errors or logs: messages name the variable, never the value, and every
value the chain hands out is added to its `Redactor`, which scrubs it from the logs (and from whatever
else redacts through it).

Example:
    secrets = ChainSecrets([EnvSecrets(os.environ, Path(".env"))])
    await secrets.get("BRAVE_API_KEY")    # → "…" or None
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from dotenv import dotenv_values

from meta_mcp.redaction import Redactor


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


class ChainSecrets:
    """Several sources in order; the first that has a secret wins. Each value found is added to
    `redactor` before it is returned."""

    name = "chain"

    def __init__(self, sources: Sequence[SecretsSource], redactor: Redactor | None = None) -> None:
        self.sources = list(sources)
        self.redactor = redactor if redactor is not None else Redactor()

    async def get(self, env: str) -> str | None:
        for source in self.sources:
            value = await source.get(env)
            if value is not None:
                self.redactor.add(value)
                return value
        return None

    def describe(self) -> str:
        """Where secrets are looked for, for instructions in error messages."""
        return ", ".join(source.name for source in self.sources)
