"""The `meta-mcp` command line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping
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
secrets: catalog servers read theirs, by variable (or Docker's dotted name), from meta-mcp's environment,
  ./.env, Infisical (INFISICAL_CLIENT_ID, INFISICAL_CLIENT_SECRET, INFISICAL_PROJECT_ID, INFISICAL_ENVIRONMENT,
  INFISICAL_SECRET_PATH, INFISICAL_SITE_URL) and Docker's secret store, in META_MCP_SECRETS_ORDER. At start
  meta-mcp re-executes itself with only non-secret variables in its environment block (servers cannot
  read secrets from /proc/<pid>/environ; META_MCP_SCRUB_ENV=0 or --no-scrub-env turns that off) and makes
  itself non-dumpable; META_MCP_ISOLATE_STDIO=1 runs stdio servers under bubblewrap.

environment (also from ./.env): META_MCP_CALL_TIMEOUT, META_MCP_CONNECT_TIMEOUT, META_MCP_LOG_LEVEL,
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
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args, real_command_line=argv is None)
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


def _prespawn(config: Path | None, environ: Mapping[str, str]):  # noqa: ANN202 - returns Prespawned; typed lazily
    """Start the config's stdio servers now, before the heavy imports, so their start-up overlaps ours.

    Only reads the file and forks: validation happens later, and a process whose entry turns out to
    be invalid (or that no provider adopts) is killed. Not with META_MCP_ISOLATE_STDIO: early
    processes would run outside the sandbox.
    """
    from meta_mcp.providers.process import Prespawned

    prespawned = Prespawned(os.environ)  # stdio servers inherit the safe part of it; nothing below reads it
    if config is None or not config.is_file() or _env_flag(environ, "META_MCP_ISOLATE_STDIO", False):
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


def _serve(args: argparse.Namespace, *, real_command_line: bool = False) -> int:
    _set_non_dumpable()
    environ = _startup_environ(args, real_command_line)
    if os.environ.get("META_MCP_WORKER") is None and _workers(args, environ) > 1:
        return _serve_workers(args, environ)
    prespawned = _prespawn(args.config, environ)
    try:
        return _serve_with(args, prespawned, environ)
    finally:
        prespawned.kill_unclaimed()


# -- start-up: keep no secret in our own environment block, and nobody else reads our memory ----------------
#
# /proc/<pid>/environ shows the environment a process was *started* with (the original memory block):
# unsetting variables later does not erase it, and any process of the same user — every stdio server
# meta-mcp starts — can read it. So `serve` re-executes itself at once with only non-secret variables
# (`_kept`) in its environment, handing the full environment over in an anonymous in-memory file
# whose descriptor is named by ENV_FD_VAR; the new process reads and closes it, and builds Settings
# and Services from that mapping. The same PID, stdin, stdout and stderr carry on, so a host sees one
# process and its exit code. If the re-exec cannot happen, meta-mcp warns and runs as it is.

ENV_FD_VAR = "META_MCP_ENV_FD"
_ENV_MAGIC = b"meta-mcp-environ-1\0"
_PR_SET_DUMPABLE = 4
_RUNTIME_ENV = ("VIRTUAL_ENV", "LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "TZ")
"""Besides what stdio servers inherit: what the interpreter itself needs to start the same way again
(plus every PYTHON* variable)."""


def _warn(message: str) -> None:
    print(f"meta-mcp: warning: {message}", file=sys.stderr, flush=True)


def _set_non_dumpable() -> None:
    """PR_SET_DUMPABLE 0: processes of the same user (our stdio servers) can no longer read our
    /proc/<pid>/environ, mem, maps or fds, nor ptrace us. Linux only; root is not stopped by it."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            _warn(f"prctl(PR_SET_DUMPABLE, 0) failed: {os.strerror(ctypes.get_errno())}")
    except (OSError, AttributeError) as exc:
        _warn(f"cannot make the process non-dumpable: {exc}")


def _env_flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    """A boolean setting before Settings exist: the environment, then ./.env, then `default`."""
    value = environ.get(name)
    if value is None and Path(".env").is_file():
        from dotenv import dotenv_values

        value = dotenv_values(".env").get(name)
    if value is None or not value.strip():
        return default
    return value.strip().lower() not in ("0", "false", "no", "off", "f", "n")


def _kept(name: str, value: str) -> bool:
    """Whether a variable may stay in our environment block: what stdio servers inherit, what the
    interpreter needs, and META_MCP_* settings that are not secrets."""
    from meta_mcp.providers.process import INHERITED_ENV, INHERITED_PREFIXES
    from meta_mcp.redaction import looks_secret

    if value.startswith("()"):
        return False  # a shell function
    if name in INHERITED_ENV or name.startswith(INHERITED_PREFIXES) or name in _RUNTIME_ENV:
        return True
    if name.startswith("PYTHON"):
        return True
    return name.startswith("META_MCP_") and not looks_secret(name) and "@" not in value


def _startup_environ(args: argparse.Namespace, real_command_line: bool) -> Mapping[str, str]:
    """The environment meta-mcp was started with. On first start (a real command line, scrubbing on,
    something to scrub) this re-executes the process and does not return; in the re-executed process
    it returns the environment handed over."""
    marker = os.environ.pop(ENV_FD_VAR, None)
    if marker is not None:
        handed = _read_handed_over(marker)
        if handed is not None:
            return handed
        _warn(f"{ENV_FD_VAR} does not name meta-mcp's environment hand-over; using the process environment")
        return os.environ
    if os.name != "posix" or not real_command_line or args.scrub_env is False or not _env_flag(
            os.environ, "META_MCP_SCRUB_ENV", True):
        return os.environ
    if all(_kept(k, v) for k, v in os.environ.items()):
        return os.environ
    _reexec_scrubbed()  # returns only when the re-exec failed
    return os.environ


def _reexec_scrubbed() -> None:
    fd = -1
    try:
        if not sys.executable or not hasattr(os, "execve"):
            raise OSError("no interpreter path to re-execute")
        fd = _anonymous_file(_ENV_MAGIC + b"".join(k + b"=" + v + b"\0" for k, v in os.environb.items()))
        os.set_inheritable(fd, True)
        kept = {k: v for k, v in os.environb.items() if _kept(os.fsdecode(k), os.fsdecode(v))}
        kept[ENV_FD_VAR.encode()] = str(fd).encode()
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, sys.orig_argv, kept)
    except (OSError, ValueError) as exc:
        if fd >= 0:
            os.close(fd)
        _warn(f"could not re-execute with a scrubbed environment ({exc}); secrets in meta-mcp's environment "
              "stay readable in /proc/<pid>/environ by processes allowed to read it")


def _anonymous_file(data: bytes) -> int:
    """A descriptor of a file with `data`, positioned at 0, with no name anywhere (memfd, else an
    unlinked temporary file)."""
    try:
        fd = os.memfd_create("meta-mcp-environ", 0)
    except (AttributeError, OSError):
        import tempfile

        with tempfile.TemporaryFile() as tmp:  # unlinked at creation; the dup outlives the with
            fd = os.dup(tmp.fileno())
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        os.close(fd)
        raise
    return fd


def _read_handed_over(marker: str) -> dict[str, str] | None:
    """The environment our previous image wrote to descriptor `marker`, which is then closed; None if
    the descriptor is not such a hand-over (it is then left alone)."""
    import stat

    try:
        fd = int(marker)
        if fd <= 2 or not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        os.lseek(fd, 0, os.SEEK_SET)
        if os.read(fd, len(_ENV_MAGIC)) != _ENV_MAGIC:
            return None
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        os.close(fd)
    except (ValueError, OSError):
        return None
    environ = {}
    for item in b"".join(chunks).split(b"\0"):
        name, sep, value = item.partition(b"=")
        if sep and name:
            environ[os.fsdecode(name)] = os.fsdecode(value)
    return environ


def _settings(environ: Mapping[str, str], overrides: dict):  # noqa: ANN202 - returns Settings; imported lazily
    """Settings read from `environ` (the environment handed over) instead of the process environment,
    then `.env` and `overrides`, with the precedence Settings documents."""
    from pydantic_settings import EnvSettingsSource
    from pydantic_settings.sources.utils import parse_env_vars

    from meta_mcp.settings import Settings

    class FromMapping(EnvSettingsSource):
        def _load_env_vars(self):  # pydantic-settings' hook for where variables come from
            return parse_env_vars(environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)

    class HandedOver(Settings, title="Settings"):  # the title names it in validation errors
        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                       file_secret_settings):
            return init_settings, FromMapping(settings_cls), dotenv_settings, file_secret_settings

    built = HandedOver(**overrides)
    return Settings.model_construct(_fields_set=built.model_fields_set, **dict(built))


def _serve_with(args: argparse.Namespace, prespawned, environ: Mapping[str, str]) -> int:  # noqa: ANN001
    import anyio
    from pydantic import ValidationError

    from meta_mcp.config import ConfigError, load_config

    overrides = {k: v for k, v in vars(args).items() if k != "command" and v is not None}
    try:
        settings = _settings(environ, overrides)
    except ValidationError as exc:
        print(f"meta-mcp: invalid setting: {exc}", file=sys.stderr)
        return 2
    prespawned.settings = settings  # stdio servers started from now on are isolated when isolate_stdio is on
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

    # The one place the environment is read for secrets (the one handed over at start-up when meta-mcp
    # scrubbed its own); nothing below the CLI reads it.
    services = Services.from_settings(settings, environ, redactor=redactor)
    serve = serve_stdio
    if settings.transport == "http":  # authentication and policy checked before anything is served
        import functools

        from meta_mcp.cli_tokens import http_auth

        if (auth := http_auth(settings)) is None:
            return 2
        from meta_mcp.surface.http import Worker

        serve = functools.partial(serve_http, auth=auth, worker=Worker.from_environ(os.environ))
    from meta_mcp.services.state import StateError

    try:
        anyio.run(serve, services, preload, prespawned,
                  backend_options=_loop_options(settings.event_loop, settings.transport))
    except KeyboardInterrupt:
        pass
    except StateError as exc:  # the state store cannot be used (its message names the path or scrubbed URL)
        print(f"meta-mcp: state store: {exc}", file=sys.stderr)
        return 1
    return 0


def _workers(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """--workers, else META_MCP_WORKERS (environment or ./.env), else 1; before Settings exist."""
    if args.workers is not None:
        return args.workers
    value = environ.get("META_MCP_WORKERS")
    if value is None and Path(".env").is_file():
        from dotenv import dotenv_values

        value = dotenv_values(".env").get("META_MCP_WORKERS")
    try:
        return int(value) if value and value.strip() else 1
    except ValueError:
        return 1  # Settings reports it


def _serve_workers(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """The parent of `--workers N`: binds the port once, starts N workers (each `meta-mcp serve` as given,
    with the listening socket, the full environment handed over as at start-up, and `META_MCP_WORKER`),
    restarts one that dies, and stops them all on SIGTERM/SIGINT. It serves nothing itself."""
    import signal
    import socket
    import subprocess
    import tempfile
    import time

    from pydantic import ValidationError

    overrides = {k: v for k, v in vars(args).items() if k != "command" and v is not None}
    try:
        settings = _settings(environ, overrides)
    except ValidationError as exc:
        print(f"meta-mcp: invalid setting: {exc}", file=sys.stderr)
        return 2
    if settings.transport != "http":
        print("meta-mcp: --workers is for --transport http (a stdio server has one client)", file=sys.stderr)
        return 2
    store = settings.state_url or settings.redis_url or "sqlite://"
    if store.split(":", 1)[0] not in ("redis", "rediss", "unix"):
        print(f"meta-mcp: --workers {settings.workers} needs a state store the workers share, with its change feed: "
              f"Redis (--state redis://host:6379/0 or REDIS_URL), not {store.split(':', 1)[0]}://", file=sys.stderr)
        return 2
    count = settings.workers
    try:
        listener = socket.create_server((settings.host, settings.port), backlog=2048, reuse_port=False)
    except OSError as exc:
        print(f"meta-mcp: cannot listen on {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        return 1
    listener.set_inheritable(True)
    sockets = tempfile.mkdtemp(prefix="meta-mcp-workers-")
    handover = _ENV_MAGIC + b"".join(os.fsencode(k) + b"=" + os.fsencode(v) + b"\0" for k, v in environ.items())
    kept = {k: v for k, v in os.environ.items() if _kept(k, v) and k != ENV_FD_VAR}
    stopping = False
    children: dict[int, subprocess.Popen] = {}

    def start(index: int) -> None:
        fd = _anonymous_file(handover)
        os.set_inheritable(fd, True)
        worker = f"{index}/{count}/{listener.fileno()}/{sockets}"
        env = {**kept, ENV_FD_VAR: str(fd), "META_MCP_WORKER": worker}
        try:
            children[index] = subprocess.Popen(sys.orig_argv, env=env, pass_fds=(fd, listener.fileno()),
                                               preexec_fn=_die_with_parent)
        finally:
            os.close(fd)

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"meta-mcp: {count} workers on http://{settings.host}:{listener.getsockname()[1]}/mcp", file=sys.stderr,
          flush=True)
    for index in range(count):
        start(index)
    restarts: dict[int, float] = {}
    try:
        while not stopping:
            time.sleep(0.2)
            for index, child in list(children.items()):
                if child.poll() is not None and not stopping:
                    wait = 1.0 if time.monotonic() - restarts.get(index, 0.0) > 10 else 5.0
                    print(f"meta-mcp: worker {index} exited with code {child.returncode}; restarting it in "
                          f"{wait:g} s", file=sys.stderr, flush=True)
                    time.sleep(wait)
                    restarts[index] = time.monotonic()
                    if not stopping:
                        start(index)
    finally:
        deadline = time.monotonic() + 15
        for child in children.values():
            try:
                child.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        listener.close()
        import shutil

        shutil.rmtree(sockets, ignore_errors=True)
    return 0


def _die_with_parent() -> None:
    """In a worker, before exec: SIGTERM when the parent dies (Linux), so no worker outlives it."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _loop_options(event_loop: str, transport: str) -> dict:
    """anyio's asyncio backend options for the `event_loop` setting: uvloop when asked, or (auto) for HTTP when
    installed. Not for stdio by default: under 50 concurrent calls a stdio meta-mcp on uvloop served 346 calls/s
    against 913 on asyncio's loop, p99 1.4 s (bench/proxy.py, same run); over HTTP uvloop served more."""
    if event_loop == "asyncio" or (event_loop == "auto" and transport != "http"):
        return {}
    try:
        import uvloop  # noqa: F401
    except ImportError:
        if event_loop == "uvloop":
            _warn("event_loop=uvloop, but uvloop is not installed: using asyncio's event loop")
        return {}
    return {"use_uvloop": True}


if __name__ == "__main__":
    sys.exit(main())
