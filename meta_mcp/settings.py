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
