#![no_main]
// The origin of a request URL: for any text, either nothing, or the leading
// `http(s)://authority` of the URL itself, with a non-empty authority that holds no path, query
// or fragment; and an API configured with that origin admits it.
use authfetch::core::Options;
use authfetch::core::origin::origin_of_url;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(url) = std::str::from_utf8(data) else {
        return;
    };
    let Some(origin) = origin_of_url(url) else {
        // Nothing: not http(s), or no host before the path, query or fragment.
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        assert!(
            rest.is_none_or(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#', '\\'])),
            "{url:?} has an origin"
        );
        return;
    };
    assert!(
        url.starts_with(origin),
        "{origin:?} is not where {url:?} starts"
    );
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .expect("an http or https origin");
    assert!(!authority.is_empty(), "{url:?}: an empty host");
    assert!(
        !authority.contains(['/', '?', '#', '\\']),
        "{url:?}: {origin:?}"
    );
    // What follows the origin starts a path, query or fragment (or nothing).
    let rest = &url[origin.len()..];
    assert!(
        rest.is_empty() || rest.starts_with(['/', '?', '#', '\\']),
        "{url:?}"
    );
    assert!(Options::new(vec![origin.to_owned()]).admits(origin));
});
