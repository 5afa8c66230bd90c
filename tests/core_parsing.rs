//! The JWT peek, login/refresh/logout answers and origins, on valid, garbage and hostile input.
#![cfg(not(target_arch = "wasm32"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use authfetch::core::grant::{classify_login, classify_logout, classify_refresh, parse_grant};
use authfetch::core::jwt::{TimeClaims, peek};
use authfetch::core::origin::{ApiOrigins, Origin, OriginError};
use authfetch::core::{ErrorCode, Lifetime, RefreshOutcome, Value};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

fn jwt(payload: &str) -> String {
    [
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(payload),
        "c2ln".to_owned(),
    ]
    .join(".")
}

fn claims(exp: Option<f64>, iat: Option<f64>) -> Option<TimeClaims> {
    Some(TimeClaims { exp, iat })
}

#[test]
fn peek_reads_exp_and_iat_from_real_shaped_tokens() {
    assert_eq!(
        peek(&jwt(
            r#"{"sub":"demo","iat":1700000000,"exp":1700000300,"jti":"x"}"#
        )),
        claims(Some(1_700_000_300.0), Some(1_700_000_000.0))
    );
    assert_eq!(peek(&jwt(r#"{"exp":1.7e9}"#)), claims(Some(1.7e9), None));
    assert_eq!(
        peek(&jwt(
            r#" { "exp" : 12.5 , "nested": {"exp": 1, "a": [1, {"iat": 2}]}, "iat": 0 } "#
        )),
        claims(Some(12.5), Some(0.0))
    );
    // Escaped keys are the same keys.
    assert_eq!(peek(&jwt(r#"{"\u0065xp":99}"#)), claims(Some(99.0), None));
    // Standard base64 with padding, as some servers wrongly emit, is accepted too.
    let padded = [
        STANDARD.encode("{}"),
        STANDARD.encode(r#"{"exp":5}"#),
        String::new(),
    ]
    .join(".");
    assert_eq!(peek(&padded), claims(Some(5.0), None));
    // Claims that are not non-negative numbers are ignored, not fatal.
    assert_eq!(peek(&jwt(r#"{"exp":"soon","iat":-5}"#)), claims(None, None));
    assert_eq!(peek(&jwt(r#"{"exp":null,"iat":true}"#)), claims(None, None));
    assert_eq!(peek(&jwt("{}")), claims(None, None));
}

#[test]
fn peek_rejects_garbage_without_panicking() {
    let cases = [
        String::new(),
        "opaque-token".to_owned(),
        "a.b".to_owned(),
        "a.b.c.d.e".to_owned(),
        "..".to_owned(),
        "x.!!!.y".to_owned(),
        "x.A.y".to_owned(),
        jwt("[1,2]"),
        jwt("\"exp\""),
        jwt(r#"{"exp":1"#),
        jwt(r#"{"exp":1}}"#),
        jwt(r#"{"exp":01}"#),
        jwt(r#"{"exp":1.}"#),
        jwt(r#"{"exp":1e}"#),
        jwt(r#"{"exp":-}"#),
        jwt(r#"{"a":"\x"}"#),
        jwt(r#"{"a":"\ud800"}"#),
        jwt("{\"a\":\"\u{1}\"}"),
        jwt(r#"{"a":tru}"#),
        jwt(r#"{"a" 1}"#),
        jwt(r#"{,}"#),
        jwt(r#"{"a":1,}"#),
        [
            URL_SAFE_NO_PAD.encode("{}"),
            URL_SAFE_NO_PAD.encode([0xff, 0xfe, b'{']),
            String::new(),
        ]
        .join("."),
    ];
    for token in cases {
        assert_eq!(peek(&token), None, "{token:?}");
    }
}

#[test]
fn peek_survives_huge_and_deeply_nested_payloads() {
    let deep = format!(
        r#"{{"exp":1,"x":{}{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert_eq!(
        peek(&jwt(&deep)),
        None,
        "nesting beyond the limit is refused, not recursed into"
    );
    let ok_depth = format!(r#"{{"x":{}{},"exp":7}}"#, "[".repeat(30), "]".repeat(30));
    assert_eq!(peek(&jwt(&ok_depth)), claims(Some(7.0), None));
    let huge = jwt(&format!(r#"{{"exp":1,"pad":"{}"}}"#, "a".repeat(20_000)));
    assert_eq!(peek(&huge), None, "over the size limit");
    assert_eq!(
        peek(&jwt(r#"{"exp":1e999999}"#)),
        claims(None, None),
        "infinite is not a time"
    );
    assert_eq!(peek(&"a.".repeat(100_000)), None);
}

fn body(entries: &[(&str, Value)]) -> Value {
    Value::object(entries.iter().cloned())
}

fn bad(result: Result<authfetch::core::Grant, authfetch::core::AuthError>) -> String {
    let error = result.expect_err("should be refused");
    assert_eq!(error.code, ErrorCode::BadResponse);
    error.message
}

#[test]
fn grant_parsing_names_what_is_wrong() {
    let parse = |b: Option<&Value>| parse_grant(b, "refresh", "access_token", "expires_in");
    assert_eq!(bad(parse(None)), "the refresh response is not JSON");
    assert_eq!(
        bad(parse(Some(&Value::Array(vec![])))),
        "the refresh response is not a JSON object"
    );
    assert_eq!(
        bad(parse(Some(&Value::string("tok")))),
        "the refresh response is not a JSON object"
    );
    assert_eq!(
        bad(parse(Some(&body(&[("token", Value::string("t"))])))),
        "the refresh response has no \"access_token\" field"
    );
    for wrong in [
        Value::string(""),
        Value::Number(1.0),
        Value::Null,
        Value::Bool(true),
        Value::Array(vec![]),
    ] {
        assert_eq!(
            bad(parse(Some(&body(&[("access_token", wrong)])))),
            "the refresh response field \"access_token\" is not a non-empty string"
        );
    }
    for hostile in ["a\r\nSet-Cookie: x=1", "tab\there", "naïve", "spa ce"] {
        assert_eq!(
            bad(parse(Some(&body(&[(
                "access_token",
                Value::string(hostile)
            )])))),
            "the refresh response field \"access_token\" has characters not allowed in a header"
        );
    }
    for wrong in [
        Value::string("3600"),
        Value::Number(-1.0),
        Value::Number(f64::NAN),
        Value::Number(f64::INFINITY),
        Value::Bool(true),
    ] {
        assert_eq!(
            bad(parse(Some(&body(&[
                ("access_token", Value::string("t")),
                ("expires_in", wrong)
            ])))),
            "the refresh response field \"expires_in\" is not a non-negative number"
        );
    }
    let ok = parse(Some(&body(&[
        ("access_token", Value::string("t")),
        ("expires_in", Value::Null),
    ])))
    .unwrap();
    assert_eq!(ok.lifetime(), Lifetime::Unknown);
    let custom = parse_grant(
        Some(&body(&[
            ("token", Value::string("t")),
            ("ttl", Value::Number(5.0)),
        ])),
        "login",
        "token",
        "ttl",
    )
    .unwrap();
    assert_eq!(custom.lifetime(), Lifetime::FromArrival(5000.0));
    assert_eq!(
        bad(parse_grant(None, "login", "token", "ttl")),
        "the login response is not JSON",
        "the endpoint is named"
    );
}

#[test]
fn refresh_answers_classify_by_status() {
    let good = body(&[("access_token", Value::string("t"))]);
    assert!(matches!(
        classify_refresh(200, Some(&good), "access_token", "expires_in"),
        RefreshOutcome::Granted(_)
    ));
    assert!(matches!(
        classify_refresh(201, Some(&good), "access_token", "expires_in"),
        RefreshOutcome::Granted(_)
    ));
    assert_eq!(
        classify_refresh(401, None, "access_token", "expires_in"),
        RefreshOutcome::SessionOver
    );
    assert_eq!(
        classify_refresh(403, Some(&good), "access_token", "expires_in"),
        RefreshOutcome::SessionOver
    );
    for status in [500, 502, 404, 400, 302, 429] {
        match classify_refresh(status, Some(&good), "access_token", "expires_in") {
            RefreshOutcome::Failed(e) => {
                assert_eq!(e.code, ErrorCode::RefreshFailed);
                assert_eq!(e.message, format!("the refresh endpoint answered {status}"));
            }
            other => panic!("{status}: {other:?}"),
        }
    }
    match classify_refresh(200, None, "access_token", "expires_in") {
        RefreshOutcome::Failed(e) => assert_eq!(e.code, ErrorCode::BadResponse),
        other => panic!("{other:?}"),
    }
}

#[test]
fn login_and_logout_answers_classify_by_status() {
    let good = body(&[("access_token", Value::string("t"))]);
    assert!(
        classify_login(200, Some(&good), Some("access_token"), "expires_in")
            .unwrap()
            .is_some()
    );
    assert!(
        classify_login(204, None, None, "expires_in")
            .unwrap()
            .is_none()
    );
    for status in [400, 401, 403, 422, 429] {
        let e = classify_login(status, None, Some("access_token"), "expires_in").unwrap_err();
        assert_eq!(e.code, ErrorCode::LoginFailed);
        assert_eq!(
            e.message,
            format!("the login endpoint refused the credentials ({status})")
        );
    }
    let e = classify_login(500, None, Some("access_token"), "expires_in").unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::BadResponse, "the login endpoint answered 500")
    );
    assert_eq!(
        classify_login(200, None, Some("access_token"), "expires_in")
            .unwrap_err()
            .code,
        ErrorCode::BadResponse
    );

    for ok in [200, 204, 401, 403] {
        assert!(classify_logout(ok).is_ok(), "{ok}");
    }
    assert_eq!(
        classify_logout(500).unwrap_err().message,
        "the logout endpoint answered 500"
    );
}

#[test]
fn origins_normalise_scheme_host_and_default_ports() {
    let same = [
        ("https://api.example.com", "HTTPS://API.Example.COM:443/"),
        ("http://localhost", "http://localhost:80"),
        ("http://127.0.0.1:8080", " http://127.0.0.1:8080/ "),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("https://host", "https://host:"),
        ("wss://host", "wss://host:443"),
        ("http://host:8080", "http://host:08080"),
    ];
    for (a, b) in same {
        assert_eq!(
            Origin::parse(a).unwrap(),
            Origin::parse(b).unwrap(),
            "{a} = {b}"
        );
    }
    let different = [
        ("https://api.example.com", "http://api.example.com"),
        ("https://api.example.com", "https://api.example.com:8443"),
        ("https://api.example.com", "https://example.com"),
        ("http://localhost", "http://127.0.0.1"),
        ("http://host:80", "https://host:80"),
    ];
    for (a, b) in different {
        assert_ne!(
            Origin::parse(a).unwrap(),
            Origin::parse(b).unwrap(),
            "{a} != {b}"
        );
    }
    assert_eq!(
        Origin::parse("HTTPS://API.example:443")
            .unwrap()
            .serialize(),
        "https://api.example"
    );
    assert_eq!(
        Origin::parse("http://[::1]:3000/").unwrap().serialize(),
        "http://[::1]:3000"
    );
}

#[test]
fn origins_refuse_what_is_not_an_origin() {
    let cases = [
        ("null", OriginError::Opaque),
        ("api.example.com", OriginError::MissingScheme),
        ("//api.example.com", OriginError::MissingScheme),
        ("1http://x", OriginError::MissingScheme),
        ("https://", OriginError::MissingHost),
        ("https://:443", OriginError::MissingHost),
        ("https://api.example.com/v1", OriginError::NotAnOrigin),
        ("https://api.example.com//", OriginError::NotAnOrigin),
        ("https://api.example.com?x", OriginError::NotAnOrigin),
        ("https://api.example.com#x", OriginError::NotAnOrigin),
        ("https://user@api.example.com", OriginError::NotAnOrigin),
        (
            "https://evil.example\\@api.example.com",
            OriginError::NotAnOrigin,
        ),
        ("https://api.example.com:99999", OriginError::BadPort),
        ("https://api.example.com:8o", OriginError::BadPort),
        ("https://api.example.com:-1", OriginError::BadPort),
        ("https://bücher.example", OriginError::BadHost),
        ("https://api example.com", OriginError::BadHost),
        ("http://[::1", OriginError::BadHost),
        ("http://[]", OriginError::BadHost),
        ("http://::1", OriginError::BadHost),
    ];
    for (text, expected) in cases {
        assert_eq!(Origin::parse(text), Err(expected), "{text}");
    }
}

#[test]
fn api_origins_admit_only_their_own() {
    let origins = ApiOrigins::new(vec![
        Origin::parse("https://api.example").unwrap(),
        Origin::parse("http://localhost:8080").unwrap(),
    ]);
    for yes in [
        "https://api.example",
        "https://API.EXAMPLE",
        "http://localhost:8080",
    ] {
        assert!(origins.admits(yes), "{yes}");
    }
    for no in [
        "null",
        "",
        "https://api.example.evil",
        "https://evil.example",
        "http://localhost",
        "http://localhost:8081",
        "https://api.example:444",
    ] {
        assert!(!origins.admits(no), "{no}");
    }
}
