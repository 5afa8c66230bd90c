//! `/auth/login`, `/auth/refresh` and `/auth/logout`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::body::JsonBody;
use crate::cookies::{self, CSRF_COOKIE, CSRF_HEADER, REFRESH_COOKIE};
use crate::error::ApiError;
use crate::testing::Fault;
use crate::tokens::{
    self, constant_time_eq, hash_refresh_token, is_well_formed_token, random_token,
};
use crate::{AppState, now, passwords, store};

#[derive(Deserialize)]
pub(crate) struct Credentials {
    username: String,
    password: String,
}

/// The body of a successful login or refresh (RFC 6749 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The access token (a JWT).
    pub access_token: String,
    /// Always "Bearer".
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

pub(crate) async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(credentials): JsonBody<Credentials>,
) -> Result<Response, ApiError> {
    state.stats.bump(|s| &mut s.login_calls);
    let Credentials { username, password } = credentials;
    let lookup = username.clone();
    let user = state.store.find_user(lookup).await?;
    // An unknown user is checked against a dummy hash so the answer takes as long as for a
    // known one: response time does not reveal which usernames exist.
    let (user_id, password_hash) = match user {
        Some((id, hash)) => (Some(id), hash),
        None => (None, state.dummy_password_hash.to_string()),
    };
    let matches = tokio::task::spawn_blocking(move || passwords::verify(&password, &password_hash))
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let Some(user_id) = user_id.filter(|_| matches) else {
        return Err(ApiError::unauthorized("invalid username or password"));
    };

    let refresh_token = random_token();
    let stored = hash_refresh_token(&refresh_token);
    let (now_ms, ttl_ms) = (now::millis(), seconds_to_millis(state.refresh_ttl_seconds));
    state
        .store
        .start_family(user_id, stored, now_ms, ttl_ms)
        .await?;
    state.stats.bump(|s| &mut s.login_ok);
    session_response(&state, &headers, &username, &refresh_token, "access_token")
}

pub(crate) async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let fault = state
        .testing
        .as_ref()
        .and_then(|controls| controls.take_fault());
    if let Some(fault) = fault
        && let Some(answer) = fault.answer().await
    {
        state.stats.bump(|s| &mut s.refresh_calls);
        return Ok(answer);
    }
    let answer = rotate(&state, &headers, "access_token").await;
    if fault.is_some_and(Fault::exits_after_rotation) {
        // The rotation is committed (or was refused); the answer is never sent, as when an
        // instance dies at exactly this point.
        std::process::exit(75);
    }
    answer
}

/// Exchanges the presented refresh cookie for a new one and a new access token, answered in
/// the JSON field `token_field`.
pub(crate) async fn rotate(
    state: &AppState,
    headers: &HeaderMap,
    token_field: &str,
) -> Result<Response, ApiError> {
    state.stats.bump(|s| &mut s.refresh_calls);
    check_csrf(state, headers)?;
    let presented = cookies::read(headers, REFRESH_COOKIE)
        .ok_or_else(|| ApiError::unauthorized("missing refresh token"))?;
    if !is_well_formed_token(&presented) {
        return Err(ApiError::unauthorized(
            store::RefreshRefusal::Unknown.message(),
        ));
    }
    let replacement = random_token();
    let rotation = store::Rotation {
        presented: hash_refresh_token(&presented),
        replacement: hash_refresh_token(&replacement),
        now_ms: now::millis(),
        ttl_ms: seconds_to_millis(state.refresh_ttl_seconds),
        retry_window_ms: state.refresh_retry_window_ms,
    };
    match state.store.rotate(rotation).await? {
        Ok(rotated) => {
            state.stats.bump(|s| &mut s.refresh_ok);
            if rotated.again {
                state.stats.bump(|s| &mut s.refresh_retried);
            }
            session_response(state, headers, &rotated.username, &replacement, token_field)
        }
        Err(refusal) => {
            if refusal == store::RefreshRefusal::Reused {
                state.stats.bump(|s| &mut s.reuse_detections);
            }
            // The cookie is worthless now; telling the browser to drop it stops it being
            // presented again.
            Ok(with_cookies(
                ApiError::unauthorized(refusal.message()).into_response(),
                cookies::clear(state.csrf(), state.cookie_secure(headers))?,
            ))
        }
    }
}

pub(crate) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.stats.bump(|s| &mut s.logout_calls);
    // Signing out always succeeds: with no cookie, or an unknown one, there is nothing to revoke.
    if let Some(presented) =
        cookies::read(&headers, REFRESH_COOKIE).filter(|t| is_well_formed_token(t))
    {
        check_csrf(&state, &headers)?;
        state
            .store
            .revoke_family_of(hash_refresh_token(&presented), now::millis(), "logout")
            .await?;
    }
    Ok(with_cookies(
        StatusCode::NO_CONTENT.into_response(),
        cookies::clear(state.csrf(), state.cookie_secure(&headers))?,
    ))
}

fn session_response(
    state: &AppState,
    headers: &HeaderMap,
    username: &str,
    refresh_token: &str,
    token_field: &str,
) -> Result<Response, ApiError> {
    let body = serde_json::json!({
        token_field: state.access.issue(username, now::seconds())?,
        "token_type": "Bearer",
        "expires_in": state.access.ttl_seconds(),
    });
    let secure = state.cookie_secure(headers);
    let mut set_cookies = vec![cookies::set_refresh(
        refresh_token,
        state.refresh_ttl_seconds,
        secure,
    )?];
    if state.csrf() {
        // A new CSRF value with every refresh token, living exactly as long as it.
        set_cookies.push(cookies::set_csrf(
            &tokens::random_token(),
            state.refresh_ttl_seconds,
            secure,
        )?);
    }
    let mut response = with_cookies(Json(body).into_response(), set_cookies);
    // RFC 6749 §5.1: token responses must not be cached.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn check_csrf(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if !state.csrf() {
        return Ok(());
    }
    let cookie = cookies::read(headers, CSRF_COOKIE).unwrap_or_default();
    let header = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if cookie.is_empty() || !constant_time_eq(cookie.as_bytes(), header.as_bytes()) {
        return Err(ApiError::forbidden("CSRF token missing or mismatched"));
    }
    Ok(())
}

fn with_cookies(
    mut response: Response,
    set_cookies: impl IntoIterator<Item = HeaderValue>,
) -> Response {
    for cookie in set_cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

pub(crate) fn seconds_to_millis(seconds: u64) -> i64 {
    i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX)
}
