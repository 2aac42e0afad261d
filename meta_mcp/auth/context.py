"""The caller being served, for code that is not handed a `CallContext`.

The HTTP guard sets it for each request (so the chat API's operations, and the agent it runs, act as
the request's identity), and the policy interceptor sets it around each tool call (so an operation a
meta tool runs, such as `add_server`, sees the identity of the call). Outside both — stdio, meta-mcp's
own work — it is `LOCAL` with no policy.

Example:
    with acting_as(Caller(identity, policy)):
        await add_server(ws, "time", origin="http")   # add_server asks current_caller() for the rules
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from meta_mcp.identity import LOCAL, Identity

if TYPE_CHECKING:
    from meta_mcp.auth.policy import PolicyStore, Rules
    from meta_mcp.providers.base import CallContext


@dataclass(frozen=True, slots=True)
class Caller:
    identity: Identity = LOCAL
    policy: PolicyStore | None = None

    def rules(self, workspace: str) -> Rules | None:
        """The policy's rules for this caller in `workspace`; None when no policy applies."""
        return self.policy.rules(self.identity, workspace) if self.policy is not None else None


IDENTITY_KEY = "meta_mcp.identity"
"""Where the HTTP guard (`auth.guard`) puts the request's `Identity` in the ASGI scope."""


def identity_in(scope: Mapping[str, Any], default: Identity) -> Identity:
    """The identity the guard put in `scope`, else `default` (no guard in front)."""
    identity = scope.get(IDENTITY_KEY)
    return identity if isinstance(identity, Identity) else default


_CALLER: ContextVar[Caller] = ContextVar("meta_mcp.caller", default=Caller())


def current_caller() -> Caller:
    return _CALLER.get()


def identity_of(call: CallContext) -> Identity:
    """Who makes `call`: its own identity, or — when it carries none (the chat API's agent) — the caller's."""
    return call.identity if call.identity is not LOCAL else _CALLER.get().identity


@contextmanager
def acting_as(caller: Caller) -> Iterator[None]:
    token = _CALLER.set(caller)
    try:
        yield
    finally:
        _CALLER.reset(token)
