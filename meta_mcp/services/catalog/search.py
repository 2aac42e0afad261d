"""Ranked server search: BM25F over name, title, tags, description and tool names, with query expansion.

The ranker is `services/ranking.RankedIndex` (shared with `find_tools`); this module says what a
catalog entry's document is and how its fields weigh:
1. the query is tokenized and expanded with the intent table (`intents.py`) at a lower weight —
   plain-language requests reach catalog words;
2. BM25F with the field weights of `FIELDS`: a word in the name counts more than one in the description;
3. a bonus for the share of the entry's name (or title, or an alias) that the query's own words spell
   out, weighted by idf — "slack" gets all of it for `slack`, "text" little of `text-to-graphql`;
4. a tiny popularity prior (Docker's pull count) that only breaks near-ties; ties sort by name.
Everything is in memory and pure Python: ~0.3 ms per query over Docker's 272 servers on one core.

`make_index(entries, "hybrid")` adds a sentence-embedding model to these scores (`hybrid.py`, the
optional `embeddings` extra; setting `catalog_ranker`), falling back to this index without the extra.

Example:
    index = CatalogIndex(entries)
    index.search("what time is it in Tokyo", limit=3)   # [(time_entry, 9.1), …]
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from meta_mcp.services.bm25 import tokenize as tokens
from meta_mcp.services.catalog.intents import EXPANSION_WEIGHT, expansions
from meta_mcp.services.ranking import K1, NAME_BONUS, Document, RankedIndex, squash

if TYPE_CHECKING:
    from meta_mcp.services.catalog.hybrid import HybridIndex
    from meta_mcp.services.catalog.model import CatalogEntry
    from meta_mcp.services.catalog.vector_file import VectorFile

logger = logging.getLogger(__name__)

#: Field weights and length-normalisation strengths (b) of BM25F.
FIELDS: dict[str, tuple[float, float]] = {
    "name": (3.0, 0.3),
    "title": (2.5, 0.3),
    "tags": (1.5, 0.5),
    "description": (1.0, 0.75),
    "tools": (0.8, 0.6),
}
POPULARITY_WEIGHT = 0.08


def _document(entry: CatalogEntry, top_popularity: int) -> Document:
    name_words = tokens(entry.name.replace("-", " ").replace("_", " "))
    title = re.sub(r"\((archived|reference)\)", " ", entry.title, flags=re.IGNORECASE)
    tool_words = sorted({t for tool in entry.tools for t in tokens(tool)})
    tags = " ".join([*entry.tags, entry.category or ""])
    fields = {
        "name": name_words + [w for a in entry.aliases for w in tokens(a)],
        "title": tokens(title),
        "tags": tokens(tags.replace("-", " ")),
        "description": tokens(entry.description),
        "tools": tool_words,
    }
    prior = math.log1p(entry.popularity) / math.log1p(top_popularity) if top_popularity else 0.0
    return Document(fields, key=entry.name, names=(frozenset(fields["name"]), frozenset(fields["title"])),
                    squashed=squash(entry.name), prior=prior)


class CatalogIndex:
    """An immutable search index over catalog entries (see the module docstring)."""

    def __init__(self, entries: Sequence[CatalogEntry]) -> None:
        self.entries = list(entries)
        top = max((e.popularity for e in self.entries), default=0)
        self._index = RankedIndex([_document(e, top) for e in self.entries], FIELDS, k1=K1, name_bonus=NAME_BONUS,
                                  prior_weight=POPULARITY_WEIGHT, expansions=[(expansions, EXPANSION_WEIGHT)])

    def query_terms(self, query: str) -> dict[str, float]:
        """The weighted terms a query searches for: its own words (1.0) and their expansions."""
        return self._index.query_terms(query)

    def rank(self, query: str, limit: int = 10) -> list[tuple[int, float]]:
        """(position in `entries`, score) pairs, best first, scores not rounded (what `hybrid` fuses)."""
        return self._index.rank(query, limit)

    def search(self, query: str, limit: int = 10) -> list[tuple[CatalogEntry, float]]:
        """(entry, score) pairs, best first; entries sharing no word with the query are left out."""
        return [(self.entries[i], round(s, 4)) for i, s in self._index.rank(query, limit)]


Ranker = Literal["lexical", "hybrid"]


def make_index(entries: Sequence[CatalogEntry], ranker: Ranker = "lexical", store: VectorFile | None = None
               ) -> CatalogIndex | HybridIndex:
    """The index `ranker` names; "hybrid" without the embeddings extra is the lexical one (logged). The
    hybrid keeps the entries' vectors in `store` across runs when one is given."""
    if ranker == "hybrid":
        from meta_mcp.services.catalog.embedding import EmbeddingUnavailable
        from meta_mcp.services.catalog.hybrid import HybridIndex

        try:
            return HybridIndex.build(entries, store)
        except EmbeddingUnavailable as exc:
            logger.warning("find_servers ranks lexically: %s", exc)
    return CatalogIndex(entries)
