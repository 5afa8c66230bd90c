// The wasm core: instantiated with captured built-ins, and wrapped so that only this module
// holds its exports and memory. Nothing here is exported that leads to either: callers get a
// `Core` per client, whose methods take and return numbers and non-secret strings, plus
// `bearerHeader()`, which builds the header value from the token's bytes in place.
import {
  apply, bag, compile, compileStreaming, decode, decoder, encodeInto, encoder,
  fetch, inBrowser, instanceExports, instantiate, isA, memoryBuffer, Module, moduleImports,
  Promise, Request, Response, responseArrayBuffer, setTable, then, Uint8Array, URL,
} from "./captured.js";

let exports;
let memory;
let loading;
/** Where the core is: the .wasm file beside this module (in the package, `pkg/index.js`). */
const beside = inBrowser ? new URL("authfetch_bg.wasm", import.meta.url) : undefined;

/** The polled action kinds (`Core::poll` in src/exports.rs). */
export const SEND = 1, PASS_THROUGH = 2, DELIVER = 3, FAIL = 4, RESOLVE = 5,
  START_REFRESH = 6, CALL_REFRESH = 7, UNLOCK = 8, EMIT = 9, BROADCAST = 10, RECALL = 11;
/** How a request may be sent again (`Replay` in src/core/machine.rs). */
export const NEVER = 0, AFTER_ANSWER = 2, ANYTIME = 6;
/** What `Core::text` writes. */
export const POLLED = 0, POLLED_CODE = 1, STATE = 2;
/** `failure` of `Core::failed` and `Core::refresh_failed`. */
export const NETWORK = 0, TIMEOUT = 1, LOCK_NOT_GRANTED = 2;
/** `endpoint` of `Core::failed`. */
export const API = 0, LOGIN = 1, LOGOUT = 2;

/** The wasm-bindgen runtime's imports, by name prefix (their suffixes are hashes). */
function runtimeImports(module) {
  const imports = bag();
  const list = apply(moduleImports, Module, [module]);
  for (let i = 0; i < list.length; i++) {
    const { module: space, name } = list[i];
    imports[space] ??= bag();
    imports[space][name] = name === "__wbindgen_init_externref_table"
      ? initExternrefTable
      // Only a call on a freed or busy core reaches it; the driver never makes one.
      : () => { throw new Error("authfetch: the core refused a call"); };
  }
  return imports;
}

// What wasm-bindgen 0.2.130's glue does: the table's reserved slots hold the constants the
// runtime hands out. scripts/build-package checks the generated glue still says exactly this.
function initExternrefTable() {
  const table = exports.__wbindgen_externrefs;
  apply(setTable, table, [0, undefined]);
  apply(setTable, table, [1024, undefined]);
  apply(setTable, table, [1025, null]);
  apply(setTable, table, [1026, true]);
  apply(setTable, table, [1027, false]);
}

function start(instance) {
  exports = apply(instanceExports, instance, []);
  memory = exports.memory;
  exports.__wbindgen_start?.();
}

/**
 * Instantiates the core from `source` (a URL or string, Request, Response, bytes, or compiled
 * Module; by default the file beside this module); resolves with nothing. A call while one
 * runs joins it; after a failure the next call tries again. Values pass only into callbacks,
 * never along promise chains, so a hooked `Promise.prototype.constructor` (which `then`
 * consults) can neither see the module nor substitute another.
 */
export function load(source = beside) {
  loading ??= new Promise((resolve, reject) => {
    const fail = (error) => { loading = undefined; reject(error); };
    const run = (module) => {
      try {
        apply(then, apply(instantiate, undefined, [module, runtimeImports(module)]), [(instance) => {
          start(instance);
          resolve();
        }, fail]);
      } catch (error) {
        fail(error);
      }
    };
    try {
      if (isA(source, Module)) run(source);
      else if (isA(source, Response)) fromBytes(source, run, fail);
      else if (typeof source === "string" || isA(source, URL) || isA(source, Request)) {
        // Streaming compilation needs the application/wasm type; from a server without it,
        // the bytes are fetched again and compiled whole. (No `clone()` of the response to
        // keep for that case: WebKit tees a cloned body slowly.)
        const again = () => apply(then, apply(fetch, undefined, [source]), [(response) => fromBytes(response, run, fail), fail]);
        if (compileStreaming) apply(then, apply(compileStreaming, undefined, [apply(fetch, undefined, [source])]), [run, again]);
        else again();
      } else apply(then, apply(compile, undefined, [source]), [run, fail]);
    } catch (error) {
      fail(error);
    }
  });
  return loading;
}

function fromBytes(response, run, fail) {
  apply(then, apply(responseArrayBuffer, response, []), [
    (buffer) => apply(then, apply(compile, undefined, [buffer]), [run, fail]),
    fail,
  ]);
}

/** Whether the core is instantiated (clients can be made synchronously). */
export const ready = () => exports !== undefined;

function view(at, length) {
  return new Uint8Array(apply(memoryBuffer, memory, []), at, length);
}

// `Core::handle` inputs, `Core::query` questions (src/exports.rs).
const BEGIN = 1, RESPONSE = 2, FAILED = 3, FORGET = 4, REFRESH = 5, RESTORE = 6,
  REFRESH_PERMITTED = 7, REFRESH_ANSWERED = 8, REFRESH_FAILED = 9, LOGIN_ANSWERED = 10,
  SIGN_OUT = 11, LOGOUT_ANSWERED = 12, HEARD = 13, REVISIT = 14, CLOSE = 15;
const SUBJECT = 0, SESSION = 1, TOKEN_AT = 2, TOKEN_LEN = 3, OUTPUT_AT = 4, AUTHENTICATED = 5,
  EXPIRES_AT = 6;

/** One client's core. */
export class Core {
  #at;

  constructor() {
    this.#at = exports.core_new();
  }

  /** Writes `text` to the core's input; returns the number of bytes written. */
  #write(text) {
    const room = text.length * 3;
    const at = exports.core_input(this.#at, room);
    return apply(encodeInto, encoder, [text, view(at, room)]).written;
  }

  #handle(event, subject, a, b, at) {
    exports.core_handle(this.#at, event, subject, a, b, at);
  }

  #query(which) {
    return exports.core_query(this.#at, which);
  }

  /** Text `which` (see the constants above), decoded. */
  text(which) {
    const length = exports.core_text(this.#at, which);
    return length === 0 ? "" : apply(decode, decoder, [view(this.#query(OUTPUT_AT), length)]);
  }

  /** The header value for the token the polled `Send` carries, or `undefined`. */
  bearerHeader() {
    const length = this.#query(TOKEN_LEN);
    if (length === 0) return undefined;
    return "Bearer " + apply(decode, decoder, [view(this.#query(TOKEN_AT), length)]);
  }

  /** Hands the core the options it decides with; false if it refused them. */
  configure(config) {
    let text = config.tokenField + "\n" + (config.loginTokenField ?? "") + "\n" + config.expiresInField;
    for (let i = 0; i < config.apiOrigins.length; i++) text += "\n" + config.apiOrigins[i];
    return exports.core_configure(this.#at, this.#write(text), config.refreshLeewayMs, config.timeoutMs) !== 0;
  }

  poll() { return exports.core_poll(this.#at); }
  subject() { return this.#query(SUBJECT); }
  session() { return this.#query(SESSION) === 1; }
  authenticated() { return this.#query(AUTHENTICATED) === 1; }
  expiresAt() { return this.#query(EXPIRES_AT); }
  /** `replay`: NEVER, AFTER_ANSWER or ANYTIME. */
  begin(id, url, hasAuthorization, replay, at) {
    this.#handle(BEGIN, id, this.#write(url), (hasAuthorization ? 1 : 0) | replay, at);
  }
  response(id, status) { this.#handle(RESPONSE, id, status, 0, 0); }
  failed(id, failure, endpoint) { this.#handle(FAILED, id, failure, endpoint, 0); }
  forget(id) { this.#handle(FORGET, id, 0, 0, 0); }
  refresh(id) { this.#handle(REFRESH, id, 0, 0, 0); }
  restore(id) { this.#handle(RESTORE, id, 0, 0, 0); }
  refreshPermitted(ticket) { this.#handle(REFRESH_PERMITTED, ticket, 0, 0, 0); }
  refreshAnswered(ticket, status, body, at) {
    this.#handle(REFRESH_ANSWERED, ticket, status, body === undefined ? -1 : this.#write(body), at);
  }
  refreshFailed(ticket, failure) { this.#handle(REFRESH_FAILED, ticket, failure, 0, 0); }
  loginAnswered(id, status, body, at) {
    this.#handle(LOGIN_ANSWERED, id, status, body === undefined ? -1 : this.#write(body), at);
  }
  signOut() { this.#handle(SIGN_OUT, 0, 0, 0, 0); }
  logoutAnswered(id, status) { this.#handle(LOGOUT_ANSWERED, id, status, 0, 0); }
  heard(message) { this.#handle(HEARD, 0, this.#write(message), 0, 0); }
  revisit(at) { this.#handle(REVISIT, 0, 0, 0, at); }
  close() { this.#handle(CLOSE, 0, 0, 0, 0); }
  free() { exports.__wbg_core_free(this.#at, 0); }
}
