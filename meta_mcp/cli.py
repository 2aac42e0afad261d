"""The `meta-mcp` command line: its commands, options and --help text, and `main`, the console script.

Each command lives in a module of its own: `serve` in `cli_serve` (start-up in `cli_environ`, `--workers` in
`cli_workers`), `catalog` in `cli_catalog`, `token` in `cli_tokens`, `secrets` in `cli_secrets`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DESCRIPTION = """\
meta-mcp: one MCP server in front of many. Connect a host (Claude Desktop, an IDE agent, MCP
Inspector) once; the tools of every server behind it appear as <server>__<tool>, and the meta tools
list_servers, find_tools and call_tool help clients find and call them.
"""

SERVE_EPILOG = """\
examples:
  meta-mcp serve --config servers.json                  # stdio, for Claude Desktop and IDEs
  meta-mcp serve --transport http --port 8000           # streamable HTTP at http://127.0.0.1:8000/mcp

config file (JSON or YAML), the mcpServers format of Claude Desktop / VS Code:
  {"mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time"], "env": {}},
                  "remote": {"url": "https://example.com/mcp", "headers": {}}}}
  per-server extras: "prefix" (tool-name prefix, default the server name; "" for none),
  "timeout" (seconds per call, default META_MCP_CALL_TIMEOUT or 60; progress the caller asked for extends
  it, up to META_MCP_CALL_MAX_TIMEOUT or 600 in all), "transport": "sse" for SSE URLs.

workspaces (HTTP): the X-MCP-Workspace header names a client's workspace (default "default"); each
  workspace has its own active servers; stdio serves one workspace.
secrets: catalog servers read theirs, by variable (or Docker's dotted name), from meta-mcp's environment,
  ./.env, Infisical (INFISICAL_CLIENT_ID, INFISICAL_CLIENT_SECRET, INFISICAL_PROJECT_ID, INFISICAL_ENVIRONMENT,
  INFISICAL_SECRET_PATH, INFISICAL_SITE_URL) and Docker's secret store, in META_MCP_SECRETS_ORDER. At start
  meta-mcp re-executes itself with only non-secret variables in its environment block (servers cannot
  read secrets from /proc/<pid>/environ; META_MCP_SCRUB_ENV=0 or --no-scrub-env turns that off) and makes
  itself non-dumpable; META_MCP_ISOLATE_STDIO=1 runs stdio servers under bubblewrap.

environment (also from ./.env): META_MCP_CALL_TIMEOUT, META_MCP_CALL_MAX_TIMEOUT, META_MCP_CONNECT_TIMEOUT,
  META_MCP_LOG_LEVEL,
  META_MCP_STDIO_UPSTREAM_PROTOCOL (follow | auto | handshake: the era spoken to stdio servers, by default the
  era of meta-mcp's own stdio client; an entry's "protocol" wins),
  META_MCP_WORKSPACE_HEADER, META_MCP_SANDBOX_* (run_code limits), META_MCP_AGENT_* and
  OPENAI_API_KEY / OPENAI_BASE_URL / OPENROUTER_API_KEY (agent_chat models); see README.md.

tracing (off unless set): OTEL_EXPORTER_OTLP_ENDPOINT (spans and metrics over OTLP/HTTP),
  LANGFUSE_PUBLIC_KEY / LANGFUSE_SECRET_KEY / LANGFUSE_BASE_URL (the agent's runs in Langfuse),
  META_MCP_METRICS=1 (Prometheus /metrics over HTTP), META_MCP_TRACE_CONTENT=1 (tool arguments and results
  in spans). Secrets are masked in all of them.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meta-mcp", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the MCP server (stdio by default)", epilog=SERVE_EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("--transport", choices=["stdio", "http"], help="stdio (default) or streamable HTTP")
    serve.add_argument("--host", help="HTTP bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="HTTP port (default 8000)")
    serve.add_argument("--config", type=Path, help="mcpServers file (JSON or YAML) with servers to start")
    serve.add_argument("--catalog", dest="catalogs", type=Path, action="append",
                       help="extra catalog file (Docker MCP catalog format; repeatable)")
    serve.add_argument("--state", dest="state_url", metavar="URL",
                       help="where state lives: sqlite:///path (default: ~/.local/state/meta-mcp/state.db), "
                       "redis://host:6379/0 (also REDIS_URL), memory:// (lost on exit)")
    serve.add_argument("--no-api", dest="api", action="store_false", default=None,
                       help="HTTP: do not serve the chat API (/chat, /sse/chat, /mcp/find, …) beside /mcp")
    serve.add_argument("--no-ui", dest="ui", action="store_false", default=None,
                       help="HTTP: do not serve the web console at /ui (on by default on loopback)")
    serve.add_argument("--log-level", help="DEBUG, INFO (default), WARNING or ERROR; logs go to stderr")
    serve.add_argument("--expose", choices=["all", "search", "auto"], help="tools/list: every tool, only the meta tools and pinned ones, or auto (default: all up to 40 tools)")
    serve.add_argument("--on-tool-change", dest="on_tool_change", choices=["warn", "quarantine", "accept"], help="a tool whose definition changed since first seen: warn (default), quarantine until approved, or accept")
    serve.add_argument("--no-scrub-env", dest="scrub_env", action="store_const", const=False,
                       help="keep secrets in meta-mcp's own environment block (no re-exec at start)")
    serve.add_argument("--workers", type=int, metavar="N",
                       help="HTTP: N worker processes on one port (N > 1 needs a Redis state store; handshake-era "
                       "sessions stay on the worker that opened them; see docs/state.md)")
    serve.add_argument("--gateway", metavar="URL|docker", help="use a Docker MCP Gateway: its URL (token from "
                       "MCP_GATEWAY_AUTH_TOKEN) or docker (docker mcp gateway run); see README")
    from meta_mcp.cli_catalog import add_catalog_parser
    from meta_mcp.cli_tokens import add_auth_arguments, add_tokens_parser
    from meta_mcp.cli_secrets import add_secrets_parser

    add_catalog_parser(sub)
    add_auth_arguments(serve)
    add_tokens_parser(sub)
    add_secrets_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command `argv` names (default: this process's command line); its exit code."""
    args = _parser().parse_args(argv)
    if args.command == "serve":
        from meta_mcp.cli_serve import serve

        return serve(args, real_command_line=argv is None)
    if args.command == "catalog":
        from meta_mcp.cli_catalog import run_catalog

        return run_catalog(args)
    if args.command == "token":
        from meta_mcp.cli_tokens import run_tokens

        return run_tokens(args)
    if args.command == "secrets":
        from meta_mcp.cli_secrets import run_secrets

        return run_secrets(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
