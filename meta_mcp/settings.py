"""Settings: one pydantic-settings model, read once at start-up and passed down.

Values come from (highest first) command-line overrides, `META_MCP_*` environment variables and a
`.env` file in the working directory. Nothing deeper in the tree reads `os.environ`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Transport = Literal["stdio", "http"]


class Settings(BaseSettings):
    """Runtime settings for one meta-mcp process.

    Example:
        `META_MCP_CALL_TIMEOUT=30 meta-mcp serve` gives every upstream call 30 s unless the server's
        own config entry sets `"timeout"`.
    """

    model_config = SettingsConfigDict(env_prefix="META_MCP_", env_file=".env", extra="ignore")

    transport: Transport = "stdio"
    host: str = "127.0.0.1"
    port: int = 8000
    config: Path | None = Field(default=None, description="mcpServers file (JSON or YAML) to preload")
    log_level: str = "INFO"
    call_timeout: float = Field(default=60.0, gt=0, description="default per-call timeout (s) for upstream calls")
    connect_timeout: float = Field(default=30.0, gt=0, description="time allowed for an upstream to start")
    restart_backoff_initial: float = Field(default=0.25, gt=0, description="first restart delay (s)")
    restart_backoff_max: float = Field(default=30.0, gt=0, description="longest restart delay (s)")
    max_restarts: int = Field(default=10, ge=0, description="restarts in a row before a server stays failed")

    # -- catalog and the dynamic surface --
    catalogs: list[Path] = Field(default_factory=list, description="extra catalog files (Docker MCP catalog format)")
    builtin_catalog: bool = Field(default=True, description="include the catalog shipped in catalog/")
    docker_catalog_dir: Path = Field(
        default=Path("~/.docker/mcp/catalogs").expanduser(),
        description="where Docker Desktop's MCP Toolkit writes its catalogs (loaded when present)",
    )
    workspace_header: str = Field(default="X-MCP-Workspace", description="HTTP header naming the workspace")

    # -- sandbox (run_code) --
    sandbox_timeout_s: float = Field(default=30.0, gt=0, description="run_code: default wall time of one run (s)")
    sandbox_max_timeout_s: float = Field(default=300.0, gt=0, description="run_code: largest timeout_s a call may ask")
    sandbox_heap_mb: int = Field(default=128, ge=16, description="run_code: V8 heap limit (--max-old-space-size, MB)")
    sandbox_data_mb: int = Field(
        default=1024, ge=700, description="run_code: OS data limit of the Deno process (RLIMIT_DATA, MB; Deno needs ≥ 700)"
    )
    sandbox_max_output_bytes: int = Field(
        default=100_000, ge=1_000, description="run_code: cap on console output, and on the result, of one run (bytes)"
    )
    sandbox_max_tool_calls: int = Field(default=100, ge=0, description="run_code: tool calls one run may make")
    sandbox_allowed_servers: list[str] | None = Field(
        default=None,
        description='run_code: servers whose tools code may call (JSON list, e.g. ["time"]; "meta-mcp" for the '
        "read-only meta tools); unset means all",
    )
    sandbox_max_concurrent: int = Field(default=4, ge=1, description="run_code: runs at once; more wait for a slot")
    sandbox_deno: Path | None = Field(default=None, description="run_code: Deno binary (default: the PyPI deno package's)")
    sandbox_tmpdir: Path | None = Field(
        default=None, description="run_code: where run directories go (default /dev/shm when writable, else the temp dir)"
    )
