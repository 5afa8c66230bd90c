//! The demo page's routes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use axum::http::{Method, StatusCode};
use common::TestServer;

#[tokio::test]
async fn a_stolen_refresh_token_is_caught_by_reuse_detection_on_the_next_refresh() {
    let server = TestServer::start(&["--demo"]).await;
    let client = server.client();
    let (_, refresh) = client.demo_session().await;
    let cookie = format!("refresh_token={refresh}");
    let stolen = client
        .send(Method::POST, "/auth/demo/steal", &[("cookie", &cookie)], "")
        .await;
    assert_eq!(stolen.status, StatusCode::OK);
    assert!(
        stolen.set_cookies("refresh_token").is_empty(),
        "the thief keeps the new token"
    );
    let next = client.refresh(&refresh).await;
    assert_eq!(next.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        next.error(),
        "refresh token reuse detected; the session is revoked"
    );
    assert_eq!(client.stats().await.reuse_detections, 1);
    let nothing = client.send(Method::POST, "/auth/demo/steal", &[], "").await;
    assert_eq!(nothing.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_headers_probe_reports_presence_never_the_value() {
    let server = TestServer::start(&["--demo"]).await;
    let client = server.client();
    let with = client
        .get(
            "/demo/headers",
            &[
                ("authorization", "Bearer secret-value"),
                ("origin", "http://page.test"),
            ],
        )
        .await;
    assert_eq!(with.json()["authorization"], "present");
    assert_eq!(with.json()["origin"], "http://page.test");
    assert!(!String::from_utf8_lossy(&with.body).contains("secret-value"));
    assert_eq!(
        client.get("/demo/headers", &[]).await.json()["authorization"],
        "none"
    );
}

#[tokio::test]
async fn demo_routes_do_not_exist_without_the_flag() {
    let server = TestServer::start(&[]).await;
    let client = server.client();
    assert_eq!(
        client.get("/demo/headers", &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        client.post_json("/auth/demo/steal", &[], "").await.status,
        StatusCode::NOT_FOUND
    );
}
