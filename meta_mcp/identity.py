"""Who is calling: the identity a request was authenticated as, carried with every call.

Stdio serves one trusted user (`LOCAL`). Over HTTP, authentication (API tokens, OAuth access tokens)
resolves a request to an `Identity`: a subject, the workspaces it may use (`("*",)` for all) and a
role that policies key on. Without authentication (loopback, nothing configured) HTTP requests are
`LOCAL` too.

Example:
    Identity(subject="alice", workspaces=("team-a",), role="member").may_use("team-b")   # → False
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Identity:
    subject: str
    workspaces: tuple[str, ...] = ("*",)
    role: str = "admin"
    scopes: tuple[str, ...] = ()

    def may_use(self, workspace: str) -> bool:
        return "*" in self.workspaces or workspace in self.workspaces


LOCAL = Identity(subject="local")
"""The desktop's own user (stdio), and every HTTP caller when no authentication is configured."""
