//! What the core needs of `new AuthClient(options)`. The driver (`js/options.js`) validates
//! the options object, with messages that name the option; the core is handed the parts that
//! decide where the token goes and how answers are read.

#[allow(unused_imports)]
use crate::prelude::*;

/// The options the core decides with.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Serialised origins (`scheme://host[:port]`, as `URL.origin` writes them) whose requests
    /// carry the token.
    pub api_origins: Vec<String>,
    /// The JSON field holding the access token in refresh answers.
    pub token_field: String,
    /// The field in login answers; `None`: login answers carry no token.
    pub login_token_field: Option<String>,
    /// The JSON field holding the lifetime in seconds.
    pub expires_in_field: String,
    /// How long before a known expiry to refresh, in milliseconds.
    pub refresh_leeway_ms: f64,
    /// Limit for each network call and for the wait on the cross-tab lock, in milliseconds.
    pub timeout_ms: u32,
}

impl Options {
    /// The contract's defaults, with `api_origins` receiving the token.
    pub fn new(api_origins: Vec<String>) -> Self {
        Self {
            api_origins,
            token_field: "access_token".to_owned(),
            login_token_field: Some("access_token".to_owned()),
            expires_in_field: "expires_in".to_owned(),
            refresh_leeway_ms: 30_000.0,
            timeout_ms: 30_000,
        }
    }

    /// The driver's configuration text: one line each for `tokenField`, `loginTokenField`
    /// (empty: the login answer carries no token) and `expiresInField`, then one API origin
    /// per line. `None` when a line is missing or empty where it may not be.
    pub fn from_lines(text: &str, refresh_leeway_ms: f64, timeout_ms: u32) -> Option<Self> {
        // By hand rather than `str::split`: its searcher weighs on the wasm bundle.
        let mut lines = Vec::new();
        let mut start = 0;
        for (at, byte) in text.bytes().chain([b'\n']).enumerate() {
            if byte == b'\n' {
                lines.push(text.get(start..at)?.to_owned());
                start = at + 1;
            }
        }
        let mut lines = lines.into_iter();
        let token_field = lines.next().filter(|f| !f.is_empty())?;
        let login_token_field = lines.next().map(|f| (!f.is_empty()).then_some(f))?;
        let expires_in_field = lines.next().filter(|f| !f.is_empty())?;
        let api_origins: Vec<String> = lines.collect();
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
    pub fn admits(&self, origin: &str) -> bool {
        self.api_origins.iter().any(|api| api == origin)
    }
}
