// Builds a JSON text (a login or refresh answer) from fuzz input, biased towards the keys and
// shapes the core looks at so the interesting branches are reached.
use libfuzzer_sys::arbitrary::{Result, Unstructured};

const KEYS: [&str; 6] = [
    "access_token",
    "expires_in",
    "token",
    "exp",
    "iat",
    "\\u0065xp",
];

pub fn json(u: &mut Unstructured<'_>, depth: u32) -> Result<String> {
    Ok(match u.int_in_range(0..=8u8)? {
        0 => "null".to_owned(),
        1 => if u.arbitrary()? { "true" } else { "false" }.to_owned(),
        2 => format!("{:?}", u.arbitrary::<f64>()?),
        3 => u.arbitrary::<u32>()?.to_string(),
        4 | 5 => format!("{:?}", u.arbitrary::<String>()?),
        6 if depth > 0 => {
            let n = u.int_in_range(0..=4usize)?;
            let items = (0..n)
                .map(|_| json(u, depth - 1))
                .collect::<Result<Vec<_>>>()?;
            format!("[{}]", items.join(","))
        }
        7 | 8 if depth > 0 => {
            let n = u.int_in_range(0..=6usize)?;
            let mut members = Vec::new();
            for _ in 0..n {
                let key = if u.arbitrary()? {
                    format!("\"{}\"", u.choose(&KEYS)?)
                } else {
                    format!("{:?}", u.arbitrary::<String>()?)
                };
                members.push(format!("{key}:{}", json(u, depth - 1)?));
            }
            format!("{{{}}}", members.join(","))
        }
        // Anything at all, mostly not JSON.
        _ => u.arbitrary::<String>()?,
    })
}
