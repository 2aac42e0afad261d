"""`providers.post_transport.PostTransport` against scripted HTTP/1.1 servers on a local socket.

Each server answers the requests of one test as written (bytes on the wire), and counts connections:
keep-alive reuse, `Connection: close`, chunked bodies streamed as they arrive, bodies delimited by the
connection's end, interim answers, a server that disconnects or answers garbage, a read timeout, a
refused connection, an idle connection past its expiry, and a body closed before its end.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest

from meta_mcp.providers.post_transport import PostTransport

pytestmark = pytest.mark.anyio

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, dict[str, Any]], Awaitable[None]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    """One request's body (after its head), or None at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    return await reader.readexactly(length)


def _ok(body: bytes, *extra: bytes) -> bytes:
    return b"\r\n".join([b"HTTP/1.1 200 OK", b"Content-Type: application/json",
                         b"Content-Length: %d" % len(body), *extra, b"", body])


@asynccontextmanager
async def _server(script: Script) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    seen: dict[str, Any] = {"connections": 0, "bodies": []}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen["connections"] += 1
        try:
            await script(reader, writer, seen)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/mcp", seen
    finally:
        server.close()


def _client(expiry: float = 4.0, **timeout: Any) -> httpx2.AsyncClient:
    tls = ssl.create_default_context()
    fallback = httpx2.AsyncHTTPTransport(verify=tls)
    return httpx2.AsyncClient(transport=PostTransport(tls, fallback=fallback, keepalive_expiry=expiry),
                              timeout=httpx2.Timeout(5, **timeout))


async def _echo_forever(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: dict[str, Any]) -> None:
    while (body := await _read_request(reader)) is not None:
        seen["bodies"].append(body)
        writer.write(_ok(body))
        await writer.drain()


async def test_posts_reuse_one_keep_alive_connection() -> None:
    async with _server(_echo_forever) as (url, seen), _client() as client:
        for i in range(5):
            response = await client.post(url, json={"n": i})
            assert response.status_code == 200 and response.json() == {"n": i}
        assert seen["connections"] == 1
        assert [b'"n"' in body for body in seen["bodies"]] == [True] * 5


async def test_a_connection_close_answer_is_not_reused() -> None:
    async def close_each(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: dict[str, Any]) -> None:
        body = await _read_request(reader)
        writer.write(_ok(body or b"", b"Connection: close"))
        await writer.drain()

    async with _server(close_each) as (url, seen), _client() as client:
        for i in range(3):
            assert (await client.post(url, content=b"%d" % i)).content == b"%d" % i
        assert seen["connections"] == 3


async def test_a_chunked_event_stream_is_read_as_it_arrives() -> None:
    release = asyncio.Event()

    async def stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: dict[str, Any]) -> None:
        while await _read_request(reader) is not None:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
            first = b"data: one\n\n"
            writer.write(b"%x\r\n%s\r\n" % (len(first), first))
            await writer.drain()
            await release.wait()
            second = b"data: two\n\n"
            writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(second), second))
            await writer.drain()

    async with _server(stream) as (url, seen), _client() as client:
        for _ in range(2):
            release.clear()
            async with client.stream("POST", url, content=b"{}") as response:
                chunks = response.aiter_bytes()
                assert await chunks.__anext__() == b"data: one\n\n"  # before the server wrote the rest
                release.set()
                assert b"".join([c async for c in chunks]) == b"data: two\n\n"
        assert seen["connections"] == 1  # read to its end: reused


async def test_a_body_closed_before_its_end_closes_the_connection() -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: dict[str, Any]) -> None:
        while await _read_request(reader) is not None:
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
            await writer.drain()

    async with _server(slow) as (url, seen), _client() as client:
        for _ in range(2):
            async with client.stream("POST", url, content=b"{}") as response:
                assert await response.aiter_bytes().__anext__() == b"first"
        assert seen["connections"] == 2


async def test_a_body_that_ends_with_the_connection() -> None:
    async def until_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: dict[str, Any]) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"whole\": true}")
        await writer.drain()

    async with _server(until_close) as (url, _), _client() as client:
        assert (await client.post(url, content=b"{}")).json() == {"whole": True}


async def test_an_interim_answer_is_skipped() -> None:
    async def interim(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: dict[str, Any]) -> None:
        while (body := await _read_request(reader)) is not None:
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + _ok(body))
            await writer.drain()

    async with _server(interim) as (url, seen), _client() as client:
        assert (await client.post(url, content=b"[1]")).json() == [1]
        assert (await client.post(url, content=b"[2]")).json() == [2]
        assert seen["connections"] == 1


@pytest.mark.parametrize("answer", [b"", b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort", b"NOT HTTP AT ALL\r\n\r\n"])
async def test_a_server_that_hangs_up_or_answers_garbage(answer: bytes) -> None:
    async def bad(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: dict[str, Any]) -> None:
        if await _read_request(reader) is None:
            return
        if seen["connections"] == 1:
            writer.write(answer)
        else:
            writer.write(_ok(b"{}"))
        await writer.drain()

    async with _server(bad) as (url, seen), _client() as client:
        with pytest.raises(httpx2.RemoteProtocolError):
            await client.post(url, content=b"{}")
        assert (await client.post(url, content=b"{}")).json() == {}  # a fresh connection
        assert seen["connections"] == 2


async def test_a_read_timeout_is_httpx_s() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: dict[str, Any]) -> None:
        await _read_request(reader)
        await asyncio.sleep(5)

    async with _server(silent) as (url, _), _client(read=0.2) as client:
        with pytest.raises(httpx2.ReadTimeout):
            await client.post(url, content=b"{}")


async def test_a_refused_connection_is_a_connect_error() -> None:
    async with _server(_echo_forever) as (url, _):
        pass  # closed: nothing listens there any more
    async with _client() as client:
        with pytest.raises(httpx2.ConnectError):
            await client.post(url, content=b"{}")


async def test_an_idle_connection_past_its_expiry_is_not_reused() -> None:
    async with _server(_echo_forever) as (url, seen), _client(expiry=0.1) as client:
        await client.post(url, content=b"1")
        await asyncio.sleep(0.2)
        await client.post(url, content=b"2")
        assert seen["connections"] == 2


async def test_other_requests_go_to_the_fallback() -> None:
    async def get_only(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: dict[str, Any]) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen["bodies"].append(head.split(b" ")[0])
        writer.write(_ok(b"{}", b"Connection: close"))
        await writer.drain()

    async with _server(get_only) as (url, seen), _client() as client:
        assert (await client.get(url)).json() == {}
        assert (await client.delete(url)).json() == {}
        assert seen["bodies"] == [b"GET", b"DELETE"]


async def test_an_endless_head_is_refused_not_kept() -> None:
    """A hostile upstream streaming headers forever: refused past MAX_HEAD_BYTES, the connection closed."""
    from meta_mcp.providers.post_transport import MAX_HEAD_BYTES

    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: dict[str, Any]) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n")
        try:
            for i in range(MAX_HEAD_BYTES // 100 + 100):
                writer.write(b"X-Pad-%d: %s\r\n" % (i, b"a" * 90))
                await writer.drain()
        except ConnectionError:
            seen["cut"] = True

    async with _server(endless) as (url, seen), _client() as client:
        with pytest.raises(httpx2.RemoteProtocolError, match="head is over"):
            await client.post(url, content=b"{}")
