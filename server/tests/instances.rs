//! Several instances of the server on one PostgreSQL database, as behind a load balancer:
//! they agree on the schema, the signing secret and every family, and "two refreshes with the
//! same token, exactly one wins" holds across processes. Needs the cluster of
//! `scripts/with-postgres`; `scripts/test` runs these with `--ignored`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use axum::http::{Method, StatusCode};
use common::{Reply, ServerProcess, fresh_postgres_database, postgres_query, rotated, run_binary};

const REUSE: &str = "refresh token reuse detected; the session is revoked";

/// `n` test-mode instances on `db`, started at the same moment.
fn start_instances(db: &str, n: usize, extra: &[&str]) -> Vec<ServerProcess> {
    let mut args = vec!["--db", db, "--test-mode"];
    args.extend_from_slice(extra);
    std::thread::scope(|scope| {
        let starting: Vec<_> = (0..n)
            .map(|_| scope.spawn(|| ServerProcess::spawn(&args)))
            .collect();
        starting.into_iter().map(|s| s.join().unwrap()).collect()
    })
}

#[ignore = "needs PostgreSQL: scripts/with-postgres cargo test --test instances -- --ignored"]
#[tokio::test]
async fn instances_started_at_once_migrate_once_and_share_the_secret_and_the_demo_user() {
    let db = fresh_postgres_database().await;
    let instances = start_instances(&db, 3, &[]);
    let versions = postgres_query(&db, "SELECT version FROM authfetch_schema_migrations").await;
    assert_eq!(versions.len(), 1, "each migration applied once");
    let secrets = postgres_query(&db, "SELECT name FROM secrets").await;
    assert_eq!(secrets.len(), 1, "one generated secret, shared");
    // A token one instance issues verifies at every other.
    let (access, refresh) = instances[0].client().demo_session().await;
    for instance in &instances {
        assert_eq!(instance.client().me(&access).await.status, StatusCode::OK);
    }
    let refreshed = instances[2].client().refresh(&refresh).await;
    let access = refreshed.tokens().access_token;
    assert_eq!(
        instances[1].client().me(&access).await.status,
        StatusCode::OK
    );
}

#[ignore = "needs PostgreSQL: scripts/with-postgres cargo test --test instances -- --ignored"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_cookie_at_three_instances_at_once_has_exactly_one_winner_and_reuse_revokes_everywhere()
 {
    let db = fresh_postgres_database().await;
    let instances = start_instances(&db, 3, &[]);
    let clients: Vec<_> = instances.iter().map(ServerProcess::client).collect();
    let rounds = 25;
    for round in 0..rounds {
        let (_, shared) = clients[round % 3].demo_session().await;
        let replies: Vec<Reply> = {
            let tasks: Vec<_> = clients
                .iter()
                .map(|&client| {
                    let shared = shared.clone();
                    tokio::spawn(async move { client.refresh(&shared).await })
                })
                .collect();
            let mut replies = Vec::new();
            for task in tasks {
                replies.push(task.await.unwrap());
            }
            replies
        };
        let winners: Vec<&Reply> = replies
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: exactly one 200");
        for loser in replies.iter().filter(|r| r.status != StatusCode::OK) {
            assert_eq!(loser.error(), REUSE, "round {round}");
        }
        // The winner's new token is dead at every instance: the family is revoked.
        let next = winners[0].cookie_value("refresh_token").unwrap();
        for client in &clients {
            assert_eq!(client.refresh(&next).await.error(), "session revoked");
        }
    }
    let mut detections = 0;
    for client in &clients {
        detections += client.stats().await.reuse_detections;
    }
    assert_eq!(detections, 2 * rounds as u64);
    let recorded = postgres_query(&db, "SELECT COUNT(*) FROM reuse_detections").await;
    assert_eq!(recorded[0].get::<_, i64>(0), 2 * rounds as i64);
}

#[ignore = "needs PostgreSQL: scripts/with-postgres cargo test --test instances -- --ignored"]
#[tokio::test]
async fn logout_through_one_instance_ends_the_session_at_the_others() {
    let db = fresh_postgres_database().await;
    let instances = start_instances(&db, 3, &[]);
    let (a, b, c) = (
        instances[0].client(),
        instances[1].client(),
        instances[2].client(),
    );
    let (_, first) = a.demo_session().await;
    let second = rotated(&b.refresh(&first).await);
    let cookie = format!("refresh_token={second}");
    let out = c
        .send(Method::POST, "/auth/logout", &[("cookie", &cookie)], "")
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(a.refresh(&second).await.error(), "session revoked");
    assert_eq!(b.refresh(&second).await.error(), "session revoked");
}

#[ignore = "needs PostgreSQL: scripts/with-postgres cargo test --test instances -- --ignored"]
#[tokio::test]
async fn an_instance_with_another_secret_or_none_is_refused_while_one_is_recorded() {
    let db = fresh_postgres_database().await;
    let one = "a-signing-secret-of-at-least-32-bytes-1";
    let two = "a-signing-secret-of-at-least-32-bytes-2";
    let first = ServerProcess::spawn(&["--db", &db, "--test-mode", "--jwt-secret", one]);
    let (access, _) = first.client().demo_session().await;

    let (started, stderr) = run_binary(&["--port", "0", "--db", &db, "--jwt-secret", two]);
    assert!(!started);
    assert!(
        stderr.contains("--jwt-secret differs from the one recorded in this database"),
        "{stderr}"
    );
    let (started, stderr) = run_binary(&["--port", "0", "--db", &db]);
    assert!(!started);
    assert!(
        stderr.contains("start this one with the same --jwt-secret"),
        "{stderr}"
    );
    let same = ServerProcess::spawn(&["--db", &db, "--test-mode", "--jwt-secret", one]);
    assert_eq!(same.client().me(&access).await.status, StatusCode::OK);
    // A deliberate change: the new secret is recorded, tokens signed with the old one stop
    // verifying where it is used, and the old secret is refused from now on.
    let replaced = ServerProcess::spawn(&[
        "--db",
        &db,
        "--test-mode",
        "--jwt-secret",
        two,
        "--replace-jwt-secret",
    ]);
    assert_eq!(
        replaced.client().me(&access).await.status,
        StatusCode::UNAUTHORIZED
    );
    let (started, _) = run_binary(&["--port", "0", "--db", &db, "--jwt-secret", one]);
    assert!(!started);
}

/// Logs in at `survivor`, then has `doomed` rotate the session's token and exit before it
/// answers. Returns the token the browser still holds.
async fn lose_a_refresh_answer(doomed: ServerProcess, survivor: &ServerProcess) -> String {
    let (_, held) = survivor.client().demo_session().await;
    let fault = r#"{"kind":"exit_after_rotation"}"#;
    doomed
        .client()
        .post_json("/auth/test/refresh-fault", &[], fault)
        .await;
    let cookie = format!("refresh_token={held}");
    let lost = doomed
        .client()
        .try_send(Method::POST, "/auth/refresh", &[("cookie", &cookie)], "")
        .await;
    assert!(lost.is_err(), "no answer came: {lost:?}");
    let status = tokio::task::spawn_blocking(move || doomed.wait())
        .await
        .unwrap();
    assert_eq!(
        status.code(),
        Some(75),
        "the instance died after the commit"
    );
    held
}

#[ignore = "needs PostgreSQL: scripts/with-postgres cargo test --test instances -- --ignored"]
#[tokio::test]
async fn with_the_window_on_an_instance_dying_after_the_commit_costs_no_session() {
    let db = fresh_postgres_database().await;
    let mut instances = start_instances(&db, 2, &["--refresh-retry-window", "30"]);
    let survivor = instances.pop().unwrap();
    let held = lose_a_refresh_answer(instances.pop().unwrap(), &survivor).await;
    let client = survivor.client();
    // The browser presents its old cookie to the other instance, within the window.
    let again = rotated(&client.refresh(&held).await);
    let next = rotated(&client.refresh(&again).await);
    let stats = client.stats().await;
    assert_eq!((stats.refresh_retried, stats.reuse_detections), (1, 0));
    // The same replay once the successor was used is a reuse, as always.
    assert_eq!(client.refresh(&held).await.error(), REUSE);
    assert_eq!(client.refresh(&next).await.error(), "session revoked");
}

#[ignore = "needs PostgreSQL: scripts/with-postgres cargo test --test instances -- --ignored"]
#[tokio::test]
async fn after_the_window_or_without_one_the_replay_of_a_lost_answer_revokes() {
    for (window, wait_ms) in [("1", 1_300), ("0", 0)] {
        let db = fresh_postgres_database().await;
        let mut instances = start_instances(&db, 2, &["--refresh-retry-window", window]);
        let survivor = instances.pop().unwrap();
        let held = lose_a_refresh_answer(instances.pop().unwrap(), &survivor).await;
        tokio::time::sleep(std::time::Duration::from_millis(wait_ms)).await;
        assert_eq!(
            survivor.client().refresh(&held).await.error(),
            REUSE,
            "window {window}"
        );
    }
}
