"""Catalog entries: Docker's MCP catalog entry plus our `run` launch block, and what one promises.

An entry can run in up to three ways, tried in this order by `launch`:
1. `command` + `args` (our `run:` block): a local stdio process such as `uvx mcp-server-time`;
   usable when the command is found on PATH;
2. `remote`: a streamable-HTTP or SSE URL (Docker's `remote:` block), `${ENV}` placeholders in the
   URL and headers filled from the secrets;
3. `image`: `docker run -i --rm …` of Docker's container image; usable when a Docker engine answers.

Config values (`add_server(config=…)`) are one flat object per entry, validated by `config_schema()`
— Docker's `config:` list turned into a JSON Schema; Docker's templates read them as
`{{<entry name>.<field>}}`.

Example:
    entry = catalog.get("filesystem")
    entry.config_schema()          # {"type": "object", "properties": {"paths": {...}}, "required": ["paths"]}
    entry.missing_config({})       # [{"name": "paths", "type": "array", "description": "..."}]
    entry.launch({"paths": ["/tmp"]}, {}, docker_available=False).command   # "npx"
"""

from __future__ import annotations

import copy
import re
import shutil
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from meta_mcp.config import ServerSpec


class CatalogError(ValueError):
    """A catalog file, entry or launch is invalid; the message names the file, the entry and the field."""


class SecretRef(BaseModel):
    """A secret an entry needs: its catalog name and the environment variable the server reads."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    env: str
    description: str | None = None
    example: str | None = None
    required: bool = True


class RemoteSpec(BaseModel):
    """Docker's `remote:` block: a hosted server reached over streamable HTTP or SSE."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    url: str
    transport_type: str = "streamable-http"
    headers: dict[str, str] = Field(default_factory=dict)


class EnvVar(BaseModel):
    """One of Docker's `env:` items: a variable set in the container, its value possibly a template."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    value: str = ""


class CatalogEntry(BaseModel):
    """One server of the catalog (see the module docstring for how it runs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str
    description: str = ""
    type: str = "server"
    image: str | None = None
    remote: RemoteSpec | None = None
    command: str | None = None
    """Our extension (`run.command`): a local executable such as `uvx` or `npx`."""
    args: list[str] = Field(default_factory=list)
    """Our extension (`run.args`): its arguments; may hold `{{name.field}}` templates."""
    run_env: dict[str, str] = Field(default_factory=dict)
    """Our extension (`run.env`): environment for the local process; values may be templates."""
    container_command: list[str] = Field(default_factory=list)
    """Docker's `command:`: arguments given to the image (templates allowed)."""
    volumes: list[str] = Field(default_factory=list)
    env: list[EnvVar] = Field(default_factory=list)
    user: str | None = None
    disable_network: bool = False
    tags: list[str] = Field(default_factory=list)
    category: str | None = None
    tools: list[str] = Field(default_factory=list)
    secrets: list[SecretRef] = Field(default_factory=list)
    config: list[dict[str, Any]] = Field(default_factory=list)
    """Docker's `config:` list (each item a JSON-Schema object with a `name`)."""
    aliases: list[str] = Field(default_factory=list)
    popularity: int = 0
    """Docker's `metadata.pulls` (else GitHub stars); a weak tie-breaker in search."""
    source_file: str = ""

    # -- config ------------------------------------------------------------------------------------

    def _is_flat(self, item: Mapping[str, Any]) -> bool:
        return item.get("name") == self.name or len(self.config) == 1

    def config_schema(self) -> dict[str, Any] | None:
        """JSON Schema (type object) of the config values this entry takes, or None if it takes none.

        Docker's item named after the entry (or its only item) gives the top-level properties;
        any other item becomes a nested object property under its own name.
        """
        if not self.config:
            return None
        schema: dict[str, Any] = {"type": "object", "properties": {}}
        required: list[str] = []
        for item in self.config:
            body = {k: copy.deepcopy(v) for k, v in item.items() if k != "name"}
            if self._is_flat(item):
                schema["properties"].update(body.get("properties") or {})
                required += [r for r in body.get("required") or [] if r not in required]
                for key in ("anyOf", "oneOf", "allOf", "description"):
                    if key in body:
                        schema[key] = body[key]
            else:
                body.setdefault("type", "object")
                schema["properties"][str(item.get("name"))] = body
                if body.get("required"):
                    required.append(str(item.get("name")))
        if required:
            schema["required"] = required
        return schema

    def missing_config(self, config: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The required top-level config fields absent (or empty) in `config`, in schema order.

        Each is `{"name", "type", "description"}`; `type` defaults to "string".
        """
        schema = self.config_schema()
        if not schema:
            return []
        props = schema.get("properties", {})
        missing = []
        for field in schema.get("required", []):
            if config.get(field) in (None, "", [], {}):
                prop = props.get(field) or {}
                kind = prop.get("type", "string")
                missing.append({"name": field, "type": kind if isinstance(kind, str) else "string",
                                "description": prop.get("description") or ""})
        return missing

    def template_context(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """What `{{…}}` templates read: the config under the entry's name (and nested items' names)."""
        context: dict[str, Any] = {self.name: dict(config)}
        for item in self.config:
            item_name = str(item.get("name"))
            if self._is_flat(item):
                context[item_name] = dict(config)
            elif item_name not in context:
                context[item_name] = config.get(item_name) or {}
        return context

    # -- running -----------------------------------------------------------------------------------

    def secret_on_command_line(self) -> str | None:
        """The env var of a secret that Docker's `command:` would put on the command line, if any."""
        from meta_mcp.services.catalog.templates import env_refs

        secret_envs = {s.env for s in self.secrets}
        for arg in self.container_command:
            for ref in env_refs(arg):
                if ref in secret_envs:
                    return ref
        return None

    def methods(self) -> list[str]:
        """The ways this entry can be launched, in the order `launch` tries them."""
        out = []
        if self.command:
            out.append("command")
        if self.remote is not None:
            out.append("remote")
        if self.image:
            out.append("docker")
        return out

    def choose(self, docker_available: bool) -> tuple[str | None, str | None]:
        """(the method `launch` would use, None) or (None, why none can be used here)."""
        reasons = []
        for method in self.methods():
            if method == "command":
                if shutil.which(self.command or "") is not None:
                    return method, None
                reasons.append(f"needs `{self.command}` on PATH, not found")
            elif method == "remote":
                return method, None
            elif method == "docker":
                if self.type == "poci":
                    reasons.append("is a Docker tool-container bundle ('poci'), which meta-mcp does not run")
                elif not docker_available:
                    reasons.append("needs a Docker engine, none reachable")
                elif (ref := self.secret_on_command_line()) is not None:
                    reasons.append(f"its container command takes secret {ref} as an argument, and meta-mcp "
                                   "never puts secret values on a command line")
                else:
                    return method, None
        if not reasons:
            reasons.append("is a Docker tool-container bundle ('poci'), which meta-mcp does not run"
                           if self.type == "poci" else "has no command, remote URL or image to run")
        return None, "; ".join(reasons)

    def runs_here(self, docker_available: bool) -> tuple[bool, str | None]:
        """(True, None) if some launch method works on this machine, else (False, why not)."""
        method, why = self.choose(docker_available)
        return method is not None, why

    def launch(self, config: Mapping[str, Any], secrets: Mapping[str, str], *, docker_available: bool
               ) -> ServerSpec:
        """A `ServerSpec` that starts this entry here with `config` and `secrets` (keyed by env var name).

        Secret values go only into the process environment (`ServerSpec.env`, and `-e NAME` by name
        for Docker) or remote headers/URL — never into arguments. Raises `CatalogError` naming the
        entry when it cannot run here, required config or secrets are missing, or a template fails.
        """
        from meta_mcp.services.catalog.launch import build_spec

        return build_spec(self, config, secrets, docker_available=docker_available)

    def describe_run(self, docker_available: bool) -> dict[str, Any]:
        """How it would run, for listings: `{"kind": "command"|"remote"|"docker"|None, …details}`."""
        method, _ = self.choose(docker_available)
        kind = method or (self.methods() or [None])[0]
        if kind == "command":
            shown = [re.sub(r"\{\{\s*[^.}|]+\.([^}|]+?)\s*(\|[^}]*)?\}\}", r"<\1>", a) for a in self.args]
            return {"kind": "command", "command": " ".join([self.command or "", *shown])}
        if kind == "remote" and self.remote is not None:
            return {"kind": "remote", "url": self.remote.url, "transport": self.remote.transport_type}
        if kind == "docker":
            return {"kind": "docker", "image": self.image}
        return {"kind": None}
