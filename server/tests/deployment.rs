//! The server as deployed: the real binary, a database file across restarts, CORS for a
//! separate SPA origin, static files, flags and their errors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use axum::http::{Method, StatusCode};
use common::{ServerProcess, TestServer, path_str, run_binary, temp_dir};

const SPA: &str = "http://localhost:5173";

fn preflight(origin: &str) -> [(&str, &str); 3] {
    [
        ("origin", origin),
        ("access-control-request-method", "POST"),
        (
            "access-control-request-headers",
            "authorization,content-type,x-csrf-token",
        ),
    ]
}

#[tokio::test]
async fn cors_preflight_allows_configured_origins_with_credentials() {
    let server = TestServer::start(&[
        "--cors-origin",
        "http://localhost:5173/",
        "--cors-origin",
        "https://app.example",
    ])
    .await;
    let client = server.client();
    for origin in [SPA, "https://app.example"] {
        let reply = client
            .send(Method::OPTIONS, "/auth/refresh", &preflight(origin), "")
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{origin}");
        assert_eq!(reply.header("access-control-allow-origin"), Some(origin));
        assert_eq!(
            reply.header("access-control-allow-credentials"),
            Some("true")
        );
        let headers = reply
            .header("access-control-allow-headers")
            .unwrap()
            .to_ascii_lowercase();
        for needed in ["authorization", "content-type", "x-csrf-token"] {
            assert!(headers.contains(needed), "{needed} missing from {headers}");
        }
        assert!(
            reply
                .header("access-control-allow-methods")
                .unwrap()
                .contains("POST")
        );
    }
    // The actual credentialed call from the SPA carries the same grant, and exposes the
    // challenge header so a client can read it.
    let (access, _) = client.demo_session().await;
    let bearer = format!("Bearer {access}");
    let reply = client
        .get("/api/me", &[("origin", SPA), ("authorization", &bearer)])
        .await;
    assert_eq!(reply.header("access-control-allow-origin"), Some(SPA));
    assert_eq!(
        reply.header("access-control-allow-credentials"),
        Some("true")
    );
    let refused = client.get("/api/me", &[("origin", SPA)]).await;
    assert!(
        refused
            .header("access-control-expose-headers")
            .unwrap()
            .to_ascii_lowercase()
            .contains("www-authenticate")
    );
}

#[tokio::test]
async fn cors_grants_nothing_to_other_origins() {
    let server = TestServer::start(&["--cors-origin", SPA]).await;
    let client = server.client();
    for origin in [
        "http://evil.example",
        "http://localhost:5174",
        "https://localhost:5173",
        "null",
        "http://localhost:5173.evil.example",
    ] {
        let reply = client
            .send(Method::OPTIONS, "/auth/refresh", &preflight(origin), "")
            .await;
        // Without Access-Control-Allow-Origin the browser refuses the response, credentials or not.
        assert_eq!(
            reply.header("access-control-allow-origin"),
            None,
            "{origin}"
        );
        let call = client
            .post_json(
                "/auth/login",
                &[("origin", origin)],
                r#"{"username":"demo","password":"demo"}"#,
            )
            .await;
        assert_eq!(call.header("access-control-allow-origin"), None, "{origin}");
    }
}

#[tokio::test]
async fn invalid_cors_origins_and_short_secrets_stop_the_server_with_a_clear_message() {
    for (flags, message) in [
        (
            &["--cors-origin", "localhost:5173"][..],
            "must start with http:// or https://",
        ),
        (
            &["--cors-origin", "http://localhost:5173/app"][..],
            "must be scheme://host[:port] with no path",
        ),
        (
            &["--jwt-secret", "short"][..],
            "--jwt-secret must be at least 32 bytes",
        ),
        (
            &["--www-dir", "/definitely/not/here"][..],
            "--www-dir /definitely/not/here is not a directory",
        ),
        (&["--access-ttl", "0"][..], "--access-ttl"),
    ] {
        let mut args = vec!["--db", ":memory:", "--port", "0"];
        args.extend_from_slice(flags);
        let (ok, stderr) = run_binary(&args);
        assert!(!ok, "{flags:?} should fail");
        assert!(stderr.contains(message), "{flags:?}: {stderr}");
    }
}

#[tokio::test]
async fn a_restart_keeps_sessions_and_access_tokens_valid() {
    let dir = temp_dir();
    let db = dir.path().join("auth.sqlite3");
    let first = ServerProcess::spawn(&["--db", path_str(&db)]);
    let (access, refresh) = first.client().demo_session().await;
    // Killed, not stopped: what was committed must survive a crash too.
    first.kill();

    let second = ServerProcess::spawn(&["--db", path_str(&db)]);
    let client = second.client();
    // The generated signing secret was kept, so the old access token still verifies...
    assert_eq!(client.me(&access).await.status, StatusCode::OK);
    // ...and the refresh cookie still rotates.
    let reply = client.refresh(&refresh).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(
        client.me(&reply.tokens().access_token).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_in_memory_database_forgets_everything_on_restart() {
    let first = ServerProcess::spawn(&["--db", ":memory:"]);
    let (access, refresh) = first.client().demo_session().await;
    first.kill();
    let second = ServerProcess::spawn(&["--db", ":memory:"]);
    // A new secret and an empty database: the claim above is not vacuous.
    assert_eq!(
        second.client().me(&access).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        second.client().refresh(&refresh).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let server = ServerProcess::spawn(&["--db", ":memory:"]);
    let status = server.terminate();
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn test_mode_routes_do_not_exist_without_the_flag() {
    let server =
        TestServer::start_with(&["authfetch-server", "--port", "0", "--db", ":memory:"]).await;
    let client = server.client();
    assert_eq!(
        client.get("/auth/stats", &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        client
            .post_json("/auth/test/revoke-all", &[], "")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        client.post_json("/auth/test/reset", &[], "").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_demo_user_comes_from_flags_and_a_changed_password_replaces_the_old_one() {
    let dir = temp_dir();
    let db = dir.path().join("auth.sqlite3");
    let first = ServerProcess::spawn(&[
        "--db",
        path_str(&db),
        "--demo-user",
        "ada",
        "--demo-password",
        "first",
    ]);
    assert_eq!(
        first.client().login("ada", "first").await.status,
        StatusCode::OK
    );
    assert_eq!(
        first.client().login("demo", "demo").await.status,
        StatusCode::UNAUTHORIZED
    );
    first.kill();
    let second = ServerProcess::spawn(&[
        "--db",
        path_str(&db),
        "--demo-user",
        "ada",
        "--demo-password",
        "second",
    ]);
    assert_eq!(
        second.client().login("ada", "first").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        second.client().login("ada", "second").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn static_roots_serve_the_page_and_the_package_with_the_wasm_mime_type() {
    let www = temp_dir();
    let pkg = temp_dir();
    std::fs::write(
        www.path().join("index.html"),
        "<!doctype html><title>demo</title>",
    )
    .unwrap();
    std::fs::write(pkg.path().join("authfetch_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(pkg.path().join("authfetch.js"), "export default 1;").unwrap();
    let server = TestServer::start(&[
        "--www-dir",
        path_str(www.path()),
        "--pkg-dir",
        path_str(pkg.path()),
    ])
    .await;
    let client = server.client();

    let page = client.get("/", &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(page.body, "<!doctype html><title>demo</title>".as_bytes());
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    let wasm = client.get("/pkg/authfetch_bg.wasm", &[]).await;
    assert_eq!(wasm.header("content-type"), Some("application/wasm"));
    assert_eq!(wasm.body, b"\0asm\x01\0\0\0".as_slice());
    let js = client.get("/pkg/authfetch.js", &[]).await;
    assert!(js.header("content-type").unwrap().contains("javascript"));
    // Missing files are JSON 404s; the API routes still win over the static root.
    let missing = client.get("/missing.css", &[]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error(), "not found");
    assert_eq!(
        client.get("/api/me", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        client.get("/pkg/../../etc/passwd", &[]).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn static_max_age_lets_browsers_reuse_static_files() {
    let pkg = temp_dir();
    std::fs::write(pkg.path().join("authfetch.js"), "export default 1;").unwrap();
    let server = TestServer::start(&[
        "--pkg-dir",
        path_str(pkg.path()),
        "--static-max-age",
        "3600",
    ])
    .await;
    let client = server.client();
    let js = client.get("/pkg/authfetch.js", &[]).await;
    assert_eq!(js.header("cache-control"), Some("public, max-age=3600"));
    let missing = client.get("/pkg/missing.js", &[]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.header("cache-control"),
        None,
        "errors are not cached"
    );
}

#[tokio::test]
async fn loopback_http_cookies_drop_secure_for_loopback_hosts_only() {
    let plain = TestServer::start(&[]).await;
    let login = plain.client().login("demo", "demo").await;
    for cookie in login.set_cookies("refresh_token") {
        assert!(cookie.contains("; Secure"), "Secure by default: {cookie}");
    }

    let server = TestServer::start(&["--loopback-http-cookies", "--csrf"]).await;
    let client = server.client();
    let body = r#"{"username":"demo","password":"demo"}"#;
    let secure = |reply: &common::Reply, name: &str| {
        let cookies = reply.set_cookies(name);
        assert_eq!(cookies.len(), 1, "{name}: {cookies:?}");
        assert!(cookies[0].contains("SameSite=Strict"), "{}", cookies[0]);
        cookies[0].contains("; Secure")
    };
    let page = ("origin", "http://localhost:5173");
    for host in ["127.0.0.1:8080", "localhost", "[::1]:3000"] {
        let reply = client
            .post_json("/auth/login", &[("host", host), page], body)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{host}");
        assert!(!secure(&reply, "refresh_token"), "{host}");
        assert!(!secure(&reply, "csrf_refresh_token"), "{host}");
    }
    // Refresh and logout, and a refused refresh's clearing cookie, decide the same way.
    let login = client.post_json("/auth/login", &[page], body).await;
    let (refresh, csrf) = (
        login.cookie_value("refresh_token").unwrap(),
        login.cookie_value("csrf_refresh_token").unwrap(),
    );
    let cookie = format!("refresh_token={refresh}; csrf_refresh_token={csrf}");
    let headers = [
        page,
        ("cookie", cookie.as_str()),
        ("x-csrf-token", csrf.as_str()),
    ];
    let rotated = client.post_json("/auth/refresh", &headers, "").await;
    assert_eq!(rotated.status, StatusCode::OK);
    assert!(!secure(&rotated, "refresh_token"));
    let refused = client.post_json("/auth/refresh", &headers, "").await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "the spent token is reuse"
    );
    assert!(!secure(&refused, "refresh_token"));

    // Everything else keeps Secure: a public name (a proxy keeping Host), a proxy that rewrote
    // Host to this loopback address (its page's Origin, or its own headers, give it away), a
    // page served over https, and a request without Origin.
    for headers in [
        vec![("host", "app.example.com"), page],
        vec![("origin", "https://app.example.com")],
        vec![page, ("x-forwarded-for", "203.0.113.7")],
        vec![page, ("forwarded", "for=203.0.113.7")],
        vec![page, ("via", "1.1 proxy")],
        vec![("origin", "https://localhost:5173")],
        vec![],
    ] {
        let reply = client.post_json("/auth/login", &headers, body).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{headers:?}: {:?}",
            reply.body
        );
        assert!(
            secure(&reply, "refresh_token"),
            "{headers:?}: {:?}",
            reply.set_cookies("refresh_token")
        );
    }
}

#[test]
fn loopback_http_cookies_are_refused_on_a_non_loopback_bind() {
    let (ok, stderr) = run_binary(&[
        "--bind",
        "0.0.0.0",
        "--port",
        "0",
        "--db",
        ":memory:",
        "--loopback-http-cookies",
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("--loopback-http-cookies is for development on this machine only"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_database_from_before_schema_versions_is_migrated_and_keeps_its_sessions() {
    use sha2::Digest;
    let dir = temp_dir();
    let db = dir.path().join("old.sqlite3");
    // The schema and rows as the server wrote them before migrations were versioned.
    let live = "a".repeat(43);
    let used = "b".repeat(43);
    let hash = |token: &str| sha2::Sha256::digest(token.as_bytes()).to_vec();
    {
        let old = rusqlite::Connection::open(&db).unwrap();
        old.execute_batch(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL);
             CREATE TABLE families (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),
                 created_at_ms INTEGER NOT NULL, revoked_at_ms INTEGER, revoked_reason TEXT);
             CREATE TABLE refresh_tokens (hash BLOB PRIMARY KEY, family_id INTEGER NOT NULL REFERENCES families(id),
                 issued_at_ms INTEGER NOT NULL, expires_at_ms INTEGER NOT NULL, used_at_ms INTEGER);
             CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
             CREATE TABLE reuse_detections (id INTEGER PRIMARY KEY, family_id INTEGER NOT NULL REFERENCES families(id),
                 detected_at_ms INTEGER NOT NULL);
             CREATE TABLE secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);
             INSERT INTO users VALUES (1, 'demo', 'not a hash of demo');
             INSERT INTO families VALUES (1, 1, 0, NULL, NULL), (2, 1, 0, NULL, NULL);
             ",
        )
        .unwrap();
        let far = i64::MAX / 2;
        old.execute(
            "INSERT INTO refresh_tokens VALUES (?1, 1, 0, ?3, NULL), (?2, 2, 0, ?3, 1)",
            rusqlite::params![hash(&live), hash(&used), far],
        )
        .unwrap();
    }
    let server = ServerProcess::spawn(&["--db", path_str(&db)]);
    let client = server.client();
    let reply = client.refresh(&live).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(
        client.refresh(&used).await.error(),
        "refresh token reuse detected; the session is revoked"
    );
    // The demo user kept its id and got its password back.
    assert_eq!(client.login("demo", "demo").await.status, StatusCode::OK);
    server.kill();
    let migrated = rusqlite::Connection::open(&db).unwrap();
    let version: i64 = migrated
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 2);
}

#[tokio::test]
async fn a_database_from_a_newer_server_is_refused() {
    let dir = temp_dir();
    let db = dir.path().join("newer.sqlite3");
    rusqlite::Connection::open(&db)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let (ok, stderr) = run_binary(&["--port", "0", "--db", path_str(&db)]);
    assert!(!ok);
    assert!(
        stderr.contains("the schema is at version 99, newer than this server's"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_configured_secret_replaces_a_generated_one_only_when_asked() {
    let dir = temp_dir();
    let db = dir.path().join("auth.sqlite3");
    let secret = "a-signing-secret-of-at-least-32-bytes!";
    let first = ServerProcess::spawn(&["--db", path_str(&db)]);
    let (access, refresh) = first.client().demo_session().await;
    first.kill();

    let (ok, stderr) = run_binary(&["--port", "0", "--db", path_str(&db), "--jwt-secret", secret]);
    assert!(!ok);
    assert!(
        stderr.contains("pass --replace-jwt-secret once"),
        "{stderr}"
    );
    let second = ServerProcess::spawn(&[
        "--db",
        path_str(&db),
        "--jwt-secret",
        secret,
        "--replace-jwt-secret",
    ]);
    let client = second.client();
    // Access tokens signed with the generated secret stop verifying; the session does not end.
    assert_eq!(client.me(&access).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(client.refresh(&refresh).await.status, StatusCode::OK);
    second.kill();
    let (ok, stderr) = run_binary(&["--port", "0", "--db", path_str(&db)]);
    assert!(!ok);
    assert!(
        stderr.contains("start this one with the same --jwt-secret"),
        "{stderr}"
    );
}

#[test]
fn a_database_url_never_reaches_a_message_with_its_password_nor_becomes_a_file() {
    let dir = temp_dir();
    for (db, message) in [
        (
            "Postgres://someone:hunter2@127.0.0.1:1/nowhere",
            "postgres://someone@127.0.0.1:1/nowhere",
        ),
        (
            "mysql://someone:hunter2@127.0.0.1/nowhere",
            "--db is a URL, but not a postgres:// or postgresql:// one",
        ),
        (
            "host=127.0.0.1 user=someone password=hunter2",
            "--db looks like a libpq key=value connection string",
        ),
        (
            "hostaddr=10.0.0.5 port=5432 password=hunter2",
            "--db looks like a libpq key=value connection string",
        ),
        (
            "postgres:/someone:hunter2@127.0.0.1/nowhere",
            "--db starts like a PostgreSQL URL but is not one",
        ),
    ] {
        let (ok, stderr) = common::run_binary_in(dir.path(), &["--port", "0", "--db", db]);
        assert!(!ok, "{db}");
        assert!(stderr.contains(message), "{db}: {stderr}");
        assert!(!stderr.contains("hunter2"), "{db}: {stderr}");
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no SQLite file was made of a URL"
    );
}

#[tokio::test]
async fn sqlite_paths_that_resemble_nothing_else_and_sqlite_uris_still_open() {
    let dir = temp_dir();
    let odd = dir.path().join("user=bob");
    std::fs::create_dir(&odd).unwrap();
    let path = odd.join("auth.sqlite3");
    let uri = format!("file:{}", dir.path().join("uri.sqlite3").display());
    for db in [path_str(&path), uri.as_str()] {
        let server = ServerProcess::spawn(&["--db", db]);
        assert_eq!(
            server.client().login("demo", "demo").await.status,
            StatusCode::OK,
            "{db}"
        );
    }
    assert!(path.exists() && dir.path().join("uri.sqlite3").exists());
}
