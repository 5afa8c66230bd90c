//! The token state machine driven with a scripted clock: single flight, retry once, session
//! end, failures, expiry and leeway, across-tab messages.
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
    Action, AuthError, Bearer, Begin, Destination, ErrorCode, Machine, Message, Options,
    RefreshOutcome, Reply, State, Value,
};
use invariants::grant;

const API: &str = "https://api.example";
const T0: f64 = 1_800_000_000_000.0;

fn api() -> Destination<'static> {
    Destination {
        origin: API,
        has_authorization: false,
    }
}

fn machine() -> Machine {
    machine_with(&[])
}

fn machine_with(extra: &[(&str, Value)]) -> Machine {
    let mut entries = vec![(
        "apiOrigins".to_owned(),
        Value::Array(vec![Value::string(API)]),
    )];
    entries.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    Machine::new(Options::from_value(&Value::Object(entries), "https://app.example").unwrap())
}

fn drain(machine: &mut Machine) -> Vec<Action> {
    std::iter::from_fn(|| machine.poll_action()).collect()
}

fn tickets(actions: &[Action]) -> Vec<authfetch::core::machine::RefreshTicket> {
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

fn one_ticket(actions: &[Action]) -> authfetch::core::machine::RefreshTicket {
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

/// Signs in through a first refresh (a fresh page with a live cookie) and returns the bearer.
fn signed_in(machine: &mut Machine, expires_in: Option<f64>, now: f64) -> Bearer {
    assert_eq!(machine.begin(0, api(), now), Begin::Wait);
    let ticket = one_ticket(&drain(machine));
    machine.refresh_finished(
        ticket,
        RefreshOutcome::Granted(grant("first", expires_in)),
        now,
    );
    let actions = drain(machine);
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
    assert_eq!(machine.response(0, 200, Some(bearer), true), Reply::Deliver);
    bearer
}

#[test]
fn a_fresh_page_refreshes_before_its_first_api_call() {
    let mut m = machine();
    assert_eq!(m.begin(1, api(), T0), Begin::Wait);
    let actions = drain(&mut m);
    assert_eq!(emitted(&actions), [State::Refreshing]);
    let ticket = one_ticket(&actions);
    m.refresh_finished(
        ticket,
        RefreshOutcome::Granted(grant("t", Some(300.0))),
        T0 + 5.0,
    );
    let actions = drain(&mut m);
    assert_eq!(emitted(&actions), [State::SignedIn]);
    let bearer = match actions.last() {
        Some(Action::Send {
            id: 1,
            bearer: Some(bearer),
        }) => *bearer,
        other => panic!("{other:?}"),
    };
    assert_eq!(m.token(bearer).unwrap().expose(), "t");
    assert!(m.is_authenticated());
    assert_eq!(m.expires_at(), Some(T0 + 5.0 + 300_000.0));
}

#[test]
fn fifty_requests_on_an_expired_token_make_exactly_one_refresh() {
    let mut m = machine();
    let old = signed_in(&mut m, Some(60.0), T0);
    let later = T0 + 61_000.0;
    for id in 1..=50 {
        assert_eq!(m.begin(id, api(), later), Begin::Wait, "request {id}");
    }
    let actions = drain(&mut m);
    let ticket = one_ticket(&actions);
    assert_eq!(emitted(&actions), [State::Refreshing]);
    m.refresh_finished(
        ticket,
        RefreshOutcome::Granted(grant("new", Some(60.0))),
        later,
    );
    let actions = drain(&mut m);
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
    assert!(m.token(old).is_none(), "the old token is gone");
}

#[test]
fn concurrent_401s_share_one_refresh_and_each_retries_once() {
    let mut m = machine();
    let bearer = signed_in(&mut m, None, T0);
    for id in 1..=10 {
        assert_eq!(m.begin(id, api(), T0), Begin::Send(Some(bearer)));
    }
    for id in 1..=10 {
        assert_eq!(m.response(id, 401, Some(bearer), true), Reply::Wait);
    }
    let ticket = one_ticket(&drain(&mut m));
    m.refresh_finished(ticket, RefreshOutcome::Granted(grant("new", None)), T0);
    let actions = drain(&mut m);
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
    // A second 401 is the caller's: no second refresh, no third attempt.
    for id in 1..=10 {
        assert_eq!(m.response(id, 401, Some(*new), true), Reply::Deliver);
    }
    assert!(drain(&mut m).is_empty());
}

#[test]
fn a_401_for_an_older_token_retries_with_the_newer_one_without_refreshing() {
    let mut m = machine();
    let old = signed_in(&mut m, None, T0);
    assert_eq!(m.begin(1, api(), T0), Begin::Send(Some(old)));
    assert_eq!(m.begin(2, api(), T0), Begin::Send(Some(old)));
    // Request 1's 401 refreshes; request 2's 401 arrives after that refresh finished.
    assert_eq!(m.response(1, 401, Some(old), true), Reply::Wait);
    let ticket = one_ticket(&drain(&mut m));
    m.refresh_finished(ticket, RefreshOutcome::Granted(grant("new", None)), T0);
    let new = match drain(&mut m).last() {
        Some(Action::Send {
            id: 1,
            bearer: Some(b),
        }) => *b,
        other => panic!("{other:?}"),
    };
    assert_eq!(m.response(2, 401, Some(old), true), Reply::Retry(new));
    assert!(drain(&mut m).is_empty(), "no second refresh");
    assert_eq!(
        m.response(2, 401, Some(new), true),
        Reply::Deliver,
        "and only one retry"
    );
}

#[test]
fn refresh_401_or_403_ends_the_session_once_and_waiters_get_their_401() {
    for status_meaning in ["401", "403"] {
        let mut m = machine();
        let bearer = signed_in(&mut m, Some(60.0), T0);
        // Three requests got 401s; two more wait for a token because it is due.
        for id in 1..=3 {
            assert_eq!(m.begin(id, api(), T0), Begin::Send(Some(bearer)));
            assert_eq!(m.response(id, 401, Some(bearer), true), Reply::Wait);
        }
        for id in 4..=5 {
            assert_eq!(m.begin(id, api(), T0 + 59_000.0), Begin::Wait);
        }
        let ticket = one_ticket(&drain(&mut m));
        m.refresh_finished(ticket, RefreshOutcome::SessionOver, T0 + 59_000.0);
        let actions = drain(&mut m);
        assert_eq!(emitted(&actions), [State::Expired], "{status_meaning}");
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
        assert!(!m.is_authenticated());
        assert_eq!(m.expires_at(), None);
        // Afterwards: no bearer, no refresh, a 401 is just delivered, no second "expired".
        assert_eq!(m.begin(6, api(), T0 + 60_000.0), Begin::Send(None));
        assert_eq!(m.response(6, 401, None, true), Reply::Deliver);
        assert!(drain(&mut m).is_empty());
    }
}

#[test]
fn a_fresh_page_without_a_session_is_signed_out_not_expired() {
    let mut m = machine();
    assert_eq!(m.begin(1, api(), T0), Begin::Wait);
    let ticket = one_ticket(&drain(&mut m));
    m.refresh_finished(ticket, RefreshOutcome::SessionOver, T0);
    let actions = drain(&mut m);
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
    let failures = [
        AuthError::new(
            ErrorCode::Network,
            "the refresh endpoint could not be reached",
        ),
        AuthError::new(
            ErrorCode::Timeout,
            "the refresh endpoint did not answer in time",
        ),
        AuthError::new(
            ErrorCode::RefreshFailed,
            "the refresh endpoint answered 500",
        ),
        AuthError::new(ErrorCode::BadResponse, "the refresh response is not JSON"),
    ];
    for error in failures {
        let mut m = machine();
        let bearer = signed_in(&mut m, None, T0);
        assert_eq!(m.begin(1, api(), T0), Begin::Send(Some(bearer)));
        assert_eq!(m.response(1, 401, Some(bearer), true), Reply::Wait);
        m.refresh(2);
        let ticket = one_ticket(&drain(&mut m));
        m.refresh_finished(ticket, RefreshOutcome::Failed(error.clone()), T0);
        let actions = drain(&mut m);
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
        assert!(m.token(bearer).is_some());
        // ...and the next 401 tries again.
        assert_eq!(m.begin(3, api(), T0), Begin::Send(Some(bearer)));
        assert_eq!(m.response(3, 401, Some(bearer), true), Reply::Wait);
        one_ticket(&drain(&mut m));
    }
}

#[test]
fn a_failed_first_refresh_leaves_a_fresh_page_able_to_try_again() {
    let mut m = machine();
    assert_eq!(m.begin(1, api(), T0), Begin::Wait);
    let ticket = one_ticket(&drain(&mut m));
    let error = AuthError::new(ErrorCode::Network, "offline");
    m.refresh_finished(ticket, RefreshOutcome::Failed(error.clone()), T0);
    assert_eq!(drain(&mut m), [Action::Fail { id: 1, error }]);
    assert_eq!(m.begin(2, api(), T0), Begin::Wait);
    assert_eq!(
        emitted(&drain(&mut m)),
        [State::Refreshing],
        "reported again for the new attempt"
    );
}

#[test]
fn leeway_refreshes_before_expiry_so_no_401_round_trip_happens() {
    let mut m = machine(); // default leeway 30 s
    let bearer = signed_in(&mut m, Some(300.0), T0);
    let due = T0 + 270_000.0;
    assert_eq!(m.begin(1, api(), due - 1.0), Begin::Send(Some(bearer)));
    assert_eq!(m.begin(2, api(), due), Begin::Wait);
    one_ticket(&drain(&mut m));
}

#[test]
fn leeway_is_capped_at_half_a_short_lifetime() {
    let mut m = machine_with(&[("refreshLeewaySeconds", Value::Number(30.0))]);
    let bearer = signed_in(&mut m, Some(10.0), T0);
    assert_eq!(m.begin(1, api(), T0 + 4_999.0), Begin::Send(Some(bearer)));
    assert_eq!(m.begin(2, api(), T0 + 5_000.0), Begin::Wait);
}

#[test]
fn zero_leeway_refreshes_exactly_at_expiry() {
    let mut m = machine_with(&[("refreshLeewaySeconds", Value::Number(0.0))]);
    let bearer = signed_in(&mut m, Some(60.0), T0);
    assert_eq!(m.begin(1, api(), T0 + 59_999.0), Begin::Send(Some(bearer)));
    assert_eq!(m.begin(2, api(), T0 + 60_000.0), Begin::Wait);
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
    let body = Value::object([("access_token", Value::string(jwt(claims)))]);
    parse_grant(Some(&body), "refresh", "access_token", "expires_in").unwrap()
}

#[test]
fn jwt_exp_minus_iat_counts_from_arrival_so_a_wrong_client_clock_does_not_matter() {
    // The server's clock says 2001; the client's says T0 (2027). exp - iat = 600 s.
    for client_now in [T0, T0 - 86_400_000.0 * 365.0, T0 + 3_600_000.0] {
        let mut m = machine_with(&[("refreshLeewaySeconds", Value::Number(0.0))]);
        assert_eq!(m.begin(0, api(), client_now), Begin::Wait);
        let ticket = one_ticket(&drain(&mut m));
        m.refresh_finished(
            ticket,
            RefreshOutcome::Granted(jwt_grant(r#"{"iat":1000000000,"exp":1000000600}"#)),
            client_now,
        );
        drain(&mut m);
        assert_eq!(m.expires_at(), Some(client_now + 600_000.0));
        assert!(matches!(
            m.begin(1, api(), client_now + 599_999.0),
            Begin::Send(Some(_))
        ));
        assert_eq!(m.begin(2, api(), client_now + 600_000.0), Begin::Wait);
    }
}

#[test]
fn jwt_exp_without_iat_is_an_absolute_time_and_expires_in_wins_over_the_jwt() {
    let mut m = machine_with(&[("refreshLeewaySeconds", Value::Number(0.0))]);
    assert_eq!(m.begin(0, api(), T0), Begin::Wait);
    let ticket = one_ticket(&drain(&mut m));
    let exp_seconds = (T0 / 1000.0) + 120.0;
    m.refresh_finished(
        ticket,
        RefreshOutcome::Granted(jwt_grant(&format!(r#"{{"exp":{exp_seconds}}}"#))),
        T0,
    );
    drain(&mut m);
    assert_eq!(m.expires_at(), Some(T0 + 120_000.0));

    let body = Value::object([
        (
            "access_token",
            Value::string(jwt(r#"{"iat":0,"exp":999999}"#)),
        ),
        ("expires_in", Value::Number(42.0)),
    ]);
    let preferred = parse_grant(Some(&body), "refresh", "access_token", "expires_in").unwrap();
    assert_eq!(
        preferred.lifetime(),
        authfetch::core::Lifetime::FromArrival(42_000.0)
    );
}

#[test]
fn opaque_tokens_without_expires_in_are_refreshed_on_401_alone() {
    let mut m = machine();
    let bearer = signed_in(&mut m, None, T0);
    assert_eq!(m.expires_at(), None);
    // A year later, still sent as is: only a 401 can tell.
    assert_eq!(m.begin(1, api(), T0 + 3.15e10), Begin::Send(Some(bearer)));
}

#[test]
fn foreign_origins_and_own_authorization_headers_pass_through_untouched() {
    let mut m = machine();
    let bearer = signed_in(&mut m, None, T0);
    for origin in [
        "https://evil.example",
        "http://api.example",
        "https://api.example:8443",
        "null",
        "garbage",
    ] {
        assert_eq!(
            m.begin(
                1,
                Destination {
                    origin,
                    has_authorization: false
                },
                T0
            ),
            Begin::PassThrough,
            "{origin}"
        );
    }
    assert_eq!(
        m.begin(
            2,
            Destination {
                origin: API,
                has_authorization: true
            },
            T0
        ),
        Begin::PassThrough
    );
    let same = Destination {
        origin: "https://API.example:443",
        has_authorization: false,
    };
    assert_eq!(m.begin(3, same, T0), Begin::Send(Some(bearer)));
}

#[test]
fn streamed_bodies_are_not_replayed() {
    let mut m = machine();
    let bearer = signed_in(&mut m, None, T0);
    assert_eq!(m.begin(1, api(), T0), Begin::Send(Some(bearer)));
    assert_eq!(m.response(1, 401, Some(bearer), false), Reply::Deliver);
    assert!(
        drain(&mut m).is_empty(),
        "no refresh for a request that cannot be retried"
    );
}

#[test]
fn explicit_refresh_joins_a_running_refresh_and_reports_the_outcome() {
    let mut m = machine();
    assert_eq!(m.begin(1, api(), T0), Begin::Wait);
    m.refresh(2);
    m.refresh(3);
    let ticket = one_ticket(&drain(&mut m));
    m.refresh_finished(ticket, RefreshOutcome::Granted(grant("t", None)), T0);
    let actions = drain(&mut m);
    assert!(actions.contains(&Action::Resolve { id: 2 }));
    assert!(actions.contains(&Action::Resolve { id: 3 }));

    // When the session is over, refresh() still asks the server (a sign-in may have happened
    // elsewhere) and fails with session_expired if it is really over.
    let mut m = machine();
    signed_in(&mut m, None, T0);
    m.sign_out();
    drain(&mut m);
    m.refresh(9);
    let ticket = one_ticket(&drain(&mut m));
    m.refresh_finished(ticket, RefreshOutcome::SessionOver, T0);
    let actions = drain(&mut m);
    assert!(actions.iter().any(
        |a| matches!(a, Action::Fail { id: 9, error } if error.code == ErrorCode::SessionExpired)
    ));
}

#[test]
fn sign_out_during_a_refresh_wins_over_its_answer() {
    let mut m = machine();
    let bearer = signed_in(&mut m, None, T0);
    assert_eq!(m.begin(1, api(), T0), Begin::Send(Some(bearer)));
    assert_eq!(m.response(1, 401, Some(bearer), true), Reply::Wait);
    let ticket = one_ticket(&drain(&mut m));
    m.sign_out();
    let actions = drain(&mut m);
    assert_eq!(emitted(&actions), [State::SignedOut]);
    assert!(actions.contains(&Action::Broadcast(Message::SignedOut)));
    // The refresh used the cookie from before the logout; its token must not sign us back in.
    m.refresh_finished(ticket, RefreshOutcome::Granted(grant("late", None)), T0);
    let actions = drain(&mut m);
    assert!(!m.is_authenticated());
    assert_eq!(actions, [Action::Deliver { id: 1 }]);
}

#[test]
fn login_installs_the_token_and_tells_other_tabs() {
    let mut m = machine();
    m.login_succeeded(1, Some(grant("t", Some(60.0))), T0);
    let actions = drain(&mut m);
    assert_eq!(
        actions,
        [
            Action::Broadcast(Message::SignedIn),
            Action::Emit(State::SignedIn),
            Action::Resolve { id: 1 }
        ]
    );
    assert!(matches!(m.begin(2, api(), T0), Begin::Send(Some(_))));
}

#[test]
fn a_login_answer_without_a_token_is_followed_by_a_refresh() {
    let mut m = machine_with(&[("loginTokenField", Value::Null)]);
    m.login_succeeded(1, None, T0);
    let actions = drain(&mut m);
    let ticket = one_ticket(&actions);
    m.refresh_finished(ticket, RefreshOutcome::Granted(grant("t", None)), T0);
    assert!(drain(&mut m).contains(&Action::Resolve { id: 1 }));
    assert!(m.is_authenticated());
}

#[test]
fn other_tabs_sign_out_and_sign_in() {
    let mut m = machine();
    signed_in(&mut m, None, T0);
    m.heard(Message::SignedOut);
    let actions = drain(&mut m);
    assert_eq!(
        actions,
        [Action::Emit(State::SignedOut)],
        "no echo back to the other tabs"
    );
    assert_eq!(m.begin(1, api(), T0), Begin::Send(None));
    m.heard(Message::SignedIn);
    assert_eq!(
        m.begin(2, api(), T0),
        Begin::Wait,
        "picks up the new session lazily"
    );
    one_ticket(&drain(&mut m));
}

#[test]
fn events_fire_on_changes_only() {
    let mut m = machine();
    signed_in(&mut m, None, T0);
    m.sign_out();
    m.sign_out();
    m.heard(Message::SignedOut);
    assert_eq!(emitted(&drain(&mut m)), [State::SignedOut]);
}

#[test]
fn a_forgotten_waiter_does_not_stop_the_refresh_for_the_others() {
    let mut m = machine();
    assert_eq!(m.begin(1, api(), T0), Begin::Wait);
    assert_eq!(m.begin(2, api(), T0), Begin::Wait);
    let ticket = one_ticket(&drain(&mut m));
    m.forget(1); // aborted by its caller
    m.refresh_finished(ticket, RefreshOutcome::Granted(grant("t", None)), T0);
    let sends: Vec<_> = drain(&mut m)
        .into_iter()
        .filter(|a| matches!(a, Action::Send { .. }))
        .collect();
    assert_eq!(sends.len(), 1);
    assert!(matches!(sends[0], Action::Send { id: 2, .. }));
}

#[test]
fn tokens_never_print() {
    let mut m = machine();
    m.login_succeeded(1, Some(grant("secret-token-value", None)), T0);
    drain(&mut m);
    let Begin::Send(Some(bearer)) = m.begin(2, api(), T0) else {
        panic!("no bearer")
    };
    let token = m.token(bearer).unwrap();
    assert_eq!(
        token.expose(),
        "secret-token-value",
        "the token is there to leak"
    );
    let printed = format!(
        "{token} {token:?} {m:?} {:?}",
        grant("secret-token-value", None)
    );
    assert!(!printed.contains("secret"), "{printed}");
    assert!(printed.contains("[redacted]"));
}

#[test]
fn a_ticket_stops_being_current_when_the_session_is_decided_elsewhere() {
    let mut m = machine();
    let bearer = signed_in(&mut m, None, T0);
    assert_eq!(m.begin(1, api(), T0), Begin::Send(Some(bearer)));
    assert_eq!(m.response(1, 401, Some(bearer), true), Reply::Wait);
    let ticket = one_ticket(&drain(&mut m));
    assert!(m.ticket_is_current(ticket));
    m.heard(Message::SignedOut); // another tab signed out while this one waited for the lock
    assert!(
        !m.ticket_is_current(ticket),
        "the waiting refresh must not present the cookie"
    );
    m.refresh_finished(ticket, RefreshOutcome::SessionOver, T0);
    assert!(drain(&mut m).contains(&Action::Deliver { id: 1 }));
}

#[test]
fn revisiting_after_sleep_refreshes_a_due_token_once() {
    let mut m = machine(); // leeway 30 s
    signed_in(&mut m, Some(300.0), T0);
    m.revisit(T0 + 60_000.0);
    assert!(drain(&mut m).is_empty(), "not due yet: nothing to do");
    m.revisit(T0 + 3_600_000.0); // an hour asleep
    m.revisit(T0 + 3_600_001.0); // visibilitychange and online in a row
    let actions = drain(&mut m);
    let ticket = one_ticket(&actions);
    m.refresh_finished(
        ticket,
        RefreshOutcome::Granted(grant("fresh", Some(300.0))),
        T0 + 3_600_100.0,
    );
    assert_eq!(emitted(&drain(&mut m)), [State::SignedIn]);
    assert!(matches!(
        m.begin(2, api(), T0 + 3_600_200.0),
        Begin::Send(Some(_))
    ));
    // Nothing held: nothing to refresh.
    let mut fresh = machine();
    fresh.revisit(T0);
    assert!(drain(&mut fresh).is_empty());
}
