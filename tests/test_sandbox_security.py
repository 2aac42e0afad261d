"""Hostile code in `run_code`: every attempt is denied or killed with a clear error, and meta-mcp keeps
serving — other tools, other runs, concurrent runs — while it happens.

One real meta-mcp over HTTP with small limits (64 MB heap, 20 000 bytes of output, 20 tool calls)
fronts `tests/upstreams/echo.py` and `tests/upstreams/rich.py`. After every attack the same
process must still answer a direct tool call and a fresh run, and must have no Deno child left.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from support import ServerUrl, dump, make_client, meta_mcp_http, poll_until, text_of, upstream_entry

pytestmark = pytest.mark.anyio

LIMITS = {
    "META_MCP_SANDBOX_HEAP_MB": "64",
    "META_MCP_SANDBOX_MAX_OUTPUT_BYTES": "20000",
    "META_MCP_SANDBOX_MAX_TOOL_CALLS": "20",
    "META_MCP_SANDBOX_TIMEOUT_S": "10",
    "META_MCP_SANDBOX_MAX_CONCURRENT": "4",
}
SECRET_DIR = Path(os.environ.get("TMPDIR", "/tmp")) / "meta-mcp-sandbox-test"


@dataclass
class Attack:
    code: str
    expect: str
    """Text the error message must contain."""
    limit: str | None = None
    args: dict[str, Any] = field(default_factory=dict)


def _secret() -> Path:
    SECRET_DIR.mkdir(exist_ok=True)
    secret = SECRET_DIR / "secret.json"
    secret.write_text('{"secret": "s3cr3t"}')
    return secret


VM_42 = '(await import("node:vm")).runInThisContext("6*7")'
IMPORT_DENIED = "imports are not available in run_code"

ATTACKS: dict[str, Attack] = {
    "net-fetch": Attack('export default await (await fetch("http://127.0.0.1:{port}/mcp")).text()',
                        'Requires net access to "127.0.0.1:{port}"'),
    "net-websocket": Attack('new WebSocket("ws://127.0.0.1:{port}/"); export default 1', "Requires net access"),
    "net-connect": Attack('export default await Deno.connect({ hostname: "127.0.0.1", port: {port} })',
                          "Requires net access"),
    "file-read": Attack('export default await Deno.readTextFile("{secret}")', "Requires read access"),
    "file-write": Attack('await Deno.writeTextFile("{dir}/pwned.txt", "x"); export default 1', "Requires write access"),
    "environment": Attack('export default Deno.env.get("PATH")', "Requires env access"),
    "subprocess": Attack('export default await new Deno.Command("sh", { args: ["-c", "touch {dir}/pwned.txt"] })'
                         '.output()', "Requires run access"),
    "ffi": Attack('export default Deno.dlopen("libc.so.6", { getpid: { parameters: [], result: "i32" } })',
                  "Requires ffi access"),
    "import-remote": Attack('export default await import("https://deno.land/std/version.ts")',
                            "imports are not available in run_code (dynamic import()"),
    "import-npm": Attack('import pad from "npm:left-pad"; export default pad("x", 3)',
                         "imports are not available in run_code (an import declaration"),
    "import-data": Attack('export * from "data:text/javascript,export default 1"',
                          "imports are not available in run_code (a re-export"),
    "import-file-json": Attack('import s from "{secret}" with { type: "json" }; export default s',
                               "imports are not available in run_code"),
    "eval": Attack('export default [new Function("return 1")(), eval("2")]',
                   "EvalError: Code generation from strings disallowed"),
    "worker": Attack('new Worker("data:text/javascript,1", { type: "module" }); export default 1',
                     "ReferenceError: Worker is not defined"),
    "node-vm": Attack('export default process.getBuiltinModule("vm").runInThisContext("1")',
                      "ReferenceError: process is not defined"),
    "persist-localstorage": Attack('localStorage.setItem("k", "v"); export default 1',
                                   "ReferenceError: localStorage is not defined"),
    "read-stdin": Attack("export default await Deno.stdin.read(new Uint8Array(64))",
                         "Deno.stdin is not available in run_code"),
    "exit": Attack("Deno.exit(0); export default 1", "Deno.exit is not available in run_code"),
    "infinite-loop": Attack("while (true) {} export default 1",
                            "time limit exceeded: the code was still running after timeout_s=1 s", "time",
                            {"timeout_s": 1}),
    "heap-bomb": Attack('const a: unknown[] = []; while (true) a.push({ n: Math.random(), s: "x" + Math.random() });'
                        " export default a.length", "memory limit exceeded", "memory"),
    "arraybuffer-bomb": Attack("const a = []; for (let i = 0; i < 64; i++) a.push(new Uint8Array(64 << 20).fill(1));"
                               " export default a.length", "sandbox_data_mb", "memory"),
    "output-flood": Attack('while (true) console.log("x".repeat(1000)); export default 1',
                           "output limit exceeded: more than 20000 bytes", "output"),
    "result-flood": Attack('export default "x".repeat(50000)', "the result is 50002 bytes", "output"),
    "tool-call-flood": Attack('while (true) await tools.echo.echo({ text: "again" }); export default 1',
                              "tool call limit exceeded: the code made more than 20 tool calls", "tool_calls"),
    "outside-allowed-servers": Attack('export default await tools.rich.get_weather({ city: "x" })',
                                      "tools.rich is not available to this run (servers: echo)", None,
                                      {"servers": ["echo"]}),
    "meta-recursion": Attack('export default await tools.meta_mcp.run_code({ code: "export default 1" })',
                             "tools.meta_mcp.run_code is not a tool of this run"),
    "meta-call-tool": Attack('export default await tools.meta_mcp.call_tool({ name: "rich__get_weather" })',
                             "tools.meta_mcp.call_tool is not a tool of this run"),
    "bridge-internals": Attack("const i = (Deno as any)[Deno.internal]; export default i.core.ops", "undefined"),
    # The static check: JavaScript's own reading of the code, not a lexer's guess (issue 9). Each of
    # these returned 42 (eval through node:vm) when a hand-written lexer decided what was code.
    "import-after-cr-comment": Attack(f'// x\rexport default {VM_42}', IMPORT_DENIED),
    "import-after-u2028-comment": Attack(f'// x\u2028export default {VM_42}', IMPORT_DENIED),
    "import-after-u2029-comment": Attack(f'// x\u2029export default {VM_42}', IMPORT_DENIED),
    "import-after-block-comment-cr": Attack(f'/* x\r */ export default {VM_42}', IMPORT_DENIED),
    "import-after-hashbang-cr": Attack(f'#!/x\rexport default {VM_42}', "a '#!' line that is not a single first line"),
    "import-after-hashbang-u2028": Attack(f'#!/x\u2028export default {VM_42}', "a '#!' line"),
    "html-comment-open": Attack(f'const a = 1;\n<!-- export default {VM_42}', "an HTML-like comment"),
    "html-comment-close": Attack(f'-->\nexport default {VM_42}', "an HTML-like comment"),
    "astral-identifier-regex": Attack('const \U0001d465 = 1; let p; \U0001d465 /(p = import("node:vm"))/ 1;'
                                      ' export default (await p).runInThisContext("6*7")', IMPORT_DENIED),
    "astral-identifier-division": Attack('const \U0001d465 = 2; const t = \U0001d465 / 1 / 1; export default '
                                         f'[t, {VM_42}]', IMPORT_DENIED),
    "escaped-import": Attack('export default (await \\u0069mport("node:vm")).runInThisContext("6*7")',
                             "imports are not available in run_code (an escaped 'import'"),
    "escaped-import-braces": Attack('export default (await imp\\u{6f}rt("node:vm")).runInThisContext("6*7")',
                                    "an escaped 'import'"),
    "import-in-template": Attack(f'export default `${{{VM_42}}}`', IMPORT_DENIED),
    "import-after-regex-class": Attack(f'const r = /[/]/; export default {VM_42}', IMPORT_DENIED),
    "import-type-position": Attack('type T = typeof import("node:vm"); export default 1', IMPORT_DENIED),
    "import-require": Attack('import vm = require("node:vm"); export default vm.runInThisContext("6*7")',
                             "an import declaration"),
    "unparseable": Attack('export default (1 +', "SyntaxError: the code does not parse"),
    # eval through node: builtins, and Worker, however they are reached
    "node-vm-import": Attack(f'export default {VM_42}', IMPORT_DENIED),
    "node-module-require": Attack('import { createRequire } from "node:module";'
                                  ' export default createRequire("/")("vm").runInThisContext("6*7")', IMPORT_DENIED),
    "node-worker-eval": Attack('const { Worker } = await import("node:worker_threads");'
                               ' new Worker("1", { eval: true }); export default 1', IMPORT_DENIED),
    "node-inspector-eval": Attack('const { Session } = await import("node:inspector"); export default Session',
                                  IMPORT_DENIED),
    "node-process-builtin": Attack('export default (globalThis as any).process.getBuiltinModule("vm")',
                                   "Cannot read properties of undefined"),
    "data-import-of-node-vm": Attack("export default (await import(\"data:text/javascript,export default (await "
                                     "import('node:vm')).runInThisContext('6*7')\")).default", IMPORT_DENIED),
    "blob-module": Attack('export default URL.createObjectURL(new Blob(["export default 42"]))',
                          "URL.createObjectURL is not a function"),
    "worker-from-globalthis": Attack('new (globalThis as any).Worker("data:text/javascript,1", { type: "module" });'
                                     " export default 1", "is not a constructor"),
}


def _fill(text: str, url: ServerUrl) -> str:
    port = str(url).split(":")[2].split("/")[0]
    return (text.replace("{port}", port).replace("{secret}", str(_secret())).replace("{dir}", str(SECRET_DIR)))


def deno_children(pid: int, *, waiting: bool = False) -> list[int]:
    """Deno processes whose parent is `pid` (meta-mcp): sandbox runs that are still alive. Processes of
    the pool that wait for a run (started ahead: nothing of any run in their directory yet) are not
    runs; `waiting=True` lists those instead."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and comm == "deno" and _waiting(entry) == waiting:
            found.append(int(entry.name))
    return found


def _waiting(proc: Path) -> bool:
    """A pooled process before its run: its directory has `main.ts` and no user module (written when taken)."""
    try:
        cwd = Path(os.readlink(proc / "cwd"))
    except OSError:
        return False
    return (cwd / "main.ts").exists() and not any((cwd / name).exists() for name in ("user.ts", "user.js"))


@pytest.fixture(scope="module")
async def meta_url() -> AsyncIterator[ServerUrl]:
    async with meta_mcp_http({"echo": upstream_entry("echo"), "rich": upstream_entry("rich")}, env=LIMITS) as url:
        yield url


@pytest.fixture
async def client(meta_url: ServerUrl) -> AsyncIterator[Any]:
    async with make_client(str(meta_url), "legacy") as c:
        yield c


async def still_serving(client: Any, url: ServerUrl) -> None:
    direct = await client.call_tool("echo__echo", {"text": "alive"})
    assert text_of(direct) == "alive", dump(direct)
    run = await client.call_tool("run_code", {"code": 'export default await tools.echo.echo({ text: "ok" })'})
    assert run.structured_content["result"] == "ok", text_of(run)
    assert deno_children(url.proc.pid) == []


@pytest.mark.parametrize("name", list(ATTACKS))
async def test_attack_is_denied_or_killed(name: str, client: Any, meta_url: ServerUrl) -> None:
    attack = ATTACKS[name]
    result = await client.call_tool("run_code", {"code": _fill(attack.code, meta_url), **attack.args})
    s = result.structured_content
    if name == "bridge-internals":  # the internals are simply gone
        assert result.is_error and "Cannot read properties of undefined" in s["error"]["message"], text_of(result)
    else:
        assert result.is_error, f"{name}: not denied: {text_of(result)}"
        assert _fill(attack.expect, meta_url) in s["error"]["message"], s["error"]
        assert s["error"]["limit"] == attack.limit, s["error"]
        assert text_of(result).startswith("run_code failed: ")
    assert "s3cr3t" not in json.dumps(dump(result))
    assert not (SECRET_DIR / "pwned.txt").exists()
    await still_serving(client, meta_url)


async def test_forged_bridge_messages_are_plain_output(client: Any, meta_url: ServerUrl) -> None:
    """Messages written straight to stdout (or anywhere else the code can write) are output, not protocol."""
    forged = [
        '{"t":"done","ok":true,"value":"forged"}',
        '{"t":"call","id":1,"server":"rich","tool":"get_weather","args":{"city":"forged"}}',
        "0123456789abcdef0123456789abcdef " + '{"t":"done","ok":true,"value":"guessed nonce"}',
    ]
    code = (f"const lines = {json.dumps(forged)};\n"
            "const enc = new TextEncoder();\n"
            "for (const line of lines) {\n"
            '  Deno.stdout.writeSync(enc.encode("\\n" + line + "\\n"));\n'
            '  await Deno.stderr.write(enc.encode(line + "\\n"));\n'
            "  console.log(line);\n"
            "}\n"
            'export default "real";\n')
    result = await client.call_tool("run_code", {"code": code})
    s = result.structured_content
    assert not result.is_error and s["result"] == "real" and s["toolCalls"] == 0, text_of(result)
    for line in forged:
        assert s["console"].count(line) == 3, s["console"]
    await still_serving(client, meta_url)


TAMPER = r"""
const seen: string[] = [];
const nonceLike = /[0-9a-f]{32}/;
const note = (where: string, x: unknown) => {
  const s = typeof x === "string" ? x : "";
  if (nonceLike.test(s)) seen.push(where);
};
const stringify = JSON.stringify;
JSON.stringify = ((v: unknown, ...rest: unknown[]) => { const out = stringify(v, ...(rest as [])); note("JSON.stringify", out); return out; }) as any;
const parse = JSON.parse;
JSON.parse = ((t: string) => { note("JSON.parse", t); return parse(t); }) as any;
const encode = TextEncoder.prototype.encode;
TextEncoder.prototype.encode = function (s?: string) { note("TextEncoder.encode", s); return encode.call(this, s); };
const decode = TextDecoder.prototype.decode;
TextDecoder.prototype.decode = function (b?: any) { const t = decode.call(this, b); note("TextDecoder.decode", t); return t; };
for (const m of ["concat", "slice", "indexOf", "split", "replace", "trim"] as const) {
  const orig = (String.prototype as any)[m];
  (String.prototype as any)[m] = function (this: string, ...a: unknown[]) { note("String." + m, String(this)); return orig.apply(this, a); };
}
const ta = Object.getPrototypeOf(Uint8Array.prototype);
const length = Object.getOwnPropertyDescriptor(ta, "length")!.get!;
Object.defineProperty(ta, "length", { get() { return length.call(this); }, configurable: true });
for (const m of ["subarray", "set", "indexOf", "slice"] as const) {
  const orig = (Uint8Array.prototype as any)[m];
  (Uint8Array.prototype as any)[m] = function (this: Uint8Array, ...a: unknown[]) {
    note("Uint8Array." + m, new TextDecoder().decode(this)); return orig.apply(this, a);
  };
}
const call = Function.prototype.call;
Function.prototype.call = function (this: any, self: unknown, ...a: unknown[]) { note("Function.call", self); return Reflect.apply(this, self, a); };
const get = Map.prototype.get;
Map.prototype.get = function (this: any, k: unknown) { return get.call(this, k); };
Map.prototype.set = function () { throw new Error("Map.set is broken"); };
Map.prototype.delete = function () { throw new Error("Map.delete is broken"); };
Promise.prototype.then = new Proxy(Promise.prototype.then, {});
Object.defineProperty(Object.prototype, "t", { set() { seen.push("setter t"); }, configurable: true });

const first = await tools.echo.echo({ text: "through" });
const [a, b] = await Promise.all([tools.rich.echo({ value: 1 }), tools.echo.echo({ text: "two" })]);
let failed = "";
try { await tools.rich.fail({ message: "still an error" }); } catch (e) { failed = (e as Error).message; }
(Object.prototype as any).toJSON = () => "hijacked";
let hijacked = "";
try { await tools.echo.echo({ text: "x" }); } catch (e) { hijacked = String(e); }
delete (Object.prototype as any).toJSON;
console.log("logged after tampering");
export default { first, a, b, failed, hijacked, seen };
"""


async def test_tampering_with_prototypes_does_not_reach_the_bridge(client: Any, meta_url: ServerUrl) -> None:
    result = await client.call_tool("run_code", {"code": TAMPER})
    s = result.structured_content
    assert not result.is_error, text_of(result)
    value = s["result"]
    assert (value["first"], value["a"], value["b"]) == ("through", {"value": 1}, "two")
    assert value["failed"] == "rich failure: still an error"
    assert "must serialize to a JSON object" in value["hijacked"]  # the code's own data, changed by its own hook
    assert value["seen"] == [], "a patched builtin saw a nonce-carrying message"
    assert s["console"] == "logged after tampering\n" and s["toolCalls"] == 4
    await still_serving(client, meta_url)


async def test_attacks_do_not_disturb_concurrent_runs_and_calls(meta_url: ServerUrl) -> None:
    """Bombs, a loop and a flood run at once with honest runs and direct calls; every honest one succeeds."""
    attacks = {name: ATTACKS[name] for name in ("infinite-loop", "heap-bomb", "arraybuffer-bomb", "output-flood")}
    honest = {f"honest-{i}": f'const r = await tools.echo.echo({{ text: "honest {i}" }});\n'
                             f'const w = await tools.rich.get_weather({{ city: "c{i}" }});\n'
                             "export default [r, w.city]" for i in range(4)}
    outcomes: dict[str, Any] = {}

    async def run(name: str, code: str, **args: Any) -> None:
        async with make_client(str(meta_url), "legacy") as c:
            outcomes[name] = await c.call_tool("run_code", {"code": code, **args})

    async def direct_calls() -> None:
        async with make_client(str(meta_url), "auto") as c:
            for i in range(20):
                r = await c.call_tool("echo__echo", {"text": f"direct {i}"})
                assert text_of(r) == f"direct {i}"
        outcomes["direct"] = True

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for name, attack in attacks.items():
                tg.start_soon(lambda n=name, a=attack: run(n, a.code, **a.args))
            for name, code in honest.items():
                tg.start_soon(run, name, code)
            tg.start_soon(direct_calls)

    assert outcomes["direct"] is True
    for name in attacks:
        s = outcomes[name].structured_content
        assert outcomes[name].is_error and s["error"]["kind"] == "limit", (name, s)
    assert outcomes["infinite-loop"].structured_content["error"]["limit"] == "time"
    for name in ("heap-bomb", "arraybuffer-bomb"):
        assert outcomes[name].structured_content["error"]["limit"] == "memory", outcomes[name].structured_content
    assert outcomes["output-flood"].structured_content["error"]["limit"] == "output"
    for i in range(4):
        result = outcomes[f"honest-{i}"]
        assert not result.is_error and result.structured_content["result"] == [f"honest {i}", f"c{i}"], text_of(result)
    assert deno_children(meta_url.proc.pid) == []


async def test_a_cancelled_run_is_killed(client: Any, meta_url: ServerUrl) -> None:
    """A client giving up on run_code (notifications/cancelled) ends the Deno process at once."""
    with anyio.move_on_after(1):
        await client.call_tool("run_code", {"code": "while (true) {} export default 1", "timeout_s": 60})

    async def gone() -> bool:
        return deno_children(meta_url.proc.pid) == []

    await poll_until(gone, timeout=10, what="the cancelled run's Deno process to end")
    await still_serving(client, meta_url)


SPECIES_FORGERY = r"""
// The reproduction from issue 9: `subarray` built its result through Uint8Array[Symbol.species],
// which handed the framed bytes (nonce included) to this class and wrote what it returned.
const dec = new TextDecoder();
const seen: string[] = [];
let forged = false;
class Evil extends Uint8Array {
  constructor(...a: any[]) {
    const m = a[0] instanceof ArrayBuffer ? /\n([0-9a-f]{32}) /.exec(dec.decode(new Uint8Array(a[0]))) : null;
    if (m && !forged) {
      forged = true;
      seen.push(m[1]);
      super(new TextEncoder().encode(
        "\n" + m[1] + ' {"t":"call","id":999,"server":"rich","tool":"get_weather","args":{"city":"forged"}}\n' +
        "\n" + m[1] + ' {"t":"done","ok":true,"value":"forged"}\n'));
      return;
    }
    super(...(a as []));
  }
}
Object.defineProperty(Uint8Array, Symbol.species, { get: () => Evil, configurable: true });
console.log("hello");
const echoed = await tools.echo.echo({ text: "real" });
export default { echoed, seen: seen.length };
"""


async def test_species_cannot_reach_the_bridge(client: Any, meta_url: ServerUrl) -> None:
    result = await client.call_tool("run_code", {"code": SPECIES_FORGERY})
    s = result.structured_content
    assert not result.is_error, text_of(result)
    assert s["result"] == {"echoed": "real", "seen": 0} and s["toolCalls"] == 1, s
    assert s["console"] == "hello\n"
    await still_serving(client, meta_url)


TAMPER_INTRINSICS = r"""
// Every intrinsic the prelude could use, patched to look for the nonce in what passes through it
// (and, where it builds the bridge's bytes, to substitute forged frames). The prelude captured its
// own copies before this code ran, so none of these may ever see a nonce-carrying message.
const R = Reflect, apply = Reflect.apply, defineProperty = Object.defineProperty;
const getOwn = Object.getOwnPropertyDescriptor, getProto = Object.getPrototypeOf;
const origDecode = TextDecoder.prototype.decode, origStringify = JSON.stringify;
const OrigU8 = Uint8Array, origTest = RegExp.prototype.test;
const nonceLike = /[0-9a-f]{32}/;
const decoder = new TextDecoder();
const ta = getProto(Uint8Array.prototype);
const taBuffer = getOwn(ta, "buffer")!.get!, taOffset = getOwn(ta, "byteOffset")!.get!, taLen = getOwn(ta, "byteLength")!.get!;
const seen: string[] = [];
let busy = false;
function look(where: string, ...xs: unknown[]): void {
  if (busy) return;
  busy = true;
  try {
    for (const x of xs) {
      let text = "";
      if (typeof x === "string") text = x;
      else if (x instanceof ArrayBuffer) text = apply(origDecode, decoder, [new OrigU8(x)]);
      else if (ArrayBuffer.isView(x)) {
        text = apply(origDecode, decoder, [new OrigU8(apply(taBuffer, x, []), apply(taOffset, x, []), apply(taLen, x, []))]);
      } else if (x !== null && typeof x === "object") {
        try { text = apply(origStringify, JSON, [x]) ?? ""; } catch { text = ""; }
      }
      if (apply(origTest, nonceLike, [text])) seen.push(where);
    }
  } catch { /* a value we cannot look at */ } finally {
    busy = false;
  }
}
function spyMethod(owner: any, key: PropertyKey, where: string) {
  const orig = owner[key];
  defineProperty(owner, key, {
    value: function (this: unknown, ...args: unknown[]) {
      look(where, this, ...args);
      const result = new.target ? R.construct(orig, args, new.target) : apply(orig, this, args);
      look(where + " result", result);
      return result;
    }, writable: true, configurable: true,
  });
}
function spyGetter(owner: any, key: PropertyKey, where: string) {
  const get = getOwn(owner, key)!.get!;
  defineProperty(owner, key, { get() { look(where, this); return apply(get, this, []); }, configurable: true });
}

// Symbol.species: typed arrays, arrays, promises
class EvilU8 extends OrigU8 {
  constructor(...a: any[]) { look("Uint8Array species", a[0]); super(...(a as [])); }
}
defineProperty(Uint8Array, Symbol.species, { get: () => EvilU8, configurable: true });
defineProperty(ta.constructor, Symbol.species, { get: () => EvilU8, configurable: true });
class EvilArray extends Array {
  constructor(...a: any[]) { look("Array species", ...a); super(...a); }
}
defineProperty(Array, Symbol.species, { get: () => EvilArray, configurable: true });
const OrigPromise = Promise;
class EvilPromise<T> extends OrigPromise<T> {
  constructor(executor: any) {
    super((resolve: any, reject: any) => executor((v: unknown) => { look("Promise species", v); resolve(v); }, reject));
  }
}
defineProperty(Promise, Symbol.species, { get: () => EvilPromise, configurable: true });
defineProperty(Promise.prototype, "constructor", { value: EvilPromise, writable: true, configurable: true });
const origThen = Promise.prototype.then;
defineProperty(Promise.prototype, "then", {
  value: function (this: Promise<unknown>, f?: any, r?: any) {
    return apply(origThen, this, [(v: unknown) => { look("Promise.then", v); return f ? f(v) : v; }, r]);
  }, writable: true, configurable: true,
});

// JSON, text coding, typed arrays, buffers, strings, collections, functions, events
spyMethod(JSON, "stringify", "JSON.stringify");
spyMethod(JSON, "parse", "JSON.parse");
spyMethod(TextEncoder.prototype, "encode", "TextEncoder.encode");
spyMethod(TextEncoder.prototype, "encodeInto", "TextEncoder.encodeInto");
spyMethod(TextDecoder.prototype, "decode", "TextDecoder.decode");
for (const key of ["length", "buffer", "byteOffset", "byteLength"]) spyGetter(ta, key, "TypedArray." + key);
for (const key of ["subarray", "slice", "set", "indexOf", "fill", "map", "filter", "at", "copyWithin"]) {
  spyMethod(ta, key, "TypedArray." + key);
}
spyMethod(ArrayBuffer.prototype, "slice", "ArrayBuffer.slice");
for (const key of ["concat", "slice", "indexOf", "split", "replace", "trim", "charCodeAt", "toString"]) {
  spyMethod(String.prototype, key, "String." + key);
}
for (const key of ["join", "push", "map", "slice", "concat", "indexOf"]) spyMethod(Array.prototype, key, "Array." + key);
for (const key of ["get", "set", "delete", "has"]) spyMethod(Map.prototype, key, "Map." + key);
for (const key of ["add", "has", "delete"]) spyMethod(Set.prototype, key, "Set." + key);
for (const key of ["call", "apply", "bind"]) spyMethod(Function.prototype, key, "Function." + key);
spyMethod(Event.prototype, "preventDefault", "Event.preventDefault");
spyGetter(PromiseRejectionEvent.prototype, "reason", "PromiseRejectionEvent.reason");
spyMethod(Object, "defineProperty", "Object.defineProperty");
spyMethod(Reflect, "apply", "Reflect.apply");
defineProperty(Object.prototype, "toJSON", {
  get() { look("Object.prototype.toJSON", this); return undefined; }, configurable: true,
});

// The bridge at work: calls (alone, at once, failing), console output, writes, a stray rejection.
const first = await tools.echo.echo({ text: "through" });
const [a, b] = await Promise.all([tools.rich.echo({ value: 1 }), tools.echo.echo({ text: "two" })]);
let failed = "";
try { await tools.rich.fail({ message: "still an error" }); } catch (e) { failed = (e as Error).message; }
// Descriptors and records of the prelude must not inherit: an accessor here breaks a plain
// `{ value }` descriptor ("Cannot both specify accessors and a value").
defineProperty(Object.prototype, "get", { get() { return undefined; }, configurable: true });
let failedAgain = "";
try { await tools.rich.fail({ message: "with a polluted prototype" }); } catch (e) { failedAgain = (e as Error).message; }
delete (Object.prototype as any).get;
console.log("logged after tampering");
await Deno.stdout.write(new TextEncoder().encode("written after tampering\n"));
Promise.reject(new Error("nobody awaits"));
await new Promise((r) => setTimeout(r, 20));
delete (Object.prototype as any).toJSON;
export default { first, a, b, failed, failedAgain, seen };
"""


async def test_tampering_with_every_intrinsic_does_not_reach_the_bridge(client: Any, meta_url: ServerUrl) -> None:
    result = await client.call_tool("run_code", {"code": TAMPER_INTRINSICS})
    s = result.structured_content
    assert not result.is_error, text_of(result)
    value = s["result"]
    assert value["seen"] == [], "a patched intrinsic saw a nonce-carrying message"
    assert (value["first"], value["a"], value["b"]) == ("through", {"value": 1}, "two")
    assert value["failed"] == "rich failure: still an error"
    assert value["failedAgain"] == "rich failure: with a polluted prototype"
    assert s["toolCalls"] == 5
    assert "logged after tampering\nwritten after tampering\n" in s["console"]
    assert "Uncaught (in promise) Error: nobody awaits" in s["console"]
    await still_serving(client, meta_url)


MEMORY_BOUND_MB = 500
"""docs/sandbox.md: one run_code call cannot take meta-mcp past this, whatever the code sends."""

AMPLIFIERS = {
    # issue 9: ~4 MB of `[{},{},…]` per call, 12 calls at once, took meta-mcp from 72 MB to 2.25 GB
    "empty-objects": (("const big = Array(1_300_000).fill({});"
                       " await Promise.all(Array.from({ length: 12 }, () => tools.echo.echo({ big }))); export default 1"),
                      "message"),
    # just under the per-message limits, three times as many calls at once as are served at once
    "objects-under-the-limits": (("const big = Array(49_000).fill({ a: 0 });"
                                  " await Promise.all(Array.from({ length: 24 }, () => tools.echo.echo({ big })));"
                                  " export default 1"), None),
    # the largest strings a message may carry, astral (4 bytes a character in Python) and escaped again on the wire
    "astral-strings": (('const text = "\\u{1F600}".repeat(1_000_000 - 20);'
                        " await Promise.all(Array.from({ length: 100 }, () => tools.echo.echo({ text }))); export default 1"),
                       "received"),
}

BRIDGE_PROCESS = r"""
import json, sys, anyio
from meta_mcp.services.sandbox import Sandbox, SandboxLimits, ToolTable

TABLE = ToolTable.build([("echo", "echo", "echo__echo", {})])

async def registry_like(binding, args):
    # What the registry's call path does with the arguments: a JSON-RPC request for the upstream.
    wire = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                       "params": {"name": binding.exposed, "arguments": args}})
    await anyio.sleep(2)  # a slow upstream: the arguments stay alive meanwhile
    return {"content": [{"type": "text", "text": str(len(wire))}]}

async def main():
    sandbox = Sandbox()
    for code in sys.argv[1:]:
        run = await sandbox.run(code, TABLE, registry_like, SandboxLimits(timeout_s=120))
        print(json.dumps({"ok": run.ok, "limit": run.limit, "error": run.error, "calls": run.tool_calls}))
    status = open("/proc/self/status").read()
    print(json.dumps({k: int(v.split()[0]) // 1024 for k, v in (line.split(":", 1) for line in status.splitlines())
                      if k in ("VmHWM", "VmRSS")}))

anyio.run(main)
"""


async def test_what_the_sandbox_sends_cannot_amplify_into_meta_mcp_memory() -> None:
    """Issue 9: every byte meta-mcp accepts from the sandbox is bounded in size and decoding cost.
    The bridge runs in a process of its own here, with the default limits, so that its peak RSS
    (VmHWM) is the cost of these runs alone."""
    codes = [code for code, _ in AMPLIFIERS.values()]
    with anyio.fail_after(240):
        done = await anyio.run_process([sys.executable, "-c", BRIDGE_PROCESS, *codes], check=False)
    assert done.returncode == 0, done.stderr.decode()
    *runs, memory = [json.loads(line) for line in done.stdout.decode().splitlines()]
    for (name, (_, limit)), run in zip(AMPLIFIERS.items(), runs, strict=True):
        assert run["limit"] == limit, (name, run)
        if limit == "message":
            assert "sandbox_max_message_values" in run["error"] and run["calls"] == 0, (name, run)
        elif limit == "received":
            assert "sandbox_max_received_bytes" in run["error"], (name, run)
        else:
            assert run["ok"] and run["calls"] == 24, (name, run)
    assert memory["VmHWM"] < MEMORY_BOUND_MB, memory
