"""The "structured / everything" upstream: every shape a proxy has to carry through unchanged.

Tools (every definition field a proxy must pass through is set on at least one tool):
- ``get_weather(city, units="metric")``: title, annotations, icons, ``_meta``, outputSchema;
  returns text + structuredContent conforming to the schema, and result ``_meta``.
- ``fail(message)``: returns ``isError: true`` with the message (and structured detail in ``_meta``).
- ``all_content()``: one of each content type: text (with annotations + ``_meta``), image, audio,
  resource_link, embedded text resource, embedded blob resource.
- ``progress(steps=3)``: reports progress ``i/steps`` with message ``"step i"`` for i=1..steps,
  then returns ``"done <steps>"``.
- ``echo(value)``: returns ``value`` as structuredContent ``{"value": value}`` and as JSON text.
- ``schema_zoo(...)``: a deliberately complex inputSchema ($defs, $ref, enum, nested arrays,
  additionalProperties, defaults, formats) that must be listed byte-for-byte.
- ``environment(names=[])``: structuredContent ``{"cwd": <cwd>, "env": {name: value-or-null}}`` (checks a
  proxy's ``env`` / ``cwd`` launch options).
- ``request_headers(names=[])``: structuredContent ``{"headers": {name: value-or-null}}`` with the HTTP
  request headers this call arrived with (lower-case names; all null over stdio).

Resources: ``rich://static/hello.txt`` (text), ``rich://static/data.bin`` (blob), and the template
``rich://items/{id}`` (JSON text ``{"id": ...}``). Prompts: ``greet(name, style?)`` and ``plain``.

Run: ``python tests/upstreams/rich.py [--transport stdio|http|sse] [--port N]``
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import struct
from typing import Any

import mcp_types as types
from _common import ChangeNotifyingServer, make_parser, run
from mcp.server import ServerRequestContext
from mcp.shared.exceptions import MCPError

PNG_1X1 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def _wav_silence(samples: int = 8) -> str:
    data = b"\x00\x00" * samples
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
    return base64.b64encode(header + fmt + b"data" + struct.pack("<I", len(data)) + data).decode()


WAV = _wav_silence()
BLOB = base64.b64encode(bytes(range(16))).decode()

ICON_LIGHT = types.Icon(src=f"data:image/png;base64,{PNG_1X1}", mime_type="image/png", sizes=["1x1"], theme="light")
ICON_DARK = types.Icon(src="https://example.com/icons/weather-dark.svg", mime_type="image/svg+xml", sizes=["any"], theme="dark")

WEATHER_OUTPUT = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "temperature": {"type": "number"},
        "units": {"type": "string", "enum": ["metric", "imperial"]},
        "conditions": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["city", "temperature", "units", "conditions"],
    "additionalProperties": False,
}

SCHEMA_ZOO_INPUT: dict[str, Any] = {
    "type": "object",
    "$defs": {
        "point": {
            "type": "object",
            "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
            "required": ["x", "y"],
            "additionalProperties": False,
        }
    },
    "properties": {
        "mode": {"type": "string", "enum": ["fast", "slow", "exact"], "default": "fast", "description": "How hard to try"},
        "points": {"type": "array", "items": {"$ref": "#/$defs/point"}, "minItems": 1, "maxItems": 50},
        "when": {"type": "string", "format": "date-time"},
        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
        "limit": {"type": "integer", "minimum": 0, "maximum": 100, "default": 10},
        "nullable": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "unicode_ключ": {"type": "string", "description": "Non-ASCII property name ✓"},
    },
    "required": ["points"],
    "additionalProperties": False,
}

TOOLS = [
    types.Tool(
        name="get_weather",
        title="Weather Lookup",
        description="Get the (fake, deterministic) weather for a city.",
        input_schema={
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "units": {"type": "string", "enum": ["metric", "imperial"], "default": "metric"},
            },
            "required": ["city"],
        },
        output_schema=WEATHER_OUTPUT,
        annotations=types.ToolAnnotations(
            title="Weather (annotation title)",
            read_only_hint=True,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
        icons=[ICON_LIGHT, ICON_DARK],
        meta={"example.com/category": "weather", "example.com/cost": {"credits": 1, "tier": "free"}},
    ),
    types.Tool(
        name="fail",
        title="Always Fails",
        description="Returns an isError result carrying the given message.",
        input_schema={"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]},
        annotations=types.ToolAnnotations(destructive_hint=True, open_world_hint=True),
    ),
    types.Tool(
        name="all_content",
        description="Returns one of every content block type.",
        input_schema={"type": "object", "properties": {}},
        meta={"example.com/returns": ["text", "image", "audio", "resource_link", "resource"]},
    ),
    types.Tool(
        name="progress",
        description="Reports progress i/steps for i=1..steps, then returns.",
        input_schema={
            "type": "object",
            "properties": {"steps": {"type": "integer", "minimum": 1, "maximum": 20, "default": 3}},
        },
    ),
    types.Tool(
        name="echo",
        description="Echo any JSON value back as structured content.",
        input_schema={"type": "object", "properties": {"value": {}}, "required": ["value"]},
        output_schema={"type": "object", "properties": {"value": {}}, "required": ["value"]},
    ),
    types.Tool(
        name="schema_zoo",
        title="Schema Zoo",
        description="A tool whose inputSchema exercises many JSON Schema features.",
        input_schema=SCHEMA_ZOO_INPUT,
        icons=[ICON_DARK],
        annotations=types.ToolAnnotations(idempotent_hint=False),
        meta={"example.com/nested": {"a": [1, 2, {"b": None}], "ü": "unicode"}},
    ),
]

NAMES_INPUT = {
    "type": "object",
    "properties": {"names": {"type": "array", "items": {"type": "string"}, "default": []}},
}
TOOLS += [
    types.Tool(
        name="environment",
        description="The server process's working directory and the requested environment variables.",
        input_schema=NAMES_INPUT,
    ),
    types.Tool(
        name="request_headers",
        description="The requested HTTP headers of the request carrying this call.",
        input_schema=NAMES_INPUT,
    ),
]

RESOURCES = [
    types.Resource(
        uri="rich://static/hello.txt",
        name="hello",
        title="Hello Text",
        description="A static text resource.",
        mime_type="text/plain",
        size=len("Hello from rich!"),
        annotations=types.Annotations(audience=["user", "assistant"], priority=0.5),
        meta={"example.com/origin": "static"},
    ),
    types.Resource(
        uri="rich://static/data.bin",
        name="data",
        description="A static binary resource.",
        mime_type="application/octet-stream",
    ),
]
TEMPLATES = [
    types.ResourceTemplate(
        uri_template="rich://items/{id}",
        name="item",
        title="Item by id",
        description="A JSON document for item {id}.",
        mime_type="application/json",
    )
]
ITEM_RE = re.compile(r"^rich://items/(?P<id>[^/]+)$")

PROMPTS = [
    types.Prompt(
        name="greet",
        title="Greeting",
        description="Greets someone in a given style.",
        arguments=[
            types.PromptArgument(name="name", description="Who to greet", required=True),
            types.PromptArgument(name="style", description="formal or casual", required=False),
        ],
    ),
    types.Prompt(name="plain", description="A prompt without arguments."),
]


def _text(text: str, **kw: Any) -> types.TextContent:
    return types.TextContent(type="text", text=text, **kw)


def weather(city: str, units: str) -> dict[str, Any]:
    base = sum(ord(c) for c in city) % 30  # deterministic
    temp = float(base) if units == "metric" else round(base * 9 / 5 + 32, 1)
    return {"city": city, "temperature": temp, "units": units, "conditions": ["sunny", "breezy"] if base % 2 else ["cloudy"]}


def _request_headers(ctx: ServerRequestContext[Any]) -> dict[str, str]:
    """HTTP headers of the current request, lower-cased; empty over stdio.

    Handshake-era HTTP requests carry the Starlette request on ``ctx.request``; 2026-era ones carry the
    headers on the dispatch context's transport metadata.
    """
    request = ctx.request
    headers = getattr(request, "headers", None)
    if headers is None:
        transport = getattr(getattr(ctx.session, "_request_outbound", None), "transport", None)
        headers = getattr(transport, "headers", None)
    return {str(k).lower(): str(v) for k, v in (headers or {}).items()}


def build() -> ChangeNotifyingServer:
    async def list_tools(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=TOOLS)

    async def call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        args = params.arguments or {}
        name = params.name
        if name == "get_weather":
            data = weather(str(args.get("city", "")), str(args.get("units", "metric")))
            return types.CallToolResult(
                content=[_text(json.dumps(data, sort_keys=True))],
                structured_content=data,
                meta={"example.com/source": "rich-fake-weather", "example.com/cached": False},
            )
        if name == "fail":
            message = str(args.get("message", ""))
            return types.CallToolResult(
                content=[_text(f"rich failure: {message}")],
                is_error=True,
                meta={"example.com/error": {"code": "E_RICH", "retryable": False}},
            )
        if name == "all_content":
            return types.CallToolResult(
                content=[
                    _text(
                        "plain text ✓",
                        annotations=types.Annotations(audience=["user"], priority=1.0),
                        meta={"example.com/block": 0},
                    ),
                    types.ImageContent(type="image", data=PNG_1X1, mime_type="image/png"),
                    types.AudioContent(type="audio", data=WAV, mime_type="audio/wav"),
                    types.ResourceLink(
                        type="resource_link",
                        uri="https://example.com/docs/readme.md",
                        name="readme",
                        title="Readme",
                        description="An external document",
                        mime_type="text/markdown",
                    ),
                    types.EmbeddedResource(
                        type="resource",
                        resource=types.TextResourceContents(
                            uri="rich://static/hello.txt", mime_type="text/plain", text="Hello from rich!"
                        ),
                    ),
                    types.EmbeddedResource(
                        type="resource",
                        resource=types.BlobResourceContents(
                            uri="rich://static/data.bin", mime_type="application/octet-stream", blob=BLOB
                        ),
                    ),
                ],
                meta={"example.com/count": 6},
            )
        if name == "progress":
            steps = int(args.get("steps", 3))
            for i in range(1, steps + 1):
                await ctx.session.report_progress(i, steps, f"step {i}")
            return types.CallToolResult(content=[_text(f"done {steps}")])
        if name == "echo":
            value = args.get("value")
            return types.CallToolResult(
                content=[_text(json.dumps(value, sort_keys=True))], structured_content={"value": value}
            )
        if name == "environment":
            names = [str(n) for n in args.get("names", [])]
            data = {"cwd": os.getcwd(), "env": {n: os.environ.get(n) for n in names},
                    # A digest proves a secret arrived without the test needing its value back (meta-mcp
                    # masks known secret values in every tool result).
                    "sha256": {n: hashlib.sha256(os.environ[n].encode()).hexdigest() for n in names if n in os.environ}}
            return types.CallToolResult(content=[_text(json.dumps(data, sort_keys=True))], structured_content=data)
        if name == "request_headers":
            headers = _request_headers(ctx)
            data = {"headers": {n.lower(): headers.get(n.lower()) for n in args.get("names", [])}}
            return types.CallToolResult(content=[_text(json.dumps(data, sort_keys=True))], structured_content=data)
        if name == "schema_zoo":
            return types.CallToolResult(content=[_text(json.dumps(args, sort_keys=True))])
        return types.CallToolResult(content=[_text(f"Unknown tool: {name}")], is_error=True)

    async def list_resources(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=RESOURCES)

    async def list_templates(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=TEMPLATES)

    async def read_resource(ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        uri = str(params.uri)
        if uri == "rich://static/hello.txt":
            contents: list[Any] = [types.TextResourceContents(uri=uri, mime_type="text/plain", text="Hello from rich!")]
        elif uri == "rich://static/data.bin":
            contents = [types.BlobResourceContents(uri=uri, mime_type="application/octet-stream", blob=BLOB)]
        elif m := ITEM_RE.match(uri):
            contents = [
                types.TextResourceContents(
                    uri=uri, mime_type="application/json", text=json.dumps({"id": m["id"], "kind": "item"})
                )
            ]
        else:
            raise MCPError(-32002, f"Resource not found: {uri}")
        return types.ReadResourceResult(contents=contents)

    async def list_prompts(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=PROMPTS)

    async def get_prompt(ctx: ServerRequestContext[Any], params: types.GetPromptRequestParams) -> types.GetPromptResult:
        args = params.arguments or {}
        if params.name == "greet":
            if "name" not in args:
                raise MCPError(types.INVALID_PARAMS, "greet requires argument 'name'")
            style = args.get("style", "casual")
            greeting = f"Good day, {args['name']}." if style == "formal" else f"Hey {args['name']}!"
            return types.GetPromptResult(
                description=f"Greeting for {args['name']} ({style})",
                messages=[
                    types.PromptMessage(role="user", content=_text(f"Please greet {args['name']} in a {style} style.")),
                    types.PromptMessage(role="assistant", content=_text(greeting)),
                ],
            )
        if params.name == "plain":
            return types.GetPromptResult(messages=[types.PromptMessage(role="user", content=_text("plain prompt"))])
        raise MCPError(types.INVALID_PARAMS, f"Unknown prompt: {params.name}")

    return ChangeNotifyingServer(
        "rich",
        version="1.0.0",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
    )


def main(argv: list[str] | None = None) -> None:
    args = make_parser(__doc__ or "").parse_args(argv)
    run(build(), args)


if __name__ == "__main__":
    main()
