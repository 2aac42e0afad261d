"""Opt-in OS isolation of stdio servers with bubblewrap (`bwrap`, Debian package `bubblewrap`).

A stdio server runs as meta-mcp's user. Without isolation it can read what that user can: meta-mcp's
`.env` and config file, and — unless meta-mcp scrubbed its environment and made itself non-dumpable
(the CLI does both) — `/proc/<meta-mcp>/environ` and its memory. With `META_MCP_ISOLATE_STDIO=1`,
`isolate(argv, cwd, settings)` returns an argv that runs the server under bwrap:

- its own PID namespace (`--unshare-pid`) with a fresh `/proc`: meta-mcp and every other process of
  the machine are invisible, so there is no `/proc/<pid>/environ`, `mem` or `fd` of theirs to read
  (pid 1 is bwrap, whose environment is the server's own);
- `--die-with-parent` (the server cannot outlive meta-mcp), `--new-session` (no TIOCSTI into a
  terminal on meta-mcp's stderr), its own IPC namespace;
- the file system read-only (`--ro-bind / /`), a fresh `/dev`, a private empty `/tmp` (a cwd or a
  script path under /tmp is bound back, read-only);
- the server's cwd (its own, else meta-mcp's) read-only, writable only with `isolate_cwd_writable`;
  `isolate_writable` paths read-write (e.g. `~/.cache/uv`, `~/.npm`, so uvx/npx can cache);
- hidden: meta-mcp's `.env`, its `--config` file and the `isolate_hide` paths (a file reads as empty,
  a directory as empty);
- the network is shared: servers download packages and call their APIs.

Not hidden: the rest of the file system, read-only. With isolation off, `isolate` returns `argv`
unchanged. With it on and no bwrap installed, `IsolationError` (an `OSError`): the server fails to
start and says why — it never silently runs unisolated.

Example:
    isolate(["uvx", "mcp-server-time"], None, settings)
    → ["/usr/bin/bwrap", "--die-with-parent", …, "--chdir", "/home/me", "--", "uvx", "mcp-server-time"]
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meta_mcp.settings import Settings

PRIVATE_DIRS = (Path("/tmp"),)
"""Directories the server gets as a fresh, empty tmpfs."""


class IsolationError(OSError):
    """Isolation is on but cannot be set up (bwrap missing)."""


def isolate(argv: Sequence[str], cwd: str | None, settings: Settings | None) -> list[str]:
    """`argv` wrapped to run under bwrap when `settings.isolate_stdio` is on, else `argv` unchanged."""
    if settings is None or not settings.isolate_stdio:
        return list(argv)
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise IsolationError("META_MCP_ISOLATE_STDIO is on but bwrap is not installed "
                             "(Debian/Ubuntu: apt-get install bubblewrap)")
    workdir = Path(cwd or os.getcwd()).resolve()
    out = [bwrap, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc",
           "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for private in PRIVATE_DIRS:
        out += ["--tmpfs", str(private)]
    for path in _needed_in_private_dirs(argv, workdir):
        out += ["--ro-bind", str(path), str(path)]
    writable = [workdir] if settings.isolate_cwd_writable else []
    for path in [*writable, *(_expand(p) for p in settings.isolate_writable)]:
        if path.exists():
            out += ["--bind", str(path), str(path)]
    for path in _hidden(settings):
        if path.is_dir():
            out += ["--tmpfs", str(path)]
        elif path.exists():
            out += ["--ro-bind", "/dev/null", str(path)]
    return [*out, "--chdir", str(workdir), "--", *argv]


def _expand(path: Path) -> Path:
    return path.expanduser().resolve()


def _needed_in_private_dirs(argv: Sequence[str], workdir: Path) -> Iterator[Path]:
    """The cwd and absolute paths in argv (a script to run) that a private tmpfs would hide."""
    seen: set[Path] = set()
    for candidate in (workdir, *(Path(a) for a in argv if a.startswith("/"))):
        path = candidate.resolve()
        if path not in seen and path.exists() and any(path.is_relative_to(d) for d in PRIVATE_DIRS):
            seen.add(path)
            yield path


def _hidden(settings: Settings) -> Iterator[Path]:
    """meta-mcp's own secret-holding files, then the configured extras."""
    yield Path(".env").resolve()
    if settings.config is not None:
        yield settings.config.resolve()
    for path in settings.isolate_hide:
        yield _expand(path)
