"""One upstream MCP server (stdio process, streamable HTTP or SSE) as a provider.

An `UpstreamProvider` keeps one client connection to its server alive under a supervisor task:

- it connects (in "auto" mode: the modern 2026-07-28 era when the server speaks it, else the
  handshake), pages through tools, resources, templates and prompts, and marks itself `ready`
  (`supervisor.py`);
- it refreshes a listing when the upstream says it changed — a `list_changed` notification on a
  handshake-era connection, a `subscriptions/listen` event on a modern one — and tells the registry
  (`watcher.py`);
- when the connection ends (a crashed process, a dropped connection) it reconnects with exponential
  backoff (`restarting`), giving up after `max_restarts` failures in a row (`failed`) (`supervisor.py`);
- calls carry a per-call timeout (the spec's `timeout`, else the settings default); a timed-out or
  cancelled call is cancelled upstream too; upstream progress is forwarded to the caller; log level
  and subscriptions are replayed after a reconnect (`calls.py`);
- the upstream's log messages and its own sampling/elicitation requests reach the caller whose call
  is in flight (`backchannel.py`).

Failures of the upstream are `ToolError`s naming the server; protocol errors it answers with pass
through as `MCPError`. `provider.py` wires the parts together.

Example:
    provider = UpstreamProvider(ServerSpec(name="time", command="mcp-server-time"), settings, tg)
    await provider.start()          # returns when ready, or failed with `last_error`
    result = await provider.call_tool("get_current_time", {"timezone": "Asia/Tokyo"})
"""

from meta_mcp.providers.upstream.provider import UpstreamProvider

__all__ = ["UpstreamProvider"]
