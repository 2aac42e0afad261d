"""Secrets never reach the log (issue 9, finding 6).

At `--log-level DEBUG` the SDK's streamable-HTTP client and httpx2 log full upstream URLs — with
`?api_key=…` and `user:pass@` credentials — and the SDK logs HTTP session ids at INFO. meta-mcp puts
one `RedactingFilter` on every log handler: known secret values, URL credentials, sensitive query
parameters and bearer tokens become `***`, session ids a short hash. The end-to-end test runs a real
meta-mcp over HTTP at DEBUG against a real HTTP upstream whose URL carries two canaries.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from pathlib import Path

import httpx2
import pytest
import yaml

from meta_mcp.redaction import Redactor, RedactingFilter, hash_session_ids, install, looks_secret
from support import make_client, meta_mcp_http, text_of, upstream_http

CANARY = "canary-query-7f3e9a1b"
CANARY2 = "canary-userinfo-5c2d8e4f"
CANARY3 = "canary-catalog-secret-0b9d"
CANARY4 = "canary-openai-key-4a6c"


def test_redact_known_values_url_credentials_query_parameters_and_bearer_tokens() -> None:
    r = Redactor(["sk-live-123456", None, "", "abc"])  # None, empty and very short values are ignored
    assert r.redact("GET https://u:pw@h.example/mcp?api_key=k1&x=1&token=t2#f sk-live-123456") == (
        "GET https://***@h.example/mcp?api_key=***&x=1&token=***#f ***")
    assert r.redact("abc is not a secret") == "abc is not a secret"
    assert r.redact("Authorization: Bearer eyJhbGciOi.J9x1") == "Authorization: Bearer ***"
    assert r.redact("Bearer tokens are explained in RFC 6750") == "Bearer tokens are explained in RFC 6750"
    r.add("p@ss/w0rd")
    assert r.redact("url=https://h/?x=p%40ss%2Fw0rd and p@ss/w0rd") == "url=https://h/?x=*** and ***"
    assert r.redact("?Signature=abc&X-Amz-Signature=def&page=2&access_token=zz") == (
        "?Signature=***&X-Amz-Signature=***&page=2&access_token=***")
    r.add("sk-live-123456789")  # a longer value that contains a known one is masked whole
    assert r.redact("key sk-live-123456789") == "key ***"


def test_session_ids_become_a_short_stable_hash() -> None:
    sid = "4f1d2a9c8b7e4d3fa2b1c0d9e8f7a6b5"
    digest = hashlib.sha256(sid.encode()).hexdigest()[:8]
    for line in (f"Created new transport with session ID: {sid}", f"Session {sid} idle timeout",
                 f"Terminating session: {sid}", f"Received session ID: {sid}", f"mcp-session-id: {sid}"):
        assert hash_session_ids(line) == line.replace(sid, f"#{digest}")
    assert hash_session_ids("session ended") == "session ended"


def test_looks_secret_by_name() -> None:
    assert all(map(looks_secret, ["Authorization", "X-Api-Key", "GITHUB_TOKEN", "DB_PASSWORD", "client_secret",
                                  "Cookie", "AWS_SECRET_ACCESS_KEY", "META_MCP_AGENT_API_KEY"]))
    assert not any(map(looks_secret, ["Accept", "TZ", "PATH", "Content-Type", "META_MCP_LOG_LEVEL", "MONKEY"]))


def test_filter_redacts_arguments_exceptions_and_stack_text() -> None:
    logger = logging.getLogger("test_log_redaction.unit")
    logger.propagate = False
    handler = logging.StreamHandler(stream := _Stream())
    logger.addHandler(handler)
    handler.addFilter(RedactingFilter(Redactor([CANARY3])))
    try:
        logger.warning("connecting to %s with %s", f"http://u:{CANARY2}@h/?key={CANARY}", CANARY3)
        try:
            raise RuntimeError(f"failed: https://h/?api_key={CANARY}")
        except RuntimeError:
            logger.exception("boom %s", CANARY3, stack_info=True)
    finally:
        logger.removeHandler(handler)
    text = stream.text
    assert "connecting to http://***@h/?key=*** with ***" in text and "RuntimeError: failed" in text
    assert not any(c in text for c in (CANARY, CANARY2, CANARY3)), text


def test_install_puts_the_filter_on_every_handler() -> None:
    root = logging.getLogger()
    own = logging.getLogger("test_log_redaction.own")
    handlers = [logging.StreamHandler(_Stream()), logging.StreamHandler(_Stream())]
    root.addHandler(handlers[0])
    own.addHandler(handlers[1])
    try:
        log_filter = install(Redactor())
        install(Redactor())  # a second install adds no second filter
        assert all(h.filters.count(log_filter) == 1 and len(h.filters) == 1 for h in handlers)
    finally:
        root.removeHandler(handlers[0])
        own.removeHandler(handlers[1])


class _Stream:
    def __init__(self) -> None:
        self.text = ""

    def write(self, s: str) -> None:
        self.text += s

    def flush(self) -> None:
        pass


@pytest.mark.anyio
async def test_debug_log_of_a_real_http_run_holds_no_secret(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yaml"
    async with upstream_http("echo") as upstream:
        port = upstream.split(":")[2].split("/")[0]
        catalog.write_text(yaml.safe_dump({"registry": {"keyed": {
            "title": "Keyed echo", "description": "an echo upstream behind a catalog secret", "type": "remote",
            "remote": {"url": f"http://127.0.0.1:{port}/mcp?key=${{KEYED_SECRET}}",
                       "headers": {"Authorization": "Bearer ${KEYED_SECRET}"}},
            "secrets": [{"name": "keyed.secret", "env": "KEYED_SECRET"}]}}}))
        config = {"secured": {"url": f"http://user:{CANARY2}@127.0.0.1:{port}/mcp?api_key={CANARY}",
                              "headers": {"X-Api-Key": CANARY4}}}
        env = {"KEYED_SECRET": CANARY3, "OPENAI_API_KEY": CANARY4, "META_MCP_ALLOW_ADHOC_HTTP": "1"}
        async with meta_mcp_http(config, "--catalog", str(catalog), log_level="DEBUG", env=env) as url:
            async with httpx2.AsyncClient() as http:  # a raw handshake, to learn a session id meta-mcp logs
                reply = await http.post(str(url), headers={"Accept": "application/json, text/event-stream"}, json={
                    "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                        "protocolVersion": "2025-11-25", "capabilities": {},
                        "clientInfo": {"name": "redaction-test", "version": "0"}}})
                session_id = reply.headers["mcp-session-id"]
            async with make_client(str(url), "legacy") as client:
                echoed = await client.call_tool("secured__echo", {"text": "hello"})
                assert text_of(echoed) == "hello"
                added = await client.call_tool("add_server", {"name": "keyed"})
                assert not added.is_error, text_of(added)
                assert text_of(await client.call_tool("keyed__echo", {"text": "again"})) == "again"
            log = url.stderr_text()
    # A real DEBUG log of the run: the keyed upstream's URL is there, its secret query value masked.
    assert "DEBUG" in log and "key=***" in log, log[-2000:]
    assert "127.0.0.1:" + port in log  # URLs are logged, only their secrets are not
    for canary in (CANARY, CANARY2, CANARY3, CANARY4, session_id):
        assert canary not in log, f"{canary} in meta-mcp's log:\n" + "\n".join(
            line for line in log.splitlines() if canary in line)
    assert "#" + hashlib.sha256(session_id.encode()).hexdigest()[:8] in log


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
