"""Code operations: run TypeScript/JavaScript that calls the workspace's tools, and describe its API.

Code calls tools as `await tools.<server>.<tool>(args)`; every such call goes through the registry's
one call path with the tool's exposed name, so naming, timeouts and error shaping apply exactly as
outside the sandbox.

What a run may call: the tools of the allowed servers (`sandbox_allowed_servers`, narrowed per call
by `servers`), and of the meta tools only the read-only ones in `SANDBOX_META_TOOLS`. Not `run_code`
(runs cannot stack their limits), not `call_tool` (a way around `servers`), not `agent_chat` (an
inner loop outside these limits), not `add_server` / `remove_server` / `configure_server` (changing
the workspace is the host's decision, not code's).

With tracing on, a run is a span `run_code` (workspace, language, tool calls made, how it ended), and
its bridged calls — routed through the registry from inside it — are that span's children.

Example:
    run = await run_code(ws, 'export default await tools.time.get_current_time({timezone: "UTC"})')
    run.ok, run.value
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import StatusCode

from meta_mcp.operations.tools import META_SERVER, visible_tools
from meta_mcp.operations.workspace import Workspace
from meta_mcp.providers.base import NO_CONTEXT, CallContext
from meta_mcp.services.sandbox import RunResult, SandboxLimits, ToolBinding, ToolTable, declarations
from meta_mcp.services.telemetry import span
from meta_mcp.services.telemetry import semconv as sc

SANDBOX_META_TOOLS = frozenset({"list_servers", "find_tools", "find_servers", "get_code_api"})
"""The meta tools code may call: read-only ones that cannot escape the run's limits."""


@dataclass(frozen=True, slots=True)
class NotGranted:
    """The requested `servers` cannot be granted to a run."""

    reason: str


async def tool_table(ws: Workspace, servers: list[str] | None) -> ToolTable | NotGranted:
    """The tools a run may call. Waits, like routing does, for preloaded servers' first try."""
    await ws.registry.wait_preloaded()
    allowed = ws.settings.sandbox_allowed_servers
    if servers is not None:
        known = set(ws.registry.servers) | {META_SERVER}
        unknown = sorted(set(servers) - known)
        if unknown:
            return NotGranted(f"unknown server(s): {', '.join(unknown)} (servers: {', '.join(sorted(known))})")
        denied = sorted(set(servers) - set(allowed)) if allowed is not None else []
        if denied:
            return NotGranted(f"server(s) not allowed for run_code: {', '.join(denied)} (sandbox_allowed_servers)")

    def keep(server: str, original: str) -> bool:
        if server == META_SERVER and original not in SANDBOX_META_TOOLS:
            return False
        return (allowed is None or server in allowed) and (servers is None or server in servers)

    return ToolTable.build([(t.server, t.original, t.exposed, t.definition) for t in visible_tools(ws, keep)])


async def code_api(ws: Workspace, servers: list[str] | None = None) -> str | NotGranted:
    """TypeScript declarations of what a run may call."""
    table = await tool_table(ws, servers)
    return table if isinstance(table, NotGranted) else declarations(table)


async def run_code(ws: Workspace, code: str, *, language: str = "typescript", timeout_s: float | None = None,
                   servers: list[str] | None = None, call: CallContext = NO_CONTEXT) -> RunResult | NotGranted:
    """Run `code` in a fresh sandbox process under the settings' limits."""
    settings = ws.settings
    table = await tool_table(ws, servers)
    if isinstance(table, NotGranted):
        return table
    timeout = min(float(timeout_s or settings.sandbox_timeout_s), settings.sandbox_max_timeout_s)
    limits = SandboxLimits(timeout_s=timeout, heap_mb=settings.sandbox_heap_mb, data_mb=settings.sandbox_data_mb,
                           max_output_bytes=settings.sandbox_max_output_bytes,
                           max_tool_calls=settings.sandbox_max_tool_calls,
                           max_message_bytes=settings.sandbox_max_message_bytes,
                           max_message_values=settings.sandbox_max_message_values,
                           max_received_bytes=settings.sandbox_max_received_bytes,
                           max_calls_in_flight=settings.sandbox_max_calls_in_flight)
    # Calls made by the code carry the caller's _meta and logging, not its progress or input rounds.
    inner = CallContext(meta=call.meta, log=call.log, origin="sandbox", identity=call.identity)

    async def call_one(binding: ToolBinding, arguments: dict[str, Any]) -> dict[str, Any]:
        return await ws.registry.call_tool(binding.exposed, arguments, inner)

    with span("run_code", {sc.WORKSPACE: ws.name, sc.ORIGIN: call.origin, "meta_mcp.sandbox.language": language,
                           "meta_mcp.sandbox.timeout_s": timeout}) as current:
        run = await ws.services.sandbox.run(code, table, call_one, limits, javascript=language == "javascript")
        if current.is_recording():
            current.set_attributes({"meta_mcp.sandbox.tool_calls": run.tool_calls,
                                    sc.OUTCOME: "ok" if run.ok else run.error_kind or "error"})
            if not run.ok:
                current.set_attribute(sc.ERROR_TYPE, run.limit or run.error_kind or "error")
                current.set_status(StatusCode.ERROR, run.error or "")
    return run
