"""Ranked text search (Okapi BM25) over small document sets: tool names and descriptions.

Hand-written rather than a dependency: the PyPI BM25 packages pull in numpy for what is ~40 lines
here, and our corpora are hundreds of short documents, scored in well under a millisecond.

Tokens are lower-cased words; identifiers are split on `_`, `-`, `.` and camelCase, so
`get_current_time` matches "current time". Fields can be weighted by repeating them.

Example:
    >>> index = BM25Index(["get_current_time: Get the time in a timezone", "fetch: Fetch a URL"])
    >>> index.rank("what time is it", limit=1)
    [(0, ...)]
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are as at be by can do for from how i in is it its me my of on or please the this to what "
    "when where which who with you your".split()
)


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens with identifiers split and stop words dropped."""
    words = _WORD.findall(_CAMEL.sub(" ", text).lower())
    return [_stem(w) for w in words if w not in _STOP]


def _stem(word: str) -> str:
    # A light plural/verb-form fold: "files" → "file", "searching" → "search". Enough for names.
    for suffix in ("ing", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


class BM25Index:
    """An immutable BM25 index over `documents` (k1 = 1.2, b = 0.75)."""

    def __init__(self, documents: Sequence[str], *, k1: float = 1.2, b: float = 0.75) -> None:
        self._docs = [Counter(tokenize(d)) for d in documents]
        self._lengths = [sum(c.values()) for c in self._docs]
        self._avg = (sum(self._lengths) / len(self._lengths)) if self._lengths else 0.0
        df: Counter[str] = Counter()
        for doc in self._docs:
            df.update(doc.keys())
        n = len(self._docs)
        self._idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self._k1, self._b = k1, b

    def rank(self, query: str, *, limit: int = 10) -> list[tuple[int, float]]:
        """(document index, score) pairs for documents matching `query`, best first."""
        terms = tokenize(query)
        scores: list[tuple[int, float]] = []
        for i, doc in enumerate(self._docs):
            score = 0.0
            norm = self._k1 * (1 - self._b + self._b * self._lengths[i] / (self._avg or 1))
            for term in terms:
                tf = doc.get(term)
                if tf:
                    score += self._idf[term] * tf * (self._k1 + 1) / (tf + norm)
            if score > 0:
                scores.append((i, score))
        scores.sort(key=lambda pair: (-pair[1], pair[0]))
        return scores[:limit]
