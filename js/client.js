// AuthClient: the client's hands. It performs what the core decides (src/exports.rs) and
// reports back what happened; the session (token, state, single flight, retries) lives in the
// core alone. Per call it keeps only what it needs to finish that call.
import { AuthError } from "./auth-error.js";
import {
  AbortController, abortController, addListener, bag, ensureRoom, clearTimeout, cloneRequest,
  console, consoleError, controllerSignal, defineProperty, document, documentCookie, DOMException, fetch, field,
  Headers, headersDelete, headersHas, headersSet, inBrowser, isA, keys, list, locationHref, locationOrigin, now, Promise,
  push, ReadableStream, Request, requestBody, requestHeaders, requestReferrer, requestReferrerPolicy,
  requestMethod, requestSignal, requestUrl, responseStatus, responseText, setTimeout, signalAborted,
  removeListener, settled, signalReason, stringIndexOf, stringSlice, stringTrim, toLowerCase, URL, urlHref,
} from "./captured.js";
import * as core from "./core.js";
import { actionLine, callName, elsewhere, inputLine, say, waits, where } from "./debug.js";
import { encode } from "./encode.js";
import { validate } from "./options.js";
import { tabs } from "./tabs.js";

const FREED = "the client was freed";
const abortedByFree = () => rejected(new AuthError("aborted", FREED));

/** `signal`'s reason, or the AbortError fetch rejects with where the engine has no reason. */
function abortReason(signal) {
  const reason = signalReason ? signalReason(signal) : undefined;
  return reason === undefined ? new DOMException("signal is aborted without reason", "AbortError") : reason;
}

/** A promise and the functions that settle it. */
function deferred() {
  const call = bag();
  call.promise = new Promise((resolve, reject) => {
    call.resolve = resolve;
    call.reject = reject;
  });
  return call;
}

function rejected(error) {
  return new Promise((_, reject) => reject(error));
}

/** `url` resolved against the page's location (Location's members cannot be replaced). */
const absolute = (function absolute(name, url) {
  try {
    return urlHref(new URL(url, locationHref()));
  } catch {
    throw new AuthError("invalid_config", name + ' is not a valid URL: "' + url + '"');
  }
});

/** A new client's options, checked and resolved, and its core, configured with them: a bag
 *  of `config` and `core` (see the constructor). */
const prepare = (function prepare(options) {
  if (!inBrowser) {
    throw new AuthError("invalid_config", "AuthClient needs a browser (fetch, Request, location and WebAssembly); create it in the page, not during server-side rendering");
  }
  if (core.failure !== undefined) {
    throw new AuthError("invalid_config", "the client's WebAssembly core could not be started in this page" + core.failureText, { cause: core.failure });
  }
  let config;
  try {
    config = validate(options, locationOrigin());
  } catch (error) {
    throw isA(error, AuthError) ? error : new AuthError("invalid_config", "options could not be read (a getter or Proxy threw)");
  }
  config.refreshUrl = absolute("refreshUrl", config.refreshUrl);
  config.loginUrl = absolute("loginUrl", config.loginUrl);
  config.logoutUrl = absolute("logoutUrl", config.logoutUrl);
  ensureRoom();
  const made = core.create();
  if (!core.configure(made, config)) {
    core.free(made);
    throw new AuthError("invalid_config", "the options could not be handed to the core");
  }
  return { __proto__: null, config, core: made };
});

/** The value of the page-readable cookie `name`. */
function readCookie(name) {
  const cookies = document && documentCookie ? documentCookie(document) : "";
  let start = 0;
  while (start < cookies.length) {
    let end = stringIndexOf(cookies, ";", start);
    if (end < 0) end = cookies.length;
    const pair = stringSlice(cookies, start, end);
    const equals = stringIndexOf(pair, "=");
    if (equals > 0 && stringTrim(stringSlice(pair, 0, equals)) === name) {
      return stringTrim(stringSlice(pair, equals + 1));
    }
    start = end + 1;
  }
  return undefined;
}

export class AuthClient {
  #core;
  #config;
  #tabs;
  #calls = bag();
  #listeners = bag();
  #toEmit = list();
  #nextCall = 0;
  #nextListener = 0;
  #freed = false;
  #freeing = false;
  /** What the last refresh that got no answer failed with (the `cause` of its errors). */
  #refreshCause;

  /** Validates `options` and holds no token yet. */
  constructor(options) {
    const { config, core: made } = prepare(options);
    this.#config = config;
    this.#core = made;
    this.#tabs = tabs(config.refreshUrl, config.crossTab, (message) => {
      if (this.#freed) return;
      this.#input(core.HEARD, 0, message, 0, 0);
    }, () => {
      // A wake-up is a hint: one dispatched where the stack has no room is dropped.
      if (this.#freed) return;
      ensureRoom();
      this.#input(core.REVISIT, 0, 0, 0, now());
    });
    const client = this;
    // Own properties, so every method works unbound (`const { fetch } = auth`); defined, not
    // assigned, so no setter a later script put on `Object.prototype` takes them.
    const own = (name, method) => defineProperty(this, name, field(method));
    own("fetch", (input, init) => client.#fetch(input, init));
    own("login", (credentials) => client.#login(credentials));
    own("logout", () => client.#logout());
    own("refresh", () => client.#call(core.REFRESH));
    own("restore", () => client.#call(core.RESTORE, true));
    own("onChange", (listener) => client.#onChange(listener));
    own("free", () => client.#free());
  }

  /** Whether a token is held. */
  get isAuthenticated() {
    ensureRoom();
    return !this.#freed && core.query(this.#core, core.AUTHENTICATED) === 1;
  }

  /** When the held token expires (ms since the epoch), if known. */
  get expiresAt() {
    if (this.#freed) return undefined;
    ensureRoom();
    const at = core.query(this.#core, core.EXPIRES_AT);
    return at === at ? at : undefined;
  }

  /** The state `onChange` last reported; "unknown" before anything was learnt. */
  get state() {
    ensureRoom();
    return this.#freed ? "signed-out" : core.text(this.#core, core.STATE);
  }

  /** `refresh()` or `restore()` (`event`), settled by the core's RESOLVE or FAIL. */
  #call(event, restore) {
    if (this.#freed) return abortedByFree();
    ensureRoom();
    const id = ++this.#nextCall;
    const call = deferred();
    call.restore = restore;
    call.name = restore ? "restore()" : "refresh()";
    this.#calls[id] = call;
    this.#input(event, id, 0, 0, 0);
    return call.promise;
  }

  /** Reports input `event` to the core (see `core.handle`) and carries out what it decides. */
  #input(event, subject, a, b, at) {
    if (this.#config.debug) {
      const line = inputLine(event, this.#calls[subject], a);
      if (line !== undefined) say(line);
    }
    core.handle(this.#core, event, subject, a, b, at);
    this.#pump();
  }

  /** Carries out every action the core has decided, in order. */
  #pump() {
    const made = this.#core;
    while (!this.#freed) {
      const kind = core.poll(made);
      if (kind === 0) return;
      const id = core.query(made, core.SUBJECT);
      const call = this.#calls[id];
      if (this.#config.debug) this.#tell(kind, call);
      switch (kind) {
        case core.SEND:
          if (call) this.#send(id, call, core.bearerHeader(made));
          break;
        case core.PASS_THROUGH:
          if (call) {
            this.#finish(id, call);
            settled(fetch(call.request), call.resolve, call.reject);
          }
          break;
        case core.RECALL:
          if (call) this.#recall(call);
          break;
        case core.DELIVER:
          if (call) {
            this.#finish(id, call);
            call.resolve(call.response);
          }
          break;
        case core.FAIL:
          if (call) {
            this.#finish(id, call);
            let error;
            try {
              error = this.#error(call);
            } catch {
              // The words alone (no stack left for more, say): the call settles all the same.
              error = new AuthError(core.text(made, core.POLLED_CODE), core.text(made, core.POLLED));
            }
            if (this.#config.debug) say(callName(call) + ": rejected: " + error.message);
            call.reject(error);
          }
          break;
        case core.RESOLVE:
          if (call) {
            this.#finish(id, call);
            call.resolve(call.restore ? core.query(made, core.SESSION) === 1 : undefined);
          }
          break;
        case core.START_REFRESH:
          this.#tabs.lock(this.#config.timeoutMs, () => {
            if (this.#freed) return this.#tabs.unlock();
            this.#input(core.REFRESH_PERMITTED, id, 0, 0, 0);
          }, () => {
            if (this.#freed) return;
            this.#input(core.REFRESH_FAILED, id, core.LOCK_NOT_GRANTED, 0, 0);
          });
          break;
        case core.CALL_REFRESH:
          this.#callRefresh(id);
          break;
        case core.UNLOCK:
          this.#tabs.unlock();
          break;
        case core.EMIT:
          this.#emit(core.text(made, core.POLLED));
          break;
        case core.BROADCAST:
          this.#tabs.say(core.text(made, core.POLLED));
          break;
      }
    }
  }

  /** The debug line for action `kind` about `call` (the polled action's operands are read).
   *  `call` may be gone (a caller's abort during a listener): a line never stops the pump. */
  #tell(kind, call) {
    try {
      const made = this.#core;
      const detail = kind === core.SEND ? core.carriesToken(made)
        : kind === core.DELIVER ? (call ? responseStatus(call.response) : 0)
        : kind === core.EMIT || kind === core.BROADCAST ? core.text(made, core.POLLED)
        : kind === core.CALL_REFRESH ? where(this.#config.refreshMethod, this.#config.refreshUrl)
        : kind === core.START_REFRESH ? this.#tabs.locked : undefined;
      const line = actionLine(kind, call, detail);
      if (line !== undefined) say(line);
    } catch {
      // Not told.
    }
  }

  /**
   * The polled `Fail` as an AuthError: the core's words; for a call that failed, where it went
   * (the core is not told the endpoints' URLs) and, when a call to another origin got no
   * answer, the likely cause; and the platform's error (from fetch) as `cause`.
   */
  #error(call) {
    const made = this.#core;
    const config = this.#config;
    const endpoint = core.query(made, core.ENDPOINT);
    let message = core.text(made, core.POLLED);
    let cause = call.cause;
    let method = "POST";
    let url;
    if (endpoint === core.API) {
      method = requestMethod(call.request);
      url = requestUrl(call.request);
    } else if (endpoint === core.LOGIN) {
      url = config.loginUrl;
    } else if (endpoint === core.LOGOUT) {
      url = config.logoutUrl;
    } else if (endpoint === core.REFRESH_ENDPOINT) {
      method = config.refreshMethod;
      url = config.refreshUrl;
      cause = this.#refreshCause;
    } else {
      cause = undefined;
    }
    const code = core.text(made, core.POLLED_CODE);
    if (url !== undefined) {
      message += " (" + where(method, url) + ")";
      if (code === "network") message += elsewhere(url, endpoint === core.API, call.signed);
    }
    return new AuthError(code, message, cause === undefined ? undefined : { cause });
  }

  /** Tells every listener `state`. A listener that changes the state again (`logout()` on
   *  "signed-in") has the new state told after this one, to every listener, so each hears the
   *  changes in the order they happened. */
  #emit(state) {
    const queue = this.#toEmit;
    push(queue, state);
    if (queue.length > 1) return;
    for (let next = 0; next < queue.length && !this.#freed; next++) {
      const listeners = this.#listeners;
      const ids = keys(listeners);
      for (let i = 0; i < ids.length && !this.#freed; i++) {
        const listener = listeners[ids[i]];
        if (listener === undefined) continue;
        try {
          listener(queue[next]);
        } catch (error) {
          // One listener's exception must not keep the others from hearing the change (nor
          // a report that fails leave the client with a dispatch that never ended).
          try {
            if (consoleError) consoleError(console, "authfetch: an onChange listener threw", error);
          } catch {
            // Not reported.
          }
        }
      }
    }
    this.#toEmit = list();
  }

  #onChange(listener) {
    if (typeof listener !== "function") throw new AuthError("invalid_config", "onChange takes a function");
    const id = ++this.#nextListener;
    this.#listeners[id] = listener;
    return () => {
      delete this.#listeners[id];
    };
  }

  #fetch(input, init) {
    if (this.#freed) return abortedByFree();
    ensureRoom();
    let request;
    let replayable;
    let abortable;
    try {
      request = ownRequest(input, init);
      replayable = !streamed(init);
      abortable = mayAbort(input, init);
    } catch (error) {
      return rejected(error);
    }
    // The caller's getters (read just now) may have freed the client.
    if (this.#freed) return abortedByFree();
    const url = requestUrl(request);
    // A bodiless GET or HEAD may be withdrawn before its answer and sent again (see `Replay`).
    // GET and HEAD requests cannot have a body; others are asked where the engine can say.
    const method = requestMethod(request);
    const safe = method === "GET" || method === "HEAD";
    const bodiless = safe || (requestBody !== undefined && requestBody(request) === null);
    const replay = !replayable ? core.NEVER : safe ? core.ANYTIME : core.AFTER_ANSWER;
    const authorized = headersHas(requestHeaders(request), "authorization");
    const signal = requestSignal(request);
    // As fetch does: an aborted signal rejects at once.
    if (signalAborted(signal)) return rejected(abortReason(signal));
    const id = ++this.#nextCall;
    const call = deferred();
    call.request = request;
    call.authorized = authorized;
    call.bodiless = bodiless;
    call.attempts = 0;
    this.#calls[id] = call;
    // Aborting rejects at once, also while the call waits for a refresh. The listener goes
    // when the call ends: a signal with one stays alive as long as the caller's signal does.
    call.signal = signal;
    if (abortable) {
      call.onAbort = () => this.#aborted(id, call);
      addListener(signal, "abort", call.onAbort, onceOnly);
    }
    this.#input(core.BEGIN, id, url, (authorized ? 1 : 0) | replay, now());
    if (this.#config.debug && this.#calls[id] === call && call.controller === undefined) say(waits(call));
    return call.promise;
  }

  /** The core withdrew the attempt on its way: abort it; its outcome no longer counts. */
  #recall(call) {
    const controller = call.controller;
    call.controller = undefined;
    clearTimeout(call.timer);
    if (controller) abortController(controller);
  }

  /** Call `id` is over (settled now by the caller): it is forgotten with its abort listener. */
  #finish(id, call) {
    delete this.#calls[id];
    if (call.onAbort) removeListener(call.signal, "abort", call.onAbort, onceOnly);
  }

  /** The caller aborted call `id`: reject it now; a refresh it waits for goes on. */
  #aborted(id, call) {
    if (this.#calls[id] !== call) return;
    try {
      ensureRoom();
    } catch {
      // Dispatched where the stack has no room: taken up again on a stack of its own.
      setTimeout(() => this.#aborted(id, call), 0);
      return;
    }
    this.#finish(id, call);
    if (this.#config.debug) say(callName(call) + ": aborted by the caller");
    const reason = abortReason(call.signal);
    if (call.controller) abortController(call.controller, reason);
    call.reject(reason);
    if (!this.#freed) core.handle(this.#core, core.FORGET, id, 0, 0, 0);
  }

  /** One attempt of API call `id`, with `authorization` (the header value) or none. */
  #send(id, call, authorization) {
    const first = call.attempts++ === 0;
    let outgoing = call.request;
    // A request with a body can be sent once (fetch leaves a bodiless one reusable): the first
    // attempt keeps a copy for the retry.
    if (first && !call.bodiless) call.spare = cloneRequest(outgoing);
    else if (!first && !call.bodiless) outgoing = call.spare;
    const headers = requestHeaders(outgoing);
    call.signed = authorization !== undefined;
    if (authorization === undefined) headersDelete(headers, "authorization");
    else headersSet(headers, "authorization", authorization);
    const controller = new AbortController();
    call.controller = controller;
    const signal = requestSignal(call.request);
    if (signalAborted(signal)) abortController(controller, abortReason(signal));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abortController(controller, new DOMException("signal timed out", "TimeoutError"));
    }, this.#config.timeoutMs);
    call.timer = timer;
    const init = bag();
    init.signal = controllerSignal(controller);
    // A non-empty init resets these two on the request: say them again.
    init.referrer = requestReferrer(outgoing);
    init.referrerPolicy = requestReferrerPolicy(outgoing);
    const sent = fetch(outgoing, init);
    settled(sent, (response) => {
      clearTimeout(timer);
      if (this.#calls[id] !== call || call.controller !== controller) return;
      call.response = response;
      this.#input(core.RESPONSE, id, responseStatus(response), 0, 0);
    }, (error) => {
      clearTimeout(timer);
      if (this.#calls[id] !== call || call.controller !== controller) return;
      if (signalAborted(signal)) return this.#aborted(id, call);
      call.cause = error;
      this.#input(core.FAILED, id, timedOut ? core.TIMEOUT : core.NETWORK, core.API, 0);
    });
  }

  /** A request to one of our own endpoints, with cookies, under `timeoutMs`. */
  #exchange(url, method, headers, body, answered, failed) {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abortController(controller);
    }, this.#config.timeoutMs);
    const init = bag();
    init.method = method;
    init.credentials = "include";
    init.headers = headers;
    init.signal = controllerSignal(controller);
    if (body !== undefined) init.body = body;
    const fail = (error) => {
      clearTimeout(timer);
      failed(timedOut ? core.TIMEOUT : core.NETWORK, error);
    };
    try {
      settled(fetch(new Request(url, init)), (response) => {
        const status = responseStatus(response);
        if (status < 200 || status > 299) {
          clearTimeout(timer);
          return answered(status, undefined);
        }
        settled(responseText(response), (text) => {
          clearTimeout(timer);
          answered(status, text);
        }, (error) => {
          if (timedOut) return fail(error);
          clearTimeout(timer);
          answered(status, undefined);
        });
      }, fail);
    } catch (error) {
      fail(error);
    }
  }

  /** The headers of refresh and logout calls: `refreshHeaders`, and the CSRF double-submit
   *  (none where the cookie cannot be read). A record with no prototype, keyed by lower-case
   *  name (a later one replaces an earlier one, as `Headers.set` would): a `Headers` object
   *  would be read through `Headers.prototype[Symbol.iterator]`, which a later script can
   *  replace, to read the CSRF value or drop it. */
  #sessionHeaders() {
    const headers = bag();
    const { refreshHeaders, csrf } = this.#config;
    for (let i = 0; i < refreshHeaders.length; i++) {
      headers[toLowerCase(refreshHeaders[i].name)] = refreshHeaders[i].value;
    }
    try {
      const value = csrf ? readCookie(csrf.cookie) : undefined;
      // Checked on a Headers of its own: a cookie value no header can carry is left out, and
      // the server's CSRF check decides.
      if (value !== undefined) {
        headersSet(new Headers(), csrf.header, value);
        headers[toLowerCase(csrf.header)] = value;
      }
    } catch {
      // Left out (above).
    }
    return headers;
  }

  #callRefresh(ticket) {
    this.#exchange(this.#config.refreshUrl, this.#config.refreshMethod, this.#sessionHeaders(), undefined, (status, text) => {
      if (this.#freed) return;
      this.#refreshCause = undefined;
      this.#input(core.REFRESH_ANSWERED, ticket, status, text ?? core.UNREAD, now());
    }, (failure, error) => {
      if (this.#freed) return;
      // The cause of the errors this failure settles the waiting calls with.
      this.#refreshCause = error;
      this.#input(core.REFRESH_FAILED, ticket, failure, 0, 0);
    });
  }

  #login(credentials) {
    if (this.#freed) return abortedByFree();
    ensureRoom();
    let body;
    try {
      body = encode(credentials, 64);
    } catch {
      body = undefined;
    }
    if (body === undefined || body[0] !== "{") {
      return rejected(new AuthError("invalid_config", "login() takes an object to send as JSON"));
    }
    const headers = bag();
    headers["content-type"] = "application/json";
    return this.#callEndpoint(this.#config.loginUrl, headers, body, core.LOGIN, (id, status, text) => {
      this.#input(core.LOGIN_ANSWERED, id, status, text ?? core.UNREAD, now());
    });
  }

  #logout() {
    if (this.#freed) return abortedByFree();
    ensureRoom();
    // Local state first and whatever the server says: the user asked to be signed out.
    this.#input(core.SIGN_OUT, 0, 0, 0, 0);
    return this.#callEndpoint(this.#config.logoutUrl, this.#sessionHeaders(), undefined, core.LOGOUT, (id, status) => {
      this.#input(core.LOGOUT_ANSWERED, id, status, 0, 0);
    });
  }

  /** A `login()` or `logout()` call: POSTs to `url`; `answered(id, status, text)` tells the core. */
  #callEndpoint(url, headers, body, endpoint, answered) {
    // The credentials' getters, or a listener that heard "signed-out", may have freed the client.
    if (this.#freed) return abortedByFree();
    const id = ++this.#nextCall;
    const call = deferred();
    call.name = where("POST", url);
    this.#calls[id] = call;
    this.#exchange(url, "POST", headers, body, (status, text) => {
      if (this.#freed) return;
      answered(id, status, text);
    }, (failure, error) => {
      if (this.#freed) return;
      call.cause = error;
      this.#input(core.FAILED, id, failure, endpoint, 0);
    });
    return call.promise;
  }

  #free() {
    // A listener that frees the client again while the last actions are carried out finds it
    // already going.
    if (this.#freed || this.#freeing) return;
    ensureRoom();
    this.#freeing = true;
    this.#input(core.CLOSE, 0, 0, 0, 0);
    this.#freed = true;
    this.#listeners = bag();
    // Calls the core no longer tracked (none should be left) fail too.
    const ids = keys(this.#calls);
    for (let i = 0; i < ids.length; i++) {
      const call = this.#calls[ids[i]];
      this.#finish(ids[i], call);
      call.reject(new AuthError("aborted", FREED));
    }
    this.#tabs.close();
    core.free(this.#core);
  }
}

/**
 * The request `fetch(input, init)` would make, as an object of our own: the token is never
 * set on one the caller holds. The app's own URL objects go where they point, whatever their
 * prototype's stringification was replaced with since.
 */
function ownRequest(input, init) {
  if (typeof input === "object" && isA(input, URL)) input = urlHref(input);
  return new Request(input, init);
}

/**
 * Whether the caller can abort the request: it passed a signal, or a Request (which has one).
 * Otherwise the request's signal never aborts, and adding and removing the listener were a
 * sixth of the driver's time per call (a Chromium CPU profile of calls over the network).
 */
function mayAbort(input, init) {
  try {
    return typeof input !== "string" || (init != null && init.signal != null);
  } catch {
    return true;
  }
}

/** Whether the caller's body is a stream, which cannot be sent twice. */
function streamed(init) {
  try {
    return init != null && isA(init.body, ReadableStream);
  } catch {
    return true;
  }
}

const onceOnly = bag();
onceOnly.once = true;
