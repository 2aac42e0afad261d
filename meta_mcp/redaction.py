"""Redaction: the one place that knows what must never be printed.

`Redactor.redact(text)` returns `text` with
- every secret value it knows replaced by `***` (the secrets chain adds each value it hands out, the
  CLI adds the model keys from Settings; values shorter than 4 characters are ignored, they would
  blank out ordinary text); the percent-encoded form of a value is caught too, and the forms it takes
  inside a JSON string and inside a Python repr;
- URL credentials replaced: `https://user:pass@host/` → `https://***@host/`;
- sensitive query parameters blanked: `?api_key=…`, `key`, `token`, `access_token`, `secret`,
  `password`, `signature`, … → `?api_key=***`;
- bearer tokens blanked: `Bearer abc123…` → `Bearer ***`.

`RedactingFilter` applies it to every log record (the message with its arguments, exception and stack
text) and shortens HTTP session ids — which the SDK logs at INFO and which let anyone holding one
speak in that session — to a hash (`session ID: #1a2b3c4d`), still good for following one session
through a log. `install(redactor)` puts the filter on every handler the root logger (and any other
configured logger) has.

The same redactor guards everything else that leaves meta-mcp:
- `redacting_interceptor(redactor)` on the registry's one call path: every tool result (and the text
  of a protocol error) of every caller — clients, `call_tool`, `run_code`'s bridge and its output,
  `agent_chat` and its inner calls — has known secret values replaced (`Redactor.scrub`: values only,
  so ordinary text that merely looks like a credential is left alone); prompts and resource reads
  get the same `scrub` in the registry (`Workspaces(scrub=…)`);
- `RedactingASGI(app, redactor)` around the chat API: REST bodies and each SSE chunk;
- the telemetry's span processor (`services.telemetry.export`): span names, attributes, events and
  status texts, before any exporter sees them.

Example:
    redactor = Redactor(["sk-live-123456"])
    redactor.redact("GET https://u:pw@h/mcp?api_key=k1&x=1 with sk-live-123456")
    → "GET https://***@h/mcp?api_key=***&x=1 with ***"
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from meta_mcp.registry.interceptors import Interceptor

MASK = "***"
MIN_SECRET_LENGTH = 4

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#'\"<>]+@")
_SENSITIVE_PARAM = re.compile(
    r"(?i)([?&;](?:api[_-]?key|apikey|key|token|access[_-]?token|refresh[_-]?token|id[_-]?token|auth|"
    r"authorization|secret|client[_-]?secret|password|passwd|pwd|signature|sig|x-amz-signature|"
    r"x-goog-signature|x-amz-security-token|session[_-]?token)=)[^&#\s'\"<>]*")
_BEARER = re.compile(r"(?i)\b(bearer\s+)(?=\S*\d)[A-Za-z0-9._~+/=-]{8,}")
_SESSION_ID = re.compile(r"(?i)(\bsession(?:[ _-]?id)?(?:\s*[:=]\s*|\s+)['\"]?)([A-Za-z0-9_-]{16,})")


class Redactor:
    """Scrubs known secret values and credential-shaped text (see the module docstring).

    Thread-safe: log records arrive from worker threads (uvicorn, the Infisical client) while the
    secrets chain adds values on the event loop.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *values: str | None) -> None:
        """Remember secret values (None, empty and very short ones are ignored)."""
        new = set()
        for value in values:
            if value and len(value) >= MIN_SECRET_LENGTH:
                new.add(value)
                new.add(quote(value, safe=""))
                new.add(json.dumps(value)[1:-1])  # as it appears inside a JSON string (quotes, \\, \\uXXXX escaped)
                new.add(repr(value)[1:-1])  # and inside a Python repr (what DEBUG logs of messages show)
        with self._lock:
            if new <= self._values:
                return
            self._values |= new
            ordered = sorted(self._values, key=len, reverse=True)  # longest first: no partial leftovers
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def redact(self, text: str) -> str:
        """`text` with secret values, URL credentials, sensitive query parameters and bearer tokens masked."""
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        if "://" in text:
            text = _USERINFO.sub(rf"\1{MASK}@", text)
        if "=" in text:
            text = _SENSITIVE_PARAM.sub(rf"\1{MASK}", text)
        return _BEARER.sub(rf"\1{MASK}", text)

    @property
    def knows_secrets(self) -> bool:
        """Whether any secret value was added."""
        return self._pattern is not None

    def redact_values(self, text: str) -> str:
        """`text` with known secret values masked (and nothing else)."""
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None else text

    def scrub(self, data: Any) -> Any:
        """JSON-like `data` (dicts, lists, strings) with known secret values masked in every string; the very
        same object when nothing had to change (no copy on the hot path)."""
        pattern = self._pattern
        if pattern is None:
            return data
        return _scrub(data, pattern)


def _scrub(data: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(data, str):
        return pattern.sub(MASK, data) if pattern.search(data) else data
    if isinstance(data, dict):
        changed = None
        for key, value in data.items():
            clean = _scrub(value, pattern)
            if clean is not value:
                if changed is None:
                    changed = dict(data)
                changed[key] = clean
        return data if changed is None else changed
    if isinstance(data, (list, tuple)):
        items = [_scrub(item, pattern) for item in data]
        return data if all(a is b for a, b in zip(items, data)) else type(data)(items)
    return data


def redacting_interceptor(redactor: Redactor) -> Interceptor:
    """A call interceptor (see `registry.interceptors`) that scrubs known secret values from every tool
    result and from the message of a protocol error."""

    async def redact_call(call: Any, proceed: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        try:
            result = await proceed()
        except Exception as exc:
            from mcp import MCPError

            if isinstance(exc, MCPError) and redactor.knows_secrets:
                message, data = redactor.redact(exc.error.message), redactor.scrub(exc.error.data)
                if message != exc.error.message or data is not exc.error.data:
                    raise MCPError(exc.error.code, message, data) from None
            raise
        return redactor.scrub(result)

    return redact_call


class RedactingASGI:
    """ASGI middleware: known secret values masked in every HTTP response body (REST bodies whole, streamed
    bodies such as SSE chunk by chunk); a response with a Content-Length gets it recomputed."""

    def __init__(self, app: Any, redactor: Redactor) -> None:
        self.app = app
        self.redactor = redactor

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        redactor = self.redactor
        start: dict[str, Any] | None = None

        async def redacting_send(message: dict[str, Any]) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and any(
                    k.lower() == b"content-length" for k, _ in message.get("headers", [])):
                start = message  # held back until the body comes: its length may change
                return
            if message["type"] == "http.response.body":
                body = message.get("body", b"")
                if body and redactor.knows_secrets:
                    text = body.decode("utf-8", "surrogateescape")
                    clean = redactor.redact_values(text)
                    if clean != text:
                        message = {**message, "body": clean.encode("utf-8", "surrogateescape")}
                if start is not None:
                    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                    if not message.get("more_body", False):  # the whole body: its (new) length is known
                        headers.append((b"content-length", str(len(message.get("body", b""))).encode()))
                    await send({**start, "headers": headers})
                    start = None
            await send(message)

        await self.app(scope, receive, redacting_send)


def hash_session_ids(text: str) -> str:
    """HTTP session ids in `text` replaced by `#` and 8 hex digits of their SHA-256."""
    if not _SESSION_ID.search(text):
        return text
    import hashlib  # here, not at import: the CLI imports this module before it re-executes itself

    return _SESSION_ID.sub(lambda m: m.group(1) + "#" + hashlib.sha256(m.group(2).encode()).hexdigest()[:8], text)


class RedactingFilter(logging.Filter):
    """A handler filter: redacts every record's text and hashes session ids; never drops a record."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def _clean(self, text: str) -> str:
        return hash_session_ids(self.redactor.redact(text))

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let the handler report it as logging does
            return True
        clean = self._clean(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self._clean(record.stack_info)
        return True


def install(redactor: Redactor) -> RedactingFilter:
    """Put one `RedactingFilter` on every handler of the root logger and of any logger that has its
    own handlers (call after logging is configured)."""
    log_filter = RedactingFilter(redactor)
    loggers = [logging.getLogger(), *(lg for lg in logging.Logger.manager.loggerDict.values()
                                      if isinstance(lg, logging.Logger))]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(log_filter)
    return log_filter


_SECRET_NAME = re.compile(
    r"(?i)(?:^|[_.\s-])(?:api[_-]?key|apikey|key|token|secret|password|passwd|pass|pwd|auth|authorization|"
    r"credentials?|cookie|signature|sig)(?:$|[_.\s-])")


def looks_secret(name: str) -> bool:
    """Whether a variable or header name says it holds a secret (`GITHUB_TOKEN`, `X-Api-Key`,
    `Authorization`, `DB_PASSWORD` …): for values nobody declared secret, such as a config file's headers."""
    return bool(_SECRET_NAME.search(name))
