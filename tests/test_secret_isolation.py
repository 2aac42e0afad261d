"""Upstreams cannot read meta-mcp's secrets (issue 9, finding 4).

An ad-hoc stdio server is any program; as meta-mcp's child it used to read meta-mcp's whole
environment from `/proc/$PPID/environ` (OPENAI_API_KEY, every catalog secret). The tests start a real
meta-mcp (over stdio) with canary secrets in its environment and a probe server — an MCP server whose
tool reads its parent's `/proc` files — and check what the probe gets back:

- as root (root reads every /proc file): the environment block is readable but holds no canary,
  because meta-mcp re-executed itself with only non-secret variables (and `META_MCP_ENV_FD`, the
  hand-over marker, shows it did); with `META_MCP_SCRUB_ENV=0` the canary is there, so the probe
  would see a leak;
- as an unprivileged user (created with useradd when the tests run as root): meta-mcp is
  non-dumpable, so its environ, maps and mem cannot even be opened; cmdline (always public) holds no
  canary;
- a catalog server still gets its declared secret, and a failed re-exec falls back to running as is.

`isolate()` (bubblewrap) is tested directly: a wrapped `sh` sees its own PID namespace and a fresh
/proc, not its parent; meta-mcp's .env and config file are hidden; the cwd is read-only unless
configured. bwrap comes from Debian's `bubblewrap` (scripts/setup --tests installs it).
"""

from __future__ import annotations

import base64

import json
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp import StdioServerParameters

from meta_mcp.providers.isolation import IsolationError, isolate
from meta_mcp.settings import Settings
from support import REPO, make_client, meta_mcp_argv, text_of

CANARIES = {"PROBE_SECRET": "canary-catalog-3b1f9e", "OPENAI_API_KEY": "canary-openai-8d2c4a",
            "META_MCP_AGENT_API_KEY": "canary-agent-5e7f10", "SOME_CLOUD_TOKEN": "canary-cloud-a4b6c8"}
TEST_USER = "meta-mcp-test"

PROBE = '''
import base64, json, os
from mcp.server import MCPServer

app = MCPServer("probe")


def _read(path, limit=1 << 20):
    try:
        with open(path, "rb") as f:
            return f.read(limit).replace(b"\\0", b"\\n").decode(errors="replace")
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


@app.tool()
def parent(needles: list[str] | None = None) -> str:
    """What this server can read of its parent (meta-mcp); which needles its memory holds, if readable."""
    ppid = os.getppid()
    out = {"ppid": ppid, "uid": os.getuid(), "environ": _read(f"/proc/{ppid}/environ"),
           "cmdline": _read(f"/proc/{ppid}/cmdline"), "maps": _read(f"/proc/{ppid}/maps", 4096)}
    try:
        with open(f"/proc/{ppid}/mem", "rb") as mem:
            out["mem"] = "opened"
            found = set()
            for line in _read(f"/proc/{ppid}/maps").splitlines() if needles else ():
                span, perms = line.split()[:2]
                if perms.startswith("rw"):
                    start, end = (int(x, 16) for x in span.split("-"))
                    try:
                        mem.seek(start)
                        data = mem.read(min(end - start, 256 << 20))
                    except (OSError, OverflowError):
                        continue
                    found |= {n for n in needles if n.encode() in data}
            out["found_in_memory"] = sorted(found)
    except OSError as exc:
        out["mem"] = f"{type(exc).__name__}: {exc}"
    # base64: meta-mcp masks secret values it knows in every tool result, which would hide from the test
    # what this server could READ — the question here — behind what meta-mcp lets through.
    return base64.b64encode(json.dumps(out).encode()).decode()


@app.tool()
def own_env(name: str) -> str:
    """This server's own environment variable (base64, for the same reason)."""
    return base64.b64encode(os.environ.get(name, "").encode()).decode()


if __name__ == "__main__":
    app.run()
'''


# -- the unprivileged user ---------------------------------------------------------------------------------


def _unprivileged() -> tuple[int, int] | None:
    """(uid, gid) of a user without privileges: ours when not root; as root, TEST_USER (created with
    useradd if missing) or else nobody."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(TEST_USER)
    except KeyError:
        made = subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                               "--shell", "/usr/sbin/nologin", TEST_USER], capture_output=True, text=True)
        try:
            entry = pwd.getpwnam(TEST_USER if made.returncode == 0 else "nobody")
        except KeyError:
            pytest.skip(f"no unprivileged user: useradd failed ({made.stderr.strip()}) and there is no 'nobody'")
    return entry.pw_uid, entry.pw_gid


def _as(user: tuple[int, int] | None, argv: list[str]) -> list[str]:
    if user is None:
        return argv
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) not found: cannot drop to an unprivileged user")
    return [setpriv, f"--reuid={user[0]}", f"--regid={user[1]}", "--clear-groups", "--", *argv]


@pytest.fixture(scope="module")
def users() -> dict[str, tuple[int, int] | None]:
    """"self" runs as the test process's user; "unprivileged" as a user without privileges (the same
    as self when the tests do not run as root)."""
    return {"self": None, "unprivileged": _unprivileged()}


def _python_for(user: tuple[int, int] | None) -> tuple[str, dict[str, str]]:
    """An interpreter `user`'s own processes can exec (meta-mcp re-executes itself, and starts the probe),
    with the environment it needs to import meta-mcp: this one, else the system's Python of the same
    version with our packages on PYTHONPATH (a venv whose base interpreter lives under a private home
    cannot be exec'd by another user)."""
    if user is None:
        return sys.executable, {}
    version = "python%d.%d" % sys.version_info[:2]
    path = os.pathsep.join([str(REPO), sysconfig.get_paths()["purelib"]])
    for python, env in ((sys.executable, {}), (f"/usr/bin/{version}", {"PYTHONPATH": path})):
        check = subprocess.run(_as(user, ["/bin/sh", "-c", 'exec "$0" -c "import meta_mcp, mcp"', python]),
                               capture_output=True, text=True, cwd="/", env={"PATH": os.environ["PATH"], **env})
        if check.returncode == 0:
            return python, env
    pytest.skip(f"no {version} that the unprivileged user can run with meta-mcp's packages")


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory every user can read (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="meta-mcp-isolation-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _files(d: Path, python: str = sys.executable, env: dict[str, str] | None = None) -> tuple[Path, Path]:
    probe = d / "probe.py"
    probe.write_text(PROBE)
    catalog = d / "catalog.yaml"
    catalog.write_text(yaml.safe_dump({"registry": {"probe": {
        "title": "Probe", "description": "reads its parent's /proc files", "type": "server",
        "run": {"command": python, "args": [str(probe)], "env": env or {}},
        "secrets": [{"name": "probe.secret", "env": "PROBE_SECRET"}]}}}))
    config = d / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"adhoc": {"command": python, "args": [str(probe)], "env": env or {}}}}))
    for path in (probe, catalog, config):
        path.chmod(0o644)
    return catalog, config


def _meta(d: Path, user: tuple[int, int] | None, *extra_env: tuple[str, str]) -> Any:
    python, python_env = _python_for(user)
    catalog, config = _files(d, python, python_env)
    argv = _as(user, [python, "-m", "meta_mcp", "serve", "--config", str(config), "--catalog", str(catalog)])
    home = d / f"home-{os.urandom(4).hex()}"  # meta-mcp may keep state under $HOME
    home.mkdir()
    if user is not None:
        os.chown(home, *user)
    env = {**CANARIES, "HOME": str(home), **python_env, **dict(extra_env)}
    return make_client(StdioServerParameters(command=argv[0], args=argv[1:], env=env, cwd=str(REPO)), "legacy")


async def _parent_seen_by(client: Any, tool: str, scan_memory: bool = False) -> dict[str, Any]:
    result = await client.call_tool(tool, {"needles": list(CANARIES.values()) if scan_memory else []})
    assert not result.is_error, text_of(result)
    return json.loads(base64.b64decode(text_of(result)))


def _leaks(seen: dict[str, Any]) -> list[str]:
    text = json.dumps(seen)
    return [name for name, value in CANARIES.items() if value in text]


# -- meta-mcp's environment and memory -------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("who", ["self", "unprivileged"])
async def test_an_upstream_cannot_read_meta_mcps_secrets(who: str, users: dict[str, Any], shared_dir: Path) -> None:
    user = users[who]
    async with _meta(shared_dir, user) as client:
        for tool in ("adhoc__parent",):
            seen = await _parent_seen_by(client, tool, scan_memory=who == "unprivileged")
            assert _leaks(seen) == [], f"{who}: {_leaks(seen)} readable by an upstream: {seen['environ'][:500]}"
            assert "serve" in seen["cmdline"]  # cmdline is public, and holds no secret
            if os.geteuid() == 0 and user is None:
                # Root reads every /proc file: the block is readable, but scrubbed (the marker shows the
                # re-exec happened); root could read the memory, which nothing but a sandbox prevents.
                assert "PATH=" in seen["environ"] and "META_MCP_ENV_FD=" in seen["environ"], seen["environ"]
            else:
                for name in ("environ", "maps", "mem"):
                    assert seen[name].startswith("PermissionError"), (name, seen[name])  # non-dumpable
        added = await client.call_tool("add_server", {"name": "probe"})
        assert not added.is_error, text_of(added)
        # The secret a catalog entry declares still reaches that server (from the environment handed over).
        own = await client.call_tool("probe__own_env", {"name": "PROBE_SECRET"})
        assert base64.b64decode(text_of(own)).decode() == CANARIES["PROBE_SECRET"]
        other = await client.call_tool("probe__own_env", {"name": "OPENAI_API_KEY"})
        assert base64.b64decode(text_of(other)) == b""
        seen = await _parent_seen_by(client, "probe__parent")
        assert _leaks(seen) == []


@pytest.mark.anyio
async def test_with_scrubbing_off_the_environment_block_leaks_as_before(shared_dir: Path) -> None:
    """META_MCP_SCRUB_ENV=0 keeps the old behaviour: what the regression test above would have seen."""
    if os.geteuid() != 0:
        pytest.skip("only root can read a non-dumpable process's environ; as another user it stays unreadable")
    async with _meta(shared_dir, None, ("META_MCP_SCRUB_ENV", "0")) as client:
        seen = await _parent_seen_by(client, "adhoc__parent")
        assert set(_leaks(seen)) == set(CANARIES) and "META_MCP_ENV_FD" not in seen["environ"]


@pytest.mark.anyio
async def test_a_failed_re_exec_warns_and_runs_unscrubbed(shared_dir: Path) -> None:
    catalog, config = _files(shared_dir)
    code = ("import sys; sys.executable = '/nonexistent/python'; from meta_mcp.cli import main; "
            "sys.exit(main())")
    params = StdioServerParameters(command=sys.executable, args=["-c", code, "serve", "--config", str(config)],
                                   env=dict(CANARIES), cwd=str(REPO))
    with tempfile.TemporaryFile() as errlog:
        from mcp.client.stdio import stdio_client

        async with make_client(stdio_client(params, errlog=errlog), "legacy") as client:
            seen = await _parent_seen_by(client, "adhoc__parent")
        errlog.seek(0)
        stderr = errlog.read().decode()
    assert "could not re-execute with a scrubbed environment" in stderr, stderr
    assert "/nonexistent/python" in stderr
    if os.geteuid() == 0:
        assert set(_leaks(seen)) == set(CANARIES)  # as it was: the fallback is not a crash


def test_the_exit_code_of_the_re_executed_process_is_the_commands(shared_dir: Path) -> None:
    out = subprocess.run(meta_mcp_argv("serve", "--config", str(shared_dir / "missing.json")), capture_output=True,
                         text=True, env={**os.environ, **CANARIES}, stdin=subprocess.DEVNULL, timeout=60)
    assert (out.returncode, out.stdout) == (2, ""), out
    assert "missing.json" in out.stderr


def test_settings_and_secrets_come_from_the_environment_handed_over() -> None:
    from meta_mcp import cli_environ

    environ = {"OPENAI_API_KEY": "sk-handed-over", "META_MCP_CALL_TIMEOUT": "7"}
    settings = cli_environ.settings_from(environ, {"port": 9})
    assert type(settings) is Settings
    assert (settings.openai_api_key.get_secret_value(), settings.call_timeout, settings.port) == ("sk-handed-over", 7, 9)
    kept = [n for n, v in [("PATH", "/bin"), ("HOME", "/h"), ("UV_INDEX_URL", "u"), ("PYTHONPATH", "p"),
                           ("META_MCP_LOG_LEVEL", "DEBUG"), ("META_MCP_AGENT_API_KEY", "k"), ("OPENAI_API_KEY", "k"),
                           ("META_MCP_STATE_URL", "redis://:pw@h/0"), ("AWS_SECRET_ACCESS_KEY", "k"),
                           ("BASH_FUNC_x%%", "() { :; }"), ("GITHUB_TOKEN", "t")] if cli_environ.kept(n, v)]
    assert kept == ["PATH", "HOME", "UV_INDEX_URL", "PYTHONPATH", "META_MCP_LOG_LEVEL"]


# -- bubblewrap -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bwrap() -> str:
    path = shutil.which("bwrap")
    if path is None:
        pytest.skip("bwrap is not installed (Debian package bubblewrap; scripts/setup --tests installs it)")
    probe = subprocess.run([path, "--ro-bind", "/", "/", "--unshare-pid", "--proc", "/proc", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"this machine does not let bwrap create namespaces: {probe.stderr.strip()}")
    return path


def _isolated(argv: list[str], cwd: Path | None = None, **settings: Any) -> list[str]:
    return isolate(argv, str(cwd) if cwd else None, Settings(isolate_stdio=True, **settings))


def test_isolation_is_off_by_default_and_loud_without_bwrap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert isolate(["uvx", "x"], None, Settings()) == ["uvx", "x"]
    assert isolate(("uvx", "x"), "/tmp", None) == ["uvx", "x"]
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(IsolationError, match="bwrap is not installed"):
        _isolated(["uvx", "x"])


PARENT = '''
import json, os, subprocess, sys
from meta_mcp.providers.isolation import isolate
from meta_mcp.settings import Settings
script = 'cat /proc/1/environ; echo; echo "PPID=$PPID"; cat /proc/"$1"/environ; echo; echo PIDS $(ls /proc | grep -E "^[0-9]+$")'
argv = isolate(["sh", "-c", script, "sh", str(os.getpid())], None, Settings(isolate_stdio=True))
done = subprocess.run(argv, env={"PATH": os.environ["PATH"], "HOME": "/nonexistent"}, capture_output=True, text=True)
print(json.dumps({"code": done.returncode, "out": done.stdout, "err": done.stderr, "parent": os.getpid()}))
'''


@pytest.mark.parametrize("who", ["self", "unprivileged"])
def test_an_isolated_server_cannot_see_its_parent(who: str, users: dict[str, Any], bwrap: str) -> None:
    """`sh -c 'cat /proc/1/environ; ls /proc'` under isolate(): its own PID namespace and /proc; the
    parent, which holds a canary in its environment block, does not exist there."""
    argv = _as(users[who], [sys.executable, "-c", PARENT])
    done = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=60,
                          env={"PATH": os.environ["PATH"], "CANARY": CANARIES["OPENAI_API_KEY"]})
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["code"] == 0 and "PATH=" in seen["out"], seen  # pid 1 is bwrap, with the server's environment
    assert CANARIES["OPENAI_API_KEY"] not in seen["out"] + seen["err"]
    pids = seen["out"].split("PIDS", 1)[1].split()
    assert str(seen["parent"]) not in pids and len(pids) <= 6, (seen["parent"], pids)  # bwrap, sh, ls, grep
    assert f"/proc/{seen['parent']}/environ: No such file" in seen["err"], seen["err"]
    assert "PPID=1\n" in seen["out"]  # the server's parent is the namespace's init, not meta-mcp


def test_isolation_hides_env_and_config_and_keeps_the_cwd_read_only(bwrap: str, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "meta-home"  # meta-mcp's cwd, with its .env
    home.mkdir()
    (home / ".env").write_text(f"OPENAI_API_KEY={CANARIES['OPENAI_API_KEY']}\n")
    config = home / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"x": {"command": "y", "headers": {"k": CANARIES["PROBE_SECRET"]}}}}))
    secret_dir = tmp_path / "creds"
    secret_dir.mkdir()
    (secret_dir / "token").write_text(CANARIES["SOME_CLOUD_TOKEN"])
    work = tmp_path / "server-cwd"
    work.mkdir()
    monkeypatch.chdir(home)
    scratch = Path("/tmp") / f"meta-mcp-isolation-{os.urandom(4).hex()}"
    script = (f"cat {home}/.env {config} {secret_dir}/token; ls {secret_dir}; pwd; "
              f"touch here 2>/dev/null && echo WROTE-CWD; echo tmp > {scratch} && cat {scratch}")
    env = {"PATH": os.environ["PATH"]}

    def run(**settings: Any) -> str:
        argv = _isolated(["sh", "-c", script], work, config=config, isolate_hide=[secret_dir], **settings)
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        return done.stdout + done.stderr

    out = run()
    assert not [name for name, value in CANARIES.items() if value in out], out
    assert str(work) in out and "WROTE-CWD" not in out and "tmp" in out, out
    assert not (work / "here").exists()
    out = run(isolate_cwd_writable=True)
    assert "WROTE-CWD" in out and (work / "here").exists(), out
    assert not scratch.exists()  # the server's /tmp was its own


@pytest.mark.anyio
async def test_an_mcp_server_speaks_through_the_sandbox(bwrap: str) -> None:
    """The wrapped argv is a working stdio transport: a real upstream answers through bwrap."""
    argv = _isolated([sys.executable, str(REPO / "tests" / "upstreams" / "echo.py")], REPO)
    assert argv[0] == bwrap and "--unshare-pid" in argv
    async with make_client(StdioServerParameters(command=argv[0], args=argv[1:], cwd=str(REPO)), "legacy") as client:
        assert text_of(await client.call_tool("echo", {"text": "through bwrap"})) == "through bwrap"


@pytest.mark.anyio
async def test_meta_mcp_runs_its_stdio_servers_isolated_when_asked(shared_dir: Path, bwrap: str) -> None:
    """With META_MCP_ISOLATE_STDIO=1 the launcher wraps every stdio server in bwrap: even with the
    environment scrub off (the block would leak, see above), the server sees no meta-mcp to read."""
    if os.geteuid() != 0:
        pytest.skip("the leak this guards against is only visible to root (non-dumpable otherwise)")
    async with _meta(shared_dir, None, ("META_MCP_SCRUB_ENV", "0"), ("META_MCP_ISOLATE_STDIO", "1")) as client:
        seen = await _parent_seen_by(client, "adhoc__parent")
        assert _leaks(seen) == [], seen["environ"][:500]
        assert seen["ppid"] == 1 and seen["cmdline"].startswith(bwrap)  # its parent: bwrap, pid 1 of its namespace
