"""Plain Okapi BM25 over small document sets, the project's one tokenizer, and the index cache.

`BM25Index` is the baseline the discovery benchmarks measure against (`bench/find_quality.py`);
find_servers and find_tools rank with `services/ranking.py` (BM25F with field weights, query expansion,
a name bonus), which tokenizes with `tokenize` here. Hand-written rather than a dependency: the PyPI BM25
packages pull in numpy for what is ~40 lines here, and our corpora are hundreds of short documents,
scored in well under a millisecond.

Tokens are lower-cased words; identifiers are split on `_`, `-`, `.` and camelCase, so
`get_current_time` matches "current time"; stop words (including filler such as "mcp", "server",
"tool") are dropped and plural / -ing / -ed forms folded. Fields can be weighted by repeating them.

Example:
    >>> index = BM25Index(["get_current_time: Get the time in a timezone", "fetch: Fetch a URL"])
    >>> index.rank("what time is it", limit=1)
    [(0, ...)]
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
WORD = re.compile(r"[a-z0-9]+")

STOP = frozenset(
    ["a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "been", "being", "but", "by", "can", "could", "do", "does", "doing", "for", "from", "get", "give", "go", "had", "has", "have", "having", "he", "her", "here", "him", "his", "how", "i", "i'd", "if", "im", "in", "into", "is", "it", "its", "just", "let", "lets", "like", "make", "me", "more", "most", "my", "need", "no", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "out", "over", "please", "put", "same", "she", "should", "so", "some", "something", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "through", "to", "too", "up", "us", "use", "using", "very", "via", "want", "was", "way", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "find", "look", "able", "allow", "allows", "anything", "help", "helps", "new", "provide", "provides", "show", "tell", "thing", "things", "mcp", "model", "context", "protocol", "server", "servers", "tool", "tools", "official"]
)


def tokenize(text: str) -> list[str]:
    """Stemmed word tokens without stop words; identifiers split on `_ - .` and camelCase."""
    return [stem(w) for w in WORD.findall(CAMEL.sub(" ", text).lower()) if w not in STOP]


def stem(word: str) -> str:
    """Light English folding shared with the index: plural, -ing and -ed forms, final e (`_inflection`),
    then a few derivational endings, so a noun meets its verb: "deletion" and "delete" → delet,
    "relationship" and "relate" → relat, "configuration" and "configure" → configur, "deployment" and
    "deploy" → deploy. Query and documents pass through the same function, so only consistency matters."""
    word = _inflection(word)
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ship") and len(word) > 7:
        word = _inflection(word[:-4])
    if word.endswith("ation") and len(word) >= 12:  # configuration → configur; not creation (→ creat)
        return word[:-5]
    if word.endswith(("tion", "sion")) and len(word) >= 8:  # deletion → delet; not version, mention
        return word[:-3]
    if word.endswith("ment") and len(word) >= 9:
        return _inflection(word[:-4])
    return word


def _inflection(word: str) -> str:
    """Plural, -ing and -ed forms and a final e folded; words of 3 letters or fewer, or with digits, kept."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "ches", "shes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
        if len(word) > 2 and word[-1] == word[-2] and word[-1] not in "ls":
            word = word[:-1]
    elif word.endswith("ed") and len(word) > 4:
        word = word[:-2]
        if len(word) > 2 and word[-1] == word[-2] and word[-1] not in "ls":
            word = word[:-1]
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
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


class IndexCache:
    """One search index per key (a workspace), rebuilt only when its source object (a snapshot) is
    replaced: snapshots are immutable, so identity says whether the index is still current. Safe to use
    from worker threads (find_tools' hybrid ranks in one); two threads missing at once may both build.

    Example:
        cache.get("default", snapshot, lambda: tool_index(tools_of(snapshot)))
    """

    def __init__(self, max_keys: int = 64) -> None:
        self._entries: OrderedDict[str, tuple[object, Any]] = OrderedDict()
        self._max_keys = max_keys
        """Indexes kept at most (least recently used dropped first): memory stays bounded."""
        self._lock = threading.Lock()

    def get(self, key: str, source: object, build: Callable[[], T]) -> T:
        """The index of `key` built from `source`; `build()` (outside the lock) when it has none yet."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] is source:
                self._entries.move_to_end(key)
                return entry[1]
        value = build()
        with self._lock:
            self._entries[key] = (source, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_keys:
                self._entries.popitem(last=False)
        return value
