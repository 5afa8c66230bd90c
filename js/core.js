// The wasm core: compiled and instantiated while this module evaluates (no later script can
// be hooking anything yet), from the bytes bundled into the module (scripts/bundle-driver.mjs),
// and wrapped so that only this module holds its exports and memory. Nothing here is exported
// that leads to either: callers get a number per client and functions that take and return
// numbers and non-secret strings, plus `bearerHeader()`, which builds the header value from the
// token's bytes in place.
import bundled, { decoder as decoderText } from "authfetch:core-wasm";
import { apply, decode, decoder, encodeInto, encoder, inBrowser, memoryBuffer, Uint8Array } from "./captured.js";

let exports;
let memory;
/** Why the core could not be started (a Content-Security-Policy without 'wasm-unsafe-eval'). */
export let failure;

/** The polled action kinds (`Core::poll` in src/exports.rs). */
export const SEND = 1, PASS_THROUGH = 2, DELIVER = 3, FAIL = 4, RESOLVE = 5,
  START_REFRESH = 6, CALL_REFRESH = 7, UNLOCK = 8, EMIT = 9, BROADCAST = 10, RECALL = 11;
/** How a request may be sent again (`Replay` in src/core/machine.rs). */
export const NEVER = 0, AFTER_ANSWER = 2, ANYTIME = 6;
/** The texts `text()` reads (`Core::query` writes them to the output). */
export const POLLED = 8, POLLED_CODE = 9, STATE = 10;
/** `b` of a `REFRESH_ANSWERED` or `LOGIN_ANSWERED` whose body was not read. */
export const UNREAD = -1;
/** `failure` of `Core::failed` and `Core::refresh_failed`. */
export const NETWORK = 0, TIMEOUT = 1, LOCK_NOT_GRANTED = 2;
/** `endpoint` of `Core::failed`. */
export const API = 0, LOGIN = 1, LOGOUT = 2;

if (inBrowser) {
  try {
    // The wasm decoder's bytes, one per character, then it turns the core's text back into
    // the core's bytes (see scripts/bundle-driver.mjs).
    const decoderBytes = new Uint8Array(decoderText.length);
    for (let i = 0; i < decoderBytes.length; i++) decoderBytes[i] = decoderText.charCodeAt(i);
    const { m: room, d: decodeCore } = new WebAssembly.Instance(new WebAssembly.Module(decoderBytes)).exports;
    const length = decodeCore(encoder.encodeInto(bundled(), new Uint8Array(room.buffer)).written);
    const bytes = new Uint8Array(room.buffer, 0, length);
    // It imports nothing: it cannot call the page (scripts/build-package keeps it so).
    exports = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports;
    memory = exports.memory;
  } catch (error) {
    exports = undefined;
    failure = error;
  }
}

function view(at, length) {
  return new Uint8Array(apply(memoryBuffer, memory, []), at, length);
}

/** `Core::handle` inputs (src/exports.rs). */
export const BEGIN = 1, RESPONSE = 2, FAILED = 3, FORGET = 4, REFRESH = 5, RESTORE = 6,
  REFRESH_PERMITTED = 7, REFRESH_ANSWERED = 8, REFRESH_FAILED = 9, LOGIN_ANSWERED = 10,
  SIGN_OUT = 11, LOGOUT_ANSWERED = 12, HEARD = 13, REVISIT = 14, CLOSE = 15;
/** `Core::query` questions. */
export const SUBJECT = 0, SESSION = 1, AUTHENTICATED = 5, EXPIRES_AT = 6;
const TOKEN_AT = 2, TOKEN_LEN = 3, OUTPUT_AT = 4, POLL = 7;

// One client's core is the number `create()` returns; the functions below take it first.

export const create = () => exports.core_new();
export const free = (core) => exports.core_free(core);
/** The number `which` (see the questions above). */
export const query = (core, which) => exports.core_query(core, which);
/** The next action's kind (0: none left); its operands are read before the next poll. */
export const poll = (core) => query(core, POLL);

/** Reports input `event`; `a` and `b` are numbers or the text the event carries (see
 *  src/exports.rs), which is written to the core's input and passed as its length. */
export function handle(core, event, subject, a, b, at) {
  exports.core_handle(core, event, subject, typeof a === "string" ? write(core, a) : a,
    typeof b === "string" ? write(core, b) : b, at);
}

// Text longer than this is not handed over: no answer, URL or tab message of ours comes near
// it, and a page script (another tab's message) or a server (an answer) could otherwise make
// the core's memory grow without bound.
const MOST = 1 << 22;

/** Writes `text` to the core's input; returns the number of bytes written, or UNREAD (-1) for
 *  text over MOST, which every event that carries text reads as none. */
function write(core, text) {
  if (text.length > MOST) return UNREAD;
  const room = text.length * 3;
  const at = exports.core_input(core, room);
  return apply(encodeInto, encoder, [text, view(at, room)]).written;
}

/** Text `which` (see the constants above), decoded. */
export function text(core, which) {
  const length = query(core, which);
  return length === 0 ? "" : apply(decode, decoder, [view(query(core, OUTPUT_AT), length)]);
}

/** The header value for the token the polled `Send` carries, or `undefined`. */
export function bearerHeader(core) {
  const length = query(core, TOKEN_LEN);
  if (length === 0) return undefined;
  return "Bearer " + apply(decode, decoder, [view(query(core, TOKEN_AT), length)]);
}

/** Hands the core the options it decides with; false if it refused them. */
export function configure(core, config) {
  let lines = config.tokenField + "\n" + (config.loginTokenField ?? "") + "\n" + config.expiresInField;
  for (let i = 0; i < config.apiOrigins.length; i++) lines += "\n" + config.apiOrigins[i];
  return exports.core_configure(core, write(core, lines), config.refreshLeewayMs, config.timeoutMs) !== 0;
}
