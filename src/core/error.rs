//! The errors the client raises, as data: the driver (`js/`) turns them into `AuthError` objects.

#[allow(unused_imports)]
use crate::prelude::*;

use core::fmt;

/// The `code` of an `AuthError` the core raises (`invalid_config` is the driver's: it
/// validates the options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The server could not be reached.
    Network,
    /// The server did not answer within `timeoutMs`, or the cross-tab lock was not granted in time.
    Timeout,
    /// The refresh endpoint answered with a status other than 2xx, 401 and 403.
    RefreshFailed,
    /// A login or refresh answer without a usable token.
    BadResponse,
    /// `refresh()` was called and the refresh endpoint says the session is over.
    SessionExpired,
    /// The login endpoint refused the credentials (any 4xx).
    LoginFailed,
    /// The client itself gave up on a call (it was freed while the call waited).
    Aborted,
}

impl ErrorCode {
    /// The code as JavaScript sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Network => "network",
            Self::Timeout => "timeout",
            Self::RefreshFailed => "refresh_failed",
            Self::BadResponse => "bad_response",
            Self::SessionExpired => "session_expired",
            Self::LoginFailed => "login_failed",
            Self::Aborted => "aborted",
        }
    }
}

/// The server a call went to: named in error messages, and told to the driver, which adds the
/// URL it called there (the core is not told the endpoints' URLs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// An API origin.
    Api,
    /// `loginUrl`.
    Login,
    /// `logoutUrl`.
    Logout,
    /// `refreshUrl`.
    Refresh,
}

impl Endpoint {
    /// The endpoint in the words of messages.
    pub fn what(self) -> &'static [u8] {
        match self {
            Self::Api => b"the API",
            Self::Login => b"the login endpoint",
            Self::Logout => b"the logout endpoint",
            Self::Refresh => b"the refresh endpoint",
        }
    }
}

/// An error with its code and a message for people. Messages never contain a token.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthError {
    /// What kind of failure.
    pub code: ErrorCode,
    /// The call that failed, where the error is about one.
    pub endpoint: Option<Endpoint>,
    /// What happened, in a sentence of UTF-8 (the driver decodes it; see [`crate::core::config`]
    /// for why it is not a `String`).
    message: Vec<u8>,
}

impl AuthError {
    /// An error of kind `code`.
    pub fn new(code: ErrorCode, message: impl Into<Vec<u8>>) -> Self {
        Self {
            code,
            endpoint: None,
            message: message.into(),
        }
    }

    /// The same error, about a call to `endpoint`.
    pub fn at(self, endpoint: Endpoint) -> Self {
        Self {
            endpoint: Some(endpoint),
            ..self
        }
    }

    /// The message, as the driver hands it to JavaScript.
    pub fn message_bytes(&self) -> &[u8] {
        &self.message
    }

    /// The message as text.
    pub fn message(&self) -> &str {
        core::str::from_utf8(&self.message).unwrap_or("(not UTF-8)")
    }
}

impl fmt::Debug for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthError")
            .field("code", &self.code)
            .field("endpoint", &self.endpoint)
            .field("message", &self.message())
            .finish()
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl core::error::Error for AuthError {}

/// `parts` joined, without `[..].concat()`: its panicking length checks bring the formatting
/// machinery into the wasm bundle.
pub(crate) fn words(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        out.extend_from_slice(part);
    }
    out
}

/// A whole number in decimal, without `format!`: its machinery would weigh on the wasm bundle.
pub(crate) fn decimal(n: u64) -> Vec<u8> {
    let mut power = 1;
    while power <= n / 10 {
        power *= 10;
    }
    let mut out = Vec::new();
    while power > 0 {
        out.push(b'0' + (n / power % 10) as u8);
        power /= 10;
    }
    out
}
