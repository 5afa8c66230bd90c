//! The token state machine. It performs no IO and reads no clock: the shell reports what
//! happened ("a request wants to go out at t", "the API answered 401", "the refresh finished
//! with …") and carries out the [`Action`]s it polls.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::collections::VecDeque;

use crate::core::config::Options;
use crate::core::error::{AuthError, ErrorCode};
use crate::core::grant::{Grant, Lifetime, RefreshOutcome};
use crate::core::token::Token;

/// Identifies one call (`fetch`, `login` or `refresh`) for its whole life. Chosen by the shell,
/// unique among calls alive at once.
pub type RequestId = u64;

/// Names the token a request was sent with: a new one is issued on every login or refresh, so
/// a 401 can be matched to the token that earned it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bearer(u64);

/// Identifies one refresh run, so an answer that arrives after a login or logout changed the
/// session is not mistaken for the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshTicket(u64);

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
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "signed-in" => Some(Self::SignedIn),
            "signed-out" => Some(Self::SignedOut),
            _ => None,
        }
    }
}

/// Where a request is going, as far as the core needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Destination<'a> {
    /// The serialised origin of the request URL (`URL.origin`; `"null"` for opaque ones).
    pub origin: &'a str,
    /// Whether the caller set an `Authorization` header themselves.
    pub has_authorization: bool,
}

/// What to do with a request about to go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Begin {
    /// Not for the API, or already authorised by the caller: hand it to `fetch` untouched. The
    /// core has forgotten it.
    PassThrough,
    /// Send it now, with this token or with none.
    Send(Option<Bearer>),
    /// Hold it: a [`Action::Send`] (or [`Action::Fail`]) for it will come.
    Wait,
}

/// What to do with an API answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Reply {
    /// Give the caller this response. The core has forgotten the request.
    Deliver,
    /// Send the request again with this (newer) token; its answer is final.
    Retry(Bearer),
    /// Hold the 401: a [`Action::Send`], [`Action::Deliver`] or [`Action::Fail`] will come.
    Wait,
}

/// Work for the shell, taken with [`Machine::poll_action`].
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Call the refresh endpoint (under the cross-tab lock) and report with
    /// [`Machine::refresh_finished`].
    StartRefresh(RefreshTicket),
    /// A held request may go now, with this token or none. If it had already been sent once and
    /// answered 401, this is its one retry.
    Send {
        /// The request.
        id: RequestId,
        /// The token to attach.
        bearer: Option<Bearer>,
    },
    /// Give the caller the 401 it got; the session is over. The core has forgotten the request.
    Deliver {
        /// The request.
        id: RequestId,
    },
    /// Reject the call with this error. The core has forgotten the request.
    Fail {
        /// The call.
        id: RequestId,
        /// Why.
        error: AuthError,
    },
    /// A `refresh()` or `login()` call succeeded. The core has forgotten it.
    Resolve {
        /// The call.
        id: RequestId,
    },
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
    /// Answered 401; waits to be retried.
    ToRetry,
    /// A `refresh()` or token-less `login()` call; waits for the outcome itself.
    ForOutcome,
}

#[derive(Debug)]
struct Call {
    id: RequestId,
    retried: bool,
    waiting: Option<Waiting>,
}

/// The client's token state, one per `AuthClient`.
#[derive(Debug)]
pub struct Machine {
    options: Options,
    held: Option<Held>,
    session: Session,
    next_bearer: u64,
    /// Bumped by every login and logout; a refresh started under another epoch is stale.
    epoch: u64,
    refreshing: bool,
    reported: Option<State>,
    before_refresh: Option<State>,
    calls: Vec<Call>,
    actions: VecDeque<Action>,
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
            refreshing: false,
            reported: None,
            before_refresh: None,
            calls: Vec::new(),
            actions: VecDeque::new(),
        }
    }

    /// The validated options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The next piece of work. Call until `None` after every event.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Whether a token is held.
    pub fn is_authenticated(&self) -> bool {
        self.held.is_some()
    }

    /// When the held token expires, in milliseconds since the epoch, if known.
    pub fn expires_at(&self) -> Option<f64> {
        self.held.as_ref().and_then(|held| held.expires_at_ms)
    }

    /// The last state reported to listeners.
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

    /// A request `id` wants to go to `destination` at `now_ms`.
    pub fn begin(&mut self, id: RequestId, destination: Destination<'_>, now_ms: f64) -> Begin {
        if destination.has_authorization || !self.options.api_origins.admits(destination.origin) {
            return Begin::PassThrough;
        }
        self.calls.push(Call {
            id,
            retried: false,
            waiting: None,
        });
        match (&self.held, self.session) {
            (Some(held), _) if !held.refresh_due(now_ms) => Begin::Send(Some(held.bearer)),
            (None, Session::Over) => Begin::Send(None),
            _ => {
                self.wait(id, Waiting::ToSend);
                Begin::Wait
            }
        }
    }

    /// Request `id`, sent with `sent_with`, was answered with `status`. `replayable` is false
    /// when its body was a stream that cannot be sent twice.
    pub fn response(
        &mut self,
        id: RequestId,
        status: u16,
        sent_with: Option<Bearer>,
        replayable: bool,
    ) -> Reply {
        let retried = self
            .calls
            .iter()
            .find(|call| call.id == id)
            .is_none_or(|call| call.retried);
        if status != 401 || !replayable || retried {
            self.forget(id);
            return Reply::Deliver;
        }
        if let Some(held) = self
            .held
            .as_ref()
            .filter(|held| Some(held.bearer) != sent_with)
        {
            // Another request refreshed while this one was out: retry with its token, no
            // second refresh.
            let bearer = held.bearer;
            self.mark_retried(id);
            return Reply::Retry(bearer);
        }
        if self.held.is_none() && self.session == Session::Over {
            self.forget(id);
            return Reply::Deliver;
        }
        self.wait(id, Waiting::ToRetry);
        Reply::Wait
    }

    /// Whether the refresh started for `ticket` still matters. A refresh that waited for the
    /// cross-tab lock checks this before calling the server: if a login, logout or another
    /// tab's sign-out decided the session meanwhile, it must not present the cookie.
    pub fn ticket_is_current(&self, ticket: RefreshTicket) -> bool {
        ticket.0 == self.epoch
    }

    /// The page became visible or the network came back at `now_ms`: a token that expired while
    /// the tab slept (timers are throttled, the clock is not) is refreshed once, now, instead of
    /// failing the next call.
    pub fn revisit(&mut self, now_ms: f64) {
        let due = self
            .held
            .as_ref()
            .is_some_and(|held| held.refresh_due(now_ms));
        if due && !self.refreshing {
            self.start_refresh();
        }
    }

    /// `refresh()` was called: refresh now, or join the refresh already running, whatever the
    /// client believed about the session.
    pub fn refresh(&mut self, id: RequestId) {
        self.calls.push(Call {
            id,
            retried: true,
            waiting: None,
        });
        self.wait(id, Waiting::ForOutcome);
    }

    /// The refresh started for `ticket` finished at `now_ms`.
    pub fn refresh_finished(
        &mut self,
        ticket: RefreshTicket,
        outcome: RefreshOutcome,
        now_ms: f64,
    ) {
        self.refreshing = false;
        if ticket.0 != self.epoch {
            // A login or logout happened meanwhile and decided the session; the answer is for
            // a cookie that no longer counts.
            self.dispatch_waiters();
            return;
        }
        match outcome {
            RefreshOutcome::Granted(grant) => {
                self.install(grant, now_ms);
                self.report(State::SignedIn);
                self.dispatch_waiters();
            }
            RefreshOutcome::SessionOver => {
                let had_session =
                    self.held.is_some() || self.before_refresh == Some(State::SignedIn);
                self.held = None;
                self.session = Session::Over;
                if had_session {
                    self.report(State::Expired);
                    self.actions
                        .push_back(Action::Broadcast(Message::SignedOut));
                } else {
                    self.report(State::SignedOut);
                }
                self.dispatch_waiters();
            }
            RefreshOutcome::Failed(error) => {
                let waiting: Vec<RequestId> = self
                    .calls
                    .iter()
                    .filter(|call| call.waiting.is_some())
                    .map(|call| call.id)
                    .collect();
                for id in waiting {
                    self.forget(id);
                    self.actions.push_back(Action::Fail {
                        id,
                        error: error.clone(),
                    });
                }
                // Back to what listeners saw before. On a fresh page that is nothing: no event,
                // and the next refresh reports "refreshing" again.
                match self.before_refresh {
                    Some(previous) => self.report(previous),
                    None => self.reported = None,
                }
            }
        }
    }

    /// Login call `id` succeeded at `now_ms`; `grant` is `None` when the answer carries no token
    /// (then a refresh follows and decides the call).
    pub fn login_succeeded(&mut self, id: RequestId, grant: Option<Grant>, now_ms: f64) {
        self.epoch += 1;
        self.actions.push_back(Action::Broadcast(Message::SignedIn));
        match grant {
            Some(grant) => {
                self.install(grant, now_ms);
                self.report(State::SignedIn);
                self.actions.push_back(Action::Resolve { id });
                self.dispatch_waiters();
            }
            None => {
                self.held = None;
                self.session = Session::Unknown;
                self.refresh(id);
            }
        }
    }

    /// This tab signed out: forget the token and tell the other tabs.
    pub fn sign_out(&mut self) {
        self.end_session();
        self.actions
            .push_back(Action::Broadcast(Message::SignedOut));
    }

    /// Another tab said `message`.
    pub fn heard(&mut self, message: Message) {
        match message {
            Message::SignedOut => self.end_session(),
            // Our own token, if any, stays good; without one, the next API call refreshes and
            // picks up the new session lazily.
            Message::SignedIn if self.held.is_none() => self.session = Session::Unknown,
            Message::SignedIn => {}
        }
    }

    /// The caller gave up on `id` (abort, timeout, the response was handed over). A refresh it
    /// waited for goes on for the others.
    pub fn forget(&mut self, id: RequestId) {
        self.calls.retain(|call| call.id != id);
    }

    fn end_session(&mut self) {
        self.epoch += 1;
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
            expires_at_ms,
            // Capped at half the lifetime, so a very short-lived token is not refreshed before
            // every single call.
            leeway_ms: self.options.refresh_leeway_ms.min(lifetime_ms / 2.0),
        });
        self.session = Session::Active;
    }

    fn wait(&mut self, id: RequestId, waiting: Waiting) {
        if let Some(call) = self.calls.iter_mut().find(|call| call.id == id) {
            call.waiting = Some(waiting);
        }
        if !self.refreshing {
            self.start_refresh();
        }
    }

    fn start_refresh(&mut self) {
        self.refreshing = true;
        self.before_refresh = self.reported;
        self.report(State::Refreshing);
        self.actions
            .push_back(Action::StartRefresh(RefreshTicket(self.epoch)));
    }

    fn mark_retried(&mut self, id: RequestId) {
        if let Some(call) = self.calls.iter_mut().find(|call| call.id == id) {
            call.retried = true;
            call.waiting = None;
        }
    }

    /// Settles every waiting call from the current session, starting another refresh only if
    /// the session is still unknown.
    fn dispatch_waiters(&mut self) {
        let waiting: Vec<(RequestId, Waiting)> = self
            .calls
            .iter()
            .filter_map(|call| Some((call.id, call.waiting?)))
            .collect();
        for (id, waiting) in waiting {
            let bearer = self.held.as_ref().map(|held| held.bearer);
            match (waiting, bearer, self.session) {
                (Waiting::ForOutcome, Some(_), _) => {
                    self.forget(id);
                    self.actions.push_back(Action::Resolve { id });
                }
                (Waiting::ForOutcome, None, Session::Over) => {
                    self.forget(id);
                    self.actions.push_back(Action::Fail {
                        id,
                        error: AuthError::new(
                            ErrorCode::SessionExpired,
                            "the session is over; sign in again",
                        ),
                    });
                }
                (Waiting::ToSend, Some(_), _) | (Waiting::ToSend, None, Session::Over) => {
                    self.set_waiting(id, None);
                    self.actions.push_back(Action::Send { id, bearer });
                }
                (Waiting::ToRetry, Some(_), _) => {
                    self.mark_retried(id);
                    self.actions.push_back(Action::Send { id, bearer });
                }
                (Waiting::ToRetry, None, Session::Over) => {
                    self.forget(id);
                    self.actions.push_back(Action::Deliver { id });
                }
                (_, None, _) => self.wait(id, waiting),
            }
        }
    }

    fn set_waiting(&mut self, id: RequestId, waiting: Option<Waiting>) {
        if let Some(call) = self.calls.iter_mut().find(|call| call.id == id) {
            call.waiting = waiting;
        }
    }

    fn report(&mut self, state: State) {
        if self.reported != Some(state) {
            self.reported = Some(state);
            self.actions.push_back(Action::Emit(state));
        }
    }
}
