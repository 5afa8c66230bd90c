//! Deleting what no request can use any more: the families that are over (their newest token
//! expired, or revoked longer ago than `--revoked-retention`), with their tokens and reuse
//! records. Every instance runs it on its own schedule; on PostgreSQL, instances sweeping at once
//! skip each other's families.

use std::time::Duration;

use crate::config::Config;
use crate::store::{StoreError, Swept};
use crate::{AppState, auth, now};

/// What the flags ask of housekeeping.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    /// 0: no scheduled passes.
    interval_seconds: u64,
    revoked_retention_ms: i64,
    batch: u32,
}

impl From<&Config> for Settings {
    fn from(config: &Config) -> Self {
        Self {
            interval_seconds: config.housekeeping_interval,
            revoked_retention_ms: auth::seconds_to_millis(config.revoked_retention),
            batch: config.housekeeping_batch,
        }
    }
}

/// One pass, now.
pub(crate) async fn sweep(state: &AppState) -> Result<Swept, StoreError> {
    let settings = state.housekeeping;
    let now_ms = now::millis();
    state
        .store
        .sweep(
            now_ms,
            now_ms.saturating_sub(settings.revoked_retention_ms),
            settings.batch,
        )
        .await
}

/// Runs a pass every interval (the first one interval after start) until aborted. A pass that
/// fails, while the database is unreachable say, is reported and tried at the next interval.
pub(crate) fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let seconds = state.housekeeping.interval_seconds;
        if seconds == 0 {
            return;
        }
        let mut ticks = tokio::time::interval(Duration::from_secs(seconds));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if let Err(e) = sweep(&state).await {
                eprintln!("authfetch-server: housekeeping: {e}");
            }
        }
    })
}
