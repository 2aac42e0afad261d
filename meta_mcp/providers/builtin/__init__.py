"""The builtin meta tools, one module per group, served by `BuiltinProvider`.

To add a meta tool: define a `MetaTool` in the module of its group and list it in `META_TOOLS`.
"""

from meta_mcp.providers.builtin.agent import AGENT_CHAT
from meta_mcp.providers.builtin.base import MetaContext, MetaTool, RegistryView, structured
from meta_mcp.providers.builtin.catalog import FIND_SERVERS
from meta_mcp.providers.builtin.code import GET_CODE_API, RUN_CODE
from meta_mcp.providers.builtin.manage import ADD_SERVER, CONFIGURE_SERVER, REMOVE_SERVER
from meta_mcp.providers.builtin.provider import BuiltinProvider
from meta_mcp.providers.builtin.servers import LIST_SERVERS
from meta_mcp.providers.builtin.tools import CALL_TOOL, FIND_TOOLS

META_TOOLS: tuple[MetaTool, ...] = (
    LIST_SERVERS, FIND_SERVERS, ADD_SERVER, REMOVE_SERVER, CONFIGURE_SERVER, FIND_TOOLS, CALL_TOOL,
    RUN_CODE, GET_CODE_API, AGENT_CHAT,
)

__all__ = ["META_TOOLS", "BuiltinProvider", "MetaContext", "MetaTool", "RegistryView", "structured"]
