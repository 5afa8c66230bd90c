// Builds a core `Value` (an options object or a parsed JSON body) from fuzz input, biased
// towards the keys the core looks at so the interesting branches are reached.
use authfetch::core::Value;
use libfuzzer_sys::arbitrary::{Result, Unstructured};

const KEYS: [&str; 18] = [
    "apiOrigins", "refreshUrl", "refreshMethod", "loginUrl", "logoutUrl", "tokenField",
    "loginTokenField", "expiresInField", "refreshLeewaySeconds", "refreshHeaders", "csrf",
    "timeoutMs", "crossTab", "access_token", "expires_in", "token", "cookie", "header",
];

pub fn value(u: &mut Unstructured<'_>, depth: u32) -> Result<Value> {
    Ok(match u.int_in_range(0..=8u8)? {
        0 => Value::Undefined,
        1 => Value::Null,
        2 => Value::Bool(u.arbitrary()?),
        3 => Value::Number(u.arbitrary()?),
        4 | 5 => Value::String(u.arbitrary()?),
        6 if depth > 0 => {
            let n = u.int_in_range(0..=4usize)?;
            Value::Array((0..n).map(|_| value(u, depth - 1)).collect::<Result<_>>()?)
        }
        7 | 8 if depth > 0 => {
            let n = u.int_in_range(0..=6usize)?;
            let mut entries = Vec::new();
            for _ in 0..n {
                let key = if u.arbitrary()? { (*u.choose(&KEYS)?).to_owned() } else { u.arbitrary()? };
                entries.push((key, value(u, depth - 1)?));
            }
            Value::Object(entries)
        }
        _ => Value::Other("a function"),
    })
}
