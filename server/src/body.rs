//! JSON request bodies with a size limit and JSON errors (axum's own extractors answer in
//! plain text, and a client of this server must always get `{ "error": … }`).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::error::ApiError;

/// The largest request body any route accepts. Login and the demo API need far less.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body parsed into `T`.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub T);

/// A body that is valid JSON, kept byte for byte (for `/api/echo`).
#[derive(Debug)]
pub(crate) struct RawJson(pub Bytes);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        let bytes = read_json_bytes(request).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

impl<S: Send + Sync> FromRequest<S> for RawJson {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        let bytes = read_json_bytes(request).await?;
        let IgnoredAny = parse_json(&bytes)?;
        Ok(RawJson(bytes))
    }
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

async fn read_json_bytes(request: Request) -> Result<Bytes, ApiError> {
    let declared_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    // Demanding JSON also means a cross-site form cannot post here without a CORS preflight.
    if !declared_json {
        return Err(ApiError::unsupported_media_type());
    }
    axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            if is_length_limit(&e) {
                ApiError::payload_too_large()
            } else {
                ApiError::bad_request("request body could not be read")
            }
        })
}

fn is_length_limit(error: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = e.source();
    }
    false
}
