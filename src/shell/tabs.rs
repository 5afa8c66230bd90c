//! Coordination between tabs of the same origin: the seam the Web Locks and BroadcastChannel
//! work plugs into. Today refresh is single flight within this tab only and nothing is
//! broadcast; `run_exclusive` and `broadcast` are the two places that change.

#[allow(unused_imports)]
use crate::prelude::*;

use core::future::Future;

use crate::core::{AuthError, Message};

/// The cross-tab side of one client.
pub(crate) struct Tabs {
    _enabled: bool,
}

impl Tabs {
    /// Coordination for the refresh endpoint at `refresh_url` (absolute), if `enabled`.
    pub(crate) fn new(_refresh_url: &str, enabled: bool) -> Self {
        Self { _enabled: enabled }
    }

    /// Runs `work` (one refresh) so that no other tab refreshes at the same time.
    pub(crate) async fn run_exclusive<T>(
        &self,
        work: impl Future<Output = T>,
    ) -> Result<T, AuthError> {
        Ok(work.await)
    }

    /// Tells the other tabs `message`.
    pub(crate) fn broadcast(&self, _message: Message) {}
}
