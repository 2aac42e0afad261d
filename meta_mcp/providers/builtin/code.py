"""Meta tools for code: `run_code` (TypeScript in a Deno sandbox that calls tools) and `get_code_api`.

Code calls the workspace's tools as `await tools.<server>.<tool>(args)` (names as identifiers, see
`services.sandbox.names`). Every such call goes through `ctx.registry.call_tool` with the tool's
exposed name — the same path as a client's `tools/call` — so naming, timeouts and error shaping
apply exactly as they do outside the sandbox.

What the sandbox may call: the tools of the allowed servers (`sandbox_allowed_servers`, narrowed
per call by `servers`), and of the meta tools only the read-only ones in `SANDBOX_META_TOOLS`
(under `tools.meta_mcp`). Not `run_code` (a run cannot start runs, so limits cannot be stacked),
not `call_tool` (it would reach tools of servers the run may not call), not `agent_chat` (an inner
loop outside these limits), not `add_server` / `remove_server` / `configure_server` (changing the
workspace is the host's decision, not code's).

Example:
    run_code(code='''
      const cities = ["Oslo", "Lima"];
      const all = await Promise.all(cities.map((city) => tools.rich.get_weather({ city })));
      console.log(`${all.length} cities`);
      export default all.map((w) => `${w.city}: ${w.temperature}`);
    ''')
    → text `["Oslo: 27", "Lima: 9"]` and `console:\\n2 cities`, structuredContent {"ok": true, "result": [...], …}
"""

from __future__ import annotations

import json
from typing import Any

from meta_mcp.providers.base import CallContext
from meta_mcp.providers.builtin.base import MetaContext, MetaTool
from meta_mcp.services.sandbox import RunResult, Sandbox, SandboxLimits, ToolBinding, ToolTable, declarations
from meta_mcp.settings import Settings

BUILTIN_SERVER = "meta-mcp"
SANDBOX_META_TOOLS = frozenset({"list_servers", "find_tools", "find_servers", "get_code_api"})
"""The meta tools code may call: read-only ones that cannot escape the run's limits."""

_sandboxes: dict[int, tuple[Settings, Sandbox]] = {}


def _settings(ctx: MetaContext) -> Settings:
    services = getattr(ctx.registry, "services", None)
    settings = getattr(services, "settings", None) or getattr(ctx.registry, "settings", None)
    return settings if isinstance(settings, Settings) else Settings()


def _sandbox(settings: Settings) -> Sandbox:
    """The one `Sandbox` (and so the one concurrency limit) of this meta-mcp process."""
    entry = _sandboxes.get(id(settings))
    if entry is None or entry[0] is not settings:
        deno = str(settings.sandbox_deno) if settings.sandbox_deno else None
        sandbox = Sandbox(deno, settings.sandbox_max_concurrent, settings.sandbox_tmpdir)
        entry = _sandboxes[id(settings)] = (settings, sandbox)
    return entry[1]


def _failure(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": True}


async def tool_table(ctx: MetaContext, settings: Settings, servers: list[str] | None) -> ToolTable | str:
    """The tools a run may call (or why the requested `servers` cannot be granted).

    Waits, like the registry's routing does, until preloaded servers have had their first try.
    """
    wait_preloaded = getattr(ctx.registry, "wait_preloaded", None)
    if wait_preloaded is not None:
        await wait_preloaded()
    allowed = settings.sandbox_allowed_servers
    if servers is not None:
        known = set(ctx.registry.servers) | {BUILTIN_SERVER}
        unknown = sorted(set(servers) - known)
        if unknown:
            return f"unknown server(s): {', '.join(unknown)} (servers: {', '.join(sorted(known))})"
        denied = sorted(set(servers) - set(allowed)) if allowed is not None else []
        if denied:
            return f"server(s) not allowed for run_code: {', '.join(denied)} (sandbox_allowed_servers)"
    surface = ctx.registry.snapshot
    entries = []
    for tool in surface.tools:
        provider, original = surface.tool_routes[tool["name"]]
        server = provider.name
        if server == BUILTIN_SERVER and original not in SANDBOX_META_TOOLS:
            continue
        if (allowed is not None and server not in allowed) or (servers is not None and server not in servers):
            continue
        entries.append((server, original, tool["name"], tool))
    return ToolTable.build(entries)


def _result(run: RunResult) -> dict[str, Any]:
    structured: dict[str, Any] = {"ok": run.ok, "result": run.value, "console": run.console,
                                  "toolCalls": run.tool_calls, "durationMs": run.duration_ms}
    if run.ok:
        value = run.value
        text = value if isinstance(value, str) else json.dumps(value, indent=1, ensure_ascii=False)
    else:
        structured["error"] = {"kind": run.error_kind, "limit": run.limit, "message": run.error}
        text = f"run_code failed: {run.error}"
    content = [{"type": "text", "text": text}]
    if run.console:
        content.append({"type": "text", "text": "console:\n" + run.console})
    return {"content": content, "structuredContent": structured, "isError": not run.ok}


async def run_code(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    settings = _settings(ctx)
    table = await tool_table(ctx, settings, args.get("servers"))
    if isinstance(table, str):
        return _failure(f"run_code: {table}")
    timeout = min(float(args.get("timeout_s") or settings.sandbox_timeout_s), settings.sandbox_max_timeout_s)
    limits = SandboxLimits(timeout_s=timeout, heap_mb=settings.sandbox_heap_mb, data_mb=settings.sandbox_data_mb,
                           max_output_bytes=settings.sandbox_max_output_bytes,
                           max_tool_calls=settings.sandbox_max_tool_calls)
    # Calls made by the code carry the caller's _meta and logging, not its progress or input rounds.
    inner = CallContext(meta=ctx.call.meta, log=ctx.call.log)

    async def call(binding: ToolBinding, arguments: dict[str, Any]) -> dict[str, Any]:
        return await ctx.registry.call_tool(binding.exposed, arguments, inner)

    language = args.get("language", "typescript")
    run = await _sandbox(settings).run(args["code"], table, call, limits, javascript=language == "javascript")
    return _result(run)


async def get_code_api(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    table = await tool_table(ctx, _settings(ctx), args.get("servers"))
    if isinstance(table, str):
        return _failure(f"get_code_api: {table}")
    return {"content": [{"type": "text", "text": declarations(table)}]}


_SERVERS_ARG = {
    "type": "array",
    "items": {"type": "string"},
    "description": "Only these servers' tools (server names as in list_servers; 'meta-mcp' for the meta tools). "
    "Default: every server code may call.",
}

RUN_CODE = MetaTool(
    {
        "name": "run_code",
        "title": "Run code that calls tools",
        "description": "Run TypeScript (or JavaScript) in a sandbox where every tool is a function: "
        "`const w = await tools.<server>.<tool>({...args})` (names as identifiers, e.g. tools.my_server.get_time). "
        "Chain, loop over and filter tool calls in code instead of one call per message. A call returns the "
        "tool's structuredContent, else its text (parsed when JSON); a tool error throws ToolError. Finish with "
        "`export default <JSON value>`; console.log output is returned too. Get typed signatures from "
        "get_code_api. No imports, network, files or env; limits on time, memory, output and tool calls; "
        "each run is a fresh process.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "minLength": 1,
                         "description": "An ES module: top-level await works; `export default` is the result"},
                "language": {"type": "string", "enum": ["typescript", "javascript"], "default": "typescript"},
                "timeout_s": {"type": "number", "exclusiveMinimum": 0,
                              "description": "Wall-time limit in seconds (default 30; capped by the server)"},
                "servers": _SERVERS_ARG,
            },
            "required": ["code"],
        },
        "outputSchema": {
            "type": "object",
            "properties": {
                "ok": {"type": "boolean"},
                "result": {"description": "The default export (null if none or on error)"},
                "console": {"type": "string"},
                "toolCalls": {"type": "integer"},
                "durationMs": {"type": "number"},
                "error": {
                    "type": "object",
                    "properties": {
                        "kind": {"type": "string", "enum": ["code", "limit", "denied", "sandbox"]},
                        "limit": {"type": ["string", "null"], "enum": ["time", "memory", "output", "tool_calls", None]},
                        "message": {"type": "string"},
                    },
                    "required": ["kind", "message"],
                },
            },
            "required": ["ok", "result", "console", "toolCalls"],
        },
        "annotations": {"readOnlyHint": False, "destructiveHint": True, "openWorldHint": True},
    },
    run_code,
)

GET_CODE_API = MetaTool(
    {
        "name": "get_code_api",
        "title": "TypeScript API for run_code",
        "description": "TypeScript declarations of the tools run_code can call (`declare const tools: {...}` with "
        "typed arguments and results from each tool's schemas). Read it before writing run_code code.",
        "inputSchema": {"type": "object", "properties": {"servers": _SERVERS_ARG}},
        "annotations": {"readOnlyHint": True, "openWorldHint": False},
    },
    get_code_api,
)
