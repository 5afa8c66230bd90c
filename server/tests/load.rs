//! A bounded load test on 127.0.0.1: 200 sessions rotate their refresh tokens concurrently for
//! 60 seconds (AUTHFETCH_LOAD_SECONDS to change), with a graceful restart of the server half-way.
//! No refresh may be refused (a refusal here would be a false reuse detection or a lost
//! session), and every session must still refresh at the end. Prints refreshes per second.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use common::{Client, ServerProcess, path_str, temp_dir};

const SESSIONS: usize = 200;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Refreshes until the server answers; a connection failure during the restart was never
/// processed (graceful shutdown finishes what it accepted), so the same cookie is tried again.
async fn refresh(client: Client, token: &str, deadline: Instant) -> (StatusCode, Option<String>) {
    let cookie = format!("refresh_token={token}");
    loop {
        match client
            .try_send(Method::POST, "/auth/refresh", &[("cookie", &cookie)], "")
            .await
        {
            Ok(reply) => {
                let next = reply
                    .cookie_value("refresh_token")
                    .filter(|v| !v.is_empty());
                return (reply.status, next);
            }
            Err(error) => {
                assert!(
                    Instant::now() < deadline,
                    "server unreachable for too long: {error}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

// Run by scripts/test on its own, with its output shown; `--ignored` runs it by hand.
#[ignore = "a 60-second load test; scripts/test runs it explicitly"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_sessions_rotate_through_a_restart_without_a_false_reuse_detection() {
    let seconds: u64 = std::env::var("AUTHFETCH_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let dir = temp_dir();
    let db = dir.path().join("load.sqlite3");
    let port = free_port();
    let args = ["--db", path_str(&db)];
    let first = ServerProcess::spawn_on(port, &args);
    let client = first.client();

    // Two hundred sessions, logged in concurrently.
    let logins: Vec<_> = (0..SESSIONS)
        .map(|_| tokio::spawn(async move { client.demo_session().await.1 }))
        .collect();
    let mut tokens = Vec::new();
    for login in logins {
        tokens.push(login.await.unwrap());
    }

    let refreshes = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let end = started + Duration::from_secs(seconds);
    let give_up = end + Duration::from_secs(30);
    let workers: Vec<_> = tokens
        .into_iter()
        .map(|mut token| {
            let (refreshes, stop) = (Arc::clone(&refreshes), Arc::clone(&stop));
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let (status, next) = refresh(client, &token, give_up).await;
                    assert_eq!(status, StatusCode::OK, "a live session was refused");
                    token = next.expect("a rotated cookie");
                    refreshes.fetch_add(1, Ordering::Relaxed);
                }
                token
            })
        })
        .collect();

    // Half-way: SIGTERM (the scripts' way of stopping it), then the same database again.
    tokio::time::sleep(Duration::from_secs(seconds / 2)).await;
    let status = tokio::task::spawn_blocking(move || first.terminate())
        .await
        .unwrap();
    assert!(status.success());
    let restarted_at = Instant::now();
    let second = ServerProcess::spawn_on(port, &args);
    let downtime = restarted_at.elapsed();

    tokio::time::sleep(end.saturating_duration_since(Instant::now())).await;
    stop.store(true, Ordering::Relaxed);
    let mut final_tokens = Vec::new();
    for worker in workers {
        final_tokens.push(worker.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = refreshes.load(Ordering::Relaxed);

    // No session was lost: each one still rotates.
    let client = second.client();
    for token in &final_tokens {
        assert_eq!(
            refresh(client, token, Instant::now() + Duration::from_secs(10))
                .await
                .0,
            StatusCode::OK
        );
    }
    println!(
        "load: {SESSIONS} sessions, {total} refreshes in {elapsed:.1} s = {:.0} refreshes/s; restart took {} ms; 0 refused",
        total as f64 / elapsed,
        downtime.as_millis()
    );
    assert!(
        total > SESSIONS as u64 * 2,
        "the sessions kept rotating ({total})"
    );
}
