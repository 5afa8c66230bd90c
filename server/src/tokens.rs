//! Access tokens (HS256 JWTs) and refresh tokens (random, opaque, stored as SHA-256).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::store::TokenHash;

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// The username.
    pub sub: String,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// Expires at, seconds since the epoch.
    pub exp: u64,
    /// A unique id, so two tokens issued in the same second differ.
    pub jti: String,
}

/// Signs and verifies access tokens with one HS256 secret. The secret and the lifetime can
/// change at run time (test mode), hence the interior mutability.
pub(crate) struct AccessTokens {
    keys: RwLock<(EncodingKey, DecodingKey)>,
    validation: Validation,
    ttl_seconds: AtomicU64,
}

/// The shortest signing secret accepted: HS256 wants at least the hash's size.
pub(crate) const MIN_SECRET_BYTES: usize = 32;

impl AccessTokens {
    /// Keys for `secret`, issuing tokens that live `ttl_seconds`.
    pub(crate) fn new(secret: &[u8], ttl_seconds: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // No grace period: lifetimes of a second must mean a second in tests and demos.
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        Self {
            keys: RwLock::new(keys(secret)),
            validation,
            ttl_seconds: AtomicU64::new(ttl_seconds),
        }
    }

    /// The lifetime of the tokens this issues, in seconds.
    pub(crate) fn ttl_seconds(&self) -> u64 {
        self.ttl_seconds.load(Ordering::Relaxed)
    }

    /// Tokens issued from now on live `seconds`.
    pub(crate) fn set_ttl_seconds(&self, seconds: u64) {
        self.ttl_seconds.store(seconds, Ordering::Relaxed);
    }

    /// Signs with `secret` from now on: every token issued before stops verifying, as after a
    /// key rotation on a real server.
    pub(crate) fn replace_secret(&self, secret: &[u8]) {
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = keys(secret);
    }

    /// A fresh access token for `username`, issued at `now_seconds`.
    pub(crate) fn issue(&self, username: &str, now_seconds: u64) -> Result<String, ApiError> {
        let claims = Claims {
            sub: username.to_owned(),
            iat: now_seconds,
            exp: now_seconds.saturating_add(self.ttl_seconds()),
            jti: random_token(),
        };
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.0)
            .map_err(|e| ApiError::internal(&e))
    }

    /// The claims of a valid token, or the 401 to answer. Only HS256 with this secret is
    /// accepted: `alg: none` and every other algorithm are refused before any check.
    pub(crate) fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        jsonwebtoken::decode::<Claims>(token, &keys.1, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| {
                ApiError::invalid_token(match e.kind() {
                    ErrorKind::ExpiredSignature => "access token expired",
                    ErrorKind::InvalidSignature => "access token signature invalid",
                    ErrorKind::InvalidAlgorithm
                    | ErrorKind::InvalidAlgorithmName
                    | ErrorKind::MissingAlgorithm => "access token algorithm not accepted",
                    _ => "access token malformed",
                })
            })
    }
}

fn keys(secret: &[u8]) -> (EncodingKey, DecodingKey) {
    (
        EncodingKey::from_secret(secret),
        DecodingKey::from_secret(secret),
    )
}

/// Number of random bytes in a refresh token and a CSRF token.
const RANDOM_TOKEN_BYTES: usize = 32;
/// Their length once base64url-encoded without padding.
pub(crate) const RANDOM_TOKEN_CHARS: usize = 43;

/// 256 random bits from the operating system, base64url without padding.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; RANDOM_TOKEN_BYTES];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `value` has the exact shape of a token from [`random_token`]; anything else is
/// refused before it reaches the database.
pub(crate) fn is_well_formed_token(value: &str) -> bool {
    value.len() == RANDOM_TOKEN_CHARS
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The stored form of a refresh token.
pub(crate) fn hash_refresh_token(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

/// Compares two secrets in time independent of where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
