//! Hostile and broken requests: every one gets a 4xx with a JSON `{ "error": … }` body, and
//! none a 5xx (the client helper fails any test that sees one).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use axum::http::{Method, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{TestServer, assert_invalid_token};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

const SECRET: &str = "a-test-secret-that-is-long-enough-for-hs256";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims() -> serde_json::Value {
    json!({ "sub": "demo", "iat": now(), "exp": now() + 300, "jti": "x" })
}

fn sign(algorithm: Algorithm, secret: &str, claims: &serde_json::Value) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn login_rejects_malformed_bodies_with_json_errors() {
    let server = TestServer::start(&[]).await;
    let client = server.client();
    let cases: [(&str, StatusCode, &str); 6] = [
        ("{not json", StatusCode::BAD_REQUEST, "invalid JSON body"),
        ("", StatusCode::BAD_REQUEST, "invalid JSON body"),
        (
            r#"{"username":"demo"}"#,
            StatusCode::BAD_REQUEST,
            "missing field `password`",
        ),
        (
            r#"{"password":"demo"}"#,
            StatusCode::BAD_REQUEST,
            "missing field `username`",
        ),
        (
            r#"{"username":1,"password":"demo"}"#,
            StatusCode::BAD_REQUEST,
            "invalid type",
        ),
        (r#"[]"#, StatusCode::BAD_REQUEST, "invalid length"),
    ];
    for (body, status, message) in cases {
        let reply = client.post_json("/auth/login", &[], body).await;
        assert_eq!(reply.status, status, "body {body:?}");
        assert!(
            reply.error().contains(message),
            "body {body:?}: {}",
            reply.error()
        );
    }
}

#[tokio::test]
async fn login_rejects_huge_bodies_and_non_json_content_types() {
    let server = TestServer::start(&[]).await;
    let client = server.client();
    let huge = json!({ "username": "demo", "password": "x".repeat(70 * 1024) }).to_string();
    let reply = client.post_json("/auth/login", &[], &huge).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.error(), "request body too large");

    let form = client
        .send(
            Method::POST,
            "/auth/login",
            &[("content-type", "application/x-www-form-urlencoded")],
            "username=demo&password=demo",
        )
        .await;
    assert_eq!(form.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(form.error(), "expected Content-Type: application/json");
    let none = client
        .send(
            Method::POST,
            "/auth/login",
            &[],
            r#"{"username":"demo","password":"demo"}"#,
        )
        .await;
    assert_eq!(none.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Parameters and case in the media type are fine.
    let charset = client
        .send(
            Method::POST,
            "/auth/login",
            &[("content-type", "Application/JSON; charset=utf-8")],
            r#"{"username":"demo","password":"demo"}"#,
        )
        .await;
    assert_eq!(charset.status, StatusCode::OK);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let server = TestServer::start(&[]).await;
    let client = server.client();
    for (user, password) in [
        ("demo", "wrong"),
        ("nobody", "demo"),
        ("", ""),
        ("demo", ""),
    ] {
        let reply = client.login(user, password).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{user:?}/{password:?}"
        );
        assert_eq!(reply.error(), "invalid username or password");
        assert!(reply.set_cookies("refresh_token").is_empty());
    }
}

#[tokio::test]
async fn refresh_rejects_missing_garbage_and_oversized_cookies() {
    let server = TestServer::start(&[]).await;
    let client = server.client();
    let no_cookie = client.send(Method::POST, "/auth/refresh", &[], "").await;
    assert_eq!(no_cookie.status, StatusCode::UNAUTHORIZED);
    assert_eq!(no_cookie.error(), "missing refresh token");

    let unknown = URL_SAFE_NO_PAD.encode([7u8; 32]);
    let long = "A".repeat(4000);
    for garbage in [
        "",
        "x",
        "not base64 !!",
        "%00%ff",
        long.as_str(),
        unknown.as_str(),
    ] {
        let reply = client.refresh(garbage).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "cookie {garbage:?}");
        assert_eq!(reply.error(), "invalid refresh token");
    }
    // Other cookies around it, quoted values, several Cookie headers: parsed as browsers send.
    let (_, refresh) = client.demo_session().await;
    let crowded = format!("theme=dark; junk; refresh_token=\"{refresh}\"; x=");
    let reply = client
        .send(
            Method::POST,
            "/auth/refresh",
            &[("cookie", "a=b"), ("cookie", &crowded)],
            "",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);

    let oversized = format!("refresh_token={}", "A".repeat(64 * 1024));
    let reply = client
        .send(Method::POST, "/auth/refresh", &[("cookie", &oversized)], "")
        .await;
    assert_eq!(reply.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(reply.error(), "request headers too large");
}

#[tokio::test]
async fn api_refuses_missing_malformed_forged_and_wrong_algorithm_tokens() {
    let server = TestServer::start(&["--jwt-secret", SECRET]).await;
    let client = server.client();
    assert_invalid_token(&client.get("/api/me", &[]).await, "missing bearer token");
    assert_invalid_token(
        &client
            .get("/api/me", &[("authorization", "Basic ZGVtbzpkZW1v")])
            .await,
        "expected a Bearer token",
    );
    assert_invalid_token(
        &client.get("/api/me", &[("authorization", "Bearer")]).await,
        "expected a Bearer token",
    );
    for garbage in [
        "x",
        "a.b.c",
        "....",
        "eyJhbGciOiJIUzI1NiJ9",
        &"A".repeat(8000),
    ] {
        assert_invalid_token(&client.me(garbage).await, "access token malformed");
    }
    assert_invalid_token(
        &client
            .me(&sign(
                Algorithm::HS256,
                "some-other-secret-of-enough-length-xx",
                &claims(),
            ))
            .await,
        "access token signature invalid",
    );
    // The right secret with another algorithm is still refused: only HS256 is accepted.
    for algorithm in [Algorithm::HS384, Algorithm::HS512] {
        assert_invalid_token(
            &client.me(&sign(algorithm, SECRET, &claims())).await,
            "access token algorithm not accepted",
        );
    }
    // alg "none": a valid header and payload with the signature stripped.
    let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
    for header in [
        r#"{"alg":"none","typ":"JWT"}"#,
        r#"{"alg":"None"}"#,
        r#"{"typ":"JWT"}"#,
    ] {
        let token = format!("{}.{payload}.", URL_SAFE_NO_PAD.encode(header));
        assert_eq!(
            client.me(&token).await.status,
            StatusCode::UNAUTHORIZED,
            "header {header}"
        );
    }
    let expired = json!({ "sub": "demo", "iat": now() - 600, "exp": now() - 300, "jti": "x" });
    assert_invalid_token(
        &client.me(&sign(Algorithm::HS256, SECRET, &expired)).await,
        "access token expired",
    );
    let no_exp = json!({ "sub": "demo", "iat": now(), "jti": "x" });
    assert_invalid_token(
        &client.me(&sign(Algorithm::HS256, SECRET, &no_exp)).await,
        "access token malformed",
    );
    // A correctly signed token with the secret we configured works: the checks above are not
    // refusing everything.
    assert_eq!(
        client
            .me(&sign(Algorithm::HS256, SECRET, &claims()))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn echo_returns_exactly_the_bytes_it_got_and_rejects_invalid_json() {
    let server = TestServer::start(&[]).await;
    let client = server.client();
    let (access, _) = client.demo_session().await;
    let bearer = format!("Bearer {access}");
    let body = "{ \"b\" : [1, 2.50, \"\\u00e9\u{e9}\"],\n \"a\": null }";
    let reply = client
        .post_json("/api/echo", &[("authorization", &bearer)], body)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, body.as_bytes());
    assert_eq!(reply.header("content-type"), Some("application/json"));

    let bad = client
        .post_json("/api/echo", &[("authorization", &bearer)], "{\"a\":")
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    // Authentication is checked before the body: no token, no parsing.
    assert_invalid_token(
        &client.post_json("/api/echo", &[], "{").await,
        "missing bearer token",
    );
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_in_json() {
    let server = TestServer::start(&[]).await;
    let client = server.client();
    let missing = client.get("/nope", &[]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error(), "not found");
    let wrong_method = client.send(Method::DELETE, "/auth/login", &[], "").await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.error(), "method not allowed");
    let get_refresh = client.get("/auth/refresh", &[]).await;
    assert_eq!(get_refresh.status, StatusCode::METHOD_NOT_ALLOWED);
}
