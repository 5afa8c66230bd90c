#![no_main]
// The state machine fed arbitrary event sequences, with the same invariant checks as the
// property tests.
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/invariants.rs"]
mod invariants;

fuzz_target!(|data: &[u8]| {
    invariants::Model::run(data);
});
