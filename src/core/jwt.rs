//! Reading `exp` and `iat` from a JWT without checking its signature: the client only uses
//! them to schedule a refresh, never to trust anything.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::core::json::{self, Field};

/// Tokens longer than this are not peeked at (they still work; expiry is then learnt from 401s).
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The time claims of a JWT, in seconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TimeClaims {
    /// `exp`, when present as a non-negative number.
    pub exp: Option<f64>,
    /// `iat`, when present as a non-negative number.
    pub iat: Option<f64>,
}

/// The time claims of `token` if it is a compact JWS (three base64url parts) whose payload is
/// a JSON object; `None` for opaque tokens and anything malformed.
pub fn peek(token: &[u8]) -> Option<TimeClaims> {
    if token.len() > MAX_TOKEN_BYTES {
        return None;
    }
    // header.payload.signature: exactly two dots.
    let (mut dots, mut first, mut second) = (0, 0, 0);
    for (at, &byte) in token.iter().enumerate() {
        if byte == b'.' {
            dots += 1;
            (first, second) = if dots == 1 { (at, at) } else { (first, at) };
        }
    }
    if dots != 2 {
        return None;
    }
    let payload = token.get(first + 1..second)?;
    let [exp, iat] = json::fields(&base64url_decode(payload)?, [b"exp", b"iat"]).ok()?;
    let time = |field: Field| match field {
        Field::Number(seconds) if seconds.is_finite() && seconds >= 0.0 => Some(seconds),
        _ => None,
    };
    Some(TimeClaims {
        exp: time(exp),
        iat: time(iat),
    })
}

fn base64url_decode(text: &[u8]) -> Option<Vec<u8>> {
    let padding = text.iter().rev().take_while(|&&byte| byte == b'=').count();
    let text = text.get(..text.len() - padding)?;
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in text {
        let sextet = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    // A single leftover character (6 bits) cannot encode a byte.
    (bits < 6).then_some(out)
}
