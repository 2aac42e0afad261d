"""`meta-mcp serve`: from the command line's options to a running stdio or streamable-HTTP server.

The order matters: the environment is scrubbed first (`cli_environ`), the config's stdio servers are
forked before the heavy imports (`prespawn`), and Settings, logging, redaction and Services are built
once here and passed down; nothing below reads the environment. With `--workers N` this process is the
parent of N workers (`cli_workers`) instead, each a fresh `meta-mcp serve` that comes back here.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meta_mcp.cli_environ import early_setting, env_flag, serve_settings, set_non_dumpable, startup_environ, warn

if TYPE_CHECKING:
    from meta_mcp.config import ServerSpec
    from meta_mcp.providers.process import Prespawned
    from meta_mcp.redaction import Redactor
    from meta_mcp.services import Services
    from meta_mcp.settings import Settings


def serve(args: argparse.Namespace, *, real_command_line: bool = False) -> int:
    """Run `meta-mcp serve` with `args` until the client leaves or a signal stops it; the exit code."""
    # No cyclic collection while start-up imports and builds: it allocates ~100,000 long-lived objects and
    # leaves ~900 cyclic garbage ones (<1 MB), and the collections it triggered cost ~9 % of the imports'
    # time. `surface.run` freezes what start-up made and re-enables the collector before serving.
    gc.disable()
    try:
        set_non_dumpable()
        environ = startup_environ(args, real_command_line)
        # meta-mcp runs on asyncio only. httpcore imports trio whenever it is installed (a test tool pulls it
        # in): ~0.1 s of start-up for nothing. A None entry makes `import trio` fail, which httpcore expects.
        sys.modules.setdefault("trio", None)  # type: ignore[assignment]
        if os.environ.get("META_MCP_WORKER") is None and _workers(args, environ) > 1:
            from meta_mcp.cli_workers import serve_workers

            gc.enable()
            return serve_workers(args, environ)
        prespawned = prespawn(args.config, environ)
        try:
            return _serve_with(args, prespawned, environ)
        finally:
            prespawned.kill_unclaimed()
    finally:
        gc.enable()


def prespawn(config: Path | None, environ: Mapping[str, str]) -> Prespawned:
    """Start the config's stdio servers now, before the heavy imports, so their start-up overlaps ours.

    Only reads the file and forks: validation happens later, and a process whose entry turns out to
    be invalid (or that no provider adopts) is killed. Not with META_MCP_ISOLATE_STDIO: early
    processes would run outside the sandbox.
    """
    from meta_mcp.providers.process import Prespawned

    prespawned = Prespawned(os.environ)  # stdio servers inherit the safe part of it; nothing below reads it
    if config is None or not config.is_file() or env_flag(environ, "META_MCP_ISOLATE_STDIO", False):
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


def _workers(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """--workers, else META_MCP_WORKERS (environment or ./.env), else 1; before Settings exist."""
    if args.workers is not None:
        return args.workers
    value = early_setting(environ, "META_MCP_WORKERS")
    try:
        return int(value) if value and value.strip() else 1
    except ValueError:
        return 1  # Settings reports it


def _serve_with(args: argparse.Namespace, prespawned: Prespawned, environ: Mapping[str, str]) -> int:
    """Settings, logging, the preloaded servers and Services, then serve; 2 for a bad setting or config."""
    settings = serve_settings(args, environ)
    if settings is None:
        return 2
    prespawned.settings = settings  # stdio servers started from now on are isolated when isolate_stdio is on
    redactor = _start_logging(settings)
    preload = _preload(settings, redactor)
    if preload is None:
        return 2
    from meta_mcp.services import Services

    # The one place the environment is read for secrets (the one handed over at start-up when meta-mcp
    # scrubbed its own); nothing below the CLI reads it.
    services = Services.from_settings(settings, environ, redactor=redactor)
    transport = _transport(settings)
    if transport is None:
        return 2
    return _run(transport, services, preload, prespawned)


def _start_logging(settings: Settings) -> Redactor:
    """Logging to stderr at the configured level, every line through one redaction filter (returned)."""
    logging.basicConfig(
        stream=sys.stderr, level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from meta_mcp.redaction import Redactor, install

    # Every log line passes one redaction filter: known secrets, URL credentials, api_key=… parameters,
    # bearer tokens; session ids become a hash. It learns secrets as the secrets chain hands them out.
    redactor = Redactor()
    install(redactor)
    if logging.getLogger().level > logging.DEBUG:
        # One INFO line per upstream HTTP request is noise on the hot path (and in the host's log).
        for name in ("httpx2", "httpcore2", "httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.WARNING)
    return redactor


def _preload(settings: Settings, redactor: Redactor) -> list[ServerSpec] | None:
    """The config file's servers, their secret-looking headers and variables taught to `redactor`; None, with
    the error on stderr, when the file is invalid."""
    from meta_mcp.config import ConfigError, load_config
    from meta_mcp.redaction import looks_secret

    try:
        preload = load_config(settings.config) if settings.config else []
    except ConfigError as exc:
        print(f"meta-mcp: {exc}", file=sys.stderr)
        return None
    redactor.add(*(value for spec in preload for name, value in (*spec.headers.items(), *spec.env.items())
                   if looks_secret(name)))
    return preload


def _transport(settings: Settings) -> Callable[..., Any] | None:
    """The serving coroutine for the configured transport; for HTTP with authentication and policy checked
    before anything is served (None, with the error on stderr, when they are not usable)."""
    from meta_mcp.surface.run import serve_http, serve_stdio

    if settings.transport != "http":
        return serve_stdio
    import functools

    from meta_mcp.cli_tokens import http_auth

    if (auth := http_auth(settings)) is None:
        return None
    from meta_mcp.surface.http import Worker

    return functools.partial(serve_http, auth=auth, worker=Worker.from_environ(os.environ))


def _run(transport: Callable[..., Any], services: Services, preload: list[ServerSpec], prespawned: Prespawned) -> int:
    """Run `transport` on the configured event loop until it ends; 1 when the state store cannot be used."""
    import anyio

    from meta_mcp.services.state import StateError

    settings = services.settings
    try:
        anyio.run(transport, services, preload, prespawned,
                  backend_options=_loop_options(settings.event_loop, settings.transport))
    except KeyboardInterrupt:
        pass
    except StateError as exc:  # the state store cannot be used (its message names the path or scrubbed URL)
        print(f"meta-mcp: state store: {exc}", file=sys.stderr)
        return 1
    return 0


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
            warn("event_loop=uvloop, but uvloop is not installed: using asyncio's event loop")
        return {}
    return {"use_uvloop": True}
