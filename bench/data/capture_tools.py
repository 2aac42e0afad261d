"""Capture the real tool listings of MCP servers into `bench/data/tool_listings.json`, the data of
`bench/find_quality.py --tools`.

Each server is started over stdio and asked for `tools/list` (every page) with the SDK's client; its
tools are recorded as they came (name, title, description, inputSchema), and the file's header says
which package (and version) each came from, how it was started and when. The servers are not part of
the project: install them somewhere else first, e.g.

    mkdir -p /tmp/mcpcap && cd /tmp/mcpcap && echo '{"private":true}' > package.json
    npm install @modelcontextprotocol/server-filesystem@2026.8.31 @modelcontextprotocol/server-memory@2026.8.31 \
        @modelcontextprotocol/server-sequential-thinking@2026.8.31 @modelcontextprotocol/server-github@2025.4.8 \
        @modelcontextprotocol/server-slack@2025.4.25 @modelcontextprotocol/server-postgres@0.6.2 \
        @modelcontextprotocol/server-google-maps@0.6.2 @modelcontextprotocol/server-brave-search@0.6.2
    uv venv py && VIRTUAL_ENV=py uv pip install mcp-server-git==2026.10.19 mcp-server-fetch==2026.10.24 \
        mcp-server-time==2026.10.19
    cd /work/main && uv run python bench/data/capture_tools.py --npm /tmp/mcpcap --py /tmp/mcpcap/py

`@modelcontextprotocol/server-everything` comes from the project's own node_modules (package.json).
Servers that want an API key get a placeholder (`capture-only`): listing tools calls no API.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters

REPO = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "tool_listings.json"
KEEP = ("name", "title", "description", "inputSchema")


def servers(npm: Path, py: Path, scratch: Path) -> list[dict[str, Any]]:
    """(server name, package, version, command line, env) of every server captured."""
    node = "node"

    def js(package: str, root: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
        meta = json.loads((root / "node_modules" / package / "package.json").read_text())
        bin_ = meta["bin"] if isinstance(meta["bin"], str) else next(iter(meta["bin"].values()))
        entry = root / "node_modules" / package / bin_
        return {"package": f"npm {package}", "version": meta["version"], "command": node,
                "args": [str(entry), *args], "env": env or {}}

    def python(package: str, module: str, *args: str) -> dict[str, Any]:
        version = subprocess.run([str(py / "bin" / "python"), "-c",
                                  f"import importlib.metadata as m; print(m.version({package!r}))"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        return {"package": f"PyPI {package}", "version": version, "command": str(py / "bin" / "python"),
                "args": ["-m", module, *args], "env": {}}

    repo_dir = scratch / "repo"
    subprocess.run(["git", "init", "-q", str(repo_dir)], check=True)
    return [
        {"server": "everything", **js("@modelcontextprotocol/server-everything", REPO, "stdio")},
        {"server": "filesystem", **js("@modelcontextprotocol/server-filesystem", npm, str(scratch))},
        {"server": "memory", **js("@modelcontextprotocol/server-memory", npm,
                                  env={"MEMORY_FILE_PATH": str(scratch / "memory.json")})},
        {"server": "sequentialthinking", **js("@modelcontextprotocol/server-sequential-thinking", npm)},
        {"server": "git", **python("mcp-server-git", "mcp_server_git", "--repository", str(repo_dir))},
        {"server": "time", **python("mcp-server-time", "mcp_server_time")},
        {"server": "fetch", **python("mcp-server-fetch", "mcp_server_fetch")},
        {"server": "github", **js("@modelcontextprotocol/server-github", npm,
                                  env={"GITHUB_PERSONAL_ACCESS_TOKEN": "capture-only"})},
        {"server": "slack", **js("@modelcontextprotocol/server-slack", npm,
                                 env={"SLACK_BOT_TOKEN": "capture-only", "SLACK_TEAM_ID": "capture-only"})},
        {"server": "postgres", **js("@modelcontextprotocol/server-postgres", npm,
                                    "postgresql://capture@127.0.0.1:1/none")},
        {"server": "google-maps", **js("@modelcontextprotocol/server-google-maps", npm,
                                       env={"GOOGLE_MAPS_API_KEY": "capture-only"})},
        {"server": "brave-search", **js("@modelcontextprotocol/server-brave-search", npm,
                                        env={"BRAVE_API_KEY": "capture-only"})},
    ]


async def listing(spec: dict[str, Any]) -> list[dict[str, Any]]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **spec["env"]}
    params = StdioServerParameters(command=spec["command"], args=spec["args"], env=env)
    tools: list[dict[str, Any]] = []
    async with Client(params, mode="legacy", cache=None) as client:
        cursor = None
        while True:
            page = await client.list_tools(cursor=cursor)
            for tool in page.tools:
                data = tool.model_dump(by_alias=True, exclude_none=True, mode="json")
                tools.append({k: data[k] for k in KEEP if k in data})
            cursor = page.next_cursor
            if not cursor:
                return tools


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--npm", type=Path, required=True, help="folder whose node_modules has the npm servers")
    parser.add_argument("--py", type=Path, required=True, help="virtualenv with the PyPI servers")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    out: dict[str, Any] = {
        "about": "Real tools/list answers of MCP servers, captured by bench/data/capture_tools.py for "
                 "bench/find_quality.py --tools: each tool's name, title, description and inputSchema as the "
                 "server sent them (nothing edited). `sources` says which package and version each came "
                 "from, how it was started and when.",
        "captured": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%MZ"),
        "sources": {},
        "servers": {},
    }
    with tempfile.TemporaryDirectory(prefix="capture-") as scratch:
        for spec in servers(args.npm.resolve(), args.py.resolve(), Path(scratch)):
            tools = await asyncio.wait_for(listing(spec), 60)
            name = spec["server"]
            out["servers"][name] = tools
            out["sources"][name] = {
                "package": spec["package"], "version": spec["version"], "tools": len(tools),
                "started_as": " ".join([Path(spec["command"]).name, *[a.replace(scratch, "<tmp>").split(
                    "node_modules/")[-1] for a in spec["args"]]]),
                "env": {k: ("<tmp path>" if scratch in v else v) for k, v in spec["env"].items()},
            }
            print(f"{name}: {len(tools)} tools ({spec['package']} {spec['version']})", file=sys.stderr)
    args.out.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}: {sum(len(t) for t in out['servers'].values())} tools of {len(out['servers'])} servers",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
