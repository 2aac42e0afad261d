"""HTML forms generated from a JSON Schema (a tool's input schema, a catalog entry's config schema).

`fields(schema, values, errors)` turns the top-level properties into `Field`s a template renders: an
input of the right kind per property (text, number, a checkbox or a true/false choice, a choice for an
`enum`, one item per line for an array of scalars, JSON for anything else), with its label,
description, whether it is required, the value to show again and the error to show beside it.
`parse(schema, form)` turns a submitted form back into JSON values with the schema's types; what cannot
be read (not a number, broken JSON) is an error on that field. Everything else — required fields,
formats, ranges — is left to whoever receives the values (the operation or the tool), and their
answers are mapped back onto the fields with `problems_by_field`. An `_json` field, when filled,
replaces the fields with a whole JSON object (for schemas no form can express).

Example:
    values, errors = parse({"type": "object", "properties": {"n": {"type": "integer"}}}, {"f.n": "3"})
    → ({"n": 3}, {})
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PREFIX = "f."
RAW = "_json"
_SCALARS = ("string", "number", "integer", "boolean")
_REQUIRED = re.compile(r"'([^']+)' is a required property")


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    key: str
    """The form input's name."""
    label: str
    kind: str
    """text, password, number, integer, checkbox, choice, lines or json."""
    description: str
    required: bool
    options: tuple[str, ...] = ()
    value: str = ""
    checked: bool = False
    placeholder: str = ""
    error: str | None = None

    @property
    def id(self) -> str:
        return "field-" + re.sub(r"[^A-Za-z0-9_-]", "_", self.name)


def _type(prop: Mapping[str, Any]) -> str | None:
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind is None and isinstance(prop.get("enum"), list):
        return "string"
    return kind if isinstance(kind, str) else None


def _kind(prop: Mapping[str, Any], required: bool) -> str:
    kind = _type(prop)
    enum = prop.get("enum")
    if isinstance(enum, list) and enum and all(isinstance(e, (str, int, float)) and not isinstance(e, bool)
                                               for e in enum):
        return "choice"
    if kind == "boolean":
        return "checkbox" if required else "choice"
    if kind in ("number", "integer"):
        return kind
    if kind == "string":
        return "password" if prop.get("format") == "password" or prop.get("writeOnly") else "text"
    if kind == "array" and _type(prop.get("items") or {}) in _SCALARS:
        return "lines"
    return "json"


def _shown(kind: str, value: Any) -> str:
    if value is None:
        return ""
    if kind == "lines" and isinstance(value, list):
        return "\n".join(str(v) for v in value)
    if kind == "json":
        return json.dumps(value, indent=2, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def fields(schema: Mapping[str, Any] | None, values: Mapping[str, Any] | None = None,
           errors: Mapping[str, str] | None = None, raw: Mapping[str, str] | None = None) -> list[Field]:
    """The form fields of `schema`'s top-level properties; `values` (JSON) or `raw` (as submitted) are shown
    again, `errors` beside their fields. Password fields are never filled in again."""
    schema = schema or {}
    values, errors, raw = values or {}, errors or {}, raw or {}
    required = set(schema.get("required") or [])
    out = []
    for name, prop in (schema.get("properties") or {}).items():
        prop = prop if isinstance(prop, Mapping) else {}
        is_required = name in required
        kind = _kind(prop, is_required)
        key = PREFIX + name
        options: tuple[str, ...] = ()
        if kind == "choice":
            enum = prop.get("enum")
            options = tuple(str(e) for e in enum) if isinstance(enum, list) and enum else ("true", "false")
        shown = raw[key] if key in raw else _shown(kind, values.get(name))
        if kind == "password":
            shown = ""
        default = prop.get("default")
        placeholder = f"default: {_shown(kind, default)}" if default is not None else ""
        if kind == "lines" and not placeholder:
            placeholder = "one per line"
        checked = (key in raw) if raw else values.get(name) is True
        title = prop.get("title")
        out.append(Field(name=name, key=key, label=title if isinstance(title, str) and title else name, kind=kind,
                         description=str(prop.get("description") or ""), required=is_required, options=options,
                         value=shown, checked=checked, placeholder=placeholder, error=errors.get(name)))
    return out


def _scalar(kind: str | None, text: str) -> Any:
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError("must be a whole number") from None
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError("must be a number") from None
        return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
    if kind == "boolean":
        if text in ("true", "false"):
            return text == "true"
        raise ValueError("must be true or false")
    return text


def _enum_value(prop: Mapping[str, Any], text: str) -> Any:
    for option in prop.get("enum") or []:
        if str(option) == text:
            return option
    return text


def parse(schema: Mapping[str, Any] | None, form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The JSON values of a submitted form and the errors of fields that could not be read, by name.

    Empty fields are left out (a required one is then reported by whoever checks the values)."""
    schema = schema or {}
    raw = (form.get(RAW) or "").strip()
    if raw:
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            return {}, {RAW: f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"}
        if not isinstance(value, dict):
            return {}, {RAW: "must be a JSON object"}
        return value, {}
    required = set(schema.get("required") or [])
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, prop in (schema.get("properties") or {}).items():
        prop = prop if isinstance(prop, Mapping) else {}
        kind = _kind(prop, name in required)
        key = PREFIX + name
        if kind == "checkbox":
            values[name] = key in form
            continue
        text = form.get(key, "")
        if kind not in ("text", "password", "lines", "json"):
            text = text.strip()
        if text == "" or (kind in ("lines", "json") and not text.strip()):
            continue
        try:
            if kind == "choice":
                values[name] = _scalar("boolean", text) if _type(prop) == "boolean" else _enum_value(prop, text)
            elif kind == "lines":
                item = _type(prop.get("items") or {})
                values[name] = [_scalar(item, line.strip()) for line in text.splitlines() if line.strip()]
            elif kind == "json":
                try:
                    values[name] = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"not valid JSON: {exc.msg}") from None
            else:
                values[name] = _scalar(_type(prop), text)
        except ValueError as exc:
            errors[name] = str(exc)
    return values, errors


def problems_by_field(problems: list[str] | tuple[str, ...], names: list[str]) -> tuple[dict[str, str], list[str]]:
    """Map `"where: what"` problem lines (see `validation.schema_problems`) onto the fields `names`; the rest
    (about the whole value) are returned as they are."""
    by_field: dict[str, str] = {}
    rest: list[str] = []
    for problem in problems:
        where, _, what = problem.partition(": ")
        head = where.split(".", 1)[0]
        if head in names:
            by_field.setdefault(head, what or problem)
            continue
        if (match := _REQUIRED.search(problem)) is not None and match.group(1) in names:
            by_field.setdefault(match.group(1), "required")
            continue
        rest.append(problem)
    return by_field, rest
