//! What login, refresh and logout answers mean: a token with its lifetime, the end of the
//! session, or an error.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::core::error::{AuthError, Endpoint, ErrorCode, decimal, words};
use crate::core::json::{self, Field, Unread};
use crate::core::jwt;
use crate::core::token::Token;

/// A new access token from a login or refresh answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub(crate) token: Token,
    pub(crate) lifetime: Lifetime,
}

/// How long a token lives, as far as the answer tells.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lifetime {
    /// Neither `expires_in` nor a readable JWT `exp`: expiry is learnt from a 401.
    Unknown,
    /// This many milliseconds from the moment the answer arrived (`expires_in`, or JWT
    /// `exp - iat`, which a wrong client clock cannot distort).
    FromArrival(f64),
    /// Until this wall-clock time in milliseconds since the epoch (JWT `exp` without `iat`).
    Until(f64),
}

impl Grant {
    /// How long the token lives, as far as the answer told.
    pub fn lifetime(&self) -> Lifetime {
        self.lifetime
    }
}

/// What a refresh call came to.
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshOutcome {
    /// A new access token.
    Granted(Grant),
    /// 401 or 403: the session is over.
    SessionOver,
    /// Anything else: the session may still be alive; the next call tries again.
    Failed(AuthError),
}

/// Reads a token and its lifetime out of an answer's body (`None`: it could not be read).
/// `endpoint` names the call in messages ("login", "refresh").
pub fn parse_grant(
    body: Option<&[u8]>,
    endpoint: &str,
    token_field: &[u8],
    expires_in_field: &[u8],
) -> Result<Grant, AuthError> {
    // One message shape: "the refresh response " + what, naming `field` when there is one.
    let bad = |what: &[u8], field: &[u8], after: &[u8]| {
        let quoted: &[&[u8]] = if field.is_empty() {
            &[]
        } else {
            &[b"\"", field, b"\""]
        };
        let mut message = words(&[b"the ", endpoint.as_bytes(), b" response ", what]);
        message.extend(words(quoted));
        message.extend_from_slice(after);
        Err(AuthError::new(ErrorCode::BadResponse, message))
    };
    let [mut token, expires_in] =
        match body.map(|body| json::fields(body, [token_field, expires_in_field])) {
            Some(Ok(found)) => found,
            Some(Err(Unread::NotObject)) => return bad(b"is not a JSON object", b"", b""),
            _ => return bad(b"is not JSON", b"", b""),
        };
    let token = match &mut token {
        Field::Absent => return bad(b"has no ", token_field, b" field"),
        Field::String(bytes) if !bytes.is_empty() => Token::new(core::mem::take(bytes)),
        _ => return bad(b"field ", token_field, b" is not a non-empty string"),
    };
    // Only visible ASCII survives as a header value in every browser; anything else would make
    // every authenticated request throw later.
    if !token.expose().iter().all(u8::is_ascii_graphic) {
        return bad(
            b"field ",
            token_field,
            b" has characters not allowed in a header",
        );
    }
    let lifetime = match expires_in {
        Field::Absent | Field::Null => lifetime_from_jwt(token.expose()),
        Field::Number(seconds) if seconds.is_finite() && seconds >= 0.0 => {
            Lifetime::FromArrival(seconds * 1000.0)
        }
        _ => {
            return bad(
                b"field ",
                expires_in_field,
                b" is not a non-negative number",
            );
        }
    };
    Ok(Grant { token, lifetime })
}

fn lifetime_from_jwt(token: &[u8]) -> Lifetime {
    match jwt::peek(token) {
        Some(jwt::TimeClaims {
            exp: Some(exp),
            iat: Some(iat),
        }) if exp >= iat => Lifetime::FromArrival((exp - iat) * 1000.0),
        Some(jwt::TimeClaims { exp: Some(exp), .. }) => Lifetime::Until(exp * 1000.0),
        _ => Lifetime::Unknown,
    }
}

/// What a refresh answer with `status` and `body` (`None`: not read) means.
pub fn classify_refresh(
    status: u16,
    body: Option<&[u8]>,
    token_field: &[u8],
    expires_in_field: &[u8],
) -> RefreshOutcome {
    match status {
        200..=299 => match parse_grant(body, "refresh", token_field, expires_in_field) {
            Ok(grant) => RefreshOutcome::Granted(grant),
            Err(error) => RefreshOutcome::Failed(error.at(Endpoint::Refresh)),
        },
        401 | 403 => RefreshOutcome::SessionOver,
        _ => RefreshOutcome::Failed(answered(
            ErrorCode::RefreshFailed,
            Endpoint::Refresh,
            status,
        )),
    }
}

/// What a login answer means: a grant, `None` when `token_field` is `None` (the login answer
/// carries no access token, so the client refreshes next), or the error.
pub fn classify_login(
    status: u16,
    body: Option<&[u8]>,
    token_field: Option<&[u8]>,
    expires_in_field: &[u8],
) -> Result<Option<Grant>, AuthError> {
    match (status, token_field) {
        (200..=299, None) => Ok(None),
        (200..=299, Some(field)) => parse_grant(body, "login", field, expires_in_field)
            .map(Some)
            .map_err(|error| error.at(Endpoint::Login)),
        (400..=499, _) => {
            // Not found, or not a URL that takes a POST: most likely `loginUrl` is wrong,
            // which must not read like a wrong password.
            let wrong_url = matches!(status, 404 | 405);
            let status = decimal(u64::from(status));
            let message = if wrong_url {
                words(&[
                    b"the login endpoint answered ",
                    &status,
                    b", not a refusal of the credentials: loginUrl is probably wrong",
                ])
            } else {
                words(&[
                    b"the login endpoint refused the credentials (",
                    &status,
                    b")",
                ])
            };
            Err(AuthError::new(ErrorCode::LoginFailed, message).at(Endpoint::Login))
        }
        _ => Err(answered(ErrorCode::BadResponse, Endpoint::Login, status)),
    }
}

/// What a logout answer means. 2xx confirms; 401 and 403 say there was no session left to end,
/// which is as good. Anything else did not confirm.
pub fn classify_logout(status: u16) -> Result<(), AuthError> {
    match status {
        200..=299 | 401 | 403 => Ok(()),
        _ => Err(answered(ErrorCode::BadResponse, Endpoint::Logout, status)),
    }
}

/// "the `endpoint` endpoint answered `status`".
fn answered(code: ErrorCode, endpoint: Endpoint, status: u16) -> AuthError {
    let status = decimal(u64::from(status));
    AuthError::new(code, words(&[endpoint.what(), b" answered ", &status])).at(endpoint)
}
