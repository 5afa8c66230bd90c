// The wasm core: compiled and instantiated by `start()` while the package's module evaluates
// (no later script can be hooking anything yet), and wrapped so that only this module holds its
// exports and memory (`wasm`, `memory`). Nothing here is exported that leads to either: callers
// get a number per client and functions that take and return numbers and non-secret strings,
// plus `bearerHeader()`, which builds the header value from the token's bytes in place.
import {
  bag, decode, decoder, defineProperty, encodeInto, encoder, inBrowser, memoryBuffer, responsePrototype,
  stringIndexOf, Uint8Array, WebAssembly,
} from "./captured.js";
import { OUTPUT_AT, POLL, TOKEN_AT, TOKEN_LEN, UNREAD } from "./protocol.js";

export * from "./protocol.js";

let wasm;
let memory;
/** Why the core could not be started, in words for the constructor's error (and the error). */
export let failure, failureText;

/**
 * Starts the core from its text and the unpacker that turns the text back into its bytes, all
 * as scripts/bundle-driver.mjs wrote them (the unpacker's text is ASCII, so its UTF-8 is its
 * bytes; `size` and `check` are the wasm's length and hash). Does nothing outside a browser, or
 * a second time.
 *
 * Compiled and instantiated synchronously, or not at all. Any promise on the way would be
 * resolved with an object, and resolving asks it for `then`, a getter a later script can put
 * on `Object.prototype`: an asynchronous instantiation hands that script the instance (memory
 * and token); an asynchronous compilation lets it swap the module for its own. So an engine
 * that compiles no module over 4 KB synchronously (Chromium before 114) gets the RangeError
 * as the reason, not a core.
 */
export const start = (function start(text, unpacker, sign, shift, size, check) {
  if (!inBrowser || wasm || failure) return;
  try {
    // The same lookup would hand a later script every Response that fetch resolves with, the
    // login and refresh answers unread (a getter on `Object.prototype` can clone and read
    // them), or hold the promise for good. A `then` of their own that is no function, and
    // can be neither changed nor removed, ends the lookup there (a Response was never a
    // thenable). Where another script already fixed a different one, the client does not
    // start; a second copy of this package defines the same, which the engine accepts.
    defineProperty(responsePrototype, "then", bag());
    const { m: room, d: unpack } = new WebAssembly.Instance(new WebAssembly.Module(encoder.encode(unpacker))).exports;
    if (unpack(encoder.encodeInto(text, new Uint8Array(room.buffer)).written, sign, shift) !== check) {
      throw new Error("the core's text was altered (by a minifier, or read with a wrong charset)");
    }
    // It imports nothing: it cannot call the page (scripts/build-package keeps it so).
    wasm = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(room.buffer, 0, size))).exports;
    memory = wasm.memory;
  } catch (error) {
    failure = error;
    const message = "" + error.message;
    failureText = stringIndexOf(message, "unsafe-eval") >= 0 || stringIndexOf(message, "CSP") >= 0
      ? " (a Content-Security-Policy needs 'wasm-unsafe-eval' in script-src)" : ": " + message;
  }
});

const view = (function view(at, length) {
  return new Uint8Array(memoryBuffer(memory), at, length);
});

// One client's core is the number `create()` returns; the functions below take it first.

export const create = () => wasm.core_new();
export const free = (core) => wasm.core_free(core);
/** The number `which` (see the questions above). */
export const query = (core, which) => wasm.core_query(core, which);
/** The next action's kind (0: none left); its operands are read before the next poll. */
export const poll = (core) => query(core, POLL);

/** Reports input `event`; `a` and `b` are numbers or the text the event carries (see
 *  src/exports.rs), which is written to the core's input and passed as its length. */
export function handle(core, event, subject, a, b, at) {
  wasm.core_handle(core, event, subject, typeof a === "string" ? write(core, a) : a,
    typeof b === "string" ? write(core, b) : b, at);
}

// Text longer than this is not handed over: no answer, URL or tab message of ours comes near
// it, and a page script (another tab's message) or a server (an answer) could otherwise make
// the core's memory grow without bound.
const MOST = 1 << 22;

/** Writes `text` to the core's input; returns the number of bytes written, or UNREAD (-1) for
 *  text over MOST, which every event that carries text reads as none. */
const write = (function write(core, text) {
  if (text.length > MOST) return UNREAD;
  const room = text.length * 3;
  const at = wasm.core_input(core, room);
  return encodeInto(encoder, text, view(at, room)).written;
});

/** Text `which` (see the constants above), decoded. */
export function text(core, which) {
  const length = query(core, which);
  return length === 0 ? "" : decode(decoder, view(query(core, OUTPUT_AT), length));
}

/** The header value for the token the polled `Send` carries, or `undefined`. */
export function bearerHeader(core) {
  const length = query(core, TOKEN_LEN);
  if (length === 0) return undefined;
  return "Bearer " + decode(decoder, view(query(core, TOKEN_AT), length));
}

/** Whether the polled `Send` carries the token (for the debug lines, which never hold it). */
export const carriesToken = (core) => query(core, TOKEN_LEN) > 0;

/** Hands the core the options it decides with; false if it refused them. */
export const configure = (function configure(core, config) {
  let lines = config.tokenField + "\n" + (config.loginTokenField ?? "") + "\n" + config.expiresInField;
  for (let i = 0; i < config.apiOrigins.length; i++) lines += "\n" + config.apiOrigins[i];
  return wasm.core_configure(core, write(core, lines), config.refreshLeewayMs, config.timeoutMs) !== 0;
});
