"""Docker MCP catalog templates: `{{server.param|filter|…}}` inside command, volumes, env and user.

Semantics follow Docker's MCP gateway so Docker's catalog entries launch the way Docker launches them:

- a path `a.b.c` digs into the config context; a missing or null value is `""`;
- a string that is exactly one `{{…}}` term evaluates to the raw value (a list stays a list); a string
  mixing text and terms is rendered as one string;
- filters: `volume` (`p` → `p:p`), `volume-target` (`p` → `p`), `into` (a value → a list of strings),
  `first`, `last`, `or:DEFAULT` (`or:[a,b]` for a list default), `mount_as:PATH` (`p` → `p:PATH`),
  `safe` (no-op). Filters apply element-wise to lists where Docker does so. Unknown filters are
  ignored, as Docker ignores them.
- `evaluate_list` flattens list values into separate arguments and keeps `""` results (callers drop
  empty volumes themselves);
- text outside `{{…}}` is kept as written, braces included (a JSON value stays JSON).

Where config meets secrets, `fill` / `fill_list` expand `$NAME` / `${NAME}` in the catalog's own text
only: a value filled in from config is data — never expanded, never read twice — so a client's config
cannot name a secret (`{"port": "1/leak/${API_KEY}"}` stays that literal text).

Example:
    >>> evaluate_list(["{{fs.paths|volume|into}}"], {"fs": {"paths": ["/a", "/b"]}})
    ['/a:/a', '/b:/b']
    >>> evaluate("--user={{hub.username}}", {"hub": {"username": "ann"}})
    '--user=ann'
    >>> fill("Bearer ${KEY} for {{x.who}}", {"x": {"who": "${KEY}"}}, {"KEY": "k"})
    'Bearer k for ${KEY}'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

_TERM = re.compile(r"(\{\{.*?\}\})")
_ENV_REF = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_TEMPLATE_PATH = re.compile(r"\{\{\s*([^|}]+?)\s*(?:\||\}\})")


def render(value: Any) -> str:
    """A value as Docker's gateway prints it: booleans lower-case, null empty, lists comma-joined."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return ",".join(render(v) for v in value)
    return str(value)


def dig(path: str, context: Mapping[str, Any]) -> Any:
    """The value at dotted `path` in `context`, or `""` when any step is missing."""
    value: Any = context
    for part in path.strip().split("."):
        if not isinstance(value, Mapping):
            return ""
        value = value.get(part.strip())
    return "" if value is None else value


def _each(value: Any, fn: Any) -> Any:
    return [fn(v) for v in value] if isinstance(value, list) else fn(value)


def _or(value: Any, default: str) -> Any:
    if isinstance(value, list):
        if value:
            return value
        if default.startswith("[") and default.endswith("]"):
            inner = default[1:-1]
            return inner.split(",") if inner else []
        return default
    return default if value in (None, "") else value


def _mount_as(value: Any, target: str) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return "" if value in (None, "") else f"{render(value)}:{target.strip()}"


def _filter(value: Any, name: str) -> Any:
    name = name.strip()
    if name == "volume":
        return _each(value, lambda v: "" if v in (None, "", [], {}) else f"{render(v)}:{render(v)}")
    if name == "volume-target":
        return _each(value, lambda v: "" if v in (None, "", [], {}) else render(v))
    if name == "into":
        return [render(v) for v in value] if isinstance(value, list) else [render(value)]
    if name == "first":
        return value[0] if isinstance(value, list) and value else ("" if isinstance(value, list) else value)
    if name == "last":
        return value[-1] if isinstance(value, list) and value else ("" if isinstance(value, list) else value)
    if name.startswith("or:"):
        return _or(value, name[3:])
    if name.startswith("mount_as:"):
        return _mount_as(value, name[9:])
    return value  # "safe" and unknown filters leave the value alone


def _is_term(part: str) -> bool:
    return part.startswith("{{") and part.endswith("}}")


def split_terms(expression: str) -> list[str]:
    """`expression` split into `{{…}}` terms and the literal text between them (none empty)."""
    return [part for part in _TERM.split(expression) if part]


def _term(term: str, context: Mapping[str, Any]) -> Any:
    if not _is_term(term):
        return term
    path, *filters = term[2:-2].split("|")
    value = dig(path, context)
    for name in filters:
        value = _filter(value, name)
    return value


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    """Evaluate one template string (see the module docstring for what a single term returns)."""
    terms = split_terms(expression)
    if not terms:
        return ""
    if len(terms) == 1:
        return _term(terms[0], context)
    return "".join(render(_term(t, context)) for t in terms)


def evaluate_list(expressions: Sequence[str], context: Mapping[str, Any]) -> list[str]:
    """Evaluate each expression; list results become several items (Docker's `EvaluateList`)."""
    out: list[str] = []
    for expression in expressions:
        value = evaluate(expression, context)
        if isinstance(value, list):
            out.extend(render(v) for v in value)
        else:
            out.append(render(value))
    return out


def fill(expression: str, context: Mapping[str, Any], env: Mapping[str, str],
         quote: Callable[[str], str] | None = None) -> str:
    """`expression` as one string: `$NAME` / `${NAME}` expanded from `env` in its literal text only, each
    `{{…}}` term filled from `context` as data (rendered, then passed through `quote` if given; never
    expanded). Use it wherever templates and secrets meet."""
    out = []
    for part in split_terms(expression):
        if _is_term(part):
            value = render(_term(part, context))
            out.append(quote(value) if quote else value)
        else:
            out.append(expand_env(part, env))
    return "".join(out)


def fill_list(expressions: Sequence[str], context: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """Arguments from `expressions`: one that is a single term becomes its value(s), like `evaluate_list`
    (a list gives several arguments); any other is `fill`ed. Config values are never expanded."""
    out: list[str] = []
    for expression in expressions:
        parts = split_terms(expression)
        if len(parts) == 1 and _is_term(parts[0]):
            out.extend(evaluate_list(parts, context))
        else:
            out.append(fill(expression, context, env))
    return out


def env_refs(text: str) -> list[str]:
    """Names referenced as `$NAME` or `${NAME}` in `text`."""
    return [m.group(1) or m.group(2) for m in _ENV_REF.finditer(text)]


def expand_env(text: str, values: Mapping[str, str]) -> str:
    """Replace `$NAME` / `${NAME}` with `values[NAME]` (`""` when unknown), like Go's `os.Expand`."""
    return _ENV_REF.sub(lambda m: values.get(m.group(1) or m.group(2), ""), text)


def template_paths(text: str) -> list[str]:
    """The dotted config paths a string's `{{…}}` terms read, e.g. `["git.paths"]`."""
    return [m.group(1).strip() for m in _TEMPLATE_PATH.finditer(text)]
