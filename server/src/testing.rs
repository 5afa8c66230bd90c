//! Routes that exist only with `--test-mode`: counters to assert on and controls that put the
//! server in the states the SDK's tests need.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::stats::Snapshot;
use crate::{AppState, now, store};

/// The test-mode routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/stats", get(stats))
        .route("/auth/test/reset-stats", post(reset_stats))
        .route("/auth/test/revoke-all", post(revoke_all))
}

async fn stats(State(state): State<AppState>) -> Json<Snapshot> {
    Json(state.stats.snapshot())
}

async fn reset_stats(State(state): State<AppState>) -> Json<Snapshot> {
    state.stats.reset();
    Json(state.stats.snapshot())
}

async fn revoke_all(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let now_ms = now::millis();
    let revoked = state
        .store
        .call(move |c| store::revoke_all(c, now_ms))
        .await?;
    Ok(Json(json!({ "revoked_families": revoked })))
}
