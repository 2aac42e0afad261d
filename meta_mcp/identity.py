"""Who is calling: the identity a request was authenticated as, carried with every call.

Stdio serves one trusted user (`LOCAL`); the policy does not apply to it. Over HTTP, authentication
(API tokens, OAuth access tokens; see `meta_mcp.auth`) resolves a request to an `Identity`: a
subject, the workspaces it may use (`("*",)` for all) and a role that the policy keys on. Without
authentication (loopback, nothing configured, or `--insecure-no-auth`) every HTTP caller is
`ANONYMOUS`: all workspaces, role "anonymous", and the policy's defaults apply to it.

A workspace header only chooses among an identity's workspaces; without one a request uses
`default_workspace` (the identity's first, or "default" for an identity of every workspace).

Example:
    Identity(subject="alice", workspaces=("team-a",), role="member").may_use("team-b")   # → False
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from meta_mcp.validation import NAME_RE

DEFAULT_WORKSPACE = "default"
"""The workspace of stdio and of a request that names none (the same name `registry.workspaces` uses)."""


@dataclass(frozen=True, slots=True)
class Identity:
    subject: str
    workspaces: tuple[str, ...] = ("*",)
    role: str = "admin"
    scopes: tuple[str, ...] = ()

    def may_use(self, workspace: str) -> bool:
        return "*" in self.workspaces or workspace in self.workspaces

    @property
    def default_workspace(self) -> str:
        """The workspace a request without a workspace header uses."""
        if "*" in self.workspaces or not self.workspaces:
            return DEFAULT_WORKSPACE
        return self.workspaces[0]


LOCAL = Identity(subject="local")
"""The desktop's own user (stdio) and meta-mcp itself: trusted, never limited by the policy."""

ANONYMOUS = Identity(subject="anonymous", role="anonymous")
"""Every HTTP caller when no authentication is configured (the policy's defaults and role "anonymous" apply)."""


def personal_workspace(user: str) -> str:
    """The workspace of a user id (the seed's `X-User-Id`, an OAuth `sub`): the id itself when it is a valid
    workspace name, else `user-<sha256[:16]>` (deterministic, collision-resistant)."""
    if NAME_RE.match(user):
        return user
    return "user-" + hashlib.sha256(user.encode("utf-8", "surrogatepass")).hexdigest()[:16]
