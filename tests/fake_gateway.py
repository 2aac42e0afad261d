"""A stand-in for the Docker MCP Gateway (`docker mcp gateway run`), for tests on a machine without Docker.

Pinned to docker/mcp-gateway **v0.43.3**: its behaviour was read from the source at commit
2bd20fe83dd04870e8d87dc1ed059d4d19fc7c68 (v0.43.3 plus dependency/CI bumps only), files
pkg/gateway/{run,transport,auth,reload,capabilitites,tool_names,dynamic_mcps,findmcps,mcpadd,mcpexec,
configset,codemode,clientpool,configuration}.go, pkg/interceptors/block_secrets.go, pkg/secretsscan,
pkg/eval, pkg/codemode, and the vendored go-sdk v1.4.1 (streamable handler, list_changed debounce,
error codes). `--config-set-schema old` gives mcp-config-set as it was up to v0.31.0. Written from that
behaviour in Python with the MCP SDK's low-level `Server`; no Go code or prose was copied, except the
result texts clients parse, which are reproduced exactly.

    python tests/fake_gateway.py --transport streaming|stdio [--port N] [--host H]
        --catalog FILE [--catalog FILE ...] [--secrets FILE]
        [--token T | --allow-unauthenticated] [--config-set-schema old|new]
        [--block-secrets[=true|false]] [--long-lived] [--tool-name-prefix] [--servers a,b]

(`--servers a,b` starts with those servers' tools listed and no dynamic tools, as the gateway does;
`--log-calls`, `--verbose`, `--watch`, `--verify-signatures`, `--static`, `--dry-run` are accepted and
ignored. `FAKE_GATEWAY_CONFIG_SET_SCHEMA=old` is the same as `--config-set-schema old`. Logs, the
URL and a generated token go to stderr; `/health` answers 200 once the stand-in is ready.)

`write_example_catalog(dir)` writes a catalog of the test upstreams (echo, rich, dockeronly) for tests.

Transports: `streaming` (aliases `http`, `streamable`, `streamable-http`; port 8811 by default) or
`stdio` (`--port` is refused, as by the real CLI). Over HTTP: `/mcp` is the streamable-HTTP endpoint
with sessions (`Mcp-Session-Id`) and SSE-framed replies; `/health` answers 200 without auth; any
other path is a 307 redirect to `/mcp` (behind auth, as in the gateway). Auth: `Authorization: Bearer
<token>` with the token from `--token`, else `MCP_GATEWAY_AUTH_TOKEN`, else 50 random [a-z0-9]
characters printed to stderr; failure is `401 Unauthorized` with `WWW-Authenticate: Bearer
realm="MCP Gateway"`. A non-localhost `Origin` on `/mcp` is a 403 (`Forbidden: Origin, if set, must be
localhost, 127.0.0.1, or ::1, got: <origin>`), then the go-sdk's own checks: a POST whose `Origin`
does not match `Host` (no `Sec-Fetch-Site`) is a 403 (`cross-origin request detected, and/or browser
is out of date: Sec-Fetch-Site is missing, and Origin does not match Host`), a non-loopback `Host`
on a loopback listener a 403, a POST `Content-Type` other than exactly `application/json` a 415, an
unsupported `MCP-Protocol-Version` a 400 (so the 2026-07-28 stateless era is refused, as go-sdk
v1.4.1 does). serverInfo is `Docker AI MCP Gateway` 2.0.1.

Catalog: Docker's catalog format (`registry:` name -> entry). Entries are started as LOCAL processes
from our `run: {command, args, env}` extension (see docs/catalog.md), with the SDK's stdio client;
`remote: {url, transport_type}` entries are connected over streamable HTTP (or SSE). Docker's
`secrets: [{name, env}]` are read from `--secrets FILE` (`name=value` lines, read afresh on every
mcp-add and launch, so `docker mcp secret set` takes effect at once) and given to the process in its
`env`; a declared secret that is missing is passed as `<UNKNOWN>` (as the gateway does). `run.env`
values and Docker `env:` items are rendered like the gateway renders container env (`{{server.key}}`
templates over the values stored by mcp-config-set, else `$VAR` expansion over the secrets), `run.args`
and `run.command` like the gateway renders an image's `command:`. Tools are exposed under their own
names (the gateway adds no prefix unless the `tool-name-prefix` feature (`--tool-name-prefix`) or the
entry's `prefix:` says so: then `<prefix>__<tool>`); a name collision makes mcp-add fail with the
gateway's collision text. As in the gateway, a server is NOT kept running: every tools/call (and the
listing done by mcp-add) starts the process, uses it once and stops it, unless the entry has
`longLived: true` or `--long-lived` is given (then one process per client session, kept until the
stand-in exits); remote entries are always kept per session.

Dynamic tools (on unless `--servers` is given) and their exact texts:
- `mcp-find {query*, limit}` -> one text item, compact JSON with sorted keys (Go's encoder, `<>&`
  escaped): `{"prompt":Q,"servers":[{"config_schema"?:[...],"description"?:D,"long_lived":B,"name":N,
  "required_secrets"?:[...],"tool_name_warnings"?:[...]}],"total_matches":K}`; ranked with the
  gateway's BM25 (name x4, title x3, description x1, tool names x2, tool descriptions x1).
- `mcp-add {name*, activate=true}` -> always text, never isError:
  `Successfully added N tools in server 'X'. Assume that it is fully configured and ready to use.`
  + (when N > 0) ``\n\nNewly added tools:\n```json\n{"tools": [{"description","inputSchema","name"}]}\n```
  `` (Go's MarshalIndent, 2 spaces, sorted keys);
  `Error: Cannot add server 'X'. Missing required secrets (a, b) and config (c (missing)).\n\nThe
  server was not added. Please configure these first:\nRequired secrets:\n  docker mcp secret set
  a=<value>\n  docker mcp secret set b=<value>\n\nRequired configuration: c (missing)\nUse the
  mcp-config-set tool to configure these values.` (each half only when it applies; a config item
  present but invalid reads `c (validating root: ...)`, cut to 100 characters);
  `Error: Server 'X' not found in catalog. Use mcp-find to search for available servers.`;
  `Error: Cannot add server 'X'. tool name collision: ...`;
  `Error: Failed to pull image 'I' for server 'X'.\n\nDetails: ...\n\nThe server was not added. Please
  check the image name and your network connection.` (an entry with only `image:` here).
  A server whose process does not start is "added" with 0 tools, as in the gateway.
- `mcp-remove {name*}` -> `Successfully removed server 'X'.` (also when X was not added); a name not
  in the catalog is a JSON-RPC error `failed to remove server configuration: server X not found in
  configuration`.
- `mcp-config-set {server*, config*}` -> `Successfully set config for server 'X':\n\n<json>` or
  `Successfully updated config for server 'X':\n\nOld config:\n<json>\n\nNew config:\n<json>`;
  validation failure is isError: `Config validation failed for server 'X':\n\n  - item: error\n...`
  followed by `\nServer config schema:\n\nitem:\n  <schema json>\n`. Unknown server: the not-found
  text above. Sends no list_changed. With `--config-set-schema old`: `{server*, key*, value*}` ->
  `Successfully set config for server 'X': key = value` / `Successfully updated config for server 'X':
  key = value (was: old)` (+ ` (Note: server 'X' is not in the current catalog)`), never validated.
- `mcp-exec {name*, arguments}` -> the tool's result unchanged; unknown tool: `Error: Tool 'T' not
  found in current session. Make sure the server providing this tool is added to the session.`;
  a failing tool: JSON-RPC error `tool execution failed: <error>` (code kept).
- `code-mode {servers*, name*}` -> creates tool `code-mode-<name>` `{script*}` (text starting
  `Successfully created code-mode tool 'code-mode-<name>'`); unknown server: `Error: Server 'X' not
  found in configuration. Use mcp-find to search for available servers.`. Running it returns one text
  item: the script's return value printed like Go's `%v` (`<no output>` for undefined/null), or
  `Error running script: <error>`.
- Handler errors are JSON-RPC errors with code 0 (e.g. `missing arguments`, `name parameter is
  required`); an unknown tool is -32602 `unknown tool "X"`.
- `--block-secrets` (default true): every tools/call's arguments (compact JSON) are scanned with the
  gateway's secret patterns: JSON-RPC error (code 0) `a secret is being passed to tool X`; the text
  of a result likewise: `a secret is being returned by the X tool`.
- State is global: one registry for all sessions; every change of the tool set (add, remove, code-mode)
  sends `notifications/tools/list_changed` to every session, debounced 10 ms (prompts and resources
  likewise with their own notifications); mcp-config-set sends none.

Deviations from the real gateway (deliberate; none changes a text above):
1. No Docker: servers run as local processes (`run:`) or are reached at their `remote:` URL. An entry
   with only `image:` fails at mcp-add with the pull-failure text; an entry with none of `image`,
   `remote`, `run` (Docker's POCI tool groups) is "added" with 0 tools. Not offered: containers,
   networks, volumes, `user`, `--cpus/--memory`, signature checks, interceptors, policies, OAuth/DCR,
   profiles, embeddings, `find-tools`, `mcp-create-profile`/`mcp-activate-profile`, the nanobot
   secrets UI, watch/reload, `--tools` filters.
2. Secrets come from the `--secrets` file for both the mcp-add check and the process env (the gateway
   asks the Secrets Engine, and when that is unreachable treats every secret as present).
3. `--token` is the stand-in's own flag (the gateway reads only `MCP_GATEWAY_AUTH_TOKEN`);
   `--host` defaults to 127.0.0.1 (the gateway binds all interfaces); `--transport sse` is not
   offered. HTTP details not listed above (DELETE, GET streams, idle sessions, which never expire)
   are the Python SDK's; tools/list pages hold 1000 items with an opaque cursor, as go-sdk's.
4. mcp-find ties are broken by catalog order (Go's map order is random).
5. Tool descriptions of the dynamic tools, the code-mode preamble and the mcp-discover prompt text
   are paraphrased, not copied (names, schemas and result texts are exact). Upstream tools are
   passed through as the Python SDK parses them (all MCP 2025-11-25 fields).
6. code-mode runs JavaScript with Deno (PyPI `deno`, every permission denied) instead of goja. Tool
   functions are synchronous, as in goja (the bridge reads stdin synchronously), so scripts need no
   await. But Deno is a newer engine than goja; error texts carry no goja position suffix
   (`ReferenceError: x is not defined`, not `... at <eval>:2:1(3)`); a failing tool call throws
   `GoError: <message>`; `console.*` goes to the stand-in's stderr (goja's to the gateway's stdout);
   Go's `%v` of the result is imitated (maps as `map[k:v]` with sorted keys, floats as `%g`). The
   servers a script needs are started for the run and stopped after it (the gateway never releases
   them).
7. The secret scanner ports the gateway's token-shaped rules (AWS, GitHub, GitLab, Hugging Face,
   private keys, Slack, Stripe, PyPI, npm, Docker PAT, JWT, SendGrid, ... see SECRET_RULES); the
   `<vendor> key = "..."` keyword rules (Facebook, Twitter, Adobe, ...) are not ported. As in the
   gateway it looks for token shapes, not for the values of configured secrets.
8. Config validation messages imitate google/jsonschema-go for type, enum, required, properties,
   items and additionalProperties only.
9. Kept (long-lived) processes live until the stand-in exits (the gateway stops them when their
   session ends); an upstream's own list_changed is ignored; a refused mcp-add leaves nothing behind
   (the gateway keeps the name in its enabled list, which matters only for its reloads).
10. Progress notifications of an upstream call are forwarded on the calling request; other `_meta`
    of a tools/call is not passed upstream.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import decimal
import json
import logging
import math
import os
import re
import secrets as _random
import sys
import tempfile
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import mcp_types as types
import yaml
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.server import NotificationOptions, Server, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS

GATEWAY_VERSION = "v0.43.3"
SOURCE_COMMIT = "2bd20fe83dd04870e8d87dc1ed059d4d19fc7c68"
SERVER_NAME = "Docker AI MCP Gateway"
SERVER_VERSION = "2.0.1"
DEFAULT_PORT = 8811
PAGE_SIZE = 1000
INVALID_PARAMS = -32602
RESOURCE_NOT_FOUND = -32002
# go-sdk v1.4.1, newest first (as in its 400 text).
GO_SDK_PROTOCOL_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")

RESERVED_TOOL_NAMES = frozenset({
    "code-mode", "find-tools", "mcp-activate-profile", "mcp-add", "mcp-config-set", "mcp-create-profile",
    "mcp-exec", "mcp-find", "mcp-registry-import", "mcp-remove",
})
RESERVED_PROMPT_NAMES = frozenset({"mcp-discover"})

def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# Go-compatible renderings
# --------------------------------------------------------------------------------------------------

def _go_escape(text: str) -> str:
    """Go's encoding/json escapes <, >, & and U+2028/U+2029 (HTML-safe output)."""
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def go_json(value: Any, *, indent: bool = False, prefix: str = "") -> str:
    """json.Marshal (compact) or json.MarshalIndent(v, prefix, "  ") of a map-based value: sorted keys."""
    if indent:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, indent=2)
        if prefix:
            text = text.replace("\n", "\n" + prefix)
    else:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return _go_escape(text)


def go_float(value: float) -> str:
    """Go's %v of a float64: strconv 'g' with the shortest digits, exponent form when exp < -4 or >= 6."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign, digits, exponent = decimal.Decimal(repr(value)).as_tuple()
    ds = "".join(map(str, digits)).lstrip("0")
    dp = len(ds) + int(exponent)  # position of the decimal point relative to the digit string
    ds = ds.rstrip("0") or "0"
    exp = dp - 1
    minus = "-" if sign else ""
    if exp < -4 or exp >= 6:
        mantissa = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{minus}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if dp <= 0:
        return f"{minus}0.{'0' * -dp}{ds}"
    if dp >= len(ds):
        return f"{minus}{ds}{'0' * (dp - len(ds))}"
    return f"{minus}{ds[:dp]}.{ds[dp:]}"


def go_format(value: Any, *, top: bool = True) -> str:
    """Go's fmt %v of a value decoded from JSON (maps print as map[k:v ...] with sorted keys)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 2**63:
            return str(int(value))
        return go_float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(go_format(v, top=False) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_format(value[k], top=False)}" for k in sorted(value)) + "]"
    return str(value)


def go_quote(text: str) -> str:
    """strconv.Quote, close enough for config values."""
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _go_unmarshal_kind(value: Any) -> str:
    """The JSON kind in Go's 'cannot unmarshal X into ...' errors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# --------------------------------------------------------------------------------------------------
# Catalog, secrets, config
# --------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Entry:
    """One catalog entry, as written (Docker's keys plus our `run:`)."""

    name: str
    spec: dict[str, Any]

    @property
    def title(self) -> str:
        return str(self.spec.get("title") or "")

    @property
    def description(self) -> str:
        return str(self.spec.get("description") or "")

    @property
    def secrets(self) -> list[dict[str, Any]]:
        return [s for s in (self.spec.get("secrets") or []) if isinstance(s, dict) and s.get("name")]

    @property
    def config(self) -> list[Any]:
        return list(self.spec.get("config") or [])

    @property
    def long_lived(self) -> bool:
        return bool(self.spec.get("longLived", False))

    @property
    def prefix(self) -> str:
        return str(self.spec.get("prefix") or "")

    @property
    def tools(self) -> list[dict[str, str]]:
        out = []
        for tool in self.spec.get("tools") or []:
            if isinstance(tool, str):
                out.append({"name": tool, "description": ""})
            elif isinstance(tool, dict):
                out.append({"name": str(tool.get("name") or ""), "description": str(tool.get("description") or "")})
        return out

    @property
    def run(self) -> dict[str, Any] | None:
        run = self.spec.get("run")
        return run if isinstance(run, dict) and run.get("command") else None

    @property
    def remote(self) -> dict[str, Any] | None:
        remote = self.spec.get("remote")
        if isinstance(remote, dict) and remote.get("url"):
            return remote
        if self.spec.get("sseEndpoint"):
            return {"url": self.spec["sseEndpoint"], "transport_type": "sse"}
        return None

    @property
    def image(self) -> str:
        return str(self.spec.get("image") or "")

    @property
    def is_server(self) -> bool:
        """An MCP server (the gateway: image, sseEndpoint or remote.url; here also `run:`), not a POCI."""
        return bool(self.image or self.remote or self.run)


def load_catalogs(paths: list[str]) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    for path in paths:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        registry = data.get("registry") or {}
        if not isinstance(registry, dict):
            raise SystemExit(f"{path}: 'registry' is not a mapping")
        for name, spec in registry.items():
            if isinstance(spec, dict):
                entries[str(name)] = Entry(str(name), spec)
    return entries


def read_secrets(path: str | None) -> dict[str, str]:
    """A `name=value` file (blank lines and `#` comments ignored); a missing file has no secrets."""
    if not path:
        return {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or "=" not in line:
            continue
        name, value = line.split("=", 1)
        out[name.strip()] = value
    return out


def canonical(server: str) -> str:
    return server.replace(".", "_")


# Docker's template language (pkg/eval): `{{path|filter|...}}`, terms concatenated with %v.
_TERMS = re.compile(r"{{.*?}}|[^{}]+")


def _dig(key: str, config: Any) -> Any:
    key = key.strip()
    top, _, rest = key.partition(".")
    if not _:
        value = config.get(key) if isinstance(config, dict) else None
        return "" if value is None else value
    child = config.get(top.strip()) if isinstance(config, dict) else None
    if not isinstance(child, dict):
        return ""
    return _dig(rest, child)


def _each(value: Any, fn: Callable[[Any], str]) -> Any:
    return [fn(v) for v in value] if isinstance(value, list) else fn(value)


def _volume(v: Any) -> str:
    s = go_format(v)
    return s if ":" in s else f"{s}:{s}"


def _volume_target(v: Any) -> str:
    s = go_format(v)
    return s.split(":")[1] if ":" in s else s


def _evaluate_term(term: str, config: dict[str, Any]) -> Any:
    if not (term.startswith("{{") and term.endswith("}}")):
        return term
    path, bar, functions = term[2:-2].partition("|")
    value = _dig(path, config)
    if not bar:
        return value
    for f in functions.split("|"):
        name = f.strip()
        if name == "volume":
            value = _each(value, _volume)
        elif name == "volume-target":
            value = _each(value, _volume_target)
        elif name == "into":
            value = value if isinstance(value, list) else go_format(value)
        elif name == "first":
            value = value[0] if isinstance(value, list) and value else ("" if isinstance(value, list) else value)
        elif name == "last":
            value = value[-1] if isinstance(value, list) and value else ("" if isinstance(value, list) else value)
        elif f.startswith("or:"):
            if value in ("", None, []):
                value = f.split(":", 1)[1]
        elif f.startswith("mount_as:"):
            target = f.split(":", 1)[1]
            value = _each(value, lambda v, t=target: f"{go_format(v)}:{t}")
    return value


def evaluate(expression: str, config: dict[str, Any]) -> Any:
    terms = _TERMS.findall(expression)
    if not terms:
        return ""
    if len(terms) == 1:
        return _evaluate_term(terms[0], config)
    return "".join(go_format(_evaluate_term(t, config)) for t in terms)


def evaluate_list(expressions: list[Any], config: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for expression in expressions:
        value = evaluate(go_format(expression) if not isinstance(expression, str) else expression, config)
        if isinstance(value, list):
            out.extend(go_format(v, top=False) for v in value)
        else:
            out.append(go_format(value))
    return out


def expand_env(value: str, env: dict[str, str]) -> str:
    """os.Expand: $NAME and ${NAME} from env, else empty."""
    def repl(m: re.Match[str]) -> str:
        return env.get(m.group(1) or m.group(2), "")
    return re.sub(r"\$\{([^}]*)\}|\$([A-Za-z0-9_]+)", repl, value)


# --------------------------------------------------------------------------------------------------
# Config validation (imitating google/jsonschema-go's messages)
# --------------------------------------------------------------------------------------------------

def _schema_path(path: str) -> str:
    return path or "root"


def validate_schema(instance: Any, schema: Any, path: str = "") -> str | None:
    """None when valid, else an error like `validating root: required: missing properties: ["x"]`."""
    if not isinstance(schema, dict):
        return None
    err = _validate(instance, schema, path)
    return None if err is None else f"validating {_schema_path(path)}: {err}"


def _validate(instance: Any, schema: dict[str, Any], path: str) -> str | None:
    want = schema.get("type")
    if want is not None:
        got = _json_type(instance)
        wants = want if isinstance(want, list) else [want]
        ok = got in wants or (got == "integer" and "number" in wants)
        if not ok:
            shown = go_format(instance)
            if isinstance(want, list):
                return f'type: {shown} has type "{got}", want one of "{", ".join(wants)}"'
            return f'type: {shown} has type "{got}", want "{want}"'
    if "enum" in schema and isinstance(schema["enum"], list) and instance not in schema["enum"]:
        return f"enum: {go_format(instance)} does not equal any of: {go_format(schema['enum'])}"
    if isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(instance):
            sub = f"{path}/items"
            err = _validate(item, schema["items"], sub)
            if err is not None:
                return f"validating {sub}: {err}"
            del i
    if isinstance(instance, dict):
        props = schema.get("properties") or {}
        for name, sub_schema in props.items():
            if name in instance and isinstance(sub_schema, dict):
                sub = f"{path}/properties/{name}"
                err = _validate(instance[name], sub_schema, sub)
                if err is not None:
                    return f"validating {sub}: {err}"
        if schema.get("additionalProperties") is False:
            extra = sorted(k for k in instance if k not in props)
            if extra:
                return "unexpected additional properties " + "[" + " ".join(f'"{k}"' for k in extra) + "]"
        required = schema.get("required")
        if isinstance(required, list):
            missing = [r for r in required if r not in instance]
            if missing:
                return "required: missing properties: [" + " ".join(f'"{m}"' for m in missing) + "]"
    return None


# --------------------------------------------------------------------------------------------------
# Secret scanning (a port of pkg/secretsscan's token-shaped rules)
# --------------------------------------------------------------------------------------------------

_START = r"(?:[^0-9a-zA-Z]|^)"
_END = r"""["']?[.,]?(?:\s+|$)"""
# (id, keywords, pattern); keywords are matched case-insensitively first, as in the gateway.
SECRET_RULES: list[tuple[str, tuple[str, ...], re.Pattern[str]]] = [
    (rule_id, keywords, re.compile(pattern)) for rule_id, keywords, pattern in [
        ("aws-access-key-id", ("AKIA", "AGPA", "AidA", "AROA", "AIPA", "ANPA", "ANVA", "ASIA"),
         _START + r"(?P<secret>(?:A3T[A-Z0-9]|AKIA|AGPA|AidA|AROA|AIPA|ANPA|ANVA|ASIA)[A-Z0-9]{16})" + _END),
        ("aws-secret-access-key", ("key",),
         r"""(?i:["']?aws_?(?:sec(?:ret)?)?_?(?:access)?_?key["']?\s*(?::|=>|=)?\s*["']?(?P<secret>[A-Za-z0-9/+=]{40})["']?[.,]?(?:\s+|$))"""),
        ("github-pat", ("ghp_",), _START + r"(?P<secret>ghp_[0-9a-zA-Z]{36})"),
        ("github-oauth", ("gho_",), _START + r"(?P<secret>gho_[0-9a-zA-Z]{36})"),
        ("github-app-token", ("ghu_", "ghs_"), _START + r"(?P<secret>(?:ghu|ghs)_[0-9a-zA-Z]{36})"),
        ("github-refresh-token", ("ghr_",), _START + r"(?P<secret>ghr_[0-9a-zA-Z]{76})"),
        ("github-fine-grained-pat", ("github_pat_",), r"github_pat_[a-zA-Z0-9]{22}_[a-zA-Z0-9]{59}"),
        ("gitlab-pat", ("glpat-",), _START + r"(?P<secret>glpat-[0-9a-zA-Z\-_]{20})"),
        ("hugging-face-access-token", ("hf_",), _START + r"(?P<secret>hf_[A-Za-z0-9]{34,40})"),
        ("private-key", ("-----",),
         (r"(?i:-----\s*?BEGIN[ A-Z0-9_-]*?PRIVATE KEY(?: BLOCK)?\s*?-----[\s]*?(?P<secret>[A-Za-z0-9=+/\\\r\n]"
          r"[A-Za-z0-9=+/\\\s]+)[\s]*?-----\s*?END[ A-Z0-9_-]*? PRIVATE KEY(?: BLOCK)?\s*?-----)")),
        ("shopify-token", ("shpss_", "shpat_", "shpca_", "shppa_"), r"shp(?:ss|at|ca|pa)_[a-fA-F0-9]{32}"),
        ("slack-access-token", ("xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"),
         _START + r"(?P<secret>xox[baprs]-(?:[0-9a-zA-Z]{10,48}))"),
        ("stripe-publishable-token", ("pk_test_", "pk_live_"), _START + r"(?P<secret>(?i:pk_(?:test|live)_[0-9a-z]{10,32}))"),
        ("stripe-secret-token", ("sk_test_", "sk_live_"), _START + r"(?P<secret>(?i:sk_(?:test|live)_[0-9a-z]{10,32}))"),
        ("pypi-upload-token", ("pypi-AgEIcHlwaS5vcmc",), r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9\-_]{50,1000}"),
        ("gcp-service-account", ('"type": "service_account"',), r'"type": "service_account"'),
        ("slack-web-hook", ("hooks.slack.com",), r"https://hooks.slack.com/services/[A-Za-z0-9+/]{44,48}"),
        ("twilio-api-key", ("SK",), r"SK[0-9a-fA-F]{32}"),
        ("age-secret-key", ("AGE-SECRET-KEY-1",), r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),
        ("clojars-api-token", ("CLOJARS_",), r"CLOJARS_(?i:[a-z0-9]{60})"),
        ("databricks-api-token", ("dapi",), r"dapi[a-h0-9]{32}"),
        ("jwt-token", (".eyJ",), r"ey[a-zA-Z0-9]{17,}\.ey[a-zA-Z0-9/\\_-]{17,}\.(?:[a-zA-Z0-9/\\_-]{10,}={0,2})?"),
        ("linear-api-token", ("lin_api_",), r"lin_api_(?i:[a-z0-9]{40})"),
        ("npm-access-token", ("npm_",), r"""['"](npm_(?i:[a-z0-9]{36}))['"]"""),
        ("planetscale-password", ("pscale_pw_",), r"pscale_pw_(?i:[a-z0-9\-_.]{43})"),
        ("planetscale-api-token", ("pscale_tkn_",), r"pscale_tkn_(?i:[a-z0-9\-_.]{43})"),
        ("postman-api-token", ("PMAK-",), r"PMAK-(?i:[a-f0-9]{24}-[a-f0-9]{34})"),
        ("pulumi-api-token", ("pul-",), r"pul-[a-f0-9]{40}"),
        ("rubygems-api-token", ("rubygems_",), r"rubygems_[a-f0-9]{48}"),
        ("sendgrid-api-token", ("SG.",), r"SG\.(?i:[a-z0-9_\-.]{66})"),
        ("shippo-api-token", ("shippo_live_", "shippo_test_"), r"shippo_(?:live|test)_[a-f0-9]{40}"),
        ("new-relic-user-api-key", ("NRAK-",), r"""['"](NRAK-[A-Z0-9]{27})['"]"""),
        ("docker-pat", ("dckr_pat",), r"(?i:(dckr_pat_[-0-9a-zA-Z]{27}))"),
    ]
]


def contains_secrets(text: str) -> bool:
    lower = text.lower()
    for _rule_id, keywords, pattern in SECRET_RULES:
        if any(kw.lower() in lower for kw in keywords) and pattern.search(text):
            return True
    return False


# --------------------------------------------------------------------------------------------------
# Upstream connections
# --------------------------------------------------------------------------------------------------

class UpstreamError(Exception):
    pass


def process_env(entry: Entry, config: dict[str, Any], secrets: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(environment for the process, the secrets part of it) as the gateway builds a container's env."""
    secret_env: dict[str, str] = {}
    for s in entry.secrets:
        env_name = str(s.get("env") or "")
        if not env_name:
            continue
        value = secrets.get(str(s["name"]))
        if value is None:
            _log(f"Warning: Secret '{s['name']}' not found for server '{entry.name}', setting {env_name}=<UNKNOWN>")
            value = "<UNKNOWN>"
        secret_env[env_name] = value
    env = dict(secret_env)
    items: list[tuple[str, str]] = []
    for item in entry.spec.get("env") or []:
        if isinstance(item, dict) and item.get("name"):
            items.append((str(item["name"]), go_format(item.get("value", "")) if item.get("value") is not None else ""))
    run = entry.run or {}
    for name, value in (run.get("env") or {}).items():
        items.append((str(name), go_format(value) if value is not None else ""))
    for name, value in items:
        if "{{" in value and "}}" in value:
            rendered = go_format(evaluate(value, config))
        else:
            rendered = expand_env(value, env)
        if rendered != "":
            env[name] = rendered
    return env, secret_env


def server_config_of(gw: Gateway, entry: Entry) -> dict[str, Any]:
    """What the gateway's templates see: {canonical name: stored config}."""
    key = canonical(entry.name)
    return {key: gw.config.get(key)}


@contextlib.asynccontextmanager
async def open_upstream(gw: Gateway, entry: Entry) -> AsyncIterator[Client]:
    """Start (or connect to) a catalog entry's server and yield an initialized client."""
    config = server_config_of(gw, entry)
    secrets = read_secrets(gw.secrets_path)
    env, secret_env = process_env(entry, config, secrets)
    kwargs: dict[str, Any] = {"mode": "legacy", "cache": None}
    run = entry.run
    remote = entry.remote
    if run is not None:
        command = expand_env(go_format(evaluate(str(run["command"]), config)), secret_env)
        args = [expand_env(a, secret_env) for a in evaluate_list(list(run.get("args") or []), config)]
        params = StdioServerParameters(command=command, args=args, env=env)
        target: Any = stdio_client(params, errlog=sys.stderr)
    elif remote is not None:
        url = expand_env(str(remote["url"]), secret_env)
        headers = {str(k): expand_env(go_format(v), secret_env) for k, v in (remote.get("headers") or {}).items()}
        transport = str(remote.get("transport_type") or remote.get("transport") or "streamable-http")
        if transport == "sse":
            from mcp.client.sse import sse_client

            target = sse_client(url, headers=headers)
        else:
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            target = streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=None)))
    else:
        raise UpstreamError(f"server {entry.name} has neither run: nor remote: (no Docker engine in this stand-in)")
    async with Client(target, **kwargs) as client:
        yield client


class _Kept:
    """A long-lived client held open by a task in the gateway's task group."""

    def __init__(self) -> None:
        self.ready = anyio.Event()
        self.client: Client | None = None
        self.error: BaseException | None = None
        self.stop = anyio.Event()

    async def run(self, gw: Gateway, entry: Entry) -> None:
        try:
            async with open_upstream(gw, entry) as client:
                self.client = client
                self.ready.set()
                await self.stop.wait()
        except Exception as exc:  # noqa: BLE001 - reported to whoever waits for the client
            self.error = exc
        finally:
            self.ready.set()


class ClientPool:
    """Per-call clients, or one kept client per (server, session) for long-lived and remote servers."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.kept: dict[tuple[str, int], _Kept] = {}

    def _long_lived(self, entry: Entry, session_key: int | None) -> bool:
        if session_key is None:
            return False
        return entry.remote is not None or entry.long_lived or self.gw.long_lived

    @contextlib.asynccontextmanager
    async def acquire(self, entry: Entry, session_key: int | None) -> AsyncIterator[Client]:
        """A client for `entry`; errors while starting it are `UpstreamError`s.

        The body should not let exceptions out (use `use`): they would travel through the SDK
        client's task groups on the way out.
        """
        if self._long_lived(entry, session_key):
            assert session_key is not None
            key = (entry.name, session_key)
            kept = self.kept.get(key)
            if kept is None:
                kept = self.kept[key] = _Kept()
                assert self.gw.tg is not None
                self.gw.tg.start_soon(kept.run, self.gw, entry)
            await kept.ready.wait()
            if kept.client is None:
                self.kept.pop(key, None)
                raise UpstreamError(_describe(kept.error) if kept.error else f"server {entry.name} stopped")
            yield kept.client
            return
        stack = contextlib.AsyncExitStack()
        try:
            client = await stack.enter_async_context(open_upstream(self.gw, entry))
        except UpstreamError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise UpstreamError(_describe(exc)) from None
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):
                await stack.aclose()

    async def use(self, entry: Entry, session_key: int | None, fn: Callable[[Client], Awaitable[Any]]) -> Any:
        """Run `fn(client)` on a client for `entry`; its exception (if any) is raised after the client is let go."""
        error: BaseException | None = None
        result: Any = None
        async with self.acquire(entry, session_key) as client:
            try:
                result = await fn(client)
            except Exception as exc:  # noqa: BLE001 - re-raised below
                error = exc
        if error is not None:
            raise error
        return result


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions)
    return str(exc) or type(exc).__name__


def _session_key(ctx: ServerRequestContext[Any, Any] | None) -> int | None:
    if ctx is None:
        return None
    conn = getattr(ctx.session, "_connection", None)
    return id(conn) if conn is not None else id(ctx.session)


# --------------------------------------------------------------------------------------------------
# Registrations
# --------------------------------------------------------------------------------------------------

ToolHandler = Callable[[ServerRequestContext[Any, Any] | None, dict[str, Any] | None], Awaitable[types.CallToolResult]]


@dataclasses.dataclass
class ToolReg:
    server: str  # "" for the gateway's own tools, "code-mode" for code-mode tools
    tool: types.Tool
    handler: ToolHandler


@dataclasses.dataclass
class PromptReg:
    server: str
    prompt: types.Prompt
    handler: Callable[..., Awaitable[types.GetPromptResult]]


@dataclasses.dataclass
class ResourceReg:
    server: str
    resource: types.Resource


@dataclasses.dataclass
class TemplateReg:
    server: str
    template: types.ResourceTemplate


@dataclasses.dataclass
class Caps:
    tools: list[ToolReg] = dataclasses.field(default_factory=list)
    prompts: list[PromptReg] = dataclasses.field(default_factory=list)
    resources: list[ResourceReg] = dataclasses.field(default_factory=list)
    templates: list[TemplateReg] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class CapNames:
    tools: list[str] = dataclasses.field(default_factory=list)
    prompts: list[str] = dataclasses.field(default_factory=list)
    resources: list[str] = dataclasses.field(default_factory=list)
    templates: list[str] = dataclasses.field(default_factory=list)


class CollisionError(Exception):
    pass


def _owner(server: str, what: str = "tools") -> str:
    if not server:
        return f"gateway internal {what}"
    return f'server "{server}"'


def check_tool_collisions(regs: list[ToolReg], existing: dict[str, ToolReg] | None, reject_reserved: bool) -> None:
    seen: dict[str, ToolReg] = {}
    for reg in sorted(regs, key=lambda r: (r.server, r.tool.name)):
        name = reg.tool.name.strip()
        if not name:
            raise CollisionError(f"tool name collision: {_owner(reg.server)} exposes an empty tool name")
        if reject_reserved and name in RESERVED_TOOL_NAMES:
            raise CollisionError(f"tool name collision: {_owner(reg.server)} exposes reserved gateway tool name "
                                 f'"{name}"; enable tool-name-prefix or set a unique catalog prefix')
        if name in seen:
            raise CollisionError(f"tool name collision: {_owner(seen[name].server)} and {_owner(reg.server)} both "
                                 f'expose tool name "{name}"; enable tool-name-prefix or set unique catalog prefixes')
        seen[name] = reg
        if existing is not None and name in existing:
            raise CollisionError(f"tool name collision: {_owner(reg.server)} would shadow {_owner(existing[name].server)} "
                                 f'for tool name "{name}"; enable tool-name-prefix or set a unique catalog prefix')


def _check_identities(kind: str, items: list[tuple[str, str]], existing: dict[str, str], reserved: frozenset[str],
                      mitigation: str) -> None:
    seen: dict[str, str] = {}
    for server, ident in sorted(items):
        if not ident.strip():
            raise CollisionError(f"{kind} collision: {_owner(server, 'capabilities')} exposes an empty {kind}")
        if ident in reserved:
            raise CollisionError(f'{kind} collision: {_owner(server, "capabilities")} exposes reserved gateway {kind} "{ident}"; {mitigation}')
        if ident in seen:
            raise CollisionError(f'{kind} collision: {_owner(seen[ident], "capabilities")} and {_owner(server, "capabilities")} '
                                 f'both expose {kind} "{ident}"; {mitigation}')
        seen[ident] = server
        if ident in existing:
            raise CollisionError(f'{kind} collision: {_owner(server, "capabilities")} would shadow '
                                 f'{_owner(existing[ident], "capabilities")} for {kind} "{ident}"; {mitigation}')


# --------------------------------------------------------------------------------------------------
# The gateway
# --------------------------------------------------------------------------------------------------

class FakeGatewayServer(Server[Any]):
    """Capabilities as go-sdk advertises them for the gateway (logging, prompts, resources+subscribe, tools)."""

    def get_capabilities(self, notification_options: NotificationOptions | None = None,
                         experimental_capabilities: dict[str, dict[str, Any]] | None = None,
                         extensions: dict[str, dict[str, Any]] | None = None, *,
                         protocol_version: str | None = None) -> types.ServerCapabilities:
        return types.ServerCapabilities(
            logging=types.LoggingCapability(),
            prompts=types.PromptsCapability(list_changed=True),
            resources=types.ResourcesCapability(subscribe=True, list_changed=True),
            tools=types.ToolsCapability(list_changed=True),
        )


def _text_result(text: str, *, is_error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=is_error)


def _obj_schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


class Gateway:
    def __init__(self, args: argparse.Namespace) -> None:
        self.catalog_paths: list[str] = list(args.catalog or [])
        self.catalog = load_catalogs(self.catalog_paths)
        self.secrets_path: str | None = args.secrets
        self.config_set_schema: str = args.config_set_schema
        self.block_secrets: bool = args.block_secrets
        self.long_lived: bool = args.long_lived
        self.tool_name_prefix: bool = args.tool_name_prefix
        self.preload: list[str] = [s.strip() for s in (args.servers or "").split(",") if s.strip()]
        self.dynamic_tools: bool = not self.preload
        self.config: dict[str, Any] = {}
        self.server_names: list[str] = []
        self.available: dict[str, Caps] = {}
        self.activated: dict[str, CapNames] = {}
        self.tool_regs: dict[str, ToolReg] = {}
        # What the MCP server lists (go-sdk's feature sets), by name / URI.
        self.mcp_tools: dict[str, ToolReg] = {}
        self.mcp_prompts: dict[str, PromptReg] = {}
        self.mcp_resources: dict[str, ResourceReg] = {}
        self.mcp_templates: dict[str, TemplateReg] = {}
        self.pool = ClientPool(self)
        self.tg: anyio.abc.TaskGroup | None = None
        self.lock = anyio.Lock()
        self._sessions: dict[int, Any] = {}
        self._generation: dict[str, int] = {"tools": 0, "prompts": 0, "resources": 0}
        self._deno_dir: str | None = None
        self.server = self._build_server()
        if self.dynamic_tools:
            self._add_internal_tools()

    # ---- MCP server plumbing ------------------------------------------------------------------

    def _build_server(self) -> Server[Any]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = FakeGatewayServer(
                SERVER_NAME,
                version=SERVER_VERSION,
                on_list_tools=self._on_list_tools,
                on_call_tool=self._on_call_tool,
                on_list_prompts=self._on_list_prompts,
                on_get_prompt=self._on_get_prompt,
                on_list_resources=self._on_list_resources,
                on_list_resource_templates=self._on_list_resource_templates,
                on_read_resource=self._on_read_resource,
                on_subscribe_resource=self._on_subscribe,
                on_unsubscribe_resource=self._on_subscribe,
                on_set_logging_level=self._on_set_level,
            )
        server.middleware.append(self._middleware)
        return server

    async def _middleware(self, ctx: ServerRequestContext[Any, Any], call_next: Any) -> Any:
        self._remember(ctx)
        if not (self.block_secrets and ctx.method == "tools/call"):
            return await call_next(ctx)
        params = ctx.params or {}
        name = params.get("name") if isinstance(params, Mapping) else None
        if not name:
            return await call_next(ctx)
        arguments = params.get("arguments")
        if contains_secrets(_go_escape(json.dumps(arguments, separators=(",", ":"), ensure_ascii=False))):
            raise MCPError(code=0, message=f"a secret is being passed to tool {name}")
        result = await call_next(ctx)
        text = ""
        if isinstance(result, dict):
            for item in result.get("content") or []:
                if isinstance(item, dict) and item.get("type") == "text":
                    text += str(item.get("text") or "")
        if text and contains_secrets(text):
            raise MCPError(code=0, message=f"a secret is being returned by the {name} tool")
        return result

    def _remember(self, ctx: ServerRequestContext[Any, Any]) -> None:
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return
        key = _session_key(ctx)
        if key is not None and key not in self._sessions:
            self._sessions[key] = ctx.session

    def _changed(self, kind: str) -> None:
        """go-sdk's changeAndNotify: one notification 10 ms after the last change (debounced)."""
        self._generation[kind] += 1
        generation = self._generation[kind]
        if self.tg is not None:
            self.tg.start_soon(self._notify_later, kind, generation)

    async def _notify_later(self, kind: str, generation: int) -> None:
        await anyio.sleep(0.010)
        if self._generation[kind] != generation:
            return
        method = {"tools": "send_tool_list_changed", "prompts": "send_prompt_list_changed",
                  "resources": "send_resource_list_changed"}[kind]

        async def notify(key: int, session: Any) -> None:
            try:
                with anyio.fail_after(5):
                    await getattr(session, method)()
            except Exception:  # noqa: BLE001 - a gone session
                self._sessions.pop(key, None)

        async with anyio.create_task_group() as tg:
            for key, session in list(self._sessions.items()):
                tg.start_soon(notify, key, session)

    def _add_tool(self, reg: ToolReg) -> None:
        self.mcp_tools[reg.tool.name] = reg
        self._changed("tools")

    def _remove_tools(self, names: list[str]) -> None:
        removed = False
        for name in names:
            if self.mcp_tools.pop(name, None) is not None:
                removed = True
        if removed:
            self._changed("tools")

    def _add_prompt(self, reg: PromptReg) -> None:
        self.mcp_prompts[reg.prompt.name] = reg
        self._changed("prompts")

    def _remove_prompts(self, names: list[str]) -> None:
        if any(self.mcp_prompts.pop(n, None) is not None for n in list(names)):
            self._changed("prompts")

    def _add_resource(self, reg: ResourceReg) -> None:
        self.mcp_resources[reg.resource.uri] = reg
        self._changed("resources")

    def _remove_resources(self, uris: list[str]) -> None:
        if any(self.mcp_resources.pop(u, None) is not None for u in list(uris)):
            self._changed("resources")

    def _add_template(self, reg: TemplateReg) -> None:
        self.mcp_templates[reg.template.uri_template] = reg
        self._changed("resources")

    def _remove_templates(self, uris: list[str]) -> None:
        if any(self.mcp_templates.pop(u, None) is not None for u in list(uris)):
            self._changed("resources")

    @staticmethod
    def _page(items: list[str], cursor: str | None) -> tuple[list[str], str | None]:
        start = 0
        if cursor:
            try:
                last = base64.urlsafe_b64decode(cursor.encode()).decode()
            except Exception as exc:  # noqa: BLE001
                raise MCPError(code=INVALID_PARAMS, message=f"invalid cursor: {exc}") from None
            start = len([k for k in items if k <= last])
        page = items[start:start + PAGE_SIZE]
        next_cursor = None
        if start + PAGE_SIZE < len(items):
            next_cursor = base64.urlsafe_b64encode(page[-1].encode()).decode()
        return page, next_cursor

    async def _on_list_tools(self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        names, cursor = self._page(sorted(self.mcp_tools), params.cursor if params else None)
        return types.ListToolsResult(tools=[self.mcp_tools[n].tool for n in names], next_cursor=cursor)

    async def _on_call_tool(self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        reg = self.mcp_tools.get(params.name)
        if reg is None:
            raise MCPError(code=INVALID_PARAMS, message=f'unknown tool "{params.name}"')
        result = await reg.handler(ctx, params.arguments)
        return result

    async def _on_list_prompts(self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
        names, cursor = self._page(sorted(self.mcp_prompts), params.cursor if params else None)
        return types.ListPromptsResult(prompts=[self.mcp_prompts[n].prompt for n in names], next_cursor=cursor)

    async def _on_get_prompt(self, ctx: ServerRequestContext[Any, Any], params: types.GetPromptRequestParams) -> types.GetPromptResult:
        reg = self.mcp_prompts.get(params.name)
        if reg is None:
            raise MCPError(code=INVALID_PARAMS, message=f'unknown prompt "{params.name}"')
        return await reg.handler(ctx, params)

    async def _on_list_resources(self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None) -> types.ListResourcesResult:
        uris, cursor = self._page(sorted(self.mcp_resources), params.cursor if params else None)
        return types.ListResourcesResult(resources=[self.mcp_resources[u].resource for u in uris], next_cursor=cursor)

    async def _on_list_resource_templates(self, ctx: ServerRequestContext[Any, Any],
                                          params: types.PaginatedRequestParams | None) -> types.ListResourceTemplatesResult:
        uris, cursor = self._page(sorted(self.mcp_templates), params.cursor if params else None)
        return types.ListResourceTemplatesResult(resource_templates=[self.mcp_templates[u].template for u in uris], next_cursor=cursor)

    async def _on_read_resource(self, ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        uri = str(params.uri)
        server = None
        if uri in self.mcp_resources:
            server = self.mcp_resources[uri].server
        else:
            for template, reg in self.mcp_templates.items():
                pattern = "^" + re.sub(r"\\{[^}]*\\}", "[^/]+", re.escape(template)) + "$"
                if re.match(pattern, uri):
                    server = reg.server
                    break
        if server is None or server not in self.catalog:
            raise MCPError(code=RESOURCE_NOT_FOUND, message="Resource not found", data={"uri": uri})
        try:
            return await self.pool.use(self.catalog[server], _session_key(ctx), lambda c: c.read_resource(uri))
        except MCPError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise MCPError(code=0, message=_describe(exc)) from None

    async def _on_subscribe(self, ctx: ServerRequestContext[Any, Any], params: Any) -> types.EmptyResult:
        return types.EmptyResult()

    async def _on_set_level(self, ctx: ServerRequestContext[Any, Any], params: Any) -> types.EmptyResult:
        return types.EmptyResult()

    # ---- internal tools ---------------------------------------------------------------------------

    def _add_internal_tools(self) -> None:
        internal = [
            (types.Tool(
                name="mcp-find",
                description=("Search the gateway's catalog of MCP servers by name, title or description. "
                             "Nothing is enabled; add a hit with mcp-add and configure it with mcp-config-set."),
                input_schema=_obj_schema({
                    "query": {"type": "string", "description": "Words to look for in server names, titles and descriptions (case-insensitive)"},
                    "limit": {"type": "integer", "description": "How many servers to return at most (default: 10)"},
                }, ["query"])), self._mcp_find),
            (types.Tool(
                name="mcp-add",
                description="Add a server from the catalog to this gateway; its tools then appear.",
                input_schema=_obj_schema({
                    "name": {"type": "string", "description": "The catalog name of the server to add"},
                    "activate": {"type": "boolean", "description": "Expose the server's tools right away", "default": True},
                }, ["name"])), self._mcp_add),
            (types.Tool(
                name="mcp-remove",
                description="Remove a server from this gateway; its tools disappear.",
                input_schema=_obj_schema({
                    "name": {"type": "string", "description": "The name of the server to remove"},
                }, ["name"])), self._mcp_remove),
            (types.Tool(
                name="code-mode",
                description=("Make a new tool that runs a JavaScript script with the tools of the given servers "
                             "available as functions. Find servers with mcp-find and add them with mcp-add first."),
                input_schema=_obj_schema({
                    "servers": {"type": "array", "description": "Names of the servers whose tools the script may call",
                                "items": {"type": "string"}},
                    "name": {"type": "string", "description": "Name of the new tool; it is prefixed with 'code-mode-'"},
                }, ["servers", "name"])), self._code_mode),
            (types.Tool(
                name="mcp-exec",
                description="Call a tool of this session by name, also one that tools/list does not show.",
                input_schema=_obj_schema({
                    "name": {"type": "string", "description": "The tool to call"},
                    "arguments": {"type": "object", "description": "The tool's arguments."},
                }, ["name"])), self._mcp_exec),
        ]
        if self.config_set_schema == "old":
            config_set = types.Tool(
                name="mcp-config-set",
                description="Set one configuration value of an MCP server (string, number, boolean, object or array).",
                input_schema=_obj_schema({
                    "server": {"type": "string", "description": "The server to configure"},
                    "key": {"type": "string", "description": "The configuration key, without the server name"},
                    "value": {"type": ["string", "number", "boolean", "object", "array"],
                              "description": "The value to set", "items": {"type": "object"}},
                }, ["server", "key", "value"]))
            internal.append((config_set, self._mcp_config_set_old))
        else:
            config_set = types.Tool(
                name="mcp-config-set",
                description=("Set the configuration of an MCP server. The object is checked against the server's "
                             "config schema; a failure shows that schema."),
                input_schema=_obj_schema({
                    "server": {"type": "string", "description": "The server to configure"},
                    "config": {"type": "object", "description": "The server's configuration, checked against its config schema."},
                }, ["server", "config"]))
            internal.append((config_set, self._mcp_config_set))
        for tool, handler in internal:
            reg = ToolReg("", tool, handler)
            self.mcp_tools[tool.name] = reg
            self.tool_regs[tool.name] = reg
        self.mcp_prompts["mcp-discover"] = PromptReg("", types.Prompt(
            name="mcp-discover", description="How to find and add MCP servers while a session runs"), self._discover_prompt)

    async def _discover_prompt(self, ctx: Any, params: Any) -> types.GetPromptResult:
        text = ("This gateway can grow while you use it. Call mcp-find with a few words to search its catalog; "
                "call mcp-add with a server's name to add it, and its tools appear. If mcp-add says secrets or "
                "configuration are missing, set the secrets with `docker mcp secret set NAME=VALUE` and the "
                "configuration with mcp-config-set, then call mcp-add again. mcp-remove takes a server away; "
                "mcp-exec calls any tool of the session by name; code-mode writes a JavaScript tool that "
                "combines the tools of several servers.")
        return types.GetPromptResult(description="How to discover and manage MCP servers", messages=[
            types.PromptMessage(role="user", content=types.TextContent(text=text))])

    @staticmethod
    def _require_args(arguments: dict[str, Any] | None) -> dict[str, Any]:
        if arguments is None:
            raise MCPError(code=0, message="missing arguments")
        return arguments

    @staticmethod
    def _string_field(arguments: dict[str, Any], field: str, struct: str = "") -> str:
        value = arguments.get(field)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise MCPError(code=0, message=f"failed to parse arguments: json: cannot unmarshal {_go_unmarshal_kind(value)} "
                                           f"into Go struct field {struct}.{field} of type string")
        return value

    def _not_in_catalog(self, server: str) -> types.CallToolResult:
        return _text_result(f"Error: Server '{server}' not found in catalog. Use mcp-find to search for available servers.")

    # mcp-find ----------------------------------------------------------------------------------

    async def _mcp_find(self, ctx: Any, arguments: dict[str, Any] | None) -> types.CallToolResult:
        arguments = self._require_args(arguments)
        query = self._string_field(arguments, "query")
        limit = arguments.get("limit", 0)
        if limit is None:
            limit = 0
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or (isinstance(limit, float) and not limit.is_integer()):
            raise MCPError(code=0, message=f"failed to parse arguments: json: cannot unmarshal {_go_unmarshal_kind(limit)} "
                                           "into Go struct field .limit of type int")
        limit = int(limit)
        if not query:
            raise MCPError(code=0, message="query parameter is required")
        if limit <= 0:
            limit = 10
        tokens = _tokenize(query)
        if not tokens:
            return _text_result(go_json({"prompt": query, "servers": [], "total_matches": 0}))
        index = _bm25_index(self.catalog)
        scored = [(index.score(doc, tokens), i, doc) for i, doc in enumerate(index.docs)]
        scored = [s for s in scored if s[0] > 0]
        scored.sort(key=lambda s: (-s[0], s[1]))
        results = []
        for _score, _i, doc in scored[:limit]:
            entry: Entry = doc["entry"]
            info: dict[str, Any] = {"name": entry.name}
            warnings_ = self._tool_name_warnings(entry)
            if warnings_:
                info["tool_name_warnings"] = warnings_
            if entry.description:
                info["description"] = entry.description
            if entry.secrets:
                info["required_secrets"] = [s["name"] for s in entry.secrets]
            if entry.config:
                info["config_schema"] = entry.config
            info["long_lived"] = entry.long_lived
            results.append(info)
        return _text_result(go_json({"prompt": query, "servers": results, "total_matches": len(results)}))

    def _tool_name_warnings(self, entry: Entry) -> list[str]:
        if not entry.tools:
            return []
        prefix = entry.prefix or (entry.name if self.tool_name_prefix else "")
        out: list[str] = []
        seen: dict[str, str] = {}
        for tool in entry.tools:
            name = tool["name"].strip()
            if not name:
                out.append("catalog metadata includes an empty tool name")
                continue
            exposed = f"{prefix}__{name}" if prefix else name
            if exposed in seen:
                out.append(f'tool "{name}" would be exposed as "{exposed}", which duplicates tool "{seen[exposed]}" in this server')
                continue
            seen[exposed] = name
            if exposed in RESERVED_TOOL_NAMES:
                out.append(f'tool "{name}" would be exposed as "{exposed}", which is reserved for a gateway internal tool')
                continue
            previous = self.tool_regs.get(exposed)
            if previous is not None and previous.server != entry.name:
                out.append(f'tool "{name}" would be exposed as "{exposed}", which conflicts with {_owner(previous.server)}')
        return sorted(out)

    # mcp-add -----------------------------------------------------------------------------------

    async def _mcp_add(self, ctx: Any, arguments: dict[str, Any] | None) -> types.CallToolResult:
        arguments = self._require_args(arguments)
        name = self._string_field(arguments, "name")
        activate = arguments.get("activate")
        if activate is not None and not isinstance(activate, bool):
            raise MCPError(code=0, message=f"failed to parse arguments: json: cannot unmarshal {_go_unmarshal_kind(activate)} "
                                           "into Go struct field .activate of type bool")
        if not name:
            raise MCPError(code=0, message="name parameter is required")
        activate = True if activate is None else activate
        server = name.strip()
        entry = self.catalog.get(server)
        if entry is None:
            return self._not_in_catalog(server)
        async with self.lock:
            already = server in self.server_names
            missing_secrets: list[str] = []
            if entry.is_server and entry.secrets:
                available = read_secrets(self.secrets_path)
                missing_secrets = [s["name"] for s in entry.secrets if not available.get(s["name"])]
            missing_config: list[str] = []
            if entry.is_server and entry.config:
                stored = self.config.get(canonical(server))
                for item in entry.config:
                    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
                        continue
                    if stored is None:
                        missing_config.append(f"{item['name']} (missing)")
                        continue
                    err = validate_schema(stored, item)
                    if err is not None:
                        if len(err) > 100:
                            err = err[:97] + "..."
                        missing_config.append(f"{item['name']} ({err})")
            if missing_secrets or missing_config:
                instructions: list[str] = []
                items: list[str] = []
                if missing_secrets:
                    items.append(f"secrets ({', '.join(missing_secrets)})")
                    instructions.append("\nRequired secrets:")
                    instructions += [f"  docker mcp secret set {s}=<value>" for s in missing_secrets]
                if missing_config:
                    items.append(f"config ({', '.join(missing_config)})")
                    instructions.append(f"\nRequired configuration: {', '.join(missing_config)}")
                    instructions.append("Use the mcp-config-set tool to configure these values.")
                return _text_result(
                    f"Error: Cannot add server '{server}'. Missing required {' and '.join(items)}.\n\n"
                    f"The server was not added. Please configure these first:{chr(10).join(instructions)}")
            if entry.is_server and entry.run is None and entry.remote is None:
                return _text_result(
                    f"Error: Failed to pull image '{entry.image}' for server '{server}'.\n\n"
                    f"Details: no Docker engine: this stand-in runs only entries with a run: or remote: block\n\n"
                    "The server was not added. Please check the image name and your network connection.")
            if not already:
                self.server_names.append(server)
            try:
                old = await self._reload_server(server)
                if activate:
                    self._update_server(server, old, self._all_names(server))
            except CollisionError as exc:
                if not already:
                    self.server_names.remove(server)
                return _text_result(f"Error: Cannot add server '{server}'. {exc}")
            except MCPError:
                if not already:
                    self.server_names.remove(server)
                raise
            added = [reg.tool for reg in self.available.get(server, Caps()).tools]
        text = (f"Successfully added {len(added)} tools in server '{server}'. "
                "Assume that it is fully configured and ready to use.")
        if added:
            tools = []
            for tool in added:
                item: dict[str, Any] = {"name": tool.name, "description": tool.description or ""}
                if tool.input_schema is not None:
                    item["inputSchema"] = tool.input_schema
                tools.append(item)
            text += "\n\nNewly added tools:\n```json\n" + go_json({"tools": tools}, indent=True) + "\n```"
        return _text_result(text)

    async def _list_capabilities(self, entry: Entry) -> Caps:
        caps = Caps()
        prefix = entry.prefix or (entry.name if self.tool_name_prefix else "")

        async def listing(client: Client) -> None:
            try:
                listed = await client.list_tools()
                for tool in listed.tools:
                    exposed = f"{prefix}__{tool.name}" if prefix else tool.name
                    caps.tools.append(ToolReg(entry.name, tool.model_copy(update={"name": exposed}),
                                              self._upstream_tool_handler(entry.name, tool.name)))
            except Exception as exc:  # noqa: BLE001
                _log(f"  > Can't list tools {entry.name}: {_describe(exc)}")
            with contextlib.suppress(Exception):
                for prompt in (await client.list_prompts()).prompts:
                    caps.prompts.append(PromptReg(entry.name, prompt, self._upstream_prompt_handler(entry.name)))
            with contextlib.suppress(Exception):
                for resource in (await client.list_resources()).resources:
                    caps.resources.append(ResourceReg(entry.name, resource))
            with contextlib.suppress(Exception):
                for template in (await client.list_resource_templates()).resource_templates:
                    caps.templates.append(TemplateReg(entry.name, template))

        try:
            await self.pool.use(entry, None, listing)
        except Exception as exc:  # noqa: BLE001 - the gateway logs and lists nothing
            _log(f"  > Can't start {entry.name}: {_describe(exc)}")
        return caps

    def _registered_indexes(self, exclude: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        prompts: dict[str, str] = {}
        resources: dict[str, str] = {}
        templates: dict[str, str] = {}
        for server, names in self.activated.items():
            if server == exclude:
                continue
            prompts.update({n: server for n in names.prompts})
            resources.update({n: server for n in names.resources})
            templates.update({n: server for n in names.templates})
        return prompts, resources, templates

    def _check_capabilities(self, caps: Caps, exclude: str) -> None:
        prompts, resources, templates = self._registered_indexes(exclude)
        reserved = RESERVED_PROMPT_NAMES if self.dynamic_tools else frozenset()
        _check_identities("prompt name", [(p.server, p.prompt.name) for p in caps.prompts], prompts, reserved,
                          "disable one server or expose unique prompt names")
        _check_identities("resource URI", [(r.server, str(r.resource.uri)) for r in caps.resources], resources, frozenset(),
                          "disable one server or expose unique resource URIs")
        _check_identities("resource template URI template", [(t.server, t.template.uri_template) for t in caps.templates],
                          templates, frozenset(), "disable one server or expose unique resource template URI templates")

    async def _reload_server(self, server: str) -> CapNames:
        """reloadServerCapabilities: list the server, check collisions, record what it offers."""
        entry = self.catalog[server]
        caps = await self._list_capabilities(entry)
        old = self.activated.get(server) or CapNames()
        existing = {n: r for n, r in self.tool_regs.items() if r.server != server}
        check_tool_collisions(caps.tools, existing, True)
        self._check_capabilities(caps, server)
        self.available[server] = caps
        for name in old.tools:
            self.tool_regs.pop(name, None)
        for reg in caps.tools:
            self.tool_regs[reg.tool.name] = reg
        return old

    def _all_names(self, server: str) -> CapNames:
        caps = self.available.get(server)
        if caps is None:
            return CapNames()
        return CapNames([t.tool.name for t in caps.tools], [p.prompt.name for p in caps.prompts],
                        [str(r.resource.uri) for r in caps.resources], [t.template.uri_template for t in caps.templates])

    def _update_server(self, server: str, old: CapNames, new: CapNames) -> None:
        """updateServerCapabilities: apply the difference to what the MCP server lists."""
        caps = self.available.get(server)
        if caps is None:
            raise MCPError(code=0, message=f"failed to update server capabilities: no available capabilities found for server {server}")

        def diff(a: list[str], b: list[str]) -> tuple[list[str], list[str]]:
            return [x for x in b if x not in set(a)], [x for x in a if x not in set(b)]

        added_t, removed_t = diff(old.tools, new.tools)
        added_p, removed_p = diff(old.prompts, new.prompts)
        added_r, removed_r = diff(old.resources, new.resources)
        added_x, removed_x = diff(old.templates, new.templates)
        if not any([added_t, removed_t, added_p, removed_p, added_r, removed_r, added_x, removed_x]):
            return
        self._check_capabilities(caps, server)
        self._remove_tools(removed_t)
        for name in removed_t:
            self.tool_regs.pop(name, None)
        self._remove_prompts(removed_p)
        self._remove_resources(removed_r)
        self._remove_templates(removed_x)
        for reg in caps.tools:
            if reg.tool.name in added_t:
                self._add_tool(reg)
        for preg in caps.prompts:
            if preg.prompt.name in added_p:
                self._add_prompt(preg)
        for rreg in caps.resources:
            if str(rreg.resource.uri) in added_r:
                self._add_resource(rreg)
        for treg in caps.templates:
            if treg.template.uri_template in added_x:
                self._add_template(treg)
        self.activated[server] = new

    def _upstream_tool_handler(self, server: str, original: str) -> ToolHandler:
        async def handler(ctx: ServerRequestContext[Any, Any] | None, arguments: dict[str, Any] | None) -> types.CallToolResult:
            entry = self.catalog.get(server)
            if entry is None:
                raise MCPError(code=0, message=f'server "{server}" not found in configuration')
            progress = _progress_forwarder(ctx)
            try:
                return await self.pool.use(entry, _session_key(ctx),
                                           lambda c: c.call_tool(original, arguments, progress_callback=progress))
            except MCPError:
                raise
            except Exception as exc:  # noqa: BLE001 - the go-sdk client's error, code 0
                raise MCPError(code=0, message=_describe(exc)) from None
        return handler

    def _upstream_prompt_handler(self, server: str) -> Callable[..., Awaitable[types.GetPromptResult]]:
        async def handler(ctx: ServerRequestContext[Any, Any] | None, params: types.GetPromptRequestParams) -> types.GetPromptResult:
            entry = self.catalog.get(server)
            if entry is None:
                raise MCPError(code=0, message=f'server "{server}" not found in configuration')
            try:
                return await self.pool.use(entry, _session_key(ctx), lambda c: c.get_prompt(params.name, params.arguments))
            except MCPError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise MCPError(code=0, message=_describe(exc)) from None
        return handler

    # mcp-remove --------------------------------------------------------------------------------

    async def _mcp_remove(self, ctx: Any, arguments: dict[str, Any] | None) -> types.CallToolResult:
        arguments = self._require_args(arguments)
        name = self._string_field(arguments, "name")
        if not name:
            raise MCPError(code=0, message="name parameter is required")
        server = name.strip()
        async with self.lock:
            self.server_names = [s for s in self.server_names if s != server]
            entry = self.catalog.get(server)
            if entry is None or not entry.is_server:
                raise MCPError(code=0, message=f"failed to remove server configuration: server {server} not found in configuration")
            old = self.activated.get(server) or CapNames()
            if old.tools:
                self._remove_tools(old.tools)
                for tool in old.tools:
                    self.tool_regs.pop(tool, None)
            for tool, reg in list(self.tool_regs.items()):
                if reg.server == server:
                    del self.tool_regs[tool]
            self._remove_prompts(old.prompts)
            self._remove_resources(old.resources)
            self._remove_templates(old.templates)
            self.activated.pop(server, None)
            self.available.pop(server, None)
        return _text_result(f"Successfully removed server '{server}'.")

    # mcp-config-set ----------------------------------------------------------------------------

    async def _mcp_config_set(self, ctx: Any, arguments: dict[str, Any] | None) -> types.CallToolResult:
        arguments = self._require_args(arguments)
        server_arg = self._string_field(arguments, "server", "configValue")
        config = arguments.get("config")
        if config is not None and not isinstance(config, dict):
            raise MCPError(code=0, message=f"failed to parse arguments: json: cannot unmarshal {_go_unmarshal_kind(config)} "
                                           "into Go struct field configValue.config of type map[string]interface {}")
        if not server_arg:
            raise MCPError(code=0, message="server parameter is required")
        if config is None:
            raise MCPError(code=0, message="config parameter is required")
        server = server_arg.strip()
        entry = self.catalog.get(server)
        if entry is None:
            return self._not_in_catalog(server)
        if entry.is_server and entry.config:
            errors: list[str] = []
            schema_info = "Server config schema:\n"
            for item in entry.config:
                if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
                    continue
                schema_info += f"\n{item['name']}:\n  {go_json(item, indent=True, prefix='  ')}\n"
                err = validate_schema(config, item)
                if err is not None:
                    errors.append(f"{item['name']}: {err}")
            if errors:
                message = f"Config validation failed for server '{server}':\n\n"
                message += "".join(f"  - {e}\n" for e in errors)
                message += "\n" + schema_info
                return _text_result(message, is_error=True)
        key = canonical(server)
        old = self.config.get(key)
        self.config[key] = config
        new_json = go_json(config, indent=True)
        if old is not None:
            text = (f"Successfully updated config for server '{server}':\n\nOld config:\n{go_json(old, indent=True)}"
                    f"\n\nNew config:\n{new_json}")
        else:
            text = f"Successfully set config for server '{server}':\n\n{new_json}"
        _log(f"  - Set config for server '{server}': {new_json}")
        return _text_result(text)

    async def _mcp_config_set_old(self, ctx: Any, arguments: dict[str, Any] | None) -> types.CallToolResult:
        arguments = self._require_args(arguments)
        server_arg = self._string_field(arguments, "server", "configValue")
        key_arg = self._string_field(arguments, "key", "configValue")
        if not server_arg:
            raise MCPError(code=0, message="server parameter is required")
        if not key_arg:
            raise MCPError(code=0, message="key parameter is required")
        server, key = server_arg.strip(), key_arg.strip()
        value = arguments.get("value")
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        exists = server in self.catalog
        stored = self.config.get(server)
        if not isinstance(stored, dict):
            stored = self.config[server] = {}
        old = stored.get(key)
        stored[key] = value
        shown, old_shown = _format_config_value(value), _format_config_value(old)
        if old is not None:
            text = f"Successfully updated config for server '{server}': {key} = {shown} (was: {old_shown})"
        else:
            text = f"Successfully set config for server '{server}': {key} = {shown}"
        if not exists:
            text += f" (Note: server '{server}' is not in the current catalog)"
        return _text_result(text)

    # mcp-exec ----------------------------------------------------------------------------------

    async def _mcp_exec(self, ctx: Any, arguments: dict[str, Any] | None) -> types.CallToolResult:
        arguments = self._require_args(arguments)
        name = self._string_field(arguments, "name")
        if not name:
            raise MCPError(code=0, message="name parameter is required")
        tool = name.strip()
        reg = self.tool_regs.get(tool)
        if reg is None:
            return _text_result(f"Error: Tool '{tool}' not found in current session. "
                                "Make sure the server providing this tool is added to the session.")
        inner = arguments.get("arguments")
        if isinstance(inner, str):
            try:
                inner = json.loads(inner)
            except ValueError as exc:
                raise MCPError(code=0, message=f"tool execution failed: failed to unmarshal arguments: {exc}") from None
        if inner is not None and not isinstance(inner, dict):
            raise MCPError(code=0, message="tool execution failed: failed to unmarshal arguments: arguments are not an object")
        try:
            return await reg.handler(ctx, inner)
        except MCPError as exc:
            raise MCPError(code=exc.code, message=f"tool execution failed: {exc.message}", data=exc.data) from None

    # code-mode ---------------------------------------------------------------------------------

    async def _code_mode(self, ctx: Any, arguments: dict[str, Any] | None) -> types.CallToolResult:
        arguments = self._require_args(arguments)
        servers = arguments.get("servers")
        if servers is not None and (not isinstance(servers, list) or not all(isinstance(s, str) for s in servers)):
            raise MCPError(code=0, message="failed to parse arguments: json: cannot unmarshal into Go struct field .servers of type []string")
        name = self._string_field(arguments, "name")
        if not servers:
            raise MCPError(code=0, message="servers parameter is required and must not be empty")
        if not name:
            raise MCPError(code=0, message="name parameter is required")
        for server in servers:
            if server.strip() not in self.catalog:
                return _text_result(f"Error: Server '{server}' not found in configuration. "
                                    "Use mcp-find to search for available servers.")
        creator = _session_key(ctx)
        docs: list[str] = []
        for server in servers:
            entry = self.catalog[server.strip()]
            try:
                listed = await self.pool.use(entry, creator, lambda c: c.list_tools())
            except Exception as exc:  # noqa: BLE001
                raise MCPError(code=0, message=f"failed to create code-mode tools: failed to acquire client for "
                                               f"server {server}: {_describe(exc)}") from None
            docs += [_tool_js_doc(t) for t in listed.tools]
        tool_name = f"code-mode-{name}"
        tool = types.Tool(
            name=tool_name,
            description=CODE_MODE_PREAMBLE + "\n".join(docs),
            annotations=types.ToolAnnotations(title="Run tools with Javascript"),
            input_schema={"type": "object", "required": ["script"],
                          "properties": {"script": {"type": "string", "description": "script to execute"}}},
        )
        reg = ToolReg("code-mode", tool, self._code_mode_handler([s.strip() for s in servers], creator))
        async with self.lock:
            try:
                check_tool_collisions([reg], self.tool_regs, False)
            except CollisionError as exc:
                return _text_result(f"Error: Cannot create code-mode tool '{tool_name}'. {exc}")
            self._add_tool(reg)
            self.tool_regs[tool_name] = reg
        schema = go_json(tool.input_schema, indent=True)
        text = (f"Successfully created code-mode tool '{tool_name}'\n\n"
                "## Tool Details\n"
                f"**Name:** {tool_name}\n"
                f"**Description:** {tool.description}\n\n"
                "## Input Schema\n"
                f"```json\n{schema}\n```\n\n"
                "## Available Servers\n"
                f"This tool has access to tools from: {', '.join(servers)}\n\n"
                "## How to Use\n"
                "You can call this tool using the **mcp-exec** tool:\n"
                "```json\n"
                "{\n"
                f"  \"name\": \"{tool_name}\",\n"
                "  \"arguments\": {\n"
                "    \"script\": \"<your JavaScript code here>\"\n"
                "  }\n"
                "}\n"
                "```\n\n"
                "The tool is now available in your session and can be executed via mcp-exec.")
        return _text_result(text)

    def _code_mode_handler(self, servers: list[str], creator: int | None) -> ToolHandler:
        async def handler(ctx: Any, arguments: dict[str, Any] | None) -> types.CallToolResult:
            if arguments is None:
                raise MCPError(code=0, message="parsing arguments: unexpected end of JSON input")
            script = arguments.get("script", "")
            if script is None:
                script = ""
            if not isinstance(script, str):
                raise MCPError(code=0, message=f"parsing arguments: json: cannot unmarshal {_go_unmarshal_kind(script)} "
                                               "into Go struct field RunToolsWithJavascriptArgs.script of type string")
            output = await self._run_javascript(servers, creator, script)
            return _text_result(output)
        return handler

    async def _run_javascript(self, servers: list[str], creator: int | None, script: str) -> str:
        tools: dict[str, tuple[Client, types.Tool]] = {}
        async with contextlib.AsyncExitStack() as stack:
            for server in servers:
                entry = self.catalog.get(server)
                if entry is None:
                    raise MCPError(code=0, message=f"failed to acquire client for server {server}: not in the catalog")
                try:
                    client = await stack.enter_async_context(self.pool.acquire(entry, creator))
                    listed = await client.list_tools()
                except Exception as exc:  # noqa: BLE001
                    failure = f"failed to acquire client for server {server}: {_describe(exc)}"
                    break
                for tool in listed.tools:
                    tools[tool.name] = (client, tool)
            else:
                failure = None
                try:
                    output = await run_deno(self, script, tools)
                except Exception as exc:  # noqa: BLE001
                    failure = _describe(exc)
        if failure is not None:
            raise MCPError(code=0, message=failure)
        return output


def _progress_forwarder(ctx: ServerRequestContext[Any, Any] | None) -> Any:
    if ctx is None or not ctx.meta:
        return None
    meta: Any = ctx.meta
    token = meta.get("progress_token") if isinstance(meta, dict) else getattr(meta, "progress_token", None)
    if token is None and isinstance(meta, dict):
        token = meta.get("progressToken")
    if token is None:
        return None

    async def forward(progress: float, total: float | None, message: str | None) -> None:
        with contextlib.suppress(Exception):
            await ctx.session.send_progress_notification(token, progress, total, message,
                                                         related_request_id=str(ctx.request_id) if ctx.request_id is not None else None)
    return forward


def _format_config_value(value: Any) -> str:
    """v0.31's formatConfigValue."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, (list, dict)):
        return go_json(value)
    return go_format(value)


# BM25 as in findmcps.go -------------------------------------------------------------------------

def _tokenize(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


class _Index:
    def __init__(self) -> None:
        self.docs: list[dict[str, Any]] = []
        self.df: dict[str, int] = {}
        self.avg = 0.0

    def score(self, doc: dict[str, Any], query: list[str]) -> float:
        k1, b = 1.5, 0.75
        total = 0.0
        n = len(self.docs)
        for token in dict.fromkeys(query):
            df = self.df.get(token, 0)
            if df == 0:
                continue
            idf = math.log((n - df + 0.5) / (df + 0.5) + 1.0)
            tf = float(doc["tf"].get(token, 0))
            norm = 1.0 - b + b * doc["len"] / self.avg
            total += idf * (tf * (k1 + 1.0) / (tf + k1 * norm))
        return total


def _bm25_index(catalog: dict[str, Entry]) -> _Index:
    index = _Index()
    total = 0
    for entry in catalog.values():
        tf: dict[str, int] = {}
        length = 0

        fields = [(entry.name, 4), (entry.title, 3), (entry.description, 1)]
        for tool in entry.tools:
            fields += [(tool["name"], 2), (tool["description"], 1)]
        for text, weight in fields:
            for token in _tokenize(text):
                tf[token] = tf.get(token, 0) + weight
                length += weight
        for term in tf:
            index.df[term] = index.df.get(term, 0) + 1
        total += length
        index.docs.append({"entry": entry, "tf": tf, "len": length})
    if index.docs:
        index.avg = total / len(index.docs) or 1.0
    return index


# code-mode ---------------------------------------------------------------------------------------

CODE_MODE_PREAMBLE = """Run a JavaScript script that calls MCP tools.

Write one script that calls as many of the tools below as the task needs, branches on their results
and combines them, instead of calling the tools one by one.

 - Every tool is a plain global JavaScript function taking one object of arguments.
 - Tool functions are synchronous: no async/await is needed.
 - A tool function returns the text of the tool's result as a string.
 - The script returns a string.

Tools available as functions:

"""


def _tool_js_doc(tool: types.Tool) -> str:
    schema = tool.input_schema if isinstance(tool.input_schema, dict) else {}
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = [r for r in schema.get("required") or [] if isinstance(r, str)]
    lines = [f"===== {tool.name} =====\n\n{(tool.description or '').strip()}\n\n"]
    if not properties:
        lines.append(f"{tool.name}(): string\n")
    else:
        lines.append(f"{tool.name}(args: ArgsObject): string\n")
        lines.append("\nwhere type ArgsObject = {\n")
        for pname, param in properties.items():
            ptype, desc, enum = "Object", "", ""
            if isinstance(param, dict):
                if isinstance(param.get("type"), str):
                    ptype = param["type"]
                if isinstance(param.get("description"), str):
                    desc = param["description"]
                if isinstance(param.get("enum"), list):
                    enum = " | ".join(f"'{go_format(v)}'" if ptype == "string" else go_format(v) for v in param["enum"])
            label = pname if pname in required else pname + "?"
            lines.append(f"  {label}: {enum or ptype} // {desc.strip()}\n")
        lines.append("};\n")
    return "".join(lines)


_DENO_PRELUDE = r"""
const __JSON = JSON, __String = String, __Object = Object, __Array = Array, __Number = Number;
const __enc = new TextEncoder(), __dec = new TextDecoder();
const __stdin = Deno.stdin, __stdout = Deno.stdout, __stderr = Deno.stderr;
const __MARK = __CONFIG.mark;
let __buf = new Uint8Array(0);
function __write(stream, text) {
  const data = __enc.encode(text);
  let off = 0;
  while (off < data.length) off += stream.writeSync(data.subarray(off));
}
function __readLine() {
  for (;;) {
    const i = __buf.indexOf(10);
    if (i >= 0) {
      const line = __dec.decode(__buf.subarray(0, i));
      __buf = __buf.slice(i + 1);
      return line;
    }
    const chunk = new Uint8Array(65536);
    const n = __stdin.readSync(chunk);
    if (n === null) throw new Error("bridge closed");
    const merged = new Uint8Array(__buf.length + n);
    merged.set(__buf);
    merged.set(chunk.subarray(0, n), __buf.length);
    __buf = merged;
  }
}
function __export(v, seen) {
  if (v === undefined || v === null) return null;
  if (typeof v === "number") {
    if (__Number.isNaN(v)) return {"$num": "NaN"};
    if (!__Number.isFinite(v)) return {"$num": v > 0 ? "+Inf" : "-Inf"};
    return v;
  }
  if (typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "bigint") return __String(v);
  if (typeof v === "function") return {"$fn": true};
  if (typeof v === "symbol") return __String(v);
  seen = seen || new Set();
  if (seen.has(v)) return null;
  seen.add(v);
  if (__Array.isArray(v)) return v.map((x) => __export(x, seen));
  if (v instanceof Date) return v.toISOString();
  const out = {};
  for (const k of __Object.keys(v)) out[k] = __export(v[k], seen);
  return out;
}
function __errorText(e) {
  if (e instanceof Error) return (e.name || "Error") + ": " + e.message;
  return __String(e);
}
function __call(name, required, args) {
  const clean = {};
  if (args !== null && typeof args === "object") {
    for (const k of __Object.keys(args)) {
      const v = args[k];
      if (required.includes(k) || (v !== null && v !== undefined)) clean[k] = v;
    }
  }
  __write(__stdout, __MARK + __JSON.stringify({call: name, arguments: clean}) + "\n");
  const reply = __JSON.parse(__readLine());
  if (reply.error !== undefined) {
    const err = new Error(reply.error);
    err.name = "GoError";
    throw err;
  }
  return reply.text;
}
const __print = (...args) => __write(__stderr, args.map((a) => typeof a === "string" ? a : __JSON.stringify(__export(a))).join(" ") + "\n");
globalThis.console = {debug: __print, error: __print, info: __print, log: __print, trace: __print, warn: __print};
for (const [name, required] of __CONFIG.tools) globalThis[name] = (args) => __call(name, required, args);
let __outcome;
try {
  __outcome = {done: __export((0, eval)("(() => {\n" + __CONFIG.script + "\n})()"))};
} catch (e) {
  __outcome = {error: __errorText(e)};
}
__write(__stdout, __MARK + __JSON.stringify(__outcome) + "\n");
"""


def _deno_result(value: Any) -> str:
    if value is None:
        return "<no output>"
    return go_format(_from_export(value))


def _from_export(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$num"}:
            return {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf}[value["$num"]]
        if set(value) == {"$fn"}:
            return "<function>"
        return {k: _from_export(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_export(v) for v in value]
    return value


async def run_deno(gw: Gateway, script: str, tools: dict[str, tuple[Client, types.Tool]]) -> str:
    """Run a code-mode script in Deno; tool calls come back over stdout/stdin, synchronously for the script."""
    import deno  # PyPI `deno`

    mark = "\x1e" + _random.token_hex(8) + ":"
    tool_config = []
    for name, (_client, tool) in tools.items():
        schema = tool.input_schema if isinstance(tool.input_schema, dict) else {}
        tool_config.append([name, [r for r in schema.get("required") or [] if isinstance(r, str)]])
    source = ("const __CONFIG = " + json.dumps({"mark": mark, "tools": tool_config, "script": script}) + ";\n"
              + _DENO_PRELUDE)
    if gw._deno_dir is None:
        gw._deno_dir = tempfile.mkdtemp(prefix="fake-gateway-deno-")
    with tempfile.TemporaryDirectory(prefix="fake-gateway-code-") as tmp:
        path = Path(tmp) / "script.js"
        path.write_text(source, encoding="utf-8")
        argv = [deno.find_deno_bin(), "run", "--no-prompt", "--no-remote", "--no-npm", "--no-config", "--no-lock",
                "--deny-net", "--deny-read", "--deny-write", "--deny-env", "--deny-run", "--deny-ffi", "--deny-sys", str(path)]
        env = {"DENO_DIR": gw._deno_dir, "DENO_NO_UPDATE_CHECK": "1", "NO_COLOR": "1",
               "PATH": os.environ.get("PATH", "")}
        process = await anyio.open_process(argv, env=env)
        outcome: dict[str, Any] | None = None
        try:
            async with anyio.create_task_group() as tg:
                async def pump_stderr() -> None:
                    assert process.stderr is not None
                    async for chunk in process.stderr:
                        sys.stderr.write(chunk.decode("utf-8", "replace"))
                        sys.stderr.flush()
                tg.start_soon(pump_stderr)
                assert process.stdout is not None and process.stdin is not None
                buffer = b""
                async for chunk in process.stdout:
                    buffer += chunk
                    while b"\n" in buffer:
                        raw, buffer = buffer.split(b"\n", 1)
                        line = raw.decode("utf-8", "replace")
                        at = line.find(mark)
                        if at < 0:
                            continue
                        message = json.loads(line[at + len(mark):])
                        if "call" in message:
                            reply = await _bridge_call(tools, message["call"], message.get("arguments") or {})
                            await process.stdin.send((json.dumps(reply) + "\n").encode())
                        else:
                            outcome = message
                    if outcome is not None:
                        break
                await process.wait()
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                if process.returncode is None:
                    process.kill()
                await process.wait()
    if outcome is None:
        return f"Error running script: the JavaScript runtime exited with status {process.returncode}"
    if "error" in outcome:
        return f"Error running script: {outcome['error']}"
    return _deno_result(outcome.get("done"))


async def _bridge_call(tools: dict[str, tuple[Client, types.Tool]], name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    client, _tool = tools[name]
    try:
        result = await client.call_tool(name, arguments)
    except MCPError as exc:
        return {"error": exc.message}
    except Exception as exc:  # noqa: BLE001
        return {"error": _describe(exc)}
    if result.content and isinstance(result.content[0], types.TextContent):
        return {"text": result.content[0].text}
    return {"text": ""}


# --------------------------------------------------------------------------------------------------
# Preloaded servers (--servers)
# --------------------------------------------------------------------------------------------------

async def preload(gw: Gateway) -> None:
    for server in gw.preload:
        entry = gw.catalog.get(server)
        if entry is None:
            _log(f"  - MCP server not found: {server}")
            continue
        gw.server_names.append(server)
        await gw._reload_server(server)
        gw._update_server(server, CapNames(), gw._all_names(server))
    gw._generation = {k: v + 1 for k, v in gw._generation.items()}


# --------------------------------------------------------------------------------------------------
# HTTP front (the gateway's mux, auth and origin checks, and go-sdk's request checks)
# --------------------------------------------------------------------------------------------------

def _is_loopback_host(host: str) -> bool:
    host = host.strip()
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if host == "localhost":
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _allowed_origin(origin: str) -> bool:
    try:
        parts = urlsplit(origin)
        hostname = parts.hostname or ""
    except ValueError:
        return False
    if parts.scheme not in ("http", "https"):
        return False
    return hostname in ("localhost", "127.0.0.1", "::1")


class HttpFront:
    def __init__(self, gw: Gateway, token: str | None) -> None:
        from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
        from mcp.server.transport_security import TransportSecuritySettings

        self.gw = gw
        self.token = token
        self.manager = StreamableHTTPSessionManager(
            app=gw.server, json_response=False, stateless=False,
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
            session_idle_timeout=None, max_sessions=None)
        self.mcp_app = StreamableHTTPASGIApp(self.manager)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        path = scope.get("path", "/")
        method = scope.get("method", "GET")
        if path == "/health":
            await _respond(send, 200, b"")
            return
        if self.token is not None:
            auth = headers.get("authorization", "")
            prefix = "Bearer "
            ok = len(auth) > len(prefix) and auth.startswith(prefix) and _random.compare_digest(auth[len(prefix):], self.token)
            if not ok:
                await _respond(send, 401, b"Unauthorized\n", [(b"www-authenticate", b'Bearer realm="MCP Gateway"')])
                return
        if path != "/mcp":
            body = b'<a href="/mcp">Temporary Redirect</a>.\n\n' if method == "GET" else b""
            extra = [(b"location", b"/mcp")]
            ctype = b"text/html; charset=utf-8" if method in ("GET", "HEAD") else None
            await _respond(send, 307, body, extra, content_type=ctype)
            return
        origin = headers.get("origin", "")
        if origin and not _allowed_origin(origin):
            await _respond(send, 403, f"Forbidden: Origin, if set, must be localhost, 127.0.0.1, or ::1, got: {origin}\n".encode())
            return
        # go-sdk StreamableHTTPHandler.ServeHTTP
        host = headers.get("host", "")
        server_addr = scope.get("server") or ("", 0)
        if _is_loopback_host(str(server_addr[0])) and not _is_loopback_host(host):
            await _respond(send, 403, f'Forbidden: invalid Host header "{host}"\n'.encode())
            return
        if method not in ("GET", "HEAD", "OPTIONS"):
            fetch_site = headers.get("sec-fetch-site", "")
            if fetch_site and fetch_site not in ("same-origin", "none"):
                await _respond(send, 403, b"cross-origin request detected from Sec-Fetch-Site header\n")
                return
            if not fetch_site and origin:
                try:
                    origin_host = urlsplit(origin).netloc
                except ValueError:
                    origin_host = ""
                if origin_host != host:
                    await _respond(send, 403, b"cross-origin request detected, and/or browser is out of date: "
                                              b"Sec-Fetch-Site is missing, and Origin does not match Host\n")
                    return
            if method == "POST" and headers.get("content-type", "") != "application/json":
                await _respond(send, 415, b"Content-Type must be 'application/json'\n")
                return
        accept = [a.strip() for a in headers.get("accept", "").split(",")]
        json_ok = any(a in ("application/json", "application/*", "*/*") for a in accept)
        stream_ok = any(a in ("text/event-stream", "text/*", "*/*") for a in accept)
        if method == "GET" and not stream_ok:
            await _respond(send, 400, b"Accept must contain 'text/event-stream' for GET requests\n")
            return
        if method not in ("GET", "DELETE") and not (json_ok and stream_ok):
            await _respond(send, 400, b"Accept must contain both 'application/json' and 'text/event-stream'\n")
            return
        session_id = headers.get("mcp-session-id", "")
        known = getattr(self.manager, "_server_instances", None)
        if session_id and isinstance(known, dict) and session_id not in known:
            await _respond(send, 404, b"session not found\n")
            return
        if method == "DELETE" and not session_id:
            await _respond(send, 400, b"Bad Request: DELETE requires an Mcp-Session-Id header\n")
            return
        if method == "GET" and not session_id:
            await _respond(send, 400, b"Bad Request: GET requires an Mcp-Session-Id header\n")
            return
        if method not in ("GET", "POST", "DELETE"):
            await _respond(send, 405, b"Method Not Allowed\n", [(b"allow", b"GET, POST, DELETE")])
            return
        version = headers.get("mcp-protocol-version", "2025-03-26")
        if method != "DELETE" and version not in GO_SDK_PROTOCOL_VERSIONS:
            await _respond(send, 400, ("Bad Request: Unsupported protocol version (supported versions: "
                                       + ",".join(GO_SDK_PROTOCOL_VERSIONS) + ")\n").encode())
            return
        assert version in HANDSHAKE_PROTOCOL_VERSIONS or method == "DELETE"
        await self.mcp_app(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        message = await receive()
        if message["type"] != "lifespan.startup":
            return
        failed: str | None = None
        async with anyio.create_task_group() as tg:
            self.gw.tg = tg
            async with self.manager.run():
                try:
                    await preload(self.gw)
                except Exception as exc:  # noqa: BLE001 - e.g. a tool name collision: the gateway does not start
                    failed = _describe(exc)
                if failed is None:
                    await send({"type": "lifespan.startup.complete"})
                    await receive()  # lifespan.shutdown
                for kept in self.gw.pool.kept.values():
                    kept.stop.set()
            tg.cancel_scope.cancel()
        if failed is not None:
            await send({"type": "lifespan.startup.failed", "message": failed})
            return
        await send({"type": "lifespan.shutdown.complete"})


async def _respond(send: Any, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None,
                   content_type: bytes | None = b"text/plain; charset=utf-8") -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    if content_type is not None and (body or status >= 400):
        headers.append((b"content-type", content_type))
        if status >= 400:
            headers.append((b"x-content-type-options", b"nosniff"))
    headers += extra or []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# --------------------------------------------------------------------------------------------------
# A catalog for tests
# --------------------------------------------------------------------------------------------------

def write_example_catalog(directory: Path) -> Path:
    """Write `directory/catalog.json`: a Docker-format catalog whose servers are tests/upstreams/, run locally.

    - `echo` (per-call process; also carries an `image:`, which is not pulled because `run:` is there);
    - `rich` (`longLived`, secret `rich.api_key` -> `RICH_API_KEY`, config item `rich` requiring
      `units` in metric|imperial, rendered into `RICH_UNITS`; it also has a tool named `echo`, so it
      collides with `echo`);
    - `dockeronly` (only an `image:`: mcp-add answers with the pull-failure text).
    """
    upstreams = Path(__file__).resolve().parent / "upstreams"
    py, echo, rich = sys.executable, str(upstreams / "echo.py"), str(upstreams / "rich.py")
    catalog = {
        "registry": {
            "echo": {
                "title": "Echo",
                "description": "Says back the text it is given.",
                "type": "server",
                "image": "mcp/echo-not-pulled-here",
                "run": {"command": py, "args": [echo]},
                "tools": [{"name": "echo"}],
            },
            "rich": {
                "title": "Rich Weather",
                "description": "Deterministic weather reports and every content shape.",
                "type": "server",
                "longLived": True,
                "run": {"command": py, "args": [rich], "env": {"RICH_UNITS": "{{rich.units}}"}},
                "secrets": [{"name": "rich.api_key", "env": "RICH_API_KEY"}],
                "config": [{
                    "name": "rich",
                    "description": "Settings of the rich server",
                    "type": "object",
                    "properties": {"units": {"type": "string", "enum": ["metric", "imperial"]}},
                    "required": ["units"],
                }],
                "tools": [{"name": "get_weather"}, {"name": "echo"}],
            },
            "dockeronly": {
                "title": "Docker Only",
                "description": "Exists only as a container image.",
                "type": "server",
                "image": "mcp/dockeronly",
                "tools": [{"name": "thing"}],
            },
        }
    }
    path = directory / "catalog.json"
    path.write_text(json.dumps(catalog, indent=1))  # JSON is YAML
    return path



# --------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------

def _bool_flag(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "t", "true", "yes", "on"):
        return True
    if lowered in ("0", "f", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {value!r}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fake_gateway.py", description="A stand-in Docker MCP Gateway (v0.43.3) for tests.")
    parser.add_argument("--transport", default="stdio")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--catalog", action="append", default=[])
    parser.add_argument("--additional-catalog", action="append", default=[], dest="additional_catalog")
    parser.add_argument("--secrets", default=None)
    parser.add_argument("--token", default=None)
    parser.add_argument("--allow-unauthenticated", action="store_true")
    parser.add_argument("--config-set-schema", choices=["old", "new"], default=os.environ.get("FAKE_GATEWAY_CONFIG_SET_SCHEMA", "new"))
    parser.add_argument("--block-secrets", nargs="?", const=True, default=True, type=_bool_flag)
    parser.add_argument("--no-block-secrets", dest="block_secrets", action="store_false")
    parser.add_argument("--long-lived", nargs="?", const=True, default=False, type=_bool_flag)
    parser.add_argument("--tool-name-prefix", action="store_true")
    parser.add_argument("--servers", default="")
    # Accepted and ignored, as harmless real flags.
    for flag in ("--log-calls", "--verbose", "--watch", "--verify-signatures", "--static", "--dry-run"):
        parser.add_argument(flag, nargs="?", const=True, default=None, type=_bool_flag)
    args = parser.parse_args(argv)
    args.catalog = list(args.catalog) + list(args.additional_catalog)
    transport = args.transport.lower()
    if transport in ("http", "streamable", "streaming", "streamable-http"):
        args.transport = "streaming"
        if args.port is None or args.port == 0:
            args.port = DEFAULT_PORT
    elif transport == "stdio":
        args.transport = "stdio"
        if args.port:
            parser.exit(1, "Error: cannot use --port with --transport=stdio\n")
    elif transport == "sse":
        parser.exit(2, "fake_gateway.py: --transport sse is not implemented by this stand-in\n")
    else:
        parser.exit(1, f"Error: unknown transport \"{args.transport}\", expected 'stdio', 'sse' or 'streaming\n")
    return args


async def _run_stdio(gw: Gateway) -> None:
    from mcp.server.stdio import stdio_server

    async with anyio.create_task_group() as tg:
        gw.tg = tg
        await preload(gw)
        _log("> Start stdio server")
        async with stdio_server() as (read_stream, write_stream):
            await gw.server.run(read_stream, write_stream, gw.server.create_initialization_options())
        for kept in gw.pool.kept.values():
            kept.stop.set()
        tg.cancel_scope.cancel()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    gw = Gateway(args)
    _log(f"- Docker MCP Gateway stand-in (behaviour of {GATEWAY_VERSION}, {SOURCE_COMMIT[:8]}); "
         f"{len(gw.catalog)} catalog entries")
    if args.transport == "stdio":
        anyio.run(_run_stdio, gw)
        return 0
    token: str | None = None
    env_token = os.environ.get("MCP_GATEWAY_AUTH_TOKEN", "")
    url = f"http://localhost:{args.port}/mcp"
    _log(f"> Start streaming server on port {args.port}")
    if args.allow_unauthenticated:
        if env_token:
            _log("Warning: ignoring MCP_GATEWAY_AUTH_TOKEN because --allow-unauthenticated is set")
        _log(f"> Gateway URL: {url}")
        _log("> Authentication disabled by explicit configuration")
    elif args.token:
        token = args.token
        _log(f"> Gateway URL: {url}")
        _log("> Use Bearer token given with --token")
    elif env_token:
        token = env_token
        _log(f"> Gateway URL: {url}")
        _log("> Use Bearer token from MCP_GATEWAY_AUTH_TOKEN environment variable")
    else:
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        token = "".join(_random.choice(alphabet) for _ in range(50))
        _log(f"> Gateway URL: {url}")
        _log(f"> Use Bearer token: Authorization: Bearer {token}")
    import uvicorn

    front = HttpFront(gw, token)
    uvicorn.run(front, host=args.host, port=args.port, log_level="warning", access_log=False,
                lifespan="on", timeout_graceful_shutdown=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
