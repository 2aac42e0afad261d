// The prelude of every run_code process: loaded before the user's code, it speaks the bridge
// protocol (see bridge.py) and builds the sandbox's globals.
//
// What it promises:
// - `tools.<server>.<tool>(args)` sends one call message and returns a promise of the answer; an
//   error answer rejects with a `ToolError`; a name the run may not call throws at once.
// - console.* (Deno's own formatting) and writes to Deno.stdout / Deno.stderr become output
//   messages, in order.
// - The run's nonce, the real stdout and stdin are known only here, and no object through which
//   they can be reached is handed to user code. Every intrinsic the bridge uses after user code
//   starts is captured when this module loads, before any user code exists (the "primordials"
//   pattern of Node's own internals): methods are called through `uncurry` (a bound
//   `Function.prototype.call`), getters through their captured functions, and nothing the bridge
//   does consults a property user code can change — no `Symbol.species` (typed-array views are
//   made with the captured `Uint8Array` constructor, never `subarray` / `slice`), no
//   `Promise.prototype.then` or `.constructor` (promises are chained with the captured `then` on
//   promises whose own `constructor` is set to undefined, and the bridge never `await`s), no
//   inherited property of a descriptor or record (they have a null prototype), no user-replaceable
//   global (JSON, TextEncoder …). Messages are assembled from separately serialized parts, so user
//   data (arguments, the result — even with a patched `toJSON`) can change its own JSON but never
//   the message around it.
// - Removed from reach: Worker (it aborts the process under the data limit), `process` (its
//   getBuiltinModule reaches node:vm), Deno's internals, stdin, exit, localStorage, sessionStorage
//   and caches (they would persist on disk despite --deny-write), URL.createObjectURL (a `blob:`
//   URL is a module the import map cannot block).
// None of this is the security boundary — Deno's permissions, the import map, the OS limits and
// meta-mcp's checks are — but it keeps the bridge honest under hostile code.

// deno-lint-ignore-file no-explicit-any

type AnyFn = (...args: any[]) => any;
const FunctionPrototypeCall = Function.prototype.call;
const uncurry = <F extends AnyFn>(fn: F): ((self: unknown, ...args: Parameters<F>) => ReturnType<F>) =>
  FunctionPrototypeCall.bind(fn) as any;

const G = globalThis as any;
const DenoNs = G.Deno;
const ObjectFreeze = Object.freeze;
const ObjectCreate = Object.create;
const ObjectDefineProperty = Object.defineProperty;
const ObjectGetOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
const ObjectGetPrototypeOf = Object.getPrototypeOf;
const ObjectHasOwn = Object.hasOwn;
const ArrayIsArray = Array.isArray;
const ReflectDeleteProperty = Reflect.deleteProperty;
const JSONStringify = JSON.stringify;
const JSONParse = JSON.parse;
const StringCtor = String;
const ErrorCtor = Error;
const CaptureStackTrace: (target: object, fn: AnyFn) => void = (Error as any).captureStackTrace;
const TypeErrorCtor = TypeError;
const PromiseCtor = Promise;
const PromisePrototypeThen = uncurry(Promise.prototype.then);
const ProxyCtor = Proxy;
const Uint8ArrayCtor = Uint8Array;
const TypedArrayPrototype = ObjectGetPrototypeOf(Uint8Array.prototype);
const getter = (proto: object, key: string) => uncurry(ObjectGetOwnPropertyDescriptor(proto, key)!.get!);
const TypedArrayLength = getter(TypedArrayPrototype, "length");
const TypedArrayBuffer = getter(TypedArrayPrototype, "buffer");
const TypedArrayByteOffset = getter(TypedArrayPrototype, "byteOffset");
const U8IndexOf = uncurry(Uint8Array.prototype.indexOf);
const U8Set = uncurry(Uint8Array.prototype.set);
const U8Fill = uncurry(Uint8Array.prototype.fill);
const MapCtor = Map;
const MapGet = uncurry(Map.prototype.get);
const MapSet = uncurry(Map.prototype.set);
const MapDelete = uncurry(Map.prototype.delete);
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const Encode = uncurry(TextEncoder.prototype.encode);
const Decode = uncurry(TextDecoder.prototype.decode);
const EventPreventDefault = uncurry(Event.prototype.preventDefault);
const RejectionReason = getter(PromiseRejectionEvent.prototype, "reason");
const ErrorEventError = getter(ErrorEvent.prototype, "error");
const stdoutWrite: (p: Uint8Array) => number = DenoNs.stdout.writeSync.bind(DenoNs.stdout);
const stdinRead: (p: Uint8Array) => Promise<number | null> = DenoNs.stdin.read.bind(DenoNs.stdin);
const exit: (code: number) => never = DenoNs.exit;
const internal = DenoNs[DenoNs.internal];
const ConsoleCtor = internal.Console;
const addEventListener = G.addEventListener.bind(G);

/** A property descriptor no inherited property (a polluted Object.prototype.get …) can change. */
const data = (value: unknown, flags = 0): PropertyDescriptor => ({
  __proto__: null,
  value,
  writable: (flags & 1) !== 0,
  enumerable: (flags & 2) !== 0,
  configurable: (flags & 4) !== 0,
} as any);
const WRITABLE = 1, ENUMERABLE = 2, CONFIGURABLE = 4;

/** `p.then(onFulfilled, onRejected)` that no user patch can observe: the captured `then`, and an own
 * `constructor` of undefined so the derived promise is made by the real Promise, not a species. */
function chain(p: Promise<any>, onFulfilled: (v: any) => void, onRejected: (e: unknown) => void): void {
  ObjectDefineProperty(p, "constructor", data(undefined));
  PromisePrototypeThen(p, onFulfilled, onRejected);
}

// -- stdout: nonce-framed messages --------------------------------------------------------------------

let framePrefix = ""; // "\n" + nonce + " ", set once the init line has been read

function writeAll(bytes: Uint8Array): void {
  // Views are made with the captured constructor: `subarray` would build them through
  // `Uint8Array[Symbol.species]`, which user code can redefine to receive (and replace) the bytes.
  const buffer = TypedArrayBuffer(bytes), offset = TypedArrayByteOffset(bytes), length = TypedArrayLength(bytes);
  let written = 0;
  while (written < length) written += stdoutWrite(new Uint8ArrayCtor(buffer, offset + written, length - written));
}

/** Write one bridge message, given as the JSON text of an object. */
function send(json: string): void {
  writeAll(Encode(encoder, framePrefix + json + "\n"));
}

/** JSON text of user data; throws a TypeError naming `what` if it has none (a function, a BigInt, a cycle). */
function toJson(value: unknown, what: string): string {
  let json: unknown;
  try {
    json = JSONStringify(value);
  } catch (e) {
    throw new TypeErrorCtor(`${what} is not JSON-serializable (${describeThrown(e)})`);
  }
  if (typeof json !== "string") throw new TypeErrorCtor(`${what} is not JSON-serializable`);
  return json;
}

function describeThrown(e: unknown): string {
  try {
    return e instanceof ErrorCtor ? StringCtor(e.message) : StringCtor(e);
  } catch {
    return "?";
  }
}

// Messages are assembled from separately serialized parts: user data (arguments, the result) can
// change its own JSON (toJSON, getters, a patched Object.prototype) but never the message around it.
function output(text: string): void {
  send('{"t":"out","text":' + JSONStringify(typeof text === "string" ? text : StringCtor(text)) + "}");
}

// -- stdin: the init line, then answers ---------------------------------------------------------------

const inbox = new Uint8ArrayCtor(65536);
let unread = new Uint8ArrayCtor(0);

/** The next complete line of stdin as text, or null if none has arrived yet. */
function takeLine(wipe: boolean): string | null {
  const end = U8IndexOf(unread, 10);
  if (end < 0) return null;
  const buffer = TypedArrayBuffer(unread), offset = TypedArrayByteOffset(unread);
  const line = new Uint8ArrayCtor(buffer, offset, end);
  const text = Decode(decoder, line);
  if (wipe) U8Fill(line, 0);
  unread = new Uint8ArrayCtor(buffer, offset + end + 1, TypedArrayLength(unread) - end - 1);
  return text;
}

/** Read stdin, handing every complete line to `onLine` (with `wipe`: its bytes are zeroed after
 * decoding); `onEnd` when stdin closes. Callbacks only: the bridge never awaits. */
function readLines(onLine: (text: string) => boolean, onEnd: () => void, wipe = false): void {
  for (;;) {
    const text = takeLine(wipe);
    if (text === null) break;
    if (!onLine(text)) return;
  }
  chain(stdinRead(inbox), (n: number | null) => {
    if (n === null) return onEnd();
    const had = TypedArrayLength(unread);
    const grown = new Uint8ArrayCtor(had + n);
    U8Set(grown, unread, 0);
    U8Set(grown, new Uint8ArrayCtor(TypedArrayBuffer(inbox), 0, n), had);
    U8Fill(inbox, 0, 0, n);
    unread = grown;
    readLines(onLine, onEnd, wipe);
  }, (e: unknown) => {
    output(`bridge: ${describeThrown(e)}\n`);
    onEnd();
  });
}

// -- tools --------------------------------------------------------------------------------------------

class ToolError extends ErrorCtor {
  declare readonly server: string;
  declare readonly tool: string;
  constructor(message: string, server: string, tool: string) {
    super(message);
    ObjectDefineProperty(this, "name", data("ToolError", WRITABLE | CONFIGURABLE));
    ObjectDefineProperty(this, "server", data(server, ENUMERABLE));
    ObjectDefineProperty(this, "tool", data(tool, ENUMERABLE));
  }
}
ObjectFreeze(ToolError.prototype);
ObjectFreeze(ToolError);

type Pending = {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  error: ToolError;
};
const pending = new MapCtor<number, Pending>();
let lastId = 0;

function makeTool(server: string, tool: string): AnyFn {
  const quotedServer = JSONStringify(server);
  const quotedTool = JSONStringify(tool);
  const fn = function (args?: unknown): Promise<unknown> {
    if (args === undefined) args = {};
    if (args === null || typeof args !== "object" || ArrayIsArray(args)) {
      throw new TypeErrorCtor(`tools.${server}.${tool}: the arguments must be an object`);
    }
    const json = toJson(args, `tools.${server}.${tool}: the arguments`);
    if (json[0] !== "{") throw new TypeErrorCtor(`tools.${server}.${tool}: the arguments must serialize to a JSON object`);
    const id = ++lastId;
    // Made now, so that its stack shows where the code made the call; the message comes with the answer.
    const error = new ToolError("", server, tool);
    CaptureStackTrace(error, fn);
    let record: Pending | undefined;
    const promise = new PromiseCtor((resolve, reject) => {
      record = { __proto__: null, resolve, reject, error } as any;
    });
    MapSet(pending, id, record);
    send('{"t":"call","id":' + id + ',"server":' + quotedServer + ',"tool":' + quotedTool + ',"args":' + json + "}");
    return promise;
  };
  ObjectDefineProperty(fn, "name", data(tool, CONFIGURABLE));
  return ObjectFreeze(fn);
}

function guarded(target: object, describe: (key: string) => string): object {
  return new ProxyCtor(ObjectFreeze(target), {
    __proto__: null,
    get(t: any, key: string | symbol) {
      if (typeof key === "symbol" || ObjectHasOwn(t, key)) return t[key];
      if (key === "then" || key === "toJSON") return undefined; // `await x` and JSON probe these
      throw new TypeErrorCtor(describe(key));
    },
    set() {
      return false;
    },
    defineProperty() {
      return false;
    },
    deleteProperty() {
      return false;
    },
  } as ProxyHandler<object>);
}

function buildTools(manifest: Record<string, string[]>): object {
  const servers = ObjectCreate(null);
  const serverList: string[] = [];
  for (const server in manifest) {
    serverList[serverList.length] = server;
    const tools = ObjectCreate(null);
    const names: string[] = manifest[server];
    for (let i = 0; i < names.length; i++) {
      ObjectDefineProperty(tools, names[i], data(makeTool(server, names[i]), ENUMERABLE));
    }
    const known = names.join(", ");
    ObjectDefineProperty(servers, server, data(
      guarded(tools, (key) => `tools.${server}.${key} is not a tool of this run (tools.${server} has: ${known})`),
      ENUMERABLE,
    ));
  }
  const known = serverList.length ? serverList.join(", ") : "none";
  return guarded(servers, (key) => `tools.${key} is not available to this run (servers: ${known})`);
}

/** One answer line from meta-mcp: settle the call it answers. */
function answer(text: string): boolean {
  let reply: any;
  try {
    reply = JSONParse(text);
  } catch (e) {
    output(`bridge: ${describeThrown(e)}\n`);
    return true;
  }
  if (reply === null || typeof reply !== "object" || !ObjectHasOwn(reply, "id")) return true;
  const entry = MapGet(pending, reply.id);
  if (entry === undefined) return true;
  MapDelete(pending, reply.id);
  if (reply.ok === true) {
    entry.resolve(ObjectHasOwn(reply, "value") ? reply.value : null);
  } else {
    const message = ObjectHasOwn(reply, "error") ? StringCtor(reply.error) : "the tool call failed";
    ObjectDefineProperty(entry.error, "message", data(message, WRITABLE | CONFIGURABLE));
    entry.reject(entry.error);
  }
  return true;
}

// -- the sandbox's globals ----------------------------------------------------------------------------

function remove(object: any, key: PropertyKey): void {
  if (!ReflectDeleteProperty(object, key)) ObjectDefineProperty(object, key, data(undefined));
}

function harden(tools: object): void {
  const print = (text: string) => output(text);
  const console = new ConsoleCtor((msg: string) => print(msg));
  const consoleError: AnyFn = console.error; // an own arrow function of this console
  ObjectDefineProperty(G, "console", data(console, WRITABLE | CONFIGURABLE));
  const sink = (name: string) =>
    ObjectFreeze({
      __proto__: null,
      writeSync(p: Uint8Array) {
        print(Decode(decoder, p));
        return TypedArrayLength(p);
      },
      write(p: Uint8Array) {
        print(Decode(decoder, p));
        const n = TypedArrayLength(p);
        return new PromiseCtor((resolve) => resolve(n));
      },
      close() {},
      isTerminal: () => false,
      toString: () => `[sandbox ${name}]`,
    });
  ObjectDefineProperty(DenoNs, "stdout", data(sink("stdout"), CONFIGURABLE));
  ObjectDefineProperty(DenoNs, "stderr", data(sink("stderr"), CONFIGURABLE));
  ObjectDefineProperty(DenoNs, "exit", data(() => {
    throw new ErrorCtor("Deno.exit is not available in run_code: finish with `export default <value>`");
  }, CONFIGURABLE));
  const unavailable = (what: string) => () => {
    throw new ErrorCtor(`${what} is not available in run_code`);
  };
  ObjectDefineProperty(DenoNs, "stdin", data(
    ObjectFreeze({ __proto__: null, read: unavailable("Deno.stdin"), readSync: unavailable("Deno.stdin") }),
    CONFIGURABLE,
  ));
  remove(DenoNs, DenoNs.internal);
  for (const key of ["Worker", "process", "localStorage", "sessionStorage", "caches"]) remove(G, key);
  remove(G.URL, "createObjectURL");
  ObjectDefineProperty(G, "tools", data(tools, ENUMERABLE));
  ObjectDefineProperty(G, "ToolError", data(ToolError, WRITABLE | CONFIGURABLE));
  // Like a browser page, a run survives an error in a callback or a rejection nobody awaited: it is
  // reported on the console and the run goes on to its default export.
  addEventListener("unhandledrejection", (event: any) => {
    EventPreventDefault(event);
    consoleError("Uncaught (in promise)", RejectionReason(event));
  });
  addEventListener("error", (event: any) => {
    EventPreventDefault(event);
    consoleError("Uncaught", ErrorEventError(event));
  });
}

/** The JSON text of `{name, message, stack}` for whatever the code threw. */
function describeError(e: unknown): string {
  let name = "thrown value", message: string, stack = "";
  try {
    if (e instanceof ErrorCtor) {
      name = StringCtor(e.name);
      message = StringCtor(e.message);
      stack = StringCtor(e.stack);
    } else {
      message = StringCtor(e);
    }
  } catch {
    message = "a value that cannot be shown";
  }
  return '{"name":' + JSONStringify(name) + ',"message":' + JSONStringify(message) + ',"stack":' +
    JSONStringify(stack) + "}";
}

let started = false;

/** Run the user's module (`load(javascript)` imports it: `user.js` or `user.ts`, as the init line
 * says): read the init line, set up the globals, start answering calls, and send the default
 * export's value (or the error) as the `done` message. Until the init line arrives the process has
 * seen nothing of its run (a pooled process waits here), and no user code exists. */
export function start(load: (javascript: boolean) => Promise<any>): void {
  if (started) throw new ErrorCtor("the sandbox has started");
  started = true;
  readLines((line) => {
    let init: any = null;
    try {
      init = JSONParse(line);
    } catch {
      // not an init line: exit below
    }
    if (init === null || typeof init !== "object" || typeof init.nonce !== "string") exit(70);
    framePrefix = "\n" + init.nonce + " ";
    const javascript = init.javascript === true;
    harden(buildTools(init.tools));
    readLines(answer, () => {});
    run(() => load(javascript));
    return false; // the answer loop reads from here on
  }, () => exit(70), true);
}

function run(load: () => Promise<any>): void {
  let finished = false;
  const finish = (done: string) => {
    if (finished) return;
    finished = true;
    send(done);
    exit(0);
  };
  const fail = (e: unknown) => finish('{"t":"done","ok":false,"error":' + describeError(e) + "}");
  const succeed = (value: unknown) => {
    try {
      finish('{"t":"done","ok":true,"value":' + (value === undefined ? "null" : toJson(value, "the default export")) + "}");
    } catch (e) {
      fail(e);
    }
  };
  let loading: Promise<any>;
  try {
    loading = load();
  } catch (e) {
    return fail(e);
  }
  chain(loading, (module: any) => {
    let value: Promise<unknown>;
    try {
      const exported = module.default; // a module namespace: no getters user code could have set
      // The default export is awaited if it is a promise (or any thenable: the code's own choice).
      value = new PromiseCtor((resolve) => resolve(exported));
    } catch (e) {
      return fail(e);
    }
    chain(value, succeed, fail);
  }, fail);
}
