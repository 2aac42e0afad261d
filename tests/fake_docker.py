"""A stand-in for the `docker` client, for tests of Docker catalog entries (no Docker engine here).

Installed per test by `install_fake_docker(dir)` as `DIR/bin/docker`, a shell script that runs this
file with the state directory baked in. Behaviour, read from `STATE/config.json`:

- `docker info` exits with `info_exit` (0: an engine "answers"; 1: none);
- `docker run …` records the call and then, if `run_exec` is set, replaces itself with that command
  (e.g. a real MCP upstream from tests/upstreams/), else exits 0;
- every call appends one JSON line to `STATE/calls.jsonl`: `{"argv": [...], "env": {NAME: value}}`
  where `env` holds the values this process saw for each `-e NAME` it was given — what a container
  would receive.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def install_fake_docker(directory: Path, *, info_exit: int = 0, run_exec: list[str] | None = None) -> Path:
    """Write `directory/bin/docker` and its config; return the `bin` directory to put first on PATH."""
    state = directory / "fake-docker"
    state.mkdir(parents=True, exist_ok=True)
    configure_fake_docker(directory, info_exit=info_exit, run_exec=run_exec)
    bin_dir = directory / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "docker"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).resolve()}" "{state}" "$@"\n')
    script.chmod(0o755)
    return bin_dir


def configure_fake_docker(directory: Path, *, info_exit: int = 0, run_exec: list[str] | None = None) -> None:
    """Change how the stand-in answers (takes effect on its next call)."""
    state = directory / "fake-docker"
    (state / "config.json").write_text(json.dumps({"info_exit": info_exit, "run_exec": run_exec}))


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
    return 0


if __name__ == "__main__":
    sys.exit(main())
