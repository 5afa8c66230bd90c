#![no_main]
// The JSON reader on arbitrary bytes, at every depth the callers ask for and far beyond: it
// never panics or overflows the stack, what it accepts does not depend on the depth asked (only
// how much of it is kept), and login and refresh answers built on it are classified without
// panicking.
use authfetch::core::Value;
use authfetch::core::grant::{classify_login, classify_refresh};
use authfetch::core::json::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (depth, text) = match data.split_first() {
        Some((first, rest)) => (u32::from(*first), rest),
        None => (0, data),
    };
    let kept = parse(text, depth);
    for other in [0, 1, 4, 32, 33, u32::MAX] {
        assert_eq!(
            parse(text, other).is_some(),
            kept.is_some(),
            "accepted at depth {depth} but not at {other}, or the reverse"
        );
    }
    if depth == 0 {
        assert!(
            !matches!(kept, Some(Value::Array(_) | Value::Object(_))),
            "depth 0 keeps no container"
        );
    }
    // What the core does with an answer body (refresh and login read one level).
    let body = parse(text, 1);
    let _ = classify_refresh(200, body.as_ref(), "access_token", "expires_in");
    let _ = classify_login(200, body.as_ref(), Some("access_token"), "expires_in");
});
