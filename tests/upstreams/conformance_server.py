"""Fixture MCP server for the official conformance suite (npm `@modelcontextprotocol/conformance`).

Implements the tools, resources and prompts that the suite's *server* scenarios call
(`test_simple_text`, `test://static-text`, `test_simple_prompt`, …), exactly as described in
each scenario's "Server Implementation Requirements" (conformance 0.1.16).

Built on the SDK's low-level `Server` (not `MCPServer`) so that every wire detail the suite
checks is under our control: the JSON Schema 2020-12 tool keeps `$schema`/`$defs`, the
elicitation schemas carry `default`, `oneOf`, `enumNames` verbatim, and `logging/setLevel`,
`resources/subscribe` and `completion/complete` are served.

Both protocol eras work: handshake clients (<= 2025-11-25, what the suite speaks) get
`sampling/createMessage` / `elicitation/create` as server-to-client requests; 2026-07-28 clients
(e.g. an SDK `Client(mode="auto")`, as a proxy may use upstream) get an `InputRequiredResult` and
retry with `inputResponses`, as that era requires.

Run:
    python tests/upstreams/conformance_server.py --transport http --port 3001   # http://127.0.0.1:3001/mcp
    python tests/upstreams/conformance_server.py --transport stdio              # default

Logs go to stderr only (stdout is the stdio transport).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from typing import Any

import anyio
from mcp import types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.streamable_http import EventCallback, EventMessage, EventStore
from mcp.shared.exceptions import MCPError
from mcp.shared.message import ServerMessageMetadata
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

# 1x1 red PNG and a minimal (empty) WAV file.
TEST_IMAGE_BASE64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
TEST_AUDIO_BASE64 = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="

LOG_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]


class InMemoryEventStore(EventStore):
    """Event store so SSE streams are resumable (scenario `server-sse-polling`, SEP-1699)."""

    def __init__(self) -> None:
        self._events: list[tuple[str, str, types.JSONRPCMessage | None]] = []
        self._counter = 0

    async def store_event(self, stream_id: str, message: types.JSONRPCMessage | None) -> str:
        self._counter += 1
        event_id = str(self._counter)
        self._events.append((stream_id, event_id, message))
        return event_id

    async def replay_events_after(self, last_event_id: str, send_callback: EventCallback) -> str | None:
        stream = next((s for s, e, _ in self._events if e == last_event_id), None)
        if stream is None:
            return None
        after = int(last_event_id)
        for s, e, message in list(self._events):
            if s == stream and int(e) > after and message is not None:
                await send_callback(EventMessage(message, e))
        return stream


def _text(text: str) -> types.TextContent:
    return types.TextContent(type="text", text=text)


def _tool(name: str, description: str, properties: dict[str, Any] | None = None, required: list[str] | None = None):
    schema: dict[str, Any] = {"type": "object", "properties": properties or {}}
    if required:
        schema["required"] = required
    return types.Tool(name=name, description=description, input_schema=schema)


TOOLS: list[types.Tool] = [
    _tool("test_simple_text", "Returns a simple text content block"),
    _tool("test_image_content", "Returns an image content block (1x1 PNG)"),
    _tool("test_audio_content", "Returns an audio content block (WAV)"),
    _tool("test_embedded_resource", "Returns an embedded text resource"),
    _tool("test_multiple_content_types", "Returns text, image and embedded resource content"),
    _tool("test_tool_with_logging", "Sends three info log notifications while running"),
    _tool("test_tool_with_progress", "Sends progress notifications 0/100, 50/100, 100/100"),
    _tool("test_error_handling", "Always fails with isError: true"),
    _tool(
        "test_sampling",
        "Asks the client for an LLM completion (sampling/createMessage)",
        {"prompt": {"type": "string", "description": "The prompt to send to the LLM"}},
        ["prompt"],
    ),
    _tool(
        "test_elicitation",
        "Asks the client for user input (elicitation/create)",
        {"message": {"type": "string", "description": "The message to show the user"}},
        ["message"],
    ),
    _tool("test_elicitation_sep1034_defaults", "Elicitation whose schema has defaults for every primitive type"),
    _tool("test_elicitation_sep1330_enums", "Elicitation whose schema uses all five enum variants"),
    _tool("test_reconnection", "Closes the SSE stream mid-call so the client must reconnect (SEP-1699)"),
    types.Tool(
        name="json_schema_2020_12_tool",
        description="Tool with JSON Schema 2020-12 features",
        input_schema={
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "$defs": {
                "address": {
                    "type": "object",
                    "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
                }
            },
            "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
            "additionalProperties": False,
        },
    ),
]

RESOURCES: list[types.Resource] = [
    types.Resource(
        uri="test://static-text",
        name="static-text",
        description="A static text resource",
        mime_type="text/plain",
    ),
    types.Resource(
        uri="test://static-binary",
        name="static-binary",
        description="A static binary resource (1x1 PNG)",
        mime_type="image/png",
    ),
    types.Resource(
        uri="test://watched-resource",
        name="watched-resource",
        description="A resource clients can subscribe to",
        mime_type="text/plain",
    ),
]

TEMPLATES: list[types.ResourceTemplate] = [
    types.ResourceTemplate(
        uri_template="test://template/{id}/data",
        name="template-data",
        description="A resource template with an {id} parameter",
        mime_type="application/json",
    )
]

PROMPTS: list[types.Prompt] = [
    types.Prompt(name="test_simple_prompt", description="A simple prompt without arguments"),
    types.Prompt(
        name="test_prompt_with_arguments",
        description="A prompt with two required arguments",
        arguments=[
            types.PromptArgument(name="arg1", description="First test argument", required=True),
            types.PromptArgument(name="arg2", description="Second test argument", required=True),
        ],
    ),
    types.Prompt(
        name="test_prompt_with_embedded_resource",
        description="A prompt that embeds a resource",
        arguments=[types.PromptArgument(name="resourceUri", description="URI of the resource to embed", required=True)],
    ),
    types.Prompt(name="test_prompt_with_image", description="A prompt that includes an image"),
]

# Process-wide state. The fixture normally serves one client at a time (the suite runs its
# scenarios one after the other); a global log level keeps it simple.
STATE: dict[str, Any] = {"log_level": "debug", "subscriptions": set()}


async def _log(ctx: ServerRequestContext[Any], level: str, message: str) -> None:
    if LOG_LEVELS.index(level) < LOG_LEVELS.index(STATE["log_level"]):
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # logging is deprecated in 2026-07-28; the suite speaks 2025-11-25
        await ctx.session.send_log_message(  # type: ignore[deprecated]
            level=level,  # type: ignore[arg-type]
            data=message,
            logger="conformance-fixture",
            related_request_id=ctx.request_id,
        )


def _legacy(ctx: ServerRequestContext[Any]) -> bool:
    """Handshake era (<= 2025-11-25): server-to-client requests travel as JSON-RPC requests."""
    return ctx.session.protocol_version not in MODERN_PROTOCOL_VERSIONS


async def _ask(
    ctx: ServerRequestContext[Any],
    params: types.CallToolRequestParams,
    key: str,
    request: types.ElicitRequest | types.CreateMessageRequest,
) -> Any:
    """Ask the client for input in whichever way the negotiated protocol era allows.

    Handshake era: send `elicitation/create` / `sampling/createMessage` and return the result.
    2026-07-28: there is no back-channel; the first round returns an `InputRequiredResult`
    (which the caller returns as the tool result) and the client retries the call with
    `inputResponses[key]`, which is returned here.
    """
    if _legacy(ctx):
        result_type = types.ElicitResult if isinstance(request, types.ElicitRequest) else types.CreateMessageResult
        return await ctx.session.send_request(
            request, result_type, metadata=ServerMessageMetadata(related_request_id=ctx.request_id)
        )
    responses = params.input_responses or {}
    if key in responses:
        return responses[key]
    return types.InputRequiredResult(input_requests={key: request})


async def _elicit(
    ctx: ServerRequestContext[Any],
    params: types.CallToolRequestParams,
    message: str,
    schema: dict[str, Any],
    prefix: str,
):
    request = types.ElicitRequest(params=types.ElicitRequestFormParams(message=message, requested_schema=schema))
    try:
        result = await _ask(ctx, params, "elicitation", request)
    except Exception as exc:  # noqa: BLE001 - the error text is the tool result
        return types.CallToolResult(content=[_text(f"Elicitation not supported or error: {exc}")], is_error=True)
    if isinstance(result, types.InputRequiredResult):
        return result
    if not isinstance(result, types.ElicitResult):
        return types.CallToolResult(content=[_text(f"Unexpected elicitation response: {result!r}")], is_error=True)
    return types.CallToolResult(
        content=[_text(f"{prefix}: action={result.action}, content={json.dumps(result.content or {})}")]
    )


async def call_tool(
    ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
) -> types.CallToolResult | types.InputRequiredResult:
    name = params.name
    args = params.arguments or {}
    if name == "test_simple_text":
        return types.CallToolResult(content=[_text("This is a simple text response for testing.")])
    if name == "test_image_content":
        return types.CallToolResult(
            content=[types.ImageContent(type="image", data=TEST_IMAGE_BASE64, mime_type="image/png")]
        )
    if name == "test_audio_content":
        return types.CallToolResult(
            content=[types.AudioContent(type="audio", data=TEST_AUDIO_BASE64, mime_type="audio/wav")]
        )
    if name == "test_embedded_resource":
        return types.CallToolResult(
            content=[
                types.EmbeddedResource(
                    type="resource",
                    resource=types.TextResourceContents(
                        uri="test://embedded-resource",
                        mime_type="text/plain",
                        text="This is an embedded resource content.",
                    ),
                )
            ]
        )
    if name == "test_multiple_content_types":
        return types.CallToolResult(
            content=[
                _text("Multiple content types test:"),
                types.ImageContent(type="image", data=TEST_IMAGE_BASE64, mime_type="image/png"),
                types.EmbeddedResource(
                    type="resource",
                    resource=types.TextResourceContents(
                        uri="test://mixed-content-resource",
                        mime_type="application/json",
                        text=json.dumps({"test": "data", "value": 123}),
                    ),
                ),
            ]
        )
    if name == "test_tool_with_logging":
        await _log(ctx, "info", "Tool execution started")
        await anyio.sleep(0.05)
        await _log(ctx, "info", "Tool processing data")
        await anyio.sleep(0.05)
        await _log(ctx, "info", "Tool execution completed")
        return types.CallToolResult(content=[_text("Tool with logging executed successfully")])
    if name == "test_tool_with_progress":
        # A no-op when the request carried no progress token.
        await ctx.session.report_progress(0, 100, "Completed step 0 of 100")
        await anyio.sleep(0.05)
        await ctx.session.report_progress(50, 100, "Completed step 50 of 100")
        await anyio.sleep(0.05)
        await ctx.session.report_progress(100, 100, "Completed step 100 of 100")
        token = (ctx.meta or {}).get("progressToken")
        return types.CallToolResult(content=[_text(f"Progress tool completed (token: {token})")])
    if name == "test_error_handling":
        return types.CallToolResult(
            content=[_text("This tool intentionally returns an error for testing")], is_error=True
        )
    if name == "test_sampling":
        request = types.CreateMessageRequest(
            params=types.CreateMessageRequestParams(
                messages=[types.SamplingMessage(role="user", content=_text(str(args.get("prompt", ""))))],
                max_tokens=100,
            )
        )
        try:
            result = await _ask(ctx, params, "sampling", request)
        except Exception as exc:  # noqa: BLE001
            return types.CallToolResult(content=[_text(f"Sampling not supported or error: {exc}")], is_error=True)
        if isinstance(result, types.InputRequiredResult):
            return result
        content = getattr(result, "content", None)
        reply = content.text if isinstance(content, types.TextContent) else str(content)
        return types.CallToolResult(content=[_text(f"LLM response: {reply}")])
    if name == "test_elicitation":
        schema = {
            "type": "object",
            "properties": {
                "username": {"type": "string", "description": "User's response"},
                "email": {"type": "string", "description": "User's email address"},
            },
            "required": ["username", "email"],
        }
        return await _elicit(ctx, params, str(args.get("message", "")), schema, "User response")
    if name == "test_elicitation_sep1034_defaults":
        schema = {
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "User name", "default": "John Doe"},
                "age": {"type": "integer", "description": "User age", "default": 30},
                "score": {"type": "number", "description": "User score", "default": 95.5},
                "status": {
                    "type": "string",
                    "description": "User status",
                    "enum": ["active", "inactive", "pending"],
                    "default": "active",
                },
                "verified": {"type": "boolean", "description": "Verification status", "default": True},
            },
        }
        return await _elicit(ctx, params, "Please provide user information", schema, "Elicitation completed")
    if name == "test_elicitation_sep1330_enums":
        schema = {
            "type": "object",
            "properties": {
                "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
                "titledSingle": {
                    "type": "string",
                    "oneOf": [
                        {"const": "value1", "title": "First Option"},
                        {"const": "value2", "title": "Second Option"},
                        {"const": "value3", "title": "Third Option"},
                    ],
                },
                "legacyEnum": {
                    "type": "string",
                    "enum": ["opt1", "opt2", "opt3"],
                    "enumNames": ["Option One", "Option Two", "Option Three"],
                },
                "untitledMulti": {
                    "type": "array",
                    "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
                },
                "titledMulti": {
                    "type": "array",
                    "items": {
                        "anyOf": [
                            {"const": "value1", "title": "First Choice"},
                            {"const": "value2", "title": "Second Choice"},
                            {"const": "value3", "title": "Third Choice"},
                        ]
                    },
                },
            },
        }
        return await _elicit(
            ctx, params, "Please select values using each enum schema type", schema, "Elicitation completed"
        )
    if name == "test_reconnection":
        await _log(ctx, "info", "Before disconnect")
        if ctx.close_sse_stream is not None:  # only over streamable HTTP with an event store
            await ctx.close_sse_stream()
        await anyio.sleep(0.2)  # the client reconnects with Last-Event-ID meanwhile
        await _log(ctx, "info", "After reconnect")
        return types.CallToolResult(content=[_text("Reconnection test completed")])
    if name == "json_schema_2020_12_tool":
        return types.CallToolResult(content=[_text(f"Received: {json.dumps(args, sort_keys=True)}")])
    return types.CallToolResult(content=[_text(f"Unknown tool: {name}")], is_error=True)


async def list_tools(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None):
    return types.ListToolsResult(tools=TOOLS)


async def list_resources(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None):
    return types.ListResourcesResult(resources=RESOURCES)


async def list_resource_templates(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None):
    return types.ListResourceTemplatesResult(resource_templates=TEMPLATES)


async def read_resource(ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams):
    uri = str(params.uri)
    if uri == "test://static-text":
        contents: list[Any] = [
            types.TextResourceContents(
                uri=uri, mime_type="text/plain", text="This is the content of the static text resource."
            )
        ]
    elif uri == "test://static-binary":
        contents = [types.BlobResourceContents(uri=uri, mime_type="image/png", blob=TEST_IMAGE_BASE64)]
    elif uri == "test://watched-resource":
        contents = [types.TextResourceContents(uri=uri, mime_type="text/plain", text="Watched resource content")]
    elif uri.startswith("test://template/") and uri.endswith("/data"):
        ident = uri[len("test://template/") : -len("/data")]
        if not ident or "/" in ident:
            raise _not_found(uri)
        text = json.dumps({"id": ident, "templateTest": True, "data": f"Data for ID: {ident}"})
        contents = [types.TextResourceContents(uri=uri, mime_type="application/json", text=text)]
    else:
        raise _not_found(uri)
    return types.ReadResourceResult(contents=contents)


def _not_found(uri: str) -> Exception:
    return MCPError(code=-32002, message=f"Resource not found: {uri}")


async def subscribe(ctx: ServerRequestContext[Any], params: types.SubscribeRequestParams):
    STATE["subscriptions"].add(str(params.uri))
    return types.EmptyResult()


async def unsubscribe(ctx: ServerRequestContext[Any], params: types.UnsubscribeRequestParams):
    STATE["subscriptions"].discard(str(params.uri))
    return types.EmptyResult()


async def list_prompts(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None):
    return types.ListPromptsResult(prompts=PROMPTS)


async def get_prompt(ctx: ServerRequestContext[Any], params: types.GetPromptRequestParams):
    args = params.arguments or {}
    name = params.name
    if name == "test_simple_prompt":
        messages = [types.PromptMessage(role="user", content=_text("This is a simple prompt for testing."))]
    elif name == "test_prompt_with_arguments":
        missing = [a for a in ("arg1", "arg2") if a not in args]
        if missing:
            raise MCPError(code=-32602, message=f"Missing required arguments: {', '.join(missing)}")
        text = f"Prompt with arguments: arg1='{args['arg1']}', arg2='{args['arg2']}'"
        messages = [types.PromptMessage(role="user", content=_text(text))]
    elif name == "test_prompt_with_embedded_resource":
        uri = args.get("resourceUri") or "test://example-resource"
        messages = [
            types.PromptMessage(
                role="user",
                content=types.EmbeddedResource(
                    type="resource",
                    resource=types.TextResourceContents(
                        uri=uri, mime_type="text/plain", text="Embedded resource content for testing."
                    ),
                ),
            ),
            types.PromptMessage(role="user", content=_text("Please process the embedded resource above.")),
        ]
    elif name == "test_prompt_with_image":
        messages = [
            types.PromptMessage(
                role="user", content=types.ImageContent(type="image", data=TEST_IMAGE_BASE64, mime_type="image/png")
            ),
            types.PromptMessage(role="user", content=_text("Please analyze the image above.")),
        ]
    else:
        raise MCPError(code=-32602, message=f"Unknown prompt: {name}")
    return types.GetPromptResult(messages=messages)


COMPLETIONS = {"arg1": ["paris", "park", "party", "test", "testing"], "arg2": ["world", "word"]}


async def complete(ctx: ServerRequestContext[Any], params: types.CompleteRequestParams):
    values = [v for v in COMPLETIONS.get(params.argument.name, []) if v.startswith(params.argument.value)]
    return types.CompleteResult(completion=types.Completion(values=values, total=len(values), has_more=False))


async def set_level(ctx: ServerRequestContext[Any], params: types.SetLevelRequestParams):
    STATE["log_level"] = params.level
    return types.EmptyResult()


def build_server() -> Server[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # on_set_logging_level is deprecated as of 2026-07-28
        return Server(
            "mcp-conformance-fixture",
            version="1.0.0",
            on_list_tools=list_tools,
            on_call_tool=call_tool,
            on_list_resources=list_resources,
            on_list_resource_templates=list_resource_templates,
            on_read_resource=read_resource,
            on_subscribe_resource=subscribe,
            on_unsubscribe_resource=unsubscribe,
            on_list_prompts=list_prompts,
            on_get_prompt=get_prompt,
            on_completion=complete,
            on_set_logging_level=set_level,
        )


async def run_stdio(server: Server[Any]) -> None:
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def run_http(server: Server[Any], host: str, port: int) -> None:
    import uvicorn

    # Bound to loopback, the SDK turns on DNS-rebinding protection (scenario dns-rebinding-protection).
    app = server.streamable_http_app(
        streamable_http_path="/mcp",
        event_store=InMemoryEventStore(),
        retry_interval=100,  # ms; sent in the SSE priming event
        host=host,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3001)
    ns = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
    server = build_server()
    if ns.transport == "stdio":
        anyio.run(run_stdio, server)
    else:
        run_http(server, ns.host, ns.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
