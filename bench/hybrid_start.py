"""The hybrid ranker's first search in a new process, with and without its vectors kept on disk.

Each rep runs `meta-mcp catalog search QUERY --catalog <Docker's 272-server fixture> --json` as a fresh
process, three ways, rotated per rep:
  * lexical      : META_MCP_CATALOG_RANKER=lexical — what the default costs;
  * hybrid, none : META_MCP_CATALOG_RANKER=hybrid, META_MCP_EMBEDDING_CACHE=0 — every start embeds the
                   whole catalog (what each start cost before the vector file);
  * hybrid, kept : the same with the cache on, in a directory filled once before the reps (that first,
                   cold run is timed too: it embeds and writes the file).
The kept and none answers must be identical JSON (the same vectors, so the same ranking and scores),
otherwise the run aborts. Wall time of the whole command (start-up, catalog load, model load, search).
Needs the embeddings extra (scripts/setup --tests installs it).

    .venv/bin/python bench/hybrid_start.py            # 3 reps, ~2-3 minutes on 2 busy cores
    .venv/bin/python bench/hybrid_start.py --reps 5 --json /tmp/hybrid_start.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO.parent / "shared" / "fixtures" / "docker-mcp-catalog.yaml"
QUERY = "post a message to my team chat"


def search(env: dict[str, str], cwd: Path) -> tuple[float, str]:
    argv = [str(REPO / ".venv" / "bin" / "meta-mcp"), "catalog", "search", QUERY, "--catalog", str(FIXTURE),
            "--json", "--limit", "10"]
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=600, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"meta-mcp catalog search failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3, help="timed runs of each way (default 3)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if not FIXTURE.is_file():
        sys.exit(f"the Docker catalog fixture is missing: {FIXTURE}")
    with tempfile.TemporaryDirectory(prefix="hybrid-start-") as tmp:
        home = Path(tmp)
        base = {**os.environ, "HOME": str(home), "META_MCP_DOCKER_CATALOG_DIR": str(home / "none"),
                "XDG_CACHE_HOME": str(home / "cache")}
        ways = {
            "lexical": {**base, "META_MCP_CATALOG_RANKER": "lexical"},
            "hybrid, none": {**base, "META_MCP_CATALOG_RANKER": "hybrid", "META_MCP_EMBEDDING_CACHE": "0"},
            "hybrid, kept": {**base, "META_MCP_CATALOG_RANKER": "hybrid", "META_MCP_EMBEDDING_CACHE": "1"},
        }
        cold, reference = search(ways["hybrid, kept"], home)
        size = (home / "cache" / "meta-mcp" / "vectors.bin").stat().st_size
        print(f"hybrid, first run (embeds and writes the file, {size / 1e6:.2f} MB): {cold:.2f} s", flush=True)
        times: dict[str, list[float]] = {way: [] for way in ways}
        order = list(ways)
        for rep in range(args.reps):
            for way in order[rep % 3:] + order[:rep % 3]:
                elapsed, out = search(ways[way], home)
                if way != "lexical" and json.loads(out) != json.loads(reference):
                    sys.exit(f"{way}: the answer differs from the first run's")
                times[way].append(elapsed)
                print(f"  rep {rep + 1} {way:<13} {elapsed:7.2f} s", flush=True)
    medians = {way: statistics.median(t) for way, t in times.items()}
    none = medians["hybrid, none"]
    print(f"\nmedian wall time of `meta-mcp catalog search` (Docker's fixture + the built-in catalog, "
          f"{args.reps} reps):")
    for way, median in medians.items():
        print(f"  {way:<13} {median:7.2f} s   ({median / none:.3f}x of hybrid without the file)")
    print(f"  hybrid, kept vs lexical: {medians['hybrid, kept'] / medians['lexical']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"first_run_s": cold, "file_bytes": size, "times_s": times,
                                         "medians_s": medians}, indent=1))


if __name__ == "__main__":
    main()
