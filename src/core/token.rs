//! The access token as a value that never prints itself.

#[allow(unused_imports)]
use crate::prelude::*;

use core::fmt;

/// An access token: visible ASCII only ([`crate::core::grant`] checks), kept as the bytes the
/// answer was decoded into. `Debug` and `Display` print `[redacted]`; the bytes are reachable
/// only through [`Token::expose`], from which the driver builds the `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Vec<u8>);

impl Token {
    /// Wraps a token that [`crate::core::grant`] has already checked.
    pub(crate) fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The token's bytes, for the `Authorization` header and nothing else.
    pub fn expose(&self) -> &[u8] {
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

/// Zeroes `bytes` before freeing them, so a secret does not linger in (wasm) memory. `black_box`
/// keeps the optimiser from removing writes to memory that is about to be freed.
pub(crate) fn overwrite(mut bytes: Vec<u8>) {
    bytes.fill(0);
    core::hint::black_box(&bytes);
}
