"""Serving a team over HTTP: who is calling, what they may do, and a record of it.

- `guard`: `AuthGuard`, the ASGI middleware every HTTP request passes first — authentication (API
  tokens, OAuth access tokens), identity-bound workspaces, per-identity session caps, the chat API's
  rate limits, RFC 9728 protected-resource metadata;
- `tokens`: the API tokens file (SHA-256 → identity) and `TokenStore`, re-read when it changes;
- `oauth`: `OAuthVerifier`, JWT access tokens against the issuer's JWKS;
- `policy`: the config file's `policy:` section → `Rules` per role and workspace; `PolicyStore`;
- `enforce`: the policy as a call interceptor on the registry's one call path;
- `limits`: per-identity rate limits; `audit`: the JSON audit trail; `context`: the caller being served.

`setup.prepare(settings)` checks the configuration at start and builds what `serve_http` wires in; it
refuses to serve off loopback without authentication unless `insecure_no_auth` says so.

Example:
    auth = prepare(settings)   # meta_mcp.auth.setup; AuthError with a message saying why and how to fix it
    app = AuthGuard(HttpGuard(Dispatch(mcp_app, api), settings), auth)
    workspaces.interceptors.append(policy_interceptor(auth.policy, auth.limiter))
"""
