// The wasm core: instantiated with captured built-ins, and wrapped so that only this module
// holds its exports and memory. Nothing here is exported that leads to either: callers get a
// `Core` per client, whose methods take and return numbers and non-secret strings, plus
// `bearerHeader()`, which builds the header value from the token's bytes in place.
import {
  apply, bag, cloneResponse, compile, compileStreaming, decode, decoder, encodeInto, encoder,
  fetch, instanceExports, instantiate, isA, memoryBuffer, Module, moduleImports,
  Promise, Request, Response, responseArrayBuffer, setTable, then, Uint8Array, URL,
} from "./captured.js";

let exports;
let memory;
let loading;

/** The polled action kinds (`Core::poll` in src/exports.rs). */
export const SEND = 1, PASS_THROUGH = 2, DELIVER = 3, FAIL = 4, RESOLVE = 5,
  START_REFRESH = 6, CALL_REFRESH = 7, UNLOCK = 8, EMIT = 9, BROADCAST = 10;
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
 * Module); resolves with nothing. A second call joins the first. Values pass only into
 * callbacks, never along promise chains, so a hooked `Promise.prototype.constructor` (which
 * `then` consults) can neither see the module nor substitute another.
 */
export function load(source) {
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
      else if (isA(source, Response)) fromResponse(source, run, fail);
      else if (typeof source === "string" || isA(source, URL) || isA(source, Request)) {
        apply(then, apply(fetch, undefined, [source]), [(response) => fromResponse(response, run, fail), fail]);
      } else apply(then, apply(compile, undefined, [source]), [run, fail]);
    } catch (error) {
      fail(error);
    }
  });
  return loading;
}

// Streaming compilation needs the application/wasm type; a server without it still works.
function fromResponse(response, run, fail) {
  const fromBytes = () => apply(then, apply(responseArrayBuffer, response, []), [
    (buffer) => apply(then, apply(compile, undefined, [buffer]), [run, fail]),
    fail,
  ]);
  if (!compileStreaming) return fromBytes();
  apply(then, apply(compileStreaming, undefined, [apply(cloneResponse, response, [])]), [run, fromBytes]);
}

/** Whether the core is instantiated (clients can be made synchronously). */
export const ready = () => exports !== undefined;

function view(at, length) {
  return new Uint8Array(apply(memoryBuffer, memory, []), at, length);
}

/** One client's core. */
export class Core {
  #at;

  constructor() {
    this.#at = exports.core_new();
  }

  /** Writes `text` to the core's input; returns the number of bytes written. */
  write(text) {
    const room = text.length * 3;
    const at = exports.core_input(this.#at, room);
    return apply(encodeInto, encoder, [text, view(at, room)]).written;
  }

  /** Text `which` (see the constants above), decoded. */
  text(which) {
    const length = exports.core_text(this.#at, which);
    return length === 0 ? "" : apply(decode, decoder, [view(exports.core_output(this.#at), length)]);
  }

  /** The header value for the token the polled `Send` carries, or `undefined`. */
  bearerHeader() {
    const length = exports.core_token_len(this.#at);
    if (length === 0) return undefined;
    return "Bearer " + apply(decode, decoder, [view(exports.core_token_at(this.#at), length)]);
  }

  /** Hands the core the options it decides with; false if it refused them. */
  configure(config) {
    let text = config.tokenField + "\n" + (config.loginTokenField ?? "") + "\n" + config.expiresInField;
    for (let i = 0; i < config.apiOrigins.length; i++) text += "\n" + config.apiOrigins[i];
    return exports.core_configure(this.#at, this.write(text), config.refreshLeewayMs, config.timeoutMs) !== 0;
  }
  poll() { return exports.core_poll(this.#at); }
  subject() { return exports.core_subject(this.#at); }
  detail() { return exports.core_detail(this.#at); }
  authenticated() { return exports.core_authenticated(this.#at) !== 0; }
  expiresAt() { return exports.core_expires_at(this.#at); }
  begin(id, url, hasAuthorization, replayable, at) {
    exports.core_begin(this.#at, id, this.write(url), hasAuthorization, replayable, at);
  }
  response(id, status) { exports.core_response(this.#at, id, status); }
  failed(id, failure, endpoint) { exports.core_failed(this.#at, id, failure, endpoint); }
  forget(id) { exports.core_forget(this.#at, id); }
  refresh(id) { exports.core_refresh(this.#at, id); }
  restore(id) { exports.core_restore(this.#at, id); }
  refreshPermitted(ticket) { exports.core_refresh_permitted(this.#at, ticket); }
  refreshAnswered(ticket, status, body, at) {
    exports.core_refresh_answered(this.#at, ticket, status, body === undefined ? -1 : this.write(body), at);
  }
  refreshFailed(ticket, failure) { exports.core_refresh_failed(this.#at, ticket, failure); }
  loginAnswered(id, status, body, at) {
    exports.core_login_answered(this.#at, id, status, body === undefined ? -1 : this.write(body), at);
  }
  signOut() { exports.core_sign_out(this.#at); }
  logoutAnswered(id, status) { exports.core_logout_answered(this.#at, id, status); }
  heard(message) { exports.core_heard(this.#at, this.write(message)); }
  revisit(at) { exports.core_revisit(this.#at, at); }
  close() { exports.core_close(this.#at); }
  free() { exports.__wbg_core_free(this.#at, 0); }
}
