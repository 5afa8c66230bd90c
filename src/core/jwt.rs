//! Reading `exp` and `iat` from a JWT without checking its signature: the client only uses
//! them to schedule a refresh, never to trust anything.

#[allow(unused_imports)]
use crate::prelude::*;

/// Tokens longer than this are not peeked at (they still work; expiry is then learnt from 401s).
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Nesting deeper than this in the payload makes it unreadable rather than risk the stack.
const MAX_DEPTH: u32 = 32;

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
pub fn peek(token: &str) -> Option<TimeClaims> {
    if token.len() > MAX_TOKEN_BYTES {
        return None;
    }
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let payload = base64url_decode(payload)?;
    let mut reader = Reader {
        bytes: &payload,
        pos: 0,
    };
    let claims = reader.top_level_time_claims()?;
    reader.whitespace();
    (reader.pos == payload.len()).then_some(claims)
}

fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in text.bytes() {
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

/// 10^exponent, exact up to 10^22; beyond about 10^308 it is infinite, which the callers treat
/// as not a time. (core has no `powi` without std.)
fn power_of_ten(exponent: u32) -> f64 {
    (0..exponent.min(400)).fold(1.0, |power, _| power * 10.0)
}

/// A strict JSON reader over bytes that keeps only what the peek needs.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    fn eat(&mut self, expected: u8) -> Option<()> {
        (self.bump()? == expected).then_some(())
    }

    fn whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn top_level_time_claims(&mut self) -> Option<TimeClaims> {
        let mut claims = TimeClaims::default();
        self.whitespace();
        self.eat(b'{')?;
        self.whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Some(claims);
        }
        loop {
            self.whitespace();
            let key = self.string()?;
            self.whitespace();
            self.eat(b':')?;
            self.whitespace();
            let slot = match key.as_str() {
                "exp" => Some(&mut claims.exp),
                "iat" => Some(&mut claims.iat),
                _ => None,
            };
            match (slot, self.peek()) {
                (Some(slot), Some(b'-' | b'0'..=b'9')) => {
                    let number = self.number()?;
                    *slot = (number.is_finite() && number >= 0.0).then_some(number);
                }
                _ => self.skip_value(0)?,
            }
            self.whitespace();
            match self.bump()? {
                b',' => continue,
                b'}' => return Some(claims),
                _ => return None,
            }
        }
    }

    fn skip_value(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.whitespace();
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'-' | b'0'..=b'9' => self.number().map(drop),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            open @ (b'[' | b'{') => {
                self.pos += 1;
                let close = if open == b'[' { b']' } else { b'}' };
                self.whitespace();
                if self.peek() == Some(close) {
                    self.pos += 1;
                    return Some(());
                }
                loop {
                    if open == b'{' {
                        self.whitespace();
                        self.string()?;
                        self.whitespace();
                        self.eat(b':')?;
                    }
                    self.skip_value(depth + 1)?;
                    self.whitespace();
                    match self.bump()? {
                        b',' => continue,
                        b if b == close => return Some(()),
                        _ => return None,
                    }
                }
            }
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos.checked_add(word.len())?;
        (self.bytes.get(self.pos..end)? == word).then(|| self.pos = end)
    }

    /// A JSON number, by the grammar, converted without the standard float parser (its tables
    /// would weigh on the wasm bundle). Digits are gathered as an integer and scaled once, which
    /// is exact for the integer and short decimal timestamps JWTs carry.
    fn number(&mut self) -> Option<f64> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let mut mantissa = 0f64;
        let mut scale: i32 = 0;
        match self.bump()? {
            b'0' => {}
            digit @ b'1'..=b'9' => {
                mantissa = f64::from(digit - b'0');
                while let Some(digit @ b'0'..=b'9') = self.peek() {
                    mantissa = mantissa * 10.0 + f64::from(digit - b'0');
                    self.pos += 1;
                }
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.digits(|digit| {
                mantissa = mantissa * 10.0 + f64::from(digit);
                scale = scale.saturating_sub(1);
            })?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            let sign = match self.peek() {
                Some(b'-') => -1,
                Some(b'+') => 1,
                _ => 0,
            };
            if sign != 0 {
                self.pos += 1;
            }
            let mut exponent: i32 = 0;
            self.digits(|digit| {
                exponent = exponent.saturating_mul(10).saturating_add(i32::from(digit))
            })?;
            scale = scale.saturating_add(if sign < 0 { -exponent } else { exponent });
        }
        // Dividing by an exact power of ten rounds better than multiplying by its inverse.
        let magnitude = if scale < 0 {
            mantissa / power_of_ten(scale.unsigned_abs())
        } else {
            mantissa * power_of_ten(scale.unsigned_abs())
        };
        Some(if negative { -magnitude } else { magnitude })
    }

    /// One or more decimal digits, each handed to `each`.
    fn digits(&mut self, mut each: impl FnMut(u8)) -> Option<()> {
        let start = self.pos;
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            each(digit - b'0');
            self.pos += 1;
        }
        (self.pos > start).then_some(())
    }

    /// A JSON string with its escapes decoded (a key may legally be written `"\u0065xp"`).
    fn string(&mut self) -> Option<String> {
        self.eat(b'"')?;
        let mut out = Vec::new();
        loop {
            match self.bump()? {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let decoded = match self.bump()? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    };
                    let mut buffer = [0u8; 4];
                    out.extend_from_slice(decoded.encode_utf8(&mut buffer).as_bytes());
                }
                byte if byte < 0x20 => return None,
                byte => out.push(byte),
            }
        }
    }

    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        if (0xD800..0xDC00).contains(&first) {
            self.eat(b'\\')?;
            self.eat(b'u')?;
            let second = self.hex4()?;
            if !(0xDC00..0xE000).contains(&second) {
                return None;
            }
            return char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00));
        }
        char::from_u32(first)
    }

    fn hex4(&mut self) -> Option<u32> {
        let mut value = 0;
        for _ in 0..4 {
            let digit = char::from(self.bump()?).to_digit(16)?;
            value = value * 16 + digit;
        }
        Some(value)
    }
}
