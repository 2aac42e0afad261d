"""The sandbox service on its own: identifiers, the import check, declarations, the bridge, the runner.

The runner tests start the real Deno (PyPI `deno` package); tool calls go to a small in-test caller
here, because these tests are about the service. Through meta-mcp: test_sandbox_run_code.py and
test_sandbox_security.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from meta_mcp.services.sandbox import Sandbox, SandboxLimits, ToolTable, declarations, find_deno, js_identifier, runner
from meta_mcp.services.sandbox.bridge import (
    Call,
    Done,
    Framing,
    MessageTooLarge,
    Output,
    ToolCallFailed,
    count_values,
    tool_value,
)
from meta_mcp.services.sandbox.names import assign_identifiers
from meta_mcp.services.sandbox.source import check
from meta_mcp.settings import Settings

def _load_rich() -> Any:
    """tests/upstreams/rich.py by path: a PyPI package named `rich` may come first on sys.path."""
    import importlib.util

    sys.path.insert(0, str(Path(__file__).parent / "upstreams"))  # rich.py imports its sibling _common
    spec = importlib.util.spec_from_file_location("rich_upstream", Path(__file__).parent / "upstreams" / "rich.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rich = _load_rich()

# -- identifiers ------------------------------------------------------------------------------------


def test_identifiers() -> None:
    assert js_identifier("my-server") == "my_server"
    assert js_identifier("get.time") == "get_time"
    assert js_identifier("2fa") == "_2fa"
    assert js_identifier("") == "_"
    assert js_identifier("ok_$name") == "ok_$name"
    ids = assign_identifiers(["get-time", "get_time", "get time"])
    assert ids["get_time"] == "get_time"  # already an identifier: keeps it
    assert ids["get-time"] != ids["get time"] and all(v.startswith("get_time_") for k, v in ids.items() if k != "get_time")
    assert ids == assign_identifiers(["get time", "get_time", "get-time"])  # order does not matter


def test_tool_table_groups_by_server() -> None:
    table = ToolTable.build([("my-server", "get-time", "my-server__get-time", {}), ("echo", "echo", "e", {}),
                             ("echo", "echo", "dup", {})])
    assert table.manifest() == {"echo": ["echo"], "my_server": ["get_time"]}
    binding = table.lookup("my_server", "get_time")
    assert binding is not None and binding.exposed == "my-server__get-time" and binding.server == "my-server"
    assert table.lookup("echo", "echo").exposed == "e"  # type: ignore[union-attr]
    assert table.lookup("echo", "nope") is None and table.lookup("nope", "echo") is None


# -- the import check -------------------------------------------------------------------------------

REJECTED = [
    'import x from "data:text/javascript,1"; export default x',
    'import "./other.ts"',
    'import type { A } from "./a.ts"',
    'import fs = require("node:fs")',
    'export default await import("npm:left-pad")',
    'export default await imp\\u006frt("https://example.com/x.ts")',
    'export default await \\u{69}mport("node:vm")',
    'export * from "data:text/javascript,export const a = 1"',
    'export * as ns from "node:fs"',
    'export { a as b } from "node:fs"',
    'export type { A } from "./a.ts"',
    'export default `${await import("x")}`',
    'type T = typeof import("node:vm"); export default 1',
    'const r = /"/; await import("data:x"); //"',
    'if (ok) /"/.test(s); await import("data:x"); "',
    # JavaScript ends a `//` comment (and a `#!` line) at \r, U+2028 and U+2029, not only at \n
    '// x\rawait import("node:vm")',
    '// x\u2028await import("node:vm")',
    '// x\u2029await import("node:vm")',
    '#!/usr/bin/env deno\rawait import("node:vm")',
    '#!/usr/bin/env deno\u2029await import("node:vm")',
    # HTML-like comments are not comments in a module
    '-->\nawait import("node:vm")',
    'const a = 1;\n<!-- await import("node:vm")',
    # astral-plane letters are identifiers, so the `/` after one divides
    'const \U0001d465 = 1; let p; \U0001d465 /(p = import("node:vm"))/ 1; export default await p',
    # what does not parse is not run
    'export default (1 +',
    'const s = "a\rimport("x")"',
    'export default <div>{1}</div>',
    'export default "\ud800"',
]
ALLOWED = [
    'export default 1',
    'const s = "import me"; /* import */ // import\nexport default `import ${s}`',
    'const url = import.meta.url; export default url',
    'const o = { import: 1 }; export default o.import + o?.import',
    'class C { import() { return 1; } } export default new C().import()',
    'const a = 1, b = 2; export { a, b }; export default a / b / 2',
    'if (a) /"/.test(s); export default "import"',
    '// Windows line ends\r\nexport default 1\r\n',
    '#!/usr/bin/env deno\r\nexport default 1',
    '\ufeff#!/usr/bin/env deno\nexport default 1',
    'const \U0001d465 = 4; export default \U0001d465 / 2 / 1',
    'const \\u0061 = 1; export default a',
    'const s = "a\\\r\nb \u2028 c"; export default s',
    'export default 1 < 2 > (3 as any)',
    'enum E { A } @dec class D {} const v = 1 satisfies number; export default [E.A, v]',
    'await using r = { async [Symbol.asyncDispose]() {} }; export default 1',
    'const id = <T,>(x: T): T => x; let n = <number>(id(1)); export default n',
]


@pytest.mark.parametrize("code", REJECTED)
@pytest.mark.parametrize("javascript", [False, True])
def test_imports_rejected(code: str, javascript: bool) -> None:
    assert check(code, javascript=javascript) is not None


@pytest.mark.parametrize("code", ALLOWED)
def test_no_imports_allowed(code: str) -> None:
    assert check(code) is None, check(code)


def test_check_says_where_and_what() -> None:
    problem = check('const a = 1;\nexport default await import("node:vm")')
    assert problem is not None and problem.kind == "import"
    assert problem.message == "dynamic import() at line 2, column 22"
    problem = check("const a = 1;\nexport default (a + ;")
    assert problem is not None and problem.kind == "syntax" and "SyntaxError: the code does not parse" in problem.message


# -- declarations -----------------------------------------------------------------------------------


def _rich_table() -> ToolTable:
    tools = [t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in rich.TOOLS]
    entries = [("rich", t["name"], f"rich__{t['name']}", t) for t in tools]
    entries.append(("my-server", "get-time", "my-server__get-time", {
        "description": "Current time.\n\nLong details that are left out.",
        "inputSchema": {"type": "object", "required": ["tz"], "properties": {
            "tz": {"type": ["string", "null"], "description": "IANA zone */ not a comment end"},
            "n": {"type": "integer", "nullable": True},
            "tree": {"$ref": "#"},
            "mixed": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "number"}]}},
            "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "boolean"}]},
            "both": {"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}}, {"required": ["a"]}]},
        }},
    }))
    return ToolTable.build(entries)


def test_declarations_shape() -> None:
    text = declarations(_rich_table())
    assert "interface RichGetWeatherInput {" in text
    assert '  units?: "metric" | "imperial";' in text
    assert "/** City name */" in text
    assert "get_weather(args: RichGetWeatherInput): Promise<RichGetWeatherOutput>;" in text
    assert "points: RichSchemaZooPoint[];" in text and "interface RichSchemaZooPoint {" in text
    assert '"unicode_ключ"?: string;' in text
    assert "[key: string]: string;" in text  # additionalProperties
    assert "all_content(args?: RichAllContentInput): Promise<unknown>;" in text  # no required args
    assert "tz: string | null;" in text and "n?: number | null;" in text and "tree?: MyServerGetTimeInput;" in text
    assert "mixed?: (string | number)[];" in text and "pair?: [string, boolean];" in text
    assert "*\\/ not a comment end" in text and "Long details" not in text
    assert "my_server: {" in text and "(tool 'get-time', exposed as 'my-server__get-time')" in text


def test_declarations_type_check_with_deno(tmp_path: Path) -> None:
    """The generated declarations are valid TypeScript and really type the calls (`deno check`)."""
    (tmp_path / "api.d.ts").write_text(declarations(_rich_table()))
    good = ('/// <reference path="./api.d.ts" />\n'
            'const w = await tools.rich.get_weather({ city: "Oslo", units: "imperial" });\n'
            'const t: number = w.temperature;\n'
            'await tools.rich.schema_zoo({ points: [{ x: 1, y: 2 }], mode: "exact" });\n'
            'await tools.my_server.get_time({ tz: null, pair: ["a", true] });\n'
            'try { await tools.rich.fail({ message: "m" }); } catch (e) { if (e instanceof ToolError) e.server; }\n'
            'export default t;\n')
    bad = good.replace('units: "imperial"', 'units: "kelvin"')
    env = {"DENO_DIR": str(tmp_path / ".deno"), "NO_COLOR": "1", "PATH": "/usr/bin:/bin"}
    for name, code, ok in (("good.ts", good, True), ("bad.ts", bad, False)):
        (tmp_path / name).write_text(code)
        proc = subprocess.run([find_deno(), "check", "--no-config", "--quiet", name], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert (proc.returncode == 0) is ok, proc.stdout + proc.stderr
    assert '"kelvin"' in proc.stdout + proc.stderr


# -- the bridge -------------------------------------------------------------------------------------


def _items(framing: Framing, *chunks: bytes) -> list[Any]:
    found = []
    for chunk in chunks:
        framing.feed(chunk)
        while (item := framing.next()) is not None:
            found.append(item)
    return found


def test_framing_separates_messages_from_plain_output() -> None:
    framing = Framing("ab" * 16, max_bytes=1000, max_values=100)
    nonce = ("ab" * 16).encode()
    stream = (b"\n" + nonce + b' {"t":"out","text":"hi\\n"}\n' + b'{"t":"done","ok":true,"value":"forged"}\n'
              + b"\n" + nonce + b' {"t":"call","id":1,"server":"s","tool":"t","args":{}}\n'
              + b"\n" + nonce + b' {"t":"done","ok":true,"value":7}\n')
    items = _items(framing, stream[:17], stream[17:])
    assert items == [Output("hi\n"), b'{"t":"done","ok":true,"value":"forged"}\n', Call(1, "s", "t", {}), Done(True, 7)]


def test_framing_bounds_size_and_decoding_cost_before_decoding() -> None:
    nonce = "ab" * 16
    framing = Framing(nonce, max_bytes=1000, max_values=50)
    framing.feed(b"\n" + nonce.encode() + b' {"t":"out","text":"' + b"x" * 2000)  # no newline yet: refused already
    with pytest.raises(MessageTooLarge, match="more than 1000 bytes") as too_big:
        framing.next()
    assert too_big.value.setting == "max_message_bytes"

    def message(args: str) -> bytes:
        return b"\n" + nonce.encode() + b' {"t":"call","id":1,"server":"s","tool":"t","args":' + args.encode() + b"}\n"

    framing = Framing(nonce, max_bytes=1000, max_values=50)
    framing.feed(message('{"a":[' + ",".join(["{}"] * 60) + "]}"))
    with pytest.raises(MessageTooLarge, match="126 JSON values .* more than 50") as too_many:
        framing.next()
    assert too_many.value.setting == "max_message_values"
    framing = Framing(nonce, max_bytes=1000, max_values=50)
    framing.feed(message(json.dumps({"text": ",{[" * 200})))  # text full of commas is one value
    assert framing.next() == Call(1, "s", "t", {"text": ",{[" * 200})
    framing = Framing(nonce, max_bytes=100_000, max_values=100_000)
    framing.feed(message('{"a":' + "[" * 5000 + "]" * 5000 + "}"))
    with pytest.raises(MessageTooLarge, match="nested too deeply"):
        framing.next()
    assert count_values(b'[1,"a,b",{"c":[2,3]}]', 1) == 6 and count_values(b"[1,2]", 10) == 2


def test_sandbox_limits_defaults_are_the_settings_defaults() -> None:
    """A caller that passes only some settings gets the documented defaults for the rest."""
    settings = Settings()
    for name in ("heap_mb", "data_mb", "max_output_bytes", "max_tool_calls", "max_message_bytes",
                 "max_message_values", "max_received_bytes", "max_calls_in_flight"):
        assert getattr(SandboxLimits(), name) == getattr(settings, f"sandbox_{name}"), name


def test_tool_value() -> None:
    assert tool_value({"content": [{"type": "text", "text": "x"}], "structuredContent": {"a": 1}}) == {"a": 1}
    assert tool_value({"content": [{"type": "text", "text": '{"a": [1]}'}]}) == {"a": [1]}
    assert tool_value({"content": [{"type": "text", "text": "plain"}]}) == "plain"
    assert tool_value({"content": [{"type": "text", "text": "NaN"}]}) == "NaN"
    image = {"type": "image", "data": "AA==", "mimeType": "image/png"}
    assert tool_value({"content": [image]}) == [image]
    with pytest.raises(ToolCallFailed, match="server says no"):
        tool_value({"content": [{"type": "text", "text": "server says no"}], "isError": True})
    with pytest.raises(ToolCallFailed, match="input_required"):
        tool_value({"resultType": "input_required", "inputRequests": {}})


# -- the runner (real Deno) -------------------------------------------------------------------------

async def _echo(binding: Any, args: dict[str, Any]) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": json.dumps(args)}]}


ECHO = ToolTable.build([("echo", "echo", "echo__echo", {})])


@pytest.mark.anyio
async def test_each_run_is_a_fresh_process() -> None:
    sandbox = Sandbox()
    first = await sandbox.run("(globalThis as any).kept = 1; export default Deno.pid", ECHO, _echo, SandboxLimits())
    second = await sandbox.run("export default [(globalThis as any).kept ?? null, Deno.pid]", ECHO, _echo,
                               SandboxLimits())
    assert first.ok and second.ok, (first, second)
    assert second.value[0] is None and second.value[1] != first.value


@pytest.mark.anyio
async def test_import_map_blocks_files_even_without_the_source_check(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    """Second layer: with the static check switched off, a JSON import still cannot read a file."""
    secret = tmp_path / "secret.json"
    secret.write_text('{"secret": "s3cr3t"}')
    monkeypatch.setattr(runner, "check", lambda code, **_: None)
    sandbox = Sandbox()
    for code in (f'import s from "{secret}" with {{ type: "json" }}; export default s',
                 f'export default (await import("{tmp_path}/" + "secret.json", {{ with: {{ type: "json" }} }})).default',
                 'export default (await import("/etc/passwd")).default'):
        result = await sandbox.run(code, ECHO, _echo, SandboxLimits())
        assert not result.ok and "s3cr3t" not in json.dumps(result.value) and "root:" not in (result.error or "")
        assert "imports-are-not-allowed" in (result.error or "") or "read access" in (result.error or ""), result


VM_42 = '(await import("node:vm")).runInThisContext("6*7")'
LOADS = """
const out: Record<string, string> = {};
for (const specifier of SPECIFIERS) {
  try {
    const m = await import(specifier);
    out[specifier] = "LOADED " + JSON.stringify(Object.keys(m)) + " " + String(m.default);
  } catch (e) {
    out[specifier] = String(e).split("\\n")[0];
  }
}
export default out;
"""


@pytest.mark.anyio
async def test_nothing_loads_even_without_the_source_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Second layer: with the static check switched off, the code that got past the old lexer, and
    an import of every scheme Deno supports and of every node: builtin, load nothing. (`data:` URLs
    load — import maps cannot see them — but what they import is blocked the same way.)"""
    monkeypatch.setattr(runner, "check", lambda code, **_: None)
    sandbox = Sandbox()
    for code in (f'// x\rexport default {VM_42}',
                 ('const \U0001d465 = 1; let p; \U0001d465 /(p = import("node:vm"))/ 1; '
                  'export default (await p).runInThisContext("6*7")'),
                 f'#!/x\rexport default {VM_42}', f'-->\nexport default {VM_42}',
                 'const { Worker } = await import("node:worker_threads"); export default Worker',
                 'import { createRequire } from "node:module"; export default createRequire("/")("vm")',
                 'export { default } from "node:vm"',
                 ("export default (await import(\"data:text/javascript,export default (await import('node:vm'))"
                  ".runInThisContext('6*7')\")).default")):
        result = await sandbox.run(code, ECHO, _echo, SandboxLimits())
        assert not result.ok and result.value != 42, (code, result)
        assert "imports-are-not-allowed/node/" in (result.error or ""), (code, result)

    builtins = await sandbox._node_builtins(Path(sandbox.tmpdir))
    assert {"vm", "module", "worker_threads", "inspector", "process", "fs", "child_process"} <= set(builtins)
    assert set(runner.NODE_BUILTINS) <= set(builtins)  # what this Deno reports, and ours
    others = ["vm", "node:VM", "npm:left-pad", "jsr:@std/path", "https://deno.land/std/version.ts",
              "http://127.0.0.1:9/x.js", "file:///etc/passwd", "/etc/passwd", "./prelude.ts", "./user.ts",
              runner.PRELUDE.as_uri(), "ext:core/mod.js", "blob:null/00000000-0000-0000-0000-000000000000",
              "data:text/javascript,export default (await import('node:vm')).runInThisContext('6*7')",
              "data:text/javascript,export { default } from 'node:fs'",
              "data:text/javascript,export { default } from 'file:///etc/passwd'"]
    specifiers = [f"node:{name}" for name in builtins] + others
    code = f"const SPECIFIERS = {json.dumps(specifiers)};\n{LOADS}"
    result = await sandbox.run(code, ECHO, _echo, SandboxLimits(max_message_values=1_000_000))
    assert result.ok, result
    loaded = {spec: outcome for spec, outcome in result.value.items() if outcome.startswith("LOADED")}
    assert loaded == {}, loaded
    assert "root:" not in json.dumps(result.value)

    blob = await sandbox.run('export default typeof URL.createObjectURL', ECHO, _echo, SandboxLimits())
    assert blob.value == "undefined", blob  # no blob: URL can be made to import


@pytest.mark.anyio
async def test_runs_beyond_the_concurrency_limit_wait_for_a_slot() -> None:
    sandbox = Sandbox(max_concurrent=2)
    in_flight = peak = 0
    release = anyio.Event()

    async def held(binding: Any, args: dict[str, Any]) -> dict[str, Any]:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if peak == 2:
            release.set()  # two runs are inside at once: let every call finish
        await release.wait()
        in_flight -= 1
        return {"content": [{"type": "text", "text": str(args["i"])}]}

    results: list[Any] = []

    async def one(i: int) -> None:
        code = f"export default await tools.echo.echo({{ i: {i} }})"
        results.append(await sandbox.run(code, ECHO, held, SandboxLimits(timeout_s=30)))

    async with anyio.create_task_group() as tg:
        for i in range(4):
            tg.start_soon(one, i)
    assert sorted(r.value for r in results) == [0, 1, 2, 3] and all(r.ok for r in results), results
    assert peak == 2


@pytest.mark.anyio
async def test_messages_over_a_limit_end_the_run_with_a_limit_error() -> None:
    """What meta-mcp accepts from the process is bounded in size and decoding cost; each limit is named."""
    sandbox = Sandbox()
    small = SandboxLimits(max_message_bytes=100_000, max_message_values=1_000, max_received_bytes=1 << 20)
    cases = {
        "export default await tools.echo.echo({ big: Array(2_000).fill({}) })":
            ("message", ("one message has 4006 JSON values (counted as its '{', '[' and ',' outside strings), more "
                         "than 1000 (sandbox_max_message_values=1000")),
        'export default await tools.echo.echo({ text: "x".repeat(200_000) })':
            ("message", "one message is more than 100000 bytes (sandbox_max_message_bytes=100000"),
        'const text = "x".repeat(90_000); for (let i = 0; i < 20; i++) await tools.echo.echo({ text }); export default 1':
            ("received", "more than 1048576 bytes in all (sandbox_max_received_bytes=1048576"),
        'console.log("x".repeat(150_000)); export default 1':
            ("message", "sandbox_max_message_bytes=100000"),
    }
    for code, (limit, text) in cases.items():
        result = await sandbox.run(code, ECHO, _echo, small)
        assert not result.ok and result.error_kind == "limit" and result.limit == limit, (code, result)
        assert text in (result.error or ""), (code, result.error)
    # Nesting beyond what Python's decoder can take is refused, not a crash of meta-mcp.
    deep = await sandbox.run('let a: unknown = []; for (let i = 0; i < 5_000; i++) a = [a];'
                             " export default await tools.echo.echo({ a })", ECHO, _echo, SandboxLimits())
    assert deep.limit == "message" and "nested too deeply" in (deep.error or ""), deep
    # Text full of commas and brackets is one value, whatever its size.
    fine = await sandbox.run('export default (await tools.echo.echo({ text: ",[{".repeat(20_000) })).text.length',
                             ECHO, _echo, small)
    assert fine.ok and fine.value == 60_000, fine


@pytest.mark.anyio
async def test_calls_in_flight_are_bounded_and_the_rest_wait() -> None:
    in_flight = peak = 0

    async def slow(binding: Any, args: dict[str, Any]) -> dict[str, Any]:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await anyio.sleep(0.05)
        in_flight -= 1
        return {"content": [{"type": "text", "text": str(args["i"])}]}

    code = "export default await Promise.all(Array.from({ length: 12 }, (_, i) => tools.echo.echo({ i })))"
    result = await Sandbox().run(code, ECHO, slow, SandboxLimits(max_calls_in_flight=3))
    assert result.ok and result.value == list(range(12)) and result.tool_calls == 12, result
    assert peak == 3


class _Advertising(ToolTable):
    """A table whose manifest shows the sandbox a tool it does not grant (as a tampered prelude might)."""

    def manifest(self) -> dict[str, list[str]]:
        return {"echo": ["echo", "ghost"], "secret": ["steal"]}


@pytest.mark.anyio
async def test_the_table_not_the_sandbox_decides_what_is_called() -> None:
    called: list[str] = []

    async def record(binding: Any, args: dict[str, Any]) -> dict[str, Any]:
        called.append(binding.exposed)
        return {"content": [{"type": "text", "text": "ok"}]}

    table = _Advertising(ECHO.servers, ECHO.server_names)
    code = """
        const out = [];
        for (const f of [() => tools.echo.ghost({}), () => tools.secret.steal({}), () => tools.echo.echo({})]) {
          try { out.push(await f()); } catch (e) { out.push((e as Error).message); }
        }
        export default out;
    """
    result = await Sandbox().run(code, table, record, SandboxLimits())
    assert result.value == ["tools.echo.ghost is not available to this run",
                            "tools.secret.steal is not available to this run", "ok"], result
    assert called == ["echo__echo"] and result.tool_calls == 3


@pytest.mark.anyio
async def test_errors_in_callbacks_are_reported_and_the_run_goes_on() -> None:
    code = """
        setTimeout(() => { throw new Error("in a timer"); }, 1);
        await new Promise((r) => setTimeout(r, 50));
        Promise.reject(new Error("nobody awaits"));
        await new Promise((r) => setTimeout(r, 10));
        export default "survived";
    """
    result = await Sandbox().run(code, ECHO, _echo, SandboxLimits())
    assert result.ok and result.value == "survived", result
    assert "Uncaught Error: in a timer" in result.console and "Uncaught (in promise) Error: nobody awaits" in result.console
    assert "/meta-mcp-run-" not in result.console and "user.ts:" in result.console


@pytest.mark.anyio
async def test_a_sandbox_that_cannot_start_is_a_sandbox_error(tmp_path: Path) -> None:
    result = await Sandbox(deno=str(tmp_path / "no-deno")).run("export default 1", ECHO, _echo, SandboxLimits())
    assert not result.ok and result.error_kind == "sandbox" and "no-deno" in (result.error or ""), result


@pytest.mark.anyio
async def test_directories_of_dead_processes_are_swept(tmp_path: Path) -> None:
    """Runs leave nothing behind; what a killed meta-mcp left is deleted when a new one starts running code."""
    proc = subprocess.Popen(["true"])  # noqa: ASYNC220  (its pid is free once it has exited)
    proc.wait()
    stale = [tmp_path / f"meta-mcp-run-{proc.pid}-abc", tmp_path / f"meta-mcp-deno-dir-{proc.pid}-abc"]
    alive = tmp_path / f"meta-mcp-run-{os.getpid()}-abc"
    for d in [*stale, alive]:
        (d / "sub").mkdir(parents=True)
    sandbox = Sandbox(tmpdir=tmp_path)
    result = await sandbox.run("export default 1", ECHO, _echo, SandboxLimits())
    assert result.ok
    assert not any(d.exists() for d in stale) and alive.exists()
    runner._CLEANER.submit(lambda: None).result()  # the finished run's directory is deleted off-path
    left = [p.name for p in tmp_path.iterdir() if p != alive]
    assert len(left) == 1 and left[0].startswith(f"meta-mcp-deno-dir-{os.getpid()}-"), left  # the template
