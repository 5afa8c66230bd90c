//! Routes and hooks that exist only with `--test-mode`: counters and a request journal to
//! assert on, and controls that put the server in the states the SDK's tests need.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::body::{JsonBody, MAX_BODY_BYTES};
use crate::config::Config;
use crate::error::ApiError;
use crate::stats::Snapshot;
use crate::{AppState, auth, housekeeping, now, tokens};

/// What the test-mode routes share.
pub(crate) struct Controls {
    faults: Mutex<VecDeque<Fault>>,
    journal: Mutex<Vec<Entry>>,
    default_access_ttl: u64,
    default_csrf: bool,
    /// How long an API call with a refused token waits before its 401 (`refused_delay_ms`), so
    /// a test can have a burst's first 401 come back while the rest of it still waits in the
    /// browser, whatever the engine's connection limit and the machine's load.
    refused_delay_ms: AtomicU64,
}

/// One request as the server received it.
#[derive(Debug, Clone, Serialize)]
struct Entry {
    method: String,
    /// Path and query.
    path: String,
    host: Option<String>,
    origin: Option<String>,
    referer: Option<String>,
    /// The `Authorization` header exactly as received.
    authorization: Option<String>,
    csrf_header: Option<String>,
    /// The body, when it was declared with a length within the limit.
    body: Option<String>,
}

/// A refresh answer to serve instead of (or, for `Slow`, before) a rotation. Only `Slow` and
/// `ExitAfterRotation` rotate, so after the others the cookie stays good and the client can
/// recover.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Fault {
    /// Answer with this status and a JSON error.
    Status { status: u16 },
    /// Wait this long, then answer 503.
    Delay { ms: u64 },
    /// Wait this long, then rotate as usual.
    Slow { ms: u64 },
    /// Answer 200 with an HTML body.
    NotJson,
    /// Answer 200 with JSON lacking `access_token`.
    MissingToken,
    /// Answer 200 with `access_token` as a number.
    MistypedToken,
    /// Rotate as usual, then end the process before answering: an instance that dies after
    /// the commit, whose client never learns the new token.
    ExitAfterRotation,
}

#[derive(Deserialize)]
struct FaultRequest {
    #[serde(flatten)]
    fault: Fault,
    #[serde(default = "one")]
    count: u32,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
struct ConfigRequest {
    access_ttl: Option<u64>,
    csrf: Option<bool>,
    refused_delay_ms: Option<u64>,
}

impl Controls {
    pub(crate) fn new(config: &Config) -> Self {
        Self {
            faults: Mutex::default(),
            journal: Mutex::default(),
            default_access_ttl: config.access_ttl,
            default_csrf: config.csrf,
            refused_delay_ms: AtomicU64::new(0),
        }
    }

    /// Waits as `/auth/test/config` asked before an API call's 401.
    pub(crate) async fn before_refusal(&self) {
        let ms = self.refused_delay_ms.load(Ordering::Relaxed);
        if ms > 0 {
            tokio::time::sleep(Duration::from_millis(ms.min(10_000))).await;
        }
    }

    /// The next queued refresh fault, if any.
    pub(crate) fn take_fault(&self) -> Option<Fault> {
        lock(&self.faults).pop_front()
    }

    /// Records `request` (buffering a body declared within the limit) and hands it on.
    pub(crate) async fn journal(&self, request: Request) -> Request {
        if CONTROL_PATHS.contains(&request.uri().path()) {
            return request;
        }
        let headers = request.headers();
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let mut entry = Entry {
            method: request.method().to_string(),
            path: request
                .uri()
                .path_and_query()
                .map_or_else(String::new, |p| p.to_string()),
            host: text("host"),
            origin: text("origin"),
            referer: text("referer"),
            authorization: text("authorization"),
            csrf_header: text("x-csrf-token"),
            body: None,
        };
        let declared_small =
            declared_length(headers).is_some_and(|length| length <= MAX_BODY_BYTES);
        let request = if declared_small {
            let (parts, body) = request.into_parts();
            let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
                .await
                .unwrap_or_default();
            entry.body = Some(String::from_utf8_lossy(&bytes).into_owned());
            Request::from_parts(parts, Body::from(bytes))
        } else {
            request
        };
        lock(&self.journal).push(entry);
        request
    }
}

fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Test bookkeeping has no invariant a panicking holder could break.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Fault {
    /// Whether the process ends once this fault's refresh has rotated.
    pub(crate) fn exits_after_rotation(self) -> bool {
        matches!(self, Fault::ExitAfterRotation)
    }

    /// The answer this fault gives in place of a refresh; `None` when the refresh should go on
    /// (after the fault's delay).
    pub(crate) async fn answer(self) -> Option<Response> {
        Some(match self {
            Fault::Slow { ms } => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                return None;
            }
            Fault::ExitAfterRotation => return None,
            Fault::Status { status } => {
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                (status, Json(json!({ "error": "injected fault" }))).into_response()
            }
            Fault::Delay { ms } => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({ "error": "injected delay" })),
                )
                    .into_response()
            }
            Fault::NotJson => (
                [(header::CONTENT_TYPE, "text/html")],
                "<html>maintenance</html>",
            )
                .into_response(),
            Fault::MissingToken => {
                Json(json!({ "token_type": "Bearer", "expires_in": 60 })).into_response()
            }
            Fault::MistypedToken => {
                Json(json!({ "access_token": 12345, "expires_in": 60 })).into_response()
            }
        })
    }
}

/// Routes that steer or inspect the server; the journal leaves them out so it shows only what
/// a client under test sent.
const CONTROL_PATHS: [&str; 8] = [
    "/auth/stats",
    "/auth/test/reset",
    "/auth/test/revoke-all",
    "/auth/test/rotate-secret",
    "/auth/test/config",
    "/auth/test/refresh-fault",
    "/auth/test/requests",
    "/auth/test/housekeep",
];

/// The test-mode routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/stats", get(stats))
        .route("/auth/test/reset", post(reset))
        .route("/auth/test/revoke-all", post(revoke_all))
        .route("/auth/test/rotate-secret", post(rotate_secret))
        .route("/auth/test/config", post(configure))
        .route("/auth/test/refresh-fault", post(refresh_fault))
        .route("/auth/test/requests", get(requests))
        .route("/auth/test/housekeep", post(housekeep))
        .route("/auth/test/redirect", any(redirect))
        .route("/auth/test/refresh-get", get(refresh_get))
        .route("/auth/test/slow", get(slow))
}

fn controls(state: &AppState) -> Result<&Controls, ApiError> {
    state.testing.as_deref().ok_or_else(ApiError::not_found)
}

async fn stats(State(state): State<AppState>) -> Json<Snapshot> {
    Json(state.stats.snapshot())
}

/// Zero the counters, empty the journal, drop queued faults, restore the configured lifetime
/// and CSRF setting, and answer refusals at once again.
async fn reset(State(state): State<AppState>) -> Result<Json<Snapshot>, ApiError> {
    let controls = controls(&state)?;
    state.stats.reset();
    lock(&controls.journal).clear();
    lock(&controls.faults).clear();
    state.access.set_ttl_seconds(controls.default_access_ttl);
    state.csrf.store(controls.default_csrf, Ordering::Relaxed);
    controls.refused_delay_ms.store(0, Ordering::Relaxed);
    Ok(Json(state.stats.snapshot()))
}

async fn revoke_all(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let now_ms = now::millis();
    let revoked = state.store.revoke_all(now_ms).await?;
    Ok(Json(json!({ "revoked_families": revoked })))
}

/// Every access token issued so far stops verifying; refresh cookies stay good.
async fn rotate_secret(State(state): State<AppState>) -> StatusCode {
    state
        .access
        .replace_secret(tokens::random_token().as_bytes());
    StatusCode::NO_CONTENT
}

async fn configure(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<ConfigRequest>,
) -> Result<StatusCode, ApiError> {
    if let Some(seconds) = request.access_ttl {
        if seconds == 0 {
            return Err(ApiError::bad_request("access_ttl must be at least 1"));
        }
        state.access.set_ttl_seconds(seconds);
    }
    if let Some(csrf) = request.csrf {
        state.csrf.store(csrf, Ordering::Relaxed);
    }
    if let Some(ms) = request.refused_delay_ms {
        controls(&state)?
            .refused_delay_ms
            .store(ms, Ordering::Relaxed);
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn refresh_fault(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<FaultRequest>,
) -> Result<StatusCode, ApiError> {
    let mut faults = lock(&controls(&state)?.faults);
    faults.extend(std::iter::repeat_n(request.fault, request.count as usize));
    Ok(StatusCode::NO_CONTENT)
}

/// One housekeeping pass now, and the rows left after it.
async fn housekeep(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    controls(&state)?;
    let swept = housekeeping::sweep(&state).await?;
    let left = state.store.sizes().await?;
    Ok(Json(json!({ "swept": swept, "left": left })))
}

async fn requests(State(state): State<AppState>) -> Result<Json<Vec<Entry>>, ApiError> {
    Ok(Json(lock(&controls(&state)?.journal).clone()))
}

/// 307 to `?to=…`, to check that a token does not follow a redirect to another origin.
async fn redirect(Query(query): Query<HashMap<String, String>>) -> Result<Redirect, ApiError> {
    let to = query
        .get("to")
        .ok_or_else(|| ApiError::bad_request("missing ?to="))?;
    Ok(Redirect::temporary(to))
}

/// The refresh rotation over GET, answering the token in `token`: the shape some servers use.
async fn refresh_get(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    auth::rotate(&state, &headers, "token").await
}

/// Answers 200 after `?ms=…`, to run into a client's timeout on an API call.
async fn slow(Query(query): Query<HashMap<String, String>>) -> Result<Json<Value>, ApiError> {
    let ms: u64 = query
        .get("ms")
        .and_then(|ms| ms.parse().ok())
        .ok_or_else(|| ApiError::bad_request("missing ?ms="))?;
    tokio::time::sleep(Duration::from_millis(ms.min(60_000))).await;
    Ok(Json(json!({ "slept_ms": ms })))
}
