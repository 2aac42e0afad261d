"""Docker's MCP secret store (`docker mcp secret …`), as a secrets source and as a place to push to.

Servers the Docker MCP Gateway runs get their secrets from Docker's store (the gateway injects them
into the container's environment); meta-mcp never sees those values. So `DockerSecrets`, in the
secrets chain when a gateway is configured, hands out no values (`get` is always None: a local
server cannot be started with them), but it knows which names are set — from `docker mcp secret ls
--json`, run off the event loop with a timeout and cached for a few seconds — so `find_servers` and
`add_server` can say whether a gateway server's secrets are set, and where.

`set_docker_secret(name, value, environ)` is the other direction (`meta-mcp secrets push`): it runs
`docker mcp secret set NAME` with the value on stdin — never in argv, the logs or a result.

`from_settings(settings)` gives the chain its source (`secrets_order` "docker") when a gateway is configured.

Example:
    docker = DockerSecrets()
    await docker.names()                 # frozenset({"github.personal_access_token", …}), None without docker
    await docker.is_set("brave.api_key") # True / False / None (unknown)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from meta_mcp.settings import Settings

logger = logging.getLogger(__name__)


class DockerSecretsError(Exception):
    """`docker mcp secret …` failed; the message says how (never with a secret's value)."""


class DockerSecrets:
    """Which secrets Docker's MCP secret store has (see the module docstring); a `SecretsSource`.

    `environ` is the whole environment `docker` runs with (the caller keeps secrets out of it, e.g.
    with `providers.process.child_env`); None: meta-mcp's own, which start-up scrubbed of secrets."""

    name = "docker"

    def __init__(self, environ: Mapping[str, str] | None = None, *, timeout: float = 10.0, ttl: float = 5.0) -> None:
        self._environ = environ
        self._timeout = timeout
        self._ttl = ttl
        self._cached: tuple[float, frozenset[str] | None] | None = None
        self._lock = anyio.Lock()

    async def get(self, env: str) -> str | None:
        """Docker's store does not hand values out (the gateway injects them): always None."""
        return None

    async def names(self) -> frozenset[str] | None:
        """The names set in Docker's store, or None when they cannot be known (no docker, no plugin, an error)."""
        async with self._lock:
            now = anyio.current_time()
            if self._cached is not None and now - self._cached[0] < self._ttl:
                return self._cached[1]
            names = await self._list()
            self._cached = (anyio.current_time(), names)
            return names

    async def is_set(self, name: str) -> bool | None:
        names = await self.names()
        return None if names is None else name in names

    def forget(self) -> None:
        """Drop the cached list (a secret was just set)."""
        self._cached = None

    async def _list(self) -> frozenset[str] | None:
        try:
            out = await _docker(["mcp", "secret", "ls", "--json"], self._environ, self._timeout)
            listed = json.loads(out)
            return frozenset(s["name"] for s in listed if isinstance(s, dict) and isinstance(s.get("name"), str))
        except (DockerSecretsError, ValueError, TypeError) as exc:
            logger.debug("docker mcp secret ls: %s", exc)
            return None


async def set_docker_secret(name: str, value: str, environ: Mapping[str, str], timeout: float = 30.0) -> None:
    """`docker mcp secret set NAME` with `value` on stdin; `DockerSecretsError` saying why it failed.
    `environ` is the whole environment `docker` runs with."""
    await _docker(["mcp", "secret", "set", name], environ, timeout, stdin=value.encode())


def from_settings(settings: Settings) -> DockerSecrets | None:
    """The chain's Docker source (`secrets_order` "docker"): there when a gateway is configured (`--gateway`)."""
    return DockerSecrets() if settings.gateway else None


async def _docker(args: list[str], environ: Mapping[str, str] | None, timeout: float, stdin: bytes | None = None
                  ) -> str:
    """Run `docker ARGS…` (its output, or `DockerSecretsError` with its first error line)."""
    try:
        with anyio.fail_after(timeout):
            done = await anyio.run_process(["docker", *args], input=stdin, check=False,
                                           env=None if environ is None else dict(environ))
    except TimeoutError:
        raise DockerSecretsError(f"`docker {' '.join(args[:3])}` did not finish within {timeout:g} s") from None
    except OSError as exc:
        raise DockerSecretsError(f"cannot run docker: {exc.strerror or exc}") from None
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        raise DockerSecretsError(f"`docker {' '.join(args[:3])}` failed (exit {done.returncode})"
                                 + (f": {said[0]}" if said else ""))
    return done.stdout.decode(errors="replace")
