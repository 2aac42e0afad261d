"""A small `bench/load.py` run as a correctness check (issue 16, item 5): 10 clients × 50 calls, both eras,
HTTP and stdio, fast/slow/failing/1 MiB tools, while a server is added and removed in a loop. No call may
fail or return the wrong thing, and the HTTP meta-mcp must hold no more descriptors afterwards than before.
No timing is asserted (timings belong in bench/).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import load  # noqa: E402

pytestmark = pytest.mark.anyio


async def test_mixed_load_with_churn_has_no_errors_and_leaks_no_descriptors(tmp_path) -> None:
    options = load.Options(clients=10, calls=50, stdio=4, log_dir=tmp_path, quiet=True)
    report = await load.run(options)
    summary = load.render(report, options)
    assert sum(report.calls.values()) == 10 * 50, summary
    assert set(report.calls) == {"http/legacy", "http/auto", "stdio/legacy", "stdio/auto"}, summary
    assert report.total_errors == 0, summary
    assert report.churn_cycles > 0, summary
    assert report.leaked_fds() == 0, summary
