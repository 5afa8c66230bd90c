// Every built-in the driver uses, taken when the module loads. A script that runs later and
// replaces a global, a prototype method, a getter or an iterator changes none of these: it
// sees no token pass through its replacement and cannot change where a request goes.
// Each is `undefined` where the engine (or Node, for server-side rendering) lacks it; the
// code that uses one says what happens then.
// Methods and getters are kept uncurried: `requestUrl(request)` calls the original getter
// with `request` as `this` (`Function.prototype.call` bound to it, as Node's primordials do),
// which neither a later `Function.prototype.call`/`apply` nor `Reflect.apply` reaches, and
// which allocates no argument array per call.
// Functions written in parentheses, `(function …)` and `((…) => …)`, here and in the other
// modules, are the main ones the module's evaluation, `init()` and `new AuthClient()` run. V8
// compiles a function written so together with the module (in the background, as the module
// streams in) rather than on the main thread at its first call, where these took 0.2-1 ms of
// Chromium's 3-5 ms start-up (README, Start-up). esbuild and Rollup (so Vite) keep the
// parentheses when they minify. A class constructor cannot be written so: AuthClient's hands
// its work to one that is.
const g = globalThis;
export const global = g;
const O = g.Object;
const describe = O.getOwnPropertyDescriptor;
const call = g.Function.prototype.call;
const uncurry = ((fn) => (typeof fn === "function" ? g.Reflect.apply(g.Function.prototype.bind, call, [fn]) : undefined));
const prototypeOf = ((type) => (typeof type === "function" ? type.prototype : undefined));
const getter = ((type, name) => {
  const prototype = prototypeOf(type);
  return prototype ? uncurry(describe(prototype, name)?.get) : undefined;
});
const method = ((type, name) => {
  const prototype = prototypeOf(type);
  return prototype ? uncurry(describe(prototype, name)?.value) : undefined;
});

export const create = O.create;
export const keys = O.keys;
export const isArray = g.Array.isArray;
export const hasOwn = uncurry(O.prototype.hasOwnProperty);
export const Date = g.Date;
export const Error = g.Error;
export const dateTime = method(g.Date, "getTime");
export const dateToIso = method(g.Date, "toISOString");
export const defineProperty = O.defineProperty;
export const freeze = O.freeze;
export const stringify = g.JSON.stringify;
export const now = g.Date.now;
export const hasInstance = uncurry(describe(g.Function.prototype, g.Symbol.hasInstance).value);
export const stringSlice = method(g.String, "slice");
export const stringIndexOf = method(g.String, "indexOf");
export const stringTrim = method(g.String, "trim");

export const Promise = g.Promise;
const promiseThen = describe(g.Promise.prototype, "then").value;
const then = uncurry(promiseThen);

export const fetch = g.fetch;
export const Request = g.Request;
export const requestUrl = getter(g.Request, "url");
export const requestMethod = getter(g.Request, "method");
export const requestHeaders = getter(g.Request, "headers");
export const requestSignal = getter(g.Request, "signal");
// Firefox has no `Request.prototype.body`: without it every request is cloned for its retry.
export const requestBody = getter(g.Request, "body");
export const requestReferrer = getter(g.Request, "referrer");
export const requestReferrerPolicy = getter(g.Request, "referrerPolicy");
export const cloneRequest = method(g.Request, "clone");
export const Headers = g.Headers;
export const headersHas = method(g.Headers, "has");
export const headersSet = method(g.Headers, "set");
export const headersDelete = method(g.Headers, "delete");
export const responsePrototype = prototypeOf(g.Response);
export const responseStatus = getter(g.Response, "status");
export const responseText = method(g.Response, "text");
export const ReadableStream = g.ReadableStream;

export const AbortController = g.AbortController;
export const controllerSignal = getter(g.AbortController, "signal");
export const abortController = method(g.AbortController, "abort");
export const signalAborted = getter(g.AbortSignal, "aborted");
// Older engines have no `AbortSignal.reason`: an abort then rejects with a plain AbortError.
export const signalReason = getter(g.AbortSignal, "reason");
export const DOMException = g.DOMException;
export const addListener = method(g.EventTarget, "addEventListener");
export const removeListener = method(g.EventTarget, "removeEventListener");
export const setTimeout = g.setTimeout;
export const clearTimeout = g.clearTimeout;

export const location = g.location;
// A page's Location has its members as its own, which no script can replace. In a worker they
// are getters on WorkerLocation.prototype, which a later script can: there they are captured.
const workerLocation = ((name) => {
  const read = getter(g.WorkerLocation, name);
  return read && (() => read(location));
});
export const locationHref = workerLocation("href") ?? (() => location.href);
export const locationOrigin = workerLocation("origin") ?? (() => location.origin);
export const document = g.document;
export const documentCookie = getter(g.Document, "cookie");
export const visibilityState = getter(g.Document, "visibilityState");
export const lockManager = getter(g.Navigator, "locks");
export const requestLock = method(g.LockManager, "request");
export const navigator = g.navigator;
export const BroadcastChannel = g.BroadcastChannel;
export const postMessage = method(g.BroadcastChannel, "postMessage");
export const closeChannel = method(g.BroadcastChannel, "close");
export const messageData = getter(g.MessageEvent, "data");
export const consoleInfo = uncurry(g.console?.info);
export const consoleError = uncurry(g.console?.error);
export const console = g.console;

export const URL = g.URL;
export const urlHref = getter(g.URL, "href");
export const urlOrigin = getter(g.URL, "origin");
export const urlProtocol = getter(g.URL, "protocol");
export const urlPathname = getter(g.URL, "pathname");
export const charCodeAt = method(g.String, "charCodeAt");
export const toUpperCase = method(g.String, "toUpperCase");
export const toLowerCase = method(g.String, "toLowerCase");
export const Uint8Array = g.Uint8Array;
export const encoder = g.TextEncoder ? new g.TextEncoder() : undefined;
export const encodeInto = method(g.TextEncoder, "encodeInto");
export const decoder = g.TextDecoder ? new g.TextDecoder() : undefined;
export const decode = method(g.TextDecoder, "decode");

const W = g.WebAssembly;
export const WebAssembly = W;
export const memoryBuffer = getter(W?.Memory, "buffer");

/** Whether this is a browser (or a worker) the client can run in. */
export const inBrowser = !!(location && fetch && Request && Headers && W && encoder && decoder);

// Stack for the core. A script can call into the client (a getter, a method, an `online`
// event it dispatches) with the stack all but used up, so that it overflows inside the wasm
// core: the overflow unwinds the core half-way through its work, which wedged the client, and
// in Chromium the error's stack trace handed `Error.prepareStackTrace` the wasm instance (its
// memory, the token). Before it enters the core from a caller's stack, the client calls a
// function with this many arguments, which need their room on the stack in every engine and
// tier: where there is none, that call throws, before anything was entered. 2048 arguments are
// 16 KB on a 64-bit engine, at least eight times what the deepest entry (`new AuthClient`) was
// seen to need in Chromium (with 64 the page's cores were still lost; with 256 none was).
const ROOM = 2048;
const reflectApply = g.Reflect.apply;
const room = new g.Array(ROOM).fill(0);
const nothing = (() => {});
/** Throws a RangeError unless the stack has room for the client's synchronous work. */
export const ensureRoom = (() => reflectApply(nothing, undefined, room));

/** `value instanceof type`, without `Symbol.hasInstance` hooks a later script may add. */
export const isA = ((value, type) => type !== undefined && hasInstance(type, value));

/** A fresh object with no prototype, so `Object.prototype` getters and setters see nothing. */
export const bag = (() => create(null));

/** A list of our own: no prototype, so no setter a later script put on `Array.prototype` or
 *  `Object.prototype` sees what is stored in it. */
export const list = (function list() {
  const items = bag();
  items.length = 0;
  return items;
});
export const push = ((items, item) => {
  items[items.length] = item;
  items.length += 1;
});

/** The descriptor of an own property that holds `value` as an assignment would make it; no
 *  prototype, so `defineProperty` reads no `get` or `set` a later script put on
 *  `Object.prototype`. */
export const field = ((value) => ({ __proto__: null, value, writable: true, enumerable: true, configurable: true }));

/** Gives `promise` an own `constructor` that is undefined: `then` looks it up (for the
 *  promise it returns), and a getter a later script put on `Promise.prototype` would be
 *  called with the promise itself, to subscribe to it (a login answer's text) or to throw;
 *  undefined ends the lookup at the built-in Promise. */
const unspecies = (promise) => defineProperty(promise, "constructor", field(undefined));

/**
 * A promise for a platform API to follow (what a lock's callback returns), with `then` and
 * `constructor` of its own, the originals: a replacement a later script made on
 * `Promise.prototype` (one that dropped the API's callbacks would keep the lock held for good)
 * is not found. `constructor` must be `Promise` itself: that lets the API take the promise as
 * it is and follow it internally (Firefox looks `then` up otherwise).
 */
export function followed(executor) {
  const promise = new Promise(executor);
  defineProperty(promise, "then", field(promiseThen));
  defineProperty(promise, "constructor", field(Promise));
  return promise;
}

/**
 * Calls `fulfilled(value)` or `rejected(error)` once `promise` settles, through the captured
 * `then` and with no lookup left to a later script (see `unspecies`), and with no value left
 * on a chain.
 */
export function settled(promise, fulfilled, rejected) {
  try {
    unspecies(promise);
    then(promise, (value) => { fulfilled(value); }, (error) => { rejected(error); });
  } catch (error) {
    rejected(error);
  }
}
