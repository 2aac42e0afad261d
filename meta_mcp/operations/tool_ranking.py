"""find_tools' ranker: a tool as the ranker sees it (`tool_document`) and the index over a workspace's tools
(`tool_index`): find_servers' BM25F ranker (`services/ranking.py`) with the catalog's intent table, a tool
vocabulary, field weights and a name bonus; with `catalog_ranker=hybrid` (and the embeddings extra) fused
with an embedding model's similarities (`catalog/hybrid.py`).

Apart from `operations.tools` so that the ranking tables (and the catalog package they come from) are
built on the first find_tools call, not at start-up; `operations.tools` still offers these names.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from meta_mcp.operations.tools import VisibleTool
from meta_mcp.services.bm25 import CAMEL, tokenize
from meta_mcp.services.catalog.intents import expansions
from meta_mcp.services.catalog.search import Ranker
from meta_mcp.services.ranking import Document, PhraseTable, RankedIndex, squash

if TYPE_CHECKING:
    from meta_mcp.services.catalog.hybrid import HybridRanker
    from meta_mcp.services.catalog.vector_file import VectorFile

    ToolRanker = RankedIndex | HybridRanker

logger = logging.getLogger("meta_mcp.operations.tools")  # find_tools' own logger, as before the split


#: find_tools' field weights and length-normalisation strengths (b) of BM25F (`services/ranking.py`).
TOOL_FIELDS: dict[str, tuple[float, float]] = {
    "name": (3.0, 0.3),
    "title": (2.5, 0.3),
    "server": (1.5, 0.3),
    "description": (1.0, 0.75),
    "params": (0.8, 0.6),
}
TOOL_NAME_BONUS = 1.0
INTENT_WEIGHT = 0.2
"""The catalog's intent table (`catalog/intents.py`): it reaches servers' words, which most of a
server's tools share, so it counts less here than in find_servers."""
VOCABULARY_WEIGHT = 1.0

#: What people say → the words tool names, descriptions and parameters use (a `PhraseTable`: words
#: stemmed, phrases after `|`). General API vocabulary: verbs of the usual operations and a few nouns.
TOOL_VOCABULARY = PhraseTable([
    # verbs
    ("make build generate insert register start|set up", "create"),
    ("new", "create"),
    ("remove erase drop destroy forget discard purge wipe|get rid of|throw away", "delete remove"),
    ("edit modify alter patch rename", "update edit"),
    ("view display inspect print see contents|what's in|what is in|look at", "read contents"),
    ("browse enumerate|what are the|which are", "list"),
    ("lookup locate seek grep|look for|look up|search for", "search"),
    ("save store write overwrite persist record put", "write save create"),
    ("send post publish say notify broadcast|let know", "post send message"),
    ("download retrieve grab", "fetch download"),
    ("upload", "upload push"),
    ("compare difference differences|what changed", "diff compare"),
    ("approve approval reject|request changes|sign off", "review approve"),
    ("run execute exec invoke", "run execute"),
    # nouns
    ("several multiple many batch bulk|at once|more than one", "multiple"),
    ("folder folders dir directories", "directory"),
    ("person people someone somebody individual", "entity user people"),
    ("link links connect connection relationship relationships related", "relation"),
    ("history past previous|what happened", "log history"),
    ("now|what time|time is it|right now|current time", "current"),
    ("local locally|my machine|on disk|working copy|this repo|my repo", "git local"),
    ("gps coordinate coordinates lat lng|lat long", "latitude longitude coordinates"),
    ("altitude high height|sea level", "elevation"),
    ("restaurant restaurants cafe cafes bar bars shop shops store stores business businesses|opening hours",
     "place places business local"),
])


def _whole_words(query: str, stems: set[str]) -> set[str]:
    """Words the tokenizer splits at a capital ("GitHub" → git, hub), also as written, lower-cased
    ("github"): a product name matches the server named after it either way."""
    return {w.lower() for w in re.findall(r"[A-Za-z0-9]+", query) if CAMEL.search(w)}


def _schema_words(schema: object, depth: int = 3) -> list[str]:
    """Parameter names of an input schema and their enum values, with those of nested objects and array
    items down to `depth` levels (an upstream's schema can nest without end)."""
    out: list[str] = []
    if not isinstance(schema, dict) or depth <= 0:
        return out
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name, sub in properties.items():
            out += tokenize(str(name))
            out += _schema_words(sub, depth - 1)
    enum = schema.get("enum")
    if isinstance(enum, list):
        out += [w for v in enum[:50] if isinstance(v, str) for w in tokenize(v)]
    out += _schema_words(schema.get("items"), depth - 1)
    return out


def tool_document(tool: VisibleTool) -> Document:
    """A tool as the ranker sees it: its name (exposed without the server's prefix, and the original; less
    the server's own words, which all its tools share: `slack_post_message` is named "post message"),
    title, server, description, and parameters (names and enum values)."""
    d = tool.definition
    short = tool.exposed.removeprefix(f"{tool.server}__")
    server = tokenize(tool.server)
    words = tokenize(short)
    words += [w for w in tokenize(tool.original) if w not in words]
    name = [w for w in words if w not in server] or words
    title = tokenize(d.get("title") or "")
    fields = {"name": name, "title": title, "server": server, "description": tokenize(d.get("description") or ""),
              "params": _schema_words(d.get("inputSchema"))}
    return Document(fields, key=tool.exposed, names=(frozenset(name), frozenset(title)), squashed=squash(short))


def tool_text(tool: VisibleTool) -> str:
    """What a tool's embedding is made from (the hybrid ranker): "<server> <name words>: <title>. <description>"."""
    d = tool.definition
    name = tool.original.replace("_", " ").replace("-", " ")
    return f"{tool.server} {name}: {d.get('title') or ''}. {d.get('description') or ''}"


def tool_index(tools: Sequence[VisibleTool], ranker: Ranker = "lexical", store: VectorFile | None = None
               ) -> ToolRanker:
    """find_tools' ranker over `tools`: find_servers' (`services/ranking.py`) with the intent table, the
    tool vocabulary, these field weights and the name bonus; with `ranker="hybrid"` and the embeddings
    extra, fused with the model's similarity to `tool_text` (`catalog/hybrid.py`; seconds to build for
    a hundred new tools: build it off the event loop; `store` keeps their vectors across runs). Without the
    extra: the lexical one (logged)."""
    lexical = RankedIndex([tool_document(t) for t in tools], TOOL_FIELDS, name_bonus=TOOL_NAME_BONUS,
                          expansions=[(expansions, INTENT_WEIGHT), (TOOL_VOCABULARY, VOCABULARY_WEIGHT),
                                      (_whole_words, 1.0)],
                          expanded_names=True)
    if ranker == "hybrid":
        from meta_mcp.services.catalog.embedding import EmbeddingUnavailable
        from meta_mcp.services.catalog.hybrid import HybridRanker

        try:
            return HybridRanker(lexical, [tool_text(t) for t in tools], store=store)
        except EmbeddingUnavailable as exc:
            logger.warning("find_tools ranks lexically: %s", exc)
    return lexical
