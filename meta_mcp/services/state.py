"""Workspace state: which servers a workspace has added, how, and their config.

Behind the small `StateStore` protocol so a later issue can back it with Redis; `MemoryStore` keeps
it in this process. Records hold launch descriptions and config values, never secret values (those
are looked up from the secrets source each time a server starts).

Example:
    store = MemoryStore()
    await store.put_server("default", ServerRecord(name="time", source="catalog"))
    await store.servers("default")   # → {"time": ServerRecord(...)}
"""

from __future__ import annotations

import copy
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field


class ServerRecord(BaseModel):
    """One server added to a workspace: from the catalog by name, or from an ad-hoc spec entry."""

    name: str
    source: Literal["catalog", "spec", "config"]
    spec: dict[str, Any] | None = None
    config: dict[str, Any] = Field(default_factory=dict)


class StateStore(Protocol):
    async def servers(self, workspace: str) -> dict[str, ServerRecord]: ...

    async def put_server(self, workspace: str, record: ServerRecord) -> None: ...

    async def delete_server(self, workspace: str, name: str) -> None: ...

    async def get_config(self, workspace: str, name: str) -> dict[str, Any]: ...

    async def set_config(self, workspace: str, name: str, config: dict[str, Any]) -> None: ...

    # -- agent conversations (agent_chat): JSON-able dicts, opaque to the store --
    async def get_conversation(self, workspace: str, conversation_id: str) -> dict[str, Any] | None: ...

    async def put_conversation(self, workspace: str, conversation_id: str, data: dict[str, Any]) -> None: ...


class MemoryStore:
    """`StateStore` in this process's memory (lost on restart)."""

    def __init__(self, max_conversations: int = 1000) -> None:
        self._servers: dict[str, dict[str, ServerRecord]] = {}
        self._config: dict[str, dict[str, dict[str, Any]]] = {}
        self._conversations: dict[str, dict[str, dict[str, Any]]] = {}
        self.max_conversations = max_conversations
        """Per workspace; putting one more evicts the least recently written."""

    async def servers(self, workspace: str) -> dict[str, ServerRecord]:
        return dict(self._servers.get(workspace, {}))

    async def put_server(self, workspace: str, record: ServerRecord) -> None:
        self._servers.setdefault(workspace, {})[record.name] = record

    async def delete_server(self, workspace: str, name: str) -> None:
        self._servers.get(workspace, {}).pop(name, None)

    async def get_config(self, workspace: str, name: str) -> dict[str, Any]:
        return dict(self._config.get(workspace, {}).get(name, {}))

    async def set_config(self, workspace: str, name: str, config: dict[str, Any]) -> None:
        self._config.setdefault(workspace, {})[name] = dict(config)

    # -- agent conversations (agent_chat) --
    async def get_conversation(self, workspace: str, conversation_id: str) -> dict[str, Any] | None:
        found = self._conversations.get(workspace, {}).get(conversation_id)
        return copy.deepcopy(found) if found is not None else None

    async def put_conversation(self, workspace: str, conversation_id: str, data: dict[str, Any]) -> None:
        kept = self._conversations.setdefault(workspace, {})
        kept.pop(conversation_id, None)  # re-insert: dict order is the eviction order
        kept[conversation_id] = copy.deepcopy(data)
        while len(kept) > self.max_conversations:
            kept.pop(next(iter(kept)))
