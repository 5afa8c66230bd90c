//! A strict JSON reader for login and refresh answers and JWT payloads: it checks the whole
//! text and keeps only the top-level fields asked for, so no tree of values is built and the
//! token is decoded once, into the buffer that becomes the [`crate::core::Token`].

#[allow(unused_imports)]
use crate::prelude::*;

/// Nesting deeper than this makes a document unreadable rather than risk the stack.
const MAX_DEPTH: u32 = 32;

/// What a field of the object read holds.
#[derive(Debug, PartialEq)]
pub enum Field {
    /// The object has no such field.
    Absent,
    /// `null`.
    Null,
    /// A number.
    Number(f64),
    /// A string, its escapes decoded to UTF-8.
    String(Vec<u8>),
    /// An object.
    Object,
    /// `true`, `false` or an array (or a string not kept).
    Other,
}

impl Drop for Field {
    /// An answer's token is decoded into one of these: what is not taken from it is overwritten,
    /// so no copy lingers in (wasm) memory.
    fn drop(&mut self) {
        if let Field::String(bytes) = self {
            crate::core::token::overwrite(core::mem::take(bytes));
        }
    }
}

/// Why a text was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unread {
    /// Not exactly one JSON value, surrounded by whitespace at most.
    NotJson,
    /// JSON, but not an object.
    NotObject,
}

/// The fields `names` of the JSON object `text`, in the order asked. Of a key written twice,
/// the last counts (as `JSON.parse` reads it); a name asked twice is answered once, first.
pub fn fields<const N: usize>(text: &[u8], names: [&[u8]; N]) -> Result<[Field; N], Unread> {
    let mut found = [const { Field::Absent }; N];
    let mut reader = Reader {
        bytes: text,
        pos: 0,
    };
    let read = reader.value(0, false, Some((&names, &mut found)));
    reader.whitespace();
    match read {
        Some(Field::Object) if reader.pos == text.len() => Ok(found),
        Some(_) if reader.pos == text.len() => Err(Unread::NotObject),
        _ => Err(Unread::NotJson),
    }
}

/// 10^exponent, exact up to 10^22; beyond about 10^308 it is infinite, which the callers treat
/// as not a time. (core has no `powi` without std.)
fn power_of_ten(exponent: u32) -> f64 {
    (0..exponent.min(400)).fold(1.0, |power, _| power * 10.0)
}

/// The fields a caller asked for, and where they go.
type Wanted<'n, 'f> = Option<(&'n [&'n [u8]], &'f mut [Field])>;

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
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

    // One copy in the wasm: see .cargo/config.toml.
    #[inline(never)]
    fn whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// One value at `depth` levels of nesting: a string decoded only when `keep`, an object's
    /// fields kept as `wanted` asks.
    fn value(&mut self, depth: u32, keep: bool, wanted: Wanted<'_, '_>) -> Option<Field> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.whitespace();
        Some(match self.peek()? {
            b'"' => {
                let raw = self.string()?;
                if keep {
                    Field::String(decode(raw))
                } else {
                    Field::Other
                }
            }
            b'-' | b'0'..=b'9' => Field::Number(self.number()?),
            b't' => self.literal(b"true").map(|()| Field::Other)?,
            b'f' => self.literal(b"false").map(|()| Field::Other)?,
            b'n' => self.literal(b"null").map(|()| Field::Null)?,
            b'[' => self.items(depth).map(|()| Field::Other)?,
            b'{' => self.members(depth, wanted).map(|()| Field::Object)?,
            _ => return None,
        })
    }

    /// An array, from its `[`.
    fn items(&mut self, depth: u32) -> Option<()> {
        self.pos += 1;
        self.whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Some(());
        }
        loop {
            self.value(depth + 1, false, None)?;
            self.whitespace();
            match self.bump()? {
                b',' => {}
                b']' => return Some(()),
                _ => return None,
            }
        }
    }

    /// An object, from its `{`, keeping the fields `wanted` asks for.
    fn members(&mut self, depth: u32, mut wanted: Wanted<'_, '_>) -> Option<()> {
        self.pos += 1;
        self.whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Some(());
        }
        loop {
            self.whitespace();
            let key = self.string()?;
            self.whitespace();
            self.eat(b':')?;
            let slot = wanted.as_mut().and_then(|(names, found)| {
                let index = names.iter().position(|name| same_text(key, name))?;
                found.get_mut(index)
            });
            let value = self.value(depth + 1, slot.is_some(), None)?;
            if let Some(slot) = slot {
                *slot = value;
            }
            self.whitespace();
            match self.bump()? {
                b',' => {}
                b'}' => return Some(()),
                _ => return None,
            }
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
        let negative = self.eat_if(b'-');
        let mut mantissa = 0f64;
        let mut gather = |digit: u8| mantissa = mantissa * 10.0 + f64::from(digit);
        let leading_zero = self.peek() == Some(b'0');
        if self.digits(&mut gather)? > 1 && leading_zero {
            return None;
        }
        // Both parts of the scale are clamped (far beyond where a double is 0 or infinite), so
        // it cannot overflow.
        let mut scale = 0i32;
        if self.eat_if(b'.') {
            scale -= self.digits(&mut gather)?.min(100_000) as i32;
        }
        if self.eat_if(b'e') || self.eat_if(b'E') {
            let negative_exponent = self.eat_if(b'-');
            if !negative_exponent {
                self.eat_if(b'+');
            }
            let mut exponent = 0i32;
            self.digits(|digit| exponent = (exponent * 10 + i32::from(digit)).min(100_000))?;
            scale += if negative_exponent {
                -exponent
            } else {
                exponent
            };
        }
        // Dividing by an exact power of ten rounds better than multiplying by its inverse.
        // Zero stays zero at any scale (`0e999` is 0 to JSON.parse, not 0 × ∞).
        let power = power_of_ten(scale.unsigned_abs());
        let magnitude = if mantissa == 0.0 {
            0.0
        } else if scale < 0 {
            mantissa / power
        } else {
            mantissa * power
        };
        Some(if negative { -magnitude } else { magnitude })
    }

    /// Moves past `expected` if it comes next.
    // One copy in the wasm: see .cargo/config.toml.
    #[inline(never)]
    fn eat_if(&mut self, expected: u8) -> bool {
        let next = self.peek() == Some(expected);
        if next {
            self.pos += 1;
        }
        next
    }

    /// One or more decimal digits, each handed to `each`; how many.
    fn digits(&mut self, mut each: impl FnMut(u8)) -> Option<usize> {
        let start = self.pos;
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            each(digit - b'0');
            self.pos += 1;
        }
        Some(self.pos - start).filter(|&count| count > 0)
    }

    /// A JSON string, checked: what is between its quotes, escapes still written out.
    fn string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.pos;
        loop {
            match self.bump()? {
                b'"' => return self.bytes.get(start..self.pos - 1),
                b'\\' => {
                    escape(self.bytes, &mut self.pos)?;
                }
                byte if byte < 0x20 => return None,
                _ => {}
            }
        }
    }
}

/// The escape after a backslash at `*pos` (moved past it), as a code point; `None` when it is
/// not one JSON allows (a lone surrogate included).
fn escape(bytes: &[u8], pos: &mut usize) -> Option<u32> {
    let next = |pos: &mut usize| {
        let byte = bytes.get(*pos).copied();
        *pos += 1;
        byte
    };
    let hex4 = |pos: &mut usize| {
        let mut value = 0;
        for _ in 0..4 {
            value = value * 16 + char::from(next(pos)?).to_digit(16)?;
        }
        Some(value)
    };
    Some(match next(pos)? {
        b'"' => 0x22,
        b'\\' => 0x5C,
        b'/' => 0x2F,
        b'b' => 0x08,
        b'f' => 0x0C,
        b'n' => 0x0A,
        b'r' => 0x0D,
        b't' => 0x09,
        b'u' => {
            let first = hex4(pos)?;
            match first {
                0xD800..=0xDBFF => {
                    (next(pos)? == b'\\' && next(pos)? == b'u').then_some(())?;
                    let second = hex4(pos)?;
                    if !(0xDC00..=0xDFFF).contains(&second) {
                        return None;
                    }
                    0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                }
                0xDC00..=0xDFFF => return None,
                _ => first,
            }
        }
        _ => return None,
    })
}

/// The string `raw` (as [`Reader::string`] checked it) decoded, each byte handed to `each`.
fn unescape(raw: &[u8], mut each: impl FnMut(u8)) {
    let mut pos = 0;
    while let Some(&byte) = raw.get(pos) {
        pos += 1;
        if byte != b'\\' {
            each(byte);
            continue;
        }
        // UTF-8 by hand: `char::encode_utf8` brings a panic path into the wasm bundle.
        let code = escape(raw, &mut pos).unwrap_or_default();
        let continuations = match code {
            0..=0x7F => 0,
            0x80..=0x7FF => 1,
            0x800..=0xFFFF => 2,
            _ => 3,
        };
        let lead: u32 = [0, 0xC0, 0xE0, 0xF0]
            .get(continuations)
            .copied()
            .unwrap_or_default();
        each((lead | (code >> (6 * continuations))) as u8);
        for shift in (0..continuations).rev() {
            each((0x80 | ((code >> (6 * shift)) & 0x3F)) as u8);
        }
    }
}

/// `raw` decoded into a buffer that never grows (escapes only shrink a string), so a token
/// leaves no partial copies behind in memory it gave back.
fn decode(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    unescape(raw, |byte| out.push(byte));
    out
}

/// Whether the string `raw` decodes to `name` (a key may legally be written `"\u0065xp"`).
fn same_text(raw: &[u8], name: &[u8]) -> bool {
    let (mut at, mut same) = (0, true);
    unescape(raw, |byte| {
        same &= name.get(at) == Some(&byte);
        at += 1;
    });
    same && at == name.len()
}
