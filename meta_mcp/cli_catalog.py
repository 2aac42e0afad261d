"""`meta-mcp catalog …`: search a catalog and convert catalog files, without starting a server.

- `meta-mcp catalog search QUERY [--catalog FILE]… [--limit N] [--json] [--no-builtin]` — the same
  ranked search as the `find_servers` meta tool, over the built-in catalog, Docker's catalog dir
  (when present) and the given files. `--json` prints a JSON array, best first, of objects with
  `name`, `title`, `score`, `description`, `runs`, `runs_here`, `why_not`, `secrets`, `config`, `tags`.
- `meta-mcp catalog convert FILE --out PATH` — validates a catalog file (YAML or JSON) and writes it
  as JSON: to PATH itself when PATH ends in `.json` (the whole document, loadable with `--catalog`),
  else into directory PATH as one `<name>.json` per entry (the entry's fields as written, plus `name`).

Exit codes: 0 on success, 1 when a search finds nothing, 2 for a bad catalog file or arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import textwrap
from pathlib import Path

CATALOG_EPILOG = """\
examples:
  meta-mcp catalog search "what time is it in Tokyo"
  meta-mcp catalog search "post to my team chat" --limit 3 --json
  meta-mcp catalog search database --catalog ~/team-catalog.yaml --no-builtin
  meta-mcp catalog convert docker-mcp-catalog.yaml --out catalog.json     # one JSON document
  meta-mcp catalog convert docker-mcp-catalog.yaml --out servers/         # one <name>.json per entry

catalogs searched (later ones replace entries of the same name): Docker's catalog dir
(META_MCP_DOCKER_CATALOG_DIR, default ~/.docker/mcp/catalogs, when it exists), the built-in catalog
(unless --no-builtin), then each --catalog FILE in order. Format: docs/catalog.md.
"""


def add_catalog_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `catalog search` and `catalog convert` on the top-level subcommands."""
    catalog = sub.add_parser("catalog", help="search the server catalog or convert catalog files",
                             description="Search the server catalog or convert catalog files.",
                             epilog=CATALOG_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = catalog.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")
    search = actions.add_parser("search", help="ranked search of the catalog (like the find_servers tool)",
                                description="Ranked search over server names, titles, descriptions, tags and "
                                "tool names; plain-language requests work. Ranks as find_servers does: "
                                "META_MCP_CATALOG_RANKER=hybrid adds the embedding model (the embeddings "
                                "extra; vectors kept in $XDG_CACHE_HOME/meta-mcp/vectors.bin).", epilog=CATALOG_EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    search.add_argument("query", help="what you want to do, e.g. 'what time is it in Tokyo'")
    search.add_argument("--catalog", dest="catalogs", type=Path, action="append", default=[], metavar="FILE",
                        help="extra catalog file (Docker MCP catalog format, YAML or JSON; repeatable)")
    search.add_argument("--limit", type=int, default=10, metavar="N", help="at most N results (default 10)")
    search.add_argument("--json", action="store_true", help="print a JSON array, best first")
    search.add_argument("--no-builtin", action="store_true", help="leave out the built-in catalog")
    convert = actions.add_parser("convert", help="validate a catalog file and write it as JSON",
                                 description="Validate a catalog file (YAML or JSON) and write it as JSON.",
                                 epilog=CATALOG_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    convert.add_argument("file", type=Path, help="catalog file (Docker MCP catalog format)")
    convert.add_argument("--out", type=Path, required=True, metavar="PATH",
                         help="a .json file for the whole document, or a directory for one <name>.json per entry")


def run_catalog(args: argparse.Namespace) -> int:
    """Dispatch `meta-mcp catalog ACTION`."""
    from meta_mcp.services.catalog import CatalogError

    try:
        if args.catalog_command == "search":
            return _search(args)
        return _convert(args)
    except CatalogError as exc:
        print(f"meta-mcp: {exc}", file=sys.stderr)
        return 2


def _search(args: argparse.Namespace) -> int:
    from meta_mcp.cli_environ import checked_settings
    from meta_mcp.services import vector_file_for
    from meta_mcp.services.catalog import docker_available, load_catalog
    from meta_mcp.services.catalog.describe import describe

    if args.limit < 1:
        print("meta-mcp: --limit must be at least 1", file=sys.stderr)
        return 2
    settings = checked_settings(os.environ)
    if settings is None:
        return 2
    docker_dir = settings.docker_catalog_dir
    catalog = load_catalog(args.catalogs, builtin=settings.builtin_catalog and not args.no_builtin,
                           docker_dir=docker_dir if docker_dir.is_dir() else None, ranker=settings.catalog_ranker,
                           vectors=vector_file_for(settings))
    hits = catalog.search(args.query, limit=args.limit)
    docker = docker_available() if any(h.entry.image for h in hits) else False
    rows = [{**describe(h.entry, docker_available=docker), "score": h.score} for h in hits]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0 if rows else 1
    if not rows:
        print(f"No server in the catalog ({len(catalog)} entries) matches {args.query!r}.")
        return 1
    width = shutil.get_terminal_size((100, 20)).columns
    for rank, row in enumerate(rows, 1):
        runs = row["runs"]
        how = runs.get("command") or runs.get("url") or runs.get("image") or "?"
        mark = "" if row["runs_here"] else f"  [cannot run here: {row['why_not']}]"
        print(f"{rank:>2}. {row['name']} — {row['title']}  (score {row['score']:.2f})")
        print(textwrap.fill(row["description"], width=width, initial_indent="    ", subsequent_indent="    ",
                            max_lines=3, placeholder=" …"))
        print(f"    runs: {runs['kind']}: {how}{mark}")
        if row["secrets"]:
            print("    secrets: " + ", ".join(s["env"] for s in row["secrets"]))
        required = [f["name"] for f in row["config"] if f["required"]]
        if required:
            print("    required config: " + ", ".join(required))
    return 0


def _convert(args: argparse.Namespace) -> int:
    from meta_mcp.services.catalog.loader import parse_entry, read_document

    data = read_document(args.file)
    registry = data["registry"]
    for name, raw in registry.items():
        parse_entry(name, raw, str(args.file))  # validate everything before writing anything
    out: Path = args.out
    if out.suffix == ".json":
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        print(f"wrote {len(registry)} entries to {out}")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    for name, raw in registry.items():
        (out / f"{name}.json").write_text(json.dumps({"name": name, **raw}, indent=1, ensure_ascii=False,
                                                     default=str) + "\n", encoding="utf-8")
    print(f"wrote {len(registry)} entries to {out}/ (one <name>.json each)")
    return 0
