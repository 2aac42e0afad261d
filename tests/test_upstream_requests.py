"""An upstream's own requests to the client (sampling, elicitation) reach the caller's client.

server-everything (npm) speaks the 2025 protocol era and, during a tool call, sends
`sampling/createMessage` or `elicitation/create` to its client — meta-mcp. meta-mcp passes the
request to the client whose call is in flight and hands the answer back. A 2026-era client has no
back-channel mid-call, so there the upstream gets a clear error instead.
"""

from __future__ import annotations

from typing import Any

import mcp_types as types
import pytest

from support import everything_entry, make_client, meta_mcp_stdio, text_of, tool_names

pytestmark = pytest.mark.anyio


def meta(mode: str, **kwargs: Any) -> Any:
    return make_client(meta_mcp_stdio({"everything": everything_entry()}), mode, **kwargs)


async def test_sampling_request_reaches_a_handshake_era_client() -> None:
    asked: list[types.CreateMessageRequestParams] = []

    async def sample(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        asked.append(params)
        return types.CreateMessageResult(role="assistant", model="stub-model",
                                         content=types.TextContent(type="text", text="forty-two"))

    async with meta("legacy", sampling_callback=sample) as client:
        assert "everything__trigger-sampling-request" in await tool_names(client)
        result = await client.call_tool("everything__trigger-sampling-request", {"prompt": "the answer?"})
        assert not result.is_error, text_of(result)
        assert "forty-two" in text_of(result) and "stub-model" in text_of(result)
        assert len(asked) == 1 and "the answer?" in str(asked[0].messages[0].content)


async def test_elicitation_request_reaches_a_handshake_era_client() -> None:
    asked: list[Any] = []

    async def elicit(context: Any, params: Any) -> types.ElicitResult:
        asked.append(params)
        return types.ElicitResult(action="decline")

    async with meta("legacy", elicitation_callback=elicit) as client:
        result = await client.call_tool("everything__trigger-elicitation-request", {})
        assert len(asked) == 1
        assert "decline" in text_of(result).lower(), text_of(result)


async def test_a_modern_client_cannot_be_asked_mid_call_and_the_upstream_is_told_so() -> None:
    async def sample(context: Any, params: Any) -> types.CreateMessageResult:
        raise AssertionError("a 2026-era client has no back-channel mid-call")

    async with meta("auto", sampling_callback=sample) as client:
        result = await client.call_tool("everything__trigger-sampling-request", {"prompt": "x"})
        assert result.is_error or "no client can answer" in text_of(result), text_of(result)
