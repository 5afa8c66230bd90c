//! The token state machine driven with a scripted clock, as the JavaScript driver drives it
//! (inputs, then `poll_action` until `None`): single flight, retry once, session end,
//! failures, expiry and leeway, across-tab messages, the refresh protocol with its lock,
//! `restore()`, `close()` and wake-ups.
#![cfg(not(target_arch = "wasm32"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use authfetch::core::grant::parse_grant;

#[path = "support/invariants.rs"]
mod invariants;

use authfetch::core::{
    Action, AuthError, Bearer, Endpoint, ErrorCode, Failure, Machine, Message, Options,
    RefreshOutcome, RefreshTicket, Replay, State,
};

const API: &str = "https://api.example";
const URL: &str = "https://api.example/v1/items";
const T0: f64 = 1_800_000_000_000.0;

/// What one input did with one call, as the old return values told it.
#[derive(Debug, Clone, PartialEq)]
enum Fate {
    /// `Send`: go now, with this token or none.
    Send(Option<Bearer>),
    PassThrough,
    Deliver,
    Fail(AuthError),
    /// `Resolve` with whether a session exists.
    Resolve(bool),
    /// No action about the call: the core holds it.
    Wait,
}

fn subject(action: &Action) -> Option<u64> {
    match action {
        Action::Send { id, .. }
        | Action::PassThrough { id }
        | Action::Deliver { id }
        | Action::Fail { id, .. }
        | Action::Resolve { id, .. } => Some(*id),
        _ => None,
    }
}

/// The driver's side: a machine and the actions polled from it not looked at yet.
struct Driver {
    m: Machine,
    queued: Vec<Action>,
}

impl Driver {
    fn poll(&mut self) {
        while let Some(action) = self.m.poll_action() {
            self.queued.push(action);
        }
    }

    /// Every action not looked at yet.
    fn drain(&mut self) -> Vec<Action> {
        self.poll();
        std::mem::take(&mut self.queued)
    }

    /// Runs `input` and takes the first action it produced about call `id` (the others stay
    /// queued for [`Driver::drain`]).
    fn fate(&mut self, id: u64, input: impl FnOnce(&mut Machine)) -> Fate {
        self.poll();
        let start = self.queued.len();
        input(&mut self.m);
        self.poll();
        let Some(index) = self.queued[start..]
            .iter()
            .position(|action| subject(action) == Some(id))
        else {
            return Fate::Wait;
        };
        match self.queued.remove(start + index) {
            Action::Send { bearer, .. } => Fate::Send(bearer),
            Action::PassThrough { .. } => Fate::PassThrough,
            Action::Deliver { .. } => Fate::Deliver,
            Action::Fail { error, .. } => Fate::Fail(error),
            Action::Resolve { session, .. } => Fate::Resolve(session),
            other => unreachable!("{other:?}"),
        }
    }

    /// An API request (replayable, no `Authorization` of its own) wants to go out.
    fn begin(&mut self, id: u64, now: f64) -> Fate {
        self.fate(id, |m| {
            m.begin(id, URL.as_bytes(), false, Replay::AfterAnswer, now)
        })
    }

    fn response(&mut self, id: u64, status: u16) -> Fate {
        self.fate(id, |m| m.response(id, status))
    }

    /// The lock for `ticket` is granted: the endpoint must be called, and nothing else.
    fn permit(&mut self, ticket: RefreshTicket) {
        self.poll();
        let start = self.queued.len();
        self.m.refresh_permitted(ticket);
        self.poll();
        assert_eq!(self.queued[start..], [Action::CallRefresh(ticket)]);
        self.queued.truncate(start);
    }

    /// The refresh of `ticket` runs and the endpoint answers `status` with `body`: the lock is
    /// released first (the waiters' actions stay queued).
    fn answer(&mut self, ticket: RefreshTicket, status: u16, body: Option<&[u8]>, now: f64) {
        self.permit(ticket);
        self.answered(ticket, status, body, now);
    }

    /// The endpoint, already called, answers.
    fn answered(&mut self, ticket: RefreshTicket, status: u16, body: Option<&[u8]>, now: f64) {
        self.ends_refresh(|m| m.refresh_answered(ticket, status, body, now));
    }

    /// Runs `input`, which ends the refresh: the lock is released first (the waiters' actions
    /// stay queued).
    fn ends_refresh(&mut self, input: impl FnOnce(&mut Machine)) {
        self.poll();
        let start = self.queued.len();
        input(&mut self.m);
        self.poll();
        assert_eq!(
            self.queued.get(start),
            Some(&Action::Unlock),
            "released first"
        );
        self.queued.remove(start);
    }

    /// The refresh of `ticket` is granted a token (`expires_in` seconds, when given).
    fn grant(&mut self, ticket: RefreshTicket, token: &str, expires_in: Option<f64>, now: f64) {
        self.answer(ticket, 200, Some(&token_body(token, expires_in)), now);
    }

    /// The refresh of `ticket` runs and gets no answer.
    fn fail(&mut self, ticket: RefreshTicket, failure: Failure) {
        self.permit(ticket);
        self.ends_refresh(|m| m.refresh_failed(ticket, failure));
    }
}

/// A refresh answer's grant for `token`, living `expires_in` seconds when given.
fn grant(token: &str, expires_in: Option<f64>) -> authfetch::core::Grant {
    parse_grant(
        Some(&token_body(token, expires_in)),
        "refresh",
        b"access_token",
        b"expires_in",
    )
    .unwrap()
}

fn token_body(token: &str, expires_in: Option<f64>) -> Vec<u8> {
    match expires_in {
        Some(seconds) => format!(r#"{{"access_token":"{token}","expires_in":{seconds}}}"#),
        None => format!(r#"{{"access_token":"{token}"}}"#),
    }
    .into_bytes()
}

fn machine() -> Driver {
    machine_with(|_| {})
}

fn machine_with(change: impl FnOnce(&mut Options)) -> Driver {
    let mut options = Options::new(vec![API.to_owned()]);
    change(&mut options);
    Driver {
        m: Machine::new(options),
        queued: Vec::new(),
    }
}

fn tickets(actions: &[Action]) -> Vec<RefreshTicket> {
    actions
        .iter()
        .filter_map(|a| {
            if let Action::StartRefresh(t) = a {
                Some(*t)
            } else {
                None
            }
        })
        .collect()
}

fn one_ticket(actions: &[Action]) -> RefreshTicket {
    let found = tickets(actions);
    assert_eq!(found.len(), 1, "exactly one refresh: {actions:?}");
    found[0]
}

fn emitted(actions: &[Action]) -> Vec<State> {
    actions
        .iter()
        .filter_map(|a| {
            if let Action::Emit(s) = a {
                Some(*s)
            } else {
                None
            }
        })
        .collect()
}

fn fails(actions: &[Action], id: u64) -> Option<&AuthError> {
    actions.iter().find_map(|a| match a {
        Action::Fail { id: failed, error } if *failed == id => Some(error),
        _ => None,
    })
}

/// Signs in through a first refresh (a fresh page with a live cookie) and returns the bearer.
fn signed_in(d: &mut Driver, expires_in: Option<f64>, now: f64) -> Bearer {
    assert_eq!(d.begin(0, now), Fate::Wait);
    let ticket = one_ticket(&d.drain());
    d.grant(ticket, "first", expires_in, now);
    let actions = d.drain();
    let Some(Action::Send {
        id: 0,
        bearer: Some(bearer),
    }) = actions
        .iter()
        .find(|a| matches!(a, Action::Send { .. }))
        .cloned()
    else {
        panic!("no send: {actions:?}")
    };
    assert_eq!(d.response(0, 200), Fate::Deliver);
    bearer
}

#[test]
fn a_fresh_page_refreshes_before_its_first_api_call() {
    let mut d = machine();
    assert_eq!(d.begin(1, T0), Fate::Wait);
    let actions = d.drain();
    assert_eq!(emitted(&actions), [State::Refreshing]);
    let ticket = one_ticket(&actions);
    // The driver takes the lock, is told to call the endpoint, and reports its answer.
    d.m.refresh_permitted(ticket);
    assert_eq!(d.drain(), [Action::CallRefresh(ticket)]);
    d.m.refresh_answered(
        ticket,
        200,
        Some(br#" {"access_token": "t", "expires_in": 300} "#),
        T0 + 5.0,
    );
    let actions = d.drain();
    assert_eq!(actions[0], Action::Unlock, "the lock goes first");
    assert_eq!(emitted(&actions), [State::SignedIn]);
    let bearer = match actions.last() {
        Some(Action::Send {
            id: 1,
            bearer: Some(bearer),
        }) => *bearer,
        other => panic!("{other:?}"),
    };
    assert_eq!(d.m.token(bearer).unwrap().expose(), b"t");
    assert!(d.m.is_authenticated());
    assert_eq!(d.m.expires_at(), Some(T0 + 5.0 + 300_000.0));
    assert_eq!(d.m.state(), Some(State::SignedIn));
}

#[test]
fn fifty_requests_on_an_expired_token_make_exactly_one_refresh() {
    let mut d = machine();
    let old = signed_in(&mut d, Some(60.0), T0);
    let later = T0 + 61_000.0;
    for id in 1..=50 {
        assert_eq!(d.begin(id, later), Fate::Wait, "request {id}");
    }
    let actions = d.drain();
    let ticket = one_ticket(&actions);
    assert_eq!(emitted(&actions), [State::Refreshing]);
    d.grant(ticket, "new", Some(60.0), later);
    let actions = d.drain();
    assert!(tickets(&actions).is_empty());
    let sends: Vec<_> = actions
        .iter()
        .filter_map(|a| {
            if let Action::Send { id, bearer } = a {
                Some((*id, *bearer))
            } else {
                None
            }
        })
        .collect();
    assert_eq!(sends.len(), 50);
    let new = sends[0].1.unwrap();
    assert_ne!(new, old);
    assert!(
        sends
            .iter()
            .enumerate()
            .all(|(i, (id, bearer))| *id == i as u64 + 1 && *bearer == Some(new))
    );
    assert!(d.m.token(old).is_none(), "the old token is gone");
    assert_eq!(d.m.token(new).unwrap().expose(), b"new");
}

#[test]
fn concurrent_401s_share_one_refresh_and_each_retries_once() {
    let mut d = machine();
    let bearer = signed_in(&mut d, None, T0);
    for id in 1..=10 {
        assert_eq!(d.begin(id, T0), Fate::Send(Some(bearer)));
    }
    for id in 1..=10 {
        assert_eq!(d.response(id, 401), Fate::Wait);
    }
    let ticket = one_ticket(&d.drain());
    d.grant(ticket, "new", None, T0);
    let actions = d.drain();
    let retried: Vec<_> = actions
        .iter()
        .filter(|a| {
            matches!(
                a,
                Action::Send {
                    bearer: Some(_),
                    ..
                }
            )
        })
        .collect();
    assert_eq!(retried.len(), 10);
    let Action::Send {
        bearer: Some(new), ..
    } = retried[0]
    else {
        unreachable!()
    };
    assert_ne!(*new, bearer);
    // A second 401 is the caller's: no second refresh, no third attempt.
    for id in 1..=10 {
        assert_eq!(d.response(id, 401), Fate::Deliver);
    }
    assert!(d.drain().is_empty());
}

#[test]
fn a_401_for_an_older_token_retries_with_the_newer_one_without_refreshing() {
    let mut d = machine();
    let old = signed_in(&mut d, None, T0);
    assert_eq!(d.begin(1, T0), Fate::Send(Some(old)));
    assert_eq!(d.begin(2, T0), Fate::Send(Some(old)));
    // Request 1's 401 refreshes; request 2's 401 arrives after that refresh finished.
    assert_eq!(d.response(1, 401), Fate::Wait);
    let ticket = one_ticket(&d.drain());
    d.grant(ticket, "new", None, T0);
    let new = match d.drain().last() {
        Some(Action::Send {
            id: 1,
            bearer: Some(b),
        }) => *b,
        other => panic!("{other:?}"),
    };
    assert_eq!(d.response(2, 401), Fate::Send(Some(new)));
    assert!(d.drain().is_empty(), "no second refresh");
    assert_eq!(d.response(2, 401), Fate::Deliver, "and only one retry");
}

#[test]
fn refresh_401_or_403_ends_the_session_once_and_waiters_get_their_401() {
    for status in [401, 403] {
        let mut d = machine();
        let bearer = signed_in(&mut d, Some(60.0), T0);
        // Three requests got 401s; two more wait for a token because it is due.
        for id in 1..=3 {
            assert_eq!(d.begin(id, T0), Fate::Send(Some(bearer)));
            assert_eq!(d.response(id, 401), Fate::Wait);
        }
        for id in 4..=5 {
            assert_eq!(d.begin(id, T0 + 59_000.0), Fate::Wait);
        }
        let ticket = one_ticket(&d.drain());
        d.answer(ticket, status, Some(b"{}"), T0 + 59_000.0);
        let actions = d.drain();
        assert_eq!(emitted(&actions), [State::Expired], "{status}");
        assert!(actions.contains(&Action::Broadcast(Message::SignedOut)));
        for id in 1..=3 {
            assert!(
                actions.contains(&Action::Deliver { id }),
                "request {id} gets its original 401"
            );
        }
        for id in 4..=5 {
            assert!(
                actions.contains(&Action::Send { id, bearer: None }),
                "request {id} goes without a bearer"
            );
        }
        assert!(!d.m.is_authenticated());
        assert_eq!(d.m.expires_at(), None);
        // Afterwards: no bearer, no refresh, a 401 is just delivered, no second "expired".
        assert_eq!(d.begin(6, T0 + 60_000.0), Fate::Send(None));
        assert_eq!(d.response(6, 401), Fate::Deliver);
        assert!(d.drain().is_empty());
    }
}

#[test]
fn a_fresh_page_without_a_session_is_signed_out_not_expired() {
    let mut d = machine();
    assert_eq!(d.begin(1, T0), Fate::Wait);
    let ticket = one_ticket(&d.drain());
    d.answer(ticket, 401, None, T0);
    let actions = d.drain();
    assert_eq!(emitted(&actions), [State::SignedOut]);
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Broadcast(_))),
        "nothing to tell other tabs"
    );
    assert!(actions.contains(&Action::Send {
        id: 1,
        bearer: None
    }));
}

#[test]
fn refresh_failures_fail_every_waiter_with_their_code_and_the_next_call_refreshes_again() {
    type Run = fn(&mut Driver, RefreshTicket);
    let failures: [(Run, ErrorCode, &str); 5] = [
        (
            |d, t| d.fail(t, Failure::Network),
            ErrorCode::Network,
            "the refresh endpoint could not be reached",
        ),
        (
            |d, t| d.fail(t, Failure::Timeout),
            ErrorCode::Timeout,
            "the refresh endpoint did not answer within 30000 ms",
        ),
        (
            |d, t| d.answer(t, 500, Some(br#"{"access_token":"t"}"#), T0),
            ErrorCode::RefreshFailed,
            "the refresh endpoint answered 500",
        ),
        (
            |d, t| d.answer(t, 200, Some(b"<html>"), T0),
            ErrorCode::BadResponse,
            "the refresh response is not JSON",
        ),
        (
            |d, t| d.answer(t, 200, None, T0),
            ErrorCode::BadResponse,
            "the refresh response is not JSON",
        ),
    ];
    for (run, code, message) in failures {
        let error = AuthError::new(code, message).at(Endpoint::Refresh);
        let mut d = machine();
        let bearer = signed_in(&mut d, None, T0);
        assert_eq!(d.begin(1, T0), Fate::Send(Some(bearer)));
        assert_eq!(d.response(1, 401), Fate::Wait);
        d.m.refresh(2);
        let ticket = one_ticket(&d.drain());
        run(&mut d, ticket);
        let actions = d.drain();
        assert!(actions.contains(&Action::Fail {
            id: 1,
            error: error.clone()
        }));
        assert!(actions.contains(&Action::Fail {
            id: 2,
            error: error.clone()
        }));
        // The state is kept: still signed in, with the same token...
        assert_eq!(emitted(&actions), [State::SignedIn]);
        assert!(d.m.token(bearer).is_some());
        // ...and the next 401 tries again.
        assert_eq!(d.begin(3, T0), Fate::Send(Some(bearer)));
        assert_eq!(d.response(3, 401), Fate::Wait);
        one_ticket(&d.drain());
    }
}

#[test]
fn refresh_outcomes_fed_directly_fail_waiters_the_same_way() {
    // `refresh_finished` takes an outcome without the lock protocol (no Unlock).
    let error = AuthError::new(
        ErrorCode::RefreshFailed,
        "the refresh endpoint answered 502",
    );
    let mut d = machine();
    assert_eq!(d.begin(1, T0), Fate::Wait);
    let ticket = one_ticket(&d.drain());
    d.m.refresh_finished(ticket, RefreshOutcome::Failed(error.clone()), T0);
    assert_eq!(d.drain(), [Action::Fail { id: 1, error }]);
}

#[test]
fn a_failed_first_refresh_leaves_a_fresh_page_able_to_try_again() {
    let mut d = machine();
    assert_eq!(d.begin(1, T0), Fate::Wait);
    let ticket = one_ticket(&d.drain());
    d.m.refresh_permitted(ticket);
    assert_eq!(d.drain(), [Action::CallRefresh(ticket)]);
    d.m.refresh_failed(ticket, Failure::Network);
    let error = AuthError::new(
        ErrorCode::Network,
        "the refresh endpoint could not be reached",
    )
    .at(Endpoint::Refresh);
    assert_eq!(d.drain(), [Action::Unlock, Action::Fail { id: 1, error }]);
    assert_eq!(d.m.state(), None, "nothing was learnt");
    assert_eq!(d.begin(2, T0), Fate::Wait);
    assert_eq!(
        emitted(&d.drain()),
        [State::Refreshing],
        "reported again for the new attempt"
    );
}

#[test]
fn a_lock_not_granted_in_time_fails_the_waiters_with_a_timeout() {
    let mut d = machine_with(|o| o.timeout_ms = 1500);
    assert_eq!(d.begin(1, T0), Fate::Wait);
    let ticket = one_ticket(&d.drain());
    d.m.refresh_failed(ticket, Failure::LockNotGranted);
    let error = AuthError::new(
        ErrorCode::Timeout,
        "the cross-tab refresh lock was not granted within 1500 ms",
    );
    assert_eq!(d.drain(), [Action::Unlock, Action::Fail { id: 1, error }]);
    // A late report for the same refresh changes nothing.
    d.m.refresh_failed(ticket, Failure::Timeout);
    assert!(d.drain().is_empty());
    // Nor does the lock, should it still come: it is released at once, the endpoint not called
    // (no answer would come to release it).
    d.m.refresh_permitted(ticket);
    assert_eq!(d.drain(), [Action::Unlock]);
}

#[test]
fn leeway_refreshes_before_expiry_so_no_401_round_trip_happens() {
    let mut d = machine(); // default leeway 30 s
    let bearer = signed_in(&mut d, Some(300.0), T0);
    let due = T0 + 270_000.0;
    assert_eq!(d.begin(1, due - 1.0), Fate::Send(Some(bearer)));
    assert_eq!(d.begin(2, due), Fate::Wait);
    one_ticket(&d.drain());
}

#[test]
fn leeway_is_capped_at_half_a_short_lifetime() {
    let mut d = machine_with(|o| o.refresh_leeway_ms = 30_000.0);
    let bearer = signed_in(&mut d, Some(10.0), T0);
    assert_eq!(d.begin(1, T0 + 4_999.0), Fate::Send(Some(bearer)));
    assert_eq!(d.begin(2, T0 + 5_000.0), Fate::Wait);
}

#[test]
fn zero_leeway_refreshes_exactly_at_expiry() {
    let mut d = machine_with(|o| o.refresh_leeway_ms = 0.0);
    let bearer = signed_in(&mut d, Some(60.0), T0);
    assert_eq!(d.begin(1, T0 + 59_999.0), Fate::Send(Some(bearer)));
    assert_eq!(d.begin(2, T0 + 60_000.0), Fate::Wait);
}

fn jwt(claims: &str) -> String {
    use base64::Engine;
    let encode = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    [
        encode(r#"{"alg":"HS256"}"#),
        encode(claims),
        "sig".to_owned(),
    ]
    .join(".")
}

fn jwt_grant(claims: &str) -> authfetch::core::Grant {
    let body = format!(r#"{{"access_token":"{}"}}"#, jwt(claims));
    parse_grant(
        Some(body.as_bytes()),
        "refresh",
        b"access_token",
        b"expires_in",
    )
    .unwrap()
}

#[test]
fn jwt_exp_minus_iat_counts_from_arrival_so_a_wrong_client_clock_does_not_matter() {
    // The server's clock says 2001; the client's says T0 (2027). exp - iat = 600 s.
    for client_now in [T0, T0 - 86_400_000.0 * 365.0, T0 + 3_600_000.0] {
        let mut d = machine_with(|o| o.refresh_leeway_ms = 0.0);
        assert_eq!(d.begin(0, client_now), Fate::Wait);
        let ticket = one_ticket(&d.drain());
        d.m.refresh_finished(
            ticket,
            RefreshOutcome::Granted(jwt_grant(r#"{"iat":1000000000,"exp":1000000600}"#)),
            client_now,
        );
        d.drain();
        assert_eq!(d.m.expires_at(), Some(client_now + 600_000.0));
        assert!(matches!(
            d.begin(1, client_now + 599_999.0),
            Fate::Send(Some(_))
        ));
        assert_eq!(d.begin(2, client_now + 600_000.0), Fate::Wait);
    }
}

#[test]
fn jwt_exp_without_iat_is_an_absolute_time_and_expires_in_wins_over_the_jwt() {
    let mut d = machine_with(|o| o.refresh_leeway_ms = 0.0);
    assert_eq!(d.begin(0, T0), Fate::Wait);
    let ticket = one_ticket(&d.drain());
    let exp_seconds = (T0 / 1000.0) + 120.0;
    // The JWT arrives in the refresh answer's text, read by the core.
    let body = format!(
        r#"{{"access_token":"{}"}}"#,
        jwt(&format!(r#"{{"exp":{exp_seconds}}}"#))
    );
    d.answer(ticket, 200, Some(body.as_bytes()), T0);
    d.drain();
    assert_eq!(d.m.expires_at(), Some(T0 + 120_000.0));

    let body = format!(
        r#"{{"access_token":"{}","expires_in":42}}"#,
        jwt(r#"{"iat":0,"exp":999999}"#)
    );
    let preferred = parse_grant(
        Some(body.as_bytes()),
        "refresh",
        b"access_token",
        b"expires_in",
    )
    .unwrap();
    assert_eq!(
        preferred.lifetime(),
        authfetch::core::Lifetime::FromArrival(42_000.0)
    );
}

#[test]
fn opaque_tokens_without_expires_in_are_refreshed_on_401_alone() {
    let mut d = machine();
    let bearer = signed_in(&mut d, None, T0);
    assert_eq!(d.m.expires_at(), None);
    // A year later, still sent as is: only a 401 can tell.
    assert_eq!(d.begin(1, T0 + 3.15e10), Fate::Send(Some(bearer)));
}

#[test]
fn foreign_origins_and_own_authorization_headers_pass_through_untouched() {
    let mut d = machine();
    let bearer = signed_in(&mut d, None, T0);
    for url in [
        "https://evil.example/",
        "http://api.example/",
        "https://api.example:8443/",
        "https://api.example.evil.example/",
        "https://api.example@evil.example/",
        "https://evil.example/?next=https://api.example/",
        "blob:https://api.example/6f1c",
        "data:text/plain,api.example",
        "wss://api.example/socket",
        "null",
        "garbage",
        "",
    ] {
        assert_eq!(
            d.fate(1, |m| m.begin(
                1,
                url.as_bytes(),
                false,
                Replay::AfterAnswer,
                T0
            )),
            Fate::PassThrough,
            "{url}"
        );
    }
    assert_eq!(
        d.fate(2, |m| m.begin(
            2,
            URL.as_bytes(),
            true,
            Replay::AfterAnswer,
            T0
        )),
        Fate::PassThrough,
        "the caller's own Authorization"
    );
    for url in [
        "https://api.example",
        "https://api.example/",
        "https://api.example?q",
        "https://api.example#f",
    ] {
        assert_eq!(
            d.fate(3, |m| m.begin(
                3,
                url.as_bytes(),
                false,
                Replay::AfterAnswer,
                T0
            )),
            Fate::Send(Some(bearer)),
            "{url}"
        );
        assert_eq!(d.response(3, 200), Fate::Deliver);
    }
    assert!(d.drain().is_empty());
}

#[test]
fn streamed_bodies_are_not_replayed() {
    let mut d = machine();
    let bearer = signed_in(&mut d, None, T0);
    assert_eq!(
        d.fate(1, |m| m.begin(1, URL.as_bytes(), false, Replay::Never, T0)),
        Fate::Send(Some(bearer))
    );
    assert_eq!(d.response(1, 401), Fate::Deliver);
    assert!(
        d.drain().is_empty(),
        "no refresh for a request that cannot be retried"
    );
}

#[test]
fn explicit_refresh_joins_a_running_refresh_and_reports_the_outcome() {
    let mut d = machine();
    assert_eq!(d.begin(1, T0), Fate::Wait);
    d.m.refresh(2);
    d.m.refresh(3);
    let ticket = one_ticket(&d.drain());
    d.grant(ticket, "t", None, T0);
    let actions = d.drain();
    assert!(actions.contains(&Action::Resolve {
        id: 2,
        session: true
    }));
    assert!(actions.contains(&Action::Resolve {
        id: 3,
        session: true
    }));

    // When the session is over, refresh() still asks the server (a sign-in may have happened
    // elsewhere) and fails with session_expired if it is really over.
    let mut d = machine();
    signed_in(&mut d, None, T0);
    d.m.sign_out();
    d.drain();
    d.m.refresh(9);
    let ticket = one_ticket(&d.drain());
    d.answer(ticket, 401, None, T0);
    let actions = d.drain();
    assert!(actions.iter().any(
        |a| matches!(a, Action::Fail { id: 9, error } if error.code == ErrorCode::SessionExpired)
    ));
}

#[test]
fn sign_out_during_a_refresh_wins_over_its_answer() {
    let mut d = machine();
    let bearer = signed_in(&mut d, None, T0);
    assert_eq!(d.begin(1, T0), Fate::Send(Some(bearer)));
    assert_eq!(d.response(1, 401), Fate::Wait);
    let ticket = one_ticket(&d.drain());
    d.permit(ticket); // the endpoint is called...
    d.m.sign_out(); // ...and the user signs out before it answers.
    let actions = d.drain();
    assert_eq!(emitted(&actions), [State::SignedOut]);
    assert!(actions.contains(&Action::Broadcast(Message::SignedOut)));
    // The refresh used the cookie from before the logout; its token must not sign us back in.
    d.answered(ticket, 200, Some(&token_body("late", None)), T0);
    let actions = d.drain();
    assert!(!d.m.is_authenticated());
    assert_eq!(actions, [Action::Deliver { id: 1 }]);
}

#[test]
fn login_installs_the_token_and_tells_other_tabs() {
    let mut d = machine();
    d.m.login_answered(1, 200, Some(&token_body("t", Some(60.0))), T0);
    let actions = d.drain();
    assert_eq!(
        actions,
        [
            Action::Broadcast(Message::SignedIn),
            Action::Emit(State::SignedIn),
            Action::Resolve {
                id: 1,
                session: true
            }
        ]
    );
    assert!(matches!(d.begin(2, T0), Fate::Send(Some(_))));
    assert_eq!(d.m.expires_at(), Some(T0 + 60_000.0));
}

#[test]
fn login_answers_that_carry_no_usable_token_fail_the_call() {
    let cases: [(u16, Option<&[u8]>, ErrorCode, &str); 7] = [
        (
            401,
            Some(br#"{"error":"invalid_grant"}"#),
            ErrorCode::LoginFailed,
            "the login endpoint refused the credentials (401)",
        ),
        // Not found, or no POST there: a wrong `loginUrl`, which must not read like a wrong
        // password.
        (
            404,
            None,
            ErrorCode::LoginFailed,
            "the login endpoint answered 404, not a refusal of the credentials: loginUrl is probably wrong",
        ),
        (
            405,
            None,
            ErrorCode::LoginFailed,
            "the login endpoint answered 405, not a refusal of the credentials: loginUrl is probably wrong",
        ),
        (
            500,
            None,
            ErrorCode::BadResponse,
            "the login endpoint answered 500",
        ),
        (
            200,
            Some(b"welcome"),
            ErrorCode::BadResponse,
            "the login response is not JSON",
        ),
        (
            200,
            None,
            ErrorCode::BadResponse,
            "the login response is not JSON",
        ),
        (
            200,
            Some(br#"{"token":"t"}"#),
            ErrorCode::BadResponse,
            "the login response has no \"access_token\" field",
        ),
    ];
    for (status, body, code, message) in cases {
        let mut d = machine();
        d.m.login_answered(1, status, body, T0);
        assert_eq!(
            d.drain(),
            [Action::Fail {
                id: 1,
                error: AuthError::new(code, message).at(Endpoint::Login)
            }],
            "{status} {body:?}"
        );
        assert!(!d.m.is_authenticated());
    }
}

#[test]
fn a_login_answer_with_a_huge_expires_in_gives_a_finite_expiry() {
    let mut d = machine();
    d.m.login_answered(
        1,
        200,
        Some(br#"{"access_token":"t","expires_in":1e308}"#),
        T0,
    );
    assert!(d.drain().contains(&Action::Resolve {
        id: 1,
        session: true
    }));
    // 1e308 s is beyond any date: reported as the latest one a JavaScript Date can hold.
    assert_eq!(d.m.expires_at(), Some(8.64e15));
    assert!(d.m.expires_at().unwrap().is_finite());
    assert!(matches!(d.begin(2, T0 + 1e12), Fate::Send(Some(_))));
    // The same for a JWT whose exp is that far away.
    let mut d = machine();
    let body = format!(r#"{{"access_token":"{}"}}"#, jwt(r#"{"exp":1e300}"#));
    d.m.login_answered(1, 200, Some(body.as_bytes()), T0);
    d.drain();
    assert_eq!(d.m.expires_at(), Some(8.64e15));
}

#[test]
fn a_login_answer_without_a_token_is_followed_by_a_refresh() {
    let mut d = machine_with(|o| o.login_token_field = None);
    d.m.login_answered(1, 204, None, T0);
    let actions = d.drain();
    assert_eq!(actions[0], Action::Broadcast(Message::SignedIn));
    let ticket = one_ticket(&actions);
    d.grant(ticket, "t", None, T0);
    assert!(d.drain().contains(&Action::Resolve {
        id: 1,
        session: true
    }));
    assert!(d.m.is_authenticated());
}

#[test]
fn logout_answers_resolve_without_a_session_or_fail() {
    let mut d = machine();
    signed_in(&mut d, None, T0);
    d.m.sign_out();
    assert!(d.drain().contains(&Action::Broadcast(Message::SignedOut)));
    for status in [200, 204, 401, 403] {
        assert_eq!(
            d.fate(7, |m| m.logout_answered(7, status)),
            Fate::Resolve(false)
        );
    }
    assert_eq!(
        d.fate(8, |m| m.logout_answered(8, 500)),
        Fate::Fail(
            AuthError::new(ErrorCode::BadResponse, "the logout endpoint answered 500")
                .at(Endpoint::Logout)
        )
    );
}

#[test]
fn calls_without_an_answer_fail_naming_the_endpoint() {
    let mut d = machine_with(|o| o.timeout_ms = 1500);
    let bearer = signed_in(&mut d, None, T0);
    let cases = [
        (
            Failure::Network,
            Endpoint::Api,
            ErrorCode::Network,
            "the API could not be reached",
        ),
        (
            Failure::Timeout,
            Endpoint::Api,
            ErrorCode::Timeout,
            "the API did not answer within 1500 ms",
        ),
        (
            Failure::Network,
            Endpoint::Login,
            ErrorCode::Network,
            "the login endpoint could not be reached",
        ),
        (
            Failure::Timeout,
            Endpoint::Logout,
            ErrorCode::Timeout,
            "the logout endpoint did not answer within 1500 ms",
        ),
    ];
    for (id, (failure, endpoint, code, message)) in (1..).zip(cases) {
        if endpoint == Endpoint::Api {
            assert_eq!(d.begin(id, T0), Fate::Send(Some(bearer)));
        }
        assert_eq!(
            d.fate(id, |m| m.failed(id, failure, endpoint)),
            Fate::Fail(AuthError::new(code, message).at(endpoint))
        );
    }
    // A failed request is forgotten: a refresh later does not send it.
    assert_eq!(d.begin(10, T0), Fate::Send(Some(bearer)));
    assert_eq!(d.response(10, 401), Fate::Wait);
    assert_eq!(d.begin(11, T0), Fate::Send(Some(bearer)));
    d.m.failed(11, Failure::Network, Endpoint::Api);
    let ticket = one_ticket(&d.drain());
    d.grant(ticket, "new", None, T0);
    let sends: Vec<_> = d
        .drain()
        .into_iter()
        .filter(|a| matches!(a, Action::Send { .. }))
        .collect();
    assert!(matches!(sends[..], [Action::Send { id: 10, .. }]));
}

#[test]
fn other_tabs_sign_out_and_sign_in() {
    let mut d = machine();
    signed_in(&mut d, None, T0);
    d.m.heard(Message::SignedOut);
    let actions = d.drain();
    assert_eq!(
        actions,
        [Action::Emit(State::SignedOut)],
        "no echo back to the other tabs"
    );
    assert_eq!(d.begin(1, T0), Fate::Send(None));
    d.m.heard(Message::SignedIn);
    assert_eq!(
        d.begin(2, T0),
        Fate::Wait,
        "picks up the new session lazily"
    );
    one_ticket(&d.drain());
}

#[test]
fn events_fire_on_changes_only() {
    let mut d = machine();
    signed_in(&mut d, None, T0);
    d.m.sign_out();
    d.m.sign_out();
    d.m.heard(Message::SignedOut);
    assert_eq!(emitted(&d.drain()), [State::SignedOut]);
}

#[test]
fn a_forgotten_waiter_does_not_stop_the_refresh_for_the_others() {
    let mut d = machine();
    assert_eq!(d.begin(1, T0), Fate::Wait);
    assert_eq!(d.begin(2, T0), Fate::Wait);
    let ticket = one_ticket(&d.drain());
    d.m.forget(1); // aborted by its caller
    d.grant(ticket, "t", None, T0);
    let sends: Vec<_> = d
        .drain()
        .into_iter()
        .filter(|a| matches!(a, Action::Send { .. }))
        .collect();
    assert_eq!(sends.len(), 1);
    assert!(matches!(sends[0], Action::Send { id: 2, .. }));
}

#[test]
fn tokens_never_print() {
    let mut d = machine();
    d.m.login_answered(1, 200, Some(&token_body("secret-token-value", None)), T0);
    d.drain();
    let Fate::Send(Some(bearer)) = d.begin(2, T0) else {
        panic!("no bearer")
    };
    let token = d.m.token(bearer).unwrap();
    assert_eq!(
        token.expose(),
        b"secret-token-value",
        "the token is there to leak"
    );
    let printed = format!(
        "{token} {token:?} {:?} {:?}",
        d.m,
        grant("secret-token-value", None)
    );
    assert!(!printed.contains("secret"), "{printed}");
    assert!(printed.contains("[redacted]"));
}

#[test]
fn a_ticket_stops_being_current_when_the_session_is_decided_elsewhere() {
    let mut d = machine();
    let bearer = signed_in(&mut d, None, T0);
    assert_eq!(d.begin(1, T0), Fate::Send(Some(bearer)));
    assert_eq!(d.response(1, 401), Fate::Wait);
    let ticket = one_ticket(&d.drain());
    d.m.heard(Message::SignedOut); // another tab signed out while this one waited for the lock
    d.drain();
    // The lock is granted now: the waiting refresh must not present the cookie.
    d.m.refresh_permitted(ticket);
    let actions = d.drain();
    assert!(
        !actions.contains(&Action::CallRefresh(ticket)),
        "the waiting refresh must not present the cookie: {actions:?}"
    );
    assert_eq!(actions, [Action::Unlock, Action::Deliver { id: 1 }]);
}

#[test]
fn refresh_permitted_with_a_stale_ticket_yields_unlock_and_no_call_refresh() {
    // A login in this tab decides the session while the refresh waits for the lock.
    let mut d = machine();
    assert_eq!(d.begin(1, T0), Fate::Wait);
    d.m.restore(2);
    let ticket = one_ticket(&d.drain());
    d.m.login_answered(3, 200, Some(&token_body("login", None)), T0);
    let actions = d.drain();
    // The login's token serves the waiters at once.
    assert!(matches!(
        actions[..],
        [
            Action::Broadcast(Message::SignedIn),
            Action::Emit(State::SignedIn),
            Action::Resolve {
                id: 3,
                session: true
            },
            Action::Send {
                id: 1,
                bearer: Some(_)
            },
            Action::Resolve {
                id: 2,
                session: true
            },
        ]
    ));
    d.m.refresh_permitted(ticket);
    assert_eq!(d.drain(), [Action::Unlock], "released, nothing else");
    assert!(d.m.is_authenticated());
    // The endpoint was never called, so no answer comes; the next 401 refreshes afresh.
    assert_eq!(d.response(1, 401), Fate::Wait);
    let next = one_ticket(&d.drain());
    assert_ne!(next, ticket);
    d.permit(next);
}

#[test]
fn a_401_for_a_login_token_while_a_stale_refresh_waits_refreshes_before_retrying() {
    // Found by the property tests: a login installs a token while a refresh waits for the
    // lock; a request sent with that token gets a 401 and waits for the (stale) refresh. When
    // the stale refresh ends without calling the endpoint, the request must not be retried
    // with the very token the server refused: a new refresh runs first.
    let mut d = machine();
    d.m.refresh(1);
    let stale = one_ticket(&d.drain());
    d.m.login_answered(2, 200, Some(&token_body("login", Some(60.0))), T0);
    d.drain();
    let Fate::Send(Some(login)) = d.begin(3, T0) else {
        panic!("not sent")
    };
    assert_eq!(d.response(3, 401), Fate::Wait);
    d.m.refresh_permitted(stale);
    let actions = d.drain();
    assert_eq!(actions[0], Action::Unlock);
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Send { .. })),
        "retried with the refused token: {actions:?}"
    );
    let ticket = one_ticket(&actions);
    d.grant(ticket, "fresh", Some(60.0), T0);
    let actions = d.drain();
    let Some(Action::Send {
        id: 3,
        bearer: Some(fresh),
    }) = actions.last()
    else {
        panic!("{actions:?}")
    };
    assert_ne!(*fresh, login);
    assert_eq!(d.m.token(*fresh).unwrap().expose(), b"fresh");
    assert_eq!(d.response(3, 401), Fate::Deliver, "one retry only");
}

#[test]
fn restore_on_a_fresh_page_refreshes_once_and_resolves_with_the_outcome() {
    for (status, session) in [(200, true), (401, false), (403, false)] {
        let mut d = machine();
        d.m.restore(1);
        d.m.restore(2);
        let actions = d.drain();
        let ticket = one_ticket(&actions);
        assert_eq!(emitted(&actions), [State::Refreshing]);
        d.answer(ticket, status, Some(&token_body("t", Some(60.0))), T0);
        let actions = d.drain();
        for id in [1, 2] {
            assert!(
                actions.contains(&Action::Resolve { id, session }),
                "{status}: {actions:?}"
            );
        }
        assert!(tickets(&actions).is_empty(), "one refresh only");
        assert_eq!(d.m.is_authenticated(), session);
        // Now it is known: the next restore() resolves at once, without a refresh.
        assert_eq!(d.fate(3, |m| m.restore(3)), Fate::Resolve(session));
        assert!(d.drain().is_empty());
    }
}

#[test]
fn restore_when_signed_in_resolves_true_without_refreshing() {
    let mut d = machine();
    signed_in(&mut d, Some(60.0), T0);
    assert_eq!(d.fate(1, |m| m.restore(1)), Fate::Resolve(true));
    assert!(d.drain().is_empty(), "no refresh, no event");
    // Also when the token came with the login.
    let mut d = machine();
    d.m.login_answered(1, 200, Some(&token_body("t", None)), T0);
    d.drain();
    assert_eq!(d.fate(2, |m| m.restore(2)), Fate::Resolve(true));
    assert!(d.drain().is_empty());
}

#[test]
fn restore_when_signed_out_resolves_false_without_refreshing() {
    // Signed out by this tab, by another tab, or found without a session.
    let mut d = machine();
    signed_in(&mut d, None, T0);
    d.m.sign_out();
    d.drain();
    assert_eq!(d.fate(1, |m| m.restore(1)), Fate::Resolve(false));
    assert!(d.drain().is_empty());

    let mut d = machine();
    signed_in(&mut d, None, T0);
    d.m.heard(Message::SignedOut);
    d.drain();
    assert_eq!(d.fate(1, |m| m.restore(1)), Fate::Resolve(false));
    assert!(d.drain().is_empty());

    let mut d = machine();
    assert_eq!(d.begin(1, T0), Fate::Wait);
    let ticket = one_ticket(&d.drain());
    d.answer(ticket, 401, None, T0);
    d.drain();
    assert_eq!(d.fate(2, |m| m.restore(2)), Fate::Resolve(false));
    assert!(d.drain().is_empty());

    // Another tab signing in makes it unknown again: restore() asks the server.
    d.m.heard(Message::SignedIn);
    d.m.restore(3);
    let ticket = one_ticket(&d.drain());
    d.grant(ticket, "t", None, T0);
    assert!(d.drain().contains(&Action::Resolve {
        id: 3,
        session: true
    }));
}

#[test]
fn restore_joins_a_running_refresh() {
    let mut d = machine();
    let bearer = signed_in(&mut d, None, T0);
    assert_eq!(d.begin(1, T0), Fate::Send(Some(bearer)));
    assert_eq!(d.response(1, 401), Fate::Wait);
    let ticket = one_ticket(&d.drain());
    // A token is held, but a refresh runs: restore() waits for it.
    assert_eq!(d.fate(2, |m| m.restore(2)), Fate::Wait);
    assert!(d.drain().is_empty(), "no second refresh");
    d.answer(ticket, 403, None, T0);
    let actions = d.drain();
    assert!(actions.contains(&Action::Resolve {
        id: 2,
        session: false
    }));
    assert!(actions.contains(&Action::Deliver { id: 1 }));
}

#[test]
fn restore_rejects_when_the_refresh_fails() {
    let mut d = machine();
    d.m.restore(1);
    let ticket = one_ticket(&d.drain());
    d.fail(ticket, Failure::Timeout);
    assert_eq!(
        d.drain(),
        [Action::Fail {
            id: 1,
            error: AuthError::new(
                ErrorCode::Timeout,
                "the refresh endpoint did not answer within 30000 ms"
            )
            .at(Endpoint::Refresh)
        }]
    );
    // Still unknown: the next restore() tries again.
    d.m.restore(2);
    one_ticket(&d.drain());
}

#[test]
fn close_fails_every_live_call_with_aborted_and_later_calls_too() {
    let freed = || AuthError::new(ErrorCode::Aborted, "the client was freed");
    let mut d = machine();
    let bearer = signed_in(&mut d, Some(60.0), T0);
    assert_eq!(d.begin(1, T0), Fate::Send(Some(bearer))); // on the wire
    assert_eq!(d.begin(2, T0), Fate::Send(Some(bearer)));
    assert_eq!(d.response(2, 401), Fate::Wait); // waits to be retried
    assert_eq!(d.begin(3, T0 + 59_000.0), Fate::Wait); // waits for a token
    d.m.refresh(4);
    d.m.restore(5);
    let ticket = one_ticket(&d.drain());
    d.permit(ticket); // the endpoint is being called
    d.m.close();
    let actions = d.drain();
    for id in 1..=5 {
        assert_eq!(
            fails(&actions, id),
            Some(&freed()),
            "call {id}: {actions:?}"
        );
    }
    assert_eq!(actions.last(), Some(&Action::Unlock), "the lock is let go");
    assert_eq!(actions.len(), 6);
    assert!(d.m.is_closed());
    assert!(!d.m.is_authenticated());
    assert!(d.m.token(bearer).is_none(), "the token is dropped");

    // Its answer changes nothing: the lock was let go already.
    d.m.refresh_answered(ticket, 200, Some(&token_body("late", None)), T0);
    assert_eq!(d.drain(), []);
    assert!(!d.m.is_authenticated());

    // Later calls fail with aborted; nothing starts a refresh or goes out.
    assert_eq!(d.begin(6, T0), Fate::Fail(freed()));
    assert_eq!(
        d.fate(7, |m| m.begin(
            7,
            b"https://elsewhere.example/",
            false,
            Replay::AfterAnswer,
            T0
        )),
        Fate::Fail(freed())
    );
    assert_eq!(d.fate(8, |m| m.restore(8)), Fate::Fail(freed()));
    assert_eq!(d.fate(9, |m| m.refresh(9)), Fate::Fail(freed()));
    assert_eq!(
        d.fate(10, |m| m.login_answered(
            10,
            200,
            Some(&token_body("t", None)),
            T0
        )),
        Fate::Fail(freed())
    );
    d.m.heard(Message::SignedIn);
    d.m.heard(Message::SignedOut);
    d.m.revisit(T0 + 3_600_000.0);
    d.m.close();
    assert!(d.drain().is_empty());
    assert!(!d.m.is_authenticated());
}

#[test]
fn close_while_the_refresh_waits_for_the_lock() {
    let mut d = machine();
    assert_eq!(d.begin(1, T0), Fate::Wait);
    let ticket = one_ticket(&d.drain());
    d.m.close();
    let actions = d.drain();
    assert!(matches!(
        actions[..],
        [Action::Fail { id: 1, ref error }, Action::Unlock] if error.code == ErrorCode::Aborted
    ));
    // The lock is granted after all: released at once, the endpoint is not called.
    d.m.refresh_permitted(ticket);
    assert_eq!(d.drain(), [Action::Unlock]);
}

#[test]
fn revisiting_after_sleep_refreshes_a_due_token_once() {
    let mut d = machine(); // leeway 30 s
    signed_in(&mut d, Some(300.0), T0);
    d.m.revisit(T0 + 60_000.0);
    assert!(d.drain().is_empty(), "not due yet: nothing to do");
    d.m.revisit(T0 + 3_600_000.0); // an hour asleep
    d.m.revisit(T0 + 3_600_001.0); // visibilitychange and online in a row
    let actions = d.drain();
    let ticket = one_ticket(&actions);
    d.grant(ticket, "fresh", Some(300.0), T0 + 3_600_100.0);
    assert_eq!(emitted(&d.drain()), [State::SignedIn]);
    assert!(matches!(d.begin(2, T0 + 3_600_200.0), Fate::Send(Some(_))));
    // Nothing held: nothing to refresh.
    let mut fresh = machine();
    fresh.m.revisit(T0);
    assert!(fresh.drain().is_empty());
}

#[test]
fn fifty_wake_ups_in_a_burst_start_one_refresh() {
    let mut d = machine();
    signed_in(&mut d, Some(300.0), T0);
    let woke = T0 + 3_600_000.0; // the token is due
    // While the refresh runs...
    for i in 0..50 {
        d.m.revisit(woke + f64::from(i));
    }
    let ticket = one_ticket(&d.drain());
    // ...and after it failed (offline): the wake-ups of the same burst do not retry it.
    d.fail(ticket, Failure::Network);
    d.drain();
    for i in 0..50 {
        d.m.revisit(woke + 100.0 + f64::from(i) * 90.0);
    }
    assert!(d.drain().is_empty(), "at most one refresh per 5 s");
    // 5 s after the one that refreshed, a wake-up refreshes again.
    d.m.revisit(woke + 5_000.0);
    let ticket = one_ticket(&d.drain());
    d.grant(ticket, "fresh", Some(300.0), woke + 5_000.0);
    assert!(d.m.is_authenticated());
    // API calls are not held back by the wake-up limit.
    let mut d = machine();
    signed_in(&mut d, Some(300.0), T0);
    d.m.revisit(woke);
    let ticket = one_ticket(&d.drain());
    d.fail(ticket, Failure::Network);
    d.drain();
    assert_eq!(d.begin(1, woke + 1.0), Fate::Wait);
    one_ticket(&d.drain());
}

#[test]
fn bearers_and_tickets_cross_as_numbers() {
    let mut d = machine();
    let first = signed_in(&mut d, None, T0);
    assert_eq!(first.number(), 1);
    assert_eq!(d.begin(1, T0), Fate::Send(Some(first)));
    assert_eq!(d.response(1, 401), Fate::Wait);
    let ticket = one_ticket(&d.drain());
    assert_eq!(RefreshTicket::from_number(ticket.number()), ticket);
    d.grant(ticket, "second", None, T0);
    let Some(Action::Send {
        bearer: Some(second),
        ..
    }) = d.drain().pop()
    else {
        panic!("no retry")
    };
    assert_eq!(second.number(), 2, "in the order tokens were installed");
    assert_eq!(
        State::Refreshing.as_str(),
        "refreshing",
        "the names listeners receive"
    );
    for message in [Message::SignedIn, Message::SignedOut] {
        assert_eq!(Message::parse(message.as_str().as_bytes()), Some(message));
    }
    assert_eq!(Message::parse(b"signed-in "), None);
}

#[test]
fn a_refresh_after_a_stale_one_fails_back_to_what_listeners_saw_before_it() {
    // A fresh page's call waits for a refresh; meanwhile a login whose answer carries no token
    // needs a refresh of its own, which the stale first one cannot give.
    let mut d = machine_with(|o| o.login_token_field = None);
    assert_eq!(d.begin(1, T0), Fate::Wait);
    let stale = one_ticket(&d.drain());
    d.m.login_answered(2, 200, None, T0);
    d.drain();
    d.m.refresh_permitted(stale); // the lock comes: the ticket is stale, the login's refresh starts
    let next = one_ticket(&d.drain());
    d.fail(next, Failure::Network);
    d.drain();
    assert_ne!(
        d.m.state(),
        Some(State::Refreshing),
        "no refresh runs any more"
    );
}

#[test]
fn nothing_is_said_after_close() {
    let mut d = machine();
    signed_in(&mut d, Some(60.0), T0);
    d.m.close();
    d.drain();
    d.m.sign_out();
    d.m.heard(Message::SignedOut);
    assert_eq!(d.drain(), [], "a freed client tells no tab and no listener");
}

#[test]
fn a_401_withdraws_the_safe_requests_still_out_with_that_token_and_sends_them_again() {
    let mut d = machine();
    let old = signed_in(&mut d, None, T0);
    let get = |d: &mut Driver, id: u64, replay: Replay| {
        d.fate(id, |m| m.begin(id, URL.as_bytes(), false, replay, T0))
    };
    assert_eq!(get(&mut d, 1, Replay::Anytime), Fate::Send(Some(old)));
    assert_eq!(get(&mut d, 2, Replay::Anytime), Fate::Send(Some(old)));
    assert_eq!(get(&mut d, 3, Replay::AfterAnswer), Fate::Send(Some(old))); // a POST
    assert_eq!(get(&mut d, 4, Replay::Never), Fate::Send(Some(old))); // a streamed body
    assert_eq!(d.response(1, 401), Fate::Wait);
    let actions = d.drain();
    assert_eq!(
        actions
            .iter()
            .filter(|a| matches!(a, Action::Recall { .. }))
            .cloned()
            .collect::<Vec<_>>(),
        [Action::Recall { id: 2 }],
        "only the other safe request is withdrawn: {actions:?}"
    );
    let ticket = one_ticket(&actions);
    d.grant(ticket, "second", None, T0);
    let actions = d.drain();
    let new = actions
        .iter()
        .find_map(|a| match a {
            Action::Send {
                bearer: Some(b), ..
            } => Some(*b),
            _ => None,
        })
        .unwrap();
    assert_ne!(new, old);
    for id in [1, 2] {
        assert!(
            actions.contains(&Action::Send {
                id,
                bearer: Some(new)
            }),
            "call {id} goes again with the new token: {actions:?}"
        );
    }
    // Its one retry is spent: a second 401 is the answer.
    assert_eq!(d.response(2, 401), Fate::Deliver);
    // The others learn of the new token from their own 401.
    assert_eq!(d.response(3, 401), Fate::Send(Some(new)));
    assert_eq!(d.response(4, 401), Fate::Deliver);
}

#[test]
fn a_withdrawn_request_goes_without_a_token_when_the_session_turns_out_over() {
    let mut d = machine();
    let old = signed_in(&mut d, None, T0);
    for id in [1, 2] {
        assert_eq!(
            d.fate(id, |m| m.begin(
                id,
                URL.as_bytes(),
                false,
                Replay::Anytime,
                T0
            )),
            Fate::Send(Some(old))
        );
    }
    assert_eq!(d.response(1, 401), Fate::Wait);
    let ticket = one_ticket(&d.drain());
    d.answer(ticket, 401, None, T0);
    let actions = d.drain();
    assert!(actions.contains(&Action::Deliver { id: 1 }), "{actions:?}");
    assert!(
        actions.contains(&Action::Send {
            id: 2,
            bearer: None
        }),
        "it has no 401 of its own to deliver: {actions:?}"
    );
    assert_eq!(d.response(2, 401), Fate::Deliver);
}

#[test]
fn calls_waiting_through_a_storm_of_sign_outs_and_sign_ins_are_settled() {
    // Any script of the origin can post "signed-out" and "signed-in" on the tabs' channel, on
    // repeat: each sign-out makes the refresh in flight stale, each sign-in makes the session
    // unknown again, so another refresh follows. The calls waiting must not wait for as long as
    // that goes on.
    let mut d = machine();
    assert_eq!(d.begin(1, T0), Fate::Wait);
    assert_eq!(d.fate(2, |m| m.refresh(2)), Fate::Wait);
    assert_eq!(d.fate(3, |m| m.restore(3)), Fate::Wait);
    let mut ticket = one_ticket(&d.drain());
    let mut settled = Vec::new();
    for _round in 0..10 {
        d.permit(ticket);
        d.m.heard(Message::SignedOut);
        d.m.heard(Message::SignedIn);
        d.answered(ticket, 200, Some(&token_body("stale", Some(60.0))), T0);
        let actions = d.drain();
        settled.extend(actions.iter().filter_map(|a| match a {
            Action::Send { id, bearer } => Some((*id, format!("send {bearer:?}"))),
            Action::Fail { id, error } => Some((*id, format!("fail {:?}", error.code))),
            Action::Resolve { id, session } => Some((*id, format!("resolve {session}"))),
            _ => None,
        }));
        match tickets(&actions)[..] {
            [] => break,
            [next] => ticket = next,
            _ => panic!("two refreshes at once: {actions:?}"),
        }
    }
    settled.sort();
    assert_eq!(
        settled,
        [
            (1, "send None".to_owned()),
            (2, "fail SessionExpired".to_owned()),
            (3, "resolve false".to_owned())
        ],
        "every call settled, once"
    );
    assert!(!d.m.is_authenticated());
}

#[test]
fn a_call_waits_through_one_stale_refresh_for_the_session_another_tab_started() {
    // Another tab signs out and in again while this tab's refresh runs: the answer is stale, and
    // the calls waiting for it get the new session from the refresh that follows.
    let mut d = machine();
    assert_eq!(d.begin(1, T0), Fate::Wait);
    let stale = one_ticket(&d.drain());
    d.permit(stale);
    d.m.heard(Message::SignedOut);
    d.m.heard(Message::SignedIn);
    d.answered(stale, 200, Some(&token_body("stale", Some(60.0))), T0);
    let next = one_ticket(&d.drain());
    d.grant(next, "fresh", Some(60.0), T0);
    let actions = d.drain();
    let Some(Action::Send {
        id: 1,
        bearer: Some(fresh),
    }) = actions.last()
    else {
        panic!("{actions:?}")
    };
    assert_eq!(d.m.token(*fresh).unwrap().expose(), b"fresh");
}
