"""`surface.deferred.Deferred` with ASGI apps made here: built once on the first request (concurrent first
requests share the build), a failed build fails its request and is tried again on the next."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from meta_mcp.surface.deferred import Deferred

pytestmark = pytest.mark.anyio


def _app(tag: str) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await anyio.sleep(0.01)
        await send({"tag": tag, "path": scope["path"]})

    return app


async def test_concurrent_first_requests_share_one_build() -> None:
    builds: list[int] = []

    def build() -> Any:
        builds.append(1)
        return _app(f"build-{len(builds)}")

    deferred, sent = Deferred(build), []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    assert builds == []  # nothing is built before a request
    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(deferred, {"type": "http", "path": f"/{i}"}, None, send)
    assert builds == [1]
    assert sorted(m["path"] for m in sent) == sorted(f"/{i}" for i in range(20))
    assert {m["tag"] for m in sent} == {"build-1"}


async def test_a_failed_build_fails_its_request_and_the_next_one_builds_again() -> None:
    attempts: list[int] = []

    def build() -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("templates missing")
        return _app("second")

    deferred, sent = Deferred(build), []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with pytest.raises(RuntimeError, match="templates missing"):
        await deferred({"type": "http", "path": "/a"}, None, send)
    await deferred({"type": "http", "path": "/b"}, None, send)
    await deferred({"type": "http", "path": "/c"}, None, send)
    assert len(attempts) == 2
    assert [(m["tag"], m["path"]) for m in sent] == [("second", "/b"), ("second", "/c")]
