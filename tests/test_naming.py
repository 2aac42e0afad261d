"""Exposed names: valid, deterministic, stable, never colliding."""

import re

from meta_mcp.registry.naming import MCP_POLICY, NAME_RE, NameTable, base_name, hashed_name
from meta_mcp.registry.uris import exposed_uri, split_uri


def test_default_prefix_and_no_prefix():
    table = NameTable()
    names = table.assign([("time", "time", "get_current_time"), ("x", "", "echo")])
    assert names == {("time", "get_current_time"): "time__get_current_time", ("x", "echo"): "echo"}


def test_invalid_characters_are_replaced_and_names_stay_valid():
    assert base_name("my server", "do/thing!") == "my_server__do_thing_"
    long = "t" * 200
    name = NameTable().assign([("s", "s", long)])[("s", long)]
    # The default budget: 48 characters without dots (what model APIs accept, with room for a host prefix).
    assert NAME_RE.match(name) and re.match(r"^[A-Za-z0-9_-]{1,48}$", name) and len(name) == 48
    assert name == hashed_name("s", "s", long)  # deterministic
    spec_name = NameTable(MCP_POLICY).assign([("s", "s", long)])[("s", long)]
    assert NAME_RE.match(spec_name) and len(spec_name) == 128
    assert spec_name == hashed_name("s", "s", long, MCP_POLICY)


def test_clash_goes_to_the_newcomer_and_earlier_names_are_kept():
    table = NameTable()
    first = table.assign([("b", "", "echo")])
    assert first[("b", "echo")] == "echo"
    # A server added later, listed first, still does not take the name already given.
    second = table.assign([("a", "", "echo"), ("b", "", "echo")])
    assert second[("b", "echo")] == "echo"
    assert second[("a", "echo")] == hashed_name("", "a", "echo")
    assert NAME_RE.match(second[("a", "echo")])
    assert len(set(second.values())) == 2


def test_reserved_names_go_only_to_their_owner():
    names = NameTable().assign(
        [("meta-mcp", "", "call_tool"), ("evil", "", "call_tool")], reserved={"call_tool": "meta-mcp"}
    )
    assert names[("meta-mcp", "call_tool")] == "call_tool"
    assert names[("evil", "call_tool")] != "call_tool"


def test_resource_uris_round_trip():
    uri = "test://static/resource/1"
    assert split_uri(exposed_uri("everything", uri)) == ("everything", uri)
    assert split_uri("file:///x") is None
    assert split_uri("meta://") is None
