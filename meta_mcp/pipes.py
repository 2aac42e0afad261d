"""asyncio streams over pipes, shared by both stdio ends: the stdio server and the stdio upstream transport.

One line limit and one way to wrap a pair of pipe files, so a JSON-RPC line that one end accepts the
other end accepts too. Stdlib only, and `asyncio` is imported when first used: the CLI imports the
process module (which uses this one) before anything heavy.

Example:
    reader, writer, read_transport = await pipe_streams(proc.stdout, proc.stdin)
"""

from __future__ import annotations

from typing import Any

LINE_LIMIT = 64 * 1024 * 1024
"""Longest JSON-RPC line accepted on a pipe, from an upstream or a client (large results are one line)."""


async def pipe_streams(read_file: Any, write_file: Any) -> tuple[Any, Any, Any]:
    """asyncio (reader, writer, read transport) over two pipe files: no worker thread per line."""
    import asyncio

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    read_transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), read_file)
    write_transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, write_file)
    return reader, asyncio.StreamWriter(write_transport, protocol, None, loop), read_transport
