"""A static check of sandbox code: it may not import or re-export modules.

Deno loads modules outside its permission checks (a JSON import reads any file despite
`--deny-read`; a `data:` or `blob:` URL is code the loader runs; `node:` modules bring Node's APIs),
so run_code code may not load modules at all: `tools` is a global and nothing else is needed. This
check rejects, before anything runs,

- `import` used as a keyword: declarations (`import x from "…"`, `import "…"`, `import type …`) and
  dynamic `import(…)`; `import.meta` is allowed;
- re-exports, which load modules too: `export * from …`, `export { … } from …`.

Strings, template text, comments and regular expressions are skipped with a small JavaScript lexer.
JavaScript's one lexical ambiguity — whether `/` after `)`, `}`, `++` or `--` starts a regular
expression or divides — could make a lexer skip real code; once the lexer has had to guess, every
later occurrence of the word `import` is treated as code, so a guess can only reject, never admit.
Building `import(…)` at run time is impossible too: the sandbox runs with code generation from
strings disabled (no `eval`, no `Function`).

Example:
    >>> find_import('const a = "import me"; export default 1;') is None
    True
    >>> find_import('await import("data:text/javascript,1")')
    'dynamic import() at line 1, column 7'
"""

from __future__ import annotations

import re

_IDENT_START = re.compile(r"[A-Za-z_$\\\u0080-\uffff]")
_IDENT = re.compile(r"(?:[A-Za-z0-9_$\u0080-\uffff]|\\u\{[0-9A-Fa-f]+\}|\\u[0-9A-Fa-f]{4})+")
_NUMBER = re.compile(r"(?:0[xXoObB][0-9A-Fa-f_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?)n?")
_ESCAPE = re.compile(r"\\u\{([0-9A-Fa-f]+)\}|\\u([0-9A-Fa-f]{4})")
_SUSPECT = re.compile(
    r"(?<![A-Za-z0-9_$])(?:import(?![A-Za-z0-9_$])(?!\s*\.\s*meta\b)|export\s*(?:\*|\{[^}]*\}\s*from\b))"
)

# After these keywords an expression starts, so `/` begins a regular expression.
_EXPR_KEYWORDS = frozenset(
    ["return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw", "case", "do", "else", "yield", "await", "extends"]
)
# After these punctuators `/` might divide or start a regex: the lexer has to guess.
_AMBIGUOUS = frozenset({")", "}", "++", "--"})
_PUNCT = ("...", "===", "!==", "**=", "<<=", ">>=", ">>>", "&&=", "||=", "??=", "=>", "==", "!=", "<=", ">=",
          "&&", "||", "??", "?.", "++", "--", "+=", "-=", "*=", "%=", "&=", "|=", "^=", "**", "<<", ">>")


def _decode_identifier(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)


def _position(code: str, index: int) -> str:
    line = code.count("\n", 0, index) + 1
    column = index - (code.rfind("\n", 0, index) + 1) + 1
    return f"line {line}, column {column}"


class _Lexer:
    """Tokens of the code part of a JavaScript/TypeScript source; skips strings, comments, regexes."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.i = 0
        self.guessed_at: int | None = None
        """Index of the first `/` whose meaning the lexer had to guess."""
        self.braces: list[str] = []  # "{" for code braces, "`" for `${` inside a template

    def tokens(self):  # -> Iterator[tuple[str, str, int]]  (kind, text, index)
        code, n = self.code, len(self.code)
        prev = ""  # the previous significant token's text (keyword/identifier/punct), or a kind marker
        while self.i < n:
            c = code[self.i]
            start = self.i
            if c in " \t\r\n\f\v\u00a0\u2028\u2029\ufeff" or c.isspace():
                self.i += 1
            elif code.startswith("//", start) or (start == 0 and code.startswith("#!")):
                end = code.find("\n", start)
                self.i = n if end < 0 else end
            elif code.startswith("/*", start):
                end = code.find("*/", start + 2)
                self.i = n if end < 0 else end + 2
            elif c in "'\"":
                self._skip_string(c)
                prev = "literal"
            elif c == "`":
                self.i += 1
                self._skip_template()
                prev = "literal"
            elif c == "}" and self.braces and self.braces[-1] == "`":
                self.braces.pop()
                self.i += 1
                self._skip_template()
                prev = "literal"
            elif _IDENT_START.match(c):
                m = _IDENT.match(code, start)
                if m is None:  # a lone backslash: not valid JavaScript; let Deno report it
                    self.i += 1
                    continue
                self.i = m.end()
                word = _decode_identifier(m.group())
                member = prev in (".", "?.")
                yield ("ident", word, start)
                prev = "ident" if member or word not in _EXPR_KEYWORDS else word
            elif c.isdigit() or (c == "." and start + 1 < n and code[start + 1].isdigit()):
                m = _NUMBER.match(code, start)
                self.i = m.end() if m else start + 1
                prev = "literal"
            elif c == "/":
                if prev in ("ident", "literal", "]"):
                    regex = False
                elif prev in _AMBIGUOUS:
                    if self.guessed_at is None:
                        self.guessed_at = start
                    regex = prev == "}"
                else:
                    regex = True
                if regex:
                    self._skip_regex()
                    prev = "literal"
                else:
                    self.i += 2 if code.startswith("/=", start) else 1
                    prev = "/"
            else:
                punct = next((p for p in _PUNCT if code.startswith(p, start)), c)
                self.i += len(punct)
                if punct == "{":
                    self.braces.append("{")
                elif punct == "}" and self.braces:
                    self.braces.pop()
                yield ("punct", punct, start)
                prev = punct

    def _skip_string(self, quote: str) -> None:
        code, n = self.code, len(self.code)
        self.i += 1
        while self.i < n:
            c = code[self.i]
            if c == "\\":
                self.i += 2
            elif c == quote or c == "\n":
                self.i += 1
                return
            else:
                self.i += 1

    def _skip_template(self) -> None:
        """Skip template text up to the closing backtick or into a `${` substitution."""
        code, n = self.code, len(self.code)
        while self.i < n:
            c = code[self.i]
            if c == "\\":
                self.i += 2
            elif c == "`":
                self.i += 1
                return
            elif code.startswith("${", self.i):
                self.i += 2
                self.braces.append("`")
                return
            else:
                self.i += 1

    def _skip_regex(self) -> None:
        code, n = self.code, len(self.code)
        self.i += 1
        in_class = False
        while self.i < n:
            c = code[self.i]
            if c == "\\":
                self.i += 2
                continue
            self.i += 1
            if c == "\n":
                return
            if in_class:
                in_class = c != "]"
            elif c == "[":
                in_class = True
            elif c == "/":
                break
        while self.i < n and (code[self.i].isalnum() or code[self.i] in "_$"):
            self.i += 1


def find_import(code: str) -> str | None:
    """Describe the first module import or re-export in `code` (with its position), or None if there is none."""
    lexer = _Lexer(code)
    tokens = list(lexer.tokens())
    for k, (kind, text, index) in enumerate(tokens):
        if kind != "ident":
            continue
        after = tokens[k + 1] if k + 1 < len(tokens) else ("", "", index)
        if k > 0 and tokens[k - 1][1] in (".", "?."):
            continue  # a property: obj.import
        if text == "import":
            if after[1] in (".", ":"):
                continue  # import.meta, or a key in an object literal
            what = "dynamic import()" if after[1] == "(" else "an import declaration"
            return f"{what} at {_position(code, index)}"
        if text == "export" and after[1] == "*":
            return f"a re-export (export * from …) at {_position(code, index)}"
        if text == "export" and after[1] == "{":
            close = next((j for j in range(k + 1, len(tokens)) if tokens[j][1] == "}"), None)
            if close is not None and close + 1 < len(tokens) and tokens[close + 1][1] == "from":
                return f"a re-export (export {{ … }} from …) at {_position(code, index)}"
    if lexer.guessed_at is not None:
        # Past a guess, the lexer may have taken code for a string or a comment: trust no skip.
        for m in _SUSPECT.finditer(code, lexer.guessed_at):
            return (f"{m.group().split()[0]!r} at {_position(code, m.start())}, after a '/' that could start a "
                    "regular expression (so the lexer cannot tell whether it is code)")
    return None
