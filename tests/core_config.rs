//! The options the core decides with: the defaults, and the configuration text the driver hands
//! over. (Validating `new AuthClient(options)`, with a message naming each wrong option, is the
//! driver's: js/options.js, tested in tests/e2e/options.test.mjs.)
#![cfg(not(target_arch = "wasm32"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use authfetch::core::Options;

const API: &str = "https://api.example";

#[test]
fn defaults_follow_the_contract() {
    let options = Options::new(vec![API.to_owned()]);
    assert_eq!(options.api_origins, [API.as_bytes()]);
    assert_eq!(options.token_field, b"access_token");
    assert_eq!(
        options.login_token_field.as_deref(),
        Some(&b"access_token"[..])
    );
    assert_eq!(options.expires_in_field, b"expires_in");
    assert_eq!(options.refresh_leeway_ms, 30_000.0);
    assert_eq!(options.timeout_ms, 30_000);
}

#[test]
fn every_line_is_read() {
    let options = Options::from_lines(
        b"token\njwt\nttl\nhttps://api.example\nhttp://localhost:8080",
        2500.0,
        1500,
    )
    .unwrap();
    assert_eq!(options.token_field, b"token");
    assert_eq!(options.login_token_field.as_deref(), Some(&b"jwt"[..]));
    assert_eq!(options.expires_in_field, b"ttl");
    assert_eq!(
        options.api_origins,
        [&b"https://api.example"[..], b"http://localhost:8080"]
    );
    assert_eq!(options.refresh_leeway_ms, 2500.0);
    assert_eq!(options.timeout_ms, 1500);
    // An empty loginTokenField line: login answers carry no token.
    let token_less = Options::from_lines(
        ["access_token\n\nexpires_in\n", API].concat().as_bytes(),
        0.0,
        1,
    )
    .unwrap();
    assert_eq!(token_less.login_token_field, None);
    assert_eq!(token_less.token_field, b"access_token");
    assert_eq!(token_less.api_origins, [API.as_bytes()]);
    assert_eq!(token_less.refresh_leeway_ms, 0.0);
    assert_eq!(token_less.timeout_ms, 1);
}

#[test]
fn the_defaults_written_out_are_the_defaults() {
    let lines = ["access_token\naccess_token\nexpires_in\n", API].concat();
    assert_eq!(
        Options::from_lines(lines.as_bytes(), 30_000.0, 30_000),
        Some(Options::new(vec![API.to_owned()]))
    );
}

#[test]
fn unusable_configuration_text_is_refused() {
    let api = |head: &str| [head, API].concat();
    for (text, leeway, timeout) in [
        (String::new(), 0.0, 1),
        ("access_token".to_owned(), 0.0, 1),
        ("access_token\naccess_token".to_owned(), 0.0, 1),
        // No API origin.
        ("access_token\naccess_token\nexpires_in".to_owned(), 0.0, 1),
        // An empty tokenField or expiresInField.
        (api("\naccess_token\nexpires_in\n"), 0.0, 1),
        (api("access_token\naccess_token\n\n"), 0.0, 1),
        // An empty origin line (a trailing newline, or between two).
        (
            api("access_token\naccess_token\nexpires_in\n") + "\n",
            0.0,
            1,
        ),
        (api("access_token\naccess_token\nexpires_in\n\n"), 0.0, 1),
        // A leeway below 0 or not a number, a timeout of 0.
        (api("access_token\naccess_token\nexpires_in\n"), -1.0, 1),
        (api("access_token\naccess_token\nexpires_in\n"), f64::NAN, 1),
        (api("access_token\naccess_token\nexpires_in\n"), 0.0, 0),
    ] {
        assert_eq!(
            Options::from_lines(text.as_bytes(), leeway, timeout),
            None,
            "{text:?} {leeway} {timeout}"
        );
    }
}

#[test]
fn api_origins_are_compared_exactly() {
    let options = Options::new(vec![API.to_owned(), "http://localhost:8080".to_owned()]);
    assert!(options.admits(API.as_bytes()));
    assert!(options.admits(b"http://localhost:8080"));
    for other in [
        "",
        "null",
        "https://api.example/",
        "https://API.example",
        "https://api.example:443",
        "http://api.example",
        "https://api.example.evil",
        "http://localhost",
        "http://localhost:8081",
    ] {
        assert!(!options.admits(other.as_bytes()), "{other}");
    }
}
