"""Infisical as a secrets source: a project's secrets, read with a machine identity (universal auth).

`InfisicalSecrets` lists the raw secrets of one project, environment and folder (imports included;
the folder's own secrets win over imported ones) with the `infisicalsdk` client, and answers lookups
from that listing, kept for `infisical_cache_ttl_s` seconds. So one refresh (login when the token
is missing or expired, then one list) serves every lookup of the period — a catalog secret is looked
up by its variable and by Docker's dotted name, `brave.api_key`, and both are keys of the listing.

The SDK is synchronous (`requests`), sends no request timeout and retries a refused connection for
~15 s. It runs in a worker thread under our own `infisical_timeout_s` (its session also gets that
timeout, so an abandoned thread ends soon after); at most one refresh runs at a time, and a refresh
still running after we gave up is not started again. An unreachable or refusing Infisical therefore
costs at most that timeout once per TTL period: it is logged once, as a warning naming Infisical and
the reason, lookups answer from the last good listing (or nothing) and the chain asks the next
source. When Infisical answers again, that is logged too.

Example:
    source = InfisicalSecrets.from_settings(settings)
    await source.get("BRAVE_API_KEY")     # → "…" or None
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from meta_mcp.settings import Settings

logger = logging.getLogger(__name__)

_TOKEN_MARGIN_S = 30.0
"""Log in again this long before the access token expires."""


@dataclass(frozen=True, slots=True)
class InfisicalConfig:
    site_url: str
    client_id: str
    client_secret: str
    project_id: str
    environment: str = "dev"
    secret_path: str = "/"
    timeout_s: float = 5.0
    ttl_s: float = 300.0


class InfisicalError(Exception):
    """A refresh failed; the message says why (never a secret)."""


class InfisicalSecrets:
    """Secrets of one Infisical project folder (see the module docstring)."""

    name = "infisical"

    def __init__(self, config: InfisicalConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._values: dict[str, str] = {}
        self._checked_at: float | None = None
        """When the last refresh was tried (successful or not)."""
        self._lock: anyio.Lock | None = None
        self._busy = threading.Event()
        """A refresh thread is running (possibly one we stopped waiting for)."""
        self._down = False
        """The last refresh failed (and was reported)."""
        self._client: Any = None
        self._token_expires = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> InfisicalSecrets:
        secret = settings.infisical_client_secret
        return cls(InfisicalConfig(
            site_url=settings.infisical_site_url.rstrip("/"), client_id=settings.infisical_client_id or "",
            client_secret=secret.get_secret_value() if secret is not None else "",
            project_id=settings.infisical_project_id or "", environment=settings.infisical_environment,
            secret_path=settings.infisical_secret_path, timeout_s=settings.infisical_timeout_s,
            ttl_s=settings.infisical_cache_ttl_s))

    async def get(self, env: str) -> str | None:
        await self._refresh_if_stale()
        return self._values.get(env) or None

    def _fresh(self) -> bool:
        return self._checked_at is not None and self._clock() - self._checked_at < self.config.ttl_s

    async def _refresh_if_stale(self) -> None:
        if self._fresh():
            return
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            if self._fresh() or self._busy.is_set():  # refreshed meanwhile, or an abandoned refresh still runs
                return
            self._checked_at = self._clock()
            self._busy.set()
            try:
                with anyio.fail_after(self.config.timeout_s):
                    values = await anyio.to_thread.run_sync(self._fetch, abandon_on_cancel=True)
            except TimeoutError:
                self._failed(f"no answer within {self.config.timeout_s:g}s (META_MCP_INFISICAL_TIMEOUT_S)")
            except InfisicalError as exc:
                self._failed(str(exc))
            except Exception as exc:  # anything the SDK raises: reported, never fatal
                self._failed(f"{type(exc).__name__}: {exc}")
            else:
                self._values = values
                if self._down:
                    logger.info("Infisical at %s answers again (%d secrets)", self.config.site_url, len(values))
                self._down = False
            finally:
                self._checked_at = self._clock()

    def _failed(self, reason: str) -> None:
        if not self._down:
            logger.warning(
                "Infisical at %s is unavailable: %s; its secrets are %s and the next secrets source is asked "
                "(Infisical is tried again in %gs)", self.config.site_url, reason,
                "kept from the last answer" if self._values else "not available", self.config.ttl_s)
        else:
            logger.debug("Infisical at %s still unavailable: %s", self.config.site_url, reason)
        self._down = True

    # -- in the worker thread ----------------------------------------------------------------------

    def _fetch(self) -> dict[str, str]:
        try:
            return self._list()
        finally:
            self._busy.clear()

    def _sdk(self) -> Any:
        if self._client is None:
            from infisical_sdk import InfisicalSDKClient  # ~1.4 s to import (boto3): only here, off the loop

            client = InfisicalSDKClient(host=self.config.site_url, cache_ttl=None)  # type: ignore[arg-type]
            session = client.api.session
            request = session.request
            timeout = self.config.timeout_s

            def bounded(method: str, url: str, **kwargs: Any) -> Any:  # the SDK sends no timeout of its own
                kwargs.setdefault("timeout", timeout)
                return request(method, url, **kwargs)

            session.request = bounded  # type: ignore[method-assign]
            self._client = client
        return self._client

    def _login(self) -> None:
        from infisical_sdk.infisical_requests import APIError

        config = self.config
        try:
            answer = self._sdk().auth.universal_auth.login(client_id=config.client_id,
                                                          client_secret=config.client_secret)
        except APIError as exc:
            raise InfisicalError(f"universal-auth login refused (HTTP {exc.status_code}; check INFISICAL_CLIENT_ID "
                                 "and INFISICAL_CLIENT_SECRET)") from None
        self._token_expires = time.monotonic() + max(float(answer.expiresIn or 0) - _TOKEN_MARGIN_S, 0.0)

    def _list(self) -> dict[str, str]:
        from infisical_sdk.infisical_requests import APIError

        config = self.config
        if time.monotonic() >= self._token_expires:
            self._login()
        for attempt in (1, 2):
            try:
                listing = self._sdk().secrets.list_secrets(
                    environment_slug=config.environment, secret_path=config.secret_path, project_id=config.project_id,
                    expand_secret_references=True, view_secret_value=True, include_imports=True)
                break
            except APIError as exc:
                if exc.status_code == 401 and attempt == 1:  # the token expired early or was revoked
                    self._login()
                    continue
                said = exc.response.get("message", "") if isinstance(exc.response, dict) else ""
                raise InfisicalError(f"listing secrets of project {config.project_id!r}, environment "
                                     f"{config.environment!r}, path {config.secret_path!r} failed (HTTP "
                                     f"{exc.status_code}: {said})") from None
        values: dict[str, str] = {}
        for imported in reversed(listing.imports or []):  # the first import wins among imports
            values.update(_pairs(imported.secrets))
        values.update(_pairs(listing.secrets))
        return values


def _pairs(secrets: Any) -> dict[str, str]:
    """key → value of a list of secrets: `BaseSecret`s, or plain dicts (the SDK leaves imported ones unparsed)."""
    pairs = {}
    for secret in secrets or []:
        key, value = (secret.get("secretKey"), secret.get("secretValue")) if isinstance(secret, dict) else (
            secret.secretKey, secret.secretValue)
        if isinstance(key, str) and isinstance(value, str) and value:
            pairs[key] = value
    return pairs
