//! `fetch` with a deadline: the caller's abort signal and `timeoutMs`, told apart afterwards.

#[allow(unused_imports)]
use crate::prelude::*;

use js_sys::{Array, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Request, Response};

use crate::core::{AuthError, ErrorCode, Value};
use crate::shell::convert::to_value;

#[wasm_bindgen]
extern "C" {
    /// The global `fetch`, bound as in gloo-net so it works in workers too.
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_request(request: &Request) -> Promise;

    /// `fetch(input, init)` with the caller's own arguments, for requests passed through.
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_raw(input: &JsValue, init: &JsValue) -> Promise;
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

/// Sends `request` (already carrying `deadline.signal()`).
pub(crate) async fn send(request: &Request, deadline: &Deadline) -> Result<Response, Failure> {
    JsFuture::from(fetch_request(request))
        .await
        .map(JsCast::unchecked_into)
        .map_err(|error| deadline.failure(error))
}

/// `fetch(input, init)` exactly as the caller wrote it.
pub(crate) async fn pass_through(input: &JsValue, init: &JsValue) -> Result<JsValue, JsValue> {
    JsFuture::from(fetch_raw(input, init)).await
}

/// The response body as core data (`None`: not JSON), top-level fields only: that is all a
/// token answer needs, and nested values are never copied into wasm.
pub(crate) async fn json_body(
    response: &Response,
    deadline: &Deadline,
) -> Result<Option<Value>, Failure> {
    let Ok(promise) = response.json() else {
        return Ok(None);
    };
    match JsFuture::from(promise).await {
        Ok(body) => Ok(Some(to_value(&body, 1))),
        // A body that stopped arriving because the deadline passed is a timeout, not bad JSON.
        Err(error) => match deadline.failure(error) {
            Failure::Network(_) => Ok(None),
            failure => Err(failure),
        },
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
