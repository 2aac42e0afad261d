"""Services used by the meta tools: catalog, search, secrets, state (later sandbox, agent, telemetry).

`Services` bundles the ones a workspace's meta tools reach through `registry.services`. It is built
once at start-up from the settings; the catalog is loaded on first use, off the start-up path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meta_mcp.services.secrets import ChainSecrets, EnvSecrets
from meta_mcp.services.state import MemoryStore, StateStore
from meta_mcp.settings import Settings

if TYPE_CHECKING:
    from meta_mcp.services.catalog import Catalog


@dataclass
class Services:
    """What meta tools use beyond the registry."""

    settings: Settings
    secrets: ChainSecrets
    state: StateStore
    _catalog: Any = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        # The one place the process environment is read for secrets (see services.secrets).
        secrets = ChainSecrets([EnvSecrets(os.environ, Path(".env"))])
        return cls(settings=settings, secrets=secrets, state=MemoryStore())

    @property
    def catalog(self) -> Catalog:
        """The merged catalog (built-in, `--catalog` files, Docker's own), loaded on first use."""
        if self._catalog is None:
            from meta_mcp.services.catalog import load_catalog

            docker_dir = self.settings.docker_catalog_dir
            self._catalog = load_catalog(
                self.settings.catalogs, builtin=self.settings.builtin_catalog,
                docker_dir=docker_dir if docker_dir.is_dir() else None,
            )
        return self._catalog
