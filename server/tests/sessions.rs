//! Login, rotation, reuse detection, concurrency, logout, expiry and CSRF against a real
//! server on 127.0.0.1 with a real SQLite database.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{TestServer, assert_invalid_token, rotated};
use serde_json::Value;

fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn login_issues_a_jwt_and_a_locked_down_refresh_cookie() {
    let server = TestServer::start(&["--access-ttl", "120", "--refresh-ttl", "3600"]).await;
    let reply = server.client().login("demo", "demo").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("cache-control"), Some("no-store"));

    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 120);
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(jwt_part(access, 0)["alg"], "HS256");
    let claims = jwt_part(access, 1);
    assert_eq!(claims["sub"], "demo");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        120
    );
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));

    let cookies = reply.set_cookies("refresh_token");
    assert_eq!(cookies.len(), 1);
    let attributes: Vec<&str> = cookies[0].split("; ").skip(1).collect();
    assert_eq!(
        attributes,
        [
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/auth",
            "Max-Age=3600"
        ]
    );
    let refresh = reply.cookie_value("refresh_token").unwrap();
    assert_eq!(refresh.len(), 43, "256 random bits, base64url");
    assert!(
        !access.contains(&refresh),
        "the refresh token is opaque and separate"
    );
    // Without --csrf there is no CSRF cookie at all.
    assert!(reply.set_cookies("csrf_refresh_token").is_empty());
}

#[tokio::test]
async fn refresh_rotates_within_the_family_and_every_new_token_works() {
    let server = TestServer::start(&[]).await;
    let client = server.client();
    let (first_access, mut refresh) = client.demo_session().await;
    let mut seen = vec![refresh.clone()];
    for _ in 0..3 {
        let reply = client.refresh(&refresh).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        let tokens = reply.tokens();
        refresh = reply.cookie_value("refresh_token").unwrap();
        assert!(
            !seen.contains(&refresh),
            "each refresh issues a new refresh token"
        );
        seen.push(refresh.clone());
        assert_ne!(tokens.access_token, first_access);
        let me = client.me(&tokens.access_token).await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.json()["username"], "demo");
    }
    let stats = client.stats().await;
    assert_eq!(
        (
            stats.refresh_calls,
            stats.refresh_ok,
            stats.reuse_detections
        ),
        (3, 3, 0)
    );
}

#[tokio::test]
async fn a_used_refresh_token_revokes_the_whole_family_and_only_that_family() {
    let server = TestServer::start(&[]).await;
    let client = server.client();
    let (_, stolen) = client.demo_session().await;
    let (_, other_session) = client.demo_session().await;
    let rotated = client
        .refresh(&stolen)
        .await
        .cookie_value("refresh_token")
        .unwrap();

    let replay = client.refresh(&stolen).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        replay.error(),
        "refresh token reuse detected; the session is revoked"
    );
    assert_eq!(
        replay.set_cookies("refresh_token"),
        ["refresh_token=; HttpOnly; Secure; SameSite=Strict; Path=/auth; Max-Age=0"]
    );

    // The legitimate holder of the newest token is signed out too.
    let legit = client.refresh(&rotated).await;
    assert_eq!(legit.status, StatusCode::UNAUTHORIZED);
    assert_eq!(legit.error(), "session revoked");

    // Another login of the same user is another family, untouched.
    assert_eq!(client.refresh(&other_session).await.status, StatusCode::OK);
    assert_eq!(client.stats().await.reuse_detections, 1);
}

#[tokio::test]
async fn two_concurrent_refreshes_with_the_same_cookie_exactly_one_succeeds() {
    let server = TestServer::start(&[]).await;
    let client = server.client();
    for round in 0..5 {
        let (_, shared) = client.demo_session().await;
        let (a, b) = tokio::join!(client.refresh(&shared), client.refresh(&shared));
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::UNAUTHORIZED],
            "round {round}"
        );
        // The loser presented a used token: reuse detected, family revoked, so the winner's
        // new cookie is dead as well. This is the race authfetch's cross-tab lock prevents.
        let winner = if a.status == StatusCode::OK { a } else { b };
        let next = client
            .refresh(&winner.cookie_value("refresh_token").unwrap())
            .await;
        assert_eq!(next.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(client.stats().await.reuse_detections, 5);
}

#[tokio::test]
async fn many_concurrent_refreshes_with_the_same_cookie_exactly_one_succeeds() {
    let server = TestServer::start(&[]).await;
    let client = server.client();
    let (_, shared) = client.demo_session().await;
    let replies = join_all((0..16).map(|_| {
        let shared = shared.clone();
        async move { client.refresh(&shared).await }
    }))
    .await;
    let ok = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(ok, 1);
    assert!(
        replies
            .iter()
            .all(|r| r.status == StatusCode::OK || r.status == StatusCode::UNAUTHORIZED)
    );
}

/// Runs every future on its own task, so the requests really overlap.
async fn join_all<F: std::future::Future<Output = common::Reply> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<common::Reply> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut replies = Vec::new();
    for handle in handles {
        replies.push(handle.await.unwrap());
    }
    replies
}

#[tokio::test]
async fn logout_revokes_the_family_and_clears_the_cookie_and_is_idempotent() {
    let server = TestServer::start(&[]).await;
    let client = server.client();
    let (_, refresh) = client.demo_session().await;
    let cookie = format!("refresh_token={refresh}");
    let reply = client
        .send(Method::POST, "/auth/logout", &[("cookie", &cookie)], "")
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        reply.set_cookies("refresh_token"),
        ["refresh_token=; HttpOnly; Secure; SameSite=Strict; Path=/auth; Max-Age=0"]
    );
    let after = client.refresh(&refresh).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(after.error(), "session revoked");
    // Again, and with no cookie at all: signing out never fails.
    assert_eq!(
        client
            .send(Method::POST, "/auth/logout", &[("cookie", &cookie)], "")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        client
            .send(Method::POST, "/auth/logout", &[], "")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(client.stats().await.logout_calls, 3);
}

#[tokio::test]
async fn access_tokens_expire_after_their_lifetime() {
    let server = TestServer::start(&["--access-ttl", "1"]).await;
    let client = server.client();
    let (access, _) = client.demo_session().await;
    assert_eq!(client.me(&access).await.status, StatusCode::OK);
    // exp has one-second resolution and no leeway: expired at most two seconds after issue.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_invalid_token(&client.me(&access).await, "access token expired");
}

#[tokio::test]
async fn refresh_tokens_expire_after_their_lifetime() {
    let server = TestServer::start(&["--refresh-ttl", "1"]).await;
    let client = server.client();
    let (_, refresh) = client.demo_session().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let reply = client.refresh(&refresh).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.error(), "refresh token expired");
}

#[tokio::test]
async fn revoke_all_ends_every_session() {
    let server = TestServer::start(&[]).await;
    let client = server.client();
    let (_, a) = client.demo_session().await;
    let (_, b) = client.demo_session().await;
    let reply = client.post_json("/auth/test/revoke-all", &[], "").await;
    assert_eq!(reply.json()["revoked_families"], 2);
    for token in [a, b] {
        let refused = client.refresh(&token).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert_eq!(refused.error(), "session revoked");
    }
}

#[tokio::test]
async fn stats_count_and_reset() {
    let server = TestServer::start(&[]).await;
    let client = server.client();
    let (access, _) = client.demo_session().await;
    client.login("demo", "wrong").await;
    client.me(&access).await;
    client.me("garbage").await;
    let stats = client.stats().await;
    assert_eq!(
        (
            stats.login_calls,
            stats.login_ok,
            stats.api_calls,
            stats.unauthorized_served
        ),
        (2, 1, 2, 2)
    );
    assert_eq!(
        client.post_json("/auth/test/reset", &[], "").await.status,
        StatusCode::OK
    );
    assert_eq!(client.stats().await, authfetch_server::Snapshot::default());
}

#[tokio::test]
async fn csrf_double_submit_guards_refresh_and_logout_when_enabled() {
    let server = TestServer::start(&["--csrf"]).await;
    let client = server.client();
    let login = client.login("demo", "demo").await;
    let csrf_cookies = login.set_cookies("csrf_refresh_token");
    assert_eq!(csrf_cookies.len(), 1);
    assert!(
        !csrf_cookies[0].contains("HttpOnly"),
        "the page must be able to read it"
    );
    assert!(csrf_cookies[0].contains("; Path=/;"));
    let csrf = login.cookie_value("csrf_refresh_token").unwrap();
    let refresh = login.cookie_value("refresh_token").unwrap();
    let cookies = format!("refresh_token={refresh}; csrf_refresh_token={csrf}");

    for header in [None, Some("wrong"), Some("")] {
        let mut headers = vec![("cookie", cookies.as_str())];
        headers.extend(header.map(|h| ("x-csrf-token", h)));
        let refused = client
            .send(Method::POST, "/auth/refresh", &headers, "")
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "header {header:?}");
        assert_eq!(refused.error(), "CSRF token missing or mismatched");
    }
    let refreshed = client
        .send(
            Method::POST,
            "/auth/refresh",
            &[("cookie", &cookies), ("x-csrf-token", &csrf)],
            "",
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK);
    let new_csrf = refreshed.cookie_value("csrf_refresh_token").unwrap();
    assert_ne!(new_csrf, csrf, "a new CSRF value with every rotation");
    let new_refresh = refreshed.cookie_value("refresh_token").unwrap();
    let cookies = format!("refresh_token={new_refresh}; csrf_refresh_token={new_csrf}");

    let refused = client
        .send(Method::POST, "/auth/logout", &[("cookie", &cookies)], "")
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let out = client
        .send(
            Method::POST,
            "/auth/logout",
            &[("cookie", &cookies), ("x-csrf-token", &new_csrf)],
            "",
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        out.set_cookies("csrf_refresh_token"),
        ["csrf_refresh_token=; Secure; SameSite=Strict; Path=/; Max-Age=0"]
    );
}

#[tokio::test]
async fn within_the_retry_window_a_token_whose_answer_was_lost_rotates_again() {
    let server = TestServer::start(&["--refresh-retry-window", "30"]).await;
    let client = server.client();
    let (_, first) = client.demo_session().await;
    // The answer to this refresh never reached the browser, which still holds `first`.
    let lost = rotated(&client.refresh(&first).await);
    let again = rotated(&client.refresh(&first).await);
    assert_ne!(again, lost);
    let stats = client.stats().await;
    assert_eq!((stats.refresh_retried, stats.reuse_detections), (1, 0));
    // The session goes on from the new token; the lost one died as used.
    let next = rotated(&client.refresh(&again).await);
    let replay = client.refresh(&lost).await;
    assert_eq!(
        replay.error(),
        "refresh token reuse detected; the session is revoked"
    );
    assert_eq!(client.refresh(&next).await.error(), "session revoked");
}

#[tokio::test]
async fn the_retry_window_ends_once_the_successor_is_used() {
    let server = TestServer::start(&["--refresh-retry-window", "30"]).await;
    let client = server.client();
    let (_, first) = client.demo_session().await;
    let second = rotated(&client.refresh(&first).await);
    let third = rotated(&client.refresh(&second).await);
    // `first` comes back after its successor was used: a copy is out there.
    let replay = client.refresh(&first).await;
    assert_eq!(
        replay.error(),
        "refresh token reuse detected; the session is revoked"
    );
    assert_eq!(client.refresh(&third).await.error(), "session revoked");
    let stats = client.stats().await;
    assert_eq!((stats.refresh_retried, stats.reuse_detections), (0, 1));
}

#[tokio::test]
async fn after_the_retry_window_and_without_one_a_replay_is_reuse() {
    for (window, wait_ms) in [("1", 1_300), ("0", 0)] {
        let server = TestServer::start(&["--refresh-retry-window", window]).await;
        let client = server.client();
        let (_, first) = client.demo_session().await;
        let lost = rotated(&client.refresh(&first).await);
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        let replay = client.refresh(&first).await;
        assert_eq!(
            replay.error(),
            "refresh token reuse detected; the session is revoked",
            "window {window}"
        );
        assert_eq!(client.refresh(&lost).await.error(), "session revoked");
        assert_eq!(client.stats().await.refresh_retried, 0);
    }
}

#[tokio::test]
async fn housekeeping_deletes_finished_families_with_their_tokens_in_bounded_batches() {
    let server = TestServer::start(&[
        "--refresh-ttl",
        "4",
        "--revoked-retention",
        "0",
        "--housekeeping-batch",
        "2",
    ])
    .await;
    let client = server.client();
    let mut expired = Vec::new();
    for _ in 0..3 {
        expired.push(client.demo_session().await.1);
    }
    tokio::time::sleep(Duration::from_millis(4_100)).await;
    // Two live sessions, one of them rotated once (its used token stays as long as the family
    // lives), and one signed out (revoked, kept 0 s).
    let (_, live) = client.demo_session().await;
    let live = rotated(&client.refresh(&live).await);
    let (_, signed_out) = client.demo_session().await;
    let cookie = format!("refresh_token={signed_out}");
    client
        .send(Method::POST, "/auth/logout", &[("cookie", &cookie)], "")
        .await;

    let report = client
        .post_json("/auth/test/housekeep", &[], "")
        .await
        .json();
    assert_eq!(report["swept"]["families"], 4, "{report}");
    assert_eq!(report["swept"]["refresh_tokens"], 4, "{report}");
    // Four families two at a time, then a batch that finds nothing more.
    assert_eq!(report["swept"]["batches"], 3, "{report}");
    assert_eq!(report["left"]["families"], 1, "{report}");
    assert_eq!(report["left"]["refresh_tokens"], 2, "{report}");

    assert_eq!(
        client.refresh(&expired[0]).await.error(),
        "invalid refresh token"
    );
    rotated(&client.refresh(&live).await);
    let again = client
        .post_json("/auth/test/housekeep", &[], "")
        .await
        .json();
    assert_eq!(again["swept"]["families"], 0, "{again}");
}

#[tokio::test]
async fn housekeeping_keeps_a_live_familys_expired_used_tokens_so_their_return_is_still_reuse() {
    let server = TestServer::start(&["--refresh-ttl", "4"]).await;
    let client = server.client();
    let (_, first) = client.demo_session().await;
    let second = rotated(&client.refresh(&first).await);
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let third = rotated(&client.refresh(&second).await);
    // `first` is past its lifetime now; the family lives on through `third`.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let report = client
        .post_json("/auth/test/housekeep", &[], "")
        .await
        .json();
    assert_eq!(report["swept"]["refresh_tokens"], 0, "{report}");
    let replay = client.refresh(&first).await;
    assert_eq!(
        replay.error(),
        "refresh token reuse detected; the session is revoked"
    );
    assert_eq!(client.refresh(&third).await.error(), "session revoked");
}

#[tokio::test]
async fn the_health_check_answers_without_a_token_while_the_database_answers() {
    let server = TestServer::start(&[]).await;
    let reply = server.client().get("/healthz", &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), serde_json::json!({ "ok": true }));
}
