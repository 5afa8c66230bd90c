//! A JSON value as plain Rust data: login and refresh answers and JWT payloads are read into
//! this form, so parsing is tested natively.

#[allow(unused_imports)]
use crate::prelude::*;

/// A JSON value, read by [`crate::core::json`] (with a depth limit) or built by tests.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `undefined`, or a property that is absent.
    Undefined,
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// A plain object's own enumerable string-keyed properties, in order.
    Object(Vec<(String, Value)>),
    /// Anything else (function, symbol, bigint, class instance, a value nested too deep), named
    /// by its kind for error messages.
    Other(&'static str),
}

/// What a missing property reads as (a `static`: values with `Drop` are not promoted).
static UNDEFINED: Value = Value::Undefined;

impl Drop for Value {
    /// A parsed login or refresh answer holds the token in one of these strings: overwrite
    /// strings when dropped, so no copy lingers in (wasm) memory after the token was taken.
    fn drop(&mut self) {
        if let Value::String(text) = self {
            crate::core::token::overwrite(core::mem::take(text));
        }
    }
}

impl Value {
    /// The property `key` of an object; `Undefined` for anything else or a missing key.
    pub fn get(&self, key: &str) -> &Value {
        match self {
            Value::Object(entries) => entries
                .iter()
                .find(|(k, _)| k == key)
                .map_or(&UNDEFINED, |(_, v)| v),
            _ => &UNDEFINED,
        }
    }

    /// What kind of value this is, in JavaScript's words.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Undefined => "undefined",
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
            Value::Other(kind) => kind,
        }
    }

    /// Shorthand for tests and defaults: an object from pairs.
    pub fn object<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Object(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// Shorthand: a string value.
    pub fn string(text: impl Into<String>) -> Value {
        Value::String(text.into())
    }
}
