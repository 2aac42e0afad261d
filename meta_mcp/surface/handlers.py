"""The MCP methods' handlers, grouped by MCP feature; each serves its request from one workspace's registry.

Each group is a function returning the handlers as the SDK's `Server` takes them (keyword → handler):
`tool_handlers`, `resource_handlers`, `prompt_handlers`, `subscription_handlers`; the handshake-era
connection handlers (`notifications/initialized`, `logging/setLevel`) are registered by method.

Semantics:
- the workspace: over stdio `default`; over HTTP the workspace header chooses among the caller's
  workspaces (default: its own); one it may not use is `INVALID_REQUEST`, an invalid name
  `INVALID_PARAMS` (`workspace_picker`);
- a `*/list` waits for preloaded servers' first attempt, then answers one page of the registry's
  current surface (`nextCursor` when more follow); with a policy, `tools/list` shows each identity
  only the tools it may use (calls are refused on the call path, see `meta_mcp.auth.enforce`);
- calls, reads and prompt gets pass the registry's wire dicts through, marked complete, and answer
  `input_required` for handshake-era clients by asking them (`surface.context.interactive`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import mcp_types as types
from mcp import MCPError
from mcp.server.context import ServerRequestContext
from mcp_types import INVALID_PARAMS, INVALID_REQUEST

from meta_mcp.auth.context import identity_in
from meta_mcp.identity import LOCAL
from meta_mcp.registry.registry import Registry
from meta_mcp.registry.workspaces import DEFAULT, Workspaces
from meta_mcp.surface.context import LOG_LEVEL_STATE, complete, connection, identity, interactive
from meta_mcp.surface.http import MCP_SCOPE
from meta_mcp.surface.lean import LeanCalls

if TYPE_CHECKING:
    from meta_mcp.auth.policy import PolicyStore

Ctx = ServerRequestContext[Any]
Picker = Callable[[Ctx], Registry]
"""The registry that serves a request (`workspace_picker`)."""
Handler = Callable[[Ctx, Any], Awaitable[Any]]


def workspace_picker(workspaces: Workspaces) -> Picker:
    """Which workspace serves a request (see the module docstring)."""
    header = workspaces.settings.workspace_header

    def pick(ctx: Ctx) -> Registry:
        request = ctx.request
        if request is None:
            name = DEFAULT
        else:
            caller = identity(ctx)
            name = request.headers.get(header) or caller.default_workspace
            if not caller.may_use(name):  # the HTTP guard answers 403 first; kept for apps built without it
                raise MCPError(INVALID_REQUEST, f"{header}: {caller.subject} may not use workspace {name!r}")
        try:
            return workspaces.get(name)
        except ValueError as exc:
            raise MCPError(INVALID_PARAMS, f"{header}: {exc}") from None

    return pick


def _lister(pick: Picker, key: str, attr: str,
            narrow: Callable[[Ctx, Registry, list[dict[str, Any]]], list[dict[str, Any]]] | None = None) -> Handler:
    """A `*/list` handler: one page of the workspace's current `attr`, after preloaded servers' first try,
    answered under `key`; `narrow` filters the page for the request's caller."""

    async def handler(ctx: Ctx, params: types.PaginatedRequestParams | None) -> dict:
        registry = pick(ctx)
        await registry.wait_preloaded()
        items, next_cursor = registry.list_page(attr, params.cursor if params is not None else None)
        if narrow is not None:
            items = narrow(ctx, registry, items)
        result: dict[str, Any] = {key: items, "resultType": "complete"}
        if next_cursor is not None:
            result["nextCursor"] = next_cursor
        return result

    return handler


def tool_handlers(pick: Picker, policy: PolicyStore | None) -> dict[str, Handler]:
    """`tools/list` (narrowed by the policy per identity) and `tools/call` (the registry's one call path)."""

    def visible(ctx: Ctx, registry: Registry, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rules = policy.rules(identity(ctx), registry.workspace) if policy is not None else None
        return items if rules is None else [t for t in items if rules.tool_allowed(t["name"])]

    async def call_tool(ctx: Ctx, params: types.CallToolRequestParams) -> dict:
        registry = pick(ctx)
        return await interactive(ctx, params, lambda call: registry.call_tool(params.name, params.arguments, call))

    return {"on_list_tools": _lister(pick, "tools", "tools", visible), "on_call_tool": call_tool}


def resource_handlers(pick: Picker) -> dict[str, Handler]:
    """`resources/list`, `resources/templates/list` and `resources/read`."""

    async def read_resource(ctx: Ctx, params: types.ReadResourceRequestParams) -> dict:
        registry = pick(ctx)
        return await interactive(ctx, params, lambda call: registry.read_resource(str(params.uri), call))

    return {
        "on_list_resources": _lister(pick, "resources", "resources"),
        "on_list_resource_templates": _lister(pick, "resourceTemplates", "resource_templates"),
        "on_read_resource": read_resource,
    }


def prompt_handlers(pick: Picker) -> dict[str, Handler]:
    """`prompts/list`, `prompts/get` and `completion/complete` (of a prompt's or a template's argument)."""

    async def get_prompt(ctx: Ctx, params: types.GetPromptRequestParams) -> dict:
        registry = pick(ctx)
        return await interactive(ctx, params, lambda call: registry.get_prompt(params.name, params.arguments, call))

    async def complete_argument(ctx: Ctx, params: types.CompleteRequestParams) -> dict:
        wire = params.model_dump(by_alias=True, mode="json", exclude_none=True)
        wire.pop("_meta", None)
        return complete(await pick(ctx).complete(wire))

    return {
        "on_list_prompts": _lister(pick, "prompts", "prompts"),
        "on_get_prompt": get_prompt,
        "on_completion": complete_argument,
    }


def subscription_handlers(pick: Picker) -> dict[str, Handler]:
    """`resources/subscribe` / `unsubscribe` (forwarded to the owning server; updates reach the connection)
    and the 2026-era `subscriptions/listen` (list changes and resource updates of the workspace)."""

    async def subscribe(ctx: Ctx, params: types.SubscribeRequestParams) -> dict:
        registry = pick(ctx)
        await registry.subscribe(str(params.uri))
        registry.notifier.subscribe(connection(ctx), str(params.uri))
        return {}

    async def unsubscribe(ctx: Ctx, params: types.UnsubscribeRequestParams) -> dict:
        registry = pick(ctx)
        registry.notifier.subscribe(connection(ctx), str(params.uri), add=False)
        await registry.subscribe(str(params.uri), add=False)
        return {}

    async def listen(ctx: Ctx, params: types.SubscriptionsListenRequestParams) -> Any:
        return await pick(ctx).notifier.listen(ctx, params)

    return {"on_subscribe_resource": subscribe, "on_unsubscribe_resource": unsubscribe,
            "on_subscriptions_listen": listen}


def connection_handlers(pick: Picker, lean: LeanCalls | None) -> tuple[Handler, Handler]:
    """(`notifications/initialized`, `logging/setLevel`) of a handshake-era connection: the first starts
    its change notifications (and the lean path), the second keeps its log level and applies it upstream."""

    async def initialized(ctx: Ctx, params: types.NotificationParams) -> None:
        pick(ctx).notifier.track(connection(ctx))
        if lean is not None:
            lean.bind(ctx)

    async def set_level(ctx: Ctx, params: types.SetLevelRequestParams) -> dict:
        connection(ctx).state[LOG_LEVEL_STATE] = params.level
        await pick(ctx).set_log_level(params.level)
        return {}

    return initialized, set_level


def tool_input_schema(workspaces: Workspaces, policy: PolicyStore | None) -> Callable[[str], Any]:
    """The SDK's lookup of the inputSchema tools/list shows the current caller for a tool (None: not listed
    to it). The SDK checks a 2026-era call's Mcp-Param-* headers against it; without this it runs our whole
    tools/list for every such call to find it. It gets no request: the caller comes from `MCP_SCOPE`."""
    header_key = workspaces.settings.workspace_header.lower().encode("latin-1")

    def schema_of(name: str) -> Any:
        scope = MCP_SCOPE.get()
        if scope is None:
            registry, caller = workspaces.get(DEFAULT), LOCAL
        else:
            caller = identity_in(scope, LOCAL)
            wanted = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == header_key), None)
            workspace = wanted or caller.default_workspace
            if not caller.may_use(workspace):
                return None
            try:
                registry = workspaces.get(workspace)
            except ValueError:
                return None
        schema = registry.snapshot.listed_schema(name)
        if schema is not None and policy is not None:
            rules = policy.rules(caller, registry.workspace)
            if rules is not None and not rules.tool_allowed(name):
                return None
        return schema

    return schema_of
