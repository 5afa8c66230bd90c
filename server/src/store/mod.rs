//! Persistent state: users, refresh-token families, refresh-token hashes, the reuse
//! detections, and the signing secret. Two stores behave the same: SQLite in one file (the
//! default, for one instance) and PostgreSQL (for several instances behind a load balancer).
//!
//! What a rotation means is decided here, once ([`decide`]); each store only reads the
//! presented token with the lock that makes its answer final, and writes the decision.

mod postgres;
mod sqlite;

use std::fmt;
use std::time::Duration;

use crate::error::ApiError;

/// SHA-256 of a refresh token: the only form in which a refresh token is stored.
pub(crate) type TokenHash = [u8; 32];

/// The longest any one store operation may take before the request is answered 503: a
/// database that stopped answering must not hold requests (and pooled connections) forever.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(15);

/// The store behind every handler, cheap to clone.
#[derive(Clone)]
pub(crate) enum Store {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

/// How the store is opened.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Most connections a PostgreSQL store keeps (SQLite has one).
    pub pool_size: usize,
}

/// The database failed or could not be reached. Answered 503: the request may be tried again.
#[derive(Debug)]
pub(crate) struct StoreError(String);

impl StoreError {
    pub(crate) fn new(cause: impl fmt::Display) -> Self {
        Self(cause.to_string())
    }

    /// `error` and every error beneath it: the PostgreSQL client's own message is often just
    /// "db error", with the server's reason one level down.
    pub(crate) fn with_causes(error: &dyn std::error::Error) -> Self {
        let mut message = error.to_string();
        let mut cause = error.source();
        while let Some(inner) = cause {
            let inner_message = inner.to_string();
            if !message.ends_with(&inner_message) {
                message.push_str(": ");
                message.push_str(&inner_message);
            }
            cause = inner.source();
        }
        Self(message)
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::unavailable(&error)
    }
}

/// Why a presented refresh token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefreshRefusal {
    /// No such token was ever issued (or it was issued by another database, or its family
    /// was over and housekeeping deleted it).
    Unknown,
    /// The token was already used: the whole family is now revoked.
    Reused,
    /// The family was revoked earlier (logout, reuse, an operator).
    Revoked,
    /// The token's lifetime is over.
    Expired,
}

impl RefreshRefusal {
    /// The message sent to the client.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::Unknown => "invalid refresh token",
            Self::Reused => "refresh token reuse detected; the session is revoked",
            Self::Revoked => "session revoked",
            Self::Expired => "refresh token expired",
        }
    }
}

/// A refresh token that has just replaced the presented one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rotated {
    /// The user the family belongs to.
    pub username: String,
    /// The presented token had been rotated already, within the retry window, and its
    /// successor was never used: that successor is dead and this one replaces it.
    pub again: bool,
}

/// What a rotation needs to know about the presented token, read under the lock that keeps
/// it true until the transaction ends.
#[derive(Debug)]
struct Presented {
    family_id: i64,
    expires_at_ms: i64,
    used_at_ms: Option<i64>,
    family_revoked: bool,
    username: String,
    /// The token issued when this one was used, if it was, and whether it was used in turn.
    successor: Option<(TokenHash, bool)>,
}

/// What to write for a presented token.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Refuse(RefreshRefusal),
    /// A used token came back: record it and revoke the family.
    Reuse {
        family_id: i64,
    },
    /// Mark the token used and issue the replacement.
    Rotate {
        family_id: i64,
    },
    /// Kill the unused successor and issue the replacement in its place.
    RotateAgain {
        family_id: i64,
        successor: TokenHash,
    },
}

/// The rotation rule (RFC 9700 §4.14.2), with the opt-in retry window: a used token that comes
/// back revokes its family, since either the legitimate client or an attacker holds a copy and
/// the server cannot tell which; except that within `retry_window_ms` of its first use, while
/// its successor was never used, it is taken as the same client whose answer was lost.
fn decide(presented: Option<&Presented>, now_ms: i64, retry_window_ms: i64) -> Step {
    let Some(token) = presented else {
        return Step::Refuse(RefreshRefusal::Unknown);
    };
    let family_id = token.family_id;
    match token.used_at_ms {
        Some(used_at_ms) => match token.successor {
            Some((successor, false))
                if retry_window_ms > 0
                    && now_ms.saturating_sub(used_at_ms) <= retry_window_ms
                    && !token.family_revoked
                    && token.expires_at_ms > now_ms =>
            {
                Step::RotateAgain {
                    family_id,
                    successor,
                }
            }
            _ => Step::Reuse { family_id },
        },
        None if token.family_revoked => Step::Refuse(RefreshRefusal::Revoked),
        None if token.expires_at_ms <= now_ms => Step::Refuse(RefreshRefusal::Expired),
        None => Step::Rotate { family_id },
    }
}

/// A value bound to a statement of a [`Write`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value {
    Int(i64),
    Hash(TokenHash),
}

/// One statement of a write plan, written as the statements of [`sql`] are, so both stores run
/// the same text.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Write {
    pub sql: &'static str,
    pub values: Vec<Value>,
}

/// The writes that carry out `step`, in order, and what the rotation answers: `Ok(again)` when
/// a replacement is issued.
fn plan(step: &Step, rotation: &Rotation) -> (Vec<Write>, Result<bool, RefreshRefusal>) {
    let Rotation {
        presented,
        replacement,
        now_ms,
        ..
    } = *rotation;
    let (family_id, mut writes, again) = match *step {
        Step::Refuse(refusal) => return (Vec::new(), Err(refusal)),
        Step::Reuse { family_id } => {
            let writes = vec![
                Write {
                    sql: "INSERT INTO reuse_detections (family_id, detected_at_ms) VALUES ($1, $2)",
                    values: vec![Value::Int(family_id), Value::Int(now_ms)],
                },
                Write {
                    sql: "UPDATE families SET revoked_at_ms = $1, revoked_reason = 'reuse'
                          WHERE id = $2 AND revoked_at_ms IS NULL",
                    values: vec![Value::Int(now_ms), Value::Int(family_id)],
                },
            ];
            return (writes, Err(RefreshRefusal::Reused));
        }
        Step::Rotate { family_id } => (
            family_id,
            vec![Write {
                sql: "UPDATE refresh_tokens SET used_at_ms = $1, successor = $2 WHERE hash = $3",
                values: vec![
                    Value::Int(now_ms),
                    Value::Hash(replacement),
                    Value::Hash(presented),
                ],
            }],
            false,
        ),
        Step::RotateAgain {
            family_id,
            successor,
        } => (
            family_id,
            vec![
                // The successor dies as used, so if it ever comes back it is a reuse.
                Write {
                    sql: "UPDATE refresh_tokens SET used_at_ms = $1 WHERE hash = $2",
                    values: vec![Value::Int(now_ms), Value::Hash(successor)],
                },
                Write {
                    sql: "UPDATE refresh_tokens SET successor = $1 WHERE hash = $2",
                    values: vec![Value::Hash(replacement), Value::Hash(presented)],
                },
            ],
            true,
        ),
    };
    writes.extend(issue(family_id, replacement, now_ms, rotation.ttl_ms));
    (writes, Ok(again))
}

/// The writes that add `token` to family `family_id` and make its expiry the family's.
fn issue(family_id: i64, token: TokenHash, now_ms: i64, ttl_ms: i64) -> [Write; 2] {
    let expires_at_ms = now_ms.saturating_add(ttl_ms);
    [
        Write {
            sql: "INSERT INTO refresh_tokens (hash, family_id, issued_at_ms, expires_at_ms)
                  VALUES ($1, $2, $3, $4)",
            values: vec![
                Value::Hash(token),
                Value::Int(family_id),
                Value::Int(now_ms),
                Value::Int(expires_at_ms),
            ],
        },
        // The newest token is the family's only live one, so its expiry is the family's.
        Write {
            sql: "UPDATE families SET expires_at_ms = $1 WHERE id = $2",
            values: vec![Value::Int(expires_at_ms), Value::Int(family_id)],
        },
    ]
}

/// A rotation request: the presented token's hash and its replacement's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rotation {
    pub presented: TokenHash,
    pub replacement: TokenHash,
    pub now_ms: i64,
    pub ttl_ms: i64,
    /// 0: strict reuse detection.
    pub retry_window_ms: i64,
}

/// What one housekeeping pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Swept {
    pub refresh_tokens: u64,
    pub families: u64,
    /// Transactions it took, each of at most one batch of rows.
    pub batches: u64,
}

/// Rows left, for the test-mode report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Sizes {
    pub families: u64,
    pub refresh_tokens: u64,
}

/// Where `db` says the state lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sqlite,
    Postgres,
}

/// Which store `db` names, or why it names none: a mistyped URL must neither become a SQLite
/// file of that name (each instance would then keep sessions of its own) nor be printed, since
/// it may hold a password.
fn kind(db: &str) -> Result<Kind, &'static str> {
    let lower = db.trim_start().to_ascii_lowercase();
    let first_word = lower.split_whitespace().next().unwrap_or("");
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        Ok(Kind::Postgres)
    } else if lower.starts_with("postgres") {
        Err(
            "--db starts like a PostgreSQL URL but is not one: it must begin postgres:// or postgresql://",
        )
    } else if lower.starts_with("file:") {
        // SQLite's own URI form.
        Ok(Kind::Sqlite)
    } else if lower.contains("://") {
        Err("--db is a URL, but not a postgres:// or postgresql:// one")
    } else if first_word.split_once('=').is_some_and(|(key, _)| {
        !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    }) {
        Err("--db looks like a libpq key=value connection string; give a postgres:// URL instead")
    } else {
        Ok(Kind::Sqlite)
    }
}

/// Runs `operation` within [`OPERATION_TIMEOUT`].
async fn bounded<R>(
    operation: impl Future<Output = Result<R, StoreError>>,
) -> Result<R, StoreError> {
    tokio::time::timeout(OPERATION_TIMEOUT, operation)
        .await
        .unwrap_or_else(|_| {
            Err(StoreError::new(format_args!(
                "no answer from the database in {} s",
                OPERATION_TIMEOUT.as_secs()
            )))
        })
}

/// Statements both stores run as written. Parameters are `$1`, `$2`… in order of first use,
/// which PostgreSQL binds by number and SQLite by order of appearance.
mod sql {
    pub(super) const INSERT_SECRET_IF_ABSENT: &str =
        "INSERT INTO secrets (name, value) VALUES ($1, $2)
         ON CONFLICT (name) DO NOTHING RETURNING value";
    pub(super) const SELECT_SECRET: &str = "SELECT value FROM secrets WHERE name = $1";
    pub(super) const REPLACE_SECRET: &str =
        "UPDATE secrets SET value = $1 WHERE name = $2 AND value = $3";
    pub(super) const FIND_USER: &str = "SELECT id, password_hash FROM users WHERE username = $1";
    pub(super) const UPSERT_USER: &str =
        "INSERT INTO users (username, password_hash) VALUES ($1, $2)
         ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash";
    pub(super) const INSERT_FAMILY: &str =
        "INSERT INTO families (user_id, created_at_ms, expires_at_ms)
         VALUES ($1, $2, $3) RETURNING id";
    pub(super) const REVOKE_FAMILY_OF: &str =
        "UPDATE families SET revoked_at_ms = $1, revoked_reason = $2
         WHERE id = (SELECT family_id FROM refresh_tokens WHERE hash = $3)
           AND revoked_at_ms IS NULL";
    pub(super) const REVOKE_ALL: &str =
        "UPDATE families SET revoked_at_ms = $1, revoked_reason = 'operator'
         WHERE revoked_at_ms IS NULL";
    pub(super) const SIZES: &str =
        "SELECT (SELECT COUNT(*) FROM families), (SELECT COUNT(*) FROM refresh_tokens)";
    pub(super) const PING: &str = "SELECT 1";
}

/// Calls `method(args…)` on whichever store this is, within [`OPERATION_TIMEOUT`].
macro_rules! on_store {
    ($store:expr, $method:ident($($arg:expr),*)) => {
        bounded(async {
            match $store {
                Store::Sqlite(s) => s.$method($($arg),*).await,
                Store::Postgres(p) => p.$method($($arg),*).await,
            }
        })
        .await
    };
}

impl Store {
    /// Opens `db` (a `postgres://` URL, a SQLite file, or `:memory:`) and brings its schema up
    /// to date.
    pub(crate) async fn open(db: &str, options: Options) -> Result<Self, StoreError> {
        match kind(db).map_err(StoreError::new)? {
            Kind::Postgres => {
                // The client takes the scheme in lower case only.
                let url = db.trim_start().split_once("://").map_or_else(
                    || db.to_owned(),
                    |(scheme, rest)| format!("{}://{rest}", scheme.to_ascii_lowercase()),
                );
                postgres::Postgres::open(&url, options)
                    .await
                    .map(Self::Postgres)
            }
            Kind::Sqlite => sqlite::Sqlite::open(db).await.map(Self::Sqlite),
        }
    }

    /// The value stored under `name`, storing `value` there first if there is none: of
    /// instances starting at once, the first one's value wins and every one reads it.
    pub(crate) async fn insert_secret_if_absent(
        &self,
        name: &'static str,
        value: Vec<u8>,
    ) -> Result<Vec<u8>, StoreError> {
        on_store!(self, insert_secret_if_absent(name, value))
    }

    /// Stores `value` under `name` if `expected` is still there, and answers what is stored
    /// now: `value`, or what another instance put there meanwhile.
    pub(crate) async fn replace_secret(
        &self,
        name: &'static str,
        expected: Vec<u8>,
        value: Vec<u8>,
    ) -> Result<Vec<u8>, StoreError> {
        on_store!(self, replace_secret(name, expected, value))
    }

    /// A user's id and password hash.
    pub(crate) async fn find_user(
        &self,
        username: String,
    ) -> Result<Option<(i64, String)>, StoreError> {
        on_store!(self, find_user(username))
    }

    /// Creates the user, or replaces the password hash of an existing one.
    pub(crate) async fn upsert_user(
        &self,
        username: String,
        password_hash: String,
    ) -> Result<(), StoreError> {
        on_store!(self, upsert_user(username, password_hash))
    }

    /// Starts a new family for `user_id` with its first refresh token.
    pub(crate) async fn start_family(
        &self,
        user_id: i64,
        token: TokenHash,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<(), StoreError> {
        on_store!(self, start_family(user_id, token, now_ms, ttl_ms))
    }

    /// Exchanges the presented token for its replacement in the same family, or says why not.
    pub(crate) async fn rotate(
        &self,
        rotation: Rotation,
    ) -> Result<Result<Rotated, RefreshRefusal>, StoreError> {
        on_store!(self, rotate(rotation))
    }

    /// Revokes the family of `presented`, whatever state the token is in. Unknown tokens are
    /// ignored: signing out must always succeed.
    pub(crate) async fn revoke_family_of(
        &self,
        presented: TokenHash,
        now_ms: i64,
        reason: &'static str,
    ) -> Result<(), StoreError> {
        on_store!(self, revoke_family_of(presented, now_ms, reason))
    }

    /// Revokes every live family (a test control: "the server forgot every session").
    pub(crate) async fn revoke_all(&self, now_ms: i64) -> Result<u64, StoreError> {
        on_store!(self, revoke_all(now_ms))
    }

    /// Deletes the families that are over (their newest token expired, or revoked before
    /// `revoked_before_ms`) with all their tokens and reuse records, `batch` families per
    /// transaction so no pass holds locks for long. A live family keeps every token it ever
    /// issued: any of them coming back must still be recognised as a reuse, however long ago it
    /// was used or expired.
    pub(crate) async fn sweep(
        &self,
        now_ms: i64,
        revoked_before_ms: i64,
        batch: u32,
    ) -> Result<Swept, StoreError> {
        let mut swept = Swept::default();
        loop {
            let (tokens, families) =
                on_store!(self, sweep_batch(now_ms, revoked_before_ms, batch))?;
            swept.batches += 1;
            swept.refresh_tokens += tokens;
            swept.families += families;
            if families < u64::from(batch) {
                return Ok(swept);
            }
            // Between batches, the requests waiting for the database go first.
            tokio::task::yield_now().await;
        }
    }

    /// Whether the database answers a query.
    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        on_store!(self, ping())
    }

    /// How many families and refresh tokens are stored.
    pub(crate) async fn sizes(&self) -> Result<Sizes, StoreError> {
        on_store!(self, sizes())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const NOW: i64 = 1_000_000;
    const WINDOW: i64 = 10_000;

    fn token(used_at_ms: Option<i64>, successor: Option<(TokenHash, bool)>) -> Presented {
        Presented {
            family_id: 7,
            expires_at_ms: NOW + 60_000,
            used_at_ms,
            family_revoked: false,
            username: "demo".to_owned(),
            successor,
        }
    }

    #[test]
    fn an_unused_live_token_rotates_and_an_unknown_one_is_refused() {
        assert_eq!(
            decide(Some(&token(None, None)), NOW, 0),
            Step::Rotate { family_id: 7 }
        );
        assert_eq!(
            decide(None, NOW, WINDOW),
            Step::Refuse(RefreshRefusal::Unknown)
        );
    }

    #[test]
    fn strict_mode_revokes_on_any_reuse() {
        let used = token(Some(NOW - 1), Some(([1; 32], false)));
        assert_eq!(decide(Some(&used), NOW, 0), Step::Reuse { family_id: 7 });
    }

    #[test]
    fn the_window_rotates_again_only_while_the_successor_is_unused_and_the_window_is_open() {
        let lost = token(Some(NOW - WINDOW), Some(([1; 32], false)));
        assert_eq!(
            decide(Some(&lost), NOW, WINDOW),
            Step::RotateAgain {
                family_id: 7,
                successor: [1; 32]
            }
        );
        let successor_used = token(Some(NOW - 1), Some(([1; 32], true)));
        assert_eq!(
            decide(Some(&successor_used), NOW, WINDOW),
            Step::Reuse { family_id: 7 }
        );
        let too_late = token(Some(NOW - WINDOW - 1), Some(([1; 32], false)));
        assert_eq!(
            decide(Some(&too_late), NOW, WINDOW),
            Step::Reuse { family_id: 7 }
        );
        let killed_successor = token(Some(NOW - 1), None);
        assert_eq!(
            decide(Some(&killed_successor), NOW, WINDOW),
            Step::Reuse { family_id: 7 }
        );
        let revoked = Presented {
            family_revoked: true,
            ..token(Some(NOW - 1), Some(([1; 32], false)))
        };
        assert_eq!(
            decide(Some(&revoked), NOW, WINDOW),
            Step::Reuse { family_id: 7 }
        );
    }

    #[test]
    fn revoked_and_expired_tokens_are_refused_without_revoking_again() {
        let revoked = Presented {
            family_revoked: true,
            ..token(None, None)
        };
        assert_eq!(
            decide(Some(&revoked), NOW, WINDOW),
            Step::Refuse(RefreshRefusal::Revoked)
        );
        let expired = Presented {
            expires_at_ms: NOW,
            ..token(None, None)
        };
        assert_eq!(
            decide(Some(&expired), NOW, WINDOW),
            Step::Refuse(RefreshRefusal::Expired)
        );
    }
}
