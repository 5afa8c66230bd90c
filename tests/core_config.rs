//! Every options validation message, and the defaults.
#![cfg(not(target_arch = "wasm32"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use authfetch::core::config::{Csrf, RefreshMethod};
use authfetch::core::{ErrorCode, Options, Value};

const PAGE: &str = "https://app.example";

fn with(key: &str, value: Value) -> Value {
    Value::object([(key, value)])
}

fn message(options: &Value) -> String {
    let error = Options::from_value(options, PAGE).expect_err("should be refused");
    assert_eq!(error.code, ErrorCode::InvalidConfig);
    error.message
}

fn strings(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| Value::string(*s)).collect())
}

#[test]
fn defaults_follow_the_contract() {
    let options = Options::from_value(&Value::Undefined, PAGE).unwrap();
    assert!(
        options.api_origins.admits(PAGE),
        "default: the page's own origin"
    );
    assert!(!options.api_origins.admits("https://api.example"));
    assert_eq!(options.refresh_url, "/auth/refresh");
    assert_eq!(options.refresh_method, RefreshMethod::Post);
    assert_eq!(options.login_url, "/auth/login");
    assert_eq!(options.logout_url, "/auth/logout");
    assert_eq!(options.token_field, "access_token");
    assert_eq!(options.login_token_field.as_deref(), Some("access_token"));
    assert_eq!(options.expires_in_field, "expires_in");
    assert_eq!(options.refresh_leeway_ms, 30_000.0);
    assert!(options.refresh_headers.is_empty());
    assert_eq!(options.csrf, None);
    assert_eq!(options.timeout_ms, 30_000);
    assert!(options.cross_tab);
    assert_eq!(
        Options::from_value(&Value::object::<&str>([]), PAGE).unwrap(),
        options
    );
}

#[test]
fn every_option_is_read() {
    let options = Options::from_value(
        &Value::object([
            (
                "apiOrigins",
                strings(&["https://api.example", "http://localhost:8080/"]),
            ),
            (
                "refreshUrl",
                Value::string("https://auth.example/token/refresh"),
            ),
            ("refreshMethod", Value::string("get")),
            ("loginUrl", Value::string("/login")),
            ("logoutUrl", Value::string("/logout")),
            ("tokenField", Value::string("token")),
            ("loginTokenField", Value::Null),
            ("expiresInField", Value::string("ttl")),
            ("refreshLeewaySeconds", Value::Number(2.5)),
            (
                "refreshHeaders",
                Value::object([("X-Requested-With", Value::string("authfetch"))]),
            ),
            (
                "csrf",
                Value::object([
                    ("cookie", Value::string("csrf_refresh_token")),
                    ("header", Value::string("X-CSRF-TOKEN")),
                ]),
            ),
            ("timeoutMs", Value::Number(1500.0)),
            ("crossTab", Value::Bool(false)),
        ]),
        PAGE,
    )
    .unwrap();
    assert!(
        options.api_origins.admits("http://localhost:8080")
            && options.api_origins.admits("https://api.example")
    );
    assert!(!options.api_origins.admits(PAGE));
    assert_eq!(options.refresh_url, "https://auth.example/token/refresh");
    assert_eq!(options.refresh_method, RefreshMethod::Get);
    assert_eq!(
        (options.login_url.as_str(), options.logout_url.as_str()),
        ("/login", "/logout")
    );
    assert_eq!(options.token_field, "token");
    assert_eq!(options.login_token_field, None);
    assert_eq!(options.expires_in_field, "ttl");
    assert_eq!(options.refresh_leeway_ms, 2500.0);
    assert_eq!(
        options.refresh_headers,
        [("X-Requested-With".to_owned(), "authfetch".to_owned())]
    );
    assert_eq!(
        options.csrf,
        Some(Csrf {
            cookie: "csrf_refresh_token".into(),
            header: "X-CSRF-TOKEN".into()
        })
    );
    assert_eq!(options.timeout_ms, 1500);
    assert!(!options.cross_tab);
    // loginTokenField defaults to tokenField.
    let login = Options::from_value(&with("tokenField", Value::string("jwt")), PAGE).unwrap();
    assert_eq!(login.login_token_field.as_deref(), Some("jwt"));
}

#[test]
fn every_validation_message_names_the_option() {
    let cases: Vec<(Value, &str)> = vec![
        (
            Value::string("https://api.example"),
            "options must be an object, got a string",
        ),
        (
            Value::Array(vec![]),
            "options must be an object, got an array",
        ),
        (
            with("apiOrigin", strings(&["https://api.example"])),
            "unknown option \"apiOrigin\" (check its spelling)",
        ),
        (
            with("apiOrigins", Value::string("https://api.example")),
            "apiOrigins must be a non-empty array of origins like \"https://api.example.com\"",
        ),
        (
            with("apiOrigins", Value::Array(vec![])),
            "apiOrigins must be a non-empty array of origins like \"https://api.example.com\"",
        ),
        (
            with("apiOrigins", Value::Array(vec![Value::Number(1.0)])),
            "apiOrigins must hold origin strings, got a number",
        ),
        (
            with("apiOrigins", strings(&["https://api.example/v1"])),
            "apiOrigins: \"https://api.example/v1\" is not an origin: an origin has no path, query, fragment or credentials",
        ),
        (
            with("apiOrigins", strings(&["null"])),
            "apiOrigins: \"null\" is not an origin: \"null\" (an opaque origin) can never match",
        ),
        (
            with("apiOrigins", strings(&["api.example"])),
            "apiOrigins: \"api.example\" is not an origin: expected scheme://host[:port]",
        ),
        (
            with("refreshUrl", Value::string("  ")),
            "refreshUrl must be a non-empty string, got a string",
        ),
        (
            with("refreshUrl", Value::Null),
            "refreshUrl must be a non-empty string, got null",
        ),
        (
            with("loginUrl", Value::Number(1.0)),
            "loginUrl must be a non-empty string, got a number",
        ),
        (
            with("logoutUrl", Value::Bool(true)),
            "logoutUrl must be a non-empty string, got a boolean",
        ),
        (
            with("tokenField", Value::string("")),
            "tokenField must be a non-empty string, got a string",
        ),
        (
            with("loginTokenField", Value::string("")),
            "loginTokenField must be a non-empty string, got a string",
        ),
        (
            with("expiresInField", Value::Other("a function")),
            "expiresInField must be a non-empty string, got a function",
        ),
        (
            with("refreshMethod", Value::string("PUT")),
            "refreshMethod must be \"POST\" or \"GET\"",
        ),
        (
            with("refreshLeewaySeconds", Value::Number(-1.0)),
            "refreshLeewaySeconds must be a number of seconds, 0 or more",
        ),
        (
            with("refreshLeewaySeconds", Value::Number(f64::NAN)),
            "refreshLeewaySeconds must be a number of seconds, 0 or more",
        ),
        (
            with("refreshLeewaySeconds", Value::string("30")),
            "refreshLeewaySeconds must be a number of seconds, 0 or more",
        ),
        (
            with("refreshHeaders", Value::Array(vec![])),
            "refreshHeaders must be an object of header names to strings, got an array",
        ),
        (
            with(
                "refreshHeaders",
                Value::object([("Bad Header", Value::string("x"))]),
            ),
            "refreshHeaders: \"Bad Header\" is not a valid header name",
        ),
        (
            with(
                "refreshHeaders",
                Value::object([("X-A", Value::string("a\r\nb"))]),
            ),
            "refreshHeaders: the value of \"X-A\" has characters not allowed in a header",
        ),
        (
            with(
                "refreshHeaders",
                Value::object([("X-A", Value::Number(1.0))]),
            ),
            "refreshHeaders: the value of \"X-A\" must be a string, got a number",
        ),
        (
            with("csrf", Value::Bool(true)),
            "csrf must be { cookie, header } or null",
        ),
        (
            with(
                "csrf",
                Value::object([("header", Value::string("X-CSRF-TOKEN"))]),
            ),
            "csrf.cookie must be a cookie name",
        ),
        (
            with(
                "csrf",
                Value::object([
                    ("cookie", Value::string("c")),
                    ("header", Value::string("X CSRF")),
                ]),
            ),
            "csrf.header must be a header name",
        ),
        (
            with("timeoutMs", Value::Number(0.0)),
            "timeoutMs must be a number of milliseconds from 1 to 2147483647",
        ),
        (
            with("timeoutMs", Value::Number(3e9)),
            "timeoutMs must be a number of milliseconds from 1 to 2147483647",
        ),
        (
            with("timeoutMs", Value::Number(f64::INFINITY)),
            "timeoutMs must be a number of milliseconds from 1 to 2147483647",
        ),
        (
            with("crossTab", Value::string("true")),
            "crossTab must be true or false",
        ),
    ];
    for (options, expected) in cases {
        assert_eq!(message(&options), expected, "{options:?}");
    }
}

#[test]
fn a_page_without_an_origin_must_name_its_api_origins() {
    let error = Options::from_value(&Value::Undefined, "null").unwrap_err();
    assert_eq!(
        error.message,
        "apiOrigins is required: this page has no origin to default to (null)"
    );
    assert!(
        Options::from_value(
            &with("apiOrigins", strings(&["https://api.example"])),
            "null"
        )
        .is_ok()
    );
}
