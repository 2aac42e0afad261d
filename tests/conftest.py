"""Shared pytest configuration: anyio on asyncio, and the tests directory importable."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parent
# Both `import support` and `import tests.support` work.
for _p in (_TESTS, _TESTS.parent):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Session-scoped so module-scoped async fixtures (a shared meta-mcp) can use it."""
    return "asyncio"


# Most process-level tests add the test upstreams from ad-hoc specs, also over HTTP, where meta-mcp refuses
# them by default (anyone reaching the port could run commands). The suite's own meta-mcp processes allow
# them; tests/test_adhoc_policy.py checks the default refusal with this set to 0.
os.environ.setdefault("META_MCP_ALLOW_ADHOC_HTTP", "1")
# Every meta-mcp the tests start keeps its state in memory unless a test says otherwise: the default
# (a SQLite file in the user's state directory) would be shared by concurrent test processes.
os.environ.setdefault("META_MCP_STATE_URL", "memory://")
# Nor do they keep the hybrid ranker's vectors in the user's cache directory; tests/test_vector_file.py
# turns it on with its own directory.
os.environ.setdefault("META_MCP_EMBEDDING_CACHE", "0")
