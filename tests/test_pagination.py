"""Aggregated lists are paginated: 1,200 tools of 1 KB descriptions (~1.3 MB of JSON) would exceed the
SDK client's 1 MiB SSE event limit in one page, and in legacy mode over HTTP every call_tool would
then fail too. Pages are bounded by count and by bytes; cursors are opaque, stay valid while a client
pages (even when the surface changes meanwhile) and are refused when forged.
"""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import MCPError

from support import make_client, meta_mcp_http, text_of, upstream_entry

pytestmark = pytest.mark.anyio
ALL = {"META_MCP_EXPOSE": "all"}  # every tool listed: the default (auto) lists only meta tools past 40


async def _pages(client) -> list[list[str]]:  # noqa: ANN001
    pages, cursor = [], None
    while True:
        result = await client.list_tools(cursor=cursor)
        pages.append([t.name for t in result.tools])
        cursor = result.next_cursor
        if not cursor:
            return pages


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_many_tools_are_paged_and_callable_over_http(mode: str) -> None:
    async with meta_mcp_http({"many": upstream_entry("many")}, env=ALL) as url:
        async with make_client(str(url), mode) as client:
            pages = await _pages(client)
            names = [n for page in pages for n in page]
            assert len(pages) >= 3, [len(p) for p in pages]  # ~1.3 MB cannot fit one 512 kB page
            meta = [n for n in names if not n.startswith("many__")]
            assert len(names) == len(set(names)) == 1200 + len(meta)  # every tool once, plus the meta tools
            assert "many__t1199" in names and "list_servers" in names
            result = await client.call_tool("many__t1199", {})
            assert not result.is_error and text_of(result) == "called t1199"


async def test_a_cursor_survives_a_change_and_a_forged_one_is_refused() -> None:
    async with meta_mcp_http({"many": upstream_entry("many")}, env=ALL) as url:
        async with make_client(str(url)) as client:
            first = await client.list_tools()
            assert first.next_cursor
            # The surface changes while the client pages: the cursor still walks the list it started on.
            removed = await client.call_tool("remove_server", {"name": "many"})
            assert not removed.is_error, text_of(removed)
            second = await client.list_tools(cursor=first.next_cursor)
            assert second.tools and second.tools[0].name.startswith("many__")
            assert {t.name for t in first.tools}.isdisjoint(t.name for t in second.tools)
            for forged in ("bm90LWEtY3Vyc29y", "x" * 200, "OTk5OTk6MQ"):
                with pytest.raises(MCPError, match="cursor"):
                    await client.list_tools(cursor=forged)
            now = await client.list_tools()
            assert now.next_cursor is None and not any(t.name.startswith("many__") for t in now.tools)
