//! Property tests: random interleavings of requests, answers, 401s, network failures, the
//! refresh protocol (lock granted or not, stale tickets, answers, failures), logins, logouts,
//! restores, sign-outs from other tabs, aborts, wake-ups, clock jumps and `close()`, driven as
//! the JavaScript driver does and checked against the invariants in `support/invariants.rs`.
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

#[test]
fn a_long_run_through_many_clients_keeps_its_invariants() {
    // The run above is too regular to ever free its client; this one (xorshift) frees and
    // replaces it now and then, checking each freed client's calls were all settled.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let events: Vec<u8> = (0..200_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 56) as u8
        })
        .collect();
    let model = invariants::Model::run(&events);
    assert!(model.steps > 50_000);
    assert!(model.reopened > 10, "reopened {} times", model.reopened);
    for path in [
        "send",
        "send without a token",
        "retry",
        "recall",
        "pass through",
        "deliver",
        "fail aborted",
        "fail session expired",
        "fail network or timeout",
        "fail bad answer",
        "fail login",
        "resolve with a session",
        "resolve without a session",
        "start refresh",
        "call refresh",
        "unlock",
        "lock not granted",
        "stale ticket",
        "emit signed-in",
        "emit refreshing",
        "emit signed-out",
        "emit expired",
        "broadcast",
    ] {
        assert!(model.seen.contains(path), "the run never reached {path:?}");
    }
}

#[test]
fn both_login_kinds_and_every_leeway_keep_their_invariants() {
    // The first byte picks the leeway (mod 61) and, from 128 up, login answers without a token.
    for first in [0u8, 30, 60, 128, 158, 188] {
        let mut events = vec![first];
        events.extend((0..20_000u32).map(|i| (i.wrapping_mul(40_503) >> 7) as u8));
        invariants::Model::run(&events);
    }
}
