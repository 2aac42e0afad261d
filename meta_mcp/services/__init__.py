"""Services the operations use beyond the registry: catalog, secrets, state, sandbox, search.

`Services` is built once by the command line (`Services.from_settings(settings, environ)`, the one
place the process environment is read for secrets) and passed down; nothing below it reads
`os.environ` or keeps module globals. Expensive parts start on first use, off the start-up path:
the catalog is loaded, and the sandbox (one per process, so one concurrency limit) is created, the
first time an operation asks for them.

Example:
    services = Services.from_settings(Settings(), os.environ)
    services.catalog.search("time in Tokyo", limit=3)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from meta_mcp.redaction import Redactor
from meta_mcp.services.bm25 import IndexCache
from meta_mcp.services.secrets import ChainSecrets, sources_from_settings
from meta_mcp.services.state import MemoryStore, StateStore
from meta_mcp.services.telemetry import Telemetry
from meta_mcp.settings import Settings

if TYPE_CHECKING:
    from meta_mcp.services.catalog import Catalog
    from meta_mcp.services.catalog.vector_file import VectorFile
    from meta_mcp.services.sandbox import Sandbox


@dataclass
class Services:
    """What operations use beyond the registry (see the module docstring)."""

    settings: Settings
    secrets: ChainSecrets
    state: StateStore
    tool_index: IndexCache = field(default_factory=IndexCache)
    """find_tools' search index of each workspace's current snapshot."""
    redactor: Redactor = field(default_factory=Redactor)
    """Scrubs the secret values handed out (and the model keys) from logs and anything else that redacts."""
    telemetry: Telemetry = field(default_factory=Telemetry)
    """Tracing (OpenTelemetry, Langfuse) and metrics: off unless configured."""
    _catalog: Catalog | None = field(default=None, repr=False)
    _vectors: VectorFile | None = field(default=None, repr=False)
    _sandbox: Sandbox | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, environ: Mapping[str, str], dotenv: Path | None = Path(".env"),
                      redactor: Redactor | None = None) -> Services:
        """`redactor` (the CLI's, already on the log handlers) learns the model keys, the gateway token and the
        credentials of the secrets manager and the tracing backends now, and every secret the chain hands out
        later. The chain's sources follow `settings.secrets_order`."""
        redactor = redactor if redactor is not None else Redactor()
        redactor.add(*(key.get_secret_value() for key in (
            settings.openai_api_key, settings.openrouter_api_key, settings.agent_api_key, settings.gateway_token,
            settings.infisical_client_secret, settings.langfuse_secret_key, settings.otel_exporter_otlp_headers,
        ) if key is not None))
        secrets = ChainSecrets(sources_from_settings(settings, environ, dotenv), redactor)
        return cls(settings=settings, secrets=secrets, state=MemoryStore(settings.agent_max_conversations),
                   redactor=redactor, telemetry=Telemetry.from_settings(settings, redactor))

    @property
    def catalog(self) -> Catalog:
        """The merged catalog (built-in, `--catalog` files, Docker's own); raises `CatalogError` for a
        broken file."""
        if self._catalog is None:
            from meta_mcp.services.catalog import load_catalog

            docker_dir = self.settings.docker_catalog_dir
            self._catalog = load_catalog(
                self.settings.catalogs, builtin=self.settings.builtin_catalog,
                docker_dir=docker_dir if docker_dir.is_dir() else None, ranker=self.settings.catalog_ranker,
                vectors=self.vectors,
            )
        return self._catalog

    @property
    def vectors(self) -> VectorFile | None:
        """Where the hybrid ranker keeps document vectors across runs (`vector_file_for`)."""
        if self._vectors is None:
            self._vectors = vector_file_for(self.settings)
        return self._vectors

    def close(self) -> None:
        """Release what the services started: the sandbox's pre-started processes."""
        if self._sandbox is not None:
            self._sandbox.close()

    @property
    def sandbox(self) -> Sandbox:
        """The process's one `Sandbox` for run_code."""
        if self._sandbox is None:
            from meta_mcp.services.sandbox import Sandbox

            s = self.settings
            self._sandbox = Sandbox(str(s.sandbox_deno) if s.sandbox_deno else None, s.sandbox_max_concurrent,
                                    s.sandbox_tmpdir, pool_size=s.sandbox_pool_size)
        return self._sandbox


def vector_file_for(settings: Settings) -> VectorFile | None:
    """The hybrid ranker's vectors across runs: $XDG_CACHE_HOME/meta-mcp/vectors.bin (default ~/.cache);
    None with the lexical ranker or `embedding_cache` off."""
    if settings.catalog_ranker != "hybrid" or not settings.embedding_cache:
        return None
    from meta_mcp.services.catalog.vector_file import VectorFile

    return VectorFile((settings.xdg_cache_home or Path("~/.cache").expanduser()) / "meta-mcp" / "vectors.bin")
