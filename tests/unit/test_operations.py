"""Every refusal path of the operations (add, remove, configure a server; run_code / code_api grants),
with catalogs written in Docker's format and secrets from a given mapping. Catalog entries run a
local command (this interpreter); those defined in the fake upstreams start as fakes, so what reached
the launch (the spec: command, arguments, environment) can be checked without a process.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from fake_docker import configure_fake_docker

from meta_mcp.operations import code, outcomes
from meta_mcp.operations import servers as ops
from meta_mcp.operations.outcomes import (
    Added,
    AlreadyActive,
    CannotRun,
    CatalogUnavailable,
    ConfigField,
    Configured,
    Declined,
    DidNotStart,
    InvalidConfig,
    InvalidSpec,
    NeedsConfig,
    NeedsSecrets,
    NotActive,
    NotConfigurable,
    NotRestartable,
    NotSaved,
    Refused,
    Removed,
    Restarted,
    SecretNeed,
    UnknownServer,
)
from meta_mcp.services.catalog import docker

from .entries import CATALOG, OTHER, TOKEN
from .harness import Env

pytestmark = pytest.mark.anyio

async def adhoc(env: Env, name: str, spec: dict[str, Any], **kwargs: Any) -> Any:
    return await ops.add_server(env.ws(), name, spec=spec, origin="stdio", **kwargs)


# --------------------------------------------------------------------------- add_server


async def test_adding_an_active_server_again_changes_nothing(catalog_env: Env) -> None:
    assert await adhoc(catalog_env, "alpha", {"command": "fake-upstream"}) == Added("alpha", "ready", ("alpha__echo",))
    again = await adhoc(catalog_env, "alpha", {"command": "something-else"})
    assert again == AlreadyActive("alpha", "ready", ("alpha__echo",))
    assert again.ok and outcomes.data(again)["added"] is False
    assert len(catalog_env.upstreams.made("alpha")) == 1


@pytest.mark.parametrize("spec,problem", [
    ({"args": ["x"]}, "needs 'command'"),
    ({"transport": "sse"}, "needs 'url'"),
    ({"command": "x", "timeout": 0}, "timeout"),
    ({"command": "x", "prefix": "bad prefix!"}, "prefix"),
])
async def test_an_invalid_spec_names_the_problem_and_adds_nothing(catalog_env: Env, spec: dict[str, Any], problem: str
                                                                  ) -> None:
    outcome = await adhoc(catalog_env, "alpha", spec)
    assert isinstance(outcome, InvalidSpec) and outcome.server == "alpha"
    assert any(problem in p for p in outcome.problems), outcome.problems
    assert catalog_env.registry().servers == {} and catalog_env.upstreams.created == []


@pytest.mark.parametrize("origin", ["http", "agent", "sandbox", "internal"])
async def test_ad_hoc_specs_are_refused_from_origins_not_allowed(make_env: Any, origin: str) -> None:
    async with make_env(allow_adhoc_http=False, allow_adhoc_agent=False) as env:
        env.upstreams.define("alpha", tools=["echo"])
        outcome = await ops.add_server(env.ws(), "alpha", spec={"command": "fake-upstream"}, origin=origin)
        assert isinstance(outcome, Refused) and not outcome.ok
        assert env.upstreams.created == []


async def test_an_unknown_catalog_name_suggests_close_ones(catalog_env: Env) -> None:
    outcome = await ops.add_server(catalog_env.ws(), "greetr")
    assert outcome == UnknownServer("greetr", ("greeter",))
    assert "Did you mean 'greeter'?" in outcome.message and "find_servers" in outcome.message


@pytest.mark.parametrize("broken,where", [
    ("registry: [not, a, mapping]\n", "registry"),
    ("registry:\n  nameless:\n    description: no title\n", "'nameless'"),
    ("registry: {a: [unclosed\n", "not valid"),
])
async def test_a_broken_catalog_is_unavailable_naming_the_file(make_env: Any, broken: str, where: str) -> None:
    async with make_env(catalog=broken) as env:
        add = await ops.add_server(env.ws(), "anything")
        find = await ops.find_servers(env.ws(), "anything")
        configure = await ops.configure_server(env.ws(), "anything", {})
    assert isinstance(add, CatalogUnavailable) and add == find == configure
    assert "catalog.yaml" in add.reason and where in add.reason


async def test_missing_secrets_are_named_by_variable_never_by_value(catalog_env: Env) -> None:
    outcome = await ops.add_server(catalog_env.ws(), "vault")
    assert outcome == NeedsSecrets("vault", (SecretNeed(env="VAULT_KEY", name="vault.key",
                                                        description="The vault key"),))
    wire = json.dumps(outcomes.data(outcome))
    assert "VAULT_KEY" in outcome.message and "OTHER_KEY" not in outcome.message
    assert OTHER not in wire and TOKEN not in wire
    assert catalog_env.upstreams.created == []


async def test_missing_secrets_come_before_missing_config(make_env: Any) -> None:
    async with make_env(catalog=CATALOG, secrets={}) as env:
        outcome = await ops.add_server(env.ws(), "greeter")
    assert isinstance(outcome, NeedsSecrets) and [s.env for s in outcome.secrets] == ["GREETER_TOKEN"]


async def test_missing_config_lists_the_fields_and_a_form_can_ask_for_them(catalog_env: Env) -> None:
    outcome = await ops.add_server(catalog_env.ws(), "greeter")
    assert outcome == NeedsConfig("greeter", (ConfigField("greeting", "string", "How to greet", True),))
    assert outcome.formable and 'config={"greeting": <string>}' in outcome.message
    assert catalog_env.upstreams.created == []


async def test_config_a_form_cannot_hold_is_not_formable(catalog_env: Env) -> None:
    outcome = await ops.add_server(catalog_env.ws(), "lister")
    assert isinstance(outcome, NeedsConfig) and [(f.name, f.type) for f in outcome.fields] == [("paths", "array")]
    assert not outcome.formable


async def test_invalid_config_is_refused_and_not_stored(catalog_env: Env) -> None:
    outcome = await ops.add_server(catalog_env.ws(), "greeter", config={"greeting": 5})
    assert isinstance(outcome, InvalidConfig) and outcome.problems == ("greeting: 5 is not of type 'string'",)
    assert await catalog_env.services.state.get_config("default", "greeter") == {}


async def test_an_image_only_entry_cannot_run_without_a_docker_engine(catalog_env: Env, no_docker_engine: Any) -> None:
    outcome = await ops.add_server(catalog_env.ws(), "boxed")
    assert isinstance(outcome, CannotRun) and "Docker engine" in outcome.reason
    assert catalog_env.upstreams.created == []
    configure_fake_docker(no_docker_engine, info_exit=0)  # an engine answers now: it runs with `docker run`
    docker.forget()
    added = await ops.add_server(catalog_env.ws(), "boxed")
    assert added == Added("boxed", "ready", ("boxed__hello",))
    spec = catalog_env.upstreams.last("boxed").spec
    assert spec.command == "docker" and spec.args[:2] == ("run", "-i") and spec.args[-1] == "mcp/boxed:1"


async def test_a_declined_form_adds_nothing(catalog_env: Env) -> None:
    outcome = await ops.add_server(catalog_env.ws(), "greeter", answer=ops.FormAnswer({}, declined=True))
    assert outcome == Declined("greeter")
    assert catalog_env.registry().servers == {} and catalog_env.upstreams.created == []


async def test_a_catalog_entry_starts_with_its_config_and_secret_in_the_environment(catalog_env: Env) -> None:
    outcome = await ops.add_server(catalog_env.ws(), "greeter", answer=ops.FormAnswer({"greeting": "from the form"}))
    assert outcome == Added("greeter", "ready", ("greeter__hello",))
    spec = catalog_env.upstreams.last("greeter").spec
    assert spec.command == sys.executable and spec.args == ("-c", "pass")
    assert spec.env == {"GREETING": "from the form", "GREETER_TOKEN": TOKEN}
    assert TOKEN not in json.dumps(outcomes.data(outcome))
    assert await catalog_env.services.state.get_config("default", "greeter") == {"greeting": "from the form"}
    assert (await catalog_env.services.state.servers("default"))["greeter"].source == "catalog"


async def test_a_command_that_does_not_exist_did_not_start(catalog_env: Env) -> None:
    outcome = await adhoc(catalog_env, "ghost", {"command": "/nonexistent/ghost-server"})
    assert isinstance(outcome, DidNotStart) and "/nonexistent/ghost-server" in outcome.reason
    assert catalog_env.registry().servers == {} and len(catalog_env.workspaces.pool) == 0
    assert await catalog_env.services.state.servers("default") == {}


async def test_a_server_that_fails_to_start_is_released(catalog_env: Env) -> None:
    catalog_env.upstreams.define("flaky", tools=["x"], fail="exited with code 3")
    outcome = await adhoc(catalog_env, "flaky", {"command": "fake-upstream"})
    assert outcome == DidNotStart("flaky", "exited with code 3")
    assert "did not start: exited with code 3" in outcome.message
    assert catalog_env.upstreams.last("flaky").stops == 1 and catalog_env.registry().servers == {}


# --------------------------------------------------------------------------- remove_server


async def test_removing_a_server_that_is_not_active(catalog_env: Env) -> None:
    await adhoc(catalog_env, "alpha", {"command": "fake-upstream"})
    outcome = await ops.remove_server(catalog_env.ws(), "ghost")
    assert outcome == NotActive("ghost", ("alpha",)) and "active: alpha" in outcome.message
    assert await ops.remove_server(catalog_env.ws(), "alpha") == Removed("alpha", ("alpha__echo",))
    assert await ops.remove_server(catalog_env.ws(), "alpha") == NotActive("alpha", ())
    assert await catalog_env.services.state.servers("default") == {}


# --------------------------------------------------------------------------- restart_server


async def test_a_restart_starts_the_same_spec_again_and_keeps_its_record(catalog_env: Env) -> None:
    catalog_env.upstreams.define("alpha", tools=["echo"])
    await adhoc(catalog_env, "alpha", {"command": "fake-upstream"})
    first = catalog_env.upstreams.last("alpha")
    record = await catalog_env.services.state.servers("default")
    assert await ops.restart_server(catalog_env.ws(), "alpha") == Restarted("alpha", "ready", ("alpha__echo",))
    second = catalog_env.upstreams.last("alpha")
    assert second is not first and first.stops == 1 and second.spec == first.spec
    assert await catalog_env.services.state.servers("default") == record
    assert await ops.restart_server(catalog_env.ws(), "ghost") == NotActive("ghost", ("alpha",))


async def test_a_server_that_does_not_come_back_stays_listed_with_its_error(catalog_env: Env) -> None:
    catalog_env.upstreams.define("alpha", tools=["echo"])
    await adhoc(catalog_env, "alpha", {"command": "fake-upstream"})
    catalog_env.upstreams.define("alpha", tools=["echo"], fail="exited with code 3")
    outcome = await ops.restart_server(catalog_env.ws(), "alpha")
    assert (outcome.server, outcome.status, outcome.reason, outcome.ok) == ("alpha", "failed", "exited with code 3",
                                                                            False)
    assert "but it is failed: exited with code 3" in outcome.message
    assert [s.name for s in ops.list_servers(catalog_env.ws())] == ["alpha"]
    assert outcomes.parse(outcomes.data(outcome)) == outcome


# --------------------------------------------------------------------------- configure_server


async def test_a_server_added_from_a_spec_is_not_configurable(catalog_env: Env) -> None:
    await adhoc(catalog_env, "alpha", {"command": "fake-upstream"})
    assert await ops.configure_server(catalog_env.ws(), "alpha", {"x": 1}) == NotConfigurable("alpha")


async def test_configuring_an_unknown_server(catalog_env: Env) -> None:
    outcome = await ops.configure_server(catalog_env.ws(), "greetr", {"greeting": "hi"})
    assert outcome == UnknownServer("greetr", ("greeter",), where="configure")
    assert "Did you mean 'greeter'?" in outcome.message


async def test_configuring_invalid_values_stores_nothing(catalog_env: Env) -> None:
    outcome = await ops.configure_server(catalog_env.ws(), "greeter", {"greeting": ["not", "a", "string"]})
    assert isinstance(outcome, InvalidConfig) and outcome.problems[0].startswith("greeting: ")
    assert await catalog_env.services.state.get_config("default", "greeter") == {}


async def test_configuring_an_inactive_server_stores_for_the_next_add(catalog_env: Env) -> None:
    outcome = await ops.configure_server(catalog_env.ws(), "greeter", {"greeting": "stored"})
    assert outcome == Configured("greeter", ("greeting",), restarted=False)
    assert "applies when the server is added" in outcome.message
    assert catalog_env.upstreams.created == []
    assert await ops.add_server(catalog_env.ws(), "greeter") == Added("greeter", "ready", ("greeter__hello",))
    assert catalog_env.upstreams.last("greeter").spec.env["GREETING"] == "stored"


async def test_configuring_an_active_server_restarts_it_with_the_new_values(catalog_env: Env) -> None:
    await ops.add_server(catalog_env.ws(), "greeter", config={"greeting": "first"})
    first = catalog_env.upstreams.last("greeter")
    outcome = await ops.configure_server(catalog_env.ws(), "greeter", {"greeting": "second"})
    assert outcome == Configured("greeter", ("greeting",), restarted=True, tools=("greeter__hello",))
    second = catalog_env.upstreams.last("greeter")
    assert second is not first and first.stops == 1 and second.spec.env["GREETING"] == "second"
    assert catalog_env.registry().servers["greeter"] is second


# --------------------------------------------------------------------------- run_code / code_api grants


async def test_code_is_not_granted_unknown_servers(catalog_env: Env) -> None:
    await adhoc(catalog_env, "alpha", {"command": "fake-upstream"})
    api = await code.code_api(catalog_env.ws(), ["alpha", "nope"])
    run = await code.run_code(catalog_env.ws(), "export default 1", servers=["nope"])
    assert api == code.NotGranted("unknown server(s): nope (servers: alpha, meta-mcp)")
    assert isinstance(run, code.NotGranted) and "nope" in run.reason
    assert catalog_env.services._sandbox is None  # refused before any sandbox was made


async def test_code_is_not_granted_servers_outside_the_allow_list(make_env: Any) -> None:
    async with make_env(sandbox_allowed_servers=["alpha"]) as env:
        for name in ("alpha", "beta"):
            env.upstreams.define(name, tools=["echo"])
            await env.add(name)
        denied = await code.code_api(env.ws(), ["beta"])
        run = await code.run_code(env.ws(), "export default 1", servers=["alpha", "beta"])
        allowed = await code.code_api(env.ws(), ["alpha"])
        everything = await code.code_api(env.ws())
    assert denied == code.NotGranted("server(s) not allowed for run_code: beta (sandbox_allowed_servers)")
    assert run == denied
    assert isinstance(allowed, str) and "echo" in allowed and "beta" not in allowed
    assert isinstance(everything, str) and "alpha" in everything and "beta" not in everything


# --------------------------------------------------------------------------- the outcome wire form


EXAMPLES: dict[str, Any] = {
    "added": Added("a", "ready", ("a__x", "a__y")),
    "already_active": AlreadyActive("a", "restarting", ()),
    "did_not_start": DidNotStart("a", "exit 1"),
    "unknown_server": UnknownServer("a", ("b", "c"), where="configure"),
    "invalid_spec": InvalidSpec("a", ("spec: needs 'command'",)),
    "refused": Refused("a", "not over HTTP"),
    "declined": Declined("a"),
    "catalog_unavailable": CatalogUnavailable("x.yaml: broken"),
    "needs_config": NeedsConfig("a", (ConfigField("p", "array", "paths", True), ConfigField("q"))),
    "needs_secrets": NeedsSecrets("a", (SecretNeed("A_KEY", "a.key", "the key"),), sources="the vault"),
    "invalid_config": InvalidConfig("a", ("p: 5 is not of type 'string'",)),
    "cannot_run": CannotRun("a", "needs a Docker engine"),
    "removed": Removed("a", ("a__x",)),
    "not_active": NotActive("a", ("b",)),
    "configured": Configured("a", ("p", "q"), restarted=True, tools=("a__x",)),
    "not_configurable": NotConfigurable("a"),
    "not_saved": NotSaved("a", "redis://***@host: connection refused"),
    "restarted": Restarted("a", "failed", (), "exited with code 3"),
    "not_restartable": NotRestartable("a", "the Docker MCP Gateway runs it"),
}


def test_every_outcome_kind_has_an_example() -> None:
    # `_KINDS` is the table `parse` reads: a new kind must get a round trip here.
    assert set(EXAMPLES) == set(outcomes._KINDS)


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_an_outcome_survives_its_wire_form(kind: str) -> None:
    outcome = EXAMPLES[kind]
    wire = json.loads(json.dumps(outcomes.data(outcome)))
    assert wire["outcome"] == kind == outcomes.kind(outcome)
    assert wire["message"] == outcome.message
    assert outcomes.parse(wire) == outcome


@pytest.mark.parametrize("value", [None, "added", [], {"outcome": "nope"}, {"outcome": "added", "server": "a"},
                                   {"outcome": "needs_secrets", "server": "a", "secrets": [{"bogus": 1}]}])
def test_what_is_not_an_outcome_parses_to_none(value: Any) -> None:
    assert outcomes.parse(value) is None


# --------------------------------------------------------------------------- regressions


async def test_another_capitalisation_is_the_same_catalog_server(catalog_env: Env) -> None:
    ws = catalog_env.ws()
    assert await ops.add_server(ws, "Greeter", config={"greeting": "hi"}) == Added("greeter", "ready",
                                                                                   ("greeter__hello",))
    assert await catalog_env.services.state.get_config("default", "greeter") == {"greeting": "hi"}
    again = await ops.add_server(ws, "GREETER")
    assert isinstance(again, AlreadyActive) and again.server == "greeter"
    assert isinstance(await ops.remove_server(ws, "Greeter"), Removed)
    assert catalog_env.registry().servers == {}


async def test_a_spec_server_named_like_a_catalog_entry_is_not_replaced_by_configure(catalog_env: Env) -> None:
    await adhoc(catalog_env, "greeter", {"command": "fake-upstream"})
    mine = catalog_env.registry().servers["greeter"]
    assert await ops.configure_server(catalog_env.ws(), "greeter", {"greeting": "x"}) == NotConfigurable("greeter")
    assert catalog_env.registry().servers["greeter"] is mine
    assert (await catalog_env.services.state.servers("default"))["greeter"].source == "spec"


async def test_configure_that_cannot_start_changes_nothing(make_env: Any) -> None:
    async with make_env(catalog=CATALOG, secrets={"GREETER_TOKEN": TOKEN}) as env:
        env.upstreams.define("greeter", tools=["hello"])
        ws = env.ws()
        await ops.add_server(ws, "greeter", config={"greeting": "first"})
        running = env.registry().servers["greeter"]
        invalid = await ops.configure_server(ws, "greeter", {"greeting": ["not", "a", "string"]})
        assert isinstance(invalid, InvalidConfig)
        assert env.registry().servers["greeter"] is running and running.stops == 0
        assert await env.services.state.get_config("default", "greeter") == {"greeting": "first"}
