//! Drives the core state machine with an arbitrary sequence of events decoded from bytes and
//! checks the safety invariants after every step. Shared by the property tests
//! (`tests/core_properties.rs`) and the fuzz target (`fuzz/fuzz_targets/machine.rs`), so both
//! check the same claims:
//!
//! 1. at most one refresh is in flight;
//! 2. every call that waits is settled exactly once (and a forgotten one never);
//! 3. no request is sent more than twice (the original and one retry);
//! 4. a request for an origin outside `apiOrigins` never gets the token;
//! 5. after "expired" or "signed-out", no request carries a bearer until a login or a
//!    successful refresh ("signed-in").
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    unreachable_pub
)]

use std::collections::{BTreeMap, BTreeSet};

use authfetch::core::grant::parse_grant;
use authfetch::core::machine::RefreshTicket;
use authfetch::core::{
    Action, AuthError, Bearer, Begin, Destination, ErrorCode, Grant, Machine, Message, Options,
    RefreshOutcome, Reply, State, Value,
};

const API: &str = "https://api.example";
const FOREIGN: [&str; 3] = ["https://evil.example", "http://api.example", "null"];

/// The model around one machine: what the driver knows is in flight.
pub struct Model {
    machine: Machine,
    now: f64,
    next_id: u64,
    /// Requests sent and not yet answered, with the bearer they carried.
    on_the_wire: BTreeMap<u64, Option<Bearer>>,
    /// Calls that wait for the core to settle them.
    waiting: BTreeSet<u64>,
    /// Calls the caller gave up on.
    forgotten: BTreeSet<u64>,
    /// How many times each request was sent.
    sends: BTreeMap<u64, u32>,
    refresh_in_flight: Option<RefreshTicket>,
    session_over: bool,
    pub steps: usize,
}

/// A refresh answer's grant for `token`, living `expires_in` seconds when given.
pub fn grant(token: &str, expires_in: Option<f64>) -> Grant {
    let mut body = vec![("access_token", Value::string(token))];
    if let Some(seconds) = expires_in {
        body.push(("expires_in", Value::Number(seconds)));
    }
    parse_grant(
        Some(&Value::object(body)),
        "refresh",
        "access_token",
        "expires_in",
    )
    .unwrap()
}

impl Model {
    pub fn new(leeway_seconds: f64) -> Self {
        let options = Value::object([
            ("apiOrigins", Value::Array(vec![Value::string(API)])),
            ("refreshLeewaySeconds", Value::Number(leeway_seconds)),
        ]);
        Self {
            machine: Machine::new(Options::from_value(&options, "https://app.example").unwrap()),
            now: 1_800_000_000_000.0,
            next_id: 0,
            on_the_wire: BTreeMap::new(),
            waiting: BTreeSet::new(),
            forgotten: BTreeSet::new(),
            sends: BTreeMap::new(),
            refresh_in_flight: None,
            session_over: false,
            steps: 0,
        }
    }

    /// Runs every event `bytes` encodes, checking the invariants after each.
    pub fn run(bytes: &[u8]) -> Self {
        let mut bytes = bytes.iter().copied();
        let leeway = f64::from(bytes.next().unwrap_or(30) % 61);
        let mut model = Self::new(leeway);
        while let Some(kind) = bytes.next() {
            let mut arg = || bytes.next().unwrap_or(0);
            model.step(kind, &mut arg);
        }
        model
    }

    fn pick(set: impl IntoIterator<Item = u64>, index: u8) -> Option<u64> {
        let items: Vec<u64> = set.into_iter().collect();
        (!items.is_empty()).then(|| items[usize::from(index) % items.len()])
    }

    fn step(&mut self, kind: u8, arg: &mut impl FnMut() -> u8) {
        self.steps += 1;
        match kind % 12 {
            0 | 1 => {
                // A request to the API (most often) or elsewhere, with or without its own header.
                let foreign = arg().is_multiple_of(4);
                let origin = if foreign {
                    FOREIGN[usize::from(arg()) % FOREIGN.len()]
                } else {
                    API
                };
                let has_authorization = arg().is_multiple_of(8);
                let id = self.new_id();
                let begin = self.machine.begin(
                    id,
                    Destination {
                        origin,
                        has_authorization,
                    },
                    self.now,
                );
                if foreign || has_authorization {
                    assert_eq!(
                        begin,
                        Begin::PassThrough,
                        "invariant 4: {origin} / own header"
                    );
                } else {
                    match begin {
                        Begin::PassThrough => panic!("an API request passed through"),
                        Begin::Send(bearer) => self.send(id, bearer),
                        Begin::Wait => {
                            self.waiting.insert(id);
                        }
                    }
                }
            }
            2 | 3 => {
                // The server answers one request on the wire.
                let Some(id) = Self::pick(self.on_the_wire.keys().copied(), arg()) else {
                    return;
                };
                let sent_with = self.on_the_wire.remove(&id).unwrap();
                let status = [200, 401, 401, 403, 500][usize::from(arg()) % 5];
                let replayable = !arg().is_multiple_of(6);
                match self.machine.response(id, status, sent_with, replayable) {
                    Reply::Deliver => {}
                    Reply::Retry(bearer) => {
                        assert_ne!(Some(bearer), sent_with, "a retry uses a newer token");
                        self.send(id, Some(bearer));
                    }
                    Reply::Wait => {
                        assert_eq!(status, 401);
                        self.waiting.insert(id);
                    }
                }
            }
            4 | 5 => {
                // The refresh in flight finishes.
                let Some(ticket) = self.refresh_in_flight.take() else {
                    return;
                };
                let outcome = match arg() % 6 {
                    0 | 1 => RefreshOutcome::Granted(grant(
                        "t",
                        [None, Some(0.0), Some(1.0), Some(60.0), Some(3600.0)]
                            [usize::from(arg()) % 5],
                    )),
                    2 => RefreshOutcome::SessionOver,
                    3 => RefreshOutcome::Failed(AuthError::new(ErrorCode::Network, "down")),
                    4 => RefreshOutcome::Failed(AuthError::new(ErrorCode::Timeout, "slow")),
                    _ => RefreshOutcome::Failed(AuthError::new(ErrorCode::BadResponse, "junk")),
                };
                self.machine.refresh_finished(ticket, outcome, self.now);
            }
            6 => {
                let id = self.new_id();
                self.machine.refresh(id);
                self.waiting.insert(id);
            }
            7 => {
                let id = self.new_id();
                let with_token = !arg().is_multiple_of(3);
                self.machine.login_succeeded(
                    id,
                    with_token.then(|| grant("login", Some(60.0))),
                    self.now,
                );
                self.waiting.insert(id);
            }
            8 => match arg() % 3 {
                0 => self.machine.sign_out(),
                1 => self.machine.heard(Message::SignedOut),
                _ => self.machine.heard(Message::SignedIn),
            },
            9 => {
                // A caller aborts a waiting call, or one on the wire.
                let candidates: Vec<u64> = self
                    .waiting
                    .iter()
                    .chain(self.on_the_wire.keys())
                    .copied()
                    .collect();
                let Some(id) = Self::pick(candidates, arg()) else {
                    return;
                };
                self.machine.forget(id);
                self.waiting.remove(&id);
                self.on_the_wire.remove(&id);
                self.forgotten.insert(id);
            }
            10 => self.machine.revisit(self.now),
            _ => {
                // The clock moves: a little, or a lot (a laptop lid, a throttled tab).
                let step = u32::from(arg());
                self.now += if step > 250 {
                    86_400_000.0
                } else {
                    f64::from(step) * 500.0
                };
            }
        }
        self.drain();
    }

    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn send(&mut self, id: u64, bearer: Option<Bearer>) {
        if let Some(bearer) = bearer {
            assert!(
                !self.session_over,
                "invariant 5: a bearer after the session ended"
            );
            assert!(
                self.machine.token(bearer).is_some(),
                "the bearer names the held token"
            );
        }
        let sends = self.sends.entry(id).or_default();
        *sends += 1;
        assert!(*sends <= 2, "invariant 3: request {id} sent {sends} times");
        self.on_the_wire.insert(id, bearer);
    }

    fn settle(&mut self, id: u64) {
        assert!(
            !self.forgotten.contains(&id),
            "invariant 2: a forgotten call {id} was settled"
        );
        assert!(
            self.waiting.remove(&id),
            "invariant 2: call {id} settled without waiting (or twice)"
        );
    }

    fn drain(&mut self) {
        while let Some(action) = self.machine.poll_action() {
            match action {
                Action::StartRefresh(ticket) => {
                    assert!(
                        self.refresh_in_flight.is_none(),
                        "invariant 1: a second refresh in flight"
                    );
                    self.refresh_in_flight = Some(ticket);
                }
                Action::Send { id, bearer } => {
                    self.settle(id);
                    self.send(id, bearer);
                }
                Action::Deliver { id } | Action::Resolve { id } | Action::Fail { id, .. } => {
                    self.settle(id)
                }
                Action::Emit(State::SignedIn) => self.session_over = false,
                Action::Emit(State::Expired | State::SignedOut) => self.session_over = true,
                Action::Emit(State::Refreshing) | Action::Broadcast(_) => {}
            }
        }
        if self.refresh_in_flight.is_none() {
            assert!(
                self.waiting.is_empty(),
                "invariant 2: calls {:?} wait with no refresh to settle them",
                self.waiting
            );
        }
    }
}
