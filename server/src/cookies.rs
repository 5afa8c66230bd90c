//! The refresh and CSRF cookies: reading them from requests, writing `Set-Cookie`.

use axum::http::{HeaderMap, HeaderValue, header};

use crate::error::ApiError;

/// The httpOnly cookie holding the refresh token.
pub(crate) const REFRESH_COOKIE: &str = "refresh_token";
/// The readable cookie holding the CSRF double-submit value.
pub(crate) const CSRF_COOKIE: &str = "csrf_refresh_token";
/// The header the CSRF value must be mirrored in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// Scoped to `/auth` so the refresh token travels only to the auth endpoints, never to the API.
const REFRESH_COOKIE_PATH: &str = "/auth";
/// Scoped to `/` so the page (any path) can read it to build the header.
const CSRF_COOKIE_PATH: &str = "/";

/// The value of cookie `name` in the request's `Cookie` headers, if present. Malformed pairs
/// are skipped, as browsers do.
pub(crate) fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| key.trim() == name)
        .map(|(_, value)| value.trim().trim_matches('"').to_owned())
}

/// `Set-Cookie` for the refresh token, living `max_age_seconds`.
pub(crate) fn set_refresh(value: &str, max_age_seconds: u64) -> Result<HeaderValue, ApiError> {
    build(
        REFRESH_COOKIE,
        value,
        REFRESH_COOKIE_PATH,
        max_age_seconds,
        true,
    )
}

/// `Set-Cookie` for the CSRF value, living as long as the refresh token.
pub(crate) fn set_csrf(value: &str, max_age_seconds: u64) -> Result<HeaderValue, ApiError> {
    build(CSRF_COOKIE, value, CSRF_COOKIE_PATH, max_age_seconds, false)
}

/// `Set-Cookie` headers that delete the refresh cookie, and the CSRF cookie when in use.
pub(crate) fn clear(csrf: bool) -> Result<Vec<HeaderValue>, ApiError> {
    let mut cleared = vec![build(REFRESH_COOKIE, "", REFRESH_COOKIE_PATH, 0, true)?];
    if csrf {
        cleared.push(build(CSRF_COOKIE, "", CSRF_COOKIE_PATH, 0, false)?);
    }
    Ok(cleared)
}

fn build(
    name: &str,
    value: &str,
    path: &str,
    max_age_seconds: u64,
    http_only: bool,
) -> Result<HeaderValue, ApiError> {
    let http_only = if http_only { "; HttpOnly" } else { "" };
    let cookie = format!(
        "{name}={value}{http_only}; Secure; SameSite=Strict; Path={path}; Max-Age={max_age_seconds}"
    );
    HeaderValue::from_str(&cookie).map_err(|e| ApiError::internal(&e))
}
