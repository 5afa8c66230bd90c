//! Routes that exist only with `--demo`: what the demo page needs to show a theft being caught
//! and a token not leaking to another origin.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::auth::seconds_to_millis;
use crate::cookies::{self, REFRESH_COOKIE};
use crate::error::ApiError;
use crate::tokens::{hash_refresh_token, is_well_formed_token, random_token};
use crate::{AppState, now, store};

/// The demo routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/demo/steal", post(steal))
        .route("/demo/headers", get(headers))
}

/// Plays the thief: rotates the caller's refresh cookie as if a copy had been used elsewhere
/// first, and keeps the new token (no `Set-Cookie`). The caller's next refresh then presents a
/// used token, and the ordinary reuse detection revokes the whole family.
async fn steal(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let presented = cookies::read(&headers, REFRESH_COOKIE)
        .filter(|token| is_well_formed_token(token))
        .ok_or_else(|| ApiError::unauthorized("no session to steal: sign in first"))?;
    let rotation = store::Rotation {
        presented: hash_refresh_token(&presented),
        replacement: hash_refresh_token(&random_token()),
        now_ms: now::millis(),
        ttl_ms: seconds_to_millis(state.refresh_ttl_seconds),
        // The thief rotates like any client; the retry window is about the victim's replay.
        retry_window_ms: state.refresh_retry_window_ms,
    };
    match state.store.rotate(rotation).await? {
        Ok(_) => Ok(Json(json!({
            "stolen": true,
            "explanation": "a copy of your refresh token was just used elsewhere; your next refresh presents a used token",
        }))),
        Err(refusal) => Err(ApiError::unauthorized(refusal.message())),
    }
}

/// What arrived, as the second origin of the demo sees it. Whether an `Authorization` header
/// came is reported; its value never is.
async fn headers(headers: HeaderMap) -> Json<Value> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Json(json!({
        "authorization": if headers.contains_key("authorization") { "present" } else { "none" },
        "origin": text("origin"),
        "host": text("host"),
    }))
}
