"""Config values that say where a server sends its secrets, and who may change them.

A catalog entry with secrets often takes its endpoint as config (`gitlab.api_url`, `qdrant.url`): the
server sends the secret (a GitLab token, a Qdrant API key) to whatever that value names. A model that
can set it can carry the secret off without ever seeing it — and a prompt injection in any tool output
reaches a model. So for an entry with secrets, a model-driven caller (`agent_chat`'s model, sandboxed
code) may not set an endpoint field to anything but what is already stored; the user sets it (the
desktop's own client over stdio, an HTTP client, the console form, an elicitation form's answer). The
same trust line as ad-hoc specs (`servers.adhoc_refusal`).

An endpoint field is a config property whose schema says `format: uri` (or `url`, `hostname`,
`uri-reference`, `idn-hostname`) or whose name ends in `url`, `uri`, `host`, `hostname`, `endpoint`,
`server`, `address` or `base` (case and `_`/`-` ignored), at any depth of the config schema.

Example:
    endpoint_refusal(gitlab, stored={}, given={"api_url": "https://evil.example/api/v4"}, origin="agent")
    → "config field 'api_url' decides where the server sends its secrets (GITLAB_PERSONAL_ACCESS_TOKEN) …"
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from meta_mcp.providers.base import Origin

MODEL_ORIGINS: frozenset[str] = frozenset({"agent", "sandbox"})
"""Callers whose requests a model composes without a person in the loop."""
_FORMATS = frozenset({"uri", "url", "hostname", "idn-hostname", "uri-reference", "iri"})
_NAME = re.compile(r"(url|uri|host|hostname|endpoint|server|address|base)$")


def endpoint_paths(schema: Mapping[str, Any] | None, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The paths (property names from the top) of the endpoint fields in a config `schema`."""
    properties = (schema or {}).get("properties")
    if not isinstance(properties, Mapping):
        return
    for name, sub in properties.items():
        if not isinstance(sub, Mapping):
            continue
        path = (*prefix, str(name))
        if sub.get("format") in _FORMATS or _NAME.search(re.sub(r"[_\-\s]", "", str(name)).lower()):
            yield path
        if sub.get("type") == "object" or "properties" in sub:
            yield from endpoint_paths(sub, path)


def _at(values: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(values, Mapping) or key not in values:
            return None
        values = values[key]
    return values


def endpoint_refusal(entry: Any, *, stored: Mapping[str, Any], given: Mapping[str, Any], origin: Origin
                     ) -> str | None:
    """Why `origin` may not set the endpoint fields it `given` for catalog `entry` (see the module
    docstring), or None: no secrets, not a model-driven origin, or every endpoint value unchanged."""
    if origin not in MODEL_ORIGINS or not entry.secrets or not given:
        return None
    changed = [".".join(path) for path in endpoint_paths(entry.config_schema())
               if _at(given, path) is not None and _at(given, path) != _at(stored, path)]
    if not changed:
        return None
    envs = ", ".join(s.env for s in entry.secrets if s.env) or "its secrets"
    fields = ", ".join(repr(f) for f in changed)
    return (f"config field{'s' * (len(changed) > 1)} {fields} decide{'s' * (len(changed) == 1)} where the server "
            f"sends its secrets ({envs}), and a model may not change that (a prompt injection could send them "
            "anywhere). Ask the user to set it: the console's catalog form, or configure_server from their own "
            "client.")
