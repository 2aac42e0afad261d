"""TypeScript declarations for the tools a sandbox run can call, generated from their JSON Schemas.

`declarations(table)` returns one compact `.d.ts` text: a short header (how to call, what a call
returns, `ToolError`), one `interface` per tool input (and output, when the tool declares an
`outputSchema`), named types for `$defs`/`definitions`, and the `tools` object itself:

    /** Get the weather for a city. */
    interface RichGetWeatherInput {
      /** City name */
      city: string;
      /** @default "metric" */
      units?: "metric" | "imperial";
    }
    declare const tools: {
      rich: {
        /** Get the weather for a city. */
        get_weather(args: RichGetWeatherInput): Promise<RichGetWeatherOutput>;
      };
    };

Schema mapping: `string`/`number`/`integer`/`boolean`/`null`, `enum` and `const` as literal unions,
`anyOf`/`oneOf` as unions, `allOf` as intersections, a list of types as a union, OpenAPI's
`nullable: true` as `| null`, arrays (`items`, tuples from `prefixItems` or an `items` list), objects
(`properties` with `?` for the optional ones, `additionalProperties` as an index signature), local
`$ref`s (`#`, `#/$defs/…`, `#/definitions/…`) as named types. Anything else is `unknown`.
Descriptions become one-paragraph JSDoc (long ones shortened), with `@default` and `@format`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from meta_mcp.services.sandbox.names import IDENTIFIER, ToolBinding, ToolTable

MAX_DEPTH = 12
TOOL_DOC_CHARS = 400
FIELD_DOC_CHARS = 200

HEADER = """\
// meta-mcp run_code API (TypeScript). Call a tool as `await tools.<server>.<tool>(args)`.
// A call returns the tool's structuredContent when it has one, otherwise its text (parsed as JSON
// when the text is JSON). A tool error is thrown as a ToolError carrying the server's message.
// Return your answer with `export default <value>` (JSON-serializable; a promise is awaited);
// console.* output is captured and returned beside it. No imports; no network, files or env.
declare class ToolError extends Error {
  readonly name: "ToolError";
  /** Server and tool identifiers, as in tools.<server>.<tool>. */
  readonly server: string;
  readonly tool: string;
}
"""


def _pascal(ident: str) -> str:
    parts = re.split(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])", ident)
    name = "".join(p[:1].upper() + p[1:] for p in parts if p)
    return name if name and not name[0].isdigit() else f"T{name}"


def _doc_text(text: Any, limit: int) -> str:
    """One paragraph of plain text, safe inside a JSDoc comment, at most `limit` characters."""
    if not isinstance(text, str):
        return ""
    paragraph = re.split(r"\n\s*\n", text.strip(), maxsplit=1)[0]
    paragraph = " ".join(paragraph.split()).replace("*/", "*\\/")
    return paragraph if len(paragraph) <= limit else paragraph[: limit - 1].rstrip() + "…"


def _jsdoc(schema: Any, limit: int, indent: str) -> str:
    if not isinstance(schema, dict):
        return ""
    parts = [_doc_text(schema.get("description"), limit)]
    if "default" in schema:
        parts.append("@default " + _doc_text(json.dumps(schema["default"], ensure_ascii=False), 80))
    if isinstance(schema.get("format"), str):
        parts.append("@format " + _doc_text(schema["format"], 40))
    parts = [p for p in parts if p]
    return f"{indent}/** {' '.join(parts)} */\n" if parts else ""


def _key(name: str) -> str:
    return name if IDENTIFIER.match(name) else json.dumps(name, ensure_ascii=False)


class _Namer:
    """Unique type names across one declarations file."""

    def __init__(self) -> None:
        self.taken: set[str] = {"ToolError"}

    def name(self, wanted: str) -> str:
        name, counter = wanted, 2
        while name in self.taken:
            name = f"{wanted}{counter}"
            counter += 1
        self.taken.add(name)
        return name


class _SchemaTypes:
    """Converts the schemas of one tool (one `$ref` scope) to TypeScript, collecting named types."""

    def __init__(self, root: dict[str, Any], root_name: str, namer: _Namer, prefix: str) -> None:
        self.root = root
        self.root_name = root_name
        self.namer = namer
        self.prefix = prefix
        self.defs: dict[str, str] = {}  # "#/$defs/x" -> type name
        self.out: list[str] = []

    def ref(self, ref: str) -> str:
        if ref == "#":
            return self.root_name
        if ref in self.defs:
            return self.defs[ref]
        m = re.fullmatch(r"#/(\$defs|definitions)/([^/]+)", ref)
        target = m and (self.root.get(m.group(1)) or {}).get(m.group(2))
        if not isinstance(target, (dict, bool)):
            return "unknown"
        name = self.namer.name(self.prefix + _pascal(m.group(2)))  # type: ignore[union-attr]
        self.defs[ref] = name
        self.out.append(self.declare(name, target))
        return name

    def declare(self, name: str, schema: Any) -> str:
        """`interface Name {…}` for an object schema, `type Name = …` otherwise."""
        doc = _jsdoc(schema, TOOL_DOC_CHARS, "")
        body = self.type(schema, 0, "")
        if body.startswith("{") and isinstance(schema, dict) and not any(
            k in schema for k in ("anyOf", "oneOf", "allOf", "enum", "const", "nullable")
        ):
            return f"{doc}interface {name} {body}\n"
        return f"{doc}type {name} = {body};\n"

    def type(self, schema: Any, depth: int, indent: str) -> str:
        if schema is True or schema == {}:
            return "unknown"
        if schema is False:
            return "never"
        if not isinstance(schema, dict) or depth > MAX_DEPTH:
            return "unknown"
        if isinstance(schema.get("$ref"), str):
            result = self.ref(schema["$ref"])
        elif "const" in schema:
            result = json.dumps(schema["const"], ensure_ascii=False)
        elif isinstance(schema.get("enum"), list) and schema["enum"]:
            result = " | ".join(dict.fromkeys(json.dumps(v, ensure_ascii=False) for v in schema["enum"]))
        elif isinstance(schema.get("anyOf") or schema.get("oneOf"), list):
            options = schema.get("anyOf") or schema.get("oneOf")
            result = self._join([self.type(s, depth + 1, indent) for s in options], " | ")
        elif isinstance(schema.get("allOf"), list) and schema["allOf"]:
            result = self._join([self.type(s, depth + 1, indent) for s in schema["allOf"]], " & ")
        else:
            types = schema.get("type")
            if isinstance(types, list):
                result = self._join([self._typed(schema, t, depth, indent) for t in types], " | ")
            else:
                result = self._typed(schema, types, depth, indent)
        if schema.get("nullable") is True and result not in ("unknown", "null"):
            result = self._join([result, "null"], " | ")
        return result

    @staticmethod
    def _join(parts: list[str], sep: str) -> str:
        parts = list(dict.fromkeys(parts))
        if "unknown" in parts and sep == " | ":
            return "unknown"
        if len(parts) == 1:
            return parts[0]
        wrap = [f"({p})" if (" | " in p or " & " in p) and not p.startswith("{") else p for p in parts]
        return sep.join(wrap)

    def _typed(self, schema: dict[str, Any], kind: Any, depth: int, indent: str) -> str:
        if kind == "string":
            return "string"
        if kind in ("number", "integer"):
            return "number"
        if kind == "boolean":
            return "boolean"
        if kind == "null":
            return "null"
        if kind == "array" or (kind is None and ("items" in schema or "prefixItems" in schema)):
            return self._array(schema, depth, indent)
        if kind == "object" or (kind is None and ("properties" in schema or "additionalProperties" in schema)):
            return self._object(schema, depth, indent)
        return "unknown"

    def _array(self, schema: dict[str, Any], depth: int, indent: str) -> str:
        tuple_items = schema.get("prefixItems") if isinstance(schema.get("prefixItems"), list) else None
        if tuple_items is None and isinstance(schema.get("items"), list):
            tuple_items = schema["items"]
        if tuple_items is not None:
            return "[" + ", ".join(self.type(s, depth + 1, indent) for s in tuple_items) + "]"
        item = self.type(schema.get("items", True), depth + 1, indent)
        return f"({item})[]" if " " in item and not item.startswith("{") else f"{item}[]"

    def _object(self, schema: dict[str, Any], depth: int, indent: str) -> str:
        properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        required = set(schema.get("required") or []) if isinstance(schema.get("required"), list) else set()
        extra = schema.get("additionalProperties")
        inner = indent + "  "
        lines: list[str] = []
        for name, sub in properties.items():
            optional = "" if name in required else "?"
            lines.append(_jsdoc(sub, FIELD_DOC_CHARS, inner) +
                         f"{inner}{_key(name)}{optional}: {self.type(sub, depth + 1, inner)};\n")
        if extra not in (None, False):
            value = "unknown" if properties else self.type(extra, depth + 1, inner)
            lines.append(f"{inner}[key: string]: {value};\n")
        if not lines:
            return "{}" if extra is False else "Record<string, unknown>"
        return "{\n" + "".join(lines) + indent + "}"


def _tool_types(binding: ToolBinding, namer: _Namer) -> tuple[list[str], str, str, bool]:
    """(declarations, input type, output type, whether args may be omitted) of one tool."""
    definition = binding.definition
    stem = _pascal(binding.server_id) + _pascal(binding.tool_id)
    out: list[str] = []
    input_schema = definition.get("inputSchema")
    input_schema = input_schema if isinstance(input_schema, dict) else {"type": "object"}
    input_name = namer.name(stem + "Input")
    scope = _SchemaTypes(input_schema, input_name, namer, stem)
    out.append(scope.declare(input_name, {k: v for k, v in input_schema.items() if k != "description"}))
    out = out + scope.out  # named $defs after the interface that uses them
    required = input_schema.get("required")
    optional_args = not (isinstance(required, list) and required)
    output_schema = definition.get("outputSchema")
    output_type = "unknown"
    if isinstance(output_schema, dict):
        output_name = namer.name(stem + "Output")
        scope = _SchemaTypes(output_schema, output_name, namer, stem + "Output")
        out.append(scope.declare(output_name, {k: v for k, v in output_schema.items() if k != "description"}))
        out += scope.out
        output_type = output_name
    return out, input_name, output_type, optional_args


def declarations(table: ToolTable) -> str:
    """The `.d.ts` text for every tool in `table` (see the module docstring)."""
    namer = _Namer()
    types: list[str] = []
    members: list[str] = []
    for server_id, tools in table.servers.items():
        server_name = table.server_names.get(server_id, server_id)
        methods: list[str] = []
        for tool_id, binding in tools.items():
            decls, input_type, output_type, optional_args = _tool_types(binding, namer)
            types += decls
            doc = _doc_text(binding.definition.get("description") or binding.definition.get("title"), TOOL_DOC_CHARS)
            if binding.tool != tool_id or binding.exposed != f"{server_id}__{tool_id}":
                doc = (doc + " " if doc else "") + f"(tool {binding.tool!r}, exposed as {binding.exposed!r})"
            methods.append((f"    /** {doc} */\n" if doc else "") +
                           f"    {_key(tool_id)}(args{'?' if optional_args else ''}: {input_type}): "
                           f"Promise<{output_type}>;\n")
        label = f"/** Server {server_name!r}. */\n  " if server_name != server_id else ""
        members.append(f"  {label}{_key(server_id)}: {{\n" + "".join(methods) + "  };\n")
    return HEADER + "\n" + "".join(types) + "\ndeclare const tools: {\n" + "".join(members) + "};\n"
