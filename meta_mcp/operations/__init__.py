"""The use cases, once, for every front door (meta tools, chat API, CLI, console).

Each operation is a typed function over a `Workspace` handle (a registry plus the services) that
returns a typed outcome (`outcomes`), never pre-rendered text:
- `servers`: list, find, add, remove, configure servers;
- `tools`: find and call tools; `visible_tools`, the one filter of a snapshot by owner;
- `code`: run code in the sandbox, describe its API;
- `agent`: hand a task to the agent loop.
Front doors render outcomes their own way: a meta tool as a tool result, the chat API as JSON with
a status code.
"""

from meta_mcp.operations.workspace import Workspace

__all__ = ["Workspace"]
