"""Hybrid ranking: a lexical ranker's scores plus a sentence-embedding model's similarities.

Used by find_servers (`HybridIndex`, over catalog entries) and find_tools (`HybridRanker` over a
workspace's tools) when `catalog_ranker=hybrid` and the `embeddings` extra is installed (the model:
`embedding.py`). For a query, each document scores

    lexical score ÷ the query's best lexical score  +  `SEMANTIC_WEIGHT` × cosine(query, document)

over the documents the lexical ranker finds and those at least `MIN_SIMILARITY` close in meaning;
ties sort in the documents' order. Documents are embedded once (vectors are cached by text, so a workspace
that adds a server embeds only the new server's tools; with a `VectorFile`, across runs too), queries on
every search (~15 ms on one core).

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
    from meta_mcp.services.catalog.vector_file import VectorFile

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
"""Document vectors kept in memory by (model, text), least recently used dropped first (384 floats each:
~7.5 MB). Across runs they are kept by a `VectorFile` when one is given."""

_cache: OrderedDict[tuple[str, str], Any] = OrderedDict()
_cache_lock = threading.Lock()


class Lexical(Protocol):
    """What the hybrid needs of a lexical ranker (`ranking.RankedIndex`, `CatalogIndex`)."""

    def rank(self, query: str, limit: int = 10) -> list[tuple[int, float]]: ...


def model_key(model: MiniLM) -> tuple[str, bool]:
    """What tells `model`'s vectors apart from another model's, and whether it may be kept on disk: a
    loaded `MiniLM`'s `key` (its files and our encoder's revision); any other model only for this process."""
    key = getattr(model, "key", None)
    return (key, True) if isinstance(key, str) else (f"{type(model).__qualname__}@{id(model)}", False)


def embed(model: MiniLM, texts: Sequence[str], store: VectorFile | None = None) -> np.ndarray:
    """Unit vectors of `texts` (n, dim), in order. A text embedded before by this process, or kept in
    `store` (`vector_file.VectorFile`, for a model with a `key`), is not embedded again; new vectors go
    to `store`."""
    import numpy as np

    key, lasting = model_key(model)
    store = store if lasting else None
    with _cache_lock:
        known = {t: _cache[(key, t)] for t in texts if (key, t) in _cache}
    missing = list(dict.fromkeys(t for t in texts if t not in known))
    if missing and store is not None:
        known.update(store.get(key, missing))
        missing = [t for t in missing if t not in known]
    if missing:
        with _one_thread():
            fresh = dict(zip(missing, model.encode(missing), strict=True))
        known.update(fresh)
        if store is not None:
            store.put(key, fresh)
    with _cache_lock:
        for text in dict.fromkeys(texts):
            _cache[(key, text)] = known[text]
            _cache.move_to_end((key, text))
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
    documents on a busy core: build it off the event loop), unless `store` keeps their vectors from an
    earlier run."""

    def __init__(self, lexical: Lexical, texts: Sequence[str], model: MiniLM | None = None,
                 weight: float = SEMANTIC_WEIGHT, store: VectorFile | None = None) -> None:
        self.lexical = lexical
        self.model = model or shared_model()
        self.weight = weight
        self.size = len(texts)
        self.vectors = embed(self.model, texts, store)

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

    def __init__(self, lexical: CatalogIndex, model: MiniLM | None = None, weight: float = SEMANTIC_WEIGHT,
                 store: VectorFile | None = None) -> None:
        self.lexical = lexical
        self.entries = lexical.entries
        self.ranker = HybridRanker(lexical, [entry_text(e) for e in self.entries], model, weight, store)
        self.vectors = self.ranker.vectors

    @classmethod
    def build(cls, entries: Sequence[CatalogEntry], store: VectorFile | None = None) -> HybridIndex:
        """Over `entries`, with the installed model (vectors kept in `store` across runs); raises
        `EmbeddingUnavailable` without the extra."""
        from meta_mcp.services.catalog.search import CatalogIndex

        return cls(CatalogIndex(entries), shared_model(), store=store)

    def search(self, query: str, limit: int = 10) -> list[tuple[CatalogEntry, float]]:
        """(entry, score) pairs, best first: the lexical hits and the entries at least `MIN_SIMILARITY`
        close in meaning."""
        return [(self.entries[i], round(s, 4)) for i, s in self.ranker.rank(query, limit)]
