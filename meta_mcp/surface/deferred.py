"""`Deferred`: an ASGI app built on its first request, so start-up does not pay for it.

The chat API (FastAPI) and the web console's pages (Starlette, Jinja2) cost ~0.25 s of imports and
route building at start, before `/mcp` can answer, while most sessions never touch them. Wrapped in
`Deferred`, they are built when the first request reaches them; a start-up that only serves `/mcp`
never imports them.

Semantics: `build` runs once, under a lock, on the first request of any kind (concurrent first requests
wait for the one build); if it raises, that request fails with the error (uvicorn answers 500 and logs
it) and the next request tries again. What must run from start-up (the console's activity monitor, for
one) stays outside `build`. No lifespan reaches a `Deferred` app (`Dispatch` sends it to `/mcp`).

Example:
    api = Deferred(lambda: build_api(workspaces, services, task_group))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio


class Deferred:
    """ASGI: the app `build()` returns, built on the first request (see the module docstring)."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._app: Any = None
        self._lock = anyio.Lock()

    async def app(self) -> Any:
        """The built app (building it now if it is not built yet)."""
        if self._app is None:
            async with self._lock:
                if self._app is None:
                    self._app = self._build()
        return self._app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        app = self._app if self._app is not None else await self.app()
        await app(scope, receive, send)
