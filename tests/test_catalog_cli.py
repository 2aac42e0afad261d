"""`meta-mcp catalog search` and `meta-mcp catalog convert`, run as real commands."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from support import REPO, meta_mcp_argv

FIXTURE = REPO.parent / "shared" / "fixtures" / "docker-mcp-catalog.yaml"
needs_fixture = pytest.mark.skipif(not FIXTURE.is_file(), reason=f"Docker catalog fixture not found at {FIXTURE}")


def run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    # HOME points at an empty dir, so a real ~/.docker/mcp/catalogs never leaks into the results.
    env = {**os.environ, "HOME": str(home), "META_MCP_DOCKER_CATALOG_DIR": str(home / "no-docker-catalogs")}
    return subprocess.run(meta_mcp_argv("catalog", *args), capture_output=True, text=True, timeout=60, env=env, check=False,
                          cwd=home)


def test_search_json_is_ranked_best_first(tmp_path: Path) -> None:
    done = run("search", "what time is it in Tokyo", "--limit", "3", "--json", home=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert 1 <= len(rows) <= 3
    assert rows[0]["name"] == "time" and rows[0]["title"] == "Time"
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert rows[0]["runs"]["kind"] == "command" and rows[0]["runs_here"] is True


def test_search_human_output_and_no_match(tmp_path: Path) -> None:
    done = run("search", "post a message to my team chat", "--limit", "2", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(" 1. slack — ")
    assert "secrets: SLACK_BOT_TOKEN" in done.stdout and "required config: team_id" in done.stdout
    none = run("search", "qqqzzzxxx", home=tmp_path)
    assert none.returncode == 1 and "No server in the catalog" in none.stdout


@needs_fixture
def test_search_extra_catalog_files(tmp_path: Path) -> None:
    done = run("search", "run SQL on ClickHouse", "--catalog", str(FIXTURE), "--no-builtin", "--json", home=tmp_path)
    rows = json.loads(done.stdout)
    assert rows[0]["name"] == "clickhouse"
    assert rows[0]["runs"] == {"kind": "docker", "image": rows[0]["runs"]["image"]}
    assert all(set(s) == {"name", "env", "required"} for r in rows for s in r["secrets"])  # never values


def test_search_reports_a_broken_catalog(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("registry:\n  oops:\n    title: Oops\n    image: x\n    secrets: [{name: oops.key}]\n")
    done = run("search", "anything", "--catalog", str(broken), home=tmp_path)
    assert done.returncode == 2
    assert str(broken) in done.stderr and "'oops'" in done.stderr and "secrets[0].env" in done.stderr


@needs_fixture
def test_convert_to_one_file_and_to_a_directory(tmp_path: Path) -> None:
    one = tmp_path / "out" / "catalog.json"
    done = run("convert", str(FIXTURE), "--out", str(one), home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "wrote 272 entries" in done.stdout
    data = json.loads(one.read_text())
    assert len(data["registry"]) == 272 and data["registry"]["brave"]["title"] == "Brave Search"
    # The JSON document loads back as a catalog and searches the same.
    again = run("search", "brave web search", "--catalog", str(one), "--no-builtin", "--json", "--limit", "1",
                home=tmp_path)
    assert json.loads(again.stdout)[0]["name"] == "brave"

    directory = tmp_path / "servers"
    done = run("convert", str(FIXTURE), "--out", str(directory), home=tmp_path)
    assert done.returncode == 0, done.stderr
    files = sorted(directory.glob("*.json"))
    assert len(files) == 272
    time_entry = json.loads((directory / "time.json").read_text())
    assert time_entry["name"] == "time" and time_entry["image"].startswith("mcp/time")


def test_convert_refuses_a_broken_file_and_writes_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("registry:\n  ok: {title: OK, image: x}\n  bad: {title: Bad, image: y, command: not-a-list}\n")
    out = tmp_path / "out"
    done = run("convert", str(broken), "--out", str(out), home=tmp_path)
    assert done.returncode == 2 and "'bad'" in done.stderr and "'command'" in done.stderr
    assert not out.exists()


def test_help_is_informative(tmp_path: Path) -> None:
    top = run("--help", home=tmp_path)
    assert "catalog" in subprocess.run(meta_mcp_argv("--help"), capture_output=True, text=True, check=False).stdout
    assert top.returncode == 0
    search = run("search", "--help", home=tmp_path)
    assert "--json" in search.stdout and "--catalog" in search.stdout and "examples:" in search.stdout
    convert = run("convert", "--help", home=tmp_path)
    assert "--out" in convert.stdout and "<name>.json" in convert.stdout


@pytest.mark.parametrize("argv", [["catalog", "search", "time"], ["token", "list", "--tokens-file", "tokens.yaml"],
                                  ["secrets", "push", "brave.api_key"]])
def test_an_invalid_setting_is_a_clear_error_not_a_traceback(tmp_path: Path, argv: list[str]) -> None:
    """Regression: `catalog search`, `token` and `secrets push` built Settings() bare, so a bad META_MCP_* printed
    a traceback (or, for secrets, the bare error and exit 1)."""
    env = {**os.environ, "HOME": str(tmp_path), "META_MCP_PORT": "not-a-port"}
    done = subprocess.run(meta_mcp_argv(*argv), capture_output=True, text=True, timeout=60, env=env, check=False,
                          cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("meta-mcp: invalid setting:") and "port" in done.stderr
    assert "Traceback" not in done.stderr
