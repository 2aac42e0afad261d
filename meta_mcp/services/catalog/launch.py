"""Turning a catalog entry into a `ServerSpec`: a local command, a remote URL, or `docker run`.

Promises:
- secret values reach the server only through its environment (`ServerSpec.env`; for Docker the
  container gets them with `-e NAME`, name only) or a remote's headers/URL; an argument list that
  would contain a secret value is refused with `CatalogError`;
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

from pydantic import ValidationError

from meta_mcp.validation import pydantic_problems

from meta_mcp.services.catalog.model import CatalogError
from meta_mcp.services.catalog.templates import (
    dig,
    env_refs,
    evaluate,
    evaluate_list,
    expand_env,
    render,
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


def _remote_spec(entry: CatalogEntry, context: Mapping[str, Any], secret_env: dict[str, str]) -> dict[str, Any]:
    assert entry.remote is not None
    remote = entry.remote

    def fill(text: str) -> str:
        return expand_env(render(evaluate(text, context)) if "{{" in text else text, secret_env)

    headers = {}
    for key, value in remote.headers.items():
        refs = env_refs(value)
        if refs and not any(ref in secret_env for ref in refs):
            continue  # an optional secret that is not set: leave the header out
        headers[key] = fill(value)
    transport = "sse" if remote.transport_type.lower() == "sse" else "http"
    return {"url": fill(remote.url), "headers": headers, "transport": transport}


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
        value = render(evaluate(var.value, context)) if "{{" in var.value else expand_env(var.value, env)
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
    args += [expand_env(arg, non_secret) for arg in evaluate_list(entry.container_command, context)]
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
