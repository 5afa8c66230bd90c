//! `fetch` with a deadline: the caller's abort signal and `timeoutMs`, told apart afterwards.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::rc::Rc;
use core::cell::RefCell;
use core::future::Future;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Request, Response};

use crate::core::{AuthError, ErrorCode, Value};
use crate::shell::convert::to_value;

// What handles the token, the request's destination and the refresh answer, captured when the
// module loads: a script that later replaces `fetch`, `Request`, `URL`, `Headers.prototype.set`
// or `Response.prototype.json` (or the getters and `Reflect.apply` these use) never sees a
// token pass through its replacement, nor makes a third-party URL look like the API.
#[wasm_bindgen(inline_js = "
const g = globalThis;
const apply = g.Reflect.apply;
const create = g.Object.create;
// Undefined where the engine lacks the property (Firefox has no `Request.prototype.body`):
// each use says what it does then, so no engine fails to load the module.
const getter = (type, name) => g.Object.getOwnPropertyDescriptor(type.prototype, name)?.get;
const capturedFetch = g.fetch;
const CapturedRequest = g.Request;
const CapturedHeaders = g.Headers;
const CapturedURL = g.URL;
const urlOrigin = getter(g.URL, 'origin');
const requestUrl = getter(g.Request, 'url');
const requestHeaders = getter(g.Request, 'headers');
const requestBody = getter(g.Request, 'body');
const requestSignal = getter(g.Request, 'signal');
const requestReferrer = getter(g.Request, 'referrer');
const requestReferrerPolicy = getter(g.Request, 'referrerPolicy');
const cloneRequest = g.Request.prototype.clone;
const hasHeader = g.Headers.prototype.has;
const setHeader = g.Headers.prototype.set;
const readJson = g.Response.prototype.json;
const responseStatus = getter(g.Response, 'status');
const CapturedPromise = g.Promise;
const CapturedAbortController = g.AbortController;
const CapturedAbortSignal = g.AbortSignal;
const CapturedDOMException = g.DOMException;
const controllerSignal = getter(g.AbortController, 'signal');
const abortController = g.AbortController.prototype.abort;
const signalAborted = getter(g.AbortSignal, 'aborted');
const signalReason = getter(g.AbortSignal, 'reason');
const addListener = g.EventTarget.prototype.addEventListener;
const capturedSetTimeout = g.setTimeout;
// AbortSignal.timeout and AbortSignal.any are newer than fetch and AbortController (Safari
// 16 and 17.4, Firefox 100 and 124): without them the same signals are built by hand.
const nativeTimeout = g.AbortSignal.timeout;
const nativeAny = g.AbortSignal.any;
const iteratorSymbol = g.Symbol.iterator;
const then = g.Promise.prototype.then;
const isRequest = (value) => value instanceof CapturedRequest;
// What `fetch` resolves a relative URL against: the document's base URL (it follows
// history.pushState and <base href>), or the worker's location.
const baseUrl = () => (g.document ? g.document.baseURI : g.location?.href);

let lastBase;
let lastBaseOrigin;
const originOf = (url, base) => apply(urlOrigin, new CapturedURL(url, base), []);
export function requestOrigin(input) {
  try {
    const url = isRequest(input) ? apply(requestUrl, input, []) : '' + input;
    const base = baseUrl();
    // A path such as '/api/x' keeps the base's origin. The URL parser reads '//' and '/\\' as
    // the start of a new host, and drops tabs and newlines first: those take the full parse.
    const second = url.charCodeAt(1);
    if (url[0] === '/' && second !== 47 && second !== 92 && second !== 9 && second !== 10 && second !== 13) {
      if (base !== lastBase) {
        lastBaseOrigin = originOf(base);
        lastBase = base;
      }
      return lastBaseOrigin;
    }
    return originOf(url, base);
  } catch {
    return undefined;
  }
}
export function pageOrigin() {
  return g.location?.origin;
}
// A signal that aborts with a 'TimeoutError' DOMException after `ms`.
export function timeoutSignal(ms) {
  if (nativeTimeout) return apply(nativeTimeout, CapturedAbortSignal, [ms]);
  const controller = new CapturedAbortController();
  capturedSetTimeout(() => apply(abortController, controller, [new CapturedDOMException('signal timed out', 'TimeoutError')]), ms);
  return apply(controllerSignal, controller, []);
}
// Why `signal` aborted: its reason, or (where the engine has no `AbortSignal.reason`) the
// `AbortError` that fetch itself would reject with.
export function abortReason(signal) {
  const reason = signalReason ? apply(signalReason, signal, []) : undefined;
  return reason === undefined ? new CapturedDOMException('signal is aborted without reason', 'AbortError') : reason;
}
// The two signals as an iterable that a replaced Array.prototype[Symbol.iterator] cannot
// steer: AbortSignal.any iterates its argument.
const pairOf = (first, second) => {
  const pair = create(null);
  pair[iteratorSymbol] = () => {
    let index = 0;
    const iterator = create(null);
    iterator.next = () => {
      const step = create(null);
      step.done = index > 1;
      step.value = index === 0 ? first : index === 1 ? second : undefined;
      index += 1;
      return step;
    };
    return iterator;
  };
  return pair;
};
// Listener options with no prototype, so Object.prototype getters add no `signal` or `passive`.
const onceOnly = create(null);
onceOnly.once = true;
// A signal that aborts when either one does, with that one's reason.
export function eitherSignal(first, second) {
  if (nativeAny) return apply(nativeAny, CapturedAbortSignal, [pairOf(first, second)]);
  const controller = new CapturedAbortController();
  const follow = (signal) => {
    const abort = () => apply(abortController, controller, [abortReason(signal)]);
    if (apply(signalAborted, signal, [])) abort();
    else apply(addListener, signal, ['abort', abort, onceOnly]);
  };
  follow(first);
  follow(second);
  return apply(controllerSignal, controller, []);
}
export function newRequest(input, init) {
  return new CapturedRequest(input, init);
}
export function hasAuthorization(request) {
  return apply(hasHeader, apply(requestHeaders, request, []), ['authorization']);
}
// The signal the caller gave, if any (every Request has one; only a given one can abort).
export function callerSignal(input, init) {
  if (init != null && init.signal != null) return init.signal;
  if (init != null && 'signal' in init) return undefined;
  return isRequest(input) ? apply(requestSignal, input, []) : undefined;
}
// One attempt of an API call. `base` is sent as it is when it has no body (fetch leaves such
// a request reusable), or a clone of it so its body stays for a retry. The init carries the
// signal and, when given, the header; it repeats the referrer and its policy, which a
// non-empty init would otherwise reset.
export function send(base, signal, authorization) {
  // Without the body getter every request is cloned: a copy of a bodiless one costs little.
  const bodiless = requestBody !== undefined && apply(requestBody, base, []) === null;
  const request = bodiless ? base : apply(cloneRequest, base, []);
  const init = create(null);
  init.signal = signal;
  init.referrer = apply(requestReferrer, request, []);
  init.referrerPolicy = apply(requestReferrerPolicy, request, []);
  if (authorization !== undefined) {
    const headers = new CapturedHeaders(apply(requestHeaders, request, []));
    apply(setHeader, headers, ['authorization', 'Bearer ' + authorization]);
    init.headers = headers;
  }
  return apply(capturedFetch, g, [request, init]);
}
// Login and refresh answers carry tokens. Their status and body are handed to `deliver` by a
// direct call; the promise returned resolves with nothing, so a replaced Promise.prototype.then
// watching what the wasm awaits never sees the Response or the body.
export function exchange(request, wantBody, deliver) {
  return new CapturedPromise((resolve, reject) => {
    apply(then, apply(capturedFetch, g, [request]), [
      (response) => {
        const status = apply(responseStatus, response, []);
        if (!wantBody || status < 200 || status > 299) {
          deliver(status, undefined, false);
          resolve();
          return;
        }
        apply(then, apply(readJson, response, []), [
          (body) => { deliver(status, body, true); resolve(); },
          () => { deliver(status, undefined, false); resolve(); },
        ]);
      },
      reject,
    ]);
  });
}
export function passThrough(input, init) {
  return apply(capturedFetch, g, init === undefined ? [input] : [input, init]);
}
export function bodyIsStream(init) {
  return init != null && init.body instanceof g.ReadableStream;
}
export function resolveUrl(url) {
  try {
    return new CapturedURL(url, baseUrl()).href;
  } catch {
    return undefined;
  }
}")]
extern "C" {
    /// The origin of the URL `fetch(input)` would request, resolved as `fetch` resolves it;
    /// `None` when it does not parse (then `fetch` itself reports the error).
    #[wasm_bindgen(js_name = requestOrigin)]
    pub(crate) fn request_origin(input: &JsValue) -> Option<String>;

    /// `location.origin`: the default API origin (not the base URL's, which `<base href>` can
    /// point at another site).
    #[wasm_bindgen(js_name = pageOrigin)]
    pub(crate) fn page_origin() -> Option<String>;

    /// `AbortSignal.timeout(ms)`, or the same built by hand where the engine lacks it.
    #[wasm_bindgen(js_name = timeoutSignal)]
    pub(crate) fn timeout_signal(ms: u32) -> AbortSignal;

    /// `signal.reason`, or an `AbortError` where the engine has no `AbortSignal.reason`.
    #[wasm_bindgen(js_name = abortReason)]
    pub(crate) fn abort_reason(signal: &AbortSignal) -> JsValue;

    /// `AbortSignal.any([first, second])`, or the same built by hand where the engine lacks it.
    #[wasm_bindgen(js_name = eitherSignal)]
    fn either_signal(first: &AbortSignal, second: &AbortSignal) -> AbortSignal;

    /// `new Request(input, init)`, throwing as `fetch` would when the arguments are invalid.
    #[wasm_bindgen(catch, js_name = newRequest)]
    pub(crate) fn new_request(input: &JsValue, init: &JsValue) -> Result<Request, JsValue>;

    /// Whether the caller set an `Authorization` header of its own.
    #[wasm_bindgen(js_name = hasAuthorization)]
    pub(crate) fn has_authorization(request: &Request) -> bool;

    /// The abort signal the caller passed, in `init` or on its `Request`.
    #[wasm_bindgen(js_name = callerSignal)]
    pub(crate) fn caller_signal(input: &JsValue, init: &JsValue) -> Option<AbortSignal>;

    /// Whether the caller's body is a stream, which cannot be sent a second time.
    #[wasm_bindgen(js_name = bodyIsStream)]
    pub(crate) fn body_is_stream(init: &JsValue) -> bool;

    /// `url` resolved against the document's base URL; `None` when it is not a valid URL.
    #[wasm_bindgen(js_name = resolveUrl)]
    pub(crate) fn resolve_url(url: &str) -> Option<String>;

    /// Sends `base` (or a clone, when it has a body) under `signal` with the captured `fetch`,
    /// with `Authorization: Bearer <token>` set by the captured setter when a token is given.
    #[wasm_bindgen(js_name = send)]
    fn captured_send(base: &Request, signal: &AbortSignal, token: Option<&str>) -> Promise;

    /// Sends `request` and calls `deliver(status, body, parsed)` once it is answered (the body
    /// only when `want_body` and 2xx; `parsed` false when it was not JSON).
    #[wasm_bindgen(js_name = exchange)]
    fn captured_exchange(request: &Request, want_body: bool, deliver: &Function) -> Promise;

    /// `fetch(input, init)` with the caller's own arguments, for requests passed through.
    #[wasm_bindgen(js_name = passThrough)]
    fn captured_pass_through(input: &JsValue, init: &JsValue) -> Promise;
}

/// Why a call produced no response.
pub(crate) enum Failure {
    /// The caller aborted through its signal: reject with this reason (an `AbortError`).
    Aborted(JsValue),
    /// `timeoutMs` passed.
    Timeout,
    /// `fetch` rejected for another reason (network, CORS, a bad request).
    Network(JsValue),
}

impl Failure {
    /// The rejection for a call to `what` ("the API", "the refresh endpoint", …).
    pub(crate) fn into_js(self, what: &str, timeout_ms: u32) -> JsValue {
        match self {
            Failure::Aborted(reason) => reason,
            other => crate::shell::convert::auth_error(
                &other.to_auth_error(what, timeout_ms),
                other.cause(),
            ),
        }
    }

    /// The error for the core (aborts never reach it: they only end the caller's own call).
    pub(crate) fn to_auth_error(&self, what: &str, timeout_ms: u32) -> AuthError {
        match self {
            Failure::Timeout => AuthError::new(
                ErrorCode::Timeout,
                [
                    what,
                    " did not answer within ",
                    &crate::core::error::decimal(u64::from(timeout_ms)),
                    " ms",
                ]
                .concat(),
            ),
            Failure::Network(_) | Failure::Aborted(_) => {
                AuthError::new(ErrorCode::Network, [what, " could not be reached"].concat())
            }
        }
    }

    fn cause(&self) -> Option<&JsValue> {
        match self {
            Failure::Network(cause) => Some(cause),
            _ => None,
        }
    }
}

/// The signals one call runs under.
pub(crate) struct Deadline {
    caller: Option<AbortSignal>,
    timeout: AbortSignal,
    combined: AbortSignal,
}

impl Deadline {
    /// Aborts after `timeout_ms`, or when `caller` aborts.
    pub(crate) fn new(caller: Option<AbortSignal>, timeout_ms: u32) -> Self {
        let timeout = timeout_signal(timeout_ms);
        let combined = match &caller {
            Some(caller) => either_signal(caller, &timeout),
            None => timeout.clone(),
        };
        Self {
            caller,
            timeout,
            combined,
        }
    }

    /// The signal to give `fetch`.
    pub(crate) fn signal(&self) -> &AbortSignal {
        &self.combined
    }

    fn failure(&self, error: JsValue) -> Failure {
        match &self.caller {
            Some(caller) if caller.aborted() => Failure::Aborted(abort_reason(caller)),
            _ if self.timeout.aborted() => Failure::Timeout,
            _ => Failure::Network(error),
        }
    }
}

/// Sends `base` under `deadline`, with `Authorization: Bearer <token>` when a token is given.
/// The token is only read while the request is handed over, not kept for the wait.
pub(crate) fn send<'a>(
    base: &Request,
    token: Option<&str>,
    deadline: &'a Deadline,
) -> impl Future<Output = Result<Response, Failure>> + 'a {
    let sent = JsFuture::from(captured_send(base, deadline.signal(), token));
    async move {
        sent.await
            .map(JsCast::unchecked_into)
            .map_err(|error| deadline.failure(error))
    }
}

/// `fetch(input, init)` exactly as the caller wrote it.
pub(crate) async fn pass_through(input: &JsValue, init: &JsValue) -> Result<JsValue, JsValue> {
    JsFuture::from(captured_pass_through(input, init)).await
}

/// An answer from one of our own endpoints.
pub(crate) struct Answer {
    /// The HTTP status.
    pub(crate) status: u16,
    /// The JSON body, top-level fields only (all a token answer needs; nested values are never
    /// copied into wasm), when it was asked for and the status is 2xx. `None`: not JSON.
    pub(crate) body: Option<Value>,
}

/// Sends `request` (already carrying `deadline.signal()`) to one of our own endpoints.
pub(crate) async fn exchange(
    request: &Request,
    want_body: bool,
    deadline: &Deadline,
) -> Result<Answer, Failure> {
    let delivered: Rc<RefCell<Option<Answer>>> = Rc::default();
    let slot = Rc::clone(&delivered);
    let deliver = Closure::<dyn FnMut(u16, JsValue, bool)>::new(
        move |status: u16, body: JsValue, parsed: bool| {
            let body = parsed.then(|| to_value(&body, 1));
            *slot.borrow_mut() = Some(Answer { status, body });
        },
    );
    JsFuture::from(captured_exchange(
        request,
        want_body,
        deliver.as_ref().unchecked_ref(),
    ))
    .await
    .map_err(|error| deadline.failure(error))?;
    let answer = delivered.borrow_mut().take();
    match answer {
        // A body that stopped arriving because the deadline passed is a timeout, not bad JSON.
        Some(Answer { body: None, .. }) if want_body && deadline.timeout.aborted() => {
            Err(Failure::Timeout)
        }
        Some(answer) => Ok(answer),
        None => Err(Failure::Timeout),
    }
}

/// The value of cookie `name` readable by the page (`document.cookie` is only read, never set).
pub(crate) fn read_cookie(name: &str) -> Option<String> {
    let document = Reflect::get(&js_sys::global(), &"document".into()).ok()?;
    let cookies = Reflect::get(&document, &"cookie".into())
        .ok()?
        .as_string()?;
    cookies
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| key.trim() == name)
        .map(|(_, value)| value.trim().to_owned())
}
