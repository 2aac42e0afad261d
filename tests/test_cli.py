"""The meta-mcp command line: help, config errors, and no process left behind."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from support import meta_mcp_argv


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purpose.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_help_explains_the_commands() -> None:
    out = subprocess.run(meta_mcp_argv("serve", "--help"), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for word in ("--transport", "--config", "--catalog", "mcpServers", "prefix", "timeout"):
        assert word in out.stdout


def test_invalid_config_exits_2_naming_entry_and_field_and_kills_prespawned_servers(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    config = tmp_path / "servers.json"
    config.write_text(json.dumps({"mcpServers": {
        # Valid enough to be pre-spawned before the config is validated ...
        "sleeper": {"command": "sh", "args": ["-c", f"echo $$ > {pidfile}; exec sleep 60"]},
        # ... while this entry makes the whole file invalid.
        "broken": {"command": "x", "prefix": "not a prefix!"},
    }}))
    out = subprocess.run(meta_mcp_argv("serve", "--config", str(config)), capture_output=True, text=True,
                         timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 2
    assert "broken" in out.stderr and "prefix" in out.stderr
    assert out.stdout == ""
    deadline = time.monotonic() + 5
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # the child writes its pid asynchronously; bounded wait
    assert pidfile.exists(), "the stdio server was not pre-spawned"
    pid = int(pidfile.read_text())
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "a pre-spawned server outlived meta-mcp"


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    out = subprocess.run(meta_mcp_argv("serve", "--config", str(tmp_path / "nope.json")), capture_output=True,
                         text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 2 and "nope.json" in out.stderr and "cannot read" in out.stderr


def test_an_oversized_stdin_line_gets_one_parse_error_and_the_server_carries_on() -> None:
    """Regression: a line past the 64 MiB line limit used to end the stdin reader (and the server)."""
    init = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
    proc = subprocess.Popen(meta_mcp_argv("serve"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    out, _ = proc.communicate(b"x" * (65 * 1024 * 1024) + b"\n" + init.encode() + b"\n", timeout=120)
    replies = [json.loads(line) for line in out.decode().splitlines()]
    assert [r.get("error", {}).get("code") for r in replies] == [-32700, None]
    assert replies[1]["id"] == 1 and "capabilities" in replies[1]["result"]
    assert proc.returncode == 0
