"""Ranked search over documents with weighted fields: the one ranker of `find_servers` and `find_tools`.

How a query is scored against a document:
1. the query is tokenized (`bm25.tokenize`: identifiers split, stop words dropped, light stemming) and
   expanded at a lower weight by each of `expansions` ((expand, weight) pairs: the intent table of
   `catalog/intents.py`, a `PhraseTable` of synonyms), so plain-language requests reach the words
   documents use; a term reached several ways keeps its highest weight;
2. BM25F: each field has a weight and its own length normalisation (b); the weighted term frequencies
   are summed before saturation, so a word in a name counts more than one in a description;
3. a bonus for the share of the document's name (or title) that the query's own words spell out,
   each name word weighted by its idf — "slack" gets all of it for `slack`, "text" little of
   `text-to-graphql` (with `expanded_names`, expansions count too, by their weight) — and the same
   bonus again when the whole name, squashed to letters and digits, is written in the query
   (`read_text_file` in "read_text_file please");
4. an optional prior (0..1 per document, e.g. popularity) that only breaks near-ties.
Ties sort by each document's `key`. Everything is in memory and pure Python: a query sums precomputed
weights, ~0.3 ms over a few hundred documents.

Users: `catalog/search.py` (`CatalogIndex`: catalog entries) and `operations/tools.py` (`find_tools`:
the workspace's tools, with parameter names as a field).

Example:
    doc = Document({"name": tokenize("get_current_time"), "description": tokenize(
        "Get current time in a timezone")}, key="time__get_current_time",
        names=(frozenset(tokenize("get_current_time")),), squashed=squash("get_current_time"))
    index = RankedIndex([doc], {"name": (3.0, 0.3), "description": (1.0, 0.75)},
                        expansions=[(PhraseTable([("now|what time", "current")]), 1.0)])
    index.rank("what time is it in Tokyo", limit=3)   # [(0, 1.69…)]
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from meta_mcp.services.bm25 import WORD, stem, tokenize

Expand = Callable[[str, set[str]], Iterable[str]]
"""(query, its own stemmed tokens) → extra words to search for (unstemmed: they are tokenized)."""

K1 = 1.2
NAME_BONUS = 2.5
MAX_QUERY_CHARS = 1000
"""Only a query's first characters are read: a search costs the same for a huge query as for a long one."""

_NOT_ALNUM = re.compile(r"[^a-z0-9]")


def squash(text: str) -> str:
    """`text` lower-cased with everything but letters and digits removed: how names are compared whole."""
    return _NOT_ALNUM.sub("", text.lower())


@dataclass(frozen=True, slots=True)
class Document:
    """What the index knows of one document: tokens by field (see `RankedIndex.fields`), the key ties
    sort by, the word sets a query can spell out for the name bonus (a name, a title), the name squashed
    (`squash`; matched whole inside the squashed query when longer than 3 characters) and a prior."""

    fields: Mapping[str, Sequence[str]]
    key: str
    names: tuple[frozenset[str], ...] = ()
    squashed: str = ""
    prior: float = 0.0


class RankedIndex:
    """An immutable index over `documents`; `fields` maps each field to its (weight, b). A field a
    document lacks is empty. See the module docstring for the score."""

    def __init__(self, documents: Sequence[Document], fields: Mapping[str, tuple[float, float]], *,
                 k1: float = K1, name_bonus: float = NAME_BONUS, prior_weight: float = 0.0,
                 expansions: Sequence[tuple[Expand, float]] = (), expanded_names: bool = False) -> None:
        self.documents = list(documents)
        self.fields = dict(fields)
        self._name_bonus = name_bonus
        self._prior_weight = prior_weight
        self._expansions = list(expansions)
        self._expanded_names = expanded_names
        n = max(len(self.documents), 1)
        empty: Sequence[str] = ()
        avg = {f: (sum(len(d.fields.get(f, empty)) for d in self.documents) / n) or 1.0 for f in self.fields}
        # Saturated BM25F weight of every (term, document) pair, computed once: a query only sums them.
        pseudo: dict[str, dict[int, float]] = {}
        for i, doc in enumerate(self.documents):
            for field, (weight, b) in self.fields.items():
                words = doc.fields.get(field, empty)
                norm = 1 - b + b * len(words) / avg[field]
                for term, count in Counter(words).items():
                    slot = pseudo.setdefault(term, {})
                    slot[i] = slot.get(i, 0.0) + weight * count / norm
        self._idf = {t: math.log(1 + (n - len(d) + 0.5) / (len(d) + 0.5)) for t, d in pseudo.items()}
        self._weights = {t: {i: self._idf[t] * tf / (k1 + tf) for i, tf in d.items()} for t, d in pseudo.items()}

    def query_terms(self, query: str) -> dict[str, float]:
        """The weighted terms a query searches for: its own words (1.0) and their expansions (each at the
        highest weight that reaches it). Only the first `MAX_QUERY_CHARS` characters count."""
        query = query[:MAX_QUERY_CHARS]
        own = tokenize(query)
        terms: dict[str, float] = {t: 1.0 for t in own}
        for expand, weight in self._expansions:
            for word in expand(query, set(own)):
                for t in tokenize(word):
                    if terms.get(t, 0.0) < weight:
                        terms[t] = weight
        return terms

    def name_match(self, i: int, own: Mapping[str, float]) -> float:
        """How much of document `i`'s name (or title) the query's words spell out, 0..1, each name word
        counted by its idf times its weight in `own`."""
        best = 0.0
        for words in self.documents[i].names:
            total = sum(self._idf.get(w, 0.0) for w in words)
            if total:
                best = max(best, sum(self._idf.get(w, 0.0) * own[w] for w in words if w in own) / total)
        return best

    def rank(self, query: str, limit: int = 10) -> list[tuple[int, float]]:
        """(document index, score) pairs, best first; documents sharing no term with the query are left
        out. Scores are not rounded. Only the first `MAX_QUERY_CHARS` characters of `query` count."""
        query = query[:MAX_QUERY_CHARS]
        terms = self.query_terms(query)
        own = terms if self._expanded_names else {t: 1.0 for t in tokenize(query)}
        squashed_query = squash(query)
        scores: dict[int, float] = {}
        for term, weight in terms.items():
            for i, value in self._weights.get(term, {}).items():
                scores[i] = scores.get(i, 0.0) + weight * value
        ranked = []
        for i, score in scores.items():
            doc = self.documents[i]
            score += self._name_bonus * self.name_match(i, own)
            if len(doc.squashed) > 3 and doc.squashed in squashed_query:
                score += self._name_bonus
            ranked.append((i, score + self._prior_weight * doc.prior))
        ranked.sort(key=lambda pair: (-pair[1], self.documents[pair[0]].key))
        return ranked[:limit]


class PhraseTable:
    """Query expansion (an `Expand`) from rows of (triggers, vocabulary), the format of
    `catalog/intents.py`: triggers are words (the first `|`-separated segment, space-separated, matched
    after stemming against every word of the query, stop words included) or phrases (the other
    segments, matched whole in the lower-cased query); a row that fires adds its vocabulary.

    Example:
        table = PhraseTable([("remove erase|get rid of", "delete")])
        table("remove the old branch", set())   # {"delete"}
    """

    def __init__(self, rows: Sequence[tuple[str, str]]) -> None:
        self._rows: list[tuple[frozenset[str], tuple[re.Pattern[str], ...], tuple[str, ...]]] = []
        for triggers, vocabulary in rows:
            first, *phrases = triggers.split("|")
            words = frozenset(stem(w) for w in WORD.findall(first.lower()))
            patterns = tuple(re.compile(r"\b" + re.escape(p.strip().lower()) + r"\b") for p in phrases if p.strip())
            self._rows.append((words, patterns, tuple(vocabulary.split())))

    def __call__(self, query: str, stems: set[str]) -> set[str]:
        lowered = query.lower()
        words = {stem(w) for w in WORD.findall(lowered)}
        out: set[str] = set()
        for triggers, patterns, vocabulary in self._rows:
            if triggers & words or any(p.search(lowered) for p in patterns):
                out.update(vocabulary)
        return out
