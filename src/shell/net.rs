//! `fetch` with a deadline: the caller's abort signal and `timeoutMs`, told apart afterwards.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::rc::Rc;
use core::cell::RefCell;

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Request, Response};

use crate::core::{AuthError, ErrorCode, Value};
use crate::shell::convert::to_value;

// What handles the token and the refresh answer, captured when the module loads: a script that
// later replaces `fetch`, `Request`, `Headers.prototype.set` or `Response.prototype.json` (or
// the getters and `Reflect.apply` these use) never sees a token pass through its replacement.
#[wasm_bindgen(inline_js = "
const g = globalThis;
const apply = g.Reflect.apply;
const capturedFetch = g.fetch;
const CapturedRequest = g.Request;
const requestHeaders = g.Object.getOwnPropertyDescriptor(g.Request.prototype, 'headers').get;
const cloneRequest = g.Request.prototype.clone;
const setHeader = g.Headers.prototype.set;
const readJson = g.Response.prototype.json;
const responseStatus = g.Object.getOwnPropertyDescriptor(g.Response.prototype, 'status').get;
const CapturedPromise = g.Promise;
const then = g.Promise.prototype.then;

export function send(request, token) {
  if (token !== undefined) {
    apply(setHeader, apply(requestHeaders, request, []), ['authorization', 'Bearer ' + token]);
  }
  return apply(capturedFetch, g, [request]);
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
export function copyRequest(request, signal) {
  const init = g.Object.create(null);
  init.signal = signal;
  return new CapturedRequest(apply(cloneRequest, request, []), init);
}")]
extern "C" {
    /// Sends `request` with the captured `fetch`, first setting `Authorization: Bearer <token>`
    /// on its own headers with the captured setter when a token is given.
    #[wasm_bindgen(js_name = send)]
    fn captured_send(request: &Request, token: Option<&str>) -> Promise;

    /// Sends `request` and calls `deliver(status, body, parsed)` once it is answered (the body
    /// only when `want_body` and 2xx; `parsed` false when it was not JSON).
    #[wasm_bindgen(js_name = exchange)]
    fn captured_exchange(request: &Request, want_body: bool, deliver: &Function) -> Promise;

    /// `fetch(input, init)` with the caller's own arguments, for requests passed through.
    #[wasm_bindgen(js_name = passThrough)]
    fn captured_pass_through(input: &JsValue, init: &JsValue) -> Promise;

    /// A copy of `request` under `signal`, cloned first so `request` keeps its body for a retry.
    #[wasm_bindgen(catch, js_name = copyRequest)]
    pub(crate) fn copy_request(request: &Request, signal: &AbortSignal)
    -> Result<Request, JsValue>;
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
        let timeout = AbortSignal::timeout_with_u32(timeout_ms);
        let combined = match &caller {
            Some(caller) => AbortSignal::any(&Array::of2(caller, &timeout)),
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
            Some(caller) if caller.aborted() => Failure::Aborted(caller.reason()),
            _ if self.timeout.aborted() => Failure::Timeout,
            _ => Failure::Network(error),
        }
    }
}

/// Sends `request` (already carrying `deadline.signal()`), with `Authorization: Bearer <token>`
/// when a token is given.
pub(crate) async fn send(
    request: &Request,
    token: Option<&str>,
    deadline: &Deadline,
) -> Result<Response, Failure> {
    JsFuture::from(captured_send(request, token))
        .await
        .map(JsCast::unchecked_into)
        .map_err(|error| deadline.failure(error))
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

/// A property of the global object's `location` (`href`, `origin`), if there is one.
pub(crate) fn location(property: &str) -> Option<String> {
    let location = Reflect::get(&js_sys::global(), &"location".into()).ok()?;
    Reflect::get(&location, &property.into()).ok()?.as_string()
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
