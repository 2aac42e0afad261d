"""Where `agent_chat` gets its model: OpenAI, OpenRouter, any OpenAI-compatible server, or the host.

Choosing (`resolve`): the call's `provider` wins over `agent_provider`; `auto` picks, in order,
`openai-compatible` when `agent_base_url` is set, `openai` when `OPENAI_API_KEY` is set, `openrouter`
when `OPENROUTER_API_KEY` is set, and `sampling` (the host's model through MCP sampling) when the
client supports it. The model: the call's `model`, else `agent_model`, else the provider's default.
Anything missing raises `ModelUnavailable` whose message names exactly what to set.

Failures degrade to `ModelError` (never a crash): 429, 408/409, 5xx and network errors are retried
with exponential backoff (a `Retry-After` header wins, capped by the run's remaining time); other
HTTP errors are final. Every message is passed through `redact`, so keys never leave this module.
With tracing on, each request is a generation span (`services.telemetry.agent.generation`: model,
token usage, latency; the messages only with META_MCP_TRACE_CONTENT=1).

Example:
    choice = resolve(settings, provider=None, model=None, can_sample=False)
    async with OpenAIChat(choice, settings) as chat:
        reply = await chat.complete(messages, tools, remaining=60, on_retry=report)
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from meta_mcp.services.telemetry.agent import generation
from meta_mcp.settings import Settings

if TYPE_CHECKING:
    import openai

DEFAULT_MODELS = {"openai": "gpt-4.1-mini", "openrouter": "openai/gpt-4.1-mini"}
OPENAI_URL = "https://api.openai.com/v1"
PROVIDERS = ("openai", "openrouter", "openai-compatible", "sampling")
_RETRY_STATUS = {408, 409, 429}


class ModelUnavailable(Exception):
    """The chosen provider cannot be used: the message says exactly what to set."""


class ModelError(Exception):
    """A model request failed for good (after retries); the message is redacted."""

    def __init__(self, message: str, status: int | None = None, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.timeout = timeout
        """The model did not answer in time (as opposed to answering with an error)."""


@dataclass(frozen=True)
class ProviderChoice:
    """A resolved provider: where to send requests and with which key (never shown)."""

    name: str
    model: str | None
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)

    def secrets(self) -> list[str]:
        return [self.api_key] if self.api_key else []


@dataclass
class ModelReply:
    """One assistant message in OpenAI form, plus the tokens it cost."""

    content: str | None
    tool_calls: list[dict[str, Any]]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None

    def message(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"role": "assistant", "content": self.content or ""}
        if self.tool_calls:
            msg["tool_calls"] = self.tool_calls
        return msg


RetryFn = Callable[[int, float, str], Awaitable[None]]
DeltaFn = Callable[[str], Awaitable[None]]


def redact(text: str, secrets: list[str]) -> str:
    """`text` with every secret (4+ characters) replaced by `***`."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def _key(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def resolve(settings: Settings, provider: str | None, model: str | None, can_sample: bool) -> ProviderChoice:
    """The provider for one run (see the module docstring for who wins)."""
    name = provider or settings.agent_provider
    openai_key = _key(settings.openai_api_key) or (_key(settings.agent_api_key) if name == "openai" else None)
    openrouter_key = _key(settings.openrouter_api_key)
    if name == "auto":
        if settings.agent_base_url:
            name = "openai-compatible"
        elif openai_key:
            name = "openai"
        elif openrouter_key:
            name = "openrouter"
        elif can_sample:
            name = "sampling"
        else:
            raise ModelUnavailable(
                "agent_chat has no model: set OPENAI_API_KEY (OpenAI), or OPENROUTER_API_KEY (OpenRouter), or "
                "META_MCP_AGENT_BASE_URL and META_MCP_AGENT_MODEL (plus META_MCP_AGENT_API_KEY if it needs one) for "
                "an OpenAI-compatible server (vLLM, llama.cpp, Ollama…), in meta-mcp's environment or .env; or "
                "use a client that supports MCP sampling."
            )
    model = model or settings.agent_model or DEFAULT_MODELS.get(name)
    if name == "openai":
        if not openai_key:
            raise ModelUnavailable("provider 'openai' needs OPENAI_API_KEY in meta-mcp's environment or .env "
                              "(OPENAI_BASE_URL optionally points it elsewhere).")
        return ProviderChoice("openai", model, settings.openai_base_url or OPENAI_URL, openai_key)
    if name == "openrouter":
        if not openrouter_key:
            raise ModelUnavailable("provider 'openrouter' needs OPENROUTER_API_KEY in meta-mcp's environment or .env.")
        return ProviderChoice("openrouter", model, settings.openrouter_base_url, openrouter_key)
    if name == "openai-compatible":
        if not settings.agent_base_url:
            raise ModelUnavailable("provider 'openai-compatible' needs META_MCP_AGENT_BASE_URL (e.g. "
                              "http://127.0.0.1:8080/v1) in meta-mcp's environment or .env.")
        if not model:
            raise ModelUnavailable("provider 'openai-compatible' needs a model: set META_MCP_AGENT_MODEL or pass model.")
        return ProviderChoice("openai-compatible", model, settings.agent_base_url, _key(settings.agent_api_key))
    if name == "sampling":
        if not can_sample:
            raise ModelUnavailable("provider 'sampling' needs a client that supports MCP sampling (this one did not "
                              "declare it); configure a model instead: OPENAI_API_KEY, OPENROUTER_API_KEY or "
                              "META_MCP_AGENT_BASE_URL.")
        return ProviderChoice("sampling", model)
    raise ModelUnavailable(f"unknown provider {name!r}: use one of {', '.join(PROVIDERS)}.")


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    header = response.headers.get("retry-after") if response is not None else None
    try:
        return float(header) if header is not None else None
    except ValueError:
        return None


class OpenAIChat:
    """Chat completions through the `openai` SDK (its own retries off: ours report progress)."""

    def __init__(self, choice: ProviderChoice, settings: Settings) -> None:
        import openai  # imported on first use: it is heavy, and most runs of meta-mcp never chat

        self.choice = choice
        self.settings = settings
        self._client = openai.AsyncOpenAI(
            api_key=choice.api_key or "not-needed",  # the SDK insists on a key, even for local servers
            base_url=choice.base_url, max_retries=0, timeout=settings.agent_request_timeout_s,
        )

    async def __aenter__(self) -> OpenAIChat:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.close()

    async def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], *, remaining: float,
                       on_retry: RetryFn, tool_choice: str | None = None, on_delta: DeltaFn | None = None
                       ) -> ModelReply:
        """One model reply; retries what is worth retrying, else raises `ModelError`. `on_delta` receives
        the text as it streams in."""
        import openai

        secrets = self.choice.secrets()
        attempt = 0
        timed_out = False
        while True:
            try:
                with generation(self.choice.name, self.choice.model or "", messages, stream=self.settings.agent_stream,
                                record_content=self.settings.trace_content) as traced:
                    reply = await self._request(messages, tools, tool_choice, on_delta)
                    traced.done(reply.prompt_tokens, reply.completion_tokens, reply.finish_reason, reply.message())
                return reply
            except openai.APIStatusError as exc:
                failed: Exception = exc
                status = exc.status_code
                reason = f"HTTP {status} from {self.choice.name}: {_status_text(exc)}"
                if status not in _RETRY_STATUS and status < 500:
                    raise ModelError(redact(reason, secrets), status) from None
            except (openai.APIConnectionError, openai.APIResponseValidationError) as exc:
                failed, status = exc, None
                timed_out = isinstance(exc, openai.APITimeoutError)
                reason = f"{type(exc).__name__} talking to {self.choice.name}: {exc}"
            except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
                raise ModelError(redact(f"malformed reply from {self.choice.name}: {exc}", secrets)) from None
            if attempt >= self.settings.agent_retries:
                raise ModelError(redact(f"{reason} (gave up after {attempt + 1} attempts)", secrets), status,
                                 timeout=timed_out)
            delay = _retry_after_or(failed, self.settings.agent_retry_backoff_s * 2**attempt)
            delay = min(delay, 30.0, max(0.0, remaining - 1.0))
            attempt += 1
            await on_retry(attempt, delay, redact(reason, secrets))
            await anyio.sleep(delay)

    async def _request(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                       tool_choice: str | None, on_delta: DeltaFn | None) -> ModelReply:
        kwargs: dict[str, Any] = {"model": self.choice.model, "messages": messages}
        if tools:
            kwargs["tools"] = tools
            if tool_choice in ("auto", "required", "none"):
                kwargs["tool_choice"] = tool_choice
            elif tool_choice:
                kwargs["tool_choice"] = {"type": "function", "function": {"name": tool_choice}}
        if self.settings.agent_max_output_tokens:
            kwargs["max_tokens"] = self.settings.agent_max_output_tokens
        if not self.settings.agent_stream:
            completion = await self._client.chat.completions.create(**kwargs)
            choice = completion.choices[0]
            calls = [{"id": c.id or f"call_{i}", "type": "function",
                      "function": {"name": c.function.name, "arguments": c.function.arguments or ""}}
                     for i, c in enumerate(choice.message.tool_calls or []) if getattr(c, "function", None)]
            usage = completion.usage
            if on_delta is not None and choice.message.content:
                await on_delta(choice.message.content)
            return ModelReply(choice.message.content, calls, usage.prompt_tokens if usage else _estimate(messages),
                              usage.completion_tokens if usage else _estimate([choice.message.content]),
                              choice.finish_reason)
        stream = await self._client.chat.completions.create(**kwargs, stream=True,
                                                            stream_options={"include_usage": True})
        content: list[str] = []
        slots: dict[int, dict[str, Any]] = {}
        prompt = completion_tokens = None
        finish = None
        async for chunk in stream:
            if chunk.usage is not None:
                prompt, completion_tokens = chunk.usage.prompt_tokens, chunk.usage.completion_tokens
            for choice in chunk.choices:
                delta = choice.delta
                finish = choice.finish_reason or finish
                if delta is None:
                    continue
                if delta.content:
                    content.append(delta.content)
                    if on_delta is not None:
                        await on_delta(delta.content)
                for part in delta.tool_calls or []:
                    slot = slots.setdefault(part.index, {"id": None, "name": "", "arguments": ""})
                    slot["id"] = slot["id"] or part.id
                    if part.function is not None:
                        slot["name"] += part.function.name or ""
                        slot["arguments"] += part.function.arguments or ""
        text = "".join(content) or None
        calls = [{"id": s["id"] or f"call_{i}", "type": "function",
                  "function": {"name": s["name"], "arguments": s["arguments"]}} for i, s in sorted(slots.items())]
        return ModelReply(text, calls, prompt if prompt is not None else _estimate(messages),
                          completion_tokens if completion_tokens is not None else _estimate([text, calls]), finish)


def _status_text(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        body = body.get("error", body)
        if isinstance(body, dict):
            body = body.get("message", body)
    return str(body if body else exc.message)[:500]


def _retry_after_or(exc: Exception, default: float) -> float:
    after = _retry_after(exc)
    return after if after is not None and after >= 0 else default


def _estimate(parts: list[Any]) -> int:
    """About 4 characters a token, for servers that report no usage."""
    return max(1, len(json.dumps(parts, default=str)) // 4)


# -- sampling: the host's model through sampling/createMessage ------------------------------------

_SAMPLING_TOOLS = """You can call tools. To call one or more, reply with ONLY a JSON object, no other text:
{"tool_calls": [{"name": "<tool name>", "arguments": {...}}]}
Tool results come back in the next message. When you have the answer, reply with plain text (no JSON).
Tools:
"""


def sampling_request(messages: list[dict[str, Any]], tools: list[dict[str, Any]], model: str | None,
                     max_tokens: int) -> dict[str, Any]:
    """A `sampling/createMessage` input request for the next step (tools described in the system prompt)."""
    system = "\n\n".join(m.get("content") or "" for m in messages if m["role"] == "system")
    if tools:
        lines = [f"- {t['function']['name']}: {t['function'].get('description', '')} "
                 f"arguments schema: {json.dumps(t['function'].get('parameters', {}), separators=(',', ':'))}"
                 for t in tools]
        system = f"{system}\n\n{_SAMPLING_TOOLS}" + "\n".join(lines)
    turns: list[dict[str, Any]] = []
    for m in messages:
        if m["role"] == "system":
            continue
        if m["role"] == "tool":
            role, text = "user", f"Result of tool call {m.get('tool_call_id')}:\n{m.get('content') or ''}"
        elif m["role"] == "assistant" and m.get("tool_calls"):
            calls = [{"name": c["function"]["name"], "arguments": _loads(c["function"]["arguments"])}
                     for c in m["tool_calls"]]
            role, text = "assistant", json.dumps({"tool_calls": calls})
        else:
            role, text = m["role"], m.get("content") or ""
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"]["text"] += "\n\n" + text
        else:
            turns.append({"role": role, "content": {"type": "text", "text": text}})
    params: dict[str, Any] = {"messages": turns, "systemPrompt": system, "maxTokens": max_tokens}
    if model:
        params["modelPreferences"] = {"hints": [{"name": model}]}
    return {"method": "sampling/createMessage", "params": params}


def _loads(text: str) -> Any:
    try:
        return json.loads(text or "{}")
    except json.JSONDecodeError:
        return text


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


def sampling_reply(result: dict[str, Any], step: int) -> ModelReply:
    """Parse the client's `CreateMessageResult`: a JSON `tool_calls` object, native tool_use, or an answer."""
    content = result.get("content")
    blocks = content if isinstance(content, list) else [content] if isinstance(content, dict) else []
    texts = [b.get("text", "") for b in blocks if b.get("type") == "text"]
    calls = [{"id": b.get("id") or f"s{step}_{i}", "type": "function",
              "function": {"name": b.get("name", ""), "arguments": json.dumps(b.get("input") or {})}}
             for i, b in enumerate(blocks) if b.get("type") == "tool_use"]
    text = "\n".join(texts).strip()
    if not calls and "tool_calls" in text:
        candidate = _FENCE.sub("", text)
        start, end = candidate.find("{"), candidate.rfind("}")
        parsed = _loads(candidate[start:end + 1]) if 0 <= start < end else None
        if isinstance(parsed, dict) and isinstance(parsed.get("tool_calls"), list):
            for i, call in enumerate(parsed["tool_calls"]):
                if isinstance(call, dict):
                    args = call.get("arguments", {})
                    calls.append({"id": f"s{step}_{i}", "type": "function",
                                  "function": {"name": str(call.get("name", "")),
                                               "arguments": args if isinstance(args, str) else json.dumps(args)}})
            text = ""
    return ModelReply(text or None, calls, 0, _estimate([text, calls]), result.get("stopReason"))
