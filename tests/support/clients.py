"""Clients for the tests: the eras and transports they run in, and clients of a fresh meta-mcp.

- ``MODES`` (client eras), ``TRANSPORTS`` (meta-mcp's transports), ``COMBOS`` (their product) and
  ``COVERING_COMBOS`` (each of both once), with ``combo_ids`` for pytest ids.
- ``make_client(target, mode)``: an ``mcp.Client`` with the response cache off.
- ``open_meta_client(transport, mode, config)``: a ``MetaClient`` connected to a fresh meta-mcp over
  stdio or http; ``meta_client_for`` reuses a running http meta-mcp.
- ``sse_transport(url)``: a legacy SSE client transport.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client

from .processes import ServerUrl, _Stderr, meta_mcp_http, meta_mcp_stdio, stderr_log, temp_config

MODES = ("auto", "legacy")
"""Client eras: "auto" speaks 2026-07-28 (discover, no session), "legacy" the 2025-11-25 handshake."""
TRANSPORTS = ("stdio", "http")
"""How a client reaches meta-mcp."""
COMBOS = tuple(itertools.product(TRANSPORTS, MODES))
"""Every (transport, mode): stdio-auto, stdio-legacy, http-auto, http-legacy."""
COVERING_COMBOS = (("stdio", "legacy"), ("http", "auto"))
"""Each transport and each era once: for behaviour that lives behind the client surface."""


def combo_ids(combos: Sequence[tuple[str, str]]) -> list[str]:
    """pytest ids ``"<transport>-<mode>"`` for (transport, mode) pairs."""
    return [f"{transport}-{mode}" for transport, mode in combos]


def make_client(target: Any, mode: str = "auto", **kwargs: Any) -> Client:
    """An ``mcp.Client`` with the response cache off (tests must see the server's live answers).

    ``target``: URL, ``StdioServerParameters``, a transport, or an in-process server.
    ``kwargs`` go to ``Client`` (message_handler, read_timeout_seconds, ...).
    """
    kwargs.setdefault("cache", None)
    return Client(target, mode=mode, **kwargs)


class MetaClient:
    """A client connected to a meta-mcp process, and what the test may want to know about that process.

    ``client`` is the SDK ``Client``; its methods are reachable on the wrapper too
    (``meta.call_tool(...)``). ``stderr()`` is meta-mcp's stderr so far (for assertion messages),
    ``url`` its HTTP endpoint (None over stdio), ``mode`` the client's era.
    """

    def __init__(self, client: Client, mode: str, stderr: Callable[[], str], url: str | None) -> None:
        self.client = client
        self.mode = mode
        self.stderr = stderr
        self.url = url

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


class StdioTarget:
    """A stdio transport for ``Client`` whose child's stderr is captured (``.stderr_text()``)."""

    def __init__(self, params: StdioServerParameters, log: _Stderr) -> None:
        self.params = params
        self._log = log

    def transport(self) -> Any:
        return stdio_client(self.params, errlog=self._log.file)  # type: ignore[arg-type]

    def stderr_text(self) -> str:
        return self._log.text()


@contextlib.asynccontextmanager
async def open_meta_client(
    transport: str,
    mode: str,
    config: str | os.PathLike[str] | dict[str, Any] | None,
    *extra_args: str,
    log_level: str = "INFO",
    **client_kwargs: Any,
) -> AsyncIterator[MetaClient]:
    """Start a fresh meta-mcp (``transport`` = "stdio" | "http") and yield a connected ``MetaClient``."""
    if isinstance(config, dict):
        config = temp_config(config)
    if transport == "stdio":
        with stderr_log("meta-mcp-stdio-") as log:
            target = StdioTarget(meta_mcp_stdio(config, *extra_args, log_level=log_level), log)
            async with make_client(target.transport(), mode, **client_kwargs) as client:
                yield MetaClient(client, mode, target.stderr_text, None)
    elif transport == "http":
        async with meta_mcp_http(config, *extra_args, log_level=log_level) as url:
            async with make_client(str(url), mode, **client_kwargs) as client:
                yield MetaClient(client, mode, url.stderr_text, str(url))
    else:
        raise ValueError(f"unknown transport {transport!r}")


@contextlib.asynccontextmanager
async def meta_client_for(
    transport: str,
    mode: str,
    config: str | os.PathLike[str] | dict[str, Any] | None,
    *,
    http_url: ServerUrl | None = None,
    **client_kwargs: Any,
) -> AsyncIterator[MetaClient]:
    """Like ``open_meta_client``, but over http reuse an already running meta-mcp at ``http_url``.

    One meta-mcp http process can serve clients of both eras, so a module parametrized over
    (transport, mode) needs one http process, not one per mode. Over stdio a fresh process is started.
    """
    if transport == "http" and http_url is not None:
        async with make_client(str(http_url), mode, **client_kwargs) as client:
            yield MetaClient(client, mode, http_url.stderr_text, str(http_url))
    else:
        async with open_meta_client(transport, mode, config, **client_kwargs) as client:
            yield client


def sse_transport(url: str, **kwargs: Any) -> Any:
    """A legacy SSE client transport for ``Client``."""
    return sse_client(url, **kwargs)
