"""Settings of the catalog, the tool surface clients see, and how stdio servers are started (hardening)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from meta_mcp.config import Curation

Expose = Literal["all", "search", "auto"]
OnToolChange = Literal["warn", "quarantine", "accept"]


class SurfaceSettings(BaseModel):
    """The catalog and the dynamic surface: ranking, workspaces, pages, names, curation, exposure; ad-hoc servers;
    secrets hardening and the isolation of stdio servers."""

    model_config = ConfigDict(defer_build=True)  # built as part of `Settings`, never on its own

    # -- catalog and the dynamic surface --
    catalogs: list[Path] = Field(default_factory=list, description="extra catalog files (Docker MCP catalog format)")
    builtin_catalog: bool = Field(default=True, description="include the catalog shipped in catalog/")
    docker_catalog_dir: Path = Field(
        default=Path("~/.docker/mcp/catalogs").expanduser(),
        description="where Docker Desktop's MCP Toolkit writes its catalogs (loaded when present)",
    )
    catalog_ranker: Literal["lexical", "hybrid"] = Field(
        default="lexical",
        description="find_servers and find_tools ranking: lexical (BM25F + intent expansion), or hybrid (that plus a small "
        "sentence-embedding model run in numpy; needs the embeddings extra; its first search embeds the catalog, "
        "~20 s, once per machine with embedding_cache)",
    )
    embedding_cache: bool = Field(
        default=True, description="catalog_ranker=hybrid: keep the catalog's and tools' vectors in "
        "$XDG_CACHE_HOME/meta-mcp/vectors.bin (default ~/.cache), so a restart does not embed them again",
    )
    xdg_cache_home: Path | None = Field(
        default=None, validation_alias=AliasChoices("XDG_CACHE_HOME", "xdg_cache_home"),
        description="where embedding_cache's file lives (unset: ~/.cache)",
    )
    workspace_header: str = Field(default="X-MCP-Workspace", description="HTTP header naming the workspace")
    max_workspaces: int = Field(
        default=1000, ge=1, description="live workspaces at most; past it the least recently used idle one (no "
        "servers, no connected clients) is dropped, and if none is idle a new workspace is refused",
    )
    page_max_items: int = Field(default=1000, ge=1, description="*/list: entries per page (then nextCursor)")
    page_max_bytes: int = Field(
        default=512_000, ge=1_000, description="*/list: JSON bytes per page, so a page fits a client's message limit"
    )
    # -- the tool surface: names, curation, exposure, pinned definitions (see README "Names, curation and exposure") --
    name_max_length: int = Field(
        default=48, ge=24, le=128, description="longest exposed tool name; longer ones become a readable head plus "
        "a stable hash (48 leaves room for a host prefix like mcp__meta__ within the model APIs' 64)",
    )
    name_charset: Literal["llm", "mcp"] = Field(
        default="llm", description="characters of exposed tool names: llm = A-Z a-z 0-9 _ - (what OpenAI and "
        "Anthropic accept), mcp = the MCP spec's set, dots too; others become _",
    )
    curation: Curation | None = Field(
        default=None, description='workspace-wide curation (JSON), globs and keys as <server>__<tool>: '
        '{"tools": {"allow": [...], "deny": ["*__delete_*"]}, "rename": {...}, "descriptions": {...}}',
    )
    expose: Expose = Field(
        default="auto", description="tools/list: all = every tool; search = the meta tools and pinned tools only "
        "(find_tools / call_tool reach the rest); auto = all while a workspace has at most expose_auto_max tools, "
        "else search",
    )
    expose_auto_max: int = Field(default=40, ge=0, description="expose=auto: most tools listed in full")
    on_tool_change: OnToolChange = Field(
        default="warn", description="a tool whose definition differs from the first one seen: warn = log a diff "
        "and show it in list_servers; quarantine = hide it until approve_tool_change; accept = take the new one",
    )
    http_body_timeout: float = Field(default=30.0, gt=0, description="HTTP: seconds a request body may take to arrive")
    http_idle_timeout: float = Field(default=10.0, gt=0, description="HTTP: longest pause while a request body arrives (s)")
    http_max_body_bytes: int = Field(default=4_000_000, ge=10_000, description="HTTP: largest request body (bytes)")
    allow_adhoc_http: bool = Field(
        default=False, description="HTTP clients may add servers from an ad-hoc spec (a command runs as meta-mcp's "
        "user!) unless the config file's policy says otherwise for their workspace and role",
    )
    allow_adhoc_agent: bool = Field(
        default=False, description="agent_chat's inner model may add servers from an ad-hoc spec (a prompt injection "
        "in any tool output reaches that model)",
    )

    # -- hardening: secrets and stdio servers --
    scrub_env: bool = Field(
        default=True, description="at start, re-exec with a scrubbed environment block so no secret stays in "
        "/proc/<pid>/environ (secrets are kept in memory only); META_MCP_SCRUB_ENV=0 or --no-scrub-env turns it off",
    )
    isolate_stdio: bool = Field(
        default=False, description="run stdio servers under bubblewrap (bwrap): own PID namespace and /proc, the "
        "system read-only, a private /tmp, meta-mcp's .env and config file hidden; a server fails if bwrap is missing",
    )
    isolate_cwd_writable: bool = Field(default=False, description="isolation: a server's cwd is writable (else read-only)")
    isolate_writable: list[Path] = Field(
        default_factory=list, description='isolation: more paths bound read-write (JSON list, e.g. ["~/.cache/uv", '
        '"~/.npm"] so uvx/npx can cache downloads)',
    )
    isolate_hide: list[Path] = Field(
        default_factory=list, description="isolation: more paths hidden from servers (JSON list: files read as empty, "
        "directories as empty)",
    )
