"""The server meta tools through the in-process client: add_server's config form in both eras (a 2026
client gets `input_required` and calls again with the answer; a handshake client is sent
`elicitation/create` and answers through its callback), what is never asked for, and the typed
outcome every result carries in structuredContent.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import MCPError
from mcp_types import INVALID_PARAMS, ElicitRequestParams, ElicitResult
from support import MODES, text_of

from meta_mcp.operations import outcomes
from meta_mcp.operations.outcomes import Added, ConfigField, Declined, NeedsConfig, NotActive

from .entries import CATALOG, TOKEN
from .harness import Env

pytestmark = pytest.mark.anyio


class Form:
    """An elicitation callback that records what it was asked and answers as told."""

    def __init__(self, answer: ElicitResult) -> None:
        self.answer = answer
        self.asked: list[ElicitRequestParams] = []

    async def __call__(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        self.asked.append(params)
        return self.answer


def accept(**content: Any) -> Form:
    return Form(ElicitResult(action="accept", content=content))


async def test_a_2026_client_gets_the_form_as_input_required_and_calls_again(catalog_env: Env) -> None:
    async with catalog_env.client("auto", elicitation_callback=accept()) as client:
        first = await client.session.call_tool("add_server", {"name": "greeter"}, allow_input_required=True)
        assert first.result_type == "input_required" and catalog_env.registry().servers == {}
        request = first.input_requests["config"]
        assert request.method == "elicitation/create"
        assert request.params.requested_schema == {
            "type": "object", "required": ["greeting"],
            "properties": {"greeting": {"type": "string", "title": "greeting", "description": "How to greet"}}}
        second = await client.session.call_tool(
            "add_server", {"name": "greeter"}, request_state=first.request_state,
            input_responses={"config": ElicitResult(action="accept", content={"greeting": "answered"})})
    assert not second.is_error, text_of(second)
    assert outcomes.parse(second.structured_content) == Added("greeter", "ready", ("greeter__hello",))
    assert catalog_env.upstreams.last("greeter").spec.env["GREETING"] == "answered"


@pytest.mark.parametrize("mode", MODES)
async def test_the_form_is_answered_through_the_clients_callback(catalog_env: Env, mode: str) -> None:
    form = accept(greeting="from the callback")
    async with catalog_env.client(mode, elicitation_callback=form) as client:
        result = await client.call_tool("add_server", {"name": "greeter"})
        listed = [t.name for t in (await client.list_tools()).tools]
    assert not result.is_error, text_of(result)
    assert len(form.asked) == 1 and list(form.asked[0].requested_schema["properties"]) == ["greeting"]
    assert "greeter" in form.asked[0].message
    assert result.structured_content["tools"] == ["greeter__hello"] and "greeter__hello" in listed
    assert catalog_env.upstreams.last("greeter").spec.env == {"GREETING": "from the callback", "GREETER_TOKEN": TOKEN}
    assert TOKEN not in text_of(result)


@pytest.mark.parametrize("mode", MODES)
async def test_a_declined_form_adds_nothing(catalog_env: Env, mode: str) -> None:
    async with catalog_env.client(mode, elicitation_callback=Form(ElicitResult(action="decline"))) as client:
        result = await client.call_tool("add_server", {"name": "greeter"})
    assert result.is_error and "declined" in text_of(result)
    assert outcomes.parse(result.structured_content) == Declined("greeter")
    assert catalog_env.registry().servers == {} and catalog_env.upstreams.created == []


@pytest.mark.parametrize("mode", MODES)
async def test_a_client_that_cannot_show_forms_gets_the_fields_to_pass(catalog_env: Env, mode: str) -> None:
    async with catalog_env.client(mode) as client:
        result = await client.call_tool("add_server", {"name": "greeter"})
        retried = await client.call_tool("add_server", {"name": "greeter", "config": {"greeting": "passed"}})
    assert result.is_error and "How to greet" in text_of(result)
    assert outcomes.parse(result.structured_content) == NeedsConfig(
        "greeter", (ConfigField("greeting", "string", "How to greet", True),))
    assert not retried.is_error and catalog_env.upstreams.last("greeter").spec.env["GREETING"] == "passed"


@pytest.mark.parametrize("mode", MODES)
async def test_secrets_and_config_a_form_cannot_hold_are_never_asked_for(make_env: Any, mode: str) -> None:
    form = accept(anything="x")
    async with make_env(catalog=CATALOG, secrets={}) as env, env.client(mode, elicitation_callback=form) as client:
        secrets = await client.call_tool("add_server", {"name": "greeter"})
        listy = await client.call_tool("add_server", {"name": "lister"})
    assert form.asked == []
    assert secrets.is_error and secrets.structured_content["outcome"] == "needs_secrets"
    assert "GREETER_TOKEN" in text_of(secrets)
    assert listy.is_error and listy.structured_content["outcome"] == "needs_config"
    assert "paths (array)" in text_of(listy)


async def test_meta_tool_arguments_are_checked_against_the_schema(catalog_env: Env) -> None:
    async with catalog_env.client() as client:
        with pytest.raises(MCPError) as info:
            await client.call_tool("add_server", {"name": "bad name!"})
        with pytest.raises(MCPError, match="'name' is a required property"):
            await client.call_tool("remove_server", {})
    assert info.value.error.code == INVALID_PARAMS and str(info.value).startswith("add_server: invalid name:")


@pytest.mark.parametrize("mode", MODES)
async def test_refusals_are_error_results_carrying_the_outcome(catalog_env: Env, mode: str) -> None:
    async with catalog_env.client(mode) as client:
        removed = await client.call_tool("remove_server", {"name": "ghost"})
        configured = await client.call_tool("configure_server", {"name": "greeter", "config": {"greeting": 1}})
    assert removed.is_error and outcomes.parse(removed.structured_content) == NotActive("ghost", ())
    assert text_of(removed) == NotActive("ghost", ()).message
    assert configured.is_error and configured.structured_content["outcome"] == "invalid_config"
