"""Schemathesis against the chat API's own /openapi.json, on a real meta-mcp over HTTP.

Every documented operation is called with generated bodies and headers (valid and invalid): no
response may be a 500, and every response must match the schema it is documented with (status code,
content type, body). No model is configured, so chats answer fast (503, or an SSE `error` event).
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from typing import Any

import pytest
import schemathesis
from schemathesis import checks
from hypothesis import HealthCheck, given, settings

from support import free_port, kill_group, serve_argv
from support.processes import REPO


@pytest.fixture(scope="module")
def chat_schema(tmp_path_factory: pytest.TempPathFactory) -> Any:
    port = free_port()
    env = {**os.environ, "META_MCP_BUILTIN_CATALOG": "false", "META_MCP_STATE_URL": "memory://",
           "META_MCP_DOCKER_CATALOG_DIR": str(tmp_path_factory.mktemp("no-docker")), "OPENAI_API_KEY": "",
           "OPENROUTER_API_KEY": "", "META_MCP_AGENT_PROVIDER": "openai"}
    proc = subprocess.Popen(serve_argv(None, "--transport", "http", "--port", str(port), log_level="WARNING"),
                            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/health", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("meta-mcp did not start") from None
                time.sleep(0.1)
        yield schemathesis.openapi.from_url(base + "/openapi.json")
    finally:
        kill_group(proc)


@schemathesis.check
def no_internal_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 500 is a bug; 502/503/504 are the documented answers for a model that failed, is not configured or
    hung (here no model is configured: chats answer 503)."""
    if response.status_code == 500:
        raise AssertionError(f"500 from {case.method} {case.path}: {response.text[:300]}")
    return None


CHECKS = [no_internal_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance, checks.response_headers_conformance]
"""What the issue asks: no 500s, and each response as documented. (Schemathesis's positive-data check is
left out: our semantic rules — the last message must be the user's, a catalog name must exist — answer
400/404 for bodies the JSON Schema alone allows.)"""


def test_no_500_and_every_response_matches_its_schema(chat_schema: Any) -> None:
    operations = [result.ok() for result in chat_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/chat", "/chat/resume", "/sse/chat", "/mcp/add", "/mcp/servers"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            case.call_and_validate(checks=CHECKS, timeout=20)

        check()
