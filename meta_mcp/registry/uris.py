"""Reversible resource-URI rewriting, so a read routes back to the server that owns the resource.

A resource `U` of a server named `S` with a non-empty prefix is exposed as `meta://S/U` (templates
likewise: `meta://S/` + the original template, so a client's expansion still lands inside `U`).
With the prefix `""` URIs are exposed unchanged; if such a URI is already exposed by another server,
the later one falls back to the `meta://` form. Reading `meta://S/U` reads `U` from `S`.

Example:
    >>> exposed_uri("everything", "test://static/resource/1")
    'meta://everything/test://static/resource/1'
    >>> split_uri('meta://everything/test://static/resource/1')
    ('everything', 'test://static/resource/1')
"""

from __future__ import annotations

SCHEME = "meta://"


def exposed_uri(server: str, uri: str) -> str:
    """The namespaced form of `uri` (or of a URI template) for `server`."""
    return f"{SCHEME}{server}/{uri}"


def split_uri(uri: str) -> tuple[str, str] | None:
    """(server, original URI) for a namespaced URI, or None when `uri` is not one."""
    if not uri.startswith(SCHEME):
        return None
    server, sep, original = uri[len(SCHEME):].partition("/")
    if not sep or not server or not original:
        return None
    return server, original
