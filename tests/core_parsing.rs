//! The JSON reader, the JWT peek, login/refresh/logout answers and request origins, on valid,
//! garbage and hostile input.
#![cfg(not(target_arch = "wasm32"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use authfetch::core::grant::{classify_login, classify_logout, classify_refresh, parse_grant};
use authfetch::core::json::{Field, Unread, fields};
use authfetch::core::jwt::TimeClaims;
use authfetch::core::origin::origin_of_url;
use authfetch::core::{Endpoint, ErrorCode, Lifetime, Options, RefreshOutcome};
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

fn peek(token: &str) -> Option<TimeClaims> {
    authfetch::core::jwt::peek(token.as_bytes())
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

/// An answer's text: an object of `fields`, each value written as JSON.
fn body(fields: &[(&str, &str)]) -> Vec<u8> {
    let members: Vec<String> = fields
        .iter()
        .map(|(key, value)| format!("{key:?}:{value}"))
        .collect();
    format!("{{{}}}", members.join(",")).into_bytes()
}

fn bad(result: Result<authfetch::core::Grant, authfetch::core::AuthError>) -> String {
    let error = result.expect_err("should be refused");
    assert_eq!(error.code, ErrorCode::BadResponse);
    error.message().to_owned()
}

#[test]
fn grant_parsing_names_what_is_wrong() {
    let parse = |b: Option<&[u8]>| parse_grant(b, "refresh", b"access_token", b"expires_in");
    assert_eq!(bad(parse(None)), "the refresh response is not JSON");
    assert_eq!(
        bad(parse(Some(b"<html>"))),
        "the refresh response is not JSON"
    );
    assert_eq!(
        bad(parse(Some(br#"{"access_token":"t""#))),
        "the refresh response is not JSON"
    );
    assert_eq!(
        bad(parse(Some(b"[]"))),
        "the refresh response is not a JSON object"
    );
    assert_eq!(
        bad(parse(Some(br#""tok""#))),
        "the refresh response is not a JSON object"
    );
    assert_eq!(
        bad(parse(Some(&body(&[("token", r#""t""#)])))),
        "the refresh response has no \"access_token\" field"
    );
    for wrong in [r#""""#, "1", "null", "true", "[]", r#"{"t":"t"}"#] {
        assert_eq!(
            bad(parse(Some(&body(&[("access_token", wrong)])))),
            "the refresh response field \"access_token\" is not a non-empty string",
            "{wrong}"
        );
    }
    for hostile in [
        r#""a\r\nSet-Cookie: x=1""#,
        r#""tab\there""#,
        "\"tab\there\"".replace('\t', "\\u0009").as_str(),
        r#""na\u00efve""#,
        "\"naïve\"",
        r#""spa ce""#,
        r#""nul\u0000""#,
    ] {
        assert_eq!(
            bad(parse(Some(&body(&[("access_token", hostile)])))),
            "the refresh response field \"access_token\" has characters not allowed in a header",
            "{hostile}"
        );
    }
    for wrong in [r#""3600""#, "-1", "1e309", "true", "[60]"] {
        assert_eq!(
            bad(parse(Some(&body(&[
                ("access_token", r#""t""#),
                ("expires_in", wrong)
            ])))),
            "the refresh response field \"expires_in\" is not a non-negative number",
            "{wrong}"
        );
    }
    let ok = parse(Some(&body(&[
        ("access_token", r#""t""#),
        ("expires_in", "null"),
    ])))
    .unwrap();
    assert_eq!(ok.lifetime(), Lifetime::Unknown);
    // Escapes a token may hold are decoded (`\/` is how some encoders write a slash).
    let escaped = parse(Some(&body(&[("access_token", r#""a\/b\u002Bc""#)]))).unwrap();
    let token = format!("{:?}", escaped);
    assert!(!token.contains("a/b+c"), "the token never prints: {token}");
    let custom = parse_grant(
        Some(&body(&[("token", r#""t""#), ("ttl", "5")])),
        "login",
        b"token",
        b"ttl",
    )
    .unwrap();
    assert_eq!(custom.lifetime(), Lifetime::FromArrival(5000.0));
    assert_eq!(
        bad(parse_grant(None, "login", b"token", b"ttl")),
        "the login response is not JSON",
        "the endpoint is named"
    );
}

#[test]
fn refresh_answers_classify_by_status() {
    let good = body(&[("access_token", r#""t""#)]);
    assert!(matches!(
        classify_refresh(200, Some(&good), b"access_token", b"expires_in"),
        RefreshOutcome::Granted(_)
    ));
    assert!(matches!(
        classify_refresh(201, Some(&good), b"access_token", b"expires_in"),
        RefreshOutcome::Granted(_)
    ));
    assert_eq!(
        classify_refresh(401, None, b"access_token", b"expires_in"),
        RefreshOutcome::SessionOver
    );
    assert_eq!(
        classify_refresh(403, Some(&good), b"access_token", b"expires_in"),
        RefreshOutcome::SessionOver
    );
    for status in [500, 502, 404, 400, 302, 429, 100, 0, 65535] {
        match classify_refresh(status, Some(&good), b"access_token", b"expires_in") {
            RefreshOutcome::Failed(e) => {
                assert_eq!(e.code, ErrorCode::RefreshFailed);
                assert_eq!(e.endpoint, Some(Endpoint::Refresh));
                assert_eq!(
                    e.message(),
                    format!("the refresh endpoint answered {status}")
                );
            }
            other => panic!("{status}: {other:?}"),
        }
    }
    match classify_refresh(200, None, b"access_token", b"expires_in") {
        RefreshOutcome::Failed(e) => assert_eq!(e.code, ErrorCode::BadResponse),
        other => panic!("{other:?}"),
    }
}

#[test]
fn login_and_logout_answers_classify_by_status() {
    let good = body(&[("access_token", r#""t""#)]);
    assert!(
        classify_login(200, Some(&good), Some(b"access_token"), b"expires_in")
            .unwrap()
            .is_some()
    );
    assert!(
        classify_login(204, None, None, b"expires_in")
            .unwrap()
            .is_none()
    );
    for status in [400, 401, 403, 422, 429] {
        let e = classify_login(status, None, Some(b"access_token"), b"expires_in").unwrap_err();
        assert_eq!(e.code, ErrorCode::LoginFailed);
        assert_eq!(e.endpoint, Some(Endpoint::Login));
        assert_eq!(
            e.message(),
            format!("the login endpoint refused the credentials ({status})")
        );
    }
    let e = classify_login(500, None, Some(b"access_token"), b"expires_in").unwrap_err();
    assert_eq!(
        (e.code, e.message()),
        (ErrorCode::BadResponse, "the login endpoint answered 500")
    );
    assert_eq!(
        classify_login(200, None, Some(b"access_token"), b"expires_in")
            .unwrap_err()
            .code,
        ErrorCode::BadResponse
    );

    for ok in [200, 204, 401, 403] {
        assert!(classify_logout(ok).is_ok(), "{ok}");
    }
    let e = classify_logout(500).unwrap_err();
    assert_eq!(
        (e.message(), e.endpoint),
        ("the logout endpoint answered 500", Some(Endpoint::Logout))
    );
}

#[test]
fn origin_of_url_takes_scheme_host_and_port_of_http_and_https_urls() {
    let cases = [
        ("https://api.example/v1/items", "https://api.example"),
        ("https://api.example", "https://api.example"),
        ("https://api.example/", "https://api.example"),
        ("http://localhost:8080/x?y=1#z", "http://localhost:8080"),
        ("https://api.example:8443/", "https://api.example:8443"),
        ("https://api.example?q=/x", "https://api.example"),
        ("https://api.example#/route", "https://api.example"),
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
        ("https://[::1]:3000/ipv6", "https://[::1]:3000"),
        // A backslash ends the host, as the URL parser reads it for http(s).
        ("https://api.example\\@evil.example/", "https://api.example"),
        // Credentials stay in the authority, so it matches no configured origin.
        ("https://user@api.example/", "https://user@api.example"),
    ];
    for (url, origin) in cases {
        assert_eq!(
            origin_of_url(url.as_bytes()),
            Some(origin.as_bytes()),
            "{url}"
        );
    }
}

#[test]
fn origin_of_url_refuses_other_schemes_and_empty_hosts() {
    for url in [
        // Other schemes never reach a server that could want the token.
        "ftp://api.example/",
        "ws://api.example/socket",
        "wss://api.example/socket",
        "blob:https://api.example/0d4c",
        "data:text/plain,https://api.example",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "about:blank",
        // Not as the browser serialises a request URL.
        "HTTPS://api.example/",
        "https:api.example",
        "//api.example/",
        "api.example",
        "null",
        "",
        // No host.
        "https://",
        "http://",
        "https:///path",
        "http://?q",
        "http://#f",
        "https://\\x",
    ] {
        assert_eq!(origin_of_url(url.as_bytes()), None, "{url:?}");
    }
}

#[test]
fn api_origins_admit_only_their_own() {
    let options = Options::new(vec![
        "https://api.example".to_owned(),
        "http://localhost:8080".to_owned(),
    ]);
    let admits =
        |url: &str| origin_of_url(url.as_bytes()).is_some_and(|origin| options.admits(origin));
    for yes in [
        "https://api.example/v1",
        "https://api.example",
        "http://localhost:8080/",
    ] {
        assert!(admits(yes), "{yes}");
    }
    for no in [
        "null",
        "",
        "https://api.example.evil/",
        "https://evil.example/",
        "https://evil.example/https://api.example",
        "http://localhost/",
        "http://localhost:8081/",
        "https://api.example:444/",
        "http://api.example/",
        "https://user@api.example/",
        "https://api.example@evil.example/",
        // The driver hands the core origins as the URL parser serialises them; the core
        // compares exactly and withholds the token from anything else.
        "https://API.example/",
        "https://api.example:443/",
    ] {
        assert!(!admits(no), "{no}");
    }
}

/// The field "k" of `text`.
fn k(text: &str) -> Result<Field, Unread> {
    fields(text.as_bytes(), [b"k"]).map(|[field]| field)
}

/// Whether `text` is JSON at all.
fn accepted(text: &[u8]) -> bool {
    fields(text, []) != Err(Unread::NotJson)
}

fn string(text: &str) -> Result<Field, Unread> {
    Ok(Field::String(text.as_bytes().to_vec()))
}

#[test]
fn json_keeps_the_fields_asked_for() {
    assert_eq!(k(r#"{"k": true}"#), Ok(Field::Other));
    assert_eq!(k(r#"{"k": false}"#), Ok(Field::Other));
    assert_eq!(k(r#"{"k": null}"#), Ok(Field::Null));
    assert_eq!(k(" \t\r\n {\"k\": 42 } \n"), Ok(Field::Number(42.0)));
    assert_eq!(k(r#"{"k": ""}"#), string(""));
    assert_eq!(k(r#"{"k": [1, "two", null]}"#), Ok(Field::Other));
    assert_eq!(k(r#"{"k": {"k": 1}}"#), Ok(Field::Object));
    assert_eq!(
        k(r#"{"a": {"k": 1}}"#),
        Ok(Field::Absent),
        "only the top level counts"
    );
    assert_eq!(k("{}"), Ok(Field::Absent));
    // Of a key written twice the last counts, as JSON.parse reads it.
    assert_eq!(k(r#"{"k":1,"k":2}"#), Ok(Field::Number(2.0)));
    let [b, a, again] = fields(br#"{"a":1,"b":"x","c":[]}"#, [b"b", b"a", b"b"]).unwrap();
    assert_eq!(
        (b, a, again),
        (
            Field::String(b"x".to_vec()),
            Field::Number(1.0),
            Field::Absent
        )
    );
    for other in ["true", "42", r#""s""#, "[]", "null", "[{}]"] {
        assert_eq!(k(other), Err(Unread::NotObject), "{other}");
    }
}

#[test]
fn json_numbers_follow_the_grammar() {
    let number = |text: &str| match k(&format!(r#"{{"k":{text}}}"#)) {
        Ok(Field::Number(n)) => Some(n),
        other => {
            assert_eq!(other, Err(Unread::NotJson), "{text}");
            None
        }
    };
    for (text, value) in [
        ("0", 0.0),
        ("-0", -0.0),
        ("7", 7.0),
        ("-12", -12.0),
        ("0.5", 0.5),
        ("0.1", 0.1),
        ("12.5e-1", 1.25),
        ("1E2", 100.0),
        ("1e+2", 100.0),
        ("1.7e9", 1.7e9),
        ("1700000000", 1.7e9),
        ("123456789.123", 123_456_789.123),
        ("1e-400", 0.0),
    ] {
        assert_eq!(number(text), Some(value), "{text}");
    }
    assert!(number("1e308").unwrap().is_finite());
    assert_eq!(number("1e309"), Some(f64::INFINITY), "callers refuse it");
    for bad in [
        "01", "1.", ".5", "+1", "1e", "1e+", "-", "--1", "0x10", "1_000", "NaN", "Infinity",
    ] {
        assert_eq!(number(bad), None, "{bad}");
    }
}

#[test]
fn json_strings_decode_escapes_and_surrogate_pairs() {
    let value = |text: &str| k(&format!(r#"{{"k":{text}}}"#));
    assert_eq!(
        value(r#""\"\\\/\b\f\n\r\t""#),
        string("\"\\/\u{8}\u{c}\n\r\t")
    );
    assert_eq!(value(r#""\u0041\u00e9\u4e2d""#), string("Aé中"));
    assert_eq!(value("\"é中😀\""), string("é中😀"));
    assert_eq!(value(r#""\ud83d\ude00""#), string("😀"));
    assert_eq!(value(r#""\uD83D\uDE00""#), string("😀"));
    assert_eq!(value(r#""\u0000""#), string("\0"));
    // Escaped keys are the same keys.
    assert_eq!(k(r#"{"\u006b":1}"#), Ok(Field::Number(1.0)));
    assert_eq!(k(r#"{"\u006bk":1}"#), Ok(Field::Absent));
    assert_eq!(
        fields(r#"{"\u00e9t\u00E9":1}"#.as_bytes(), ["été".as_bytes()]),
        Ok([Field::Number(1.0)])
    );
    for bad in [
        &br#""\ud83d""#[..],  // a high surrogate alone
        br#""\ud83dx""#,      // ...followed by something else
        br#""\ud83d\u0041""#, // ...followed by a non-surrogate
        br#""\ude00""#,       // a low surrogate alone
        br#""\x""#,           // no such escape
        br#""\u12""#,         // too few hex digits
        br#""\u12g4""#,
        br#""\'""#,
        b"\"tab\there\"", // control characters must be escaped
        b"\"line\nbreak\"",
        br#""unterminated"#,
        br#"'single'"#,
    ] {
        for text in [
            [&b"{\"k\":"[..], bad, b"}"].concat(),
            [&b"{\"a\":"[..], bad, b"}"].concat(),
        ] {
            assert!(!accepted(&text), "{:?}", String::from_utf8_lossy(&text));
        }
    }
    // Bytes are not checked for UTF-8: the driver hands over what TextEncoder wrote, and a
    // token is refused unless it is visible ASCII.
    assert!(accepted(b"{\"a\":\"\xff\xfe\"}"));
}

#[test]
fn json_checks_what_it_skips() {
    for bad in [
        r#"{"k": 1, "a": [1, [2,]]}"#,
        r#"{"a": {"b" 1}, "k": 1}"#,
        r#"{"a": ["\x"], "k": 1}"#,
        r#"{"k": [1,]}"#,
        r#"{"k": {"a":}}"#,
    ] {
        assert_eq!(k(bad), Err(Unread::NotJson), "{bad}");
    }
}

#[test]
fn json_refuses_trailing_garbage_and_broken_grammar() {
    for bad in [
        "",
        " ",
        "1 2",
        "{}x",
        "{} {}",
        "[1]]",
        "\"a\"\"b\"",
        "1,",
        "true false",
        "[1,]",
        "{\"a\":1,}",
        "{,}",
        "[,1]",
        "{a:1}",
        "{\"a\" 1}",
        "{\"a\":}",
        "{1:2}",
        "[1 2]",
        "tru",
        "nul",
        "True",
        "[",
        "{",
        "]",
        "\"a",
        "\u{feff}1",
        "\u{feff}{}",
    ] {
        assert!(!accepted(bad.as_bytes()), "{bad:?}");
        assert_eq!(k(bad), Err(Unread::NotJson), "{bad:?}");
    }
}

#[test]
fn json_nesting_deeper_than_32_is_refused() {
    let nested = |levels: usize| format!("{}{}", "[".repeat(levels), "]".repeat(levels));
    // The outermost array and 32 more inside it are fine; one more is not.
    assert!(accepted(nested(33).as_bytes()));
    assert!(!accepted(nested(34).as_bytes()));
    let objects = |levels: usize| format!("{}1{}", r#"{"a":"#.repeat(levels), "}".repeat(levels));
    assert!(accepted(objects(32).as_bytes()));
    assert!(
        !accepted(objects(33).as_bytes()),
        "the 1 sits 33 levels deep"
    );
    assert_eq!(k(&format!(r#"{{"k":{}}}"#, nested(32))), Ok(Field::Other));
    assert_eq!(
        k(&format!(r#"{{"k":{}}}"#, nested(33))),
        Err(Unread::NotJson)
    );
    // Deep enough to overflow the stack if it were recursed into.
    assert!(!accepted(nested(100_000).as_bytes()));
    assert!(!accepted(objects(100_000).as_bytes()));
}

#[test]
fn zero_is_zero_at_any_exponent() {
    for text in ["0e999", "-0e400", "0.0e-999", "0E+9999"] {
        assert!(
            matches!(k(&format!(r#"{{"k":{text}}}"#)), Ok(Field::Number(n)) if n == 0.0),
            "{text}"
        );
    }
}
