"""What a workspace keeps beyond its servers: its pins, its pinned definitions and its stored curation.

They live in `SurfaceRecords`: a small key → JSON object store (the state store's config records in
meta-mcp, memory by default). Keys never clash with a server's config: each has a `:`, which server
names cannot contain — `:pins`, `<server>:definitions` (pinned definitions, see `pinning`),
`<server>:curation` (curation given to add_server / configure_server, laid over the spec's own).

How errors degrade:
- a change is saved before it is made: when its record cannot be saved, `save_pins` / `save_curation`
  raise what the records raised and nothing changes (the operations answer `NotSaved`);
- reading is best effort, so a failing store never keeps a workspace from starting: a record that
  cannot be read is logged and taken as empty (no pins; nothing pinned yet, so the definitions listed
  next are pinned; no stored curation), and an invalid stored curation is logged and ignored;
- pinned definitions are saved after each rebuild; a save that fails is logged, and they stay pinned
  in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from meta_mcp.config import Curation
from meta_mcp.registry.pinning import DefinitionBook

logger = logging.getLogger(__name__)

PINS_KEY = ":pins"


def definitions_key(server: str) -> str:
    return f"{server}:definitions"


def curation_key(server: str) -> str:
    return f"{server}:curation"


class SurfaceRecords(Protocol):
    """Where a workspace keeps its pins, pinned definitions and stored curation."""

    async def load(self, key: str) -> dict[str, Any]:
        """The object saved under `key`, or `{}`."""
        ...

    async def save(self, key: str, value: dict[str, Any]) -> None: ...


class MemoryRecords:
    """`SurfaceRecords` in memory (a registry without a state store: tests, embedding)."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}

    async def load(self, key: str) -> dict[str, Any]:
        return dict(self.data.get(key, {}))

    async def save(self, key: str, value: dict[str, Any]) -> None:
        self.data[key] = dict(value)


class KeptState:
    """One workspace's pins, pinned definitions (`definitions`) and stored curations, and the records
    they are kept in (see the module docstring for how errors degrade)."""

    def __init__(self, on_tool_change: str, workspace: str) -> None:
        self.workspace = workspace
        self.records: SurfaceRecords = MemoryRecords()
        self.pins: set[tuple[str, str]] = set()
        """Pinned tools as (server, the tool's own name)."""
        self.curations: dict[str, Curation] = {}
        """Curation given to add_server / configure_server per server, laid over the spec's own."""
        self.definitions = DefinitionBook(on_tool_change, workspace)

    async def load_pins(self) -> None:
        """Read the workspace's pins from the records (none when they cannot be read)."""
        try:
            pins = (await self.records.load(PINS_KEY)).get("pins") or []
            self.pins = {(str(s), str(t)) for s, t in pins}
        except Exception as exc:  # a store that fails must not keep the workspace from starting
            logger.error("workspace %r: cannot read its pinned tools: %s", self.workspace, exc)

    async def load_server(self, name: str, present: Callable[[str], bool]) -> None:
        """Read server `name`'s pinned definitions and stored curation, once (again after `forget`);
        nothing is taken when `present(name)` no longer holds once they are read (removed meanwhile)."""
        if self.definitions.loaded(name):
            return
        try:
            definitions = await self.records.load(definitions_key(name))
            stored = await self.records.load(curation_key(name))
        except Exception as exc:
            logger.error("workspace %r: cannot read the pinned definitions of %r: %s", self.workspace, name, exc)
            definitions, stored = {}, {}
        if not present(name) or self.definitions.loaded(name):
            return  # removed (or loaded by another task) meanwhile
        try:
            self.curations[name] = Curation.model_validate(stored) if stored else Curation()
        except ValueError as exc:
            logger.error("workspace %r: the stored curation of %r is invalid, ignored: %s", self.workspace, name, exc)
        self.definitions.load(name, definitions)

    async def reload(self, servers: Iterable[str], present: Callable[[str], bool]) -> None:
        """Read the pins and each of `servers`' pinned definitions and curation again (another replica
        changed them; what this one had unsaved was saved at its last rebuild)."""
        await self.load_pins()
        for name in servers:
            self.forget(name)
            await self.load_server(name, present)

    def forget(self, name: str) -> None:
        """Server `name` left the workspace: its records stay in the store, read again if it comes back."""
        self.curations.pop(name, None)
        self.definitions.forget(name)

    async def save_definitions(self) -> None:
        """Save the pinned definitions that changed since the last save (a failure is logged)."""
        for server, record in self.definitions.take_dirty().items():
            try:
                await self.records.save(definitions_key(server), record)
            except Exception as exc:
                logger.warning("workspace %r: cannot save the pinned definitions of %r: %s", self.workspace, server, exc)

    async def save_pins(self, pins: Iterable[tuple[str, str]]) -> None:
        """Save `pins` as the workspace's pins, then take them; raises (and keeps the old) if not saved."""
        pins = set(pins)
        await self.records.save(PINS_KEY, {"pins": sorted([s, t] for s, t in pins)})
        self.pins = pins

    async def save_curation(self, name: str, curation: Curation) -> None:
        """Save `curation` as server `name`'s stored one, then take it; raises (and keeps the old) if not saved."""
        await self.records.save(curation_key(name), curation.model_dump(exclude_defaults=True))
        self.curations[name] = curation
