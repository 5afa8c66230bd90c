//! The one error type every handler returns: a status and a JSON body `{ "error": "…" }`.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An HTTP error answer. Messages are fixed phrases or parser diagnostics; they never
/// contain a token, a cookie or a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    message: Cow<'static, str>,
    bearer_challenge: bool,
    /// `Retry-After: 1`, on a 503.
    retry_after: bool,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            message: message.into(),
            bearer_challenge: false,
            retry_after: false,
        }
    }

    /// 400: the request cannot be understood.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401 from an `/auth/*` route: credentials or the refresh cookie were refused.
    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 401 from an `/api/*` route, with the RFC 6750 challenge clients key their refresh on.
    pub fn invalid_token(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            bearer_challenge: true,
            ..Self::unauthorized(message)
        }
    }

    /// 403: the CSRF double-submit check failed.
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// 404 for any path the server does not know.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not found")
    }

    /// 405 for a known path called with the wrong method.
    pub fn method_not_allowed() -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
    }

    /// 413: the body is over the limit.
    pub fn payload_too_large() -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
    }

    /// 431: the headers (usually the cookies) are over the limit.
    pub(crate) fn headers_too_large() -> Self {
        Self::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "request headers too large",
        )
    }

    /// 415: the body is not declared as JSON.
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected Content-Type: application/json",
        )
    }

    /// 500: the server itself failed. The cause goes to stderr, not to the client.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        eprintln!("authfetch-server: internal error: {cause}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }

    /// 503: the database failed or could not be reached, so the client may try again (almost
    /// always nothing was decided; a connection lost after a commit was sent is the exception
    /// the retry window covers). The cause goes to stderr, not to the client.
    pub(crate) fn unavailable(cause: &dyn std::fmt::Display) -> Self {
        report_unavailable(cause);
        Self {
            retry_after: true,
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is unavailable; try again shortly",
            )
        }
    }

    /// The HTTP status of this answer.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message sent to the client.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Writes the cause of a 503 to stderr, at most once a second: while the database is away
/// every request fails the same way, and one line says it as well as thousands.
fn report_unavailable(cause: &dyn std::fmt::Display) {
    static LAST_SECOND: AtomicU64 = AtomicU64::new(0);
    static SILENCED: AtomicU64 = AtomicU64::new(0);
    let second = crate::now::seconds();
    if LAST_SECOND.swap(second, Ordering::Relaxed) == second {
        SILENCED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    match SILENCED.swap(0, Ordering::Relaxed) {
        0 => eprintln!("authfetch-server: database unavailable: {cause}"),
        more => eprintln!(
            "authfetch-server: database unavailable: {cause} (and {more} more answers 503 since the last such line)"
        ),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response();
        if self.bearer_challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer error="invalid_token""#),
            );
        }
        if self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
