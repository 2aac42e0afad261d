"""Settings of the services: the run_code sandbox, agent_chat, and the state store with the chat API it serves."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr

AgentProvider = Literal["auto", "openai", "openrouter", "openai-compatible", "sampling"]


class ServiceSettings(BaseModel):
    """run_code (`sandbox_*`), agent_chat (`agent_*` and the providers' keys), state (`state_*`) and the chat API."""

    model_config = ConfigDict(defer_build=True)  # built as part of `Settings`, never on its own

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
