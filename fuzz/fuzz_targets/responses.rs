#![no_main]
// Login, refresh and logout answers: any status with any body, mostly JSON-shaped.
use authfetch::core::grant::{classify_login, classify_logout, classify_refresh, parse_grant};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

mod answer;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(status) = u.arbitrary::<u16>() else {
        return;
    };
    let Ok(read) = u.arbitrary::<bool>() else {
        return;
    };
    let Ok(body) = answer::json(&mut u, 3) else {
        return;
    };
    let body = read.then_some(body.as_bytes());
    let _ = parse_grant(body, "refresh", b"access_token", b"expires_in");
    let _ = classify_refresh(status, body, b"token", b"expires_in");
    let _ = classify_login(status, body, Some(b"access_token"), b"expires_in");
    let _ = classify_login(status, body, None, b"expires_in");
    let _ = classify_logout(status);
});
