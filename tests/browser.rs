//! AuthClient in each browser engine against the reference server on 127.0.0.1: each test checks
//! the server's own view (its counters and the journal of requests it received).
//!
//! The test command starts the server in test mode and compiles this file with its address in
//! `AUTHFETCH_TEST_API` (and the same server under another origin in `AUTHFETCH_TEST_FOREIGN`).
//! The page runs on another port, so every call is cross-origin with credentialed CORS, as in a
//! real deployment with the SPA and the API apart.
#![cfg(target_arch = "wasm32")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use authfetch::AuthClient;
use js_sys::{Array, JSON, Object, Promise, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const API: &str = match option_env!("AUTHFETCH_TEST_API") {
    Some(url) => url,
    None => "http://127.0.0.1:9",
};
const FOREIGN: &str = match option_env!("AUTHFETCH_TEST_FOREIGN") {
    Some(url) => url,
    None => "http://localhost:9",
};
/// The engine the test command runs this build in (chromium, firefox, webkit).
const ENGINE: &str = match option_env!("AUTHFETCH_TEST_ENGINE") {
    Some(engine) => engine,
    None => "chromium",
};

#[wasm_bindgen(inline_js = r#"
export async function control(url, body) {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
}
export async function getJson(url) {
  return (await fetch(url)).json();
}
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
export function abortAfter(ms) {
  const controller = new AbortController();
  setTimeout(() => controller.abort(), ms);
  return controller.signal;
}
// Counts every touch of browser storage. Installed once per page; each test asserts none.
export function instrumentStorage() {
  if (globalThis.__storageTouches) return;
  const touches = (globalThis.__storageTouches = []);
  const wrap = (target, name, label) => {
    const original = target[name];
    target[name] = function (...args) { touches.push(label); return original.apply(this, args); };
  };
  for (const m of ["setItem", "getItem", "removeItem", "clear", "key"]) wrap(Storage.prototype, m, `Storage.${m}`);
  for (const m of ["open", "deleteDatabase"]) wrap(IDBFactory.prototype, m, `indexedDB.${m}`);
  if (globalThis.CacheStorage) for (const m of ["open", "match", "has", "keys", "delete"]) wrap(CacheStorage.prototype, m, `caches.${m}`);
  for (const name of ["localStorage", "sessionStorage", "indexedDB", "caches"]) {
    const owner = [globalThis, Window.prototype].find((o) => Object.getOwnPropertyDescriptor(o, name));
    const descriptor = owner && Object.getOwnPropertyDescriptor(owner, name);
    if (descriptor?.get) {
      Object.defineProperty(owner, name, { configurable: true, get() { touches.push(name); return descriptor.get.call(this); } });
    }
  }
  const cookie = Object.getOwnPropertyDescriptor(Document.prototype, "cookie");
  Object.defineProperty(Document.prototype, "cookie", {
    configurable: true,
    get() { return cookie.get.call(this); },
    set(value) { touches.push("document.cookie="); cookie.set.call(this, value); },
  });
}
export function storageTouches() {
  return globalThis.__storageTouches.join(",");
}
"#)]
extern "C" {
    #[wasm_bindgen(catch)]
    async fn control(url: &str, body: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = getJson)]
    async fn get_json(url: &str) -> JsValue;
    async fn sleep(ms: u32) -> JsValue;
    #[wasm_bindgen(js_name = abortAfter)]
    fn abort_after(ms: u32) -> JsValue;
    #[wasm_bindgen(js_name = instrumentStorage)]
    fn instrument_storage();
    #[wasm_bindgen(js_name = storageTouches)]
    fn storage_touches() -> String;
}

// ---- helpers -----------------------------------------------------------------------------

/// A clean server and an instrumented page: every test starts here.
async fn start() {
    instrument_storage();
    control(&format!("{API}/auth/test/reset"), "{}")
        .await
        .unwrap();
}

/// Every test ends here: the client never touched browser storage.
fn finish() {
    assert_eq!(storage_touches(), "", "browser storage was touched");
}

async fn server(path: &str, body: &str) {
    control(&format!("{API}{path}"), body).await.unwrap();
}

fn json(text: &str) -> JsValue {
    JSON::parse(text).unwrap()
}

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap()
}

/// A client for the test server with `extra` options (a JSON object literal) merged in.
fn client(extra: &str) -> AuthClient {
    let options = json(&format!(
        r#"{{"apiOrigins":["{API}"],"refreshUrl":"{API}/auth/refresh","loginUrl":"{API}/auth/login","logoutUrl":"{API}/auth/logout","timeoutMs":5000}}"#
    ));
    Object::assign(
        options.unchecked_ref::<Object>(),
        json(extra).unchecked_ref::<Object>(),
    );
    AuthClient::new(Some(options.unchecked_into())).unwrap()
}

async fn settle(promise: impl Into<JsValue>) -> Result<JsValue, JsValue> {
    JsFuture::from(Promise::from(promise.into())).await
}

async fn login(auth: &AuthClient) {
    settle(auth.login(json(r#"{"username":"demo","password":"demo"}"#).unchecked_into()))
        .await
        .unwrap();
}

/// Calls `auth.fetch(url, init)` now; the returned future only waits for the answer, so several
/// calls can be in flight together.
fn call(
    auth: &AuthClient,
    url: &str,
    init: Option<JsValue>,
) -> impl std::future::Future<Output = Result<web_sys::Response, JsValue>> + use<> {
    let promise = auth.fetch(
        JsValue::from_str(url).unchecked_into(),
        init.map(JsCast::unchecked_into),
    );
    async move { settle(promise).await.map(JsCast::unchecked_into) }
}

async fn fetch(
    auth: &AuthClient,
    url: &str,
    init: Option<JsValue>,
) -> Result<web_sys::Response, JsValue> {
    call(auth, url, init).await
}

/// Fires `count` calls to `path` at once and returns their responses.
async fn burst(auth: &AuthClient, count: usize, path: &str) -> Vec<web_sys::Response> {
    let calls: Vec<_> = (0..count)
        .map(|_| call(auth, &format!("{API}{path}"), None))
        .collect();
    let mut responses = Vec::new();
    for pending in calls {
        responses.push(pending.await.unwrap());
    }
    responses
}

async fn status(auth: &AuthClient, path: &str) -> u16 {
    fetch(auth, &format!("{API}{path}"), None)
        .await
        .unwrap()
        .status()
}

async fn text(response: web_sys::Response) -> String {
    JsFuture::from(response.text().unwrap())
        .await
        .unwrap()
        .as_string()
        .unwrap()
}

struct Stats(JsValue);

impl Stats {
    fn of(&self, counter: &str) -> u32 {
        get(&self.0, counter).as_f64().unwrap() as u32
    }
}

async fn stats() -> Stats {
    Stats(get_json(&format!("{API}/auth/stats")).await)
}

/// The requests the server received (login, refresh and API calls), oldest first.
async fn journal() -> Vec<JsValue> {
    Array::from(&get_json(&format!("{API}/auth/test/requests")).await).to_vec()
}

fn field(entry: &JsValue, key: &str) -> Option<String> {
    get(entry, key).as_string()
}

async fn requests_to(path: &str) -> Vec<JsValue> {
    journal()
        .await
        .into_iter()
        .filter(|e| field(e, "path").as_deref() == Some(path))
        .collect()
}

/// The `code` of an AuthError, checking it is one.
fn auth_error_code(error: &JsValue) -> String {
    assert!(
        error.is_instance_of::<js_sys::Error>(),
        "an Error: {error:?}"
    );
    assert_eq!(
        field(error, "name").as_deref(),
        Some("AuthError"),
        "{error:?}"
    );
    let brand = Reflect::get(error, &js_sys::Symbol::for_("authfetch.AuthError")).unwrap();
    assert_eq!(brand, JsValue::TRUE, "branded for `instanceof AuthError`");
    field(error, "code").unwrap()
}

/// Records every state the client reports.
fn record_states(auth: &AuthClient) -> Array {
    let states = Array::new();
    let sink = states.clone();
    let listener = Closure::<dyn Fn(JsValue)>::new(move |state: JsValue| {
        sink.push(&state);
    });
    auth.on_change(listener.into_js_value().unchecked_into());
    states
}

fn states(recorded: &Array) -> Vec<String> {
    recorded.iter().filter_map(|s| s.as_string()).collect()
}

fn page_origin() -> String {
    let location = Reflect::get(&js_sys::global(), &"location".into()).unwrap();
    field(&location, "origin").unwrap()
}

// ---- the contract ------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn the_bearer_token_is_attached_to_api_calls() {
    start().await;
    let auth = client("{}");
    login(&auth).await;
    assert!(auth.is_authenticated());
    assert_eq!(status(&auth, "/api/me").await, 200);
    let calls = requests_to("/api/me").await;
    assert_eq!(calls.len(), 1);
    let authorization = field(&calls[0], "authorization").unwrap();
    assert!(authorization.starts_with("Bearer ey"), "{authorization}");
    assert_eq!(field(&calls[0], "origin").unwrap(), page_origin());
    finish();
}

#[wasm_bindgen_test]
async fn a_401_refreshes_once_and_the_retry_succeeds() {
    start().await;
    let auth = client("{}");
    login(&auth).await;
    server("/auth/test/rotate-secret", "{}").await;
    assert_eq!(status(&auth, "/api/me").await, 200);
    let counts = stats().await;
    assert_eq!(
        (
            counts.of("refresh_calls"),
            counts.of("refresh_ok"),
            counts.of("unauthorized_served")
        ),
        (1, 1, 1)
    );
    let calls = requests_to("/api/me").await;
    assert_eq!(calls.len(), 2, "the original and one retry");
    assert_ne!(
        field(&calls[0], "authorization"),
        field(&calls[1], "authorization"),
        "retried with the new token"
    );
    finish();
}

#[wasm_bindgen_test]
async fn fifty_concurrent_calls_with_an_expired_token_make_one_refresh() {
    start().await;
    server("/auth/test/config", r#"{"access_ttl":1}"#).await;
    let auth = client("{}");
    login(&auth).await;
    sleep(1100).await;
    for response in burst(&auth, 50, "/api/ping").await {
        assert_eq!(response.status(), 200);
    }
    let counts = stats().await;
    assert_eq!(counts.of("refresh_calls"), 1);
    assert_eq!(
        counts.of("unauthorized_served"),
        0,
        "known expiry: refreshed before sending, no 401 round trip"
    );
    finish();
}

#[wasm_bindgen_test]
async fn fifty_concurrent_401s_make_one_refresh() {
    start().await;
    let auth = client("{}");
    login(&auth).await;
    server("/auth/test/rotate-secret", "{}").await;
    for response in burst(&auth, 50, "/api/ping").await {
        assert_eq!(response.status(), 200);
    }
    let counts = stats().await;
    assert_eq!(counts.of("refresh_calls"), 1);
    assert_eq!(counts.of("unauthorized_served"), 50);
    finish();
}

#[wasm_bindgen_test]
async fn a_post_body_is_replayed_byte_for_byte() {
    start().await;
    let auth = client("{}");
    login(&auth).await;
    server("/auth/test/rotate-secret", "{}").await;
    let body = "{ \"text\": \"caf\u{e9} \u{1f600}\", \"n\": [1, 2.50, null] }";
    let init = json(r#"{"method":"POST","headers":{"content-type":"application/json"}}"#);
    Reflect::set(&init, &"body".into(), &body.into()).unwrap();
    let response = fetch(&auth, &format!("{API}/api/echo"), Some(init))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(text(response).await, body);
    let calls = requests_to("/api/echo").await;
    assert_eq!(calls.len(), 2);
    assert_eq!(field(&calls[0], "body").as_deref(), Some(body));
    assert_eq!(field(&calls[1], "body").as_deref(), Some(body));
    assert_eq!(field(&calls[1], "method").as_deref(), Some("POST"));
    finish();
}

#[wasm_bindgen_test]
async fn requests_to_other_origins_never_carry_the_token() {
    start().await;
    let auth = client("{}");
    login(&auth).await;
    // The same server under another origin (localhost instead of 127.0.0.1).
    let foreign = fetch(&auth, &format!("{FOREIGN}/api/ping"), None)
        .await
        .unwrap();
    assert_eq!(foreign.status(), 401, "no bearer, so the server refuses");
    // A redirect from the API origin to the other origin drops it too. Chromium and Firefox
    // follow it (the request arrives without the bearer) and then fail the call on CORS, as
    // the redirected request's origin is "null"; WebKit does not follow a cross-origin redirect
    // of a request that needed a preflight (this one carries the bearer), so nothing arrives.
    let target = js_sys::encode_uri_component(&format!("{FOREIGN}/api/me"));
    let redirected = fetch(
        &auth,
        &format!("{API}/auth/test/redirect?to={target}"),
        None,
    )
    .await;
    assert!(redirected.is_err(), "fails as fetch would in {ENGINE}");
    let follows_redirect = ENGINE != "webkit";
    let entries = journal().await;
    let foreign_host = FOREIGN.trim_start_matches("http://");
    let to_foreign: Vec<_> = entries
        .iter()
        .filter(|e| field(e, "host").as_deref() == Some(foreign_host))
        .collect();
    assert_eq!(
        to_foreign.len(),
        if follows_redirect { 2 } else { 1 },
        "the direct call arrived, and the redirected one where the engine follows it"
    );
    for entry in to_foreign {
        assert_eq!(
            field(entry, "authorization"),
            None,
            "{:?}",
            field(entry, "path")
        );
    }
    let redirect = entries
        .iter()
        .find(|e| field(e, "path").is_some_and(|p| p.starts_with("/auth/test/redirect")))
        .unwrap();
    assert!(
        field(redirect, "authorization").is_some(),
        "the API origin itself did get the token"
    );
    assert_eq!(
        stats().await.of("refresh_calls"),
        0,
        "foreign 401s never trigger a refresh"
    );
    finish();
}

#[wasm_bindgen_test]
async fn paths_that_the_url_parser_reads_as_another_host_never_carry_the_token() {
    start().await;
    // The page's own origin is an API origin here, so plain paths get the token: the spellings
    // below must still be recognised as the other origin's.
    let page = page_origin();
    let auth = client(&format!(r#"{{"apiOrigins":["{API}","{page}"]}}"#));
    login(&auth).await;
    let foreign_host = FOREIGN.trim_start_matches("http://");
    for spelling in ["//", "/\\", "/\t/", "/\n/", "/\r/"] {
        let url = format!("{spelling}{foreign_host}/api/ping");
        let response = fetch(&auth, &url, None).await.unwrap();
        assert_eq!(response.status(), 401, "{url:?}: no bearer, so refused");
    }
    let foreign: Vec<_> = journal()
        .await
        .into_iter()
        .filter(|e| field(e, "host").as_deref() == Some(foreign_host))
        .collect();
    assert_eq!(foreign.len(), 5, "every spelling reached the other origin");
    assert!(foreign.iter().all(|e| field(e, "authorization").is_none()));
    finish();
}

#[wasm_bindgen_test]
async fn the_callers_referrer_policy_is_kept_on_the_request_sent() {
    start().await;
    let auth = client("{}");
    login(&auth).await;
    let hidden = json(r#"{"referrerPolicy":"no-referrer"}"#);
    let response = fetch(&auth, &format!("{API}/api/ping?hidden"), Some(hidden))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let shown = fetch(&auth, &format!("{API}/api/ping?shown"), None)
        .await
        .unwrap();
    assert_eq!(shown.status(), 200);
    let entries = journal().await;
    let referer = |path: &str| {
        let entry = entries
            .iter()
            .find(|e| field(e, "path").as_deref() == Some(path))
            .unwrap();
        (
            field(entry, "referer"),
            field(entry, "authorization").is_some(),
        )
    };
    assert_eq!(
        referer("/api/ping?hidden"),
        (None, true),
        "no-referrer kept"
    );
    assert_eq!(
        referer("/api/ping?shown"),
        (Some(format!("{}/", page_origin())), true),
        "the default policy sends the page's origin across origins"
    );
    finish();
}

#[wasm_bindgen_test]
async fn a_callers_own_authorization_header_is_left_alone() {
    start().await;
    let auth = client("{}");
    login(&auth).await;
    let init = json(r#"{"headers":{"Authorization":"Bearer the-callers-own"}}"#);
    let response = fetch(&auth, &format!("{API}/api/me"), Some(init))
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "returned as it is");
    let calls = requests_to("/api/me").await;
    assert_eq!(calls.len(), 1, "no retry");
    assert_eq!(
        field(&calls[0], "authorization").as_deref(),
        Some("Bearer the-callers-own")
    );
    assert_eq!(stats().await.of("refresh_calls"), 0, "no refresh");
    finish();
}

#[wasm_bindgen_test]
async fn a_known_expiry_refreshes_before_sending() {
    start().await;
    server("/auth/test/config", r#"{"access_ttl":2}"#).await;
    let auth = client("{}");
    login(&auth).await;
    let expires_at = auth.expires_at().unwrap();
    let now = js_sys::Date::now();
    assert!(
        (expires_at - now - 2000.0).abs() < 1000.0,
        "expiresAt is about two seconds away"
    );
    assert_eq!(status(&auth, "/api/me").await, 200);
    sleep(1100).await; // past the leeway (capped at half the lifetime: 1 s)
    assert_eq!(status(&auth, "/api/me").await, 200);
    let counts = stats().await;
    assert_eq!(
        (counts.of("refresh_calls"), counts.of("unauthorized_served")),
        (1, 0)
    );
    assert!(auth.expires_at().unwrap() > expires_at);
    finish();
}

#[wasm_bindgen_test]
async fn a_fresh_client_with_only_the_cookie_refreshes_first() {
    start().await;
    login(&client("{}")).await;
    // A page reload: a new client with no token; the httpOnly cookie is all there is.
    let reloaded = client("{}");
    let recorded = record_states(&reloaded);
    assert!(!reloaded.is_authenticated());
    assert_eq!(status(&reloaded, "/api/me").await, 200);
    assert!(reloaded.is_authenticated());
    assert_eq!(states(&recorded), ["refreshing", "signed-in"]);
    let counts = stats().await;
    assert_eq!(
        (counts.of("refresh_calls"), counts.of("unauthorized_served")),
        (1, 0)
    );
    finish();
}

#[wasm_bindgen_test]
async fn a_fresh_client_without_a_session_is_signed_out_and_public_calls_work() {
    start().await;
    let auth = client("{}");
    server("/auth/test/revoke-all", "{}").await;
    settle(auth.logout()).await.unwrap(); // no cookie at all
    let fresh = client("{}");
    let recorded = record_states(&fresh);
    assert_eq!(status(&fresh, "/api/me").await, 401);
    assert_eq!(states(&recorded), ["refreshing", "signed-out"]);
    let calls = requests_to("/api/me").await;
    assert_eq!(
        field(calls.last().unwrap(), "authorization"),
        None,
        "sent without a bearer"
    );
    finish();
}

#[wasm_bindgen_test]
async fn a_refused_refresh_ends_the_session_once_and_callers_get_their_401() {
    start().await;
    let auth = client("{}");
    login(&auth).await;
    let recorded = record_states(&auth);
    server("/auth/test/rotate-secret", "{}").await;
    server("/auth/test/revoke-all", "{}").await;
    for response in burst(&auth, 3, "/api/me").await {
        assert_eq!(response.status(), 401);
        assert!(
            text(response)
                .await
                .contains("access token signature invalid"),
            "the API's own 401"
        );
    }
    assert_eq!(states(&recorded), ["refreshing", "expired"]);
    assert!(!auth.is_authenticated());
    assert_eq!(auth.expires_at(), None);
    // Afterwards: sent without a bearer, no further refresh.
    assert_eq!(status(&auth, "/api/me").await, 401);
    assert_eq!(stats().await.of("refresh_calls"), 1);
    assert_eq!(
        field(
            requests_to("/api/me").await.last().unwrap(),
            "authorization"
        ),
        None
    );
    let error = settle(auth.refresh()).await.unwrap_err();
    assert_eq!(auth_error_code(&error), "session_expired");
    finish();
}

#[wasm_bindgen_test]
async fn refresh_failures_reject_with_their_code_and_the_client_recovers() {
    start().await;
    let cases = [
        (r#"{"kind":"status","status":500}"#, "refresh_failed"),
        (r#"{"kind":"delay","ms":1500}"#, "timeout"),
        (r#"{"kind":"not_json"}"#, "bad_response"),
        (r#"{"kind":"missing_token"}"#, "bad_response"),
        (r#"{"kind":"mistyped_token"}"#, "bad_response"),
    ];
    let auth = client(r#"{"timeoutMs":700}"#);
    login(&auth).await;
    for (fault, code) in cases {
        server("/auth/test/rotate-secret", "{}").await;
        server("/auth/test/refresh-fault", fault).await;
        let error = fetch(&auth, &format!("{API}/api/me"), None)
            .await
            .unwrap_err();
        assert_eq!(auth_error_code(&error), code, "{fault}");
        assert!(auth.is_authenticated(), "state kept after {fault}");
        // The fault is used up; the next call refreshes for real.
        assert_eq!(
            status(&auth, "/api/me").await,
            200,
            "recovers after {fault}"
        );
    }
    assert_eq!(stats().await.of("reuse_detections"), 0);
    finish();
}

#[wasm_bindgen_test]
async fn aborting_rejects_at_once_while_the_refresh_goes_on_for_the_others() {
    start().await;
    let auth = client("{}");
    login(&auth).await;
    server("/auth/test/rotate-secret", "{}").await;
    server("/auth/test/refresh-fault", r#"{"kind":"slow","ms":800}"#).await;
    let init = Object::new();
    Reflect::set(&init, &"signal".into(), &abort_after(150)).unwrap();
    let started = js_sys::Date::now();
    let aborted = call(&auth, &format!("{API}/api/me"), Some(init.into()));
    let patient = call(&auth, &format!("{API}/api/me"), None);
    let error = aborted.await.unwrap_err();
    assert_eq!(
        field(&error, "name").as_deref(),
        Some("AbortError"),
        "the platform's AbortError"
    );
    assert!(error.is_instance_of::<web_sys::DomException>());
    assert!(
        js_sys::Date::now() - started < 700.0,
        "rejected while the refresh was still running"
    );
    assert_eq!(patient.await.unwrap().status(), 200);
    assert_eq!(stats().await.of("refresh_calls"), 1);
    finish();
}

#[wasm_bindgen_test]
async fn an_api_call_over_the_timeout_rejects_with_timeout() {
    start().await;
    let auth = client(r#"{"timeoutMs":300}"#);
    login(&auth).await;
    let error = fetch(&auth, &format!("{API}/auth/test/slow?ms=2000"), None)
        .await
        .unwrap_err();
    assert_eq!(auth_error_code(&error), "timeout");
    finish();
}

#[wasm_bindgen_test]
async fn a_wrong_password_rejects_with_login_failed() {
    start().await;
    let auth = client("{}");
    let error =
        settle(auth.login(json(r#"{"username":"demo","password":"nope"}"#).unchecked_into()))
            .await
            .unwrap_err();
    assert_eq!(auth_error_code(&error), "login_failed");
    assert!(!auth.is_authenticated());
    finish();
}

#[wasm_bindgen_test]
async fn invalid_options_throw_invalid_config_naming_the_option() {
    start().await;
    let options = json(r#"{"apiOrigins":["https://api.example/v1"]}"#);
    let error = AuthClient::new(Some(options.unchecked_into()))
        .err()
        .unwrap();
    assert_eq!(auth_error_code(&error), "invalid_config");
    assert!(field(&error, "message").unwrap().starts_with("apiOrigins:"));
    finish();
}

#[wasm_bindgen_test]
async fn get_refresh_with_another_token_field() {
    start().await;
    let auth = client(&format!(
        r#"{{"refreshUrl":"{API}/auth/test/refresh-get","refreshMethod":"GET","tokenField":"token","loginTokenField":"access_token"}}"#
    ));
    login(&auth).await;
    server("/auth/test/rotate-secret", "{}").await;
    assert_eq!(status(&auth, "/api/me").await, 200);
    let refreshes = requests_to("/auth/test/refresh-get").await;
    assert_eq!(refreshes.len(), 1);
    assert_eq!(field(&refreshes[0], "method").as_deref(), Some("GET"));
    finish();
}

#[wasm_bindgen_test]
async fn csrf_double_submit_is_sent_on_refresh_and_logout() {
    start().await;
    server("/auth/test/config", r#"{"csrf":true}"#).await;
    let auth = client(
        r#"{"csrf":{"cookie":"csrf_refresh_token","header":"X-CSRF-TOKEN"},"refreshHeaders":{"X-Requested-With":"authfetch"}}"#,
    );
    login(&auth).await;
    server("/auth/test/rotate-secret", "{}").await;
    assert_eq!(
        status(&auth, "/api/me").await,
        200,
        "the refresh passed the CSRF check"
    );
    let refresh = requests_to("/auth/refresh").await;
    assert_eq!(refresh.len(), 1);
    assert!(field(&refresh[0], "csrf_header").is_some_and(|v| v.len() == 43));
    settle(auth.logout()).await.unwrap();
    assert!(field(&requests_to("/auth/logout").await[0], "csrf_header").is_some());

    // Without the option the server refuses the refresh (403): the session is over.
    let careless = client("{}");
    login(&careless).await;
    server("/auth/test/rotate-secret", "{}").await;
    assert_eq!(status(&careless, "/api/me").await, 401);
    assert!(!careless.is_authenticated());
    finish();
}

#[wasm_bindgen_test]
async fn logout_forgets_the_token_and_ends_the_session_on_the_server() {
    start().await;
    let auth = client("{}");
    login(&auth).await;
    let recorded = record_states(&auth);
    settle(auth.logout()).await.unwrap();
    assert!(!auth.is_authenticated());
    assert_eq!(states(&recorded), ["signed-out"]);
    assert_eq!(stats().await.of("logout_calls"), 1);
    assert_eq!(status(&auth, "/api/me").await, 401);
    assert_eq!(
        field(
            requests_to("/api/me").await.last().unwrap(),
            "authorization"
        ),
        None
    );
    // The session is really gone: a reloaded page finds none.
    let reloaded = client("{}");
    assert_eq!(status(&reloaded, "/api/me").await, 401);
    finish();
}

#[wasm_bindgen_test]
async fn freeing_the_client_rejects_waiting_calls_with_aborted() {
    start().await;
    let auth = client("{}");
    login(&auth).await;
    server("/auth/test/rotate-secret", "{}").await;
    server("/auth/test/refresh-fault", r#"{"kind":"slow","ms":500}"#).await;
    // The promise runs from the moment fetch() is called.
    let waiting = call(&auth, &format!("{API}/api/me"), None);
    sleep(100).await; // the call got its 401 and waits for the slow refresh
    drop(auth); // free()
    let result = waiting.await;
    assert_eq!(auth_error_code(&result.unwrap_err()), "aborted");
    // Let the slow refresh land before the next test resets the server's counters.
    sleep(600).await;
    finish();
}

#[wasm_bindgen_test]
async fn a_throwing_listener_does_not_stop_the_others() {
    start().await;
    let auth = client("{}");
    let thrower =
        Closure::<dyn Fn(JsValue)>::new(|_: JsValue| wasm_bindgen::throw_str("listener bug"));
    auth.on_change(thrower.into_js_value().unchecked_into());
    let recorded = record_states(&auth);
    login(&auth).await;
    assert_eq!(states(&recorded), ["signed-in"]);
    finish();
}
