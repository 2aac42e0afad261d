"""API tokens: a YAML file mapping the SHA-256 of each token to who it is.

The file holds hashes only, never a token; `meta-mcp token create` prints a new token once and
writes its hash (`meta_mcp.cli_tokens`). A request's token is hashed and compared with every entry
in constant time (`hmac.compare_digest`, no early exit). `TokenStore` re-reads the file whenever
it changes (its mtime, size or inode, checked on each lookup), so a revoked token stops working
at once, without a restart; a file that became unreadable or invalid accepts no token at all.

File format:
    # meta-mcp API tokens: the SHA-256 of each token (never the token). Written by `meta-mcp token`.
    tokens:
      3f0a…(64 hex):
        subject: alice
        workspaces: [team-a, team-b]      # or ["*"] for every workspace
        role: member                      # what the policy keys on
        created: "2026-11-20T10:00:00Z"   # optional
        note: laptop                      # optional

Example:
    token, entry_id = create_token(path, "alice", ["team-a"], "member")   # token: "mmcp_…"
    TokenStore(path).lookup(token)   # → Identity(subject="alice", workspaces=("team-a",), role="member")
    revoke_tokens(path, entry_id=entry_id)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import logging
import os
import secrets
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from meta_mcp.identity import Identity
from meta_mcp.validation import NAME_RE, NAME_RULE

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "mmcp_"
ID_LENGTH = 12
"""A token's id: the first characters of its hash (what `token list` shows and `token revoke` takes)."""
_HEADER = "# meta-mcp API tokens: the SHA-256 of each token (never the token). Written by `meta-mcp token`.\n"


class TokensFileError(ValueError):
    """The tokens file cannot be read or is not valid; the message names the file and the entry."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _identity(key: str, raw: Any, source: str) -> Identity:
    if not isinstance(raw, dict):
        raise TokensFileError(f"{source}: token {key[:ID_LENGTH]}: expected a mapping with subject, workspaces, role")
    subject, workspaces, role = raw.get("subject"), raw.get("workspaces", []), raw.get("role")
    if not isinstance(subject, str) or not subject:
        raise TokensFileError(f"{source}: token {key[:ID_LENGTH]}: 'subject' must be a non-empty string")
    if isinstance(workspaces, str):
        workspaces = [workspaces]
    if not isinstance(workspaces, list) or not all(isinstance(w, str) for w in workspaces):
        raise TokensFileError(f"{source}: token {key[:ID_LENGTH]}: 'workspaces' must be a list of names")
    bad = [w for w in workspaces if w != "*" and not NAME_RE.match(w)]
    if bad:
        raise TokensFileError(f"{source}: token {key[:ID_LENGTH]}: invalid workspace {bad[0]!r} ({NAME_RULE})")
    if not isinstance(role, str) or not role:
        raise TokensFileError(f"{source}: token {key[:ID_LENGTH]}: 'role' must be a non-empty string")
    return Identity(subject=subject, workspaces=tuple(workspaces), role=role)


def read_tokens(path: Path) -> dict[str, dict[str, Any]]:
    """The file's entries by hash (an empty dict for a missing file); `TokensFileError` if invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise TokensFileError(f"{path}: cannot read: {exc.strerror}") from None
    import yaml  # only with a tokens file: stdio and token-less HTTP never load PyYAML for it

    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise TokensFileError(f"{path}: not valid YAML: {exc}") from None
    tokens = data.get("tokens") if isinstance(data, dict) else None
    if tokens is None:
        tokens = {}
    if not isinstance(tokens, dict):
        raise TokensFileError(f"{path}: 'tokens' must be a mapping of SHA-256 → identity")
    for key, raw in tokens.items():
        if not isinstance(key, str) or len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise TokensFileError(f"{path}: {str(key)[:20]!r} is not a SHA-256 (64 lowercase hex digits)")
        _identity(key, raw, str(path))
    return tokens


class TokenStore:
    """The identities of the tokens in a file, re-read whenever the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None | bool = False  # False: never read
        self._entries: list[tuple[str, Identity]] = []

    def lookup(self, token: str) -> Identity | None:
        """The identity of `token`, or None. Every entry is compared, in constant time."""
        self._refresh()
        digest = hash_token(token)
        found = None
        for key, identity in self._entries:
            if hmac.compare_digest(key, digest):
                found = identity
        return found

    def _refresh(self) -> None:
        try:
            st = os.stat(self.path)
            stamp: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = None
        if stamp == self._stamp:
            return
        self._stamp = stamp
        if stamp is None:
            logger.warning("tokens file %s is missing: no API token is accepted", self.path)
            self._entries = []
            return
        try:
            tokens = read_tokens(self.path)
        except TokensFileError as exc:
            logger.error("%s; no API token is accepted until it is fixed", exc)
            self._entries = []
            return
        self._entries = [(key, _identity(key, raw, str(self.path))) for key, raw in tokens.items()]
        logger.info("tokens file %s: %d token(s)", self.path, len(self._entries))


# -- writing the file (`meta-mcp token …`) ------------------------------------------------------------


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise writers of `path` (two `token` commands at once must not lose an entry)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _write(path: Path, tokens: dict[str, dict[str, Any]]) -> None:
    """Replace the file atomically (readers see the old or the new file, never half of one), mode 0600."""
    import yaml

    body = _HEADER + yaml.safe_dump({"tokens": tokens}, sort_keys=False, allow_unicode=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(body)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def create_token(path: Path, subject: str, workspaces: list[str], role: str, note: str | None = None
                 ) -> tuple[str, str]:
    """Add a new token for (subject, workspaces, role); returns (the token, its id). The token is not stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = hash_token(token)
    entry: dict[str, Any] = {"subject": subject, "workspaces": list(workspaces), "role": role,
                             "created": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")}
    if note:
        entry["note"] = note
    _identity(key, entry, str(path))  # the same validation a reader applies
    with _locked(path):
        tokens = read_tokens(path)
        tokens[key] = entry
        _write(path, tokens)
    return token, key[:ID_LENGTH]


def list_tokens(path: Path) -> list[dict[str, Any]]:
    """Every entry with its id (never a token: the file has none)."""
    return [{"id": key[:ID_LENGTH], **raw} for key, raw in read_tokens(path).items()]


def revoke_tokens(path: Path, *, entry_id: str | None = None, subject: str | None = None) -> list[dict[str, Any]]:
    """Remove the token whose id starts with `entry_id` (it must name one), or every token of `subject`;
    returns the removed entries. `TokensFileError` when the id is ambiguous."""
    with _locked(path):
        tokens = read_tokens(path)
        if entry_id is not None:
            matches = [k for k in tokens if k.startswith(entry_id.lower())] if len(entry_id) >= 6 else []
            if len(matches) > 1:
                raise TokensFileError(f"{path}: id {entry_id!r} matches {len(matches)} tokens; give more of it")
        else:
            matches = [k for k, raw in tokens.items() if raw.get("subject") == subject]
        removed = [{"id": k[:ID_LENGTH], **tokens.pop(k)} for k in matches]
        if removed:
            _write(path, tokens)
    return removed
