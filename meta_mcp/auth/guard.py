"""The authentication guard: ASGI middleware in front of every HTTP route (`/mcp`, the chat API, the rest).

For each request it:
1. serves `/.well-known/oauth-protected-resource[/mcp]` (RFC 9728) when OAuth is configured — the one
   route open to all, so MCP clients can discover the authorization server;
2. authenticates the `Authorization: Bearer` token (`Authenticator`: an API token of the tokens
   file, else an OAuth JWT) — without one, or with a bad one, 401 with `WWW-Authenticate: Bearer
   resource_metadata="…"` (OAuth) or `realm="meta-mcp"` (tokens only); a token without a required
   scope, 403 `insufficient_scope`. With no authentication configured every caller is `ANONYMOUS`;
3. binds the workspace: the `X-MCP-Workspace` header (on the chat API also the seed's `X-User-Id`)
   only chooses among the identity's workspaces, else 403; without a header, the identity's own;
4. puts the identity in the ASGI scope (`scope["meta_mcp.identity"]`, read by the MCP surface and the
   chat API; `scope["user"]` so the SDK binds each MCP session to the credential that opened it) and
   serves the request as that caller (`context.acting_as`);
5. `/mcp`: caps the handshake-era sessions one authenticated identity holds open
   (`http_max_sessions_per_identity`, 429 beyond); the chat API: applies the policy's rate limits
   to its POST routes (429 with `Retry-After`) and audits its state changes.
Every refusal is written to the audit log.

Example:
    app = AuthGuard(HttpGuard(Dispatch(mcp_app, api), settings), auth, sessions=SessionCap(100, alive))
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from meta_mcp.auth.audit import audit
from meta_mcp.auth.context import IDENTITY_KEY as IDENTITY_KEY
from meta_mcp.auth.context import Caller, acting_as
from meta_mcp.auth.context import identity_in as identity_in
from meta_mcp.auth.limits import Refusal
from meta_mcp.auth.oauth import AuthFailure, OAuthVerifier
from meta_mcp.auth.tokens import TokenStore
from meta_mcp.identity import ANONYMOUS, Identity

if TYPE_CHECKING:
    from meta_mcp.auth.setup import Auth

METADATA_PATH = "/.well-known/oauth-protected-resource"
_CHANGE_ROUTES = frozenset({"/mcp/add", "/mcp/remove", "/chat", "/sse/chat", "/chat/resume", "/sse/chat/resume"})
"""Chat-API routes that may change a workspace's servers (audited when they do, or may)."""

Scope = dict[str, Any]


class Authenticator:
    """Who a bearer token is: an API token of the tokens file, else an OAuth access token (JWT)."""

    def __init__(self, tokens: TokenStore | None, oauth: OAuthVerifier | None) -> None:
        self.tokens = tokens
        self.oauth = oauth

    @property
    def enabled(self) -> bool:
        return self.tokens is not None or self.oauth is not None

    async def authenticate(self, authorization: str | None) -> tuple[Identity, str]:
        """(identity, who vouched for it: "tokens" or the issuer); `AuthFailure` otherwise."""
        if not self.enabled:
            return ANONYMOUS, "none"
        if not authorization or authorization[:7].lower() != "bearer " or not authorization[7:].strip():
            raise AuthFailure(401, "", "authentication required: send Authorization: Bearer <token>")
        token = authorization[7:].strip()
        if self.tokens is not None and (identity := self.tokens.lookup(token)) is not None:
            return identity, "tokens"
        if self.oauth is not None and token.count(".") == 2:
            return await self.oauth.verify(token), self.oauth.issuer
        raise AuthFailure(401, "invalid_token", "the token is not valid (unknown, revoked or malformed)")


class SessionCap:
    """Handshake-era MCP sessions held open by each identity, at most `limit` (`alive` tells which still are)."""

    def __init__(self, limit: int, alive: Callable[[str], bool]) -> None:
        self.limit = limit
        self._alive = alive
        self._open: dict[str, set[str]] = {}
        self._opening: dict[str, int] = {}

    def admit(self, subject: str) -> bool:
        """Reserve a place for a session `subject` is opening; False when it holds `limit` already."""
        sessions = self._open.get(subject, set())
        sessions -= {sid for sid in sessions if not self._alive(sid)}
        if len(sessions) + self._opening.get(subject, 0) >= self.limit:
            return False
        self._opening[subject] = self._opening.get(subject, 0) + 1
        return True

    def settle(self, subject: str, session_id: str | None) -> None:
        """The opening request was answered: with a new session's id, or None when none was opened."""
        left = self._opening.get(subject, 1) - 1
        if left > 0:
            self._opening[subject] = left
        else:
            self._opening.pop(subject, None)
        if session_id is not None:
            self._open.setdefault(subject, set()).add(session_id)
        elif subject in self._open and not self._open[subject]:
            del self._open[subject]


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in scope.get("headers", []):
        out.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))
    return out


def _quoted(text: str) -> str:
    return text.replace("\\", "/").replace('"', "'")


async def _respond(send: Any, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] = ()) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": data})


def _error_body(is_mcp: bool, kind: str, message: str, **detail: Any) -> dict[str, Any]:
    """A JSON-RPC error on /mcp; the chat API's `{"error": {"type", "message", …}}` elsewhere."""
    if is_mcp:
        return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}}
    return {"error": {"type": kind, "message": message, **detail}}


class AuthGuard:
    """ASGI middleware (see the module docstring)."""

    def __init__(self, app: Any, auth: Auth, *, mcp_path: str = "/mcp", sessions: SessionCap | None = None) -> None:
        self.app = app
        self.auth = auth
        self.mcp_path = mcp_path
        self.sessions = sessions
        self.header = auth.settings.workspace_header

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path, method = scope.get("path", ""), scope.get("method", "GET")
        auth = self.auth
        if auth.oauth is not None and path.startswith(METADATA_PATH) and method in ("GET", "HEAD"):
            await _respond(send, 200, auth.resource_metadata(),
                           [(b"access-control-allow-origin", b"*"), (b"cache-control", b"max-age=3600")])
            return
        headers = _headers(scope)
        is_mcp = path.rstrip("/") == self.mcp_path
        try:
            identity, vouched = await auth.authenticator.authenticate(headers.get("authorization"))
        except AuthFailure as failure:
            audit("denied", failure.subject or "unauthenticated", None, f"{method} {path}", "denied",
                  status=failure.status, reason=failure.description)
            await self._challenge(send, failure)
            return
        workspace = self._workspace(headers, identity, is_mcp)
        if not identity.may_use(workspace):
            message = (f"Forbidden: {identity.subject} may not use workspace {workspace!r} (its workspaces: "
                       f"{', '.join(identity.workspaces) or 'none'}); the workspace headers only choose among them")
            audit("denied", identity, workspace, f"{method} {path}", "denied", status=403, reason="workspace not allowed")
            await _respond(send, 403, _error_body(is_mcp, "forbidden_workspace", message))
            return
        scope[IDENTITY_KEY] = identity
        if identity is not ANONYMOUS:
            scope["user"], scope["auth"] = _principal(identity, vouched)
        caller = Caller(identity, auth.policy)
        if is_mcp:
            await self._mcp(scope, receive, send, headers, caller)
        else:
            await self._other(scope, receive, send, workspace, caller)

    def _workspace(self, headers: dict[str, str], identity: Identity, is_mcp: bool) -> str:
        if is_mcp:
            return headers.get(self.header.lower()) or identity.default_workspace
        from meta_mcp.api.identity import workspace_name

        return workspace_name(headers, self.header, default=identity.default_workspace)

    async def _challenge(self, send: Any, failure: AuthFailure) -> None:
        params = []
        if failure.error:
            params += [f'error="{failure.error}"', f'error_description="{_quoted(failure.description)}"']
        if failure.scope:
            params.append(f'scope="{failure.scope}"')
        if self.auth.oauth is not None:
            params.append(f'resource_metadata="{self.auth.metadata_url}"')
        else:
            params.insert(0, 'realm="meta-mcp"')
        headers = [(b"www-authenticate", ("Bearer " + ", ".join(params)).encode())]
        if failure.status == 503:
            headers = [(b"retry-after", b"10")]
        await _respond(send, failure.status, {"error": failure.error or "unauthorized",
                                              "error_description": failure.description}, headers)

    async def _mcp(self, scope: Scope, receive: Any, send: Any, headers: dict[str, str], caller: Caller) -> None:
        identity = caller.identity
        opening = (self.sessions is not None and identity is not ANONYMOUS and scope.get("method") == "POST"
                   and "mcp-session-id" not in headers
                   and headers.get("mcp-protocol-version", HANDSHAKE_PROTOCOL_VERSIONS[0]) in HANDSHAKE_PROTOCOL_VERSIONS)
        if not opening:
            with acting_as(caller):
                await self.app(scope, receive, send)
            return
        assert self.sessions is not None
        if not self.sessions.admit(identity.subject):
            message = (f"Too many sessions: {identity.subject} holds {self.sessions.limit} open "
                       "(META_MCP_HTTP_MAX_SESSIONS_PER_IDENTITY); close one (DELETE) or let one expire")
            audit("denied", identity, None, "open MCP session", "denied", status=429, reason="too many sessions")
            await _respond(send, 429, _error_body(True, "too_many_sessions", message), [(b"retry-after", b"60")])
            return
        opened: str | None = None

        async def watch(message: dict[str, Any]) -> None:
            nonlocal opened
            if message["type"] == "http.response.start" and message.get("status", 500) < 400:
                opened = next((v.decode("latin-1") for k, v in message.get("headers", [])
                               if k.lower() == b"mcp-session-id"), None)
            await send(message)

        try:
            with acting_as(caller):
                await self.app(scope, receive, watch)
        finally:
            self.sessions.settle(identity.subject, opened)

    async def _other(self, scope: Scope, receive: Any, send: Any, workspace: str, caller: Caller) -> None:
        identity = caller.identity
        method, path = scope.get("method", "GET"), scope.get("path", "")
        ticket = None
        if method == "POST" and (rules := caller.rules(workspace)) is not None:
            got = self.auth.limiter.acquire((identity.subject, workspace), rules.rate)
            if isinstance(got, Refusal):
                audit("denied", identity, workspace, f"{method} {path}", "rate_limited", status=429, reason=got.message)
                await _respond(send, 429, _error_body(False, "rate_limited", f"Too Many Requests: {got.message}",
                                                      retry_after=got.retry_after_header),
                               [(b"retry-after", got.retry_after_header.encode())])
                return
            ticket = got
        changes = method == "POST" and path.rstrip("/") in _CHANGE_ROUTES
        body = bytearray()
        status: int | None = None

        async def tee() -> dict[str, Any]:
            message = await receive()
            if message["type"] == "http.request" and len(body) < 65_536:
                body.extend(message.get("body", b""))
            return message

        async def watch(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message.get("status")
            await send(message)

        try:
            with acting_as(caller):
                await self.app(scope, tee if changes else receive, watch)
        finally:
            if ticket is not None:
                ticket.release()
            if changes:
                _audit_change(identity, workspace, path.rstrip("/"), bytes(body), status)


def _principal(identity: Identity, vouched: str) -> tuple[Any, Any]:
    """`scope["user"]` / `scope["auth"]` in the SDK's terms, so it binds an MCP session to this principal."""
    from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
    from mcp.server.auth.provider import AccessToken
    from starlette.authentication import AuthCredentials

    token = AccessToken(token="-", client_id=identity.subject, scopes=list(identity.scopes), subject=identity.subject,
                        claims={"iss": vouched})
    return AuthenticatedUser(token), AuthCredentials(list(identity.scopes))


def _audit_change(identity: Identity, workspace: str, route: str, body: bytes, status: int | None) -> None:
    """One audit line for a chat-API request that changed (or tried to change) the workspace's servers."""
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    if route in ("/mcp/add", "/mcp/remove"):
        what = f"POST {route} {data.get('name')}" if isinstance(data.get("name"), str) else f"POST {route}"
    elif route.endswith("/resume"):
        what = f"POST {route}"
    else:
        servers = data.get("inital_servers", data.get("initial_servers")) or []
        names = [s for s in servers if isinstance(s, str)] if isinstance(servers, list) else []
        if not names:
            return  # a chat that adds no server itself (its agent's adds are audited on the call path)
        what = f"POST {route} (servers {', '.join(names)})"
    ok = status is not None and status < 400
    audit("denied" if status in (403, 429) else "change", identity, workspace, what,
          "ok" if ok else f"status {status}", status=status)
