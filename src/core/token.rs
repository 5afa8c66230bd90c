//! The access token as a value that never prints itself.

#[allow(unused_imports)]
use crate::prelude::*;

use core::fmt;

/// An access token. `Debug` and `Display` print `[redacted]`; the text is reachable only through
/// [`Token::expose`], through which the driver builds the `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token that [`crate::core::grant`] has already checked.
    pub(crate) fn new(text: String) -> Self {
        Self(text)
    }

    /// The token's text, for the `Authorization` header and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([redacted])")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        overwrite(core::mem::take(&mut self.0));
    }
}

/// Zeroes `text` before freeing it, so a secret does not linger in (wasm) memory. `black_box`
/// keeps the optimiser from removing writes to memory that is about to be freed.
pub(crate) fn overwrite(text: String) {
    let mut bytes = text.into_bytes();
    bytes.fill(0);
    core::hint::black_box(&bytes);
}
