//! Property tests: random interleavings of requests, answers, 401s, refresh outcomes, logins,
//! sign-outs, aborts and clock jumps, checked against the invariants in `support/invariants.rs`.
#![cfg(not(target_arch = "wasm32"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

#[path = "support/invariants.rs"]
mod invariants;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn the_state_machine_keeps_its_invariants(events in proptest::collection::vec(any::<u8>(), 0..600)) {
        invariants::Model::run(&events);
    }
}

#[test]
fn a_long_busy_run_keeps_its_invariants() {
    // A deterministic long run as a floor under the random ones.
    let events: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let model = invariants::Model::run(&events);
    assert!(model.steps > 50_000);
}
