//! What the core needs of `new AuthClient(options)`. The driver (`js/options.js`) validates
//! the options object, with messages that name the option; the core is handed the parts that
//! decide where the token goes and how answers are read. Text stays bytes (UTF-8) here, as the
//! driver wrote it: the core only compares it, and `core::str::from_utf8` weighs about 1 KB in
//! the wasm bundle.

#[allow(unused_imports)]
use crate::prelude::*;

/// The options the core decides with.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Serialised origins (`scheme://host[:port]`, as `URL.origin` writes them) whose requests
    /// carry the token.
    pub api_origins: Vec<Vec<u8>>,
    /// The JSON field holding the access token in refresh answers.
    pub token_field: Vec<u8>,
    /// The field in login answers; `None`: login answers carry no token.
    pub login_token_field: Option<Vec<u8>>,
    /// The JSON field holding the lifetime in seconds.
    pub expires_in_field: Vec<u8>,
    /// How long before a known expiry to refresh, in milliseconds.
    pub refresh_leeway_ms: f64,
    /// Limit for each network call and for the wait on the cross-tab lock, in milliseconds.
    pub timeout_ms: u32,
}

impl Options {
    /// The contract's defaults, with `api_origins` receiving the token.
    pub fn new(api_origins: Vec<String>) -> Self {
        Self {
            api_origins: api_origins.into_iter().map(String::into_bytes).collect(),
            token_field: b"access_token".to_vec(),
            login_token_field: Some(b"access_token".to_vec()),
            expires_in_field: b"expires_in".to_vec(),
            refresh_leeway_ms: 30_000.0,
            timeout_ms: 30_000,
        }
    }

    /// The driver's configuration text: one line each for `tokenField`, `loginTokenField`
    /// (empty: the login answer carries no token) and `expiresInField`, then one API origin
    /// per line. `None` when a line is missing or empty where it may not be.
    pub fn from_lines(text: &[u8], refresh_leeway_ms: f64, timeout_ms: u32) -> Option<Self> {
        let mut lines = text.split(|&byte| byte == b'\n').map(<[u8]>::to_vec);
        let token_field = lines.next().filter(|f| !f.is_empty())?;
        let login_token_field = lines.next().map(|f| (!f.is_empty()).then_some(f))?;
        let expires_in_field = lines.next().filter(|f| !f.is_empty())?;
        let api_origins: Vec<Vec<u8>> = lines.collect();
        let usable = !api_origins.is_empty()
            && refresh_leeway_ms >= 0.0
            && timeout_ms > 0
            && api_origins.iter().all(|origin| !origin.is_empty());
        usable.then_some(Self {
            api_origins,
            token_field,
            login_token_field,
            expires_in_field,
            refresh_leeway_ms,
            timeout_ms,
        })
    }

    /// Whether a request to a URL of `origin` (serialised) may carry the token.
    pub fn admits(&self, origin: &[u8]) -> bool {
        self.api_origins.iter().any(|api| api == origin)
    }
}
