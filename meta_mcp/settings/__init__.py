"""Settings: one pydantic-settings model, read once at start-up and passed down.

Values come from (highest first) command-line overrides, `META_MCP_*` environment variables and a
`.env` file in the working directory. Nothing deeper in the tree reads `os.environ`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from meta_mcp.settings.integrations import IntegrationSettings
from meta_mcp.settings.services import ServiceSettings
from meta_mcp.settings.surface import SurfaceSettings
from meta_mcp.settings.team import TeamSettings

Transport = Literal["stdio", "http"]
StdioUpstreamProtocol = Literal["auto", "handshake", "follow"]


class Settings(SurfaceSettings, ServiceSettings, IntegrationSettings, TeamSettings, BaseSettings):
    """Runtime settings for one meta-mcp process: the fields here (transport, upstream timeouts and restarts,
    message limits, the call path) and those of each area's model, one module per area.

    Example:
        `META_MCP_CALL_TIMEOUT=30 meta-mcp serve` gives every upstream call 30 s unless the server's
        own config entry sets `"timeout"`.
    """

    # defer_build: the validator is built when first needed; `serve` validates through a subclass
    # (`cli_environ.settings_from`), so building this class's own at import cost ~12 ms of start-up for nothing.
    model_config = SettingsConfigDict(env_prefix="META_MCP_", env_file=".env", extra="ignore", defer_build=True)

    transport: Transport = "stdio"
    host: str = "127.0.0.1"
    port: int = 8000
    config: Path | None = Field(default=None, description="mcpServers file (JSON or YAML) to preload")
    log_level: str = "INFO"
    call_timeout: float = Field(default=60.0, gt=0, description="default per-call timeout (s) for upstream calls")
    call_max_timeout: float = Field(
        default=600.0, gt=0, description="while a caller receives progress, each progress report of the server "
        "allows the call timeout again, up to this many seconds in all",
    )
    connect_timeout: float = Field(default=30.0, gt=0, description="time allowed for an upstream to start")
    restart_backoff_initial: float = Field(default=0.25, gt=0, description="first restart delay (s)")
    restart_backoff_max: float = Field(default=30.0, gt=0, description="longest restart delay (s)")
    max_restarts: int = Field(default=10, ge=0, description="restarts in a row before a server stays failed")
    stdio_upstream_protocol: StdioUpstreamProtocol = Field(
        default="follow", description="the era spoken to stdio servers whose entry has no `protocol`: follow = "
        "that of meta-mcp's own stdio client (see providers/era.py), auto = the newest both support, handshake = "
        "2025-11-25 (README, Config); HTTP servers get auto unless their entry says")


    # -- limits: what one inbound JSON-RPC message may cost meta-mcp --
    max_message_bytes: int = Field(
        default=16 << 20, ge=65_536,
        description="largest JSON-RPC message a client may send over stdio (bytes); a message may also hold at most "
        "one JSON container or element ({, [, ',' or ':' outside strings) per 64 bytes of this, so decoding any "
        "message stays within ~15 times this in memory; others are answered with a Parse error naming this limit",
    )
    max_upstream_message_bytes: int = Field(
        default=16 << 20, ge=65_536,
        description="largest JSON-RPC message meta-mcp accepts from an upstream server (bytes; stdio lines and "
        "HTTP/SSE responses), with the same one-element-per-64-bytes bound; a larger one fails the call with a "
        "tool error naming the server, and a stdio server's connection is restarted",
    )

    # -- the call path's speed (issue 16) --
    workers: int = Field(
        default=1, ge=1, le=256, description="HTTP: worker processes serving one port (more than 1 needs a Redis "
        "state store; handshake-era sessions are served by the worker that opened them, see docs/state.md)",
    )
    event_loop: Literal["auto", "asyncio", "uvloop"] = Field(
        default="auto", description="the event loop: auto = uvloop for HTTP when installed, asyncio's own for stdio; "
        "asyncio; or uvloop (asyncio's, with a warning, when uvloop is not installed)",
    )
    http_json_responses: bool = Field(
        default=True, description="HTTP: answer a request with one application/json body when nothing streams "
        "before its response (progress, logs, requests to the client still get an SSE stream)",
    )
    lean_calls: bool = Field(
        default=True, description="forward tools/call on the lean path (JSON-RPC read once, no second SDK "
        "pipeline) where it applies; off: every call through the SDK on both hops",
    )
