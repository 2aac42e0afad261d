"""`providers/deadline.Deadline`: the call timeout, and progress extending it up to a maximum."""

from __future__ import annotations

import anyio
import pytest

from meta_mcp.providers.deadline import Deadline

pytestmark = pytest.mark.anyio


async def test_a_wait_starts_at_the_timeout_and_progress_moves_it_within_the_maximum() -> None:
    deadline = Deadline(10, 10.005)
    with deadline.scope() as scope:
        start = anyio.current_time()
        assert 9.9 < scope.deadline - start <= 10
        first = scope.deadline
        await anyio.sleep(0.01)
        deadline.progress()
        assert first < scope.deadline <= start + 10.005 + 0.001  # moved, but capped at the maximum
    assert "within 10.005 s in all (each report of progress from the server allows 10 s more" in deadline.describe("x")


async def test_without_a_maximum_above_the_timeout_progress_changes_nothing() -> None:
    for deadline in (Deadline(10), Deadline(10, 5), Deadline(10, 10), Deadline(None, 600)):
        assert deadline.most is None
        with deadline.scope() as scope:
            before = scope.deadline
            await anyio.sleep(0.01)
            deadline.progress()
            assert scope.deadline == before

    async def report(value: float, total: float | None, message: str | None) -> None:
        pass

    assert Deadline(10).extended_by(report) is report
    assert Deadline(10).describe("tools/call 'x'") == "no answer to tools/call 'x' within 10 s"


async def test_extended_by_reports_after_moving_the_wait() -> None:
    deadline = Deadline(10, 600)
    seen: list[tuple[float, float | None, str | None, float]] = []

    async def report(value: float, total: float | None, message: str | None) -> None:
        seen.append((value, total, message, scope.deadline))

    extending = deadline.extended_by(report)
    assert extending is not None and extending is not report and deadline.extended_by(None) is None
    with deadline.scope() as scope:
        first = scope.deadline
        await anyio.sleep(0.01)
        await extending(1.0, 2.0, "half")
    assert seen[0][:3] == (1.0, 2.0, "half") and seen[0][3] > first
    assert deadline.describe("x") == "no answer to x, and no progress, within 10 s"
