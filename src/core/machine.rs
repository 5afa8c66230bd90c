//! The token state machine. It performs no IO and reads no clock: the driver reports what
//! happened ("a request wants to go out at t", "the API answered 401", "the refresh endpoint
//! answered …") and carries out the [`Action`]s it polls.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::core::config::Options;
use crate::core::error::{AuthError, Endpoint, ErrorCode, decimal, words};
use crate::core::grant::{
    Grant, Lifetime, RefreshOutcome, classify_login, classify_logout, classify_refresh,
};
use crate::core::origin::origin_of_url;
use crate::core::token::Token;

/// Identifies one call (`fetch`, `login`, `refresh`, …) for its whole life. Chosen by the driver,
/// unique among calls alive at once.
pub type RequestId = u64;

/// Names the token a request was sent with: a new one is issued on every login or refresh, so
/// a 401 can be matched to the token that earned it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bearer(u64);

impl Bearer {
    /// Its number, for crossing into JavaScript: 1, 2, … in the order tokens were installed.
    pub fn number(self) -> u64 {
        self.0
    }
}

/// Identifies one refresh run, so an answer that arrives after a login or logout changed the
/// session is not mistaken for the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshTicket(u64);

impl RefreshTicket {
    /// Its number, for crossing into JavaScript.
    pub fn number(self) -> u64 {
        self.0
    }

    /// The ticket numbered `number` (as the driver hands it back).
    pub fn from_number(number: u64) -> Self {
        Self(number)
    }
}

/// The latest time a JavaScript `Date` can hold: an expiry beyond it is reported as this.
const LATEST_DATE_MS: f64 = 8.64e15;

/// Wake-ups (`online`, the page shown again) refresh at most this often.
const WAKE_INTERVAL_MS: f64 = 5_000.0;

/// The state `onChange` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// A token is held.
    SignedIn,
    /// A refresh is running.
    Refreshing,
    /// Signed out (by this tab, another tab, or no session found on a fresh page).
    SignedOut,
    /// The refresh endpoint ended the session.
    Expired,
}

impl State {
    /// The name listeners receive.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignedIn => "signed-in",
            Self::Refreshing => "refreshing",
            Self::SignedOut => "signed-out",
            Self::Expired => "expired",
        }
    }
}

/// What tabs tell each other. Never a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// A login succeeded: a refresh cookie for a live session is in the jar.
    SignedIn,
    /// A logout, or the session was found expired: the cookie is worthless.
    SignedOut,
}

impl Message {
    /// The message on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignedIn => "signed-in",
            Self::SignedOut => "signed-out",
        }
    }

    /// The message a wire string names, if any.
    pub fn parse(text: &[u8]) -> Option<Self> {
        match text {
            b"signed-in" => Some(Self::SignedIn),
            b"signed-out" => Some(Self::SignedOut),
            _ => None,
        }
    }
}

/// Why a network call produced no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// `fetch` rejected (network, CORS, a bad request).
    Network,
    /// `timeoutMs` passed.
    Timeout,
    /// The cross-tab refresh lock was not granted within `timeoutMs`.
    LockNotGranted,
}

impl Failure {
    /// The error for a call to `endpoint` that failed this way.
    pub fn error(self, endpoint: Endpoint, timeout_ms: u32) -> AuthError {
        match self {
            Self::Timeout => AuthError::new(
                ErrorCode::Timeout,
                words(&[
                    endpoint.what(),
                    b" did not answer within ",
                    &decimal(u64::from(timeout_ms)),
                    b" ms",
                ]),
            )
            .at(endpoint),
            Self::LockNotGranted => AuthError::new(
                ErrorCode::Timeout,
                words(&[
                    b"the cross-tab refresh lock was not granted within ",
                    &decimal(u64::from(timeout_ms)),
                    b" ms",
                ]),
            ),
            Self::Network => AuthError::new(
                ErrorCode::Network,
                words(&[endpoint.what(), b" could not be reached"]),
            )
            .at(endpoint),
        }
    }
}

/// Work for the driver, taken with [`Machine::poll_action`].
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send request `id` now with this token or none: its first attempt, or, if it was
    /// answered 401 before, its one retry. Report the answer with [`Machine::response`].
    Send {
        /// The request.
        id: RequestId,
        /// The token to attach.
        bearer: Option<Bearer>,
    },
    /// Request `id` is not for the API, or the caller authorised it: send it untouched and
    /// give the caller whatever comes back. The core has forgotten it.
    PassThrough {
        /// The request.
        id: RequestId,
    },
    /// Request `id` is on its way with a token the API has just refused: abort that attempt
    /// and forget its answer; a [`Action::Send`] (or [`Action::Fail`]) for it will come.
    Recall {
        /// The request.
        id: RequestId,
    },
    /// Give the caller the response request `id` got last. The core has forgotten it.
    Deliver {
        /// The request.
        id: RequestId,
    },
    /// Reject call `id` with this error. The core has forgotten it.
    Fail {
        /// The call.
        id: RequestId,
        /// Why.
        error: AuthError,
    },
    /// Call `id` (`login`, `logout`, `refresh`, `restore`) succeeded. The core has forgotten it.
    Resolve {
        /// The call.
        id: RequestId,
        /// Whether a session exists (what `restore()` resolves with).
        session: bool,
    },
    /// A refresh is needed: take the cross-tab lock (at once where there is none), then
    /// report [`Machine::refresh_permitted`], or [`Machine::refresh_failed`] when the lock was
    /// not granted in time.
    StartRefresh(RefreshTicket),
    /// Call the refresh endpoint now and report [`Machine::refresh_answered`] or
    /// [`Machine::refresh_failed`].
    CallRefresh(RefreshTicket),
    /// Release the cross-tab lock taken for the refresh (nothing to do without one).
    Unlock,
    /// Tell the `onChange` listeners.
    Emit(State),
    /// Tell the other tabs.
    Broadcast(Message),
}

#[derive(Debug)]
struct Held {
    token: Token,
    bearer: Bearer,
    expires_at_ms: Option<f64>,
    leeway_ms: f64,
}

impl Held {
    fn refresh_due(&self, now_ms: f64) -> bool {
        self.expires_at_ms
            .is_some_and(|expires_at| now_ms >= expires_at - self.leeway_ms)
    }
}

/// What the client knows about the session when it holds no token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Session {
    /// Maybe alive (a fresh page, or another tab signed in): refresh before sending.
    Unknown,
    /// Alive: a token is held.
    Active,
    /// Over: requests go without a token until a login or a successful refresh.
    Over,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    /// Not sent yet; waits for a token.
    ToSend,
    /// Answered 401 when it was sent with `refused` (or, `recalled`, withdrawn before its
    /// answer because another request's 401 refused that token); waits to be retried with
    /// another token.
    ToRetry {
        /// The token the 401 was for.
        refused: Option<Bearer>,
        /// Withdrawn without an answer: when the session turns out over there is no 401 to
        /// give the caller, so it goes once more without a token, as a request would then.
        recalled: bool,
    },
    /// A `refresh()`, `restore()` or token-less `login()` call; waits for the outcome itself.
    /// `restore`: "no session" resolves it (with `false`) instead of failing it.
    ForOutcome {
        /// Whether this is a `restore()` call.
        restore: bool,
    },
}

/// Where an API request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Out (or about to go) with this token or none.
    Sent(Option<Bearer>),
    /// Held until the refresh decides.
    Waiting(Waiting),
}

/// Whether, and when, an API request may be sent a second time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Its body is a stream, which cannot be sent twice: its 401 is delivered as it is.
    Never,
    /// After a 401, with a newer token.
    AfterAnswer,
    /// Also before its answer: a bodiless `GET` or `HEAD` (a safe method, which changes nothing
    /// on the server) still on its way with a token the API has just refused is withdrawn
    /// ([`Action::Recall`]) and sent again once the refresh brings a new one, instead of
    /// queueing in front of the refresh only to be refused too.
    Anytime,
}

#[derive(Debug)]
struct Call {
    id: RequestId,
    /// Sent a second time already (or a `refresh()`-like call, which is never sent).
    retried: bool,
    replay: Replay,
    stage: Stage,
    /// Refreshes that went stale while it waited.
    stale_waits: u8,
}

/// How many refreshes made stale by another tab's sign-out a call waits through for the session
/// that tab may start again (a sign-in there while this tab's refresh ran) before it is settled
/// as after a sign-out. Any script of the origin can post both messages on repeat: each
/// sign-out makes the refresh in flight stale, and each sign-in makes another one needed.
const STALE_WAITS: u8 = 1;

/// The client's token state, one per `AuthClient`.
///
/// # Calling protocol
///
/// The machine never calls out and never blocks; the driver owns the clock, the network, the
/// locks and the promises.
///
/// - **Inputs** (`begin`, `response`, `failed`, `forget`, `refresh`, `restore`,
///   `refresh_permitted`, `refresh_answered`, `refresh_failed`, `login_answered`, `sign_out`,
///   `logout_answered`, `heard`, `revisit`, `close`) report what happened. They return
///   nothing the driver must act on.
/// - **Output**: after every input, call [`Machine::poll_action`] until it returns `None` and
///   carry out each [`Action`] in order. Actions are the only decisions.
/// - **Queries** (`state`, `is_authenticated`, `expires_at`, `token`, `options`) change
///   nothing and may be read at any time.
///
/// A call's id is chosen by the driver and is unique among calls alive at once. An API call
/// goes `begin` → `Send` or `PassThrough` (or, later, `Send`/`Fail` after a refresh) →
/// `response` → `Deliver`, or `Send` once more (the retry) → `response` → `Deliver`; a `Recall`
/// withdraws an attempt before its answer, and a `Send` (its retry) follows. A refresh
/// goes `StartRefresh` → (the lock) → `refresh_permitted` → `CallRefresh` → `refresh_answered`
/// → `Unlock`, then the waiters' actions.
#[derive(Debug)]
pub struct Machine {
    options: Options,
    held: Option<Held>,
    session: Session,
    next_bearer: u64,
    /// Bumped by every login and logout; a refresh started under another epoch is stale.
    epoch: u64,
    /// The epoch was last bumped by another tab's sign-out (see [`STALE_WAITS`]).
    ended_elsewhere: bool,
    refreshing: bool,
    last_wake_refresh_ms: Option<f64>,
    reported: Option<State>,
    before_refresh: Option<State>,
    calls: Vec<Call>,
    /// Decided, in order; those before `taken` were polled already.
    actions: Vec<Action>,
    taken: usize,
    closed: bool,
}

impl Machine {
    /// A client that holds no token and does not yet know whether a session exists.
    pub fn new(options: Options) -> Self {
        Self {
            options,
            held: None,
            session: Session::Unknown,
            next_bearer: 0,
            epoch: 0,
            ended_elsewhere: false,
            refreshing: false,
            last_wake_refresh_ms: None,
            reported: None,
            before_refresh: None,
            calls: Vec::new(),
            actions: Vec::new(),
            taken: 0,
            closed: false,
        }
    }

    /// The validated options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The next decision. Call until `None` after every input.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        // From the front without shifting the rest (what `VecDeque` would do, in more code);
        // a polled slot holds a stand-in until the list is emptied.
        let slot = self.actions.get_mut(self.taken)?;
        let action = core::mem::replace(slot, Action::Unlock);
        self.taken += 1;
        if self.taken == self.actions.len() {
            self.actions.clear();
            self.taken = 0;
        }
        Some(action)
    }

    /// Whether a token is held.
    pub fn is_authenticated(&self) -> bool {
        self.held.is_some()
    }

    /// When the held token expires, in milliseconds since the epoch, if known.
    pub fn expires_at(&self) -> Option<f64> {
        self.held.as_ref().and_then(|held| held.expires_at_ms)
    }

    /// The last state reported to listeners; `None` while nothing was learnt ("unknown").
    pub fn state(&self) -> Option<State> {
        self.reported
    }

    /// The token named by `bearer`, if it is still the one held.
    pub fn token(&self, bearer: Bearer) -> Option<&Token> {
        self.held
            .as_ref()
            .filter(|held| held.bearer == bearer)
            .map(|held| &held.token)
    }

    /// Request `id` for `url` (absolute, as the browser serialised it) wants to go out at
    /// `now_ms`. `has_authorization`: the caller set that header itself. `replay`: whether it
    /// can be sent again.
    pub fn begin(
        &mut self,
        id: RequestId,
        url: &[u8],
        has_authorization: bool,
        replay: Replay,
        now_ms: f64,
    ) {
        if self.refused_when_closed(id) {
            return;
        }
        let for_api = origin_of_url(url).is_some_and(|origin| self.options.admits(origin));
        if has_authorization || !for_api {
            self.actions.push(Action::PassThrough { id });
            return;
        }
        let stage = match (&self.held, self.session) {
            (Some(held), _) if !held.refresh_due(now_ms) => Stage::Sent(Some(held.bearer)),
            (None, Session::Over) => Stage::Sent(None),
            _ => Stage::Waiting(Waiting::ToSend),
        };
        self.calls.push(Call {
            id,
            retried: false,
            replay,
            stage,
            stale_waits: 0,
        });
        match stage {
            Stage::Sent(bearer) => self.actions.push(Action::Send { id, bearer }),
            Stage::Waiting(_) => self.ensure_refresh(),
        }
    }

    /// Request `id` was answered with `status`.
    pub fn response(&mut self, id: RequestId, status: u16) {
        let held = self.held.as_ref().map(|held| held.bearer);
        let over = held.is_none() && self.session == Session::Over;
        let Some(index) = self.calls.iter().position(|call| call.id == id) else {
            self.actions.push(Action::Deliver { id });
            return;
        };
        let Some(call) = self.calls.get_mut(index) else {
            return;
        };
        let sent_with = match call.stage {
            Stage::Sent(bearer) => bearer,
            Stage::Waiting(_) => None,
        };
        if status != 401 || call.replay == Replay::Never || call.retried || over {
            self.calls.swap_remove(index);
            self.actions.push(Action::Deliver { id });
        } else if let Some(newer) = held.filter(|held| Some(*held) != sent_with) {
            // Another request refreshed while this one was out: retry with its token, no
            // second refresh.
            call.retried = true;
            call.stage = Stage::Sent(Some(newer));
            self.actions.push(Action::Send {
                id,
                bearer: Some(newer),
            });
        } else {
            call.stage = Stage::Waiting(Waiting::ToRetry {
                refused: sent_with,
                recalled: false,
            });
            self.ensure_refresh();
            if let Some(refused) = sent_with {
                self.recall(refused);
            }
        }
    }

    /// Call `id` to `endpoint` got no answer (`Api`: an API request; `Login`, `Logout`: those
    /// calls). The caller's own aborts are not reported here: the driver rejects those itself
    /// and calls [`Machine::forget`].
    pub fn failed(&mut self, id: RequestId, failure: Failure, endpoint: Endpoint) {
        self.forget(id);
        let error = failure.error(endpoint, self.options.timeout_ms);
        self.actions.push(Action::Fail { id, error });
    }

    /// The caller gave up on `id` (abort). A refresh it waited for goes on for the others.
    // One copy in the wasm: see .cargo/config.toml.
    #[inline(never)]
    pub fn forget(&mut self, id: RequestId) {
        self.calls.retain(|call| call.id != id);
    }

    /// `refresh()` was called: refresh now, or join the refresh already running, whatever the
    /// client believed about the session.
    pub fn refresh(&mut self, id: RequestId) {
        self.wait_for_outcome(id, false);
    }

    /// `restore()` was called: resolve with whether a session exists, refreshing first only
    /// when that is not known yet (or joining a refresh already running).
    pub fn restore(&mut self, id: RequestId) {
        if self.refused_when_closed(id) {
            return;
        }
        match (&self.held, self.session) {
            (_, _) if self.refreshing => self.wait_for_outcome(id, true),
            (Some(_), _) => self.actions.push(Action::Resolve { id, session: true }),
            (None, Session::Over) => self.actions.push(Action::Resolve { id, session: false }),
            _ => self.wait_for_outcome(id, true),
        }
    }

    /// The cross-tab lock for the refresh of `ticket` was granted (or there is none). If a
    /// login, logout or another tab's sign-out decided the session meanwhile, the cookie is not
    /// presented: the lock is released and the waiting calls are settled from the new state.
    pub fn refresh_permitted(&mut self, ticket: RefreshTicket) {
        if self.closed || ticket.0 != self.epoch {
            self.actions.push(Action::Unlock);
            self.stale_refresh_ended();
        } else if !self.refreshing {
            // The refresh was given up (`refresh_failed`) before the lock came: no answer will
            // come to release it.
            self.actions.push(Action::Unlock);
        } else {
            self.actions.push(Action::CallRefresh(ticket));
        }
    }

    /// The refresh endpoint answered `status` with `body` (its text; `None` when it could not
    /// be read) at `now_ms`.
    pub fn refresh_answered(
        &mut self,
        ticket: RefreshTicket,
        status: u16,
        body: Option<&[u8]>,
        now_ms: f64,
    ) {
        if !self.refreshing {
            return;
        }
        let outcome = classify_refresh(
            status,
            body,
            &self.options.token_field,
            &self.options.expires_in_field,
        );
        self.actions.push(Action::Unlock);
        self.refresh_finished(ticket, outcome, now_ms);
    }

    /// The refresh for `ticket` got no answer, or its lock was not granted in time.
    pub fn refresh_failed(&mut self, ticket: RefreshTicket, failure: Failure) {
        if !self.refreshing {
            return;
        }
        let error = failure.error(Endpoint::Refresh, self.options.timeout_ms);
        self.actions.push(Action::Unlock);
        self.refresh_finished(ticket, RefreshOutcome::Failed(error), 0.0);
    }

    /// The refresh started for `ticket` finished at `now_ms`. (`refresh_answered` classifies
    /// an answer and calls this; tests and fuzzing feed outcomes directly.)
    pub fn refresh_finished(
        &mut self,
        ticket: RefreshTicket,
        outcome: RefreshOutcome,
        now_ms: f64,
    ) {
        self.refreshing = false;
        if self.closed {
            return;
        }
        if ticket.0 != self.epoch {
            // A login or logout happened meanwhile and decided the session; the answer is for
            // a cookie that no longer counts.
            self.stale_refresh_ended();
            return;
        }
        match outcome {
            RefreshOutcome::Granted(grant) => {
                self.install(grant, now_ms);
                self.report(State::SignedIn);
                self.settle_waiters(false);
            }
            RefreshOutcome::SessionOver => {
                let had_session =
                    self.held.is_some() || self.before_refresh == Some(State::SignedIn);
                self.held = None;
                self.session = Session::Over;
                if had_session {
                    self.report(State::Expired);
                    self.actions.push(Action::Broadcast(Message::SignedOut));
                } else {
                    self.report(State::SignedOut);
                }
                self.settle_waiters(false);
            }
            RefreshOutcome::Failed(error) => {
                let actions = &mut self.actions;
                self.calls.retain(|call| match call.stage {
                    Stage::Waiting(_) => {
                        actions.push(Action::Fail {
                            id: call.id,
                            error: error.clone(),
                        });
                        false
                    }
                    Stage::Sent(_) => true,
                });
                // Back to what listeners saw before. On a fresh page that is nothing: no event,
                // and the next refresh reports "refreshing" again.
                match self.before_refresh {
                    Some(previous) => self.report(previous),
                    None => self.reported = None,
                }
            }
        }
    }

    /// Login call `id` was answered `status` with `body` (its text; `None`: not read) at
    /// `now_ms`.
    pub fn login_answered(&mut self, id: RequestId, status: u16, body: Option<&[u8]>, now_ms: f64) {
        if self.refused_when_closed(id) {
            return;
        }
        let field = self.options.login_token_field.as_deref();
        match classify_login(status, body, field, &self.options.expires_in_field) {
            Ok(grant) => self.login_succeeded(id, grant, now_ms),
            Err(error) => self.actions.push(Action::Fail { id, error }),
        }
    }

    /// Login call `id` succeeded at `now_ms`; `grant` is `None` when the answer carries no token
    /// (then a refresh follows and decides the call).
    pub fn login_succeeded(&mut self, id: RequestId, grant: Option<Grant>, now_ms: f64) {
        self.epoch += 1;
        self.ended_elsewhere = false;
        self.actions.push(Action::Broadcast(Message::SignedIn));
        match grant {
            Some(grant) => {
                self.install(grant, now_ms);
                self.report(State::SignedIn);
                self.actions.push(Action::Resolve { id, session: true });
                self.settle_waiters(false);
            }
            None => {
                self.held = None;
                self.session = Session::Unknown;
                self.refresh(id);
            }
        }
    }

    /// The logout endpoint answered call `id` with `status`.
    pub fn logout_answered(&mut self, id: RequestId, status: u16) {
        self.actions.push(match classify_logout(status) {
            Ok(()) => Action::Resolve { id, session: false },
            Err(error) => Action::Fail { id, error },
        });
    }

    /// This tab signed out: forget the token and tell the other tabs.
    pub fn sign_out(&mut self) {
        if self.closed {
            return;
        }
        self.end_session();
        self.actions.push(Action::Broadcast(Message::SignedOut));
    }

    /// Another tab said `message`.
    pub fn heard(&mut self, message: Message) {
        if self.closed {
            return;
        }
        match message {
            Message::SignedOut => {
                self.end_session();
                self.ended_elsewhere = true;
            }
            // Our own token, if any, stays good; without one, the next API call refreshes and
            // picks up the new session lazily.
            Message::SignedIn if self.held.is_none() => self.session = Session::Unknown,
            Message::SignedIn => {}
        }
    }

    /// The page became visible or the network came back at `now_ms`: a token that expired while
    /// the tab slept (timers are throttled, the clock is not) is refreshed once, now, instead of
    /// failing the next call. Wake-ups in a burst refresh once.
    pub fn revisit(&mut self, now_ms: f64) {
        let due = self
            .held
            .as_ref()
            .is_some_and(|held| held.refresh_due(now_ms));
        let recent = self
            .last_wake_refresh_ms
            .is_some_and(|last| now_ms - last < WAKE_INTERVAL_MS && now_ms >= last);
        if due && !recent && !self.refreshing && !self.closed {
            self.last_wake_refresh_ms = Some(now_ms);
            self.start_refresh();
        }
    }

    /// The client was freed: every call still alive fails with `aborted`; later inputs are
    /// answered as for a client that holds nothing.
    pub fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.held = None;
        self.session = Session::Over;
        for call in core::mem::take(&mut self.calls) {
            self.actions.push(Action::Fail {
                id: call.id,
                error: freed(),
            });
        }
        if self.refreshing {
            self.refreshing = false;
            self.actions.push(Action::Unlock);
        }
    }

    /// Whether [`Machine::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn end_session(&mut self) {
        self.epoch += 1;
        self.ended_elsewhere = false;
        self.held = None;
        self.session = Session::Over;
        // Calls only wait while a refresh runs; its (now stale) answer settles them.
        self.report(State::SignedOut);
    }

    fn install(&mut self, grant: Grant, now_ms: f64) {
        let (expires_at_ms, lifetime_ms) = match grant.lifetime {
            Lifetime::Unknown => (None, 0.0),
            Lifetime::FromArrival(ms) => (Some(now_ms + ms), ms),
            Lifetime::Until(at) => (Some(at), (at - now_ms).max(0.0)),
        };
        self.next_bearer += 1;
        self.held = Some(Held {
            token: grant.token,
            bearer: Bearer(self.next_bearer),
            expires_at_ms: expires_at_ms.map(|at| at.min(LATEST_DATE_MS)),
            // Capped at half the lifetime, so a very short-lived token is not refreshed before
            // every single call.
            leeway_ms: self.options.refresh_leeway_ms.min(lifetime_ms / 2.0),
        });
        self.session = Session::Active;
    }

    /// A refresh whose ticket went stale ended: its waiters are settled from the session as it
    /// is now (perhaps by another refresh), and a "refreshing" no refresh stands behind any
    /// more is taken back.
    fn stale_refresh_ended(&mut self) {
        self.refreshing = false;
        self.settle_waiters(self.ended_elsewhere);
        if !self.refreshing && self.reported == Some(State::Refreshing) {
            match self.before_refresh {
                Some(previous) => self.report(previous),
                None => self.reported = None,
            }
        }
    }

    fn wait_for_outcome(&mut self, id: RequestId, restore: bool) {
        if self.refused_when_closed(id) {
            return;
        }
        self.calls.push(Call {
            id,
            retried: true,
            replay: Replay::Never,
            stage: Stage::Waiting(Waiting::ForOutcome { restore }),
            stale_waits: 0,
        });
        self.ensure_refresh();
    }

    /// Withdraws the requests still on their way with `refused` that may be sent again before
    /// their answer: they wait for the refresh with the one that was refused.
    fn recall(&mut self, refused: Bearer) {
        for call in &mut self.calls {
            if call.replay == Replay::Anytime
                && !call.retried
                && call.stage == Stage::Sent(Some(refused))
            {
                call.stage = Stage::Waiting(Waiting::ToRetry {
                    refused: Some(refused),
                    recalled: true,
                });
                self.actions.push(Action::Recall { id: call.id });
            }
        }
    }

    fn ensure_refresh(&mut self) {
        if !self.refreshing {
            self.start_refresh();
        }
    }

    fn start_refresh(&mut self) {
        self.refreshing = true;
        // A refresh that follows another (a stale one ended, another is needed) must not
        // remember "refreshing" as what listeners saw before, or a failure would leave it.
        if self.reported != Some(State::Refreshing) {
            self.before_refresh = self.reported;
        }
        self.report(State::Refreshing);
        self.actions
            .push(Action::StartRefresh(RefreshTicket(self.epoch)));
    }

    /// Settles every waiting call from the current session, starting another refresh only if
    /// the session is still unknown, or a 401 waits whose token is still the one held (a stale
    /// refresh ended, and a login installed that token after the refresh had started).
    /// `after_stale`: a refresh the calls waited for went stale by another tab's sign-out (see
    /// [`STALE_WAITS`]).
    fn settle_waiters(&mut self, after_stale: bool) {
        let bearer = self.held.as_ref().map(|held| held.bearer);
        let (known, actions) = (self.session, &mut self.actions);
        let mut still_unknown = false;
        self.calls.retain_mut(|call| {
            let Stage::Waiting(waiting) = call.stage else {
                return true;
            };
            let id = call.id;
            if after_stale {
                call.stale_waits = call.stale_waits.saturating_add(1);
            }
            let waited_enough = call.stale_waits > STALE_WAITS;
            let session = match known {
                Session::Unknown if waited_enough => Session::Over,
                _ => known,
            };
            match (waiting, bearer, session) {
                (Waiting::ForOutcome { .. }, Some(_), _) => {
                    actions.push(Action::Resolve { id, session: true });
                    false
                }
                (Waiting::ForOutcome { restore: true }, None, Session::Over) => {
                    actions.push(Action::Resolve { id, session: false });
                    false
                }
                (Waiting::ForOutcome { restore: false }, None, Session::Over) => {
                    actions.push(Action::Fail {
                        id,
                        error: AuthError::new(
                            ErrorCode::SessionExpired,
                            "the session is over; sign in again",
                        ),
                    });
                    false
                }
                (Waiting::ToSend, Some(_), _) | (Waiting::ToSend, None, Session::Over) => {
                    call.stage = Stage::Sent(bearer);
                    actions.push(Action::Send { id, bearer });
                    true
                }
                (Waiting::ToRetry { refused, .. }, Some(_), _) if refused == bearer => {
                    still_unknown = true;
                    true
                }
                (Waiting::ToRetry { .. }, Some(_), _) => {
                    call.retried = true;
                    call.stage = Stage::Sent(bearer);
                    actions.push(Action::Send { id, bearer });
                    true
                }
                (Waiting::ToRetry { recalled: true, .. }, None, Session::Over) => {
                    call.retried = true;
                    call.stage = Stage::Sent(None);
                    actions.push(Action::Send { id, bearer: None });
                    true
                }
                (Waiting::ToRetry { .. }, None, Session::Over) => {
                    actions.push(Action::Deliver { id });
                    false
                }
                (_, None, _) => {
                    still_unknown = true;
                    true
                }
            }
        });
        if still_unknown {
            self.ensure_refresh();
        }
    }

    /// Whether the client was closed, in which case call `id` fails with `aborted`.
    // One copy in the wasm: see .cargo/config.toml.
    #[inline(never)]
    fn refused_when_closed(&mut self, id: RequestId) -> bool {
        if self.closed {
            self.actions.push(Action::Fail { id, error: freed() });
        }
        self.closed
    }

    // One copy in the wasm: see .cargo/config.toml.
    #[inline(never)]
    fn report(&mut self, state: State) {
        if self.reported != Some(state) {
            self.reported = Some(state);
            self.actions.push(Action::Emit(state));
        }
    }
}

fn freed() -> AuthError {
    AuthError::new(ErrorCode::Aborted, "the client was freed")
}
