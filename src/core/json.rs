//! A strict JSON reader: login and refresh answers, the options object and JWT payloads
//! arrive as text and become [`Value`]s here, so the token never sits in a JavaScript object.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::core::value::Value;

/// Nesting deeper than this makes a document unreadable rather than risk the stack.
const MAX_DEPTH: u32 = 32;

/// `text` as a value, reading containers `depth` levels deep (deeper ones become
/// [`Value::Other`]); `None` unless it is exactly one JSON value, surrounded by whitespace at
/// most.
pub fn parse(text: &[u8], depth: u32) -> Option<Value> {
    let mut reader = Reader {
        bytes: text,
        pos: 0,
    };
    let value = reader.value(depth, 0)?;
    reader.whitespace();
    (reader.pos == text.len()).then_some(value)
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

    /// A value; containers nested deeper than `depth` are skipped and become
    /// [`Value::Other`].
    fn value(&mut self, depth: u32, nesting: u32) -> Option<Value> {
        // The same limit as `skip_value`'s, so a large `depth` cannot recurse without bound.
        if nesting > MAX_DEPTH {
            return None;
        }
        self.whitespace();
        match self.peek()? {
            b'"' => self.string().map(Value::String),
            b'-' | b'0'..=b'9' => self.number().map(Value::Number),
            b't' => self.literal(b"true").map(|()| Value::Bool(true)),
            b'f' => self.literal(b"false").map(|()| Value::Bool(false)),
            b'n' => self.literal(b"null").map(|()| Value::Null),
            b'[' if depth == 0 => self.skip_value(nesting).map(|()| Value::Other("an array")),
            b'{' if depth == 0 => self.skip_value(nesting).map(|()| Value::Other("an object")),
            open @ (b'[' | b'{') => {
                self.pos += 1;
                let close = if open == b'[' { b']' } else { b'}' };
                let (mut items, mut entries) = (Vec::new(), Vec::new());
                self.whitespace();
                if self.peek() == Some(close) {
                    self.pos += 1;
                } else {
                    loop {
                        self.whitespace();
                        if open == b'{' {
                            let key = self.string()?;
                            self.whitespace();
                            self.eat(b':')?;
                            entries.push((key, self.value(depth - 1, nesting + 1)?));
                        } else {
                            items.push(self.value(depth - 1, nesting + 1)?);
                        }
                        self.whitespace();
                        match self.bump()? {
                            b',' => continue,
                            b if b == close => break,
                            _ => return None,
                        }
                    }
                }
                Some(if open == b'[' {
                    Value::Array(items)
                } else {
                    Value::Object(entries)
                })
            }
            _ => None,
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
        // Zero stays zero at any scale (`0e999` is 0 to JSON.parse, not 0 × ∞).
        let magnitude = if mantissa == 0.0 {
            0.0
        } else if scale < 0 {
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
        // Room for everything up to the next quote at once: a buffer that grew would leave
        // pieces of a token behind in the memory it gave back.
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        let mut out =
            Vec::with_capacity(rest.iter().position(|&b| b == b'"').unwrap_or(rest.len()));
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
