"""Fixtures of the in-process tier (see harness.py): an `Env` per test, over fake upstreams.

- `env`: meta-mcp with an empty catalog and no secrets;
- `make_env(catalog=…, secrets=…, **settings)`: the same with a catalog, secrets or settings of the
  test's choosing (an async context manager);
- `catalog_env`: meta-mcp over the test catalog of entries.py with its secrets; the catalog's entries
  (and a server "alpha" added from a spec) start as fakes with one tool;
- `no_docker_engine`: a `docker` client on PATH whose `docker info` fails, so image-only entries
  cannot run whatever this machine has.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_docker import install_fake_docker

from meta_mcp.services.catalog import docker

from .entries import CATALOG, SECRETS
from .harness import Env, open_env


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with open_env(tmp_path) as built:
        yield built


@pytest.fixture
def make_env(tmp_path: Path) -> Callable[..., Any]:
    def make(**options: Any) -> Any:
        return open_env(tmp_path, **options)

    return make


@pytest.fixture
async def catalog_env(make_env: Callable[..., Any]) -> AsyncIterator[Env]:
    async with make_env(catalog=CATALOG, secrets=SECRETS) as built:
        for name in CATALOG:
            built.upstreams.define(name, tools=["hello"])
        built.upstreams.define("alpha", tools=["echo"])
        yield built


@pytest.fixture
def no_docker_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """PATH starts with a stand-in `docker` whose `info` exits 1; yields its directory (see fake_docker)."""
    home = tmp_path / "docker-home"
    bin_dir = install_fake_docker(home, info_exit=1)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    docker.forget()
    yield home
    docker.forget()
