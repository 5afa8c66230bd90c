//! The core as the wasm module's exports: a small synchronous API over [`Machine`] that calls
//! no JavaScript. Numbers cross as numbers; text crosses through two buffers in wasm memory
//! that the driver (`js/`) reads and writes with built-ins it captured at load.
//!
//! Text in: the driver asks [`Core::input`] for room, writes UTF-8 there, and passes the
//! length it wrote to the input that reads it. Text out: [`Core::text`] writes into the output
//! buffer at [`Core::output`] and returns the length. The token is never copied: the driver
//! reads it where it is stored ([`Core::token_at`], [`Core::token_len`]) while building the
//! one header it goes into.

#[allow(unused_imports)]
use crate::prelude::*;

use wasm_bindgen::prelude::*;

use crate::core::{
    Action, Endpoint, Failure, Machine, Message, Options, RefreshTicket,
    State,
};

/// What [`Core::poll`] returns: the kind of the action taken, `NONE` when there is none.
mod kind {
    pub(super) const NONE: u32 = 0;
    pub(super) const SEND: u32 = 1;
    pub(super) const PASS_THROUGH: u32 = 2;
    pub(super) const DELIVER: u32 = 3;
    pub(super) const FAIL: u32 = 4;
    pub(super) const RESOLVE: u32 = 5;
    pub(super) const START_REFRESH: u32 = 6;
    pub(super) const CALL_REFRESH: u32 = 7;
    pub(super) const UNLOCK: u32 = 8;
    pub(super) const EMIT: u32 = 9;
    pub(super) const BROADCAST: u32 = 10;
}

/// What [`Core::text`] writes.
mod text {
    /// The polled action's words: a `Fail`'s message, an `Emit`'s state, a `Broadcast`'s message.
    pub(super) const POLLED: u32 = 0;
    /// The polled `Fail`'s error code.
    pub(super) const POLLED_CODE: u32 = 1;
    /// The state now (`"unknown"` before anything was learnt).
    pub(super) const STATE: u32 = 2;
}

/// One client's mind: its token state machine, and the buffers text crosses through.
///
/// Calling protocol: `new Core()`, write the configuration (see [`Options::from_lines`]) and
/// call [`Core::configure`], which reports with its result whether the core can be used.
/// Then, after every input, call [`Core::poll`] until it returns 0, reading each action's
/// operands ([`Core::subject`], [`Core::detail`], [`Core::text`], [`Core::token_at`]) before
/// polling the next.
#[wasm_bindgen]
pub struct Core {
    machine: Option<Machine>,
    polled: Option<Action>,
    input: Vec<u8>,
    output: String,
}

impl Default for Core {
    fn default() -> Self {
        Self::new()
    }
}

#[wasm_bindgen]
impl Core {
    /// A core with no options yet.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Core {
        Core {
            machine: None,
            polled: None,
            input: Vec::new(),
            output: String::new(),
        }
    }

    /// Room for `capacity` bytes of input; returns its address, valid until the next call.
    pub fn input(&mut self, capacity: u32) -> usize {
        // What the last input held (perhaps a refresh answer, with its token) is wiped first.
        self.input.fill(0);
        self.input.resize(capacity as usize, 0);
        self.input.as_ptr() as usize
    }

    /// Takes the configuration written to the input (`len` bytes) with the leeway and timeout;
    /// false when it is malformed (the driver validated the options, so only a driver bug can
    /// cause that).
    pub fn configure(&mut self, len: u32, refresh_leeway_ms: f64, timeout_ms: u32) -> bool {
        let options = core::str::from_utf8(self.written(len))
            .ok()
            .and_then(|text| Options::from_lines(text, refresh_leeway_ms, timeout_ms));
        self.machine = options.map(Machine::new);
        self.machine.is_some()
    }

    /// The next action's kind (0: none left). Its operands stay readable until the next poll.
    pub fn poll(&mut self) -> u32 {
        self.polled = self.machine.as_mut().and_then(Machine::poll_action);
        match &self.polled {
            None => kind::NONE,
            Some(Action::Send { .. }) => kind::SEND,
            Some(Action::PassThrough { .. }) => kind::PASS_THROUGH,
            Some(Action::Deliver { .. }) => kind::DELIVER,
            Some(Action::Fail { .. }) => kind::FAIL,
            Some(Action::Resolve { .. }) => kind::RESOLVE,
            Some(Action::StartRefresh(_)) => kind::START_REFRESH,
            Some(Action::CallRefresh(_)) => kind::CALL_REFRESH,
            Some(Action::Unlock) => kind::UNLOCK,
            Some(Action::Emit(_)) => kind::EMIT,
            Some(Action::Broadcast(_)) => kind::BROADCAST,
        }
    }

    /// The polled action's call id, or its refresh ticket.
    pub fn subject(&self) -> f64 {
        match &self.polled {
            Some(
                Action::Send { id, .. }
                | Action::PassThrough { id }
                | Action::Deliver { id }
                | Action::Fail { id, .. }
                | Action::Resolve { id, .. },
            ) => *id as f64,
            Some(Action::StartRefresh(ticket) | Action::CallRefresh(ticket)) => {
                ticket.number() as f64
            }
            _ => 0.0,
        }
    }

    /// The polled `Resolve`'s answer (1: a session exists), or the polled `Send`'s token
    /// number (0: none).
    pub fn detail(&self) -> f64 {
        match &self.polled {
            Some(Action::Resolve { session, .. }) => f64::from(u8::from(*session)),
            Some(Action::Send {
                bearer: Some(bearer),
                ..
            }) => bearer.number() as f64,
            _ => 0.0,
        }
    }

    /// The address of the token the polled `Send` carries (0: none).
    pub fn token_at(&self) -> usize {
        self.polled_token().map_or(0, |token| token.as_ptr() as usize)
    }

    /// The length of the token the polled `Send` carries (0: none).
    pub fn token_len(&self) -> u32 {
        self.polled_token().map_or(0, |token| token.len() as u32)
    }

    /// Writes text `which` (see the `text` module) to the output buffer; returns its length.
    pub fn text(&mut self, which: u32) -> u32 {
        let words: &str = match (which, &self.polled) {
            (text::POLLED, Some(Action::Fail { error, .. })) => &error.message,
            (text::POLLED, Some(Action::Emit(state))) => state.as_str(),
            (text::POLLED, Some(Action::Broadcast(message))) => message.as_str(),
            (text::POLLED_CODE, Some(Action::Fail { error, .. })) => error.code.as_str(),
            (text::STATE, _) => self
                .machine
                .as_ref()
                .and_then(Machine::state)
                .map_or("unknown", State::as_str),
            _ => "",
        };
        self.output.clear();
        self.output.push_str(words);
        self.output.len() as u32
    }

    /// The address of the output buffer [`Core::text`] wrote.
    pub fn output(&self) -> usize {
        self.output.as_ptr() as usize
    }

    /// Whether a token is held.
    pub fn authenticated(&self) -> bool {
        self.machine.as_ref().is_some_and(Machine::is_authenticated)
    }

    /// When the held token expires (ms since the epoch); NaN when unknown or none is held.
    pub fn expires_at(&self) -> f64 {
        self.machine
            .as_ref()
            .and_then(Machine::expires_at)
            .unwrap_or(f64::NAN)
    }

    /// See [`Machine::begin`]; the URL is the input's first `url_len` bytes.
    pub fn begin(
        &mut self,
        id: f64,
        url_len: u32,
        has_authorization: bool,
        replayable: bool,
        now_ms: f64,
    ) {
        let url = core::str::from_utf8(self.written(url_len)).unwrap_or("").to_owned();
        if let Some(machine) = self.machine.as_mut() {
            machine.begin(id as u64, &url, has_authorization, replayable, now_ms);
        }
    }

    /// See [`Machine::response`].
    pub fn response(&mut self, id: f64, status: u16) {
        self.with(|m| m.response(id as u64, status));
    }

    /// Call `id` got no answer: `failure` 1 timeout, else network; `endpoint` 1 login,
    /// 2 logout, else the API (see [`Machine::failed`]).
    pub fn failed(&mut self, id: f64, failure: u32, endpoint: u32) {
        let endpoint = match endpoint {
            1 => Endpoint::Login,
            2 => Endpoint::Logout,
            _ => Endpoint::Api,
        };
        self.with(|m| m.failed(id as u64, failure_of(failure), endpoint));
    }

    /// See [`Machine::forget`].
    pub fn forget(&mut self, id: f64) {
        self.with(|m| m.forget(id as u64));
    }

    /// See [`Machine::refresh`].
    pub fn refresh(&mut self, id: f64) {
        self.with(|m| m.refresh(id as u64));
    }

    /// See [`Machine::restore`].
    pub fn restore(&mut self, id: f64) {
        self.with(|m| m.restore(id as u64));
    }

    /// See [`Machine::refresh_permitted`].
    pub fn refresh_permitted(&mut self, ticket: f64) {
        self.with(|m| m.refresh_permitted(RefreshTicket::from_number(ticket as u64)));
    }

    /// See [`Machine::refresh_answered`]; the body is the input's first `body_len` bytes
    /// (negative: it could not be read).
    pub fn refresh_answered(&mut self, ticket: f64, status: u16, body_len: i32, now_ms: f64) {
        let Core { machine, input, .. } = self;
        if let Some(machine) = machine.as_mut() {
            let ticket = RefreshTicket::from_number(ticket as u64);
            machine.refresh_answered(ticket, status, body(input, body_len), now_ms);
        }
        input.fill(0);
    }

    /// See [`Machine::refresh_failed`]: `failure` 1 timeout, 2 lock not granted, else network.
    pub fn refresh_failed(&mut self, ticket: f64, failure: u32) {
        self.with(|m| m.refresh_failed(RefreshTicket::from_number(ticket as u64), failure_of(failure)));
    }

    /// See [`Machine::login_answered`]; the body as for [`Core::refresh_answered`].
    pub fn login_answered(&mut self, id: f64, status: u16, body_len: i32, now_ms: f64) {
        let Core { machine, input, .. } = self;
        if let Some(machine) = machine.as_mut() {
            machine.login_answered(id as u64, status, body(input, body_len), now_ms);
        }
        input.fill(0);
    }

    /// See [`Machine::sign_out`].
    pub fn sign_out(&mut self) {
        self.with(Machine::sign_out);
    }

    /// See [`Machine::logout_answered`].
    pub fn logout_answered(&mut self, id: f64, status: u16) {
        self.with(|m| m.logout_answered(id as u64, status));
    }

    /// Another tab said the input's first `len` bytes (see [`Machine::heard`]); anything but
    /// a known message is ignored.
    pub fn heard(&mut self, len: u32) {
        let message = core::str::from_utf8(self.written(len))
            .ok()
            .and_then(Message::parse);
        if let Some(message) = message {
            self.with(|m| m.heard(message));
        }
    }

    /// See [`Machine::revisit`].
    pub fn revisit(&mut self, now_ms: f64) {
        self.with(|m| m.revisit(now_ms));
    }

    /// See [`Machine::close`].
    pub fn close(&mut self) {
        self.with(Machine::close);
    }
}

impl Core {
    fn with(&mut self, input: impl FnOnce(&mut Machine)) {
        if let Some(machine) = self.machine.as_mut() {
            input(machine);
        }
    }

    fn written(&self, len: u32) -> &[u8] {
        self.input.get(..len as usize).unwrap_or(&[])
    }

    fn polled_token(&self) -> Option<&str> {
        match (&self.polled, &self.machine) {
            (
                Some(Action::Send {
                    bearer: Some(bearer),
                    ..
                }),
                Some(machine),
            ) => machine.token(*bearer).map(|token| token.expose()),
            _ => None,
        }
    }
}

/// The answer body the driver wrote to `input`; `None` when `len` is negative (unread).
fn body(input: &[u8], len: i32) -> Option<&[u8]> {
    usize::try_from(len).ok().and_then(|len| input.get(..len))
}

fn failure_of(code: u32) -> Failure {
    match code {
        1 => Failure::Timeout,
        2 => Failure::LockNotGranted,
        _ => Failure::Network,
    }
}

