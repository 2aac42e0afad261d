"""Turning a catalog entry into a `ServerSpec`: a local command, a remote URL, or `docker run`.

Promises:
- secret values reach the server only through its environment (`ServerSpec.env`; for Docker the
  container gets them with `-e NAME`, name only) or a remote's headers/URL; an argument list that
  would contain a secret value is refused with `CatalogError`;
- `$NAME` / `${NAME}` are expanded in the catalog's own text only (`templates.fill`): a config value —
  which a client supplies — is data, never expanded, so it cannot name a secret; in a remote's URL it
  is percent-encoded (it fills one component, it cannot add a path, query or host), and a remote whose
  URL takes its host or port from config is refused when secrets would be sent to it (the client
  would choose where they go);
- Docker's templates are evaluated as Docker's gateway does (see `templates`); in our own `run.args`
  an argument whose templates all evaluate empty is left out, so optional flags disappear cleanly;
- every failure is a `CatalogError` naming the entry and what is missing.

Example (Docker's `git` entry, Docker engine reachable):
    build_spec(git, {"paths": ["/src"]}, {}, docker_available=True).args
    → ("run", "-i", "--rm", "--init", "-v", "/src:/src", "mcp/git@sha256:…")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import ValidationError

from meta_mcp.validation import pydantic_problems

from meta_mcp.services.catalog.model import CatalogError
from meta_mcp.services.catalog.templates import (
    dig,
    env_refs,
    evaluate,
    evaluate_list,
    fill,
    fill_list,
    render,
    split_terms,
    template_paths,
)

if TYPE_CHECKING:
    from meta_mcp.config import ServerSpec
    from meta_mcp.services.catalog.model import CatalogEntry

DOCKER_RUN = ("run", "-i", "--rm", "--init")


def _secret_values(entry: CatalogEntry, secrets: Mapping[str, str]) -> dict[str, str]:
    """{ENV: value} for the entry's secrets; a required one missing is a `CatalogError`."""
    values: dict[str, str] = {}
    missing = []
    for ref in entry.secrets:
        value = secrets.get(ref.env) or secrets.get(ref.name)
        if value:
            values[ref.env] = value
        elif ref.required:
            missing.append(f"{ref.env} (secret {ref.name})")
    if missing:
        raise CatalogError(f"{entry.name}: required secrets not set: {', '.join(missing)}")
    return values


def _check_argv(entry: CatalogEntry, argv: list[str], secret_env: Mapping[str, str]) -> None:
    for env, value in secret_env.items():
        if len(value) >= 4 and any(value in arg for arg in argv):
            raise CatalogError(f"{entry.name}: the value of secret {env} would appear on the command line; "
                               "refusing to start (pass it through the environment instead)")


def _optional_args(args: list[str], context: Mapping[str, Any]) -> list[str]:
    """Our `run.args`: evaluate templates; drop an argument whose templates all read nothing."""
    out: list[str] = []
    for arg in args:
        paths = template_paths(arg)
        if paths and all(dig(p, context) in ("", [], {}) for p in paths):
            continue
        out.extend(evaluate_list([arg], context))
    return out


def _command_spec(entry: CatalogEntry, context: Mapping[str, Any], secret_env: dict[str, str]) -> dict[str, Any]:
    args = _optional_args(entry.args, context)
    env = {k: render(evaluate(v, context)) for k, v in entry.run_env.items()}
    env = {k: v for k, v in env.items() if v != ""}
    env.update(secret_env)
    _check_argv(entry, [entry.command or "", *args], secret_env)
    return {"command": entry.command, "args": args, "env": env}


def _split_url(url: str) -> tuple[str, str]:
    """A catalog URL (templates and all) as (`scheme://authority`, the rest): the first part says where
    the request goes. The cut is never inside a `{{…}}` term; with no `://` it is all origin."""
    start = url.find("://")
    if start < 0:
        return url, ""
    offset = start + 3
    for part in split_terms(url[offset:]):
        if not part.startswith("{{"):
            ends = [i for i in (part.find(c) for c in "/?#") if i >= 0]
            if ends:
                return url[:offset + min(ends)], url[offset + min(ends):]
        offset += len(part)
    return url, ""


def _url_component(value: str) -> str:
    """A config value in a URL is one component: everything but unreserved characters percent-encoded."""
    return quote(value, safe="")


def _remote_spec(entry: CatalogEntry, context: Mapping[str, Any], secret_env: dict[str, str]) -> dict[str, Any]:
    assert entry.remote is not None
    remote = entry.remote
    # A header whose secrets are all unset (optional ones) is left out.
    kept = {key: value for key, value in remote.headers.items()
            if not env_refs(value) or any(ref in secret_env for ref in env_refs(value))}
    origin, rest = _split_url(remote.url)
    if "{{" in origin and any(ref in secret_env for text in (remote.url, *kept.values()) for ref in env_refs(text)):
        raise CatalogError(f"{entry.name}: the host or port of its URL comes from config, and secrets are sent with "
                           "it; refusing (config is the client's, and secrets go only where the catalog says)")
    headers = {key: fill(value, context, secret_env) for key, value in kept.items()}
    transport = "sse" if remote.transport_type.lower() == "sse" else "http"
    url = fill(origin, context, secret_env) + fill(rest, context, secret_env, _url_component)
    return {"url": url, "headers": headers, "transport": transport}


def docker_args(entry: CatalogEntry, context: Mapping[str, Any], secret_env: Mapping[str, str]
                ) -> tuple[list[str], dict[str, str]]:
    """(`docker` arguments, environment of the docker client) for an image entry.

    `docker run -i --rm --init [--network none] [-e NAME …] [-v SRC:DST …] [-u USER] IMAGE [command…]`;
    every `-e` carries a name only, its value is in the returned environment.
    """
    args = list(DOCKER_RUN)
    if entry.disable_network:
        args += ["--network", "none"]
    env: dict[str, str] = {}
    for ref in entry.secrets:
        if ref.env in secret_env:
            args += ["-e", ref.env]
            env[ref.env] = secret_env[ref.env]
    for var in entry.env:
        value = fill(var.value, context, env)
        if value != "":
            if var.name not in env:
                args += ["-e", var.name]
            env[var.name] = value
    for mount in evaluate_list(entry.volumes, context):
        if not mount:
            continue
        if mount.startswith("-"):
            raise CatalogError(f"{entry.name}: volume {mount!r} looks like an option; refusing")
        args += ["-v", mount]
    if entry.user:
        user = render(evaluate(entry.user, context))
        if user.startswith("-"):
            raise CatalogError(f"{entry.name}: user {user!r} looks like an option; refusing")
        if user:
            args += ["-u", user]
    args.append(entry.image or "")
    non_secret = {k: v for k, v in env.items() if k not in secret_env}
    args += fill_list(entry.container_command, context, non_secret)
    return args, env


def build_spec(entry: CatalogEntry, config: Mapping[str, Any], secrets: Mapping[str, str], *,
               docker_available: bool) -> ServerSpec:
    """See `CatalogEntry.launch`."""
    from meta_mcp.config import ServerSpec

    method, why = entry.choose(docker_available)
    if method is None:
        raise CatalogError(f"{entry.name}: cannot run here: {why}")
    missing = entry.missing_config(config)
    if missing:
        names = ", ".join(f"{m['name']} ({m['type']})" for m in missing)
        raise CatalogError(f"{entry.name}: required config missing: {names}")
    secret_env = _secret_values(entry, secrets)
    context = entry.template_context(config)
    if method == "command":
        fields = _command_spec(entry, context, secret_env)
    elif method == "remote":
        fields = _remote_spec(entry, context, secret_env)
    else:
        args, env = docker_args(entry, context, secret_env)
        _check_argv(entry, args, secret_env)
        fields = {"command": "docker", "args": args, "env": env}
    try:
        return ServerSpec.model_validate({"name": entry.name, **fields})
    except ValidationError as exc:
        problems = "; ".join(pydantic_problems(exc, "spec"))
        raise CatalogError(f"{entry.name}: cannot build a server spec: {problems}") from None
