#![no_main]
// The JSON reader on arbitrary bytes: it never panics or overflows the stack, what it accepts
// and what it keeps do not depend on which other fields are asked for or in what order, and
// login and refresh answers built on it are classified without panicking.
use authfetch::core::grant::{classify_login, classify_refresh};
use authfetch::core::json::{Field, Unread, fields};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let json = fields(data, []) != Err(Unread::NotJson);
    let asked = fields(data, [b"access_token", b"expires_in", b"access_token"]);
    assert_eq!(
        asked != Err(Unread::NotJson),
        json,
        "acceptance depends on the names asked"
    );
    if let (Ok([token, expires_in, again]), Ok([expires_in_alone])) =
        (&asked, fields(data, [b"expires_in"]))
    {
        assert_eq!(again, &Field::Absent, "a name asked twice is answered once");
        assert_eq!(
            expires_in, &expires_in_alone,
            "what is kept depends on the other names"
        );
        let [token_alone] = fields(data, [b"access_token"]).unwrap();
        assert_eq!(
            token, &token_alone,
            "what is kept depends on the other names"
        );
    }
    let _ = classify_refresh(200, Some(data), b"access_token", b"expires_in");
    let _ = classify_login(200, Some(data), Some(b"access_token"), b"expires_in");
});
