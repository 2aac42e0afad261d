"""Settings: one pydantic-settings model, read once at start-up and passed down.

Values come from (highest first) command-line overrides, `META_MCP_*` environment variables and a
`.env` file in the working directory. Nothing deeper in the tree reads `os.environ`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from meta_mcp.config import Curation

Transport = Literal["stdio", "http"]
StdioUpstreamProtocol = Literal["auto", "handshake", "follow"]
Expose = Literal["all", "search", "auto"]
OnToolChange = Literal["warn", "quarantine", "accept"]
SECRET_SOURCES = ("environment", "dotenv", "infisical", "docker")
AgentProvider = Literal["auto", "openai", "openrouter", "openai-compatible", "sampling"]


class Settings(BaseSettings):
    """Runtime settings for one meta-mcp process.

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
        "sentence-embedding model run in numpy; needs the embeddings extra; a few seconds to embed the catalog "
        "on first use)",
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
    sandbox_max_message_bytes: int = Field(
        default=4 << 20, ge=65_536,
        description="run_code: largest message the code may send meta-mcp — one tool call with its arguments, one "
        "piece of console output, or the result (bytes of JSON)",
    )
    sandbox_max_message_values: int = Field(
        default=100_000, ge=1_000,
        description="run_code: most JSON values (objects, arrays, their elements) in one message; bounds what "
        "decoding it costs meta-mcp (up to ~25 times its size in Python objects)",
    )
    sandbox_max_received_bytes: int = Field(
        default=64 << 20, ge=1 << 20, description="run_code: most bytes meta-mcp reads from one run's process in all"
    )
    sandbox_max_calls_in_flight: int = Field(
        default=8, ge=1,
        description="run_code: tool calls of one run served at once; further calls wait (the process blocks)",
    )
    sandbox_allowed_servers: list[str] | None = Field(
        default=None,
        description='run_code: servers whose tools code may call (JSON list, e.g. ["time"]; "meta-mcp" for the '
        "read-only meta tools); unset means all",
    )
    sandbox_max_concurrent: int = Field(default=4, ge=1, description="run_code: runs at once; more wait for a slot")
    sandbox_pool_size: int = Field(
        default=2, ge=0, le=16,
        description="run_code: Deno processes kept started ahead, each used for one run and then killed (0: none; "
        "filled after the first run)",
    )
    sandbox_deno: Path | None = Field(default=None, description="run_code: Deno binary (default: the PyPI deno package's)")
    sandbox_tmpdir: Path | None = Field(
        default=None, description="run_code: where run directories go (default /dev/shm when writable, else the temp dir)"
    )

    # -- agent (agent_chat) --
    agent_provider: AgentProvider = Field(
        default="auto",
        description="agent_chat: model provider; auto = openai-compatible if agent_base_url is set, else openai if "
        "OPENAI_API_KEY, else openrouter if OPENROUTER_API_KEY, else the client's model through MCP sampling",
    )
    agent_model: str | None = Field(default=None, description="agent_chat: model (default per provider)")
    agent_base_url: str | None = Field(default=None, description="agent_chat: base URL of an OpenAI-compatible server")
    agent_api_key: SecretStr | None = Field(default=None, description="agent_chat: key for agent_base_url (or openai)")
    openai_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key"))
    openai_base_url: str | None = Field(default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "openai_base_url"))
    openrouter_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENROUTER_API_KEY", "openrouter_api_key")
    )
    openrouter_base_url: str = Field(default="https://openrouter.ai/api/v1", description="agent_chat: OpenRouter API")
    agent_max_steps: int = Field(default=10, ge=1, description="agent_chat: default model steps per call")
    agent_max_steps_limit: int = Field(default=50, ge=1, description="agent_chat: largest max_steps a call may ask")
    agent_timeout_s: float = Field(default=300.0, gt=0, description="agent_chat: wall time of one run (s)")
    agent_max_tokens: int = Field(default=200_000, ge=1, description="agent_chat: tokens (prompt + completion) per run")
    agent_max_output_tokens: int | None = Field(default=None, ge=1, description="agent_chat: max tokens per model reply")
    agent_stream: bool = Field(default=True, description="agent_chat: stream model replies (SSE)")
    agent_request_timeout_s: float = Field(default=120.0, gt=0, description="agent_chat: one model request (s)")
    agent_retries: int = Field(default=3, ge=0, description="agent_chat: retries of a model request (429, 5xx, network)")
    agent_retry_backoff_s: float = Field(default=0.5, ge=0, description="agent_chat: first retry delay (s), doubling")
    agent_history_max_messages: int = Field(default=200, ge=4, description="agent_chat: messages kept per conversation")
    agent_history_max_chars: int = Field(default=200_000, ge=1_000, description="agent_chat: characters kept per conversation")
    agent_tool_result_max_chars: int = Field(default=20_000, ge=100, description="agent_chat: tool result shown to the model")
    agent_max_conversations: int = Field(default=1000, ge=1, description="agent_chat: conversations kept per workspace")
    agent_tool_choice: str | None = Field(
        default=None, description="agent_chat: tool_choice of a run's first step: auto, required, none, or a tool's "
        "function name to force (e.g. to make a small local model call a tool)",
    )

    # -- state (servers added at run time, their config, conversations, interrupts, refcounts) --
    state_url: str | None = Field(
        default=None, description="state store: sqlite:///path, redis://…, rediss://…, unix:///path.sock or "
        "memory:// (lost on exit); unset: Redis at REDIS_URL if that is set, else SQLite at "
        "$XDG_STATE_HOME/meta-mcp/state.db",
    )
    state_prefix: str = Field(
        default="meta-mcp", min_length=1, description="state store: Redis key prefix, so one Redis serves several "
        "deployments",
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "redis_url"),
        description="the seed's REDIS_URL: the state store when state_url is unset",
    )
    state_connect_timeout_s: float = Field(
        default=30.0, ge=0, description="state store: how long to keep retrying an unreachable Redis at start (s)"
    )
    xdg_state_home: Path | None = Field(
        default=None, validation_alias=AliasChoices("XDG_STATE_HOME", "xdg_state_home"),
        description="where the default state file lives ($XDG_STATE_HOME/meta-mcp/state.db; unset: ~/.local/state)",
    )
    api: bool = Field(default=True, description="HTTP: serve the chat API (/chat, /mcp/find, …) beside /mcp; "
                      "--no-api turns it off")
    ui: bool | None = Field(default=None, description="HTTP: serve the web console at /ui (unset: on when bound to "
                            "loopback, off otherwise); --no-ui turns it off")
    chat_disconnect_grace_s: float = Field(
        default=5.0, gt=0, description="chat API: how long a streamed chat waits for its client to reconnect "
        "(Last-Event-ID) before it is cancelled",
    )
    interrupt_ttl_s: int = Field(default=3600, ge=1, description="chat API: how long an interrupt waits to be resumed (s)")

    # -- the Docker MCP Gateway as a backend (issue 10) --
    gateway: str | None = Field(
        default=None, description="a Docker MCP Gateway to use as a backend: its streamable-HTTP URL (e.g. "
        "http://127.0.0.1:8811/mcp, token from MCP_GATEWAY_AUTH_TOKEN) or `docker` to start `docker mcp gateway run` "
        "over stdio; META_MCP_GATEWAY or --gateway",
    )
    gateway_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("MCP_GATEWAY_AUTH_TOKEN", "gateway_token"),
        description="the gateway's bearer token (the gateway's own MCP_GATEWAY_AUTH_TOKEN, or the one it printed at start)",
    )
    gateway_prefix: str = Field(
        default="docker", pattern=r"^[A-Za-z0-9_.-]{0,128}$",
        description="prefix of the gateway's own tools (its enabled servers', code-mode-*, mcp-exec): docker__<tool>",
    )
    gateway_ping_interval_s: float = Field(
        default=5.0, gt=0, description="how often the gateway connection is pinged, so a gateway that went away or "
        "restarted is noticed and reconnected (s)",
    )

    # -- secrets managers (issue 14) --
    secrets_order: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["environment", "dotenv", "infisical", "docker"],
        description="where catalog secrets are looked up, first hit wins (comma-separated or a JSON list): "
        "environment, dotenv (./.env), infisical (when INFISICAL_CLIENT_ID is set), docker (Docker MCP secrets)",
    )
    infisical_client_id: str | None = Field(
        default=None, validation_alias=AliasChoices("INFISICAL_CLIENT_ID", "infisical_client_id"),
        description="Infisical: the machine identity's universal-auth client id (Infisical is used when this is set)",
    )
    infisical_client_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("INFISICAL_CLIENT_SECRET", "infisical_client_secret"),
        description="Infisical: the machine identity's universal-auth client secret",
    )
    infisical_project_id: str | None = Field(
        default=None, validation_alias=AliasChoices("INFISICAL_PROJECT_ID", "infisical_project_id"),
        description="Infisical: the project whose secrets are read",
    )
    infisical_environment: str = Field(
        default="dev", validation_alias=AliasChoices("INFISICAL_ENVIRONMENT", "infisical_environment"),
        description="Infisical: the environment slug (dev, staging, prod, …)",
    )
    infisical_secret_path: str = Field(
        default="/", validation_alias=AliasChoices("INFISICAL_SECRET_PATH", "infisical_secret_path"),
        description="Infisical: the folder of the secrets",
    )
    infisical_site_url: str = Field(
        default="https://app.infisical.com", validation_alias=AliasChoices("INFISICAL_SITE_URL", "infisical_site_url"),
        description="Infisical: the instance's URL",
    )
    infisical_timeout_s: float = Field(
        default=5.0, gt=0, description="Infisical: longest wait for one refresh (login + list); an unreachable "
        "Infisical costs at most this, then the next source is asked",
    )
    infisical_cache_ttl_s: float = Field(
        default=300.0, ge=0, description="Infisical: how long fetched secrets (or a failure) are kept before "
        "Infisical is asked again (s)",
    )

    # -- tracing and metrics (issue 14): off unless configured --
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT", "otel_exporter_otlp_endpoint"),
        description="OpenTelemetry: OTLP/HTTP collector base URL (spans to …/v1/traces, metrics to …/v1/metrics)",
    )
    otel_exporter_otlp_headers: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_HEADERS", "otel_exporter_otlp_headers"),
        description="OpenTelemetry: headers for the collector, key=value pairs separated by commas",
    )
    otel_service_name: str = Field(
        default="meta-mcp", validation_alias=AliasChoices("OTEL_SERVICE_NAME", "otel_service_name"),
        description="OpenTelemetry: service.name of meta-mcp's spans and metrics",
    )
    otel_bsp_schedule_delay_ms: int = Field(
        default=5000, ge=1, validation_alias=AliasChoices("OTEL_BSP_SCHEDULE_DELAY", "otel_bsp_schedule_delay_ms"),
        description="tracing: longest delay before finished spans are exported (ms)",
    )
    otel_metric_export_interval_ms: int = Field(
        default=60000, ge=100,
        validation_alias=AliasChoices("OTEL_METRIC_EXPORT_INTERVAL", "otel_metric_export_interval_ms"),
        description="OpenTelemetry: how often metrics are pushed to the collector (ms)",
    )
    langfuse_public_key: str | None = Field(
        default=None, validation_alias=AliasChoices("LANGFUSE_PUBLIC_KEY", "langfuse_public_key"),
        description="Langfuse: project public key (Langfuse tracing is on when both keys are set)",
    )
    langfuse_secret_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("LANGFUSE_SECRET_KEY", "langfuse_secret_key"),
        description="Langfuse: project secret key",
    )
    langfuse_base_url: str = Field(
        default="https://cloud.langfuse.com",
        validation_alias=AliasChoices("LANGFUSE_BASE_URL", "LANGFUSE_HOST", "langfuse_base_url"),
        description="Langfuse: the instance's URL (traces go to …/api/public/otel/v1/traces)",
    )
    metrics: bool = Field(
        default=False, description="HTTP: serve Prometheus metrics (calls, errors, latency per server and tool) at "
        "/metrics",
    )
    trace_content: bool = Field(
        default=False, description="tracing: record tool arguments and results and model messages in spans "
        "(redacted of known secrets); off by default",
    )

    # -- serving a team over HTTP (issue 13): authentication, policy, audit, transport limits --
    auth_tokens_file: Path | None = Field(
        default=None, description="HTTP: API tokens file (YAML: each token's SHA-256 → subject, workspaces, role), "
        "written by `meta-mcp token create|revoke`; re-read when it changes, so a revocation needs no restart",
    )
    oauth_issuer: str | None = Field(
        default=None, description="HTTP: accept JWT access tokens of this OAuth 2.1 authorization server (its issuer "
        "URL); keys come from its JWKS",
    )
    oauth_audience: str | None = Field(
        default=None, description="HTTP: the `aud` an access token must name (default: public_url, the server's own URL)"
    )
    oauth_jwks_url: str | None = Field(
        default=None, description="HTTP: the issuer's JWKS (default: jwks_uri from its RFC 8414 / OpenID metadata)"
    )
    oauth_scopes: list[str] = Field(
        default_factory=list, description='HTTP: scopes every access token must carry (JSON list, e.g. ["mcp"]); a '
        "token without one is answered 403 insufficient_scope",
    )
    oauth_workspaces_claim: str = Field(
        default="workspaces", description="HTTP: the claim listing a token's workspaces (a string or a list; dots reach "
        'into objects; "*" means all); without it the subject gets a workspace of its own',
    )
    oauth_role_claim: str = Field(
        default="roles", description="HTTP: the claim holding a token's role (a string, or a list whose first entry counts)"
    )
    oauth_default_role: str = Field(default="member", description="HTTP: the role of a token without the role claim")
    oauth_leeway_s: float = Field(default=30.0, ge=0, description="HTTP: clock skew allowed on exp and nbf (s)")
    oauth_jwks_ttl_s: float = Field(default=3600.0, gt=0, description="HTTP: how long fetched JWKS keys are kept (s)")
    oauth_jwks_refresh_min_s: float = Field(
        default=10.0, ge=0, description="HTTP: a token with an unknown key id refetches the JWKS at most this often (s)"
    )
    public_url: str | None = Field(
        default=None, description="HTTP: the URL clients reach /mcp at (behind a proxy: the public one); default "
        "http://HOST:PORT/mcp; the OAuth audience and resource metadata use it",
    )
    insecure_no_auth: bool = Field(
        default=False, description="HTTP: serve off loopback without authentication (only behind a proxy that "
        "authenticates); without it meta-mcp refuses to start that way",
    )
    policy_reload_s: float = Field(
        default=2.0, gt=0, description="HTTP: how often the config file's policy section is checked for changes (s); "
        "a change applies to live sessions (list_changed)",
    )
    audit_log: Path | None = Field(
        default=None, description="audit lines (JSON, one per state change and per denied request) go to this file "
        "too; they always go to the meta_mcp.audit logger",
    )
    http_header_timeout: float = Field(
        default=10.0, gt=0, description="HTTP: seconds a request's headers may take to arrive (a client that trickles "
        "them is disconnected)",
    )
    http_max_header_bytes: int = Field(default=16_384, ge=1_024, description="HTTP: largest request head (bytes)")
    http_keep_alive_s: int = Field(default=5, ge=1, description="HTTP: idle keep-alive connections are closed after (s)")
    http_max_connections: int | None = Field(
        default=None, ge=1, description="HTTP: connections and requests in progress at most (503 beyond); unset: no limit"
    )
    http_max_sessions: int | None = Field(
        default=10_000, ge=1, description="HTTP: handshake-era MCP sessions open at most (all identities)"
    )
    http_session_idle_timeout: float = Field(
        default=1800.0, gt=0, description="HTTP: an MCP session with no request for this long is closed (s)"
    )
    http_max_sessions_per_identity: int = Field(
        default=100, ge=1, description="HTTP: MCP sessions one authenticated identity may hold open (429 beyond)"
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

    @field_validator("secrets_order", mode="before")
    @classmethod
    def _split_order(cls, value: Any) -> Any:
        """`environment,dotenv` or a JSON list."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                value = json.loads(text)
            else:
                value = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [name for name in value if name not in SECRET_SOURCES] if isinstance(value, list) else []
        if unknown:
            raise ValueError(f"unknown secrets source(s) {', '.join(map(str, unknown))}: use {', '.join(SECRET_SOURCES)}")
        return value
