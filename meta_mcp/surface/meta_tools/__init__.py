"""The meta tools: the MCP front door to the operations, one module per group.

To add a meta tool: write the operation in `meta_mcp.operations`, define a `MetaTool` adapter in the
module of its group here and list it in `META_TOOLS`.
"""

from meta_mcp.surface.meta_tools.agent import AGENT_CHAT
from meta_mcp.surface.meta_tools.base import MetaContext, MetaTool, rendered, structured
from meta_mcp.surface.meta_tools.catalog import FIND_SERVERS
from meta_mcp.surface.meta_tools.code import GET_CODE_API, RUN_CODE
from meta_mcp.surface.meta_tools.manage import ADD_SERVER, CONFIGURE_SERVER, REMOVE_SERVER
from meta_mcp.surface.meta_tools.provider import MetaToolsProvider
from meta_mcp.surface.meta_tools.servers import LIST_SERVERS
from meta_mcp.surface.meta_tools.tools import APPROVE_TOOL_CHANGE, CALL_TOOL, FIND_TOOLS, PIN_TOOLS, UNPIN_TOOLS

META_TOOLS: tuple[MetaTool, ...] = (
    LIST_SERVERS, FIND_SERVERS, ADD_SERVER, REMOVE_SERVER, CONFIGURE_SERVER, FIND_TOOLS, CALL_TOOL,
    RUN_CODE, GET_CODE_API, AGENT_CHAT, PIN_TOOLS, UNPIN_TOOLS, APPROVE_TOOL_CHANGE,
)

__all__ = ["META_TOOLS", "MetaContext", "MetaTool", "MetaToolsProvider", "rendered", "structured"]
