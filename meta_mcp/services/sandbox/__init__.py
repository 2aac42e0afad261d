"""The sandbox service: run TypeScript/JavaScript in a locked-down Deno process that can call tools.

- `runner`: `Sandbox.run(code, table, call_tool, limits)` — one fresh Deno process per run, every
  permission denied, hard limits (time, memory, output, tool calls);
- `process`: starting a locked-down Deno process that waits for its run; `session`: one run's
  conversation with it (the bridge, the limits, how it ended); `pool`: processes started ahead,
  each used once;
- `bridge`: the JSON protocol between the process and meta-mcp (nonce-framed on stdout, lines on
  stdin) and what a tool call returns to the code;
- `names`: which tools a run may call and their JavaScript names (`tools.<server>.<tool>`);
- `typescript`: `.d.ts` declarations generated from the tools' JSON Schemas;
- `source`: the static check that code parses (tree-sitter) and imports nothing;
- `workdirs`: where runs keep their files (tmpfs when there is one), cleanup after killed processes;
- `prelude.ts`: loaded in the process before the code; builds `tools`, `console`, `ToolError`.

The service knows nothing of MCP transports: its caller (the `run_code` meta tool) builds the
`ToolTable` from the workspace and passes a function that calls through the registry.
"""

from meta_mcp.services.sandbox.names import ToolBinding, ToolTable, js_identifier
from meta_mcp.services.sandbox.runner import RunResult, Sandbox, SandboxLimits, ToolCaller, find_deno
from meta_mcp.services.sandbox.typescript import declarations

__all__ = [
    "RunResult", "Sandbox", "SandboxLimits", "ToolBinding", "ToolCaller", "ToolTable", "declarations",
    "find_deno", "js_identifier",
]
