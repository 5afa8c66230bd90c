//! The SQLite store: one file (or `:memory:`), for one instance.
//!
//! One connection behind a mutex: every write is a short transaction, and serialising them is
//! what makes "two refreshes with the same token, exactly one wins" hold without retry loops.
//! Several processes on one file still agree, since each rotation is an `IMMEDIATE`
//! transaction (the file's write lock is taken before the token is read).

use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::{
    Presented, RefreshRefusal, Rotated, Rotation, Sizes, StoreError, TokenHash, Value, Write,
    decide, issue, plan, sql,
};

/// Each entry brings the schema from the previous version to its own (`PRAGMA user_version`).
/// Version 1 is the schema from before versioning, hence `IF NOT EXISTS`: databases made then
/// are at version 0 with these tables already in place.
const MIGRATIONS: [&str; 2] = [
    "
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
",
    // The retry window follows a used token to its successor; housekeeping finds families
    // that are over by the expiry of their newest token.
    "
ALTER TABLE refresh_tokens ADD COLUMN successor BLOB;
-- The default is never: a family an older server inserts without it is not swept.
ALTER TABLE families ADD COLUMN expires_at_ms INTEGER NOT NULL DEFAULT 9223372036854775807;
UPDATE families SET expires_at_ms =
    COALESCE((SELECT MAX(expires_at_ms) FROM refresh_tokens WHERE family_id = families.id), 0);
CREATE INDEX families_expires ON families(expires_at_ms);
CREATE INDEX families_revoked ON families(revoked_at_ms) WHERE revoked_at_ms IS NOT NULL;
CREATE INDEX reuse_detections_family ON reuse_detections(family_id);
",
];

/// Handle to the database, cheap to clone.
#[derive(Clone)]
pub(crate) struct Sqlite {
    connection: Arc<Mutex<Connection>>,
}

impl Sqlite {
    /// Opens (creating if needed) the database at `path`, or an in-memory one for `:memory:`.
    pub(crate) async fn open(path: &str) -> Result<Self, StoreError> {
        let path = path.to_owned();
        let connection = tokio::task::spawn_blocking(move || prepare(&path))
            .await
            .map_err(StoreError::new)??;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// Runs `work` with the connection on the blocking pool, so SQLite's disk waits never
    /// stall the async workers.
    async fn call<R, F>(&self, work: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, rusqlite::Error> + Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            let mut guard = connection
                .lock()
                .map_err(|_| StoreError::new("database lock poisoned"))?;
            work(&mut guard).map_err(StoreError::new)
        })
        .await
        .map_err(StoreError::new)?
    }

    pub(crate) async fn insert_secret_if_absent(
        &self,
        name: &'static str,
        value: Vec<u8>,
    ) -> Result<Vec<u8>, StoreError> {
        self.call(move |c| {
            c.prepare_cached(sql::INSERT_SECRET_IF_ABSENT)?
                .query_row(params![name, value], |row| row.get(0))
                .optional()?
                .map_or_else(|| select_secret(c, name), Ok)
        })
        .await
    }

    pub(crate) async fn replace_secret(
        &self,
        name: &'static str,
        expected: Vec<u8>,
        value: Vec<u8>,
    ) -> Result<Vec<u8>, StoreError> {
        self.call(move |c| {
            c.prepare_cached(sql::REPLACE_SECRET)?
                .execute(params![value, name, expected])?;
            select_secret(c, name)
        })
        .await
    }

    pub(crate) async fn find_user(
        &self,
        username: String,
    ) -> Result<Option<(i64, String)>, StoreError> {
        self.call(move |c| {
            c.prepare_cached(sql::FIND_USER)?
                .query_row([username], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .await
    }

    pub(crate) async fn upsert_user(
        &self,
        username: String,
        password_hash: String,
    ) -> Result<(), StoreError> {
        self.call(move |c| {
            c.prepare_cached(sql::UPSERT_USER)?
                .execute(params![username, password_hash])
                .map(drop)
        })
        .await
    }

    pub(crate) async fn start_family(
        &self,
        user_id: i64,
        token: TokenHash,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<(), StoreError> {
        self.call(move |c| {
            let tx = c.transaction()?;
            let family_id: i64 = tx.prepare_cached(sql::INSERT_FAMILY)?.query_row(
                params![user_id, now_ms, now_ms.saturating_add(ttl_ms)],
                |row| row.get(0),
            )?;
            apply(&tx, &issue(family_id, token, now_ms, ttl_ms))?;
            tx.commit()
        })
        .await
    }

    pub(crate) async fn rotate(
        &self,
        rotation: Rotation,
    ) -> Result<Result<Rotated, RefreshRefusal>, StoreError> {
        self.call(move |c| rotate(c, &rotation)).await
    }

    pub(crate) async fn revoke_family_of(
        &self,
        presented: TokenHash,
        now_ms: i64,
        reason: &'static str,
    ) -> Result<(), StoreError> {
        self.call(move |c| {
            c.prepare_cached(sql::REVOKE_FAMILY_OF)?
                .execute(params![now_ms, reason, presented.as_slice()])
                .map(drop)
        })
        .await
    }

    pub(crate) async fn revoke_all(&self, now_ms: i64) -> Result<u64, StoreError> {
        self.call(move |c| c.prepare_cached(sql::REVOKE_ALL)?.execute([now_ms]))
            .await
            .map(count)
    }

    pub(crate) async fn sweep_batch(
        &self,
        now_ms: i64,
        revoked_before_ms: i64,
        batch: u32,
    ) -> Result<(u64, u64), StoreError> {
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "CREATE TEMP TABLE IF NOT EXISTS doomed_families (id INTEGER PRIMARY KEY)",
                [],
            )?;
            tx.execute("DELETE FROM temp.doomed_families", [])?;
            let families = tx.execute(
                "INSERT INTO temp.doomed_families (id)
                 SELECT id FROM families WHERE expires_at_ms <= ?1 OR revoked_at_ms <= ?2 LIMIT ?3",
                params![now_ms, revoked_before_ms, batch],
            )?;
            let doomed = "IN (SELECT id FROM temp.doomed_families)";
            let tokens = tx.execute(
                &format!("DELETE FROM refresh_tokens WHERE family_id {doomed}"),
                [],
            )?;
            tx.execute(
                &format!("DELETE FROM reuse_detections WHERE family_id {doomed}"),
                [],
            )?;
            tx.execute(&format!("DELETE FROM families WHERE id {doomed}"), [])?;
            tx.commit()?;
            Ok((count(tokens), count(families)))
        })
        .await
    }

    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        self.call(|c| c.query_row(sql::PING, [], |_| Ok(()))).await
    }

    pub(crate) async fn sizes(&self) -> Result<Sizes, StoreError> {
        self.call(|c| {
            c.query_row(sql::SIZES, [], |row| {
                Ok(Sizes {
                    families: count(row.get::<_, i64>(0)?),
                    refresh_tokens: count(row.get::<_, i64>(1)?),
                })
            })
        })
        .await
    }
}

fn select_secret(c: &Connection, name: &str) -> Result<Vec<u8>, rusqlite::Error> {
    c.prepare_cached(sql::SELECT_SECRET)?
        .query_row([name], |row| row.get(0))
}

fn count<N: TryInto<u64>>(n: N) -> u64 {
    n.try_into().unwrap_or(0)
}

fn prepare(path: &str) -> Result<Connection, StoreError> {
    let connection =
        open_and_migrate(path).map_err(|e| StoreError::new(format_args!("{path}: {e}")))?;
    let current: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(StoreError::new)?;
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if current > known {
        return Err(StoreError::new(format_args!(
            "{path}: the schema is at version {current}, newer than this server's {known}: a newer server made it"
        )));
    }
    Ok(connection)
}

fn open_and_migrate(path: &str) -> Result<Connection, rusqlite::Error> {
    let mut connection = Connection::open(path)?;
    // WAL keeps readers off the writer's back; NORMAL sync is durable across a process
    // crash, which is the restart the demo cares about.
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    migrate(&mut connection)?;
    Ok(connection)
}

/// Applies the migrations this database lacks, each with its version bump in one `IMMEDIATE`
/// transaction: two processes starting on one file at once apply each migration once.
fn migrate(connection: &mut Connection) -> Result<(), rusqlite::Error> {
    for (version, sql) in (1_i64..).zip(MIGRATIONS) {
        let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if current < version {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", version)?;
        }
        tx.commit()?;
    }
    Ok(())
}

fn rotate(
    connection: &mut Connection,
    rotation: &Rotation,
) -> Result<Result<Rotated, RefreshRefusal>, rusqlite::Error> {
    // IMMEDIATE: the write lock is held from the read on, so what is read stays true.
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let presented = tx
        .query_row(
            "SELECT t.family_id, t.expires_at_ms, t.used_at_ms, f.revoked_at_ms, u.username,
                    t.successor, s.used_at_ms IS NOT NULL
             FROM refresh_tokens t
             JOIN families f ON f.id = t.family_id
             JOIN users u ON u.id = f.user_id
             LEFT JOIN refresh_tokens s ON s.hash = t.successor
             WHERE t.hash = ?1",
            [rotation.presented.as_slice()],
            |row| {
                let successor: Option<Vec<u8>> = row.get(5)?;
                Ok(Presented {
                    family_id: row.get(0)?,
                    expires_at_ms: row.get(1)?,
                    used_at_ms: row.get(2)?,
                    family_revoked: row.get::<_, Option<i64>>(3)?.is_some(),
                    username: row.get(4)?,
                    successor: successor
                        .and_then(|hash| TokenHash::try_from(hash).ok())
                        .map(|hash| Ok::<_, rusqlite::Error>((hash, row.get(6)?)))
                        .transpose()?,
                })
            },
        )
        .optional()?;
    let step = decide(
        presented.as_ref(),
        rotation.now_ms,
        rotation.retry_window_ms,
    );
    let (writes, outcome) = plan(&step, rotation);
    apply(&tx, &writes)?;
    tx.commit()?;
    Ok(outcome.map(|again| Rotated {
        username: presented.map(|p| p.username).unwrap_or_default(),
        again,
    }))
}

/// Runs `writes` in `tx`, in order.
fn apply(tx: &Transaction<'_>, writes: &[Write]) -> Result<(), rusqlite::Error> {
    for write in writes {
        let values = write.values.iter().map(|value| match *value {
            Value::Int(n) => rusqlite::types::Value::Integer(n),
            Value::Hash(hash) => rusqlite::types::Value::Blob(hash.to_vec()),
        });
        tx.prepare_cached(write.sql)?
            .execute(rusqlite::params_from_iter(values))?;
    }
    Ok(())
}
