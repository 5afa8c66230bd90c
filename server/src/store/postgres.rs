//! The PostgreSQL store: one database shared by every instance.
//!
//! Transactions run at READ COMMITTED, and every change to a family takes that family's row
//! lock first (`SELECT … FOR UPDATE` in a rotation, the `UPDATE` itself in a revocation). So
//! changes to one family are serial across all instances, and the rotation's reads after the
//! lock see what the previous holder committed (each READ COMMITTED statement takes a new
//! snapshot): two instances handed the same token at once cannot both rotate it. Different
//! families never wait on each other.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Transaction};
use tokio_postgres::NoTls;
use tokio_postgres::types::ToSql;

use super::{
    Options, Presented, RefreshRefusal, Rotated, Rotation, Sizes, StoreError, TokenHash, Value,
    Write, decide, issue, plan, sql,
};

/// How long a request waits for a pooled connection, or for a new one to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// See `Postgres::open`. Each is below the store's 15-second bound on an operation.
const SESSION_SETTINGS: &str =
    "-c statement_timeout=10s -c lock_timeout=5s -c idle_in_transaction_session_timeout=10s";

/// The longest a start waits for its migration, other instances' included.
const MIGRATION_TIMEOUT: Duration = Duration::from_secs(60);

/// Taken for the length of the migration transaction, so instances starting at once migrate
/// one after the other (the value is arbitrary: "authfetc" in ASCII).
const MIGRATION_LOCK: i64 = 0x6175_7468_6665_7463;

/// Each entry brings the schema from the previous version to its own; applied versions are
/// recorded in `authfetch_schema_migrations`.
const MIGRATIONS: [&str; 1] = ["
CREATE TABLE users (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL
);
CREATE TABLE families (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT,
    revoked_reason TEXT
);
CREATE INDEX families_expires ON families(expires_at_ms);
CREATE INDEX families_revoked ON families(revoked_at_ms) WHERE revoked_at_ms IS NOT NULL;
CREATE TABLE refresh_tokens (
    hash BYTEA PRIMARY KEY,
    family_id BIGINT NOT NULL REFERENCES families(id),
    issued_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    used_at_ms BIGINT,
    successor BYTEA
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
CREATE TABLE reuse_detections (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    family_id BIGINT NOT NULL REFERENCES families(id),
    detected_at_ms BIGINT NOT NULL
);
CREATE INDEX reuse_detections_family ON reuse_detections(family_id);
CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
"];

/// A pool of connections to the database, cheap to clone.
#[derive(Clone)]
pub(crate) struct Postgres {
    pool: Pool,
}

type PgResult<T> = Result<T, tokio_postgres::Error>;

impl Postgres {
    /// Connects to `url` and brings the schema up to date.
    pub(crate) async fn open(url: &str, options: Options) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::new(format_args!("the PostgreSQL URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("authfetch-server");
        }
        // The database ends what the server gave up on: a statement or a wait for a family's
        // lock is cancelled before the request's own timeout, and a transaction whose instance
        // froze or lost its network releases its locks instead of holding them until TCP gives
        // up. A URL's own settings come after these, so they win.
        let settings = [SESSION_SETTINGS, config.get_options().unwrap_or("")].join(" ");
        config.options(settings.trim());
        let described = describe(&config);
        let manager = Manager::from_config(
            config,
            NoTls,
            // A connection the database closed (a restart, a failover) is noticed when it is
            // taken from the pool, without a round trip on the healthy ones.
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(StoreError::new)?;
        let store = Self { pool };
        tokio::time::timeout(MIGRATION_TIMEOUT, store.migrate())
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::new(format_args!(
                    "the migration did not finish in {} s",
                    MIGRATION_TIMEOUT.as_secs()
                )))
            })
            .map_err(|e| StoreError::new(format_args!("{described}: {e}")))?;
        Ok(store)
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::with_causes(&e))
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(error)?;
        // Other instances' migrations may hold the lock a while, and a migration may be long:
        // the sessions' request-sized timeouts are lifted for this one transaction.
        tx.batch_execute(&format!(
            "SET LOCAL lock_timeout = '{seconds}s';
             SET LOCAL statement_timeout = '{seconds}s';
             SELECT pg_advisory_xact_lock({MIGRATION_LOCK});
             CREATE TABLE IF NOT EXISTS authfetch_schema_migrations (
                 version INTEGER PRIMARY KEY,
                 applied_at_ms BIGINT NOT NULL
             );",
            seconds = MIGRATION_TIMEOUT.as_secs()
        ))
        .await
        .map_err(error)?;
        let current: i32 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM authfetch_schema_migrations",
                &[],
            )
            .await
            .map_err(error)?
            .try_get(0)
            .map_err(error)?;
        let known = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
        if current > known {
            return Err(StoreError::new(format_args!(
                "the schema is at version {current}, newer than this server's {known}: a newer server made it"
            )));
        }
        for (version, sql) in (1..).zip(MIGRATIONS) {
            if version > current {
                tx.batch_execute(sql).await.map_err(error)?;
                tx.execute(
                    "INSERT INTO authfetch_schema_migrations (version, applied_at_ms) VALUES ($1, $2)",
                    &[&version, &crate::now::millis()],
                )
                .await
                .map_err(error)?;
            }
        }
        tx.commit().await.map_err(error)
    }

    pub(crate) async fn insert_secret_if_absent(
        &self,
        name: &'static str,
        value: Vec<u8>,
    ) -> Result<Vec<u8>, StoreError> {
        let client = self.client().await?;
        // An insert that lost to another instance's waits for it and returns nothing; its
        // snapshot may predate the winner, so the winner is read in a statement of its own.
        match client
            .query_opt(sql::INSERT_SECRET_IF_ABSENT, &[&name, &value])
            .await
            .map_err(error)?
        {
            Some(row) => row.try_get(0).map_err(error),
            None => select_secret(&client, name).await,
        }
    }

    pub(crate) async fn replace_secret(
        &self,
        name: &'static str,
        expected: Vec<u8>,
        value: Vec<u8>,
    ) -> Result<Vec<u8>, StoreError> {
        let client = self.client().await?;
        client
            .execute(sql::REPLACE_SECRET, &[&value, &name, &expected])
            .await
            .map_err(error)?;
        select_secret(&client, name).await
    }

    pub(crate) async fn find_user(
        &self,
        username: String,
    ) -> Result<Option<(i64, String)>, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql::FIND_USER).await.map_err(error)?;
        let row = client
            .query_opt(&statement, &[&username])
            .await
            .map_err(error)?;
        row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .transpose()
            .map_err(error)
    }

    pub(crate) async fn upsert_user(
        &self,
        username: String,
        password_hash: String,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(sql::UPSERT_USER, &[&username, &password_hash])
            .await
            .map(drop)
            .map_err(error)
    }

    pub(crate) async fn start_family(
        &self,
        user_id: i64,
        token: TokenHash,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(error)?;
        let insert = tx.prepare_cached(sql::INSERT_FAMILY).await.map_err(error)?;
        let family_id: i64 = tx
            .query_one(
                &insert,
                &[&user_id, &now_ms, &now_ms.saturating_add(ttl_ms)],
            )
            .await
            .map_err(error)?
            .try_get(0)
            .map_err(error)?;
        apply(&tx, &issue(family_id, token, now_ms, ttl_ms))
            .await
            .map_err(error)?;
        tx.commit().await.map_err(error)
    }

    pub(crate) async fn rotate(
        &self,
        rotation: Rotation,
    ) -> Result<Result<Rotated, RefreshRefusal>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(error)?;
        let presented = presented(&tx, &rotation.presented).await.map_err(error)?;
        let step = decide(
            presented.as_ref(),
            rotation.now_ms,
            rotation.retry_window_ms,
        );
        let (writes, outcome) = plan(&step, &rotation);
        apply(&tx, &writes).await.map_err(error)?;
        tx.commit().await.map_err(error)?;
        Ok(outcome.map(|again| Rotated {
            username: presented.map(|p| p.username).unwrap_or_default(),
            again,
        }))
    }

    pub(crate) async fn revoke_family_of(
        &self,
        presented: TokenHash,
        now_ms: i64,
        reason: &'static str,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(sql::REVOKE_FAMILY_OF)
            .await
            .map_err(error)?;
        client
            .execute(&statement, &[&now_ms, &reason, &presented.as_slice()])
            .await
            .map(drop)
            .map_err(error)
    }

    pub(crate) async fn revoke_all(&self, now_ms: i64) -> Result<u64, StoreError> {
        let client = self.client().await?;
        client
            .execute(sql::REVOKE_ALL, &[&now_ms])
            .await
            .map_err(error)
    }

    pub(crate) async fn sweep_batch(
        &self,
        now_ms: i64,
        revoked_before_ms: i64,
        batch: u32,
    ) -> Result<(u64, u64), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(error)?;
        let batch = i64::from(batch);
        // SKIP LOCKED: families a rotation or another instance's sweep holds are left for the
        // next pass instead of waited for, and concurrent sweeps work on disjoint families.
        let doomed: Vec<i64> = tx
            .query(
                "SELECT id FROM families WHERE expires_at_ms <= $1 OR revoked_at_ms <= $2
                 LIMIT $3 FOR UPDATE SKIP LOCKED",
                &[&now_ms, &revoked_before_ms, &batch],
            )
            .await
            .map_err(error)?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<PgResult<_>>()
            .map_err(error)?;
        let tokens = tx
            .execute(
                "DELETE FROM refresh_tokens WHERE family_id = ANY($1)",
                &[&doomed],
            )
            .await
            .map_err(error)?;
        tx.execute(
            "DELETE FROM reuse_detections WHERE family_id = ANY($1)",
            &[&doomed],
        )
        .await
        .map_err(error)?;
        let families = tx
            .execute("DELETE FROM families WHERE id = ANY($1)", &[&doomed])
            .await
            .map_err(error)?;
        tx.commit().await.map_err(error)?;
        Ok((tokens, families))
    }

    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .simple_query(sql::PING)
            .await
            .map(drop)
            .map_err(error)
    }

    pub(crate) async fn sizes(&self) -> Result<Sizes, StoreError> {
        let client = self.client().await?;
        let row = client.query_one(sql::SIZES, &[]).await.map_err(error)?;
        let count = |index: usize| {
            row.try_get::<_, i64>(index)
                .map(|n| u64::try_from(n).unwrap_or(0))
                .map_err(error)
        };
        Ok(Sizes {
            families: count(0)?,
            refresh_tokens: count(1)?,
        })
    }
}

async fn select_secret(
    client: &deadpool_postgres::Client,
    name: &str,
) -> Result<Vec<u8>, StoreError> {
    client
        .query_one(sql::SELECT_SECRET, &[&name])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(error)
}

fn error(e: tokio_postgres::Error) -> StoreError {
    StoreError::with_causes(&e)
}

/// The presented token as the rotation must see it: its family locked first, then read.
async fn presented(tx: &Transaction<'_>, hash: &TokenHash) -> PgResult<Option<Presented>> {
    let family = tx
        .prepare_cached("SELECT family_id FROM refresh_tokens WHERE hash = $1")
        .await?;
    let Some(family) = tx.query_opt(&family, &[&hash.as_slice()]).await? else {
        return Ok(None);
    };
    let family_id: i64 = family.try_get(0)?;
    let lock = tx
        .prepare_cached(
            "SELECT f.revoked_at_ms IS NOT NULL, u.username
             FROM families f JOIN users u ON u.id = f.user_id
             WHERE f.id = $1 FOR UPDATE OF f",
        )
        .await?;
    let Some(family) = tx.query_opt(&lock, &[&family_id]).await? else {
        return Ok(None);
    };
    // Read again under the lock: the token may have been used, or deleted, meanwhile.
    let token = tx
        .prepare_cached(
            "SELECT t.expires_at_ms, t.used_at_ms, t.successor, s.used_at_ms IS NOT NULL
             FROM refresh_tokens t LEFT JOIN refresh_tokens s ON s.hash = t.successor
             WHERE t.hash = $1",
        )
        .await?;
    let Some(token) = tx.query_opt(&token, &[&hash.as_slice()]).await? else {
        return Ok(None);
    };
    let successor: Option<Vec<u8>> = token.try_get(2)?;
    let successor_used: bool = token.try_get(3)?;
    Ok(Some(Presented {
        family_id,
        expires_at_ms: token.try_get(0)?,
        used_at_ms: token.try_get(1)?,
        family_revoked: family.try_get(0)?,
        username: family.try_get(1)?,
        successor: successor
            .and_then(|hash| TokenHash::try_from(hash).ok())
            .map(|hash| (hash, successor_used)),
    }))
}

/// Runs `writes` in `tx`, in order, each statement prepared once per connection.
async fn apply(tx: &Transaction<'_>, writes: &[Write]) -> PgResult<()> {
    for write in writes {
        let values: Vec<Box<dyn ToSql + Sync + Send>> = write
            .values
            .iter()
            .map(|value| -> Box<dyn ToSql + Sync + Send> {
                match *value {
                    Value::Int(n) => Box::new(n),
                    Value::Hash(hash) => Box::new(hash.to_vec()),
                }
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = values
            .iter()
            .map(|value| value.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let statement = tx.prepare_cached(write.sql).await?;
        tx.execute(&statement, &refs).await?;
    }
    Ok(())
}

/// The database a URL names, without its password, for messages.
fn describe(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
        .map(|(host, port)| match host {
            tokio_postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
            tokio_postgres::config::Host::Unix(path) => format!("{}:{port}", path.display()),
        })
        .collect();
    format!(
        "postgres://{}@{}/{}",
        config.get_user().unwrap_or(""),
        hosts.join(","),
        config.get_dbname().unwrap_or("")
    )
}
