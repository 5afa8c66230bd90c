//! The reference auth server for authfetch.
//!
//! It implements the server side of the authfetch contract with RFC 9700 refresh-token
//! rotation: `POST /auth/login` starts a session (an access JWT in the body, an opaque refresh
//! token in an httpOnly cookie), `POST /auth/refresh` rotates the refresh token inside its
//! family and revokes the family when a used token comes back, `POST /auth/logout` revokes
//! the family. `/api/*` is a small protected API for the demo, the tests and the benchmarks.

mod api;
mod auth;
mod body;
pub mod config;
mod cookies;
mod demo;
mod error;
mod housekeeping;
mod now;
mod passwords;
pub mod stats;
mod store;
mod testing;
mod tokens;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use tokio::net::TcpListener;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;

pub use auth::TokenResponse;
pub use config::Config;
pub use error::ApiError;
pub use stats::Snapshot;

/// What every handler shares.
#[derive(Clone)]
struct AppState {
    store: store::Store,
    access: Arc<tokens::AccessTokens>,
    refresh_ttl_seconds: u64,
    /// `--refresh-retry-window` in milliseconds; 0 is strict reuse detection.
    refresh_retry_window_ms: i64,
    housekeeping: housekeeping::Settings,
    csrf: Arc<AtomicBool>,
    /// `--loopback-http-cookies`: no `Secure` on cookies for loopback hosts.
    loopback_http_cookies: bool,
    stats: Arc<stats::Stats>,
    /// Present only with `--test-mode`.
    testing: Option<Arc<testing::Controls>>,
    dummy_password_hash: Arc<str>,
}

/// Why the server could not start.
#[derive(Debug)]
pub enum StartError {
    /// A flag or environment variable has a value the server cannot use.
    Config(String),
    /// The database could not be opened or prepared.
    Database(String),
    /// The address could not be bound.
    Io(std::io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(message) => write!(f, "invalid configuration: {message}"),
            Self::Database(message) => write!(f, "database: {message}"),
            Self::Io(e) => write!(f, "cannot listen: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

impl From<store::StoreError> for StartError {
    fn from(e: store::StoreError) -> Self {
        Self::Database(e.to_string())
    }
}

impl From<ApiError> for StartError {
    fn from(e: ApiError) -> Self {
        Self::Database(e.message().to_owned())
    }
}

/// A bound, not yet running server.
pub struct Server {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl Server {
    /// Opens the database, prepares secrets and the demo user, and binds the address.
    pub async fn bind(config: &Config) -> Result<Self, StartError> {
        let state = prepare_state(config).await?;
        let router = router(config, state.clone())?;
        let listener = TcpListener::bind((config.bind, config.port))
            .await
            .map_err(StartError::Io)?;
        Ok(Self {
            listener,
            router,
            state,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight. Housekeeping
    /// runs on its schedule meanwhile.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let housekeeping = housekeeping::spawn(self.state);
        let served = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await;
        housekeeping.abort();
        served
    }
}

async fn prepare_state(config: &Config) -> Result<AppState, StartError> {
    if config.loopback_http_cookies && !config.bind.is_loopback() {
        return Err(StartError::Config(format!(
            "--loopback-http-cookies is for development on this machine only, but --bind {} is not a loopback address",
            config.bind
        )));
    }
    if let Some(secret) = &config.jwt_secret
        && secret.len() < tokens::MIN_SECRET_BYTES
    {
        return Err(StartError::Config(format!(
            "--jwt-secret must be at least {} bytes",
            tokens::MIN_SECRET_BYTES
        )));
    }
    let options = store::Options {
        pool_size: usize::from(config.db_pool_size),
    };
    let opened = store::Store::open(&config.db, options).await?;
    let secret = signing_secret(
        &opened,
        config.jwt_secret.as_deref(),
        config.replace_jwt_secret,
    )
    .await?;
    if !config.demo_user.is_empty() {
        seed_user(&opened, &config.demo_user, &config.demo_password).await?;
    }
    let dummy_password_hash = blocking(|| passwords::hash(&tokens::random_token())).await?;
    Ok(AppState {
        store: opened,
        access: Arc::new(tokens::AccessTokens::new(&secret, config.access_ttl)),
        refresh_ttl_seconds: config.refresh_ttl,
        refresh_retry_window_ms: auth::seconds_to_millis(config.refresh_retry_window),
        housekeeping: housekeeping::Settings::from(config),
        csrf: Arc::new(AtomicBool::new(config.csrf)),
        loopback_http_cookies: config.loopback_http_cookies,
        stats: Arc::default(),
        testing: config
            .test_mode
            .then(|| Arc::new(testing::Controls::new(config))),
        dummy_password_hash: dummy_password_hash.into(),
    })
}

/// Makes sure `username` exists with `password`, re-hashing only when it changed.
async fn seed_user(db: &store::Store, username: &str, password: &str) -> Result<(), StartError> {
    let existing = db.find_user(username.to_owned()).await?;
    let owned = password.to_owned();
    let current = match existing {
        Some((_, hash)) => blocking(move || Ok(passwords::verify(&owned, &hash))).await?,
        None => false,
    };
    if !current {
        let owned = password.to_owned();
        let hash = blocking(move || passwords::hash(&owned)).await?;
        db.upsert_user(username.to_owned(), hash).await?;
    }
    Ok(())
}

/// The row that holds the signing secret: the generated secret itself or, when one is
/// configured, only [`CONFIGURED_SECRET_TAG`] and an argon2 hash of it (salted and slow, so a
/// copy of the database does not give the secret away), so instances can tell they were given
/// different ones. One row, so the first instance to start decides in one insert.
const SIGNING_SECRET: &str = "access_token_hs256";
/// Generated secrets are base64url, which has no `:`, so a tagged value is never one of them.
const CONFIGURED_SECRET_TAG: &[u8] = b"argon2:";

/// The HS256 secret every instance on this database signs with. A `configured` secret is
/// checked against the hash the database records, so an instance started with another one, or
/// with none, is refused instead of issuing tokens the others reject; `replace` makes a
/// configured secret the recorded one.
async fn signing_secret(
    db: &store::Store,
    configured: Option<&str>,
    replace: bool,
) -> Result<Vec<u8>, StartError> {
    let refuse = |why: &str| Err(StartError::Config(why.to_owned()));
    let ours = match configured {
        Some(secret) => {
            let secret = secret.to_owned();
            let hash = blocking(move || passwords::hash(&secret)).await?;
            [CONFIGURED_SECRET_TAG, hash.as_bytes()].concat()
        }
        None => tokens::random_token().into_bytes(),
    };
    let recorded = db
        .insert_secret_if_absent(SIGNING_SECRET, ours.clone())
        .await?;
    let recorded_configured = recorded.starts_with(CONFIGURED_SECRET_TAG);
    if !recorded_configured && recorded.contains(&b':') {
        return refuse(
            "the signing secret recorded in this database is in a form this server does not know; a newer server may have written it",
        );
    }
    let Some(secret) = configured else {
        if recorded_configured {
            return refuse(
                "this database records a --jwt-secret that the other instances sign with; start this one with the same --jwt-secret",
            );
        }
        return Ok(recorded);
    };
    if recorded == ours || is_hash_of(secret, &recorded).await? {
        return Ok(secret.as_bytes().to_vec());
    }
    if !replace {
        return refuse(if recorded_configured {
            "--jwt-secret differs from the one recorded in this database, which the other instances sign with; give every instance the same secret, or pass --replace-jwt-secret once to change it (access tokens signed with the old one stop verifying)"
        } else {
            "this database holds a generated signing secret, which instances started without --jwt-secret use; pass --replace-jwt-secret once to make this --jwt-secret the recorded one (access tokens signed with the old one stop verifying)"
        });
    }
    // Only over the value just read: of two replacements at once one wins, and the other starts
    // only if it brought the same secret.
    let now_recorded = db
        .replace_secret(SIGNING_SECRET, recorded, ours.clone())
        .await?;
    if now_recorded == ours || is_hash_of(secret, &now_recorded).await? {
        return Ok(secret.as_bytes().to_vec());
    }
    refuse("the recorded signing secret changed while this instance started; start it again")
}

/// Whether `recorded` is the tagged hash of `secret`.
async fn is_hash_of(secret: &str, recorded: &[u8]) -> Result<bool, StartError> {
    let Some(hash) = recorded
        .strip_prefix(CONFIGURED_SECRET_TAG)
        .and_then(|hash| std::str::from_utf8(hash).ok())
        .map(str::to_owned)
    else {
        return Ok(false);
    };
    let secret = secret.to_owned();
    Ok(blocking(move || Ok(passwords::verify(&secret, &hash))).await?)
}

async fn blocking<R: Send + 'static>(
    work: impl FnOnce() -> Result<R, ApiError> + Send + 'static,
) -> Result<R, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(&e))?
}

fn router(config: &Config, state: AppState) -> Result<Router, StartError> {
    let mut router = Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/logout", post(auth::logout))
        .route("/api/me", get(api::me))
        .route("/api/items", get(api::items))
        .route("/api/echo", post(api::echo))
        .route("/api/ping", get(api::ping))
        .route("/healthz", get(health));
    if config.test_mode {
        router = router.merge(testing::routes());
    }
    if config.demo {
        router = router.merge(demo::routes());
    }
    if let Some(dir) = &config.pkg_dir {
        router = router.nest_service("/pkg", static_dir(dir, "--pkg-dir", config)?);
    }
    router = match &config.www_dir {
        Some(dir) => router.fallback_service(static_dir(dir, "--www-dir", config)?),
        None => router.fallback(not_found),
    };
    let mut router = router
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(limit_headers))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state);
    if !config.cors_origins.is_empty() {
        router = router.layer(cors(&config.cors_origins)?);
    }
    Ok(router)
}

/// Files under `dir`, with the `Cache-Control` that `--static-max-age` asks for.
fn static_dir(dir: &Path, flag: &str, config: &Config) -> Result<Router<()>, StartError> {
    if !dir.is_dir() {
        return Err(StartError::Config(format!(
            "{flag} {} is not a directory",
            dir.display()
        )));
    }
    let files = ServeDir::new(dir)
        .fallback(any(not_found))
        .call_fallback_on_method_not_allowed(true);
    let cache_control = match config.static_max_age {
        0 => HeaderValue::from_static("no-cache"),
        seconds => HeaderValue::from_str(&format!("public, max-age={seconds}"))
            .map_err(|error| StartError::Config(error.to_string()))?,
    };
    Ok(Router::new()
        .fallback_service(files)
        .layer(middleware::map_response(move |mut response: Response| {
            let cache_control = cache_control.clone();
            async move {
                if response.status().is_success() {
                    response
                        .headers_mut()
                        .insert(header::CACHE_CONTROL, cache_control);
                }
                response
            }
        })))
}

/// Credentialed CORS for exactly the configured origins; any other origin gets no
/// `Access-Control-Allow-Origin`, so the browser refuses it.
fn cors(origins: &[String]) -> Result<CorsLayer, StartError> {
    let origins = origins
        .iter()
        .map(|origin| parse_origin(origin))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        // Apps send their own headers through authfetch; the bearer and CSRF headers are
        // among them.
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([header::WWW_AUTHENTICATE])
        .max_age(Duration::from_secs(600)))
}

/// An origin as browsers send it: `scheme://host[:port]`, no path, no trailing slash.
fn parse_origin(raw: &str) -> Result<HeaderValue, StartError> {
    let origin = raw.trim().trim_end_matches('/');
    let invalid = |why: &str| StartError::Config(format!("--cors-origin {raw:?}: {why}"));
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .ok_or_else(|| invalid("must start with http:// or https://"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return Err(invalid("must be scheme://host[:port] with no path"));
    }
    HeaderValue::from_str(&origin.to_ascii_lowercase())
        .map_err(|_| invalid("not a valid header value"))
}

/// The most header bytes a request may carry. Browsers cap each cookie at 4 KiB; a request
/// far over that is garbage, answered in JSON before any handler parses it.
const MAX_HEADER_BYTES: usize = 16 * 1024;

async fn limit_headers(request: Request, next: Next) -> Response {
    let size: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if size > MAX_HEADER_BYTES {
        return ApiError::headers_too_large().into_response();
    }
    next.run(request).await
}

impl AppState {
    /// Whether refresh and logout demand the CSRF double-submit right now.
    fn csrf(&self) -> bool {
        self.csrf.load(Ordering::Relaxed)
    }

    /// Whether the cookies answered to a request with these headers carry `Secure`.
    fn cookie_secure(&self, headers: &axum::http::HeaderMap) -> cookies::Secure {
        cookies::secure_for(headers, self.loopback_http_cookies)
    }
}

/// Counts API calls and 401s for the test-mode stats, and journals requests in test mode.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/api/") {
        state.stats.bump(|s| &mut s.api_calls);
    }
    let request = match &state.testing {
        Some(controls) => controls.journal(request).await,
        None => request,
    };
    let response = next.run(request).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        state.stats.bump(|s| &mut s.unauthorized_served);
    }
    response
}

/// For a load balancer's health check: 200 while the database answers, 503 otherwise.
async fn health(State(state): State<AppState>) -> Result<axum::Json<serde_json::Value>, ApiError> {
    state.store.ping().await?;
    Ok(axum::Json(serde_json::json!({ "ok": true })))
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

/// The CSRF header name, for clients of this crate's tests.
pub const CSRF_HEADER: HeaderName = HeaderName::from_static(cookies::CSRF_HEADER);
