//! Counters the tests and benchmarks read through `GET /auth/stats` (test mode only).

use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

/// Event counters since start or the last reset.
#[derive(Debug, Default)]
pub struct Stats(Mutex<Snapshot>);

/// The counters at one moment, as served in JSON.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Calls to `POST /auth/login`, whatever their outcome.
    pub login_calls: u64,
    /// Logins that started a session.
    pub login_ok: u64,
    /// Calls to `/auth/refresh`, whatever their outcome.
    pub refresh_calls: u64,
    /// Refreshes that issued a new access token.
    pub refresh_ok: u64,
    /// Refreshes that rotated a token again within the retry window (its answer was lost).
    pub refresh_retried: u64,
    /// Used refresh tokens presented again (each revoked a family).
    pub reuse_detections: u64,
    /// Calls to `POST /auth/logout`.
    pub logout_calls: u64,
    /// Requests to any `/api/*` path.
    pub api_calls: u64,
    /// Responses with status 401, from any route.
    pub unauthorized_served: u64,
}

impl Stats {
    /// Adds one to the counter `field` picks, e.g. `stats.bump(|s| &mut s.refresh_calls)`.
    pub fn bump(&self, field: fn(&mut Snapshot) -> &mut u64) {
        let mut counters = self.lock();
        let counter = field(&mut counters);
        *counter = counter.saturating_add(1);
    }

    /// Every counter, read now.
    pub fn snapshot(&self) -> Snapshot {
        *self.lock()
    }

    /// Sets every counter back to zero.
    pub fn reset(&self) {
        *self.lock() = Snapshot::default();
    }

    fn lock(&self) -> MutexGuard<'_, Snapshot> {
        // Counters stay meaningful even if a holder panicked; there is no invariant to lose.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
