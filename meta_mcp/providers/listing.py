"""Fetching an upstream's listings: every page of tools, resources, templates and prompts.

Items are kept as wire dicts (`model_dump(by_alias, exclude_none)` of SDK models that keep unknown
fields), so the registry can pass them through untouched. A kind the server does not declare in its
capabilities is empty; kinds not asked for keep their previous value.

Example:
    listing = await fetch_listing(client, ("tools",), old_listing)   # refresh tools only
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import mcp_types as types
from mcp import Client

from meta_mcp.providers.base import Listing

KINDS = ("tools", "resources", "prompts")

_MAX_PAGES = 1000
"""A bound against a server that never stops paging."""


async def fetch_listing(client: Client, kinds: tuple[str, ...], old: Listing) -> Listing:
    """`old` with the given kinds refetched from `client` (resources include templates)."""
    caps = client.server_capabilities
    tools, resources, templates, prompts = old.tools, old.resources, old.resource_templates, old.prompts
    session = client.session
    if "tools" in kinds:
        tools = await _pages(session.list_tools, "tools") if caps.tools else ()
    if "resources" in kinds:
        resources = await _pages(session.list_resources, "resources") if caps.resources else ()
        templates = await _pages(session.list_resource_templates, "resource_templates") if caps.resources else ()
    if "prompts" in kinds:
        prompts = await _pages(session.list_prompts, "prompts") if caps.prompts else ()
    return Listing(tools=tools, resources=resources, resource_templates=templates, prompts=prompts)


async def _pages(fetch: Callable[..., Awaitable[Any]], attr: str) -> tuple[dict[str, Any], ...]:
    items: list[Any] = []
    cursor: str | None = None
    for _ in range(_MAX_PAGES):
        page = await fetch(params=types.PaginatedRequestParams(cursor=cursor) if cursor else None)
        items.extend(getattr(page, attr))
        cursor = page.next_cursor
        if not cursor:
            break
    return tuple(item.model_dump(by_alias=True, mode="json", exclude_none=True) for item in items)
