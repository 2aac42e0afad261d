"""What the HTTP server wires in for authentication, policy and limits, checked once at start.

`prepare(settings)` reads the tokens file and the config file's policy, builds the OAuth verifier,
and refuses to serve off loopback without authentication unless `insecure_no_auth` says so: an
`AuthError` whose message says why and what to do.

Example:
    auth = prepare(settings)
    app = AuthGuard(HttpGuard(Dispatch(mcp_app, api), settings), auth)
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from meta_mcp.settings import Settings

if TYPE_CHECKING:
    from meta_mcp.auth.guard import Authenticator
    from meta_mcp.auth.limits import Limiter
    from meta_mcp.auth.oauth import OAuthVerifier
    from meta_mcp.auth.policy import PolicyStore

# The guard, tokens, OAuth, policy and limits are imported by `prepare` and `Auth`'s limiter: only HTTP uses
# them, and the stdio server imports this module too.

logger = logging.getLogger(__name__)


class AuthError(ValueError):
    """meta-mcp cannot serve HTTP with this configuration; the message says why and what to do."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resource_url(settings: Settings) -> str:
    """The URL clients reach `/mcp` at: `public_url`, else `http://HOST:PORT/mcp`."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"http://{host}:{settings.port}/mcp"


def _limiter() -> Limiter:
    from meta_mcp.auth.limits import Limiter

    return Limiter()


@dataclass
class Auth:
    """Everything the HTTP server wires in for authentication, policy and limits."""

    settings: Settings
    authenticator: Authenticator
    policy: PolicyStore
    resource_url: str
    limiter: Limiter = field(default_factory=_limiter)

    @property
    def oauth(self) -> OAuthVerifier | None:
        return self.authenticator.oauth

    @property
    def metadata_url(self) -> str:
        """Where this resource's RFC 9728 metadata is: the well-known path inserted before the URL's path."""
        parts = urlsplit(self.resource_url)
        return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource{parts.path.rstrip('/')}"

    def resource_metadata(self) -> dict[str, Any]:
        assert self.oauth is not None
        metadata: dict[str, Any] = {"resource": self.resource_url, "authorization_servers": [self.oauth.issuer],
                                    "bearer_methods_supported": ["header"], "resource_name": "meta-mcp"}
        if self.oauth.required_scopes:
            metadata["scopes_supported"] = list(self.oauth.required_scopes)
        return metadata


def no_auth_refusal(settings: Settings) -> str:
    port = settings.port
    return (
        f"refusing to serve HTTP on {settings.host}:{port} without authentication: anyone who can reach that port "
        "could use every workspace — list, call and remove its servers, and add servers that run commands as "
        "this user.\n"
        "  Configure authentication: --tokens-file FILE (create a token with `meta-mcp token create --tokens-file "
        "FILE --subject NAME --workspace NAME`) and/or --oauth-issuer URL (an OAuth 2.1 authorization server); "
        "or bind to 127.0.0.1 (--host 127.0.0.1);\n"
        "  or, only when a proxy in front authenticates every request, pass --insecure-no-auth."
    )


def prepare(settings: Settings) -> Auth:
    """Check the HTTP server's authentication and policy configuration; `AuthError` says what is wrong."""
    from meta_mcp.auth.guard import Authenticator
    from meta_mcp.auth.oauth import OAuthVerifier
    from meta_mcp.auth.policy import PolicyError, PolicyStore
    from meta_mcp.auth.tokens import TokensFileError, TokenStore, read_tokens

    tokens = None
    if settings.auth_tokens_file is not None:
        path = settings.auth_tokens_file.expanduser()
        try:
            count = len(read_tokens(path))
        except TokensFileError as exc:
            raise AuthError(str(exc)) from None
        if not path.exists():
            logger.warning("tokens file %s does not exist yet: no API token is accepted until "
                           "`meta-mcp token create --tokens-file %s …` writes one", path, path)
        elif count == 0:
            logger.warning("tokens file %s has no token yet", path)
        tokens = TokenStore(path)
    url = resource_url(settings)
    oauth = None
    if settings.oauth_issuer:
        if urlsplit(settings.oauth_issuer).scheme not in ("http", "https"):
            raise AuthError(f"--oauth-issuer must be an http(s) URL, not {settings.oauth_issuer!r}")
        if not settings.public_url and not settings.oauth_audience and not is_loopback(settings.host):
            logger.warning("OAuth audience defaults to %s; set --public-url (or --oauth-audience) to the URL "
                           "clients use", url)
        oauth = OAuthVerifier(settings, settings.oauth_audience or url)
    if tokens is None and oauth is None and not is_loopback(settings.host) and not settings.insecure_no_auth:
        raise AuthError(no_auth_refusal(settings))
    try:
        policy = PolicyStore(settings.config.expanduser() if settings.config else None)
    except PolicyError as exc:
        raise AuthError(str(exc)) from None
    return Auth(settings=settings, authenticator=Authenticator(tokens, oauth), policy=policy, resource_url=url)


def install(auth: Auth, workspaces: Any) -> None:
    """Put the policy on every workspace's call path and turn the audit trail on."""
    from meta_mcp.auth.audit import configure
    from meta_mcp.auth.enforce import policy_interceptor

    configure(auth.settings.audit_log)
    workspaces.interceptors.append(policy_interceptor(auth.policy, auth.limiter))


def guarded(auth: Auth, app: Any, server: Any) -> Any:
    """`app` behind the `AuthGuard`, capping each identity's MCP sessions of `server`'s session manager."""
    from meta_mcp.auth.guard import AuthGuard, SessionCap

    manager = server.session_manager
    # The SDK keeps its live sessions privately; it is the one place that knows when one ended (idle, DELETE).
    sessions = SessionCap(auth.settings.http_max_sessions_per_identity,
                          lambda session_id: session_id in manager._server_instances)  # noqa: SLF001
    return AuthGuard(app, auth, sessions=sessions)


async def watch_policy(auth: Auth, workspaces: Any) -> None:
    """Poll the config file's policy; on a change, tell every client of every workspace its tools changed."""
    import anyio

    from meta_mcp.auth.audit import audit
    from meta_mcp.identity import LOCAL

    while True:
        await anyio.sleep(auth.settings.policy_reload_s)
        if auth.policy.reload_if_changed():
            audit("change", LOCAL, None, f"policy reloaded from {auth.policy.path}", "ok")
            for registry in list(workspaces):
                await registry.notifier.changed(tools=True)
