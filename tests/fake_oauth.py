"""A stand-in OAuth 2.1 authorization server over real HTTP, for the authentication tests.

Written from the specifications meta-mcp relies on: RFC 8414 metadata at
`/.well-known/oauth-authorization-server` (and the same document at OpenID's
`/.well-known/openid-configuration`), a JWKS (RFC 7517) at `/jwks`, and a token endpoint (RFC 6749)
for the `client_credentials` grant with `client_secret_basic` or `client_secret_post`, honouring the
RFC 8707 `resource` parameter as the token's audience. Access tokens are real JWTs (RFC 9068 shape:
`iss`, `sub`, `aud`, `exp`, `iat`, `nbf`, `scope`, `client_id`, plus the claims a test asks for),
signed RS256 with RSA keys generated here; `rotate()` replaces the signing key (the JWKS then lists
only the new one).

    auth = FakeAuthServer().start()
    token = auth.issue("alice", aud="http://127.0.0.1:8000/mcp", workspaces=["team-a"], roles=["member"])
    auth.register_client("ci", "s3cret", sub="ci-bot", workspaces=["team-a"])   # for the SDK's client flow
    auth.rotate()
    auth.stop()
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qs

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from support import free_port


def new_key() -> tuple[str, Any]:
    """(kid, RSA private key)."""
    return uuid.uuid4().hex[:12], rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(kid: str, key: Any) -> dict[str, Any]:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


class FakeAuthServer:
    """The server (uvicorn in a thread of its own); `issue`, `rotate`, `register_client` are thread-safe enough."""

    def __init__(self, default_audience: str | None = None) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.default_audience = default_audience
        self.kid, self.key = new_key()
        self.clients: dict[str, dict[str, Any]] = {}
        self.token_requests: list[dict[str, str]] = []
        self.jwks_requests = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- tokens ------------------------------------------------------------------------------------

    def issue(self, sub: str, *, aud: str | list[str] | None = None, scope: str | None = "mcp",
              workspaces: Any = None, roles: Any = None, expires_in: float = 300, not_before: float | None = None,
              iss: str | None = None, key: tuple[str, Any] | None = None, **claims: Any) -> str:
        """A signed access token; `key` signs with another (kid, key) than the current one."""
        now = int(time.time())
        body: dict[str, Any] = {"iss": iss or self.issuer, "sub": sub, "aud": aud or self.default_audience,
                                "iat": now, "exp": int(now + expires_in), "nbf": int(not_before if not_before is not None
                                                                                     else now), "jti": uuid.uuid4().hex}
        if scope is not None:
            body["scope"] = scope
        if workspaces is not None:
            body["workspaces"] = workspaces
        if roles is not None:
            body["roles"] = roles
        body.update(claims)
        kid, private = key or (self.kid, self.key)
        return jwt.encode(body, private, algorithm="RS256", headers={"kid": kid})

    def rotate(self) -> str:
        """Sign with a new key from now on; the JWKS lists only it. Returns the new kid."""
        self.kid, self.key = new_key()
        return self.kid

    def register_client(self, client_id: str, secret: str, *, sub: str, scope: str = "mcp", **claims: Any) -> None:
        self.clients[client_id] = {"secret": secret, "sub": sub, "scope": scope, "claims": claims}

    # -- HTTP --------------------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                "authorization_endpoint": f"{self.issuer}/authorize", "response_types_supported": ["code"],
                "grant_types_supported": ["client_credentials"], "scopes_supported": ["mcp"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "code_challenge_methods_supported": ["S256"]}

    async def _metadata(self, request: Request) -> JSONResponse:
        return JSONResponse(self.metadata())

    async def _jwks(self, request: Request) -> JSONResponse:
        self.jwks_requests += 1
        return JSONResponse({"keys": [public_jwk(self.kid, self.key)]})

    async def _token(self, request: Request) -> JSONResponse:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        self.token_requests.append(form)
        client_id, secret = form.get("client_id"), form.get("client_secret")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            from urllib.parse import unquote

            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            client_id, secret = unquote(client_id), unquote(secret)
        client = self.clients.get(client_id or "")
        if client is None or client["secret"] != secret:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        token = self.issue(client["sub"], aud=form.get("resource") or self.default_audience,
                           scope=form.get("scope") or client["scope"], client_id=client_id, **client["claims"])
        return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": 300,
                             "scope": form.get("scope") or client["scope"]})

    def start(self) -> FakeAuthServer:
        app = Starlette(routes=[
            Route("/.well-known/oauth-authorization-server", self._metadata),
            Route("/.well-known/openid-configuration", self._metadata),
            Route("/jwks", self._jwks),
            Route("/token", self._token, methods=["POST"]),
        ])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("the fake authorization server did not start")
            time.sleep(0.02)  # waiting for another thread's server to bind: there is no event to await
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
