"""A stand-in for the `docker` client, for tests of Docker catalog entries (no Docker engine here).

Installed per test by `install_fake_docker(dir)` as `DIR/bin/docker`, a shell script that runs this
file with the state directory baked in. Behaviour, read from `STATE/config.json`:

- `docker info` exits with `info_exit` (0: an engine "answers"; 1: none);
- `docker run …` records the call and then, if `run_exec` is set, replaces itself with that command
  (e.g. a real MCP upstream from tests/upstreams/), else exits 0;
- every call appends one JSON line to `STATE/calls.jsonl`: `{"argv": [...], "env": {NAME: value}}`
  where `env` holds the values this process saw for each `-e NAME` it was given — what a container
  would receive.

`docker mcp …` answers as the MCP Toolkit plugin of docker/mcp-gateway v0.43.3 would (see
tests/fake_gateway.py for the pinned source), or — when the plugin "is missing" — exactly as Docker
CLI 28.2.2 without the plugin answers (`docker: unknown command: docker mcp`, exit 1; an unknown flag
exits 125; `--help` prints Docker's own help, exit 0). Settings come from environment variables, else
from `configure_fake_docker(mcp_…=…)`:

- `FAKE_DOCKER_MCP_MISSING=1` (`mcp_missing`): the plugin is not installed;
- `FAKE_DOCKER_SECRETS` (`mcp_secrets`): the `name=value` secrets file that `docker mcp secret …`
  reads and writes and the gateway injects (default `STATE/mcp-secrets.env`);
- `FAKE_DOCKER_MCP_CATALOG` (`mcp_catalog`): catalog file(s) (`os.pathsep`-separated) for
  `docker mcp gateway run` when no `--catalog` is given;
- `FAKE_DOCKER_MCP_CONFIG_SET_SCHEMA` (`mcp_config_set_schema`): `old` for the <= v0.31 mcp-config-set.

Commands: `docker mcp --help` / `docker mcp` (the plugin's help), `docker mcp version` and
`docker mcp --version` (`v0.43.3`), `docker mcp secret ls [--json]` (a table of
`docker/mcp/<name> | docker-pass`, or `[{"name": …, "provider": "docker-pass"}]` indented by 2),
`docker mcp secret set NAME=VALUE` or `docker mcp secret set NAME` with the value's first line on
stdin (its line break is not kept: the file holds one line per secret; the real CLI keeps it),
`docker mcp secret rm NAME… | --all`, and `docker mcp gateway run [flags]`, which execs
tests/fake_gateway.py with the same flags (`--transport stdio` by default, as the real default;
`--port`, `--host`, `--servers`, `--catalog`, `--secrets` (a file, or `docker-desktop` for the file
above), `--block-secrets`, `--long-lived`, `--allow-unauthenticated` are honoured, other real flags
accepted and ignored) and the catalog/secrets above. Other `docker mcp` subcommands answer
`unknown command "X" for "docker mcp"` (exit 1).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

PLUGIN_VERSION = "v0.43.3"
DOCKER_VERSION = "Docker version 28.2.2, build e6534b4"
FAKE_GATEWAY = Path(__file__).resolve().parent / "fake_gateway.py"


def install_fake_docker(directory: Path, *, info_exit: int = 0, run_exec: list[str] | None = None,
                        **mcp: Any) -> Path:
    """Write `directory/bin/docker` and its config; return the `bin` directory to put first on PATH.

    `mcp` takes the `mcp_…` settings of `configure_fake_docker`.
    """
    state = directory / "fake-docker"
    state.mkdir(parents=True, exist_ok=True)
    configure_fake_docker(directory, info_exit=info_exit, run_exec=run_exec, **mcp)
    bin_dir = directory / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "docker"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).resolve()}" "{state}" "$@"\n')
    script.chmod(0o755)
    return bin_dir


def configure_fake_docker(directory: Path, *, info_exit: int = 0, run_exec: list[str] | None = None,
                          mcp_missing: bool = False, mcp_secrets: str | os.PathLike[str] | None = None,
                          mcp_catalog: str | os.PathLike[str] | None = None,
                          mcp_config_set_schema: str | None = None) -> None:
    """Change how the stand-in answers (takes effect on its next call). Environment variables win."""
    state = directory / "fake-docker"
    (state / "config.json").write_text(json.dumps({
        "info_exit": info_exit, "run_exec": run_exec, "mcp_missing": mcp_missing,
        "mcp_secrets": None if mcp_secrets is None else str(mcp_secrets),
        "mcp_catalog": None if mcp_catalog is None else str(mcp_catalog),
        "mcp_config_set_schema": mcp_config_set_schema,
    }))


def fake_docker_calls(directory: Path) -> list[dict]:
    """The recorded calls, oldest first."""
    log = directory / "fake-docker" / "calls.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def _env_names(argv: list[str]) -> list[str]:
    names = []
    for i, arg in enumerate(argv):
        if arg in ("-e", "--env") and i + 1 < len(argv):
            names.append(argv[i + 1].split("=", 1)[0])
    return names


def main() -> int:
    state = Path(sys.argv[1])
    argv = sys.argv[2:]
    config = json.loads((state / "config.json").read_text())
    seen = {name: os.environ.get(name) for name in _env_names(argv)}
    with open(state / "calls.jsonl", "a", encoding="utf-8") as log:
        log.write(json.dumps({"argv": argv, "env": seen}) + "\n")
    if argv[:1] == ["info"]:
        return int(config.get("info_exit", 0))
    if argv[:1] == ["run"] and config.get("run_exec"):
        command = config["run_exec"]
        os.execv(command[0], command)
    if argv[:1] == ["mcp"]:
        return _mcp(state, config, argv[1:])
    return 0


# ---- docker mcp -----------------------------------------------------------------------------------

_DOCKER_HELP = """Usage:  docker [OPTIONS] COMMAND

A self-sufficient runtime for containers

Common Commands:
  run         Create and run a new container from an image
  exec        Execute a command in a running container
  ps          List containers
  build       Build an image from a Dockerfile
  pull        Download an image from a registry
  push        Upload an image to a registry
  images      List images
  login       Authenticate to a registry
  logout      Log out from a registry
  search      Search Docker Hub for images
  version     Show the Docker version information
  info        Display system-wide information

Global Options:
      --config string      Location of client config files
  -c, --context string     Name of the context to use to connect to the daemon
  -D, --debug              Enable debug mode
  -H, --host list          Daemon socket to connect to
  -l, --log-level string   Set the logging level
  -v, --version            Print version information and quit

Run 'docker COMMAND --help' for more information on a command.

For more help on how to use Docker, head to https://docs.docker.com/go/guides/
"""

_PLUGIN_HELP = """Docker MCP Toolkit's CLI - Manage your MCP servers and clients.

Usage: docker mcp [OPTIONS]

Flags:
  -v, --version   Print version information and quit

Available Commands:
  catalog     Manage MCP server catalogs
  client      Manage MCP clients
  config      Manage the configuration
  feature     Manage experimental features
  gateway     Manage the MCP Server gateway
  oauth       Manage OAuth app authorizations
  secret      Manage secrets in the local OS Keychain
  server      Manage servers
  tools       Manage tools
  version     Show the version information
"""

# Docker's root flags that take a value / take none (cobra parses them wherever they appear).
_ROOT_VALUE_FLAGS = {"--config", "--context", "-c", "--host", "-H", "--log-level", "-l", "--tlscacert", "--tlscert", "--tlskey"}
_ROOT_BOOL_FLAGS = {"--debug", "-D", "--tls", "--tlsverify", "--help", "-h", "--version", "-v"}


def _setting(config: dict[str, Any], env: str, key: str) -> Any:
    value = os.environ.get(env)
    return value if value not in (None, "") else config.get(key)


def _without_plugin(args: list[str]) -> int:
    """Docker CLI 28.2.2 with no `mcp` plugin installed."""
    usage = "\n\nUsage:  docker [OPTIONS] COMMAND [ARG...]\n\nRun 'docker --help' for more information\n"
    wants_help = wants_version = shorthand_help = False
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg == "--":
            break
        if arg.startswith("--"):
            name = arg.split("=", 1)[0]
            if name not in _ROOT_VALUE_FLAGS | _ROOT_BOOL_FLAGS:
                sys.stderr.write(f"unknown flag: {name}{usage}")
                return 125
            skip = name in _ROOT_VALUE_FLAGS and "=" not in arg
            wants_help |= name == "--help"
            wants_version |= name == "--version"
        elif arg.startswith("-") and len(arg) > 1:
            for i, ch in enumerate(arg[1:]):
                flag = "-" + ch
                if flag not in _ROOT_VALUE_FLAGS | _ROOT_BOOL_FLAGS:
                    sys.stderr.write(f"unknown shorthand flag: '{ch}' in {arg}{usage}")
                    return 125
                if flag in _ROOT_VALUE_FLAGS:
                    skip = i == len(arg) - 2
                    break
                shorthand_help |= flag == "-h"
                wants_help |= flag == "-h"
                wants_version |= flag == "-v"
    if wants_help:
        if shorthand_help:
            sys.stdout.write("Flag shorthand -h has been deprecated, use --help\n")
        sys.stdout.write(_DOCKER_HELP)
        return 0
    if wants_version:
        sys.stdout.write(DOCKER_VERSION + "\n")
        return 0
    sys.stderr.write("docker: unknown command: docker mcp\n\nRun 'docker --help' for more information\n")
    return 1


def _secrets_file(state: Path, config: dict[str, Any]) -> Path:
    return Path(_setting(config, "FAKE_DOCKER_SECRETS", "mcp_secrets") or state / "mcp-secrets.env")


def _read_secrets(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            out[name.strip()] = value
    return out


def _write_secrets(path: Path, secrets: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{name}={value}\n" for name, value in secrets.items()), encoding="utf-8")


def _valid_secret_name(name: str) -> bool:
    import re

    return bool(re.fullmatch(r"[A-Za-z0-9_.:-]+(/[A-Za-z0-9_.:-]+)*", name))


def _mcp(state: Path, config: dict[str, Any], args: list[str]) -> int:
    if str(_setting(config, "FAKE_DOCKER_MCP_MISSING", "mcp_missing") or "").lower() in ("1", "true", "yes"):
        return _without_plugin(args)
    words = [a for a in args if not a.startswith("-")]
    if not words:
        if any(a in ("--version", "-v") for a in args):
            print(PLUGIN_VERSION)
            return 0
        sys.stdout.write(_PLUGIN_HELP)
        return 0
    if words[0] == "help" or (words[0] in ("secret", "gateway") and "--help" in args):
        sys.stdout.write(_PLUGIN_HELP)
        return 0
    if words[0] == "version":
        print(PLUGIN_VERSION)
        return 0
    if words[0] == "secret":
        return _secret(state, config, args[args.index("secret") + 1:])
    if words[:2] == ["gateway", "run"]:
        return _gateway_run(state, config, args[args.index("run") + 1:])
    sys.stderr.write(f'unknown command "{words[0]}" for "docker mcp"\n')
    return 1


def _secret(state: Path, config: dict[str, Any], args: list[str]) -> int:
    path = _secrets_file(state, config)
    if not args:
        sys.stdout.write("Usage: docker mcp secret COMMAND\n\nCommands:\n  ls, rm, set\n")
        return 0
    command, rest = args[0], args[1:]
    if command == "ls":
        as_json = "--json" in rest
        unknown = [a for a in rest if a != "--json"]
        if unknown:
            sys.stderr.write(f"unknown flag: {unknown[0]}\n" if unknown[0].startswith("-") else
                             f'unknown command "{unknown[0]}" for "docker mcp secret ls"\n')
            return 1
        names = sorted(_read_secrets(path), key=str.lower)
        if as_json:
            print(json.dumps([{"name": n, "provider": "docker-pass"} for n in names], indent=2))
            return 0
        rows = [(f"docker/mcp/{n}", "docker-pass") for n in names]
        if rows:
            w0 = min(max(len(r[0]) for r in rows), 40)
            w1 = min(max(len(r[1]) for r in rows), 120)
            for a, b in rows:
                a = a if len(a) <= w0 else a[: w0 - 1] + "…"
                print(f"{a.ljust(w0)} | {b.ljust(w1)}")
        return 0
    if command == "set":
        positional = [a for a in rest if not a.startswith("--provider")]
        if len(positional) != 1:
            sys.stderr.write(f"accepts 1 arg(s), received {len(positional)}\n")
            return 1
        arg = positional[0]
        if "=" in arg:
            name, value = arg.split("=", 1)
        else:
            name = arg
            value = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        if not _valid_secret_name(name):
            sys.stderr.write(f'invalid secret name "{name}"\n')
            return 1
        secrets = _read_secrets(path)
        secrets[name] = value
        _write_secrets(path, secrets)
        return 0
    if command == "rm":
        remove_all = "--all" in rest
        names = [a for a in rest if a != "--all"]
        if not names and not remove_all:
            sys.stderr.write("either provide a secret name or use --all to remove all secrets\n")
            return 1
        secrets = _read_secrets(path)
        if remove_all:
            _write_secrets(path, {})
            return 0
        failed = [n for n in names if n not in secrets]
        for n in names:
            secrets.pop(n, None)
        _write_secrets(path, secrets)
        for n in failed:
            sys.stderr.write(f"could not delete secret: {n}\nsecret not found\nexit status 1\n")
        return 1 if failed else 0
    sys.stderr.write(f'unknown command "{command}" for "docker mcp secret"\n')
    return 1


def _gateway_run(state: Path, config: dict[str, Any], args: list[str]) -> int:
    """Exec tests/fake_gateway.py with the real command's flags (stdio by default)."""
    passthrough: list[str] = []
    catalogs: list[str] = []
    secrets: str | None = None
    transport = "stdio"
    i = 0

    def value(name: str, eq: str, inline: str) -> str:
        nonlocal i
        if eq:
            return inline
        i += 1
        if i >= len(args):
            raise SystemExit(f"flag needs an argument: {name}")
        return args[i]

    while i < len(args):
        arg = args[i]
        name, eq, inline = arg.partition("=")

        if name in ("--catalog", "--additional-catalog"):
            catalogs += [c for c in value(name, eq, inline).split(",") if c]
        elif name == "--secrets":
            secrets = value(name, eq, inline)
        elif name == "--transport":
            transport = value(name, eq, inline)
        elif name in ("--port", "--host", "--servers", "--tools", "--config", "--registry", "--tools-config",
                      "--additional-config", "--additional-registry", "--additional-tools-config", "--interceptor",
                      "--oci-ref", "--mcp-registry", "--cpus", "--memory", "--log", "--profile"):
            v = value(name, eq, inline)
            if name in ("--port", "--host", "--servers"):
                passthrough += [name, v]
        elif name in ("--block-secrets", "--long-lived", "--allow-unauthenticated", "--log-calls", "--verbose",
                      "--watch", "--verify-signatures", "--static", "--dry-run", "--block-network", "--debug-dns",
                      "--enable-all-servers"):
            if name in ("--block-secrets", "--long-lived"):
                passthrough.append(arg)
            elif name == "--allow-unauthenticated" and inline.lower() not in ("false", "0"):
                passthrough.append(name)
        else:
            sys.stderr.write(f"unknown flag: {name}\n")
            return 1
        i += 1
    if not catalogs:
        setting = _setting(config, "FAKE_DOCKER_MCP_CATALOG", "mcp_catalog")
        catalogs = [c for c in str(setting or "").split(os.pathsep) if c]
    if secrets in (None, "docker-desktop") or str(secrets).startswith("docker-desktop:"):
        secrets = str(_secrets_file(state, config))
    argv = [sys.executable, str(FAKE_GATEWAY), "--transport", transport, "--secrets", secrets]
    for catalog in catalogs:
        argv += ["--catalog", catalog]
    schema = _setting(config, "FAKE_DOCKER_MCP_CONFIG_SET_SCHEMA", "mcp_config_set_schema")
    if schema:
        argv += ["--config-set-schema", str(schema)]
    argv += passthrough
    sys.stdout.flush()
    os.execv(argv[0], argv)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
