"""The static check of sandbox code: it must parse, and it may not load modules.

Deno loads modules outside its permission checks (a JSON import reads any file despite
`--deny-read`; a `data:` or `blob:` URL is code the loader runs; `node:` modules bring Node's APIs,
`node:vm` among them, which evaluates strings despite the no-eval flag), so run_code code may not
load modules at all: `tools` is a global and nothing else is needed. Before anything runs, the code
is parsed with a real parser — tree-sitter's TypeScript grammar (its JavaScript grammar for
`language="javascript"`) — and refused when

- it does not parse cleanly (any `ERROR` or `MISSING` node): what we cannot read, we do not run;
- it contains `import` in any role but `import.meta`: declarations (`import x from …`, `import "…"`,
  `import type …`, `import x = require(…)`), dynamic `import(…)`, `import("…")` types;
- it re-exports (`export * from …`, `export { … } from …`), which loads a module too;
- the parser and JavaScript could disagree about where code is. A hand-written lexer got these
  wrong, and so does tree-sitter in places, so each token that hides text from the check is
  verified against the language's own rules: a `//` comment or a `#!` line must not contain a line
  terminator (JavaScript ends them at `\\n`, `\\r`, U+2028 and U+2029); an HTML-like comment
  (`<!--`, `-->`) is refused (in a module it is not a comment at all); a regular expression or a
  string must not contain a raw line break; JSX (which is not JavaScript) is refused; an identifier
  written with escapes that spells `import` or `export` is refused.

This is the first of two layers. The second, at run time (see `runner.py`), makes `import()`
unable to load anything that matters even if code got past this check: an import map sends every
`file:` URL and every `node:` builtin to a path that does not exist, `--no-remote` / `--no-npm`
stop `http(s):`, `jsr:` and `npm:`, and the prelude removes `URL.createObjectURL`, so no `blob:`
URL exists. Only `data:` URLs load — more code under exactly the same rules.

Example:
    >>> check('const a = "import me"; export default 1;') is None
    True
    >>> check('await import("data:text/javascript,1")').message
    'dynamic import() at line 1, column 7'
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import tree_sitter
import tree_sitter_javascript
import tree_sitter_typescript

_TYPESCRIPT = tree_sitter.Language(tree_sitter_typescript.language_typescript())
_JAVASCRIPT = tree_sitter.Language(tree_sitter_javascript.language())

_LINE_TERMINATORS = ("\n", "\r", "\u2028", "\u2029")
_BREAKS = ("\n", "\r")
_ESCAPE = re.compile(r"\\u\{([0-9A-Fa-f]+)\}|\\u([0-9A-Fa-f]{4})")
_KEYWORDS = frozenset({"import", "export"})


@dataclass(frozen=True, slots=True)
class Problem:
    """Why code is refused: `import` (it would load a module) or `syntax` (it cannot be checked)."""

    kind: Literal["import", "syntax"]
    message: str


def check(code: str, *, javascript: bool = False) -> Problem | None:
    """The first reason to refuse `code` (with its position), or None when it may run."""
    try:
        source = code.encode("utf-8")
    except UnicodeEncodeError as exc:
        return Problem("syntax", f"SyntaxError: the code is not valid Unicode (a lone surrogate at index {exc.start})")
    parser = tree_sitter.Parser(_JAVASCRIPT if javascript else _TYPESCRIPT)
    tree = parser.parse(source)
    for node in _nodes(tree.root_node):
        problem = _judge(node, source)
        if problem is not None:
            kind, what = problem
            return Problem(kind, f"{what} at {_position(source, node.start_byte)}")
    return None


def _nodes(root: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    """Every node, named or not, in document order (parents before children); no recursion."""
    cursor = root.walk()
    while True:
        yield cursor.node  # type: ignore[misc]
        if cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return


def _judge(node: tree_sitter.Node, source: bytes) -> tuple[Literal["import", "syntax"], str] | None:
    kind = node.type
    if node.is_error or node.is_missing:
        snippet = _text(node)[:40] or kind
        return "syntax", f"SyntaxError: the code does not parse (near {snippet!r})"
    if kind in ("import_statement", "import_alias", "import_require_clause"):
        return "import", "an import declaration"
    if kind == "export_statement" and node.child_by_field_name("source") is not None:
        return "import", "a re-export (export … from …)"
    if kind == "import":  # the keyword, or dynamic import's callee; only `import.meta` is allowed
        parent = node.parent
        if parent is not None and parent.type == "meta_property":
            return None
        if parent is not None and parent.type == "call_expression":
            return "import", "dynamic import()"
        return "import", "'import'"
    if kind == "html_comment":
        return "syntax", "SyntaxError: an HTML-like comment ('<!--' or '-->'), which is not a comment in a module"
    if kind.startswith("jsx_"):
        return "syntax", "SyntaxError: JSX, which run_code does not support"
    if kind == "comment":
        text = _line_text(node, source)
        if text.startswith("//"):
            if any(t in text for t in _LINE_TERMINATORS):
                return "syntax", "a '//' comment that runs past a line terminator (\\r, U+2028 or U+2029 end it)"
        elif not (text.startswith("/*") and text.endswith("*/") and len(text) >= 4):
            return "syntax", "SyntaxError: a comment the sandbox cannot read"
        return None
    if kind == "hash_bang_line":
        text = _line_text(node, source)
        at_start = node.start_byte == 0 or (node.start_byte == 3 and source.startswith(b"\xef\xbb\xbf"))
        if not at_start or any(t in text for t in _LINE_TERMINATORS):
            return "syntax", "a '#!' line that is not a single first line"
        return None
    if kind == "regex_pattern" and any(t in _text(node) for t in _LINE_TERMINATORS):
        return "syntax", "SyntaxError: a regular expression with a line break"
    if kind == "string_fragment" and node.parent is not None and node.parent.type == "string":
        if any(t in _text(node) for t in _BREAKS):
            return "syntax", "SyntaxError: a string with a raw line break"
        return None
    escaped = kind.endswith("identifier") and b"\\" in source[node.start_byte:node.end_byte]
    if escaped and _decode_identifier(_text(node)) in _KEYWORDS:
        return "import", "an escaped 'import' or 'export'"
    return None


def _text(node: tree_sitter.Node) -> str:
    return (node.text or b"").decode("utf-8", errors="replace")


def _line_text(node: tree_sitter.Node, source: bytes) -> str:
    """A one-line token's text; a final `\\r` of a `\\r\\n` line end is the line's end, not part of it."""
    text = _text(node)
    if text.endswith("\r") and source[node.end_byte:node.end_byte + 1] in (b"\n", b""):
        text = text[:-1]
    return text


def _decode_identifier(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)


def _position(source: bytes, offset: int) -> str:
    line = source.count(b"\n", 0, offset) + 1
    start = source.rfind(b"\n", 0, offset) + 1
    column = len(source[start:offset].decode("utf-8", errors="replace")) + 1
    return f"line {line}, column {column}"
