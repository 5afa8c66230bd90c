#![no_main]
// The origin of a request URL: for any bytes, either nothing, or the leading
// `http(s)://authority` of the URL itself, with a non-empty authority that holds no path, query
// or fragment; and an API configured with that origin admits it.
use authfetch::core::Options;
use authfetch::core::origin::origin_of_url;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|url: &[u8]| {
    let ends_authority = |byte: &u8| matches!(byte, b'/' | b'?' | b'#' | b'\\');
    let Some(origin) = origin_of_url(url) else {
        // Nothing: not http(s), or no host before the path, query or fragment.
        let rest = url
            .strip_prefix(b"https://")
            .or_else(|| url.strip_prefix(b"http://"));
        assert!(
            rest.is_none_or(|rest| rest.first().is_none_or(ends_authority)),
            "{url:?} has an origin"
        );
        return;
    };
    assert!(
        url.starts_with(origin),
        "{origin:?} is not where {url:?} starts"
    );
    let authority = origin
        .strip_prefix(b"https://")
        .or_else(|| origin.strip_prefix(b"http://"))
        .expect("an http or https origin");
    assert!(!authority.is_empty(), "{url:?}: an empty host");
    assert!(!authority.iter().any(ends_authority), "{url:?}: {origin:?}");
    // What follows the origin starts a path, query or fragment (or nothing).
    let rest = &url[origin.len()..];
    assert!(rest.first().is_none_or(ends_authority), "{url:?}");
    let mut options = Options::new(vec![]);
    options.api_origins = vec![origin.to_vec()];
    assert!(options.admits(origin));
});
