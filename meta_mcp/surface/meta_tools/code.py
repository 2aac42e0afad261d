"""Meta tools for code: `run_code` (TypeScript in a Deno sandbox that calls tools) and `get_code_api`.

Adapters over `meta_mcp.operations.code`, where what a run may call is stated. Code calls the
workspace's tools as `await tools.<server>.<tool>(args)` (names as identifiers, see
`services.sandbox.names`), each through the registry's one call path.

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

from meta_mcp.operations import code
from meta_mcp.providers.base import tool_error
from meta_mcp.services.sandbox import RunResult
from meta_mcp.surface.meta_tools.base import MetaContext, MetaTool


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
    run = await code.run_code(ctx.workspace, args["code"], language=args.get("language", "typescript"),
                              timeout_s=args.get("timeout_s"), servers=args.get("servers"), call=ctx.call)
    if isinstance(run, code.NotGranted):
        return tool_error(f"run_code: {run.reason}")
    return _result(run)


async def get_code_api(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    api = await code.code_api(ctx.workspace, args.get("servers"))
    if isinstance(api, code.NotGranted):
        return tool_error(f"get_code_api: {api.reason}")
    return {"content": [{"type": "text", "text": api}]}


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
