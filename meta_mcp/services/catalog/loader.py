"""Reading catalog files (Docker's MCP catalog format, YAML or JSON) and merging them.

A file is `{"registry": {name: entry, …}}` plus anything else (Docker's `version`, `name`,
`displayName` are ignored). Each entry is validated; the first problem is a `CatalogError` whose
message names the file, the entry and the field, e.g.
`my.yaml: entry 'time': field 'secrets[0].env': Field required`.

Merge order (who wins): Docker's own catalog dir (lowest), then our built-in catalog, then each
`--catalog` file in the order given (highest). A later entry replaces an earlier entry of the same
name whole — fields are never mixed between two files.

Example:
    catalog = load_catalog([Path("team.yaml")], builtin=True, docker_dir=Path("~/.docker/mcp/catalogs"))
    catalog.get("time").command      # "uvx" (ours) unless team.yaml redefines "time"
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from meta_mcp.services.catalog.model import CatalogEntry, CatalogError, EnvVar, RemoteSpec, SecretRef
from meta_mcp.services.catalog.templates import env_refs
from meta_mcp.validation import NAME_PATTERN, NAME_RE

_CATALOG_SUFFIXES = (".yaml", ".yml", ".json")
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~10x faster


def _scalar_str(value: Any) -> Any:
    """YAML turns `value: 8080` or `true` into numbers/booleans; catalog strings accept them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


class _Run(BaseModel):
    model_config = ConfigDict(extra="forbid")
    command: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("args", mode="before")
    @classmethod
    def _args(cls, v: Any) -> Any:
        return [_scalar_str(x) for x in v] if isinstance(v, list) else v

    @field_validator("env", mode="before")
    @classmethod
    def _env(cls, v: Any) -> Any:
        return {k: _scalar_str(x) for k, x in v.items()} if isinstance(v, dict) else v


class _Tool(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str


class _Metadata(BaseModel):
    model_config = ConfigDict(extra="ignore")
    tags: list[str] = Field(default_factory=list)
    category: str | None = None
    pulls: int | None = None
    githubStars: int | None = None

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, v: Any) -> Any:
        return [] if v is None else v


class _Config(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    type: str = "object"
    properties: dict[str, Any] = Field(default_factory=dict)
    required: list[str] = Field(default_factory=list)


class _RawEntry(BaseModel):
    """An entry exactly as written in the file (Docker's keys), validated field by field."""

    model_config = ConfigDict(extra="ignore")
    title: str | None = None
    description: str = ""
    type: str = "server"
    image: str | None = None
    remote: RemoteSpec | None = None
    run: _Run | None = None
    command: list[str] = Field(default_factory=list)
    volumes: list[str] = Field(default_factory=list)
    env: list[EnvVar] = Field(default_factory=list)
    user: str | None = None
    disableNetwork: bool = False
    tools: list[_Tool | str] = Field(default_factory=list)
    secrets: list[SecretRef] = Field(default_factory=list)
    config: list[_Config] = Field(default_factory=list)
    metadata: _Metadata = Field(default_factory=_Metadata)
    aliases: list[str] = Field(default_factory=list)

    @field_validator("command", "volumes", "tools", "secrets", "config", "env", "aliases", mode="before")
    @classmethod
    def _null_list(cls, v: Any) -> Any:
        return [] if v is None else v

    @field_validator("command", mode="before")
    @classmethod
    def _command(cls, v: Any) -> Any:
        if isinstance(v, str):  # pydantic reports ValueError as a validation error, not TypeError
            raise ValueError("Docker's 'command' is a list of arguments for the image; for a local "  # noqa: TRY004
                             "command use our 'run: {command: …, args: […]}' block")
        return [_scalar_str(x) for x in v] if isinstance(v, list) else v

    @field_validator("env", mode="before")
    @classmethod
    def _env(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [{**x, "value": _scalar_str(x.get("value", ""))} if isinstance(x, dict) else x for x in v]
        return v


def _where(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part not in ("_Tool", "str") and not str(part).startswith("function-"):
            out += f".{part}" if out else str(part)
    return out or "entry"


def parse_entry(name: str, raw: Any, source: str) -> CatalogEntry:
    """Validate one raw entry; `CatalogError` names `source`, the entry and the field."""
    where = f"{source}: entry {name!r}"
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise CatalogError(f"{where}: the name must match {NAME_PATTERN}")
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: expected a mapping of fields, got {type(raw).__name__}")
    try:
        entry = _RawEntry.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise CatalogError(f"{where}: field {_where(err['loc'])!r}: {err['msg']}") from None
    if entry.run is not None:
        secret_envs = {s.env for s in entry.secrets}
        for i, arg in enumerate(entry.run.args):
            leaked = [ref for ref in env_refs(arg) if ref in secret_envs]
            if leaked:
                raise CatalogError(f"{where}: field 'run.args[{i}]': secret {leaked[0]} must not be passed as an "
                                   "argument; servers read secrets from their environment")
    if entry.run is None and entry.remote is None and not entry.image and entry.type != "poci":
        raise CatalogError(f"{where}: field 'run': needs one of 'run' (command), 'remote' (URL) or 'image'")
    meta = entry.metadata
    return CatalogEntry(
        name=name,
        title=entry.title or name,
        description=entry.description.strip(),
        type=entry.type,
        image=entry.image or None,
        remote=entry.remote,
        command=entry.run.command if entry.run else None,
        args=list(entry.run.args) if entry.run else [],
        run_env=dict(entry.run.env) if entry.run else {},
        container_command=entry.command,
        volumes=entry.volumes,
        env=entry.env,
        user=entry.user or None,
        disable_network=entry.disableNetwork,
        tags=[t for t in meta.tags if isinstance(t, str)],
        category=meta.category,
        tools=[t if isinstance(t, str) else t.name for t in entry.tools],
        secrets=entry.secrets,
        config=[c.model_dump() for c in entry.config],
        aliases=entry.aliases,
        popularity=meta.pulls or meta.githubStars or 0,
        source_file=source,
    )


def read_document(path: Path) -> dict[str, Any]:
    """The parsed document of a catalog file (YAML, or JSON by suffix) with a `registry` mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_YAML_LOADER)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        kind = "JSON" if path.suffix == ".json" else "YAML"
        raise CatalogError(f"{path}: not valid {kind}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("registry"), dict):
        raise CatalogError(f"{path}: field 'registry': expected a mapping of server name → entry "
                           "(Docker's MCP catalog format)")
    return data


def read_catalog_file(path: Path) -> list[CatalogEntry]:
    """All entries of one catalog file, validated, in file order."""
    data = read_document(path)
    return [parse_entry(name, raw, str(path)) for name, raw in data["registry"].items()]


def builtin_dir() -> Path | None:
    """Where our own catalog files are: inside the installed package (a wheel ships them as
    `meta_mcp/_catalog/`), else the repository's `catalog/` next to the package (editable install)."""
    packaged = Path(str(resources.files("meta_mcp"))) / "_catalog"
    if packaged.is_dir():
        return packaged
    repo = Path(__file__).resolve().parents[3] / "catalog"
    return repo if repo.is_dir() else None


def catalog_files(directory: Path) -> list[Path]:
    """The catalog files of a directory (`*.yaml`, `*.yml`, `*.json`), sorted by name."""
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in _CATALOG_SUFFIXES)


def merge(sources: Iterable[Iterable[CatalogEntry]]) -> dict[str, CatalogEntry]:
    """Entries by name; a later source replaces an earlier entry of the same name whole."""
    merged: dict[str, CatalogEntry] = {}
    for entries in sources:
        for entry in entries:
            merged.pop(entry.name, None)  # the replacing entry takes the later position
            merged[entry.name] = entry
    return merged
