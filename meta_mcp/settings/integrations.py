"""Settings of what meta-mcp talks to besides MCP servers: the Docker MCP Gateway, secrets managers, tracing."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

SECRET_SOURCES = ("environment", "dotenv", "infisical", "docker")


class IntegrationSettings(BaseModel):
    """The gateway backend (`gateway_*`), secrets sources (`secrets_order`, `infisical_*`), OpenTelemetry,
    Langfuse and Prometheus metrics. Third-party variables keep their own names (`OTEL_*`, `INFISICAL_*`, …)."""

    model_config = ConfigDict(defer_build=True)  # built as part of `Settings`, never on its own

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
