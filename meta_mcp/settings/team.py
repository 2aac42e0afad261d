"""Settings of serving a team over HTTP: API tokens, OAuth, policy, audit and the transport's limits."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class TeamSettings(BaseModel):
    """Authentication (`auth_tokens_file`, `oauth_*`), `public_url`, policy reloads, the audit log and HTTP limits."""

    model_config = ConfigDict(defer_build=True)  # built as part of `Settings`, never on its own

    auth_tokens_file: Path | None = Field(
        default=None, description="HTTP: API tokens file (YAML: each token's SHA-256 → subject, workspaces, role), "
        "written by `meta-mcp token create|revoke`; re-read when it changes, so a revocation needs no restart",
    )
    oauth_issuer: str | None = Field(
        default=None, description="HTTP: accept JWT access tokens of this OAuth 2.1 authorization server (its issuer "
        "URL); keys come from its JWKS",
    )
    oauth_audience: str | None = Field(
        default=None, description="HTTP: the `aud` an access token must name (default: public_url, the server's own URL)"
    )
    oauth_jwks_url: str | None = Field(
        default=None, description="HTTP: the issuer's JWKS (default: jwks_uri from its RFC 8414 / OpenID metadata)"
    )
    oauth_scopes: list[str] = Field(
        default_factory=list, description='HTTP: scopes every access token must carry (JSON list, e.g. ["mcp"]); a '
        "token without one is answered 403 insufficient_scope",
    )
    oauth_workspaces_claim: str = Field(
        default="workspaces", description="HTTP: the claim listing a token's workspaces (a string or a list; dots reach "
        'into objects; "*" means all); without it the subject gets a workspace of its own',
    )
    oauth_role_claim: str = Field(
        default="roles", description="HTTP: the claim holding a token's role (a string, or a list whose first entry counts)"
    )
    oauth_default_role: str = Field(default="member", description="HTTP: the role of a token without the role claim")
    oauth_leeway_s: float = Field(default=30.0, ge=0, description="HTTP: clock skew allowed on exp and nbf (s)")
    oauth_jwks_ttl_s: float = Field(default=3600.0, gt=0, description="HTTP: how long fetched JWKS keys are kept (s)")
    oauth_jwks_refresh_min_s: float = Field(
        default=10.0, ge=0, description="HTTP: a token with an unknown key id refetches the JWKS at most this often (s)"
    )
    public_url: str | None = Field(
        default=None, description="HTTP: the URL clients reach /mcp at (behind a proxy: the public one); default "
        "http://HOST:PORT/mcp; the OAuth audience and resource metadata use it",
    )
    insecure_no_auth: bool = Field(
        default=False, description="HTTP: serve off loopback without authentication (only behind a proxy that "
        "authenticates); without it meta-mcp refuses to start that way",
    )
    policy_reload_s: float = Field(
        default=2.0, gt=0, description="HTTP: how often the config file's policy section is checked for changes (s); "
        "a change applies to live sessions (list_changed)",
    )
    audit_log: Path | None = Field(
        default=None, description="audit lines (JSON, one per state change and per denied request) go to this file "
        "too; they always go to the meta_mcp.audit logger",
    )
    http_header_timeout: float = Field(
        default=10.0, gt=0, description="HTTP: seconds a request's headers may take to arrive (a client that trickles "
        "them is disconnected)",
    )
    http_max_header_bytes: int = Field(default=16_384, ge=1_024, description="HTTP: largest request head (bytes)")
    http_keep_alive_s: int = Field(default=5, ge=1, description="HTTP: idle keep-alive connections are closed after (s)")
    http_max_connections: int | None = Field(
        default=None, ge=1, description="HTTP: connections and requests in progress at most (503 beyond); unset: no limit"
    )
    http_max_sessions: int | None = Field(
        default=10_000, ge=1, description="HTTP: handshake-era MCP sessions open at most (all identities)"
    )
    http_session_idle_timeout: float = Field(
        default=1800.0, gt=0, description="HTTP: an MCP session with no request for this long is closed (s)"
    )
    http_max_sessions_per_identity: int = Field(
        default=100, ge=1, description="HTTP: MCP sessions one authenticated identity may hold open (429 beyond)"
    )
