"""Hybrid ranking: a lexical ranker's scores plus a sentence-embedding model's similarities.

Used by find_servers (`HybridIndex`, over catalog entries) and find_tools (`HybridRanker` over a
workspace's tools) when `catalog_ranker=hybrid` and the `embeddings` extra is installed (the model:
`embedding.py`). For a query, each document scores

    lexical score ÷ the query's best lexical score  +  `SEMANTIC_WEIGHT` × cosine(query, document)

over the documents the lexical ranker finds and those at least `MIN_SIMILARITY` close in meaning;
ties sort in the documents' order. Documents are embedded once (vectors are cached by text, so a workspace
that adds a server embeds only the new server's tools), queries on every search (~15 ms on one core).

Example:
    ranker = HybridRanker(lexical_index, ["time: get current time. Get the time in a timezone", …])
    ranker.rank("what time is it in Tokyo", limit=3)   # [(0, 3.9…), …]
    HybridIndex.build(entries).search("what time is it in Tokyo", limit=3)   # [(entry, score), …]
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from meta_mcp.services.catalog.embedding import MiniLM, _one_thread, shared_model
from meta_mcp.services.ranking import MAX_QUERY_CHARS

if TYPE_CHECKING:
    import numpy as np

    from meta_mcp.services.catalog.model import CatalogEntry
    from meta_mcp.services.catalog.search import CatalogIndex

SEMANTIC_WEIGHT = 3.0
"""How much the cosine similarity counts against the lexical score (divided by the query's best).
Chosen on the development halves of bench/find_quality.py only, servers and tools alike (see
docs/benchmarks.md): 2–4 tied with the lexical rankers as they ship, and 3–4 scored best with their
hand-written expansion tables switched off, which stands in for queries those tables were not written for."""
MIN_SIMILARITY = 0.3
"""A document the lexical ranker does not find at all is listed only from this cosine similarity up, so
that a query about nothing finds (almost) nothing: with this model, gibberish ("zxqv blorp") comes
within 0.27 of short, vague descriptions."""
CACHE_TEXTS = 5000
"""Document vectors kept by text, least recently used dropped first (384 floats each: ~7.5 MB)."""

_cache: OrderedDict[str, Any] = OrderedDict()
_cache_lock = threading.Lock()


class Lexical(Protocol):
    """What the hybrid needs of a lexical ranker (`ranking.RankedIndex`, `CatalogIndex`)."""

    def rank(self, query: str, limit: int = 10) -> list[tuple[int, float]]: ...


def embed(model: MiniLM, texts: Sequence[str]) -> np.ndarray:
    """Unit vectors of `texts` (n, dim), in order; texts embedded before (by this process) are not again."""
    import numpy as np

    with _cache_lock:
        known = {t: _cache[t] for t in texts if t in _cache}
    missing = list(dict.fromkeys(t for t in texts if t not in known))
    if missing:
        with _one_thread():
            known.update(zip(missing, model.encode(missing), strict=True))
    with _cache_lock:
        for text in dict.fromkeys(texts):
            _cache[text] = known[text]
            _cache.move_to_end(text)
        while len(_cache) > CACHE_TEXTS:
            _cache.popitem(last=False)
    if not texts:
        return np.zeros((0, model.w["embeddings.word_embeddings.weight"].shape[1]), dtype=np.float32)
    return np.stack([known[t] for t in texts])


def fuse(lexical: Sequence[tuple[int, float]], semantic: np.ndarray, weight: float, limit: int
         ) -> list[tuple[int, float]]:
    """(document, score) pairs, best first (see the module docstring); ties in the documents' order."""
    import numpy as np

    top = lexical[0][1] if lexical and lexical[0][1] > 0 else 1.0
    scores: Any = weight * semantic.astype(np.float64)
    candidates = semantic >= MIN_SIMILARITY
    for i, score in lexical:
        scores[i] += score / top
        candidates[i] = True
    scores = np.where(candidates, scores, -np.inf)
    best = [int(i) for i in np.argsort(-scores, kind="stable")[:limit] if candidates[i]]
    return [(i, float(scores[i])) for i in best]


class HybridRanker:
    """`lexical`'s ranking of documents, fused with the similarity of each document's `texts` entry to
    the query (`fuse`). Embedding the texts happens here, at construction (seconds for hundreds of
    documents on a busy core: build it off the event loop)."""

    def __init__(self, lexical: Lexical, texts: Sequence[str], model: MiniLM | None = None,
                 weight: float = SEMANTIC_WEIGHT) -> None:
        self.lexical = lexical
        self.model = model or shared_model()
        self.weight = weight
        self.size = len(texts)
        self.vectors = embed(self.model, texts)

    def similarities(self, query: str) -> np.ndarray:
        """Cosine similarity of the query (its first `MAX_QUERY_CHARS` characters) to every document."""
        with _one_thread():
            return self.vectors @ self.model.encode([query[:MAX_QUERY_CHARS]])[0]

    def rank(self, query: str, limit: int = 10) -> list[tuple[int, float]]:
        """(document index, score) pairs, best first: the lexical hits and the documents at least
        `MIN_SIMILARITY` close in meaning. Scores are not rounded."""
        if not self.size or limit <= 0:
            return []
        return fuse(self.lexical.rank(query, limit=self.size), self.similarities(query), self.weight, limit)


def entry_text(entry: CatalogEntry) -> str:
    """What a catalog entry's embedding is made from: title, description, tags and its tools' names
    (cut at the model's 256 tokens)."""
    tags = ", ".join(t for t in entry.tags if t.lower() not in ("devops",))
    text = f"{entry.title}. {entry.description}" + (f" ({tags})" if tags else "")
    tools = ", ".join(t.replace("_", " ").replace("-", " ") for t in entry.tools)
    return text + (f" Tools: {tools}" if tools else "")


class HybridIndex:
    """find_servers' hybrid: `CatalogIndex`'s ranking fused with the similarity to `entry_text`.
    Embedding the catalog takes seconds on two cores (once, when the index is made; `Catalog.search`
    makes it on first use, off the event loop)."""

    def __init__(self, lexical: CatalogIndex, model: MiniLM | None = None, weight: float = SEMANTIC_WEIGHT) -> None:
        self.lexical = lexical
        self.entries = lexical.entries
        self.ranker = HybridRanker(lexical, [entry_text(e) for e in self.entries], model, weight)
        self.vectors = self.ranker.vectors

    @classmethod
    def build(cls, entries: Sequence[CatalogEntry]) -> HybridIndex:
        """Over `entries`, with the installed model; raises `EmbeddingUnavailable` without the extra."""
        from meta_mcp.services.catalog.search import CatalogIndex

        return cls(CatalogIndex(entries), shared_model())

    def search(self, query: str, limit: int = 10) -> list[tuple[CatalogEntry, float]]:
        """(entry, score) pairs, best first: the lexical hits and the entries at least `MIN_SIMILARITY`
        close in meaning."""
        return [(self.entries[i], round(s, 4)) for i, s in self.ranker.rank(query, limit)]
