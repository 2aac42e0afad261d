"""Test support, by job; import any public name from here (``from support import X``).

- ``processes``: free ports, config files, starting meta-mcp and the test upstreams as processes;
- ``clients``: the eras and transports, making clients, ``MetaClient`` for a meta-mcp process;
- ``results``: wire dumps, the essence of a tool result, text content;
- ``waiting``: polling, the surface a client sees, change-notification watchers.
"""

from .clients import (
    COMBOS,
    COVERING_COMBOS,
    MODES,
    TRANSPORTS,
    MetaClient,
    StdioTarget,
    combo_ids,
    make_client,
    meta_client_for,
    open_meta_client,
    sse_transport,
)
from .processes import (
    EVERYTHING_JS,
    NODE22,
    PYTHON,
    REPO,
    TESTS,
    UPSTREAMS,
    ServerUrl,
    _http_process,
    everything_entry,
    everything_params,
    free_port,
    kill_group,
    meta_mcp_argv,
    meta_mcp_http,
    meta_mcp_stdio,
    serve_argv,
    stderr_log,
    temp_config,
    time_entry,
    time_params,
    upstream_argv,
    upstream_entry,
    upstream_http,
    upstream_params,
    upstream_script,
    write_config,
)
from .results import dump, result_essence, text_of
from .waiting import (
    ListChangedWatcher,
    all_tools,
    list_servers,
    poll_until,
    tool_names,
    wait_for_status,
    wait_for_tools,
)

__all__ = [
    "COMBOS", "COVERING_COMBOS", "EVERYTHING_JS", "MODES", "NODE22", "PYTHON", "REPO", "TESTS", "TRANSPORTS",
    "UPSTREAMS", "ListChangedWatcher", "MetaClient", "ServerUrl", "StdioTarget", "_http_process", "all_tools",
    "combo_ids", "dump", "everything_entry", "everything_params", "free_port", "kill_group", "list_servers",
    "make_client", "meta_client_for", "meta_mcp_argv", "meta_mcp_http", "meta_mcp_stdio", "open_meta_client",
    "poll_until", "result_essence", "serve_argv", "sse_transport", "stderr_log", "temp_config", "text_of",
    "time_entry", "time_params", "tool_names", "upstream_argv", "upstream_entry", "upstream_http",
    "upstream_params", "upstream_script", "wait_for_status", "wait_for_tools", "write_config",
]
