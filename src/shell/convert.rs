//! Crossing the boundary: JavaScript values into the core's [`Value`], core errors into
//! `AuthError` objects.

#[allow(unused_imports)]
use crate::prelude::*;

use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;

use crate::core::{AuthError, Value};

#[wasm_bindgen]
extern "C" {
    /// `Object.entries`, catching what a throwing getter or a Proxy trap raises.
    #[wasm_bindgen(catch, js_namespace = Object, js_name = entries)]
    fn object_entries(value: &JsValue) -> Result<Array, JsValue>;
}

/// `value` as core data, descending at most `depth` levels into arrays and objects (deeper
/// ones become [`Value::Other`]). Never throws: unreadable objects become `Other` too.
pub(crate) fn to_value(value: &JsValue, depth: u32) -> Value {
    if value.is_undefined() {
        Value::Undefined
    } else if value.is_null() {
        Value::Null
    } else if let Some(flag) = value.as_bool() {
        Value::Bool(flag)
    } else if let Some(number) = value.as_f64() {
        Value::Number(number)
    } else if let Some(text) = value.as_string() {
        Value::String(text)
    } else if value.is_function() {
        Value::Other("a function")
    } else if Array::is_array(value) {
        if depth == 0 {
            return Value::Other("an array");
        }
        Value::Array(
            Array::from(value)
                .iter()
                .map(|item| to_value(&item, depth - 1))
                .collect(),
        )
    } else if value.is_object() {
        if depth == 0 {
            return Value::Other("an object");
        }
        match object_entries(value) {
            Ok(entries) => Value::Object(
                entries
                    .iter()
                    .filter_map(|pair| {
                        let pair = Array::from(&pair);
                        Some((pair.get(0).as_string()?, to_value(&pair.get(1), depth - 1)))
                    })
                    .collect(),
            ),
            Err(_) => Value::Other("an unreadable object"),
        }
    } else {
        Value::Other("a symbol or bigint")
    }
}

/// The brand `AuthError`'s `instanceof` check looks for (see `js/auth-error.js`). A registered
/// symbol, so it works across module copies and realms.
const BRAND: &str = "authfetch.AuthError";

/// An `Error` with `name` "AuthError", its `code`, the brand, and `cause` when given.
pub(crate) fn auth_error(error: &AuthError, cause: Option<&JsValue>) -> JsValue {
    let object = js_sys::Error::new(&error.message);
    object.set_name("AuthError");
    // Setting properties on a fresh Error cannot fail.
    let _ = Reflect::set(&object, &"code".into(), &error.code.as_str().into());
    let _ = Reflect::set(&object, &js_sys::Symbol::for_(BRAND), &JsValue::TRUE);
    if let Some(cause) = cause {
        let _ = Reflect::set(&object, &"cause".into(), cause);
    }
    object.into()
}
