"""meta-mcp as an OAuth 2.1 resource server: JWT access tokens checked against the issuer's JWKS.

A token is accepted when its signature verifies with a key of the issuer's JWKS (an asymmetric
algorithm only; the key chosen by the token's `kid`), `iss` is the configured issuer, `aud` names
this server (`oauth_audience`, default its own URL), `exp` has not passed and `nbf` has (both within
`oauth_leeway_s`), and it carries every scope of `oauth_scopes` (else 403 `insufficient_scope`).

The JWKS URL is `oauth_jwks_url`, or the `jwks_uri` of the issuer's metadata (RFC 8414
`/.well-known/oauth-authorization-server`, then OpenID `/.well-known/openid-configuration`). Keys are
cached for `oauth_jwks_ttl_s`; a token signed with a key id the cache does not know refetches them
(at most once per `oauth_jwks_refresh_min_s`), so a rotation at the issuer is picked up at once.

Claims map to an `Identity`: `sub`; the workspaces claim (`oauth_workspaces_claim`, a list or a
space/comma separated string; without it the subject's own workspace, the one the seed's `X-User-Id`
would give); the role claim (`oauth_role_claim`, its first entry when a list; default
`oauth_default_role`); scopes from `scope` (RFC 9068) or `scp`.

Example:
    verifier = OAuthVerifier(settings, audience="https://mcp.example.com/mcp")
    identity = await verifier.verify(token)        # raises AuthFailure (401 / 403) when it is not good
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING, Any

import anyio

from meta_mcp.identity import Identity, personal_workspace
from meta_mcp.settings import Settings
from meta_mcp.validation import NAME_RE

if TYPE_CHECKING:
    import jwt  # imported when a token is first checked: it costs ~75 ms (cryptography) at start-up

logger = logging.getLogger(__name__)

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
"""Asymmetric only: a resource server holds no shared secret, and `none`/HS* must never verify."""


class AuthFailure(Exception):
    """A request that is not authenticated (401) or lacks a scope (403), in OAuth's terms (RFC 6750)."""

    def __init__(self, status: int, error: str, description: str, *, scope: str | None = None,
                 subject: str | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.scope = scope
        self.subject = subject


def _invalid(description: str) -> AuthFailure:
    return AuthFailure(401, "invalid_token", description)


def _claim(claims: dict[str, Any], path: str) -> Any:
    """A claim by name, or by a dotted path into nested objects (`realm_access.roles`)."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part for part in re.split(r"[\s,]+", value) if part]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v]
    return []


def identity_from_claims(claims: dict[str, Any], settings: Settings) -> Identity:
    subject = str(claims["sub"])
    raw = _claim(claims, settings.oauth_workspaces_claim)
    if raw is None:
        workspaces = [personal_workspace(subject)]
    else:
        workspaces = [w for w in _strings(raw) if w == "*" or NAME_RE.match(w)]
    roles = _strings(_claim(claims, settings.oauth_role_claim))
    scopes = _strings(claims.get("scope")) or _strings(claims.get("scp"))
    return Identity(subject=subject, workspaces=tuple(workspaces), role=roles[0] if roles else settings.oauth_default_role,
                    scopes=tuple(scopes))


def metadata_urls(issuer: str) -> list[str]:
    """Where an issuer's metadata may be (RFC 8414 path insertion first, then OpenID Connect's forms)."""
    from urllib.parse import urlsplit

    parts = urlsplit(issuer)
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    return [f"{origin}/.well-known/oauth-authorization-server{path}",
            f"{origin}{path}/.well-known/openid-configuration",
            f"{origin}/.well-known/openid-configuration{path}"]


class OAuthVerifier:
    """Validates access tokens of one issuer (see the module docstring)."""

    def __init__(self, settings: Settings, audience: str) -> None:
        assert settings.oauth_issuer
        self.settings = settings
        self.issuer = settings.oauth_issuer
        stripped = self.issuer.rstrip("/")
        self._issuers = {self.issuer, stripped, stripped + "/"}
        self.audience = audience
        self.required_scopes = tuple(settings.oauth_scopes)
        self._jwks_url = settings.oauth_jwks_url
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = anyio.Lock()

    async def verify(self, token: str) -> Identity:
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _invalid("the access token is not a JWT") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise _invalid(f"signing algorithm {algorithm!r} is not accepted")
        key = await self._key(header.get("kid"))
        try:
            claims = jwt.decode(
                token, key=key, algorithms=[algorithm], audience=self.audience, issuer=self._issuers,
                leeway=self.settings.oauth_leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"], "verify_signature": True},
            )
        except jwt.ExpiredSignatureError:
            raise _invalid("the access token has expired") from None
        except jwt.ImmatureSignatureError:
            raise _invalid("the access token is not valid yet (nbf)") from None
        except jwt.InvalidAudienceError:
            raise _invalid(f"the access token is not for this server (aud must be {self.audience})") from None
        except jwt.InvalidIssuerError:
            raise _invalid(f"the access token is not from {self.issuer} (iss)") from None
        except jwt.PyJWTError as exc:
            raise _invalid(f"the access token is not valid: {exc}") from None
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise _invalid("the access token names no subject (sub)")
        identity = identity_from_claims(claims, self.settings)
        missing = [s for s in self.required_scopes if s not in identity.scopes]
        if missing:
            raise AuthFailure(403, "insufficient_scope", f"the access token lacks scope {' '.join(missing)}",
                              scope=" ".join(self.required_scopes), subject=identity.subject)
        return identity

    async def _key(self, kid: str | None) -> jwt.PyJWK:
        now = time.monotonic()
        if self._fetched_at is None or now - self._fetched_at > self.settings.oauth_jwks_ttl_s:
            await self._refresh(self._fetched_at)
        key = self._pick(kid)
        if key is None and self._fetched_at is not None and \
                time.monotonic() - self._fetched_at >= self.settings.oauth_jwks_refresh_min_s:
            await self._refresh(self._fetched_at)  # a rotation at the issuer: fetch its keys again
            key = self._pick(kid)
        if key is None and not self._keys:
            raise AuthFailure(503, "temporarily_unavailable",
                              "the authorization server's keys cannot be fetched; try again later")
        if key is None:
            raise _invalid(f"the access token is signed with an unknown key (kid {kid!r})")
        return key

    def _pick(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid)

    async def _refresh(self, seen: float | None) -> None:
        """Fetch the JWKS, unless another request did since `seen`; keeps the old keys if it fails."""
        async with self._lock:
            if self._fetched_at != seen:
                return
            try:
                keys = await self._fetch()
            except Exception as exc:  # noqa: BLE001 - any failure to reach or read the issuer
                logger.warning("oauth: cannot fetch the JWKS of %s: %s", self.issuer, exc)
                self._fetched_at = time.monotonic()  # not again at once: refresh_min_s applies
                return
            self._keys = keys
            self._fetched_at = time.monotonic()
            logger.info("oauth: %d signing key(s) from %s", len(keys), self._jwks_url)

    async def _fetch(self) -> dict[str | None, jwt.PyJWK]:
        import httpx2
        import jwt

        async with httpx2.AsyncClient(timeout=10, follow_redirects=False) as http:
            if self._jwks_url is None:
                self._jwks_url = await self._discover(http)
            response = await http.get(self._jwks_url)
            response.raise_for_status()
            document = response.json()
        keys: dict[str | None, jwt.PyJWK] = {}
        for raw in document.get("keys", []) if isinstance(document, dict) else []:
            if not isinstance(raw, dict) or raw.get("use", "sig") != "sig" or raw.get("kty") == "oct":
                continue
            try:
                keys[raw.get("kid")] = jwt.PyJWK(raw)
            except jwt.PyJWTError as exc:
                logger.debug("oauth: skipping a JWKS key (%s): %s", raw.get("kid"), exc)
        return keys

    async def _discover(self, http: Any) -> str:
        for url in metadata_urls(self.issuer):
            try:
                response = await http.get(url)
            except Exception:  # noqa: BLE001 - try the next well-known location
                continue
            if response.status_code != 200:
                continue
            metadata = response.json()
            if metadata.get("issuer") not in self._issuers:
                raise ValueError(f"{url} names issuer {metadata.get('issuer')!r}, not {self.issuer!r}")
            if isinstance(metadata.get("jwks_uri"), str):
                return metadata["jwks_uri"]
        raise ValueError(f"no metadata with a jwks_uri found for issuer {self.issuer} (set META_MCP_OAUTH_JWKS_URL)")
