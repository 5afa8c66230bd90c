//! Command-line flags and environment variables.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;

/// Everything the server can be told at start. Every flag also reads an `AUTHFETCH_*`
/// environment variable, so the demo and the tests configure it the same way.
#[derive(Debug, Clone, Parser)]
#[command(name = "authfetch-server", version, about)]
pub struct Config {
    /// Address to listen on. Loopback by default: the server is a demo and a test peer.
    #[arg(long, env = "AUTHFETCH_BIND", default_value = "127.0.0.1")]
    pub bind: IpAddr,

    /// Port to listen on; 0 picks a free one (the chosen address is printed on start).
    #[arg(long, env = "AUTHFETCH_PORT", default_value_t = 8080)]
    pub port: u16,

    /// Where state lives: a SQLite file (one instance), `:memory:` for a database that lives as
    /// long as the process, or a PostgreSQL URL, `postgres://user:password@host:port/database`,
    /// that several instances share. Its schema is created and migrated at start.
    #[arg(
        long,
        env = "AUTHFETCH_DB",
        default_value = "authfetch.sqlite3",
        hide_env_values = true
    )]
    pub db: String,

    /// Most connections this instance keeps open to PostgreSQL; requests beyond that wait for
    /// one (5 s at most, then 503).
    #[arg(long, env = "AUTHFETCH_DB_POOL_SIZE", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub db_pool_size: u16,

    /// Seconds after a refresh token's rotation during which that same token, presented again
    /// while its successor was never used, rotates again instead of counting as reuse: for a
    /// refresh whose answer was lost (an instance died, the network dropped it). A thief holding
    /// the old token gets the same window. 0, the default, keeps reuse detection strict.
    #[arg(long, env = "AUTHFETCH_REFRESH_RETRY_WINDOW", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=300))]
    pub refresh_retry_window: u64,

    /// Seconds between housekeeping passes, which delete the families that are over (their
    /// newest token expired, or revoked longer ago than `--revoked-retention`) with their
    /// tokens; 0 turns them off.
    #[arg(long, env = "AUTHFETCH_HOUSEKEEPING_INTERVAL", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(0..=7 * 86_400))]
    pub housekeeping_interval: u64,

    /// Seconds a revoked family is kept (so its tokens are still answered "session revoked")
    /// before housekeeping deletes it.
    #[arg(long, env = "AUTHFETCH_REVOKED_RETENTION", default_value_t = 86_400,
          value_parser = clap::value_parser!(u64).range(0..=366 * 86_400))]
    pub revoked_retention: u64,

    /// Most families housekeeping deletes in one transaction.
    #[arg(long, env = "AUTHFETCH_HOUSEKEEPING_BATCH", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub housekeeping_batch: u32,

    /// Lifetime of an access token, in seconds.
    #[arg(long, env = "AUTHFETCH_ACCESS_TTL", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub access_ttl: u64,

    /// Lifetime of each refresh token, in seconds; every rotation starts a new one.
    #[arg(long, env = "AUTHFETCH_REFRESH_TTL", default_value_t = 14 * 86_400,
          value_parser = clap::value_parser!(u64).range(1..=366 * 86_400))]
    pub refresh_ttl: u64,

    /// HS256 secret for access tokens (at least 32 bytes). When absent, one is generated on
    /// first start and kept in the database, so a restart does not invalidate tokens.
    #[arg(long, env = "AUTHFETCH_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Make this start's `--jwt-secret` the one recorded in the database, replacing another
    /// (every instance must then be given it). Without this flag a start with a secret other than
    /// the recorded one is refused, so instances cannot sign with different secrets.
    /// A flag only, with no environment variable, so it cannot stay set by accident.
    #[arg(long, requires = "jwt_secret")]
    pub replace_jwt_secret: bool,

    /// Origins allowed to call with credentials (CORS), e.g. `http://localhost:5173`.
    /// Repeat the flag, or separate with commas in the environment variable.
    #[arg(
        long = "cors-origin",
        env = "AUTHFETCH_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,

    /// Username of the seeded demo user; an empty string seeds no one.
    #[arg(long, env = "AUTHFETCH_DEMO_USER", default_value = "demo")]
    pub demo_user: String,

    /// Password of the seeded demo user.
    #[arg(
        long,
        env = "AUTHFETCH_DEMO_PASSWORD",
        default_value = "demo",
        hide_env_values = true
    )]
    pub demo_password: String,

    /// Require the CSRF double-submit on refresh and logout: a readable `csrf_refresh_token`
    /// cookie mirrored in an `X-CSRF-TOKEN` header.
    #[arg(long, env = "AUTHFETCH_CSRF")]
    pub csrf: bool,

    /// Leave `Secure` off the refresh and CSRF cookies of requests from a page on this machine
    /// over plain http (addressed to `127.0.0.1`, `localhost` or `[::1]`, from an `http://`
    /// Origin on one of those, with no proxy headers), for development in WebKit (Safari),
    /// which drops `Secure` cookies there although the page is a secure context. Accepted only
    /// with a loopback `--bind`; every other request still gets `Secure`.
    #[arg(long, env = "AUTHFETCH_LOOPBACK_HTTP_COOKIES")]
    pub loopback_http_cookies: bool,

    /// Enable `GET /auth/stats` and the `/auth/test/*` controls. Never in production.
    #[arg(long, env = "AUTHFETCH_TEST_MODE")]
    pub test_mode: bool,

    /// Enable the demo page's routes: `POST /auth/demo/steal` (simulates a stolen refresh token)
    /// and `GET /demo/headers` (reports whether an `Authorization` header arrived).
    #[arg(long, env = "AUTHFETCH_DEMO")]
    pub demo: bool,

    /// Directory served at `/` (the demo page).
    #[arg(long, env = "AUTHFETCH_WWW_DIR")]
    pub www_dir: Option<PathBuf>,

    /// Directory served at `/pkg/` (the built npm package).
    #[arg(long, env = "AUTHFETCH_PKG_DIR")]
    pub pkg_dir: Option<PathBuf>,

    /// Seconds browsers may reuse static files without asking again (`Cache-Control:
    /// max-age`), as a deployment with content-hashed assets allows. 0, the default, has them
    /// revalidate every time, so an edited demo page shows at once.
    #[arg(long, env = "AUTHFETCH_STATIC_MAX_AGE", default_value_t = 0)]
    pub static_max_age: u32,
}
