//! Persistent state in SQLite: users, refresh-token families, refresh-token hashes, the
//! reuse detections, and the generated signing secret.
//!
//! One connection behind a mutex: every write is a short transaction, and serialising them is
//! what makes "two refreshes with the same token, exactly one wins" hold without retry loops.

use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::ApiError;

/// SHA-256 of a refresh token: the only form in which a refresh token is stored.
pub(crate) type TokenHash = [u8; 32];

/// Handle to the database, cheap to clone.
#[derive(Clone)]
pub(crate) struct Store {
    connection: Arc<Mutex<Connection>>,
}

/// Why a presented refresh token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefreshRefusal {
    /// No such token was ever issued (or it was issued by another database).
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
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS families (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    created_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER,
    revoked_reason TEXT
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    hash BLOB PRIMARY KEY,
    family_id INTEGER NOT NULL REFERENCES families(id),
    issued_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    used_at_ms INTEGER
);
CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens(family_id);
CREATE TABLE IF NOT EXISTS reuse_detections (
    id INTEGER PRIMARY KEY,
    family_id INTEGER NOT NULL REFERENCES families(id),
    detected_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
";

impl Store {
    /// Opens (creating if needed) the database at `path`, or an in-memory one for `:memory:`.
    pub(crate) fn open(path: &str) -> Result<Self, rusqlite::Error> {
        let connection = Connection::open(path)?;
        // WAL keeps readers off the writer's back; NORMAL sync is durable across a process
        // crash, which is the restart the demo cares about.
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        connection.execute_batch(SCHEMA)?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// Runs `work` with the connection on the blocking pool, so SQLite's disk waits never
    /// stall the async workers.
    pub(crate) async fn call<R, F>(&self, work: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, rusqlite::Error> + Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            let mut guard = connection
                .lock()
                .map_err(|_| ApiError::internal(&"database lock poisoned"))?;
            work(&mut guard).map_err(|e| ApiError::internal(&e))
        })
        .await
        .map_err(|e| ApiError::internal(&e))?
    }
}

/// Looks up a secret by name, storing `generate()` under that name on first use.
pub(crate) fn secret_or_insert(
    connection: &Connection,
    name: &str,
    generate: impl FnOnce() -> Vec<u8>,
) -> Result<Vec<u8>, rusqlite::Error> {
    let existing: Option<Vec<u8>> = connection
        .query_row("SELECT value FROM secrets WHERE name = ?1", [name], |row| {
            row.get(0)
        })
        .optional()?;
    if let Some(value) = existing {
        return Ok(value);
    }
    let value = generate();
    connection.execute(
        "INSERT INTO secrets (name, value) VALUES (?1, ?2)",
        params![name, value],
    )?;
    Ok(value)
}

/// A user's id and password hash.
pub(crate) fn find_user(
    connection: &Connection,
    username: &str,
) -> Result<Option<(i64, String)>, rusqlite::Error> {
    connection
        .query_row(
            "SELECT id, password_hash FROM users WHERE username = ?1",
            [username],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
}

/// Creates the user, or replaces the password hash of an existing one.
pub(crate) fn upsert_user(
    connection: &Connection,
    username: &str,
    password_hash: &str,
) -> Result<(), rusqlite::Error> {
    connection.execute(
        "INSERT INTO users (username, password_hash) VALUES (?1, ?2)
         ON CONFLICT(username) DO UPDATE SET password_hash = excluded.password_hash",
        params![username, password_hash],
    )?;
    Ok(())
}

/// Starts a new family for `user_id` with its first refresh token.
pub(crate) fn start_family(
    connection: &mut Connection,
    user_id: i64,
    token: &TokenHash,
    now_ms: i64,
    ttl_ms: i64,
) -> Result<(), rusqlite::Error> {
    let tx = connection.transaction()?;
    tx.execute(
        "INSERT INTO families (user_id, created_at_ms) VALUES (?1, ?2)",
        params![user_id, now_ms],
    )?;
    let family_id = tx.last_insert_rowid();
    insert_token(&tx, family_id, token, now_ms, ttl_ms)?;
    tx.commit()
}

/// Exchanges `presented` for `replacement` in the same family, or says why not.
///
/// A token that was already used revokes its family and is recorded as a reuse detection
/// (RFC 9700 §4.14.2): either the legitimate client or an attacker holds a copy, and the server
/// cannot tell which, so both are signed out.
pub(crate) fn rotate(
    connection: &mut Connection,
    presented: &TokenHash,
    replacement: &TokenHash,
    now_ms: i64,
    ttl_ms: i64,
) -> Result<Result<Rotated, RefreshRefusal>, rusqlite::Error> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = tx
        .query_row(
            "SELECT t.family_id, t.expires_at_ms, t.used_at_ms, f.revoked_at_ms, u.username
             FROM refresh_tokens t
             JOIN families f ON f.id = t.family_id
             JOIN users u ON u.id = f.user_id
             WHERE t.hash = ?1",
            [presented.as_slice()],
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, Option<i64>>(2)?,
                    row.get::<_, Option<i64>>(3)?,
                    row.get::<_, String>(4)?,
                ))
            },
        )
        .optional()?;
    let Some((family_id, expires_at_ms, used_at_ms, revoked_at_ms, username)) = found else {
        return Ok(Err(RefreshRefusal::Unknown));
    };
    let outcome = if used_at_ms.is_some() {
        tx.execute(
            "INSERT INTO reuse_detections (family_id, detected_at_ms) VALUES (?1, ?2)",
            params![family_id, now_ms],
        )?;
        revoke_family(&tx, family_id, now_ms, "reuse")?;
        Err(RefreshRefusal::Reused)
    } else if revoked_at_ms.is_some() {
        Err(RefreshRefusal::Revoked)
    } else if expires_at_ms <= now_ms {
        Err(RefreshRefusal::Expired)
    } else {
        tx.execute(
            "UPDATE refresh_tokens SET used_at_ms = ?1 WHERE hash = ?2",
            params![now_ms, presented.as_slice()],
        )?;
        insert_token(&tx, family_id, replacement, now_ms, ttl_ms)?;
        Ok(Rotated { username })
    };
    tx.commit()?;
    Ok(outcome)
}

/// Revokes the family of `presented`, whatever state the token is in. Unknown tokens are
/// ignored: signing out must always succeed.
pub(crate) fn revoke_family_of(
    connection: &Connection,
    presented: &TokenHash,
    now_ms: i64,
    reason: &str,
) -> Result<(), rusqlite::Error> {
    let family_id: Option<i64> = connection
        .query_row(
            "SELECT family_id FROM refresh_tokens WHERE hash = ?1",
            [presented.as_slice()],
            |row| row.get(0),
        )
        .optional()?;
    match family_id {
        Some(id) => revoke_family(connection, id, now_ms, reason),
        None => Ok(()),
    }
}

/// Revokes every live family (a test control: "the server forgot every session").
pub(crate) fn revoke_all(connection: &Connection, now_ms: i64) -> Result<usize, rusqlite::Error> {
    connection.execute(
        "UPDATE families SET revoked_at_ms = ?1, revoked_reason = 'operator' WHERE revoked_at_ms IS NULL",
        [now_ms],
    )
}

fn revoke_family(
    connection: &Connection,
    family_id: i64,
    now_ms: i64,
    reason: &str,
) -> Result<(), rusqlite::Error> {
    connection.execute(
        "UPDATE families SET revoked_at_ms = ?1, revoked_reason = ?2 WHERE id = ?3 AND revoked_at_ms IS NULL",
        params![now_ms, reason, family_id],
    )?;
    Ok(())
}

fn insert_token(
    connection: &Connection,
    family_id: i64,
    token: &TokenHash,
    now_ms: i64,
    ttl_ms: i64,
) -> Result<(), rusqlite::Error> {
    connection.execute(
        "INSERT INTO refresh_tokens (hash, family_id, issued_at_ms, expires_at_ms) VALUES (?1, ?2, ?3, ?4)",
        params![token.as_slice(), family_id, now_ms, now_ms.saturating_add(ttl_ms)],
    )?;
    Ok(())
}
