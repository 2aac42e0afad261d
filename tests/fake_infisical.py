"""A stand-in Infisical server: the REST calls `infisicalsdk` 1.0.18 makes, on a real local socket.

Written from the SDK's own code (`infisical_sdk/resources/auth_methods/universal_auth.py`,
`resources/secrets.py`, `api_types.py`) and Infisical's documented API:

- `POST /api/v1/auth/universal-auth/login` `{clientId, clientSecret}` → `{accessToken, expiresIn,
  accessTokenMaxTTL, tokenType}`; wrong credentials → 401 `{"message": …}`;
- `GET /api/v3/secrets/raw?workspaceId=&environment=&secretPath=&viewSecretValue=&expandSecretReferences=
  &recursive=&include_imports=` with `Authorization: Bearer <token>` → `{secrets: [secret…], imports:
  [{secretPath, environment, folderId, secrets: […]}]}`; an unknown project or environment → 404;
- `GET /api/v3/secrets/raw/{name}` (same query) → `{secret: {…}}`, 404 when absent.
A secret is `{id, _id, workspace, environment, version, type, secretKey, secretValue, secretComment,
createdAt, updatedAt, …}` — every field `BaseSecret.from_dict` requires.

Knobs for tests: `secrets` and `imported` (mutable dicts), `delay` (seconds before every answer: an
Infisical that hangs), `token_ttl` (the `expiresIn` handed out), `revoke()` (every token issued so far
answers 401 from now on), and the `requests` log of (method, path) pairs.

    with FakeInfisical(secrets={"API_TOKEN": "s3cr3t"}) as fake:
        fake.url  # → "http://127.0.0.1:PORT"
"""

from __future__ import annotations

import json
import secrets as _random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret-7f3a9c2e51"
PROJECT_ID = "proj-1234"


def _secret(key: str, value: str, environment: str, path: str = "/") -> dict[str, Any]:
    return {"id": f"id-{key}", "_id": f"id-{key}", "workspace": PROJECT_ID, "environment": environment,
            "version": 1, "type": "shared", "secretKey": key, "secretValue": value, "secretComment": "",
            "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z",
            "secretPath": path, "tags": []}


class FakeInfisical:
    def __init__(self, secrets: dict[str, str] | None = None, *, imported: dict[str, str] | None = None,
                 environment: str = "dev", secret_path: str = "/", token_ttl: int = 7200) -> None:
        self.secrets = dict(secrets or {})
        self.imported = dict(imported or {})
        self.environment = environment
        self.secret_path = secret_path
        self.token_ttl = token_ttl
        self.delay = 0.0
        self.requests: list[tuple[str, str]] = []
        self._tokens: set[str] = set()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                fake._record("POST", self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if urlsplit(self.path).path != "/api/v1/auth/universal-auth/login":
                    return self._answer(404, {"message": "Not found"})
                if body.get("clientId") != CLIENT_ID or body.get("clientSecret") != CLIENT_SECRET:
                    return self._answer(401, {"statusCode": 401, "message": "Invalid credentials",
                                              "error": "UnauthorizedError"})
                token = _random.token_hex(16)
                with fake._lock:
                    fake._tokens.add(token)
                self._answer(200, {"accessToken": token, "expiresIn": fake.token_ttl,
                                   "accessTokenMaxTTL": 2592000, "tokenType": "Bearer"})

            def do_GET(self) -> None:  # noqa: N802
                fake._record("GET", self.path)
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                auth = self.headers.get("Authorization", "")
                with fake._lock:
                    known = auth.startswith("Bearer ") and auth[7:] in fake._tokens
                if not known:
                    return self._answer(401, {"statusCode": 401, "message": "Token invalid or expired"})
                if query.get("workspaceId") != PROJECT_ID or query.get("environment") != fake.environment:
                    return self._answer(404, {"statusCode": 404, "message": "Project or environment not found"})
                if query.get("secretPath", "/") != fake.secret_path:
                    return self._answer(200, {"secrets": [], "imports": []})
                env = fake.environment
                if url.path == "/api/v3/secrets/raw":
                    imports = [{"secretPath": "/shared", "environment": env, "folderId": "f-1",
                                "secrets": [_secret(k, v, env, "/shared") for k, v in fake.imported.items()]}]
                    return self._answer(200, {"secrets": [_secret(k, v, env) for k, v in fake.secrets.items()],
                                              "imports": imports if fake.imported else []})
                prefix = "/api/v3/secrets/raw/"
                if url.path.startswith(prefix):
                    name = unquote(url.path[len(prefix):])
                    if name in fake.secrets:
                        return self._answer(200, {"secret": _secret(name, fake.secrets[name], env)})
                    return self._answer(404, {"statusCode": 404, "message": f"Secret with name '{name}' not found"})
                self._answer(404, {"message": "Not found"})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    def _record(self, method: str, path: str) -> None:
        with self._lock:
            self.requests.append((method, urlsplit(path).path))
        if self.delay:
            time.sleep(self.delay)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def count(self, method: str, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r == (method, path))

    @property
    def logins(self) -> int:
        return self.count("POST", "/api/v1/auth/universal-auth/login")

    @property
    def lists(self) -> int:
        return self.count("GET", "/api/v3/secrets/raw")

    def revoke(self) -> None:
        with self._lock:
            self._tokens.clear()

    def start(self) -> FakeInfisical:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-infisical", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeInfisical:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def env(self, **extra: str) -> dict[str, str]:
        """The environment a meta-mcp process needs to read from this server."""
        return {"INFISICAL_SITE_URL": self.url, "INFISICAL_CLIENT_ID": CLIENT_ID,
                "INFISICAL_CLIENT_SECRET": CLIENT_SECRET, "INFISICAL_PROJECT_ID": PROJECT_ID,
                "INFISICAL_ENVIRONMENT": self.environment, "INFISICAL_SECRET_PATH": self.secret_path, **extra}
