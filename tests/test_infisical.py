"""Infisical as a secrets source, against a stand-in Infisical on a real socket (`tests/fake_infisical.py`).

The real `infisicalsdk` client talks HTTP to the stand-in: hit, miss, fall-through in the configured
order, an unreachable or hanging Infisical (bounded by our timeout, reported once, the chain goes on),
TTL refresh, a revoked token, imports, Docker's dotted names — and a real meta-mcp whose catalog
server gets its secret from Infisical, with `find_servers` / `list_servers` saying where it came from.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml

from fake_infisical import CLIENT_ID, CLIENT_SECRET, PROJECT_ID, FakeInfisical
from meta_mcp.redaction import Redactor
from meta_mcp.services.catalog.loader import parse_entry
from meta_mcp.services.catalog.plan import resolve_secrets
from meta_mcp.services.infisical import InfisicalConfig, InfisicalSecrets
from meta_mcp.services.secrets import ChainSecrets, EnvSecrets, sources_from_settings
from meta_mcp.settings import Settings
from support import REPO, free_port, make_client, meta_mcp_http

pytestmark = pytest.mark.anyio

TOKEN = "inf-TOKEN-5f1e0c9a-never-shown"


@pytest.fixture
def fake() -> Any:
    with FakeInfisical({"API_TOKEN": TOKEN, "brave.api_key": "brave-KEY-77d2c1", "SHARED": "own-value"},
                       imported={"SHARED": "imported-value", "ONLY_IMPORTED": "imp-VALUE-31"}) as server:
        yield server


def source(url: str, **kwargs: Any) -> InfisicalSecrets:
    config = {"timeout_s": 2.0, "ttl_s": 60.0, **kwargs}
    return InfisicalSecrets(InfisicalConfig(url, CLIENT_ID, CLIENT_SECRET, PROJECT_ID, **config))


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def warnings_about_infisical(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.WARNING and r.name == "meta_mcp.services.infisical"]


async def test_hit_and_where(fake: FakeInfisical) -> None:
    redactor = Redactor()
    chain = ChainSecrets([EnvSecrets({"OTHER": "x-value"}), source(fake.url)], redactor)
    assert await chain.get("API_TOKEN") == TOKEN
    assert await chain.where("API_TOKEN") == "infisical"
    assert await chain.where("OTHER") == "environment"
    assert redactor.redact(f"token={TOKEN}") == "token=***"


async def test_miss_costs_one_listing(fake: FakeInfisical) -> None:
    infisical = source(fake.url)
    for name in ("NOPE", "ALSO_NOPE", "NOPE", "API_TOKEN"):
        await infisical.get(name)
    assert await infisical.get("NOPE") is None
    assert (fake.logins, fake.lists) == (1, 1)


async def test_imports_and_own_secrets_win(fake: FakeInfisical) -> None:
    infisical = source(fake.url)
    assert await infisical.get("ONLY_IMPORTED") == "imp-VALUE-31"
    assert await infisical.get("SHARED") == "own-value"


async def test_order_is_configurable(fake: FakeInfisical, tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("API_TOKEN=from-dotenv\n")
    environ = {"API_TOKEN": "from-environment"}
    base = {"infisical_client_id": CLIENT_ID, "infisical_client_secret": CLIENT_SECRET,
            "infisical_project_id": PROJECT_ID, "infisical_site_url": fake.url}

    async def winner(order: str) -> tuple[str | None, str | None]:
        settings = Settings(_env_file=None, secrets_order=order, **base)  # type: ignore[call-arg]
        chain = ChainSecrets(sources_from_settings(settings, environ, dotenv))
        return await chain.get("API_TOKEN"), await chain.where("API_TOKEN")

    assert await winner("environment,dotenv,infisical,docker") == ("from-environment", "environment")
    assert await winner("dotenv,infisical") == ("from-dotenv", "dotenv")
    assert await winner("infisical,environment") == (TOKEN, "infisical")
    settings = Settings(_env_file=None, **base)  # type: ignore[call-arg]
    assert [s.name for s in sources_from_settings(settings, environ, dotenv)][:3] == [
        "environment", "dotenv", "infisical"]
    no_client = Settings(_env_file=None)  # type: ignore[call-arg]
    assert "infisical" not in [s.name for s in sources_from_settings(no_client, environ, None)]


async def test_unreachable_falls_through_reported_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    dotenv = tmp_path / ".env"
    dotenv.write_text("API_TOKEN=from-dotenv\n")
    from meta_mcp.services.secrets import DotenvSecrets

    chain = ChainSecrets([source(closed_port_url(), timeout_s=1.0), DotenvSecrets(dotenv)])
    started = time.monotonic()
    assert await chain.get("API_TOKEN") == "from-dotenv"
    first = time.monotonic() - started
    assert first < 1.8, f"an unreachable Infisical cost {first:.2f}s, over its 1s timeout"
    started = time.monotonic()
    for _ in range(5):
        assert await chain.get("API_TOKEN") == "from-dotenv"
        assert await chain.where("API_TOKEN") == "dotenv"
    assert time.monotonic() - started < 0.2, "a known-down Infisical was asked again within its TTL"
    warnings = warnings_about_infisical(caplog)
    assert len(warnings) == 1, warnings
    assert "Infisical at http://127.0.0.1:" in warnings[0] and "unavailable" in warnings[0]
    assert all(CLIENT_SECRET not in r.getMessage() for r in caplog.records)


async def test_hanging_infisical_costs_the_timeout(fake: FakeInfisical, caplog: pytest.LogCaptureFixture) -> None:
    fake.delay = 5.0
    infisical = source(fake.url, timeout_s=0.5)
    started = time.monotonic()
    results = []

    async def lookup(name: str) -> None:
        results.append(await infisical.get(name))

    async with anyio.create_task_group() as tg:  # concurrent lookups share the one refresh
        for name in ("API_TOKEN", "brave.api_key", "NOPE"):
            tg.start_soon(lookup, name)
    assert results == [None, None, None]
    assert time.monotonic() - started < 1.5
    assert len(warnings_about_infisical(caplog)) == 1
    assert "no answer within 0.5s" in warnings_about_infisical(caplog)[0]
    assert fake.logins == 1


async def test_ttl_refresh(fake: FakeInfisical) -> None:
    infisical = source(fake.url, ttl_s=0.4)
    assert await infisical.get("API_TOKEN") == TOKEN
    fake.secrets["API_TOKEN"] = "rotated-TOKEN-2"
    fake.secrets["NEW_ONE"] = "new-VALUE-3"
    assert await infisical.get("API_TOKEN") == TOKEN  # cached within the TTL
    await anyio.sleep(0.5)
    assert await infisical.get("API_TOKEN") == "rotated-TOKEN-2"
    assert await infisical.get("NEW_ONE") == "new-VALUE-3"
    assert (fake.logins, fake.lists) == (1, 2)  # the token is reused


async def test_outage_keeps_last_values_and_recovery_is_logged(fake: FakeInfisical,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="meta_mcp.services.infisical")
    infisical = source(fake.url, ttl_s=0.3, timeout_s=0.4)
    assert await infisical.get("API_TOKEN") == TOKEN
    fake.delay = 2.0
    await anyio.sleep(0.35)
    assert await infisical.get("API_TOKEN") == TOKEN  # Infisical hangs: the last listing still answers
    assert len(warnings_about_infisical(caplog)) == 1
    assert "kept from the last answer" in warnings_about_infisical(caplog)[0]
    fake.delay = 0.0
    await anyio.sleep(2.2)  # the abandoned request finishes; the TTL has passed
    fake.secrets["API_TOKEN"] = "after-OUTAGE-9"
    assert await infisical.get("API_TOKEN") == "after-OUTAGE-9"
    assert any("answers again" in r.getMessage() for r in caplog.records)


async def test_revoked_token_logs_in_again(fake: FakeInfisical) -> None:
    infisical = source(fake.url, ttl_s=0.2)
    assert await infisical.get("API_TOKEN") == TOKEN
    fake.revoke()
    await anyio.sleep(0.25)
    assert await infisical.get("API_TOKEN") == TOKEN
    assert fake.logins == 2


async def test_login_refused_is_reported_without_the_secret(fake: FakeInfisical,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    wrong = "wrong-SECRET-1d9e"
    infisical = InfisicalSecrets(InfisicalConfig(fake.url, CLIENT_ID, wrong, PROJECT_ID, timeout_s=2.0))
    assert await infisical.get("API_TOKEN") is None
    [warning] = warnings_about_infisical(caplog)
    assert "login refused (HTTP 401" in warning and "INFISICAL_CLIENT_SECRET" in warning
    assert wrong not in warning


async def test_dotted_names(fake: FakeInfisical) -> None:
    entry = parse_entry("brave", {"title": "Brave", "type": "server", "run": {"command": "true"},
                                  "secrets": [{"name": "brave.api_key", "env": "BRAVE_API_KEY"}]}, "test")
    chain = ChainSecrets([EnvSecrets({}), source(fake.url)])
    resolved = await resolve_secrets(entry, chain)
    assert resolved.values == {"BRAVE_API_KEY": "brave-KEY-77d2c1"} and not resolved.missing
    assert await chain.where("BRAVE_API_KEY", "brave.api_key") == "infisical"


# -- a real meta-mcp -------------------------------------------------------------------------------

def _catalog(path: Path) -> Path:
    rich = {"command": sys.executable, "args": [str(REPO / "tests/upstreams/rich.py")]}
    path.write_text(yaml.safe_dump({"registry": {
        "vaulted": {"title": "Vaulted (test)", "description": "A test server whose token lives in Infisical.",
                    "type": "server", "run": rich,
                    "secrets": [{"name": "vaulted.token", "env": "VAULTED_TOKEN"}]},
        "unset": {"title": "Unset secret (test)", "description": "A test server whose token is nowhere.",
                  "type": "server", "run": rich, "secrets": [{"name": "unset.token", "env": "UNSET_TOKEN_NOWHERE"}]},
    }}))
    return path


async def test_catalog_server_gets_its_secret_from_infisical(tmp_path: Path) -> None:
    canary = "vaulted-CANARY-0b8e44"
    with FakeInfisical({"vaulted.token": canary}) as fake:
        catalog = _catalog(tmp_path / "catalog.yaml")
        async with meta_mcp_http({}, "--catalog", str(catalog), env=fake.env(), log_level="DEBUG") as url:
            async with make_client(str(url), "auto") as client:
                found = await client.call_tool("find_servers", {"query": "test server token Infisical", "limit": 5})
                by_name = {s["name"]: s for s in found.structured_content["servers"]}
                assert by_name["vaulted"]["secrets"] == [{"name": "vaulted.token", "env": "VAULTED_TOKEN",
                                                          "required": True, "set": True, "source": "infisical"}]
                assert by_name["unset"]["secrets"][0]["set"] is False
                assert by_name["unset"]["secrets"][0]["source"] is None
                added = await client.call_tool("add_server", {"name": "vaulted"})
                assert added.structured_content["outcome"] == "added", added
                listed = await client.call_tool("list_servers", {})
                [server] = [s for s in listed.structured_content["servers"] if s["name"] == "vaulted"]
                assert server["secrets"][0]["source"] == "infisical" and server["secrets"][0]["set"] is True
                env = await client.call_tool("vaulted__environment", {"names": ["VAULTED_TOKEN"]})
                # The upstream got the value (it is a known secret, so what comes back is masked).
                assert env.structured_content["env"] == {"VAULTED_TOKEN": "***"}
                for result in (found, added, listed, env):
                    assert canary not in result.model_dump_json()
            assert canary not in url.stderr_text()
        assert fake.logins == 1
