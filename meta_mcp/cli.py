"""The `meta-mcp` command line."""

from __future__ import annotations

import argparse
import logging
import os
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
  "timeout" (seconds per call, default META_MCP_CALL_TIMEOUT or 60), "transport": "sse" for SSE URLs.

workspaces (HTTP): the X-MCP-Workspace header names a client's workspace (default "default"); each
  workspace has its own active servers; stdio serves one workspace.
secrets: catalog servers read theirs from meta-mcp's environment or ./.env, by variable name.

environment (also from ./.env): META_MCP_CALL_TIMEOUT, META_MCP_CONNECT_TIMEOUT, META_MCP_LOG_LEVEL,
  META_MCP_WORKSPACE_HEADER, META_MCP_SANDBOX_* (run_code limits), META_MCP_AGENT_* and
  OPENAI_API_KEY / OPENAI_BASE_URL / OPENROUTER_API_KEY (agent_chat models); see README.md.
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
    serve.add_argument("--no-api", dest="api", action="store_false", default=None,
                       help="HTTP: do not serve the chat API (/chat, /sse/chat, /mcp/find, …) beside /mcp")
    serve.add_argument("--log-level", help="DEBUG, INFO (default), WARNING or ERROR; logs go to stderr")
    from meta_mcp.cli_catalog import add_catalog_parser

    add_catalog_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "catalog":
        from meta_mcp.cli_catalog import run_catalog

        return run_catalog(args)
    return 2


def _prespawn(config: Path | None):  # noqa: ANN202 - returns Prespawned; typed lazily to stay import-light
    """Start the config's stdio servers now, before the heavy imports, so their start-up overlaps ours.

    Only reads the file and forks: validation happens later, and a process whose entry turns out to
    be invalid (or that no provider adopts) is killed.
    """
    from meta_mcp.providers.process import Prespawned

    prespawned = Prespawned(os.environ)  # stdio servers inherit the safe part of it; nothing below reads it
    if config is None or not config.is_file():
        return prespawned
    try:
        text = config.read_text(encoding="utf-8")
        if config.suffix == ".json":
            import json

            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
        entries = data.get("mcpServers", data.get("servers")) or {}
        for entry in entries.values():
            command = entry.get("command")
            if not isinstance(command, str) or entry.get("url") or entry.get("transport", "stdio") != "stdio":
                continue
            args, env, cwd = entry.get("args") or [], entry.get("env") or {}, entry.get("cwd")
            if all(isinstance(a, str) for a in args) and all(isinstance(v, str) for v in env.values()):
                prespawned.start(command, args, env, cwd)
    except Exception:  # anything odd here is reported properly by the real config loader
        pass
    return prespawned


def _serve(args: argparse.Namespace) -> int:
    prespawned = _prespawn(args.config)
    try:
        return _serve_with(args, prespawned)
    finally:
        prespawned.kill_unclaimed()


def _serve_with(args: argparse.Namespace, prespawned) -> int:  # noqa: ANN001
    import anyio
    from pydantic import ValidationError

    from meta_mcp.config import ConfigError, load_config
    from meta_mcp.settings import Settings

    overrides = {k: v for k, v in vars(args).items() if k != "command" and v is not None}
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        print(f"meta-mcp: invalid setting: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        stream=sys.stderr, level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from meta_mcp.redaction import Redactor, install, looks_secret

    # Every log line passes one redaction filter: known secrets, URL credentials, api_key=… parameters,
    # bearer tokens; session ids become a hash. It learns secrets as the secrets chain hands them out.
    redactor = Redactor()
    install(redactor)
    if logging.getLogger().level > logging.DEBUG:
        # One INFO line per upstream HTTP request is noise on the hot path (and in the host's log).
        for name in ("httpx2", "httpcore2", "httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.WARNING)
    try:
        preload = load_config(settings.config) if settings.config else []
    except ConfigError as exc:
        print(f"meta-mcp: {exc}", file=sys.stderr)
        return 2
    redactor.add(*(value for spec in preload for name, value in (*spec.headers.items(), *spec.env.items())
                   if looks_secret(name)))

    from meta_mcp.services import Services
    from meta_mcp.surface.run import serve_http, serve_stdio

    # The one place the process environment is read for secrets; nothing below the CLI reads it.
    services = Services.from_settings(settings, os.environ, redactor=redactor)
    serve = serve_http if settings.transport == "http" else serve_stdio
    try:
        anyio.run(serve, services, preload, prespawned)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
