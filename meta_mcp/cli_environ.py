"""Start-up of `meta-mcp serve`: keep no secret in our own environment block, and nobody else reads our memory.

/proc/<pid>/environ shows the environment a process was *started* with (the original memory block):
unsetting variables later does not erase it, and any process of the same user — every stdio server
meta-mcp starts — can read it. So `serve` re-executes itself at once with only non-secret variables
(`kept`) in its environment, handing the full environment over in an anonymous in-memory file
whose descriptor is named by ENV_FD_VAR; the new process reads and closes it, and builds Settings
and Services from that mapping (`settings_from`). The same PID, stdin, stdout and stderr carry on, so a
host sees one process and its exit code. If the re-exec cannot happen, meta-mcp warns and runs as it is.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meta_mcp.settings import Settings

ENV_FD_VAR = "META_MCP_ENV_FD"
_ENV_MAGIC = b"meta-mcp-environ-1\0"
_PR_SET_DUMPABLE = 4
_RUNTIME_ENV = ("VIRTUAL_ENV", "LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "TZ")
"""Besides what stdio servers inherit: what the interpreter itself needs to start the same way again
(plus every PYTHON* variable)."""


def warn(message: str) -> None:
    """One warning line on stderr (stdout may carry the protocol)."""
    print(f"meta-mcp: warning: {message}", file=sys.stderr, flush=True)


def set_non_dumpable() -> None:
    """PR_SET_DUMPABLE 0: processes of the same user (our stdio servers) can no longer read our
    /proc/<pid>/environ, mem, maps or fds, nor ptrace us. Linux only; root is not stopped by it."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            warn(f"prctl(PR_SET_DUMPABLE, 0) failed: {os.strerror(ctypes.get_errno())}")
    except (OSError, AttributeError) as exc:
        warn(f"cannot make the process non-dumpable: {exc}")


def early_setting(environ: Mapping[str, str], name: str) -> str | None:
    """A setting's raw value before Settings exist: the environment, then ./.env; None if neither sets it."""
    value = environ.get(name)
    if value is None and Path(".env").is_file():
        from dotenv import dotenv_values

        value = dotenv_values(".env").get(name)
    return value


def env_flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    """A boolean setting before Settings exist: the environment, then ./.env, then `default`."""
    value = early_setting(environ, name)
    if value is None or not value.strip():
        return default
    return value.strip().lower() not in ("0", "false", "no", "off", "f", "n")


def kept(name: str, value: str) -> bool:
    """Whether a variable may stay in our environment block: what stdio servers inherit, what the
    interpreter needs, and META_MCP_* settings that are not secrets."""
    from meta_mcp.providers.process import INHERITED_ENV, INHERITED_PREFIXES
    from meta_mcp.redaction import looks_secret

    if value.startswith("()"):
        return False  # a shell function
    if name in INHERITED_ENV or name.startswith(INHERITED_PREFIXES) or name in _RUNTIME_ENV:
        return True
    if name.startswith("PYTHON"):
        return True
    return name.startswith("META_MCP_") and not looks_secret(name) and "@" not in value


def startup_environ(args: argparse.Namespace, real_command_line: bool) -> Mapping[str, str]:
    """The environment meta-mcp was started with. On first start (a real command line, scrubbing on,
    something to scrub) this re-executes the process and does not return; in the re-executed process
    it returns the environment handed over."""
    marker = os.environ.pop(ENV_FD_VAR, None)
    if marker is not None:
        handed = _read_handed_over(marker)
        if handed is not None:
            return handed
        warn(f"{ENV_FD_VAR} does not name meta-mcp's environment hand-over; using the process environment")
        return os.environ
    if os.name != "posix" or not real_command_line or args.scrub_env is False or not env_flag(
            os.environ, "META_MCP_SCRUB_ENV", True):
        return os.environ
    if all(kept(k, v) for k, v in os.environ.items()):
        return os.environ
    _reexec_scrubbed()  # returns only when the re-exec failed
    return os.environ


def handover(environ: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The content of a hand-over file carrying `environ` (what the next image's `startup_environ` reads)."""
    return _ENV_MAGIC + b"".join(k + b"=" + v + b"\0" for k, v in environ)


def handover_fd(content: bytes) -> int:
    """An inheritable descriptor of a nameless file with `content` (see `handover`); the caller closes it."""
    fd = _anonymous_file(content)
    os.set_inheritable(fd, True)
    return fd


def _reexec_scrubbed() -> None:
    fd = -1
    try:
        if not sys.executable or not hasattr(os, "execve"):
            raise OSError("no interpreter path to re-execute")
        fd = handover_fd(handover(os.environb.items()))
        scrubbed = {k: v for k, v in os.environb.items() if kept(os.fsdecode(k), os.fsdecode(v))}
        scrubbed[ENV_FD_VAR.encode()] = str(fd).encode()
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, sys.orig_argv, scrubbed)
    except (OSError, ValueError) as exc:
        if fd >= 0:
            os.close(fd)
        warn(f"could not re-execute with a scrubbed environment ({exc}); secrets in meta-mcp's environment "
             "stay readable in /proc/<pid>/environ by processes allowed to read it")


def _anonymous_file(data: bytes) -> int:
    """A descriptor of a file with `data`, positioned at 0, with no name anywhere (memfd, else an
    unlinked temporary file)."""
    try:
        fd = os.memfd_create("meta-mcp-environ", 0)
    except (AttributeError, OSError):
        import tempfile

        with tempfile.TemporaryFile() as tmp:  # unlinked at creation; the dup outlives the with
            fd = os.dup(tmp.fileno())
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        os.close(fd)
        raise
    return fd


def _read_handed_over(marker: str) -> dict[str, str] | None:
    """The environment our previous image wrote to descriptor `marker`, which is then closed; None if
    the descriptor is not such a hand-over (it is then left alone)."""
    import stat

    try:
        fd = int(marker)
        if fd <= 2 or not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        os.lseek(fd, 0, os.SEEK_SET)
        if os.read(fd, len(_ENV_MAGIC)) != _ENV_MAGIC:
            return None
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        os.close(fd)
    except (ValueError, OSError):
        return None
    environ = {}
    for item in b"".join(chunks).split(b"\0"):
        name, sep, value = item.partition(b"=")
        if sep and name:
            environ[os.fsdecode(name)] = os.fsdecode(value)
    return environ


def settings_from(environ: Mapping[str, str], overrides: dict) -> Settings:
    """Settings read from `environ` (the environment handed over) instead of the process environment,
    then `.env` and `overrides`, with the precedence Settings documents."""
    from pydantic_settings import EnvSettingsSource
    from pydantic_settings.sources.utils import parse_env_vars

    from meta_mcp.settings import Settings

    class FromMapping(EnvSettingsSource):
        def _load_env_vars(self):  # pydantic-settings' hook for where variables come from
            return parse_env_vars(environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)

    class HandedOver(Settings, title="Settings"):  # the title names it in validation errors
        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                       file_secret_settings):
            return init_settings, FromMapping(settings_cls), dotenv_settings, file_secret_settings

    built = HandedOver(**overrides)
    return Settings.model_construct(_fields_set=built.model_fields_set, **dict(built))


def checked_settings(environ: Mapping[str, str], overrides: dict | None = None) -> Settings | None:
    """`settings_from`, or None with the error on stderr when a setting is invalid (every command's way)."""
    from pydantic import ValidationError

    try:
        return settings_from(environ, overrides or {})
    except ValidationError as exc:
        print(f"meta-mcp: invalid setting: {exc}", file=sys.stderr)
        return None


def serve_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings | None:
    """`serve`'s Settings: its options over `environ`; None, with the error on stderr, when a setting is invalid."""
    return checked_settings(environ, {k: v for k, v in vars(args).items() if k != "command" and v is not None})
