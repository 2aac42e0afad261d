"""Serving a team over HTTP (issue 13): authentication, identity-bound workspaces, policy, limits, audit.

Real meta-mcp processes over real HTTP, clients of both eras. The authorization server is
`tests/fake_oauth.py` (real RS256 JWTs, keys generated here, JWKS and RFC 8414 metadata on a local
port); the SDK's own OAuth client (`ClientCredentialsOAuthProvider`) finds it through meta-mcp's 401
and RFC 9728 metadata. agent_chat runs against the scripted OpenAI-compatible stub.

Identities (API tokens unless said): alice (team-a, member), bob (team-b, member), root (every
workspace, admin), lim (team-l, role limited: 60 calls/min, burst 2), nocode (team-n, role nocode:
no run_code, no agent_chat); carol and the CI client come with OAuth access tokens.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import yaml
from mcp.client.streamable_http import streamable_http_client

from fake_oauth import FakeAuthServer, new_key
from meta_mcp.auth.limits import Limiter, Refusal
from meta_mcp.auth.policy import Policy, RateLimit, fold, sections_for
from meta_mcp.auth.tokens import TokenStore, create_token, revoke_tokens
from openai_stub import OpenAIStub, text, tool_calls
from support import (
    MODES,
    REPO,
    ListChangedWatcher,
    free_port,
    make_client,
    meta_mcp_argv,
    meta_mcp_http,
    poll_until,
    text_of,
    tool_names,
    upstream_argv,
)
from test_agent_loop import agent_env, stub  # noqa: F401 - its module-scoped OpenAI stub fixture

pytestmark = pytest.mark.anyio

POLICY = {
    "defaults": {"catalog": ["echo", "rich"]},
    "roles": {
        "admin": {"adhoc": True, "catalog": ["*"]},
        "member": {"tools": {"deny": ["rich__get_weather"]}},
        "limited": {"rate_limit": {"calls_per_minute": 60, "burst": 2}},
        "nocode": {"run_code": False, "agent_chat": False},
    },
}


def _catalog(path: Path) -> Path:
    def entry(script: str) -> dict[str, Any]:
        argv = upstream_argv(script)
        return {"title": f"{script} (test)", "description": f"The {script} test upstream.", "type": "server",
                "run": {"command": argv[0], "args": argv[1:]}}

    path.write_text(yaml.safe_dump({"registry": {"echo": entry("echo"), "rich": entry("rich"),
                                                 "other": entry("echo")}}))
    return path


def _config(path: Path, policy: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({"mcpServers": {}, "policy": policy}))
    return path


class Team:
    """The module's meta-mcp and who may use it."""

    def __init__(self, url: str, auth: FakeAuthServer, tokens: dict[str, str], tokens_file: Path, audit: Path,
                 stub: OpenAIStub) -> None:
        self.url = url
        self.base = url.removesuffix("/mcp")
        self.auth = auth
        self.tokens = tokens
        self.tokens_file = tokens_file
        self.audit = audit
        self.stub = stub

    def jwt(self, sub: str, **kw: Any) -> str:
        kw.setdefault("aud", self.url)
        return self.auth.issue(sub, **kw)

    def client(self, mode: str, who: str | None = None, *, token: str | None = None, workspace: str | None = None,
               **kwargs: Any) -> Any:
        return client(self.url, mode, token or (self.tokens[who] if who else None), workspace, **kwargs)

    def http(self, who: str | None = None, *, token: str | None = None, **headers: str) -> httpx2.AsyncClient:
        token = token or (self.tokens[who] if who else None)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx2.AsyncClient(base_url=self.base, headers=headers, timeout=30)

    def audit_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.audit.read_text().splitlines() if line.strip()]


def client(url: str, mode: str, token: str | None, workspace: str | None = None, **kwargs: Any) -> Any:
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if workspace:
        headers["X-MCP-Workspace"] = workspace
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=None))
    return make_client(streamable_http_client(url, http_client=http), mode, **kwargs)


@pytest.fixture(scope="module")
def oauth() -> Any:
    server = FakeAuthServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
async def team(tmp_path_factory: pytest.TempPathFactory, oauth: FakeAuthServer, stub: OpenAIStub
               ) -> AsyncIterator[Team]:
    d = tmp_path_factory.mktemp("team")
    tokens_file = d / "tokens.yaml"
    tokens = {who: create_token(tokens_file, who, workspaces, role)[0] for who, workspaces, role in (
        ("alice", ["team-a"], "member"), ("bob", ["team-b"], "member"), ("root", ["*"], "admin"),
        ("lim", ["team-l"], "limited"), ("nocode", ["team-n"], "nocode"))}
    audit = d / "audit.jsonl"
    env = agent_env(stub, META_MCP_ALLOW_ADHOC_HTTP="0", META_MCP_OAUTH_JWKS_REFRESH_MIN_S="0",
                    META_MCP_AUDIT_LOG=str(audit))
    argv = ("--catalog", str(_catalog(d / "catalog.yaml")), "--tokens-file", str(tokens_file),
            "--oauth-issuer", oauth.issuer)
    async with meta_mcp_http(_config(d / "team.yaml", POLICY), *argv, env=env) as url:
        team = Team(str(url), oauth, tokens, tokens_file, audit, stub)
        # Each member's workspace gets the echo and rich servers from the catalog.
        for who, workspace in (("alice", "team-a"), ("bob", "team-b"), ("nocode", "team-n")):
            async with team.client("legacy", who) as c:
                for name in ("echo", "rich"):
                    added = await c.call_tool("add_server", {"name": name})
                    assert not added.is_error, text_of(added)
        yield team


# -- authentication ------------------------------------------------------------------------------------


def _challenge(response: httpx2.Response) -> str:
    assert response.status_code == 401, (response.status_code, response.text)
    return response.headers["www-authenticate"]


@pytest.mark.parametrize("mode", MODES)
async def test_no_token_is_401_with_the_resource_metadata_on_every_route(team: Team, mode: str) -> None:
    with pytest.raises(Exception):  # the SDK's client reports "Server returned an error response"
        async with team.client(mode) as c:
            await c.list_tools()
    metadata_url = f"{team.base}/.well-known/oauth-protected-resource/mcp"
    async with team.http() as http:
        for response in (
            await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                            headers={"Accept": "application/json, text/event-stream"}),
            await http.get("/mcp/servers"), await http.post("/mcp/find", json={"query": "x"}),
            await http.get("/health"), await http.get("/docs"), await http.get("/nowhere"),
        ):
            challenge = _challenge(response)
            assert challenge.startswith("Bearer ") and f'resource_metadata="{metadata_url}"' in challenge
            assert "error=" not in challenge  # no credentials is not an error (RFC 6750 §3.1)
        metadata = (await http.get("/.well-known/oauth-protected-resource/mcp")).json()
        assert metadata["resource"] == team.url and metadata["authorization_servers"] == [team.auth.issuer]
        assert (await http.get("/.well-known/oauth-protected-resource")).json() == metadata


async def test_bad_expired_wrong_audience_and_wrong_issuer_jwts_are_401(team: Team) -> None:
    stranger = new_key()
    now = time.time()
    bad = {
        "garbage": "not-a-token",
        "not a jwt": "a.b.c",
        "expired": team.jwt("carol", expires_in=-120),
        "not yet valid": team.jwt("carol", not_before=now + 600),
        "wrong audience": team.jwt("carol", aud="http://elsewhere.example/mcp"),
        "wrong issuer": team.jwt("carol", iss="http://evil.example"),
        "forged signature": team.jwt("carol", key=(team.auth.kid, stranger[1])),
        "unknown key": team.jwt("carol", key=stranger),
        "no subject": team.jwt(""),
        "symmetric alg": _hs256(team.url, team.auth.issuer),
    }
    async with team.http() as http:
        for what, token in bad.items():
            for response in (await http.get("/mcp/servers", headers={"Authorization": f"Bearer {token}"}),
                             await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                             headers={"Authorization": f"Bearer {token}",
                                                      "Accept": "application/json, text/event-stream"})):
                assert response.status_code == 401, (what, response.status_code, response.text)
                assert 'error="invalid_token"' in response.headers["www-authenticate"], what
        good = await http.get("/mcp/servers", headers={"Authorization": f"Bearer {team.jwt('carol')}"})
        assert good.status_code == 200 and good.json()["workspace"] == "carol"  # no workspaces claim: its own


def _hs256(aud: str, iss: str) -> str:
    import jwt

    return jwt.encode({"sub": "mallory", "aud": aud, "iss": iss, "exp": int(time.time()) + 300},
                      "0" * 32, algorithm="HS256")


@pytest.mark.parametrize("mode", MODES)
async def test_an_access_token_maps_to_its_workspaces_and_role(team: Team, mode: str) -> None:
    token = team.jwt(f"carol-{mode}", workspaces=["team-a"], roles=["member", "other"])
    async with team.client(mode, token=token) as c:
        names = await tool_names(c)
    assert "echo__echo" in names and "rich__echo" in names  # team-a's servers
    assert "rich__get_weather" not in names  # role member (the first of the roles claim)
    async with team.http(token=token) as http:
        assert (await http.get("/mcp/servers", headers={"X-MCP-Workspace": "team-b"})).status_code == 403


async def test_a_jwks_key_rotation_is_picked_up(team: Team) -> None:
    async with team.http() as http:
        before = team.auth.jwks_requests
        old = team.jwt("dave")
        assert (await http.get("/mcp/servers", headers={"Authorization": f"Bearer {old}"})).status_code == 200
        team.auth.rotate()
        new = team.jwt("dave")
        assert (await http.get("/mcp/servers", headers={"Authorization": f"Bearer {new}"})).status_code == 200
        assert team.auth.jwks_requests > before
        # The old key is gone from the issuer's JWKS: its tokens no longer verify.
        assert (await http.get("/mcp/servers", headers={"Authorization": f"Bearer {old}"})).status_code == 401


async def test_a_missing_scope_is_403_insufficient_scope(oauth: FakeAuthServer, tmp_path: Path) -> None:
    async with meta_mcp_http(None, "--oauth-issuer", oauth.issuer, "--oauth-scope", "mcp") as url:
        async with httpx2.AsyncClient(timeout=30) as http:
            token = oauth.issue("erin", aud=str(url), scope="profile")
            response = await http.get(str(url).removesuffix("/mcp") + "/mcp/servers",
                                      headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 403, response.text
            challenge = response.headers["www-authenticate"]
            assert 'error="insufficient_scope"' in challenge and 'scope="mcp"' in challenge
            ok = oauth.issue("erin", aud=str(url), scope="profile mcp")
            assert (await http.get(str(url).removesuffix("/mcp") + "/mcp/servers",
                                   headers={"Authorization": f"Bearer {ok}"})).status_code == 200


@pytest.mark.parametrize("mode", MODES)
async def test_the_sdk_oauth_client_discovers_the_server_and_gets_a_token(team: Team, mode: str) -> None:
    from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider

    class Memory:
        def __init__(self) -> None:
            self.tokens: Any = None
            self.client: Any = None

        async def get_tokens(self) -> Any:
            return self.tokens

        async def set_tokens(self, tokens: Any) -> None:
            self.tokens = tokens

        async def get_client_info(self) -> Any:
            return self.client

        async def set_client_info(self, info: Any) -> None:
            self.client = info

    team.auth.register_client(f"ci-{mode}", "ci-secret", sub=f"ci-bot-{mode}", workspaces=["team-a"],
                              roles=["member"])
    provider = ClientCredentialsOAuthProvider(team.url, Memory(), f"ci-{mode}", "ci-secret", scope="mcp",
                                              issuer=team.auth.issuer)
    http = httpx2.AsyncClient(auth=provider, timeout=httpx2.Timeout(30, read=None))
    async with make_client(streamable_http_client(team.url, http_client=http), mode) as c:
        result = await c.call_tool("echo__echo", {"text": "hi"})
    assert not result.is_error and text_of(result) == "hi"
    request = team.auth.token_requests[-1]
    assert request["grant_type"] == "client_credentials" and request["resource"] == team.url


# -- identity-bound workspaces ---------------------------------------------------------------------------


async def test_a_token_for_workspace_a_cannot_touch_workspace_b_by_any_header(team: Team) -> None:
    accept = {"Accept": "application/json, text/event-stream"}
    bodies = {
        "list": {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        "call": {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo__echo",
                                                                             "arguments": {"text": "x"}}},
        "remove": {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                   "params": {"name": "remove_server", "arguments": {"name": "echo"}}},
        "run code": {"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                     "params": {"name": "run_code", "arguments": {"code": "export default 1"}}},
        "initialize": {"jsonrpc": "2.0", "id": 5, "method": "initialize",
                       "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                                  "clientInfo": {"name": "x", "version": "1"}}},
    }
    async with team.http("alice") as http:
        for header in ({"X-MCP-Workspace": "team-b"}, {"X-MCP-Workspace": "default"}):
            for what, body in bodies.items():
                for version in ({}, {"MCP-Protocol-Version": "2026-07-28"}):
                    response = await http.post("/mcp", json=body, headers={**accept, **header, **version})
                    assert response.status_code == 403, (what, header, response.text)
        for header in ({"X-MCP-Workspace": "team-b"}, {"X-User-Id": "team-b"}, {"X-User-Id": "bob@example.com"},
                       {"X-MCP-Workspace": "team-b", "X-User-Id": "team-a"}):
            assert (await http.get("/mcp/servers", headers=header)).status_code == 403, header
            assert (await http.post("/mcp/remove", json={"name": "echo"}, headers=header)).status_code == 403
            assert (await http.post("/mcp/add", json={"name": "echo"}, headers=header)).status_code == 403
        mine = await http.get("/mcp/servers", headers={"X-MCP-Workspace": "team-a"})
        assert mine.status_code == 200 and mine.json()["workspace"] == "team-a"
        assert (await http.get("/mcp/servers")).json()["workspace"] == "team-a"  # no header: its own
    for mode in MODES:
        with pytest.raises(Exception):
            async with team.client(mode, "alice", workspace="team-b") as c:
                await c.list_tools()
    async with team.http("bob") as http:  # bob's servers are still there
        assert (await http.get("/mcp/servers")).json()["active_servers"] == ["echo", "rich"]
    denied = [line for line in team.audit_lines() if line["event"] == "denied" and line["who"] == "alice"]
    assert any(line["workspace"] == "team-b" and line["what"] == "POST /mcp" for line in denied)


# -- policy -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_a_denied_tool_is_not_listed_and_refused_on_every_call_path(team: Team, mode: str) -> None:
    stub = team.stub
    async with team.client(mode, "alice") as c:
        names = await tool_names(c)
        assert "rich__get_weather" not in names and "rich__echo" in names and "echo__echo" in names
        found = await c.call_tool("find_tools", {"query": "weather"})
        assert "rich__get_weather" not in {t["name"] for t in found.structured_content["tools"]}
        direct = await c.call_tool("rich__get_weather", {"city": "Oslo"})
        assert direct.is_error and "denied by the policy" in text_of(direct), text_of(direct)
        via = await c.call_tool("call_tool", {"name": "rich__get_weather", "arguments": {"city": "Oslo"}})
        assert via.is_error and "denied by the policy" in text_of(via)
        code = await c.call_tool("run_code", {"code": """
            let message = "";
            try { await tools.rich.get_weather({ city: "Oslo" }); } catch (e) { message = (e as Error).message; }
            const echoed = await tools.rich.echo({ value: "ok" });
            export default { message, echoed: echoed !== undefined };
        """})
        assert not code.is_error, text_of(code)
        # Code never even gets the denied tool: it is not in the run's tool table.
        assert "is not a tool of this run" in code.structured_content["result"]["message"]
        assert code.structured_content["result"]["echoed"] is True
        stub.script(tool_calls(("rich__get_weather", {"city": "Oslo"})), text("I could not check the weather."))
        chat = await c.call_tool("agent_chat", {"message": "Weather in Oslo?"})
        data = chat.structured_content
        assert data["status"] == "complete", data
        assert [(t["name"], t["ok"]) for t in data["trace"]["tool_calls"]] == [("rich__get_weather", False)]
        offered = {t["function"]["name"] for t in stub.requests[0]["body"]["tools"]}
        assert "rich__get_weather" not in offered and "rich__echo" in offered  # the model is not offered it
        tool_message = [m for m in stub.requests[1]["body"]["messages"] if m["role"] == "tool"][0]
        assert "Unknown tool 'rich__get_weather'" in tool_message["content"]
    # The chat API's agent too (its calls carry the request's identity).
    stub.script(tool_calls(("rich__get_weather", {"city": "Lima"})), text("No weather for you."))
    async with team.http("alice") as http:
        response = await http.post("/chat", json={"messages": [{"role": "user", "content": "Weather in Lima?"}]})
        assert response.status_code == 200, response.text
        servers = (await http.get("/mcp/servers")).json()
        assert "rich__get_weather" not in servers["available_tools"] and "rich__echo" in servers["available_tools"]
    assert "rich__get_weather" not in {t["function"]["name"] for t in stub.requests[0]["body"]["tools"]}
    tool_message = [m for m in stub.requests[1]["body"]["messages"] if m["role"] == "tool"][0]
    assert "Unknown tool 'rich__get_weather'" in tool_message["content"]
    async with team.client(mode, "root", workspace="team-a") as c:  # an admin of every workspace may
        assert "rich__get_weather" in await tool_names(c)
        assert not (await c.call_tool("rich__get_weather", {"city": "Oslo"})).is_error


@pytest.mark.parametrize("mode", MODES)
async def test_run_code_and_agent_chat_can_be_switched_off(team: Team, mode: str) -> None:
    async with team.client(mode, "nocode") as c:
        names = await tool_names(c)
        assert {"run_code", "get_code_api", "agent_chat"}.isdisjoint(names) and "echo__echo" in names
        for tool, args in (("run_code", {"code": "export default 1"}), ("agent_chat", {"message": "hi"})):
            refused = await c.call_tool(tool, args)
            assert refused.is_error and "the policy turns" in text_of(refused)


async def test_adhoc_specs_are_refused_over_http_by_default_and_the_catalog_is_limited(team: Team) -> None:
    argv = upstream_argv("echo")
    spec = {"command": argv[0], "args": argv[1:]}
    async with team.client("legacy", "alice") as c:
        refused = await c.call_tool("add_server", {"name": "mine", "spec": spec})
        assert refused.is_error and refused.structured_content["outcome"] == "refused", text_of(refused)
        assert "adhoc: true" in text_of(refused) and "META_MCP_ALLOW_ADHOC_HTTP" in text_of(refused)
        other = await c.call_tool("add_server", {"name": "other"})
        assert other.is_error and "does not allow adding catalog server 'other'" in text_of(other)
    async with team.http("alice") as http:
        response = await http.post("/mcp/add", json={"name": "other"})
        assert response.status_code == 403 and response.json()["error"]["type"] == "refused"
    async with team.client("legacy", "root", workspace="root-space") as c:  # the policy lets admins
        added = await c.call_tool("add_server", {"name": "mine", "spec": spec})
        assert not added.is_error, text_of(added)
        assert not (await c.call_tool("add_server", {"name": "other"})).is_error
    lines = team.audit_lines()
    assert any(line["event"] == "denied" and line["what"] == "add_server mine" and line["who"] == "alice"
               and line["outcome"] == "refused" for line in lines)
    assert any(line["event"] == "change" and line["what"] == "add_server mine" and line["who"] == "root"
               and line["outcome"] == "added" and line["workspace"] == "root-space" for line in lines)
    assert any(line["what"] == "POST /mcp/add other" and line["event"] == "denied" for line in lines)


@pytest.mark.parametrize("mode", MODES)
async def test_a_rate_limit_answers_a_clear_error_then_allows_again(team: Team, mode: str) -> None:
    workspace = f"team-l-{mode}"
    token = create_token(team.tokens_file, f"lim-{mode}", [workspace], "limited")[0]
    async with team.client(mode, token=token) as c:
        assert not (await c.call_tool("add_server", {"name": "echo"})).is_error
        await anyio.sleep(2.1)  # the bucket (burst 2, one call a second) is full again
        assert not (await c.call_tool("echo__echo", {"text": "1"})).is_error
        assert not (await c.call_tool("echo__echo", {"text": "2"})).is_error
        limited = await c.call_tool("echo__echo", {"text": "3"})
        assert limited.is_error and "rate limit: at most 60 calls per minute (burst 2); retry in" in text_of(limited)
        await anyio.sleep(1.1)
        assert not (await c.call_tool("echo__echo", {"text": "4"})).is_error
    async with team.http(token=token) as http:
        await anyio.sleep(2.1)
        statuses = [(await http.post("/mcp/find", json={"query": "echo"})) for _ in range(3)]
        assert [r.status_code for r in statuses] == [200, 200, 429]
        assert statuses[2].headers["retry-after"] == "1" and "rate limit" in statuses[2].json()["error"]["message"]
        await anyio.sleep(1.1)
        assert (await http.post("/mcp/find", json={"query": "echo"})).status_code == 200


def test_rate_limits_count_calls_per_minute_and_calls_at_once() -> None:
    now = [0.0]
    limiter = Limiter(clock=lambda: now[0])
    limit = RateLimit(calls_per_minute=30, burst=2, concurrent_calls=1)
    first = limiter.acquire("k", limit)
    assert not isinstance(first, Refusal)
    busy = limiter.acquire("k", limit)
    assert isinstance(busy, Refusal) and "in progress" in busy.message
    inner = limiter.acquire("k", limit, concurrent=False)  # run_code's calls run inside the one in progress
    assert not isinstance(inner, Refusal)
    first.release()
    first.release()  # idempotent
    empty = limiter.acquire("k", limit)
    assert isinstance(empty, Refusal) and empty.retry_after == pytest.approx(2.0) and empty.retry_after_header == "2"
    now[0] += 2.0
    assert not isinstance(limiter.acquire("k", limit), Refusal)


def test_policy_sections_fold_from_general_to_specific() -> None:
    policy = Policy.model_validate({
        "defaults": {"adhoc": False, "tools": {"deny": ["*__delete_*"]}, "rate_limit": {"calls_per_minute": 100}},
        "roles": {"member": {"tools": {"allow": ["gh__*", "list_servers"]}, "run_code": False}},
        "workspaces": {"team-*": {"tools": {"deny": ["gh__merge"]}, "roles": {"member": {"run_code": True}}},
                       "team-a": {"rate_limit": {"concurrent_calls": 2}}},
    })
    rules = fold(sections_for(policy, "member", "team-a"))
    assert rules.adhoc is False and rules.run_code is True
    assert rules.rate == RateLimit(calls_per_minute=100, concurrent_calls=2)
    assert rules.tool_allowed("gh__search") and rules.tool_allowed("list_servers")
    assert not rules.tool_allowed("gh__merge") and not rules.tool_allowed("gh__delete_repo")  # denies add up
    assert "tools.allow" in (rules.tool_refusal("time__now") or "")
    outsider = fold(sections_for(policy, "member", "elsewhere"))
    assert outsider.run_code is False and "run_code" in (outsider.tool_refusal("run_code") or "")
    with pytest.raises(Exception, match="rate_limit"):
        Policy.model_validate({"defaults": {"rate_limit": {"calls_per_minute": 0}}})


# -- tokens -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_a_revoked_api_token_stops_working_without_a_restart(team: Team, mode: str) -> None:
    token_cli = meta_mcp_argv("token")
    tokens_file = ["--tokens-file", str(team.tokens_file)]
    created = subprocess.run([*token_cli, "create", *tokens_file, "--subject", f"temp-{mode}", "--workspace", "team-a",
                              "--json"], capture_output=True, text=True, check=True, cwd=REPO)
    issued = json.loads(created.stdout)
    assert issued["token"].startswith("mmcp_") and issued["token"] not in team.tokens_file.read_text()
    async with team.client(mode, token=issued["token"]) as c:
        assert "echo__echo" in await tool_names(c)
        revoked = subprocess.run([*token_cli, "revoke", issued["id"], *tokens_file], capture_output=True, text=True,
                                 cwd=REPO)
        assert revoked.returncode == 0 and f"revoked {issued['id']}" in revoked.stdout, revoked.stderr
        with pytest.raises(Exception), anyio.fail_after(20):
            await c.call_tool("echo__echo", {"text": "after revocation"})  # the same live session
    async with team.http(token=issued["token"]) as http:
        assert (await http.get("/mcp/servers")).status_code == 401
    listed = subprocess.run([*token_cli, "list", *tokens_file, "--json"], capture_output=True, text=True, check=True,
                            cwd=REPO)
    assert issued["id"] not in listed.stdout and "alice" in listed.stdout


def test_the_tokens_file_holds_hashes_and_is_reread_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    store = TokenStore(path)
    assert store.lookup("mmcp_nothing") is None  # a missing file accepts no token
    token, entry_id = create_token(path, "alice", ["team-a"], "member")
    assert token not in path.read_text() and (path.stat().st_mode & 0o777) == 0o600
    identity = store.lookup(token)
    assert identity is not None and identity.subject == "alice" and identity.workspaces == ("team-a",)
    assert store.lookup(token + "x") is None
    assert revoke_tokens(path, entry_id=entry_id)[0]["subject"] == "alice"
    assert store.lookup(token) is None
    path.write_text("tokens: [oops")
    assert store.lookup(token) is None  # an invalid file accepts no token


# -- the rest: start-up refusal, policy reload, transport limits, audit ---------------------------------------


def test_serving_off_loopback_without_auth_refuses_to_start() -> None:
    port = free_port()
    proc = subprocess.run([*meta_mcp_argv("serve", "--transport", "http", "--host", "0.0.0.0", "--port", str(port))],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 2, proc.stderr
    message = proc.stderr
    assert "refusing to serve HTTP on 0.0.0.0" in message and "without authentication" in message  # why
    assert "--tokens-file" in message and "--oauth-issuer" in message and "--insecure-no-auth" in message  # how
    assert "meta-mcp token create" in message


async def test_a_policy_change_applies_to_live_sessions_with_list_changed(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens.yaml"
    token = create_token(tokens_file, "alice", ["team-a"], "member")[0]
    config = _config(tmp_path / "team.yaml", {"defaults": {"catalog": ["echo"]}})
    argv = ("--catalog", str(_catalog(tmp_path / "catalog.yaml")), "--tokens-file", str(tokens_file))
    async with meta_mcp_http(config, *argv, env={"META_MCP_POLICY_RELOAD_S": "0.2"}) as url:
        watcher = ListChangedWatcher()
        async with client(str(url), "legacy", token, message_handler=watcher) as c:
            assert not (await c.call_tool("add_server", {"name": "echo"})).is_error
            assert "echo__echo" in await tool_names(c)
            seen = watcher.count
            _config(config, {"defaults": {"catalog": ["echo"], "tools": {"deny": ["echo__*"]}}})
            await watcher.wait_for(seen + 1)
            assert "echo__echo" not in await tool_names(c)
            refused = await c.call_tool("echo__echo", {"text": "x"})
            assert refused.is_error and "denied by the policy" in text_of(refused)
            config.write_text("policy: {defaults: {tools: [oops")  # an invalid edit keeps the policy in force
            await anyio.sleep(0.6)
            assert "echo__echo" not in await tool_names(c)
        assert "policy not reloaded" in url.stderr_text()


async def test_transport_limits_header_timeout_and_sessions_per_identity(tmp_path: Path) -> None:
    tokens_file = tmp_path / "tokens.yaml"
    token = create_token(tokens_file, "alice", ["team-a"], "member")[0]
    env = {"META_MCP_HTTP_HEADER_TIMEOUT": "1", "META_MCP_HTTP_MAX_SESSIONS_PER_IDENTITY": "2",
           "META_MCP_HTTP_SESSION_IDLE_TIMEOUT": "5"}
    async with meta_mcp_http(None, "--tokens-file", str(tokens_file), env=env) as url:
        port = int(str(url).rsplit(":", 1)[1].split("/")[0])
        # A client that trickles its request head is disconnected after the header timeout.
        started = time.monotonic()
        closed_after = await anyio.to_thread.run_sync(_trickle_headers, port)
        assert closed_after is not None and closed_after < 3.5, closed_after
        # One that never sends a byte too.
        assert await anyio.to_thread.run_sync(_silent, port) < 3.5
        assert time.monotonic() - started < 10
        # Sessions: two per identity; a third is refused until one is closed.
        async with client(str(url), "legacy", token) as one, client(str(url), "legacy", token) as two:
            assert await tool_names(one) and await tool_names(two)
            with pytest.raises(Exception):
                async with client(str(url), "legacy", token) as three:
                    await three.list_tools()
            async with client(str(url), "auto", token) as modern:  # 2026-07-28 clients hold no session
                assert await tool_names(modern)
        async def third_session_opens() -> bool:
            try:
                async with client(str(url), "legacy", token) as again:
                    return bool(await tool_names(again))
            except Exception:
                return False
        assert await poll_until(third_session_opens, timeout=15, what="a session slot freed")
        assert "Too many sessions" in url.stderr_text() or "too many sessions" in url.stderr_text()


def _trickle_headers(port: int) -> float | None:
    """Send a request head one byte every 0.3 s; seconds until the server closed the connection (None: never)."""
    head = b"GET /mcp/servers HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 40
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        for byte in head:
            try:
                s.sendall(bytes([byte]))
            except OSError:
                return time.monotonic() - started
            s.settimeout(0.3)
            try:
                if s.recv(1024) == b"":
                    return time.monotonic() - started
            except TimeoutError:
                continue
            except OSError:
                return time.monotonic() - started
    return None


def _silent(port: int) -> float:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        assert s.recv(1024) == b""
    return time.monotonic() - started


async def test_audit_lines_say_who_where_what_and_never_argument_values(team: Team) -> None:
    secret = "arg-value-never-logged-4f1c"
    async with team.client("legacy", "alice") as c:
        await c.call_tool("echo__echo", {"text": secret})
        await c.call_tool("rich__get_weather", {"city": secret})
        removed = await c.call_tool("remove_server", {"name": "echo"})
        assert not removed.is_error
        assert not (await c.call_tool("add_server", {"name": "echo"})).is_error
    text_ = team.audit.read_text()
    assert secret not in text_
    lines = team.audit_lines()
    for line in lines:
        assert {"ts", "event", "who", "workspace", "what", "outcome"} <= set(line)
    assert any(line == {**line, "event": "denied", "who": "alice", "role": "member", "workspace": "team-a",
                        "what": "tools/call rich__get_weather", "outcome": "denied"} for line in lines)
    assert any(line["event"] == "change" and line["what"] == "remove_server echo" and line["outcome"] == "removed"
               and line["workspace"] == "team-a" for line in lines)
    assert any(line["event"] == "denied" and line["who"] == "unauthenticated" and line["status"] == 401
               for line in lines)


async def test_console_actions_go_through_the_policy_and_are_audited(team: Team) -> None:
    """The console's add, restart and remove are the operations every front door uses (the policy limits
    them as it limits add_server) and each leaves an audit line naming who, where and the outcome."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    async with team.http("bob") as http:
        refused = await http.post("/ui/catalog/other/add", content=b"", headers=form)
        assert refused.status_code == 403 and "does not allow adding catalog server" in refused.text, refused.text
        restarted = await http.post("/ui/servers/echo/restart", headers={"HX-Request": "true"})
        assert restarted.status_code == 200 and "Restarted &#39;echo&#39;: ready with" in restarted.text, restarted.text
        missing = await http.post("/ui/servers/nothere/restart", headers={"HX-Request": "true"})
        assert missing.status_code == 409 and "is not active in this workspace" in missing.text
    async with team.client("legacy", "bob") as c:  # the restarted server answers
        assert text_of(await c.call_tool("echo__echo", {"text": "again"})) == "again"
    lines = [line for line in team.audit_lines() if line.get("origin") == "console"]
    assert any(line["event"] == "denied" and line["who"] == "bob" and line["workspace"] == "team-b"
               and line["what"] == "POST /ui/catalog/other/add" and line["outcome"] == "refused" for line in lines)
    assert any(line["event"] == "change" and line["what"] == "POST /ui/servers/echo/restart"
               and line["outcome"] == "ok" for line in lines)
    assert any(line["what"] == "POST /ui/servers/nothere/restart" and line["outcome"] == "not_active" for line in lines)
