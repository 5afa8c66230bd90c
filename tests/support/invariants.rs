//! Drives the core state machine the way the JavaScript driver does, with an arbitrary sequence
//! of events decoded from bytes, and checks the safety invariants after every step. Shared by
//! the property tests (`tests/core_properties.rs`) and the fuzz target
//! (`fuzz/fuzz_targets/machine.rs`), so both check the same claims:
//!
//! 1. at most one refresh is in flight; its lock is requested only when none is held, released
//!    exactly once when the refresh ends (`Unlock`), and never left held;
//! 2. every call gets only the actions its protocol allows and is settled exactly once (a
//!    forgotten one never); no call waits without a refresh to settle it; and in the end, with
//!    every answer given, every call is settled;
//! 3. no request is sent more than twice: the original and, after a 401, one retry with a
//!    newer token (never for a body that cannot be replayed);
//! 4. a request for an origin outside `apiOrigins`, or with its own `Authorization`, passes
//!    through and never gets the token;
//! 5. after "expired" or "signed-out", no request carries a bearer until a login or a
//!    successful refresh ("signed-in");
//! 6. a refresh whose session was decided while it waited for the lock (a login, a logout,
//!    another tab's sign-out) never calls the refresh endpoint: the cookie is not presented;
//! 7. `restore()` resolves with whether a token is held; `refresh()` and `login()` resolve only
//!    with one; logout resolves with "no session";
//! 8. `close()` fails every call the core knows with `aborted`; afterwards nothing is sent or
//!    refreshed, and new calls fail with `aborted`;
//! 9. wake-ups (`revisit`) start a refresh at most once per 5 s, and an expiry is always a
//!    finite time a JavaScript `Date` can hold.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    unreachable_pub
)]

use std::collections::{BTreeMap, BTreeSet};

use authfetch::core::{
    Action, Bearer, Endpoint, ErrorCode, Failure, Machine, Message, Options, RefreshTicket, Replay,
    State,
};

const API: &str = "https://api.example";
/// Request URLs (as `Request.url` serialises them, or close) whose origin is the API's.
const API_URLS: [&str; 5] = [
    "https://api.example/v1/items",
    "https://api.example",
    "https://api.example/?q=1#top",
    "https://api.example#fragment",
    "https://api.example?query-without-path",
];
/// Request URLs for anything else, some made to look like the API. (The last two are not how
/// the browser serialises the API's URLs; the core compares origins exactly and withholds the
/// token.)
const FOREIGN_URLS: [&str; 12] = [
    "https://evil.example/steal",
    "http://api.example/plain-http",
    "https://api.example:8443/other-port",
    "https://api.example.evil.example/",
    "https://api.example@evil.example/",
    "https://evil.example/?https://api.example/",
    "blob:https://api.example/0d4c-11",
    "data:text/plain,https://api.example",
    "null",
    "",
    "https://API.example/upper-case",
    "https://api.example:443/default-port-written-out",
];
/// A JWT whose `exp` (1 s after the epoch) is long past: due for refresh the moment it arrives.
const EXPIRED_JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2ln";
/// The latest time a JavaScript `Date` can hold.
const LATEST_DATE_MS: f64 = 8.64e15;
/// How often wake-ups may refresh.
const WAKE_INTERVAL_MS: f64 = 5_000.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Api,
    Refresh,
    Restore,
    Login,
    Logout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The core holds it: an action about it is due, now or when a refresh ends.
    Core,
    /// Sent; the server has not answered yet.
    Wire,
    /// The driver's own request (login, logout) is out: the core hears of it at its answer.
    Driver,
}

#[derive(Debug)]
struct Call {
    kind: Kind,
    stage: Stage,
    /// Not for the API, or with its own `Authorization`: must pass through.
    may_pass: bool,
    replay: Replay,
    /// Withdrawn before its answer (`Recall`): its second send needs no 401 of its own.
    recalled: bool,
    sends: u32,
    first_bearer: Option<Bearer>,
    last_status: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refresh {
    Idle,
    /// `StartRefresh`: the driver waits for the lock.
    Locking(RefreshTicket),
    /// `CallRefresh`: the refresh endpoint was called and has not answered.
    Calling(RefreshTicket),
}

/// The model around one machine: what the driver knows is in flight.
pub struct Model {
    machine: Machine,
    now: f64,
    next_id: u64,
    calls: BTreeMap<u64, Call>,
    /// Tokens the API answered 401 for (a first send's).
    refused: Vec<Bearer>,
    /// Calls the caller gave up on.
    forgotten: BTreeSet<u64>,
    refresh: Refresh,
    lock_held: bool,
    /// `Unlock`s the last input must produce (a refresh ended).
    unlocks_due: u32,
    /// The lock was granted for this current ticket: `CallRefresh` must follow.
    call_due: Option<RefreshTicket>,
    /// A login, logout or another tab's sign-out decided the session since the refresh started.
    decided: bool,
    session_over: bool,
    closed: bool,
    /// The input is `close()` or a call on a closed client: failures must be `aborted`.
    aborting: bool,
    /// The input is `revisit`.
    waking: bool,
    last_wake_refresh: Option<f64>,
    /// The call the input began.
    begun: Option<u64>,
    token_less_login: bool,
    leeway_seconds: f64,
    /// Clients freed and replaced by a new one.
    pub reopened: usize,
    /// What happened at least once in the run (for coverage floors).
    pub seen: BTreeSet<&'static str>,
    pub steps: usize,
}

impl Model {
    /// A client for the API origin with this leeway; `token_less_login`: login answers carry no
    /// token (`loginTokenField: null`), so a refresh follows each login.
    pub fn new(leeway_seconds: f64, token_less_login: bool) -> Self {
        Self {
            machine: Self::machine(leeway_seconds, token_less_login),
            now: 1_800_000_000_000.0,
            next_id: 0,
            calls: BTreeMap::new(),
            refused: Vec::new(),
            forgotten: BTreeSet::new(),
            refresh: Refresh::Idle,
            lock_held: false,
            unlocks_due: 0,
            call_due: None,
            decided: false,
            session_over: false,
            closed: false,
            aborting: false,
            waking: false,
            last_wake_refresh: None,
            begun: None,
            token_less_login,
            leeway_seconds,
            reopened: 0,
            seen: BTreeSet::new(),
            steps: 0,
        }
    }

    fn machine(leeway_seconds: f64, token_less_login: bool) -> Machine {
        // Through the driver's configuration text, as `new AuthClient(options)` arrives.
        let login_field = if token_less_login { "" } else { "access_token" };
        let lines = format!("access_token\n{login_field}\nexpires_in\n{API}");
        Machine::new(
            Options::from_lines(lines.as_bytes(), leeway_seconds * 1000.0, 30_000).unwrap(),
        )
    }

    /// Runs every event `bytes` encodes, checking the invariants after each, then answers
    /// everything still out and checks that every call was settled.
    pub fn run(bytes: &[u8]) -> Self {
        let mut bytes = bytes.iter().copied();
        let first = bytes.next().unwrap_or(30);
        let mut model = Self::new(f64::from(first % 61), first >= 128);
        while let Some(kind) = bytes.next() {
            let mut arg = || bytes.next().unwrap_or(0);
            model.step(kind, &mut arg);
        }
        model.finish();
        model
    }

    fn pick(&self, stages: &[Stage], index: u8) -> Option<u64> {
        let ids: Vec<u64> = self
            .calls
            .iter()
            .filter(|(_, call)| stages.contains(&call.stage))
            .map(|(id, _)| *id)
            .collect();
        (!ids.is_empty()).then(|| ids[usize::from(index) % ids.len()])
    }

    fn new_call(&mut self, kind: Kind, stage: Stage) -> u64 {
        self.next_id += 1;
        self.calls.insert(
            self.next_id,
            Call {
                kind,
                stage,
                may_pass: false,
                replay: Replay::AfterAnswer,
                recalled: false,
                sends: 0,
                first_bearer: None,
                last_status: None,
            },
        );
        self.next_id
    }

    fn call(&mut self, id: u64) -> &mut Call {
        self.calls.get_mut(&id).unwrap()
    }

    fn step(&mut self, kind: u8, arg: &mut impl FnMut() -> u8) {
        self.steps += 1;
        match kind % 16 {
            0 | 1 => self.begin(arg),
            2 | 3 => {
                // The server answers one request on the wire.
                let Some(id) = self.pick(&[Stage::Wire], arg()) else {
                    return;
                };
                let status = [200, 401, 401, 403, 500][usize::from(arg()) % 5];
                let call = self.call(id);
                call.stage = Stage::Core;
                call.last_status = Some(status);
                if status == 401
                    && let Some(bearer) = call.first_bearer.filter(|_| call.sends == 1)
                {
                    self.refused.push(bearer);
                }
                self.machine.response(id, status);
            }
            4 => self.lock(!arg().is_multiple_of(5)),
            5 | 6 => self.answer_refresh(arg),
            7 => {
                let id = self.new_call(Kind::Refresh, Stage::Core);
                self.aborting = self.closed;
                self.machine.refresh(id);
            }
            8 => {
                let id = self.new_call(Kind::Restore, Stage::Core);
                self.aborting = self.closed;
                self.machine.restore(id);
            }
            9 => {
                // `login()` sends its request; the core hears of it when it is answered.
                self.new_call(Kind::Login, Stage::Driver);
            }
            10 => {
                let Some(id) = self.pick(&[Stage::Driver], arg()) else {
                    return;
                };
                self.answer_driver_call(id, arg());
            }
            11 => match arg() % 4 {
                0 => self.sign_out(),
                1 => {
                    self.decided |= !self.closed;
                    self.machine.heard(Message::SignedOut);
                }
                2 => self.machine.heard(Message::SignedIn),
                _ => {
                    // `logout()`: forget the token at once, then tell the server.
                    self.sign_out();
                    self.new_call(Kind::Logout, Stage::Driver);
                }
            },
            12 => {
                // A caller aborts a call: one the core holds, one on the wire, or the driver's.
                let Some(id) = self.pick(&[Stage::Core, Stage::Wire, Stage::Driver], arg()) else {
                    return;
                };
                if self.calls[&id].stage != Stage::Driver {
                    self.machine.forget(id);
                }
                self.calls.remove(&id);
                self.forgotten.insert(id);
            }
            13 => {
                // A request on the wire gets no answer.
                let Some(id) = self.pick(&[Stage::Wire], arg()) else {
                    return;
                };
                self.call(id).stage = Stage::Core;
                let failure = if arg().is_multiple_of(2) {
                    Failure::Network
                } else {
                    Failure::Timeout
                };
                self.machine.failed(id, failure, Endpoint::Api);
            }
            14 => {
                let which = arg();
                if self.closed && which.is_multiple_of(2) {
                    // The page makes a new client.
                    self.reopen();
                    return;
                } else if which.is_multiple_of(8) {
                    self.closed = true;
                    self.aborting = true;
                    self.machine.close();
                } else {
                    self.waking = true;
                    self.machine.revisit(self.now);
                }
            }
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

    fn begin(&mut self, arg: &mut impl FnMut() -> u8) {
        let foreign = arg().is_multiple_of(4);
        let url = if foreign {
            FOREIGN_URLS[usize::from(arg()) % FOREIGN_URLS.len()]
        } else {
            API_URLS[usize::from(arg()) % API_URLS.len()]
        };
        let has_authorization = arg().is_multiple_of(8);
        let replay = match arg() % 6 {
            0 => Replay::Never,
            1 | 2 => Replay::AfterAnswer,
            _ => Replay::Anytime,
        };
        let id = self.new_call(Kind::Api, Stage::Core);
        let call = self.call(id);
        call.may_pass = foreign || has_authorization;
        call.replay = replay;
        self.begun = Some(id);
        self.aborting = self.closed;
        self.machine
            .begin(id, url.as_bytes(), has_authorization, replay, self.now);
    }

    fn sign_out(&mut self) {
        self.decided = true;
        self.machine.sign_out();
    }

    /// The lock for the refresh that waits for it is granted (or, `granted` false, not in time).
    fn lock(&mut self, granted: bool) {
        let Refresh::Locking(ticket) = self.refresh else {
            return;
        };
        // After `close()` the lock was let go already; a refusal then releases nothing.
        self.unlocks_due = u32::from(granted || !self.closed);
        if !granted {
            self.seen.insert("lock not granted");
            self.refresh = Refresh::Idle;
            self.machine.refresh_failed(ticket, Failure::LockNotGranted);
            return;
        }
        self.lock_held = true;
        if self.closed || self.decided {
            // Invariant 6: released without calling the endpoint.
            self.seen.insert("stale ticket");
            self.refresh = Refresh::Idle;
        } else {
            self.unlocks_due = 0;
            self.call_due = Some(ticket);
        }
        self.machine.refresh_permitted(ticket);
    }

    /// The refresh endpoint answers (or does not).
    fn answer_refresh(&mut self, arg: &mut impl FnMut() -> u8) {
        let Refresh::Calling(ticket) = self.refresh else {
            return;
        };
        self.refresh = Refresh::Idle;
        // `close()` released the lock of a refresh on the wire: its answer releases nothing.
        self.unlocks_due = u32::from(!self.closed);
        let with_lifetime = |seconds: &str| {
            format!(r#"{{"access_token":"t","expires_in":{seconds}}}"#).into_bytes()
        };
        let (status, body): (u16, Option<Vec<u8>>) = match arg() % 10 {
            0 | 1 => {
                let lifetime = ["null", "0", "1", "60", "3600", "1e308"][usize::from(arg()) % 6];
                (200, Some(with_lifetime(lifetime)))
            }
            2 => {
                let body = format!(r#"{{"access_token":"{EXPIRED_JWT}"}}"#);
                (200, Some(body.into_bytes()))
            }
            3 => (401, None),
            4 => (403, Some(b"{}".to_vec())),
            5 => (500, Some(with_lifetime("60"))),
            6 => (
                200,
                [None, Some(b"<html>".to_vec())][usize::from(arg()) % 2].clone(),
            ),
            7 => (
                201,
                Some(br#"{"access_token":"not a header value"}"#.to_vec()),
            ),
            8 => {
                self.machine.refresh_failed(ticket, Failure::Network);
                return;
            }
            _ => {
                self.machine.refresh_failed(ticket, Failure::Timeout);
                return;
            }
        };
        self.machine
            .refresh_answered(ticket, status, body.as_deref(), self.now);
    }

    /// A login or logout request the driver sent is answered (or not).
    fn answer_driver_call(&mut self, id: u64, choice: u8) {
        let call = self.call(id);
        call.stage = Stage::Core;
        let kind = call.kind;
        self.aborting = self.closed && kind == Kind::Login;
        if kind == Kind::Logout {
            match choice % 4 {
                0 => self.machine.failed(id, Failure::Network, Endpoint::Logout),
                1 => self.machine.logout_answered(id, 500),
                2 => self.machine.logout_answered(id, 401),
                _ => self.machine.logout_answered(id, 200),
            }
            return;
        }
        let (status, body): (u16, Option<&[u8]>) = match choice % 8 {
            0 | 1 => (200, Some(br#"{"access_token":"l","expires_in":60}"#)),
            2 => (200, Some(br#"{"access_token":"l"}"#)),
            3 => (200, Some(br#"{"access_token":"l","expires_in":1e308}"#)),
            4 => (401, Some(br#"{"error":"invalid_grant"}"#)),
            5 => (200, Some(b"junk")),
            6 => (502, None),
            _ => {
                let failure = if choice >= 128 {
                    Failure::Timeout
                } else {
                    Failure::Network
                };
                self.aborting = false;
                self.machine.failed(id, failure, Endpoint::Login);
                return;
            }
        };
        self.machine.login_answered(id, status, body, self.now);
    }

    /// The page frees this client (after every answer it awaited came) and makes a new one.
    fn reopen(&mut self) {
        self.finish();
        let (steps, reopened, now, next_id) = (self.steps, self.reopened, self.now, self.next_id);
        let seen = std::mem::take(&mut self.seen);
        *self = Self::new(self.leeway_seconds, self.token_less_login);
        self.seen = seen;
        self.steps = steps;
        self.reopened = reopened + 1;
        self.now = now;
        self.next_id = next_id;
    }

    /// Every answer still out arrives (the refresh grants a token): afterwards no call may be
    /// left unsettled.
    fn finish(&mut self) {
        for _ in 0..100_000 {
            match self.refresh {
                Refresh::Locking(_) => self.lock(true),
                Refresh::Calling(_) => {
                    let mut answers = [0, 4].into_iter();
                    self.answer_refresh(&mut || answers.next().unwrap_or(0));
                }
                Refresh::Idle => {
                    if let Some(id) = self.pick(&[Stage::Wire], 0) {
                        self.call(id).stage = Stage::Core;
                        self.call(id).last_status = Some(200);
                        self.machine.response(id, 200);
                    } else if let Some(id) = self.pick(&[Stage::Driver], 0) {
                        self.answer_driver_call(id, 3);
                    } else {
                        break;
                    }
                }
            }
            self.drain();
        }
        assert!(
            self.calls.is_empty(),
            "invariant 2: calls never settled: {:?}",
            self.calls
        );
    }

    fn send(&mut self, id: u64, bearer: Option<Bearer>) {
        assert!(!self.closed, "invariant 8: request {id} sent after close");
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
        let call = self.calls.get_mut(&id).unwrap();
        assert!(!call.may_pass, "invariant 4: request {id} got a token");
        call.sends += 1;
        assert!(
            call.sends <= 2,
            "invariant 3: request {id} sent {} times",
            call.sends
        );
        if call.sends == 1 {
            call.first_bearer = bearer;
        } else {
            assert!(
                call.last_status == Some(401) || call.recalled,
                "invariant 3: a retry without a 401 or a recall"
            );
            assert!(
                call.replay != Replay::Never,
                "invariant 3: a streamed body replayed"
            );
            assert!(
                (bearer.is_some() && bearer != call.first_bearer)
                    || (bearer.is_none() && call.recalled && self.session_over),
                "invariant 3: a retry uses a newer token (or, recalled when the session ended, none)"
            );
        }
        call.stage = Stage::Wire;
    }

    /// The call an action settles or moves, checked against what its protocol allows.
    fn settle(&mut self, id: u64, action: &Action) -> Call {
        assert!(
            !self.forgotten.contains(&id),
            "invariant 2: forgotten call {id} got {action:?}"
        );
        let Some(call) = self.calls.remove(&id) else {
            panic!("invariant 2: {action:?} for call {id}, which is not alive (settled twice?)")
        };
        let close_fails_it = self.aborting && matches!(action, Action::Fail { .. });
        assert!(
            call.stage == Stage::Core || (close_fails_it && call.stage == Stage::Wire),
            "invariant 2: {action:?} for call {id} in stage {:?}",
            call.stage
        );
        call
    }

    fn drain(&mut self) {
        while let Some(action) = self.machine.poll_action() {
            self.seen.insert(label(&action));
            match &action {
                Action::StartRefresh(ticket) => {
                    assert!(!self.closed, "invariant 8: a refresh after close");
                    assert_eq!(
                        self.refresh,
                        Refresh::Idle,
                        "invariant 1: a second refresh in flight"
                    );
                    assert!(
                        !self.lock_held,
                        "invariant 1: the lock is requested while still held"
                    );
                    if self.waking {
                        assert!(
                            self.machine.is_authenticated(),
                            "a wake-up refreshes only a held token"
                        );
                        assert!(
                            self.last_wake_refresh
                                .is_none_or(|last| self.now - last >= WAKE_INTERVAL_MS),
                            "invariant 9: wake-ups refreshed twice within 5 s"
                        );
                        self.last_wake_refresh = Some(self.now);
                    }
                    self.refresh = Refresh::Locking(*ticket);
                    self.decided = false;
                }
                Action::CallRefresh(ticket) => {
                    assert_eq!(
                        self.call_due.take(),
                        Some(*ticket),
                        "invariant 6: the refresh endpoint called without a granted, current ticket"
                    );
                    assert!(self.lock_held);
                    self.refresh = Refresh::Calling(*ticket);
                }
                Action::Unlock => {
                    if self.unlocks_due > 0 {
                        self.unlocks_due -= 1;
                    } else {
                        // `close()` releases at once; the refresh's own end releases again,
                        // which the driver ignores when it holds no lock.
                        assert!(
                            self.closed,
                            "invariant 1: an Unlock no refresh end explains"
                        );
                    }
                    self.lock_held = false;
                }
                Action::Recall { id } => {
                    let refused = self.refused.clone();
                    let call = self.call(*id);
                    assert_eq!(
                        call.stage,
                        Stage::Wire,
                        "invariant 10: only a request on its way is recalled"
                    );
                    assert_eq!(
                        call.replay,
                        Replay::Anytime,
                        "invariant 10: only a safe bodiless request is recalled"
                    );
                    assert_eq!(call.sends, 1, "invariant 10: a retry is not recalled");
                    assert!(
                        call.first_bearer.is_some_and(|b| refused.contains(&b)),
                        "invariant 10: recalled without a 401 for its token"
                    );
                    call.stage = Stage::Core;
                    call.recalled = true;
                }
                Action::Send { id, bearer } => {
                    let call = self.settle(*id, &action);
                    assert_eq!(call.kind, Kind::Api, "only API requests are sent");
                    if call.sends == 1 {
                        self.seen.insert("retry");
                    }
                    self.calls.insert(*id, call);
                    self.send(*id, *bearer);
                }
                Action::PassThrough { id } => {
                    let call = self.settle(*id, &action);
                    assert_eq!(call.kind, Kind::Api);
                    assert!(
                        call.may_pass && call.sends == 0,
                        "invariant 4: an API request {id} passed through"
                    );
                    assert_eq!(self.begun, Some(*id), "passed through only when begun");
                }
                Action::Deliver { id } => {
                    let call = self.settle(*id, &action);
                    assert_eq!(call.kind, Kind::Api);
                    assert!(
                        call.last_status.is_some(),
                        "request {id} delivered without an answer"
                    );
                }
                Action::Fail { id, error } => {
                    let call = self.settle(*id, &action);
                    if self.aborting {
                        assert_eq!(
                            error.code,
                            ErrorCode::Aborted,
                            "invariant 8: {:?} call {id} after close: {error:?}",
                            call.kind
                        );
                    }
                }
                Action::Resolve { id, session } => {
                    let call = self.settle(*id, &action);
                    let authenticated = self.machine.is_authenticated();
                    match call.kind {
                        Kind::Api => panic!("an API request {id} resolved"),
                        Kind::Restore => assert_eq!(
                            *session, authenticated,
                            "invariant 7: restore() resolves with whether a token is held"
                        ),
                        Kind::Refresh | Kind::Login => assert!(
                            *session && authenticated,
                            "invariant 7: {:?} resolved without a token",
                            call.kind
                        ),
                        Kind::Logout => assert!(!*session, "invariant 7: logout kept a session"),
                    }
                }
                Action::Emit(State::SignedIn) => self.session_over = false,
                Action::Emit(State::Expired | State::SignedOut) => self.session_over = true,
                Action::Broadcast(Message::SignedIn) => {
                    // A login succeeded: the session is decided.
                    self.decided = true;
                }
                Action::Emit(State::Refreshing) | Action::Broadcast(Message::SignedOut) => {}
            }
        }
        self.check_quiet();
    }

    /// What must hold once the core has nothing more to say.
    fn check_quiet(&mut self) {
        assert_eq!(
            self.unlocks_due, 0,
            "invariant 1: a refresh ended without releasing its lock"
        );
        assert_eq!(
            self.call_due, None,
            "the lock was granted but the refresh endpoint was not called"
        );
        if self.refresh == Refresh::Idle {
            assert!(!self.lock_held, "invariant 1: the lock is left held");
            let waiting: Vec<u64> = self
                .calls
                .iter()
                .filter(|(_, call)| call.stage == Stage::Core)
                .map(|(id, _)| *id)
                .collect();
            assert!(
                waiting.is_empty(),
                "invariant 2: calls {waiting:?} wait with no refresh to settle them"
            );
        }
        if let Some(id) = self.begun.take() {
            let may_pass = self.calls.get(&id).is_some_and(|call| call.may_pass);
            assert!(
                !may_pass || self.closed,
                "invariant 4: request {id} did not pass through"
            );
        }
        if self.closed {
            assert!(!self.machine.is_authenticated(), "a token held after close");
            assert!(
                self.calls.values().all(|call| call.stage == Stage::Driver),
                "invariant 8: close left calls alive: {:?}",
                self.calls
            );
        }
        if let Some(at) = self.machine.expires_at() {
            assert!(
                at.is_finite() && at <= LATEST_DATE_MS,
                "invariant 9: expiry {at}"
            );
        }
        self.aborting = false;
        self.waking = false;
    }
}

fn label(action: &Action) -> &'static str {
    match action {
        Action::Send { bearer: None, .. } => "send without a token",
        Action::Send { .. } => "send",
        Action::PassThrough { .. } => "pass through",
        Action::Deliver { .. } => "deliver",
        Action::Fail { error, .. } => match error.code {
            ErrorCode::Aborted => "fail aborted",
            ErrorCode::SessionExpired => "fail session expired",
            ErrorCode::Network | ErrorCode::Timeout => "fail network or timeout",
            ErrorCode::BadResponse | ErrorCode::RefreshFailed => "fail bad answer",
            ErrorCode::LoginFailed => "fail login",
        },
        Action::Resolve { session: true, .. } => "resolve with a session",
        Action::Resolve { session: false, .. } => "resolve without a session",
        Action::StartRefresh(_) => "start refresh",
        Action::CallRefresh(_) => "call refresh",
        Action::Unlock => "unlock",
        Action::Emit(State::SignedIn) => "emit signed-in",
        Action::Emit(State::Refreshing) => "emit refreshing",
        Action::Emit(State::SignedOut) => "emit signed-out",
        Action::Emit(State::Expired) => "emit expired",
        Action::Broadcast(_) => "broadcast",
        Action::Recall { .. } => "recall",
    }
}
