"""Catalog files: Docker's fixture loads unchanged, our built-in catalog, merge order, broken files.

Docker's catalog (272 servers) is read from ../shared/fixtures/ relative to the repository and the
tests that need it are skipped, with the reason, when it is absent.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from meta_mcp.services.catalog import Catalog, CatalogError, load_catalog
from meta_mcp.services.catalog.loader import builtin_dir, read_catalog_file

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO.parent / "shared" / "fixtures" / "docker-mcp-catalog.yaml"
needs_fixture = pytest.mark.skipif(not FIXTURE.is_file(), reason=f"Docker catalog fixture not found at {FIXTURE}")

REQUIRED_BUILTIN = ["time", "fetch", "git", "filesystem", "memory", "everything", "sequentialthinking"]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@needs_fixture
def test_docker_fixture_loads_unchanged() -> None:
    catalog = load_catalog([FIXTURE], builtin=False)
    assert len(catalog) == 272
    types = Counter(e.type for e in catalog)
    assert types == {"server": 240, "remote": 29, "poci": 3}
    for entry in catalog:
        assert entry.source_file == str(FIXTURE)
        assert entry.title and entry.description
        if entry.type == "remote":
            assert entry.remote is not None and entry.remote.url.startswith("https://") and entry.image is None
        elif entry.type == "server":
            assert entry.image and entry.remote is None
    apify = catalog.get("apify")
    assert apify.remote.transport_type == "streamable-http"
    assert apify.remote.headers == {"Authorization": "Bearer ${APIFY_API_KEY}"}
    assert [(s.name, s.env) for s in apify.secrets] == [("apify.api_key", "APIFY_API_KEY")]
    brave = catalog.get("brave")
    assert "brave_web_search" in brave.tools and "search" in brave.tags and brave.category == "search"
    fs = catalog.get("filesystem")
    assert fs.container_command == ["{{filesystem.paths|volume-target|into}}"]
    assert fs.config_schema()["required"] == ["paths"]


@needs_fixture
def test_docker_fixture_remote_vs_image_can_run() -> None:
    catalog = load_catalog([FIXTURE], builtin=False)
    assert catalog.get("deepwiki").runs_here(False) == (True, None)  # remote: no Docker needed
    assert catalog.get("time").runs_here(False) == (False, "needs a Docker engine, none reachable")
    assert catalog.get("time").runs_here(True) == (True, None)
    ok, why = catalog.get("curl").runs_here(True)
    assert not ok and "poci" in why


def test_builtin_catalog_has_the_reference_servers_and_they_run_without_docker() -> None:
    directory = builtin_dir()
    assert directory is not None and (directory / "reference.yaml").is_file()
    catalog = load_catalog(builtin=True)
    assert len(catalog) >= 25
    for name in REQUIRED_BUILTIN:
        entry = catalog.get(name)
        assert entry is not None, name
        assert entry.command in ("uvx", "npx") and entry.args and entry.image is None
    for entry in catalog:
        assert entry.title and len(entry.description) > 20 and entry.tags, entry.name
        for secret in entry.secrets:
            assert secret.env.isupper() and secret.description, (entry.name, secret)
    assert catalog.get("sequential-thinking").name == "sequentialthinking"  # alias
    schema = catalog.get("filesystem").config_schema()
    assert schema["type"] == "object" and schema["required"] == ["paths"]
    assert schema["properties"]["paths"]["type"] == "array"


def test_merge_order_docker_dir_then_builtin_then_files(tmp_path: Path) -> None:
    docker_dir = tmp_path / "docker"
    docker_dir.mkdir()
    write(docker_dir / "docker-mcp.yaml", """
registry:
  time: {title: Docker time, description: from docker, image: mcp/time}
  only-docker: {title: Only in Docker, description: d, image: mcp/x}
""")
    first = write(tmp_path / "first.yaml", """
registry:
  only-docker: {title: First file, description: f, run: {command: echo}}
  extra: {title: Extra one, description: e, run: {command: echo, args: [a]}}
""")
    second = write(tmp_path / "second.json", json.dumps(
        {"registry": {"extra": {"title": "Second file", "description": "s", "remote": {"url": "https://x/mcp"}}}}))
    catalog = load_catalog([first, second], builtin=True, docker_dir=docker_dir)
    assert catalog.get("time").command == "uvx"  # built-in replaces Docker's dir
    assert catalog.get("only-docker").title == "First file"  # a --catalog file replaces both
    extra = catalog.get("extra")
    assert extra.title == "Second file" and extra.command is None and extra.remote is not None  # whole entry
    assert extra.source_file == str(second)
    without_builtin = load_catalog([first], builtin=False, docker_dir=docker_dir)
    assert without_builtin.get("time").title == "Docker time"
    assert load_catalog([], builtin=False, docker_dir=tmp_path / "missing").names() == []


@pytest.mark.parametrize(
    "text,expected",
    [
        ("registry: [1, 2]", ["field 'registry'"]),
        ("registry:\n  x: {title: X\n", ["not valid YAML"]),
        ("registry:\n  good: {title: G, image: a}\n  bad:\n    title: B\n    image: b\n    secrets:\n      - {name: b.key}\n",
         ["entry 'bad'", "field 'secrets[0].env'", "Field required"]),
        ("registry:\n  bad: {title: B, image: b, command: run-me}\n", ["entry 'bad'", "field 'command'", "run:"]),
        (("registry:\n  bad: {title: B, run: {command: x, args: ['--token=$TOKEN']}, "
          "secrets: [{name: b.t, env: TOKEN}]}\n"), ["entry 'bad'", "field 'run.args[0]'", "TOKEN"]),
        ("registry:\n  bad: {title: B, run: {args: [a]}}\n", ["entry 'bad'", "field 'run.command'"]),
        ("registry:\n  bad: {title: B, description: nothing to run}\n", ["entry 'bad'", "field 'run'"]),
        ("registry:\n  'bad name!': {title: B, image: x}\n", ["entry 'bad name!'", "name must match"]),
        ("registry:\n  bad: {title: B, image: x, tools: [{description: no name}]}\n", ["entry 'bad'", "tools[0]"]),
    ],
)
def test_broken_files_name_file_entry_and_field(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = write(tmp_path / "broken.yaml", text)
    with pytest.raises(CatalogError) as info:
        load_catalog([path], builtin=False)
    message = str(info.value)
    assert str(path) in message
    for part in expected:
        assert part in message, message


def test_missing_file_is_a_catalog_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read"):
        read_catalog_file(tmp_path / "nope.yaml")


def test_get_suggest_and_iteration() -> None:
    catalog = load_catalog(builtin=True)
    assert catalog.get("TIME") is catalog.get("time")  # unique case-insensitive match
    assert catalog.get("no-such-server") is None
    assert catalog.suggest("githb")[0] == "github"
    assert catalog.suggest("filesytem") == ["filesystem"]
    assert catalog.suggest("zzzzqqq") == []
    assert [e.name for e in catalog] == catalog.names() and len(list(catalog)) == len(catalog)
    assert "time" in catalog and Catalog([]).search("anything") == []
