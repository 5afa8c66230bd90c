//! The protected demo API under `/api/*`.

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::AppState;
use crate::body::RawJson;
use crate::error::ApiError;
use crate::tokens::Claims;

/// The claims of the request's valid bearer token; extracting it answers 401 otherwise.
#[derive(Debug)]
pub(crate) struct Authenticated(pub Claims);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let verified = Self::verified(parts, state);
        if verified.is_err()
            && let Some(testing) = state.testing.as_deref()
        {
            testing.before_refusal().await;
        }
        verified
    }
}

impl Authenticated {
    /// The request's bearer token, verified.
    fn verified(parts: &Parts, state: &AppState) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::invalid_token("missing bearer token"))?;
        let value = value
            .to_str()
            .map_err(|_| ApiError::invalid_token("malformed Authorization header"))?;
        let token = value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| ApiError::invalid_token("expected a Bearer token"))?;
        state.access.verify(token).map(Authenticated)
    }
}

pub(crate) async fn me(Authenticated(claims): Authenticated) -> Json<Value> {
    Json(
        json!({ "username": claims.sub, "token_issued_at": claims.iat, "token_expires_at": claims.exp }),
    )
}

pub(crate) async fn items(Authenticated(claims): Authenticated) -> Json<Value> {
    Json(json!({
        "owner": claims.sub,
        "items": [
            { "id": 1, "name": "Silent refresh" },
            { "id": 2, "name": "Single flight" },
            { "id": 3, "name": "No tokens in storage" },
        ],
    }))
}

/// Answers with exactly the bytes it received, so a client can check a replayed body.
pub(crate) async fn echo(_: Authenticated, RawJson(body): RawJson) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub(crate) async fn ping(_: Authenticated) -> Json<Value> {
    Json(json!({ "ok": true }))
}
