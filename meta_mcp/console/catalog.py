"""The Catalog pages: search (`GET /ui/catalog?q=`), an entry (`GET /ui/catalog/{name}`) and its add form
(`POST /ui/catalog/{name}/add`).

Search is `operations.servers.find_servers` (the same ranking the `find_servers` tool gives). An entry
shows how it runs, its secrets (set or not, and where to set them — never a value) and its config as a
form built from its JSON Schema; add is `operations.servers.add_server`, whose answers (invalid or
missing config) are shown beside the fields they concern.
"""

from __future__ import annotations

from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from meta_mcp.console import forms
from meta_mcp.console.page import Console, Context, Problem, form_of, same_origin
from meta_mcp.operations import outcomes
from meta_mcp.operations import servers as server_ops


def routes(console: Console) -> list[Route]:
    return [
        console.route("/catalog", catalog_page),
        console.route("/catalog/{name}", entry_page),
        console.route("/catalog/{name}/add", entry_add, methods=["POST"]),
    ]


async def catalog_page(console: Console, request: Request) -> Response:
    ctx = console.context(request)
    query = (request.query_params.get("q") or "").strip()[:1000]
    found, problem = None, None
    if query:
        answer = await server_ops.find_servers(ctx.ws, query, limit=20)
        if isinstance(answer, outcomes.CatalogUnavailable):
            problem = answer.message
        else:
            found = answer
    values = {"page": "catalog", "query": query, "found": found, "problem": problem}
    if ctx.htmx and request.headers.get("hx-target") == "catalog-results":
        return console.render(ctx, "_catalog_results.html", **values)
    return console.render(ctx, "catalog.html", **values)


async def entry_values(ctx: Context, name: str) -> dict[str, Any]:
    """What the entry page shows of catalog entry `name`; `Problem` 503 without a catalog, 404 for no entry."""
    from meta_mcp.services.catalog import CatalogError, adocker_available
    from meta_mcp.services.catalog.describe import describe
    from meta_mcp.services.catalog.plan import resolve_secrets

    try:
        catalog = await anyio.to_thread.run_sync(lambda: ctx.ws.services.catalog)
    except CatalogError as exc:
        raise Problem(503, f"The catalog cannot be loaded: {exc}") from None
    entry = catalog.get(name)
    if entry is None:
        hint = ", ".join(catalog.suggest(name))
        raise Problem(404, f"No catalog entry {name!r}." + (f" Close: {hint}." if hint else ""))
    described = describe(entry, docker_available=await adocker_available())
    missing = {s.env for s in (await resolve_secrets(entry, ctx.ws.services.secrets)).missing}
    secrets = [{**s, "set": s["env"] not in missing} for s in described["secrets"]]
    sources = getattr(ctx.ws.services.secrets, "describe", lambda: "meta-mcp's environment or its .env file")()
    stored = await ctx.ws.services.state.get_config(ctx.ws.name, entry.name)
    return {"page": "catalog", "entry": described, "schema": entry.config_schema(), "secrets": secrets,
            "sources": sources, "stored": stored, "active": entry.name in ctx.ws.registry.servers}


async def entry_page(console: Console, request: Request) -> Response:
    ctx = console.context(request)
    values = await entry_values(ctx, request.path_params["name"])
    return console.render(ctx, "entry.html", fields=forms.fields(values["schema"], values["stored"]), **values)


async def entry_add(console: Console, request: Request) -> Response:
    same_origin(request)
    ctx = console.context(request)
    submitted = await form_of(request)
    values = await entry_values(ctx, request.path_params["name"])
    schema = values["schema"]
    config, errors = forms.parse(schema, submitted)
    outcome: Any = None
    general: list[str] = []
    if not errors:
        outcome = await server_ops.add_server(ctx.ws, values["entry"]["name"], config=config or None, origin="http")
        ctx.audit(f"POST /ui/catalog/{values['entry']['name']}/add", outcome)
        console.monitor.wake()
        names = list((schema or {}).get("properties") or {})
        if isinstance(outcome, outcomes.InvalidConfig):
            errors, general = forms.problems_by_field(outcome.problems, names)
        elif isinstance(outcome, outcomes.NeedsConfig):
            errors = {f.name: "required" for f in outcome.fields if f.name in names}
            general = [f"{f.name}: required" for f in outcome.fields if f.name not in names]
    ok = outcome is not None and outcome.ok
    status = 200 if ok else 422 if errors or general else _status(outcome)
    shown = {**values, "outcome": outcome, "outcome_kind": outcomes.kind(outcome) if outcome is not None else None,
             "general": general, "fields": forms.fields(schema, config, errors, submitted),
             "raw_error": errors.get(forms.RAW), "raw": submitted.get(forms.RAW, "")}
    if ok:
        shown["active"] = True
    return console.render(ctx, "_entry_add.html" if ctx.htmx else "entry.html", status, **shown)


def _status(outcome: Any) -> int:
    from meta_mcp.api.errors import status_of

    return status_of(outcome) if outcome is not None else 400
