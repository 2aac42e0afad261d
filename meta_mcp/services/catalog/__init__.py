"""The server catalog: load and merge catalog files, look entries up, search them, launch them.

- `load_catalog(paths, builtin=True, docker_dir=None)` → `Catalog` (merge order in `loader`);
- `Catalog.get(name)` (exact name, then an alias, then a unique case-insensitive match),
  `Catalog.search(query, limit)` ranked best first (see `search`; `ranker="hybrid"` adds an
  embedding model, see `embedding`), `Catalog.suggest(name)`;
- `CatalogEntry.launch(config, secrets, docker_available=…)` → `ServerSpec` (see `model`, `launch`);
- `docker_available()` → whether a Docker engine answers (see `docker`).

Example:
    catalog = load_catalog()
    [hit.entry.name for hit in catalog.search("what time is it in Tokyo", limit=3)]   # ["time", …]
    spec = catalog.get("time").launch({}, {}, docker_available=False)        # uvx mcp-server-time
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from meta_mcp.services.catalog.docker import adocker_available, docker_available
from meta_mcp.services.catalog.loader import builtin_dir, catalog_files, merge, read_catalog_file
from meta_mcp.services.catalog.model import CatalogEntry, CatalogError, RemoteSpec, SecretRef
from meta_mcp.services.catalog.search import CatalogIndex, Ranker, make_index

if TYPE_CHECKING:
    from meta_mcp.services.catalog.hybrid import HybridIndex
    from meta_mcp.services.catalog.vector_file import VectorFile


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One search result: the entry and its score (higher is better; only comparable within a query)."""

    entry: CatalogEntry
    score: float


class Catalog:
    """A merged, immutable set of catalog entries by name (iteration keeps merge order)."""

    def __init__(self, entries: Iterable[CatalogEntry] = (), ranker: Ranker = "lexical",
                 vectors: VectorFile | None = None) -> None:
        self._entries: dict[str, CatalogEntry] = merge([entries])
        self._ranker = ranker
        self._vectors = vectors
        self._aliases: dict[str, str] = {}
        self._lower: dict[str, list[str]] = {}
        for entry in self._entries.values():
            for alias in entry.aliases:
                self._aliases.setdefault(alias, entry.name)
            self._lower.setdefault(entry.name.lower(), []).append(entry.name)
        self._index: CatalogIndex | HybridIndex | None = None

    def get(self, name: str) -> CatalogEntry | None:
        """The entry called `name`; else the one with that alias; else a unique case-insensitive match."""
        if name in self._entries:
            return self._entries[name]
        if name in self._aliases:
            return self._entries[self._aliases[name]]
        same = self._lower.get(name.lower(), [])
        return self._entries[same[0]] if len(same) == 1 else None

    def search(self, query: str, limit: int = 10) -> list[SearchHit]:
        """Entries matching `query` (plain language or keywords), best first, at most `limit`."""
        if self._index is None:
            self._index = make_index(list(self._entries.values()), self._ranker, self._vectors)
        return [SearchHit(entry, score) for entry, score in self._index.search(query, limit=limit)]

    def suggest(self, name: str, n: int = 3) -> list[str]:
        """Up to `n` entry names close to an unknown `name`, closest first (spelling similarity, with
        a boost for names that contain it or are contained in it); `[]` when nothing is close."""
        lowered = name.lower().strip()
        if not lowered:
            return []
        scored = []
        for candidate in self._entries:
            other = candidate.lower()
            score = difflib.SequenceMatcher(None, lowered, other).ratio()
            if (len(lowered) > 2 and lowered in other) or (len(other) > 3 and other in lowered):
                score += 0.3
            if score >= 0.6:
                scored.append((-score, candidate))
        return [candidate for _, candidate in sorted(scored)[:n]]

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def names(self) -> list[str]:
        return list(self._entries)


def load_catalog(paths: Sequence[Path] = (), *, builtin: bool = True, docker_dir: Path | None = None,
                 ranker: Ranker = "lexical", vectors: VectorFile | None = None) -> Catalog:
    """Load and merge catalogs. Lowest to highest precedence: every `*.yaml`/`*.yml`/`*.json` in
    `docker_dir` (sorted), our built-in `catalog/` files, then `paths` in order; a later entry of the
    same name replaces an earlier one whole. Any invalid file raises `CatalogError` naming the file,
    the entry and the field — a broken catalog is never silently skipped. `ranker` and `vectors` (the
    hybrid's vectors kept across runs) are how it will be searched.
    """
    sources: list[list[CatalogEntry]] = []
    if docker_dir is not None and docker_dir.is_dir():
        sources += [read_catalog_file(p) for p in catalog_files(docker_dir)]
    if builtin and (directory := builtin_dir()) is not None:
        sources += [read_catalog_file(p) for p in catalog_files(directory)]
    sources += [read_catalog_file(Path(p)) for p in paths]
    return Catalog((entry for entries in sources for entry in entries), ranker, vectors)


__all__ = [
    "Catalog",
    "CatalogEntry",
    "CatalogError",
    "RemoteSpec",
    "SearchHit",
    "SecretRef",
    "adocker_available",
    "docker_available",
    "load_catalog",
]
