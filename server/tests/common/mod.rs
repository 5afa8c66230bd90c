//! Starts real servers on 127.0.0.1 and speaks HTTP/1.1 to them.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use authfetch_server::{Config, Server, Snapshot, TokenResponse};
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// A server running in this process, stopped when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestServer {
    /// A test-mode server on a free port with an empty database, plus `extra` flags: an
    /// in-memory SQLite one, or under `scripts/with-postgres` with `AUTHFETCH_TEST_STORE=postgres`
    /// a new PostgreSQL database, so the same tests prove both stores.
    pub async fn start(extra: &[&str]) -> Self {
        let db = match std::env::var("AUTHFETCH_TEST_STORE").as_deref() {
            Ok("postgres") => fresh_postgres_database().await,
            Ok("sqlite") | Err(_) => ":memory:".to_owned(),
            Ok(other) => panic!("AUTHFETCH_TEST_STORE={other}: expected sqlite or postgres"),
        };
        let mut args = vec![
            "authfetch-server",
            "--port",
            "0",
            "--db",
            &db,
            "--test-mode",
        ];
        args.extend_from_slice(extra);
        Self::start_with(&args).await
    }

    /// A server started with exactly `args` (argv[0] included).
    pub async fn start_with(args: &[&str]) -> Self {
        let config = Config::try_parse_from(args).expect("flags parse");
        let server = Server::bind(&config).await.expect("server starts");
        let addr = server.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
        }
    }

    pub fn client(&self) -> Client {
        Client {
            addr: self.addr,
            server_errors_expected: false,
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The compiled `authfetch-server` binary as a child process, killed when dropped.
pub struct ServerProcess {
    pub addr: SocketAddr,
    child: Child,
}

impl ServerProcess {
    pub fn spawn(args: &[&str]) -> Self {
        Self::spawn_on(0, args)
    }

    /// The binary on `port` (0: a free one).
    pub fn spawn_on(port: u16, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_authfetch-server"))
            .args(["--port", &port.to_string()])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("binary starts");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("authfetch-server listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .parse()
            .unwrap();
        Self { addr, child }
    }

    pub fn client(&self) -> Client {
        Client {
            addr: self.addr,
            server_errors_expected: false,
        }
    }

    /// Kills the process at once (no graceful shutdown), as a crash would.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl ServerProcess {
    /// Sends SIGTERM, as the scripts do, and waits for the exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        self.child.wait().unwrap()
    }
}

impl ServerProcess {
    /// Waits for the process to end on its own.
    pub fn wait(mut self) -> std::process::ExitStatus {
        self.child.wait().unwrap()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the binary with `args` to completion and returns (exit success, stderr).
pub fn run_binary(args: &[&str]) -> (bool, String) {
    run_binary_in(Path::new("."), args)
}

/// Like `run_binary`, in the working directory `dir`.
pub fn run_binary_in(dir: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_authfetch-server"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The `{ "error": … }` message, asserting the body has exactly that shape.
    pub fn error(&self) -> String {
        let json = self.json();
        let object = json.as_object().expect("error body is an object");
        assert_eq!(object.len(), 1, "error body has only `error`: {json}");
        object["error"]
            .as_str()
            .expect("`error` is a string")
            .to_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Every `Set-Cookie` for cookie `name`, in full.
    pub fn set_cookies(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .filter(|v| v.starts_with(&format!("{name}=")))
            .collect()
    }

    /// The value `Set-Cookie` gives cookie `name`, if exactly one sets it.
    pub fn cookie_value(&self, name: &str) -> Option<String> {
        match self.set_cookies(name).as_slice() {
            [one] => Some(
                one.split(';')
                    .next()
                    .unwrap()
                    .split_once('=')
                    .unwrap()
                    .1
                    .to_owned(),
            ),
            [] => None,
            many => panic!("several Set-Cookie for {name}: {many:?}"),
        }
    }

    pub fn tokens(&self) -> TokenResponse {
        serde_json::from_slice(&self.body).expect("a token response")
    }
}

/// One HTTP/1.1 connection per request, so requests can run concurrently. Every reply is
/// checked to be below 500 unless the test injects server errors on purpose.
#[derive(Clone, Copy)]
pub struct Client {
    pub addr: SocketAddr,
    pub server_errors_expected: bool,
}

impl Client {
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        let reply = self.try_send(method, path, headers, body).await.unwrap();
        assert!(
            self.server_errors_expected || reply.status.as_u16() < 500,
            "server error {}: {:?}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
        reply
    }

    /// Like `send`, but a connection that fails (a server restarting) is an `Err`, not a panic.
    pub async fn try_send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Result<Reply, Box<dyn std::error::Error + Send + Sync>> {
        let mut request = Request::builder().method(method).uri(path);
        // A test may address the server by another name (as a reverse proxy would).
        if !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("host"))
        {
            request = request.header("host", self.addr.to_string());
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(body.into()))?;
        let stream = tokio::net::TcpStream::connect(self.addr).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let response = sender.send_request(request).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(Method::GET, path, headers, Bytes::new()).await
    }

    pub async fn post_json(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        self.send(Method::POST, path, &all, body.to_owned()).await
    }

    pub async fn login(&self, username: &str, password: &str) -> Reply {
        let body = serde_json::json!({ "username": username, "password": password }).to_string();
        self.post_json("/auth/login", &[], &body).await
    }

    /// Logs the demo user in and returns (access token, refresh token).
    pub async fn demo_session(&self) -> (String, String) {
        let reply = self.login("demo", "demo").await;
        assert_eq!(reply.status, StatusCode::OK, "login: {:?}", reply.body);
        (
            reply.tokens().access_token,
            reply.cookie_value("refresh_token").expect("refresh cookie"),
        )
    }

    pub async fn refresh(&self, refresh_token: &str) -> Reply {
        let cookie = format!("refresh_token={refresh_token}");
        self.send(
            Method::POST,
            "/auth/refresh",
            &[("cookie", &cookie)],
            Bytes::new(),
        )
        .await
    }

    pub async fn me(&self, access_token: &str) -> Reply {
        let bearer = format!("Bearer {access_token}");
        self.get("/api/me", &[("authorization", &bearer)]).await
    }

    pub async fn stats(&self) -> Snapshot {
        let reply = self.get("/auth/stats", &[]).await;
        assert_eq!(reply.status, StatusCode::OK);
        serde_json::from_slice(&reply.body).unwrap()
    }
}

/// The new refresh cookie of `reply`, asserting it is a 200.
pub fn rotated(reply: &Reply) -> String {
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.cookie_value("refresh_token").unwrap()
}

/// Asserts `reply` is a 401 from `/api/*` with the RFC 6750 challenge and `message`.
pub fn assert_invalid_token(reply: &Reply, message: &str) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{:?}", reply.body);
    assert_eq!(
        reply.header("www-authenticate"),
        Some(r#"Bearer error="invalid_token""#)
    );
    assert_eq!(reply.error(), message);
}

/// The URL of a new, empty database in the cluster `scripts/with-postgres` started.
pub async fn fresh_postgres_database() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = std::env::var("AUTHFETCH_TEST_POSTGRES")
        .expect("AUTHFETCH_TEST_POSTGRES: run under scripts/with-postgres");
    let name = format!(
        "test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .expect("the test cluster answers");
    let connection = tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    drop(client);
    let _ = connection.await;
    let (server, _) = base.rsplit_once('/').unwrap();
    format!("{server}/{name}")
}

/// Runs the cluster's pg_ctl with `args` (`stop -m fast`, `start`): the database goes away or
/// comes back for every instance using it.
pub fn postgres_ctl(args: &[&str]) {
    let ctl = std::env::var("AUTHFETCH_TEST_POSTGRES_CTL")
        .expect("AUTHFETCH_TEST_POSTGRES_CTL: run under scripts/with-postgres");
    let status = Command::new(ctl)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "pg_ctl {args:?}: {status}");
}

/// Runs one SQL query on `url` and returns its rows.
pub async fn postgres_query(url: &str, sql: &str) -> Vec<tokio_postgres::Row> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client.query(sql, &[]).await.unwrap()
}

/// A fresh directory that is removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}
