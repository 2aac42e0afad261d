"""Meta tools for code: `run_code` (TypeScript in a Deno sandbox that calls tools) and `get_code_api`.

Adapters over `meta_mcp.operations.code`, where what a run may call is stated. Code calls the
workspace's tools as `await tools.<server>.<tool>(args)` (names as identifiers, see
`services.sandbox.names`), each through the registry's one call path.

run_code's description says only how to call a tool and return a value (it is paid for on every turn
of a host's model); the rest — the run's limits as configured, the result's shape, the `servers`
filter — heads get_code_api's declarations (`_rules`), which a model reads once, before writing code.

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
from typing import TYPE_CHECKING, Any

from meta_mcp.providers.base import tool_error
from meta_mcp.surface.meta_tools.base import MetaContext, MetaTool

if TYPE_CHECKING:
    from meta_mcp.services.sandbox import RunResult

# The handlers import `meta_mcp.operations.code` (and with it the sandbox) on first call: serving the first
# request does not need them.


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
    from meta_mcp.operations import code

    run = await code.run_code(ctx.workspace, args["code"], language=args.get("language", "typescript"),
                              timeout_s=args.get("timeout_s"), servers=args.get("servers"), call=ctx.call)
    if isinstance(run, code.NotGranted):
        return tool_error(f"run_code: {run.reason}")
    return _result(run)


def _rules(settings: Any) -> str:
    """What run_code's description leaves to get_code_api: the run's limits and the servers filter."""
    return (f"// Limits per run: {settings.sandbox_timeout_s:g} s wall time (run_code's timeout_s, at most "
            f"{settings.sandbox_max_timeout_s:g} s), {settings.sandbox_heap_mb} MB heap, "
            f"{settings.sandbox_max_output_bytes} bytes of output, {settings.sandbox_max_tool_calls} tool calls;\n"
            "// a limit ends the run with an error naming it. Each run is a fresh process; top-level await works.\n"
            "// run_code's and get_code_api's `servers`: server names as list_servers gives them ('meta-mcp': the\n"
            "// read-only meta tools). run_code's result: the default export as text, then console output;\n"
            "// structuredContent {ok, result, console, toolCalls, durationMs, error?: {kind: code|limit|denied|\n"
            "// sandbox, limit: time|memory|output|tool_calls|null, message}}.\n")


async def get_code_api(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    from meta_mcp.operations import code
    from meta_mcp.services.sandbox.typescript import HEADER

    api = await code.code_api(ctx.workspace, args.get("servers"))
    if isinstance(api, code.NotGranted):
        return tool_error(f"get_code_api: {api.reason}")
    comments = HEADER.split("declare ", 1)[0]  # the rules follow the header's own comment lines
    rules = _rules(ctx.workspace.settings)
    api = comments + rules + api[len(comments):] if api.startswith(comments) else rules + api
    return {"content": [{"type": "text", "text": api}]}


_SERVERS_ARG = {"type": "array", "items": {"type": "string"}, "description": "Only these servers' tools"}

RUN_CODE = MetaTool(
    {
        "name": "run_code",
        "title": "Run code",
        "description": "Run TypeScript (or JavaScript) in a sandbox where each tool is an async function, "
        "`await tools.<server>.<tool>(args)` (names as identifiers: my-server → my_server): chain, loop and filter "
        "calls in one run. `export default <JSON value>` is the result; console output comes back too. "
        "get_code_api gives the typed API and limits.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "minLength": 1},
                "language": {"type": "string", "enum": ["typescript", "javascript"], "default": "typescript"},
                "timeout_s": {"type": "number", "exclusiveMinimum": 0},
                "servers": _SERVERS_ARG,
            },
            "required": ["code"],
        },
        "annotations": {"readOnlyHint": False, "destructiveHint": True, "openWorldHint": True},
    },
    run_code,
)

GET_CODE_API = MetaTool(
    {
        "name": "get_code_api",
        "title": "Code API",
        "description": "TypeScript declarations of what run_code can call, and how calls return, fail and are "
        "limited. Read it before writing code.",
        "inputSchema": {"type": "object", "properties": {"servers": _SERVERS_ARG}},
        "annotations": {"readOnlyHint": True, "openWorldHint": False},
    },
    get_code_api,
)
