//! The test-mode controls the SDK's browser tests rely on.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::time::Instant;

use axum::http::{Method, StatusCode};
use common::{TestServer, assert_invalid_token};

#[tokio::test]
async fn faults_replace_refresh_answers_without_rotating() {
    let server = TestServer::start(&[]).await;
    let client = common::Client {
        server_errors_expected: true,
        ..server.client()
    };
    let (_, refresh) = client.demo_session().await;
    let faults = [
        (
            r#"{"kind":"status","status":500}"#,
            StatusCode::INTERNAL_SERVER_ERROR,
            Some("application/json"),
        ),
        (r#"{"kind":"not_json"}"#, StatusCode::OK, Some("text/html")),
        (
            r#"{"kind":"missing_token"}"#,
            StatusCode::OK,
            Some("application/json"),
        ),
        (
            r#"{"kind":"mistyped_token"}"#,
            StatusCode::OK,
            Some("application/json"),
        ),
        (
            r#"{"kind":"delay","ms":300}"#,
            StatusCode::SERVICE_UNAVAILABLE,
            Some("application/json"),
        ),
    ];
    for (fault, status, content_type) in faults {
        assert_eq!(
            client
                .post_json("/auth/test/refresh-fault", &[], fault)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        let started = Instant::now();
        let reply = client.refresh(&refresh).await;
        assert_eq!(reply.status, status, "{fault}");
        assert_eq!(reply.header("content-type"), content_type, "{fault}");
        assert!(
            reply.set_cookies("refresh_token").is_empty(),
            "no rotation under {fault}"
        );
        if fault.contains("delay") {
            assert!(started.elapsed().as_millis() >= 300);
        }
    }
    let body = client
        .post_json(
            "/auth/test/refresh-fault",
            &[],
            r#"{"kind":"mistyped_token"}"#,
        )
        .await;
    assert_eq!(body.status, StatusCode::NO_CONTENT);
    assert_eq!(client.refresh(&refresh).await.json()["access_token"], 12345);
    // Faults used up: the untouched cookie rotates normally.
    assert_eq!(client.refresh(&refresh).await.status, StatusCode::OK);
    // A slow refresh still rotates.
    client
        .post_json(
            "/auth/test/refresh-fault",
            &[],
            r#"{"kind":"slow","ms":200}"#,
        )
        .await;
    let started = Instant::now();
    let (_, slow) = client.demo_session().await;
    assert_eq!(client.refresh(&slow).await.status, StatusCode::OK);
    assert!(started.elapsed().as_millis() >= 200);
    let slow_api = client.get("/auth/test/slow?ms=150", &[]).await;
    assert_eq!(slow_api.json()["slept_ms"], 150);
    // `count` queues several.
    client
        .post_json(
            "/auth/test/refresh-fault",
            &[],
            r#"{"kind":"status","status":502,"count":2}"#,
        )
        .await;
    let (_, fresh) = client.demo_session().await;
    assert_eq!(client.refresh(&fresh).await.status, StatusCode::BAD_GATEWAY);
    assert_eq!(client.refresh(&fresh).await.status, StatusCode::BAD_GATEWAY);
    assert_eq!(client.refresh(&fresh).await.status, StatusCode::OK);
}

#[tokio::test]
async fn rotating_the_secret_invalidates_access_tokens_but_not_sessions() {
    let server = TestServer::start(&[]).await;
    let client = server.client();
    let (access, refresh) = client.demo_session().await;
    assert_eq!(
        client
            .post_json("/auth/test/rotate-secret", &[], "")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_invalid_token(&client.me(&access).await, "access token signature invalid");
    let renewed = client.refresh(&refresh).await;
    assert_eq!(
        client.me(&renewed.tokens().access_token).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn config_changes_lifetimes_and_csrf_until_reset() {
    let server = TestServer::start(&["--access-ttl", "300"]).await;
    let client = server.client();
    client
        .post_json("/auth/test/config", &[], r#"{"access_ttl":7,"csrf":true}"#)
        .await;
    let login = client.login("demo", "demo").await;
    assert_eq!(login.tokens().expires_in, 7);
    assert!(login.cookie_value("csrf_refresh_token").is_some());
    let refused = client
        .refresh(&login.cookie_value("refresh_token").unwrap())
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    client.post_json("/auth/test/reset", &[], "").await;
    let login = client.login("demo", "demo").await;
    assert_eq!(login.tokens().expires_in, 300);
    assert!(login.cookie_value("csrf_refresh_token").is_none());
    let zero = client
        .post_json("/auth/test/config", &[], r#"{"access_ttl":0}"#)
        .await;
    assert_eq!(zero.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_journal_records_requests_as_received() {
    let server = TestServer::start(&[]).await;
    let client = server.client();
    let (access, _) = client.demo_session().await;
    let bearer = format!("Bearer {access}");
    client
        .post_json(
            "/api/echo",
            &[("authorization", &bearer), ("origin", "http://page.test")],
            r#"{"x": 1}"#,
        )
        .await;
    client.get("/api/ping", &[]).await;
    let journal = client.get("/auth/test/requests", &[]).await.json();
    let entries = journal.as_array().unwrap();
    assert_eq!(
        entries.len(),
        3,
        "login, echo, ping; test routes are not journaled: {journal}"
    );
    assert_eq!(entries[1]["method"], "POST");
    assert_eq!(entries[1]["path"], "/api/echo");
    assert_eq!(entries[1]["authorization"], bearer.as_str());
    assert_eq!(entries[1]["origin"], "http://page.test");
    assert_eq!(entries[1]["body"], r#"{"x": 1}"#);
    assert_eq!(entries[2]["authorization"], serde_json::Value::Null);
    // The echoed body still reached the handler intact after journaling.
    let echoed = client
        .post_json("/api/echo", &[("authorization", &bearer)], "[1,2]")
        .await;
    assert_eq!(echoed.body, "[1,2]".as_bytes());
}

#[tokio::test]
async fn redirect_and_get_refresh_serve_their_test_shapes() {
    let server = TestServer::start(&[]).await;
    let client = server.client();
    let reply = client
        .get(
            "/auth/test/redirect?to=http%3A%2F%2Flocalhost%3A1%2Fapi%2Fme",
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(reply.header("location"), Some("http://localhost:1/api/me"));

    let (_, refresh) = client.demo_session().await;
    let cookie = format!("refresh_token={refresh}");
    let reply = client
        .send(
            Method::GET,
            "/auth/test/refresh-get",
            &[("cookie", &cookie)],
            "",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    assert!(
        body["token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3)
    );
    assert!(body.get("access_token").is_none());
}
