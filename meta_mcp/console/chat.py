"""The Chat page (`GET /ui/chat`): the chat API's `/sse/chat` in a page.

The page itself is static: its script streams `/sse/chat` and shows messages, tool calls and results
as they happen, a config interrupt as a form that resumes the chat, a secrets stop with its
instructions. Without the chat API (`chat_api` false) the page says so instead.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from meta_mcp.console.page import Console


def routes(console: Console) -> list[Route]:
    return [console.route("/chat", chat_page)]


async def chat_page(console: Console, request: Request) -> Response:
    ctx = console.context(request)
    return console.render(ctx, "chat.html", page="chat")
