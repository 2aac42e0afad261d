// The prelude of every run_code process: loaded before the user's code, it speaks the bridge
// protocol (see bridge.py) and builds the sandbox's globals.
//
// What it promises:
// - `tools.<server>.<tool>(args)` sends one call message and returns a promise of the answer; an
//   error answer rejects with a `ToolError`; a name the run may not call throws at once.
// - console.* (Deno's own formatting) and writes to Deno.stdout / Deno.stderr become output
//   messages, in order.
// - The run's nonce is known only here. Everything the bridge uses is captured before user code
//   runs (the "primordials" pattern: `uncurry` binds a method to `Function.prototype.call`), so code
//   that patches prototypes or globals later can neither see the nonce nor change what the bridge
//   writes. Messages are assembled from
//   separately serialized parts, so user data can change its own JSON but not the message.
// - Removed from reach: Worker (it aborts the process under the data limit), `process` (its
//   getBuiltinModule reaches node:vm), Deno's internals, stdin, exit, localStorage, sessionStorage
//   and caches (they would persist on disk despite --deny-write), URL.createObjectURL (a `blob:`
//   URL is a module the import map cannot block).
// None of this is the security boundary — Deno's permissions, the OS limits and meta-mcp's checks
// are — but it keeps the bridge honest under hostile code.

// deno-lint-ignore-file no-explicit-any

type AnyFn = (...args: any[]) => any;
const FunctionCall = Function.prototype.call;
const uncurry = <F extends AnyFn>(fn: F): ((self: unknown, ...args: Parameters<F>) => ReturnType<F>) =>
  FunctionCall.bind(fn) as any;

const G = globalThis as any;
const DenoNs = G.Deno;
const ObjectFreeze = Object.freeze;
const ObjectCreate = Object.create;
const ObjectDefineProperty = Object.defineProperty;
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
const ProxyCtor = Proxy;
const Uint8ArrayCtor = Uint8Array;
const MapCtor = Map;
const MapGet = uncurry(Map.prototype.get);
const MapSet = uncurry(Map.prototype.set);
const MapDelete = uncurry(Map.prototype.delete);
const TypedArrayLength = uncurry(
  Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), "length")!.get!,
);
const U8IndexOf = uncurry(Uint8Array.prototype.indexOf);
const U8Subarray = uncurry(Uint8Array.prototype.subarray);
const U8Set = uncurry(Uint8Array.prototype.set);
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const Encode = uncurry(TextEncoder.prototype.encode);
const Decode = uncurry(TextDecoder.prototype.decode);
const stdoutWrite: (p: Uint8Array) => number = DenoNs.stdout.writeSync.bind(DenoNs.stdout);
const stdinRead: (p: Uint8Array) => Promise<number | null> = DenoNs.stdin.read.bind(DenoNs.stdin);
const exit: (code: number) => never = DenoNs.exit;
const internal = DenoNs[DenoNs.internal];
const ConsoleCtor = internal.Console;
const addEventListener = G.addEventListener.bind(G);

let framePrefix = ""; // "\n" + nonce + " ", set by start()

function writeAll(bytes: Uint8Array): void {
  while (TypedArrayLength(bytes) > 0) bytes = U8Subarray(bytes, stdoutWrite(bytes));
}

/** Write one bridge message, given as the JSON text of an object. */
function send(json: string): void {
  writeAll(Encode(encoder, framePrefix + json + "\n"));
}

/** JSON text of user data; throws a TypeError naming `what` if it has none (a function, a BigInt, a cycle). */
function toJson(value: unknown, what: string): string {
  let json: string | undefined;
  try {
    json = JSONStringify(value);
  } catch (e) {
    throw new TypeErrorCtor(`${what} is not JSON-serializable (${e instanceof ErrorCtor ? StringCtor(e.message) : "?"})`);
  }
  if (typeof json !== "string") throw new TypeErrorCtor(`${what} is not JSON-serializable`);
  return json;
}

// Messages are assembled from separately serialized parts: user data (arguments, the result) can
// change its own JSON (toJSON, getters, a patched Object.prototype) but never the message around it.
function output(text: string): void {
  send('{"t":"out","text":' + JSONStringify(StringCtor(text)) + "}");
}

// -- stdin: the init line, then answers -------------------------------------------------------------

const inbox = new Uint8ArrayCtor(65536);
let buffered = new Uint8ArrayCtor(0);

async function readLine(): Promise<any> {
  while (true) {
    const end = U8IndexOf(buffered, 10);
    if (end >= 0) {
      const line = U8Subarray(buffered, 0, end);
      buffered = U8Subarray(buffered, end + 1);
      return JSONParse(Decode(decoder, line));
    }
    const n = await stdinRead(inbox);
    if (n === null) return null;
    const grown = new Uint8ArrayCtor(TypedArrayLength(buffered) + n);
    U8Set(grown, buffered, 0);
    U8Set(grown, U8Subarray(inbox, 0, n), TypedArrayLength(buffered));
    buffered = grown;
  }
}

// -- tools ----------------------------------------------------------------------------------------

class ToolError extends ErrorCtor {
  declare readonly server: string;
  declare readonly tool: string;
  constructor(message: string, server: string, tool: string) {
    super(message);
    ObjectDefineProperty(this, "name", { value: "ToolError", configurable: true, writable: true });
    ObjectDefineProperty(this, "server", { value: server, enumerable: true });
    ObjectDefineProperty(this, "tool", { value: tool, enumerable: true });
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
  ObjectDefineProperty(fn, "name", { value: tool });
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
      ObjectDefineProperty(tools, names[i], { value: makeTool(server, names[i]), enumerable: true });
    }
    const known = names.join(", ");
    ObjectDefineProperty(servers, server, {
      value: guarded(tools, (key) => `tools.${server}.${key} is not a tool of this run (tools.${server} has: ${known})`),
      enumerable: true,
    });
  }
  const known = serverList.length ? serverList.join(", ") : "none";
  return guarded(servers, (key) => `tools.${key} is not available to this run (servers: ${known})`);
}

async function answerLoop(): Promise<void> {
  while (true) {
    const reply = await readLine();
    if (reply === null) return;
    const entry = MapGet(pending, reply.id);
    if (entry === undefined) continue;
    MapDelete(pending, reply.id);
    if (reply.ok) {
      entry.resolve(reply.value);
      continue;
    }
    ObjectDefineProperty(entry.error, "message", { value: StringCtor(reply.error), configurable: true, writable: true });
    entry.reject(entry.error);
  }
}

// -- the sandbox's globals ------------------------------------------------------------------------

function remove(object: any, key: PropertyKey): void {
  if (!ReflectDeleteProperty(object, key)) ObjectDefineProperty(object, key, { value: undefined });
}

function harden(tools: object): void {
  const print = (text: string) => output(text);
  const console = new ConsoleCtor((msg: string) => print(msg));
  ObjectDefineProperty(G, "console", { value: console, writable: true, configurable: true });
  const sink = (name: string) =>
    ObjectFreeze({
      __proto__: null,
      writeSync(p: Uint8Array) {
        print(Decode(decoder, p));
        return TypedArrayLength(p);
      },
      write(p: Uint8Array) {
        print(Decode(decoder, p));
        return PromiseCtor.resolve(TypedArrayLength(p));
      },
      close() {},
      isTerminal: () => false,
      toString: () => `[sandbox ${name}]`,
    });
  ObjectDefineProperty(DenoNs, "stdout", { value: sink("stdout"), configurable: true });
  ObjectDefineProperty(DenoNs, "stderr", { value: sink("stderr"), configurable: true });
  ObjectDefineProperty(DenoNs, "exit", {
    value: () => {
      throw new ErrorCtor("Deno.exit is not available in run_code: finish with `export default <value>`");
    },
    configurable: true,
  });
  const unavailable = (what: string) => () => {
    throw new ErrorCtor(`${what} is not available in run_code`);
  };
  ObjectDefineProperty(DenoNs, "stdin", {
    value: ObjectFreeze({ __proto__: null, read: unavailable("Deno.stdin"), readSync: unavailable("Deno.stdin") }),
    configurable: true,
  });
  remove(DenoNs, DenoNs.internal);
  for (const key of ["Worker", "process", "localStorage", "sessionStorage", "caches"]) remove(G, key);
  remove(G.URL, "createObjectURL"); // a blob: URL is a module the import map cannot block
  ObjectDefineProperty(G, "tools", { value: tools, enumerable: true });
  ObjectDefineProperty(G, "ToolError", { value: ToolError, writable: true, configurable: true });
  // Like a browser page, a run survives an error in a callback or a rejection nobody awaited: it is
  // reported on the console and the run goes on to its default export.
  addEventListener("unhandledrejection", (event: any) => {
    event.preventDefault();
    console.error("Uncaught (in promise)", event.reason);
  });
  addEventListener("error", (event: any) => {
    event.preventDefault();
    console.error("Uncaught", event.error);
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

/** Read the run's init line and set up the globals; the returned function runs the user's module. */
export async function start(): Promise<(load: () => Promise<any>) => Promise<never>> {
  const init = await readLine();
  if (init === null || typeof init.nonce !== "string") exit(70);
  framePrefix = "\n" + init.nonce + " ";
  harden(buildTools(init.tools));
  answerLoop().catch((e) => output(`bridge: ${StringCtor(e)}\n`));

  return async (load) => {
    let done: string;
    try {
      const module = await load();
      const value = await module.default;
      done = '{"t":"done","ok":true,"value":' + (value === undefined ? "null" : toJson(value, "the default export")) + "}";
    } catch (e) {
      done = '{"t":"done","ok":false,"error":' + describeError(e) + "}";
    }
    send(done);
    exit(0);
  };
}
