//! The core as the wasm module's exports: a small synchronous API over [`Machine`] that calls
//! no JavaScript. Numbers cross as numbers; text crosses through two buffers in wasm memory
//! that the driver (`js/`) reads and writes with built-ins it captured at load.
//!
//! Text in: the driver asks [`Core::input`] for room, writes UTF-8 there, and passes the
//! length it wrote with the input that reads it. Text out: `query(TEXT_…)` writes into the
//! output buffer (at `query(OUTPUT_AT)`) and returns the length. The token is never copied:
//! the driver reads it where it is stored (`query(TOKEN_AT)`, `query(TOKEN_LEN)`) while
//! building the one header it goes into.
//!
//! The exports are six free functions (`core_new`, `core_free`, and one per method of [`Core`])
//! over numbered cores, rather than an exported struct: wasm-bindgen's struct glue (reference
//! counting, borrow flags, a throw import and its messages) weighed about 1 KB of the module.

#[allow(unused_imports)]
use crate::prelude::*;

use wasm_bindgen::prelude::*;

use crate::core::{
    Action, Endpoint, Failure, Machine, Message, Options, RefreshTicket, Replay, State,
};

/// What `query(POLL)` answers: the kind of the action taken, `NONE` when there is none.
pub mod kind {
    /// No action left.
    pub const NONE: u32 = 0;
    /// [`crate::core::Action::Send`].
    pub const SEND: u32 = 1;
    /// [`crate::core::Action::PassThrough`].
    pub const PASS_THROUGH: u32 = 2;
    /// [`crate::core::Action::Deliver`].
    pub const DELIVER: u32 = 3;
    /// [`crate::core::Action::Recall`].
    pub const RECALL: u32 = 11;
    /// [`crate::core::Action::Fail`].
    pub const FAIL: u32 = 4;
    /// [`crate::core::Action::Resolve`].
    pub const RESOLVE: u32 = 5;
    /// [`crate::core::Action::StartRefresh`].
    pub const START_REFRESH: u32 = 6;
    /// [`crate::core::Action::CallRefresh`].
    pub const CALL_REFRESH: u32 = 7;
    /// [`crate::core::Action::Unlock`].
    pub const UNLOCK: u32 = 8;
    /// [`crate::core::Action::Emit`].
    pub const EMIT: u32 = 9;
    /// [`crate::core::Action::Broadcast`].
    pub const BROADCAST: u32 = 10;
}

/// The inputs of [`Core::handle`]: each names the [`Machine`] input it reports, and what
/// `subject`, `a` and `b` carry (unused ones are 0).
pub mod event {
    /// [`Machine::begin`](crate::core::Machine::begin): the call id; `a` the URL's length in the input; `b` bit 0: the
    /// caller set `Authorization`, bit 1: the request can be sent again after a 401, bit 2:
    /// also before its answer (see [`crate::core::Replay`]).
    pub const BEGIN: u32 = 1;
    /// [`Machine::response`](crate::core::Machine::response): the call id; `a` the status.
    pub const RESPONSE: u32 = 2;
    /// [`Machine::failed`](crate::core::Machine::failed): the call id; `a` 1 timeout, else network; `b` 1 login, 2 logout,
    /// else the API.
    pub const FAILED: u32 = 3;
    /// [`Machine::forget`](crate::core::Machine::forget): the call id.
    pub const FORGET: u32 = 4;
    /// [`Machine::refresh`](crate::core::Machine::refresh): the call id.
    pub const REFRESH: u32 = 5;
    /// [`Machine::restore`](crate::core::Machine::restore): the call id.
    pub const RESTORE: u32 = 6;
    /// [`Machine::refresh_permitted`](crate::core::Machine::refresh_permitted): the ticket.
    pub const REFRESH_PERMITTED: u32 = 7;
    /// [`Machine::refresh_answered`](crate::core::Machine::refresh_answered): the ticket; `a` the status; `b` the body's length in the
    /// input, negative when it was not read.
    pub const REFRESH_ANSWERED: u32 = 8;
    /// [`Machine::refresh_failed`](crate::core::Machine::refresh_failed): the ticket; `a` 1 timeout, 2 lock not granted, else network.
    pub const REFRESH_FAILED: u32 = 9;
    /// [`Machine::login_answered`](crate::core::Machine::login_answered): the call id; `a` the status; `b` as for `REFRESH_ANSWERED`.
    pub const LOGIN_ANSWERED: u32 = 10;
    /// [`Machine::sign_out`](crate::core::Machine::sign_out).
    pub const SIGN_OUT: u32 = 11;
    /// [`Machine::logout_answered`](crate::core::Machine::logout_answered): the call id; `a` the status.
    pub const LOGOUT_ANSWERED: u32 = 12;
    /// [`Machine::heard`](crate::core::Machine::heard): `a` the message's length in the input.
    pub const HEARD: u32 = 13;
    /// [`Machine::revisit`](crate::core::Machine::revisit).
    pub const REVISIT: u32 = 14;
    /// [`Machine::close`](crate::core::Machine::close).
    pub const CLOSE: u32 = 15;
}

/// What [`Core::query`] answers.
pub mod query {
    /// The polled action's call id, or its refresh ticket.
    pub const SUBJECT: u32 = 0;
    /// The polled `Resolve`'s answer: 1 when a session exists (what `restore()` resolves with).
    pub const SESSION: u32 = 1;
    /// The address of the token the polled `Send` carries (0: none).
    pub const TOKEN_AT: u32 = 2;
    /// The length of that token (0: none).
    pub const TOKEN_LEN: u32 = 3;
    /// The address of the text a `TEXT_…` question wrote.
    pub const OUTPUT_AT: u32 = 4;
    /// 1 when a token is held.
    pub const AUTHENTICATED: u32 = 5;
    /// When the held token expires (ms since the epoch); NaN when unknown or none is held.
    pub const EXPIRES_AT: u32 = 6;
    /// Takes the next action ([`super::Core::poll`]): its kind, 0 when none is left.
    pub const POLL: u32 = 7;
    /// Writes the polled action's words to the output (a `Fail`'s message, an `Emit`'s state, a
    /// `Broadcast`'s message); answers their length.
    pub const TEXT_POLLED: u32 = 8;
    /// Writes the polled `Fail`'s error code; answers its length.
    pub const TEXT_CODE: u32 = 9;
    /// Writes the state now (`"unknown"` before anything was learnt); answers its length.
    pub const TEXT_STATE: u32 = 10;
    /// The endpoint the polled `Fail` is about, numbered as `FAILED`'s `b` (3: the refresh
    /// endpoint), or -1 for an error about no call of its own.
    pub const ENDPOINT: u32 = 11;
}

/// One client's mind: its token state machine, and the buffers text crosses through.
///
/// Calling protocol: `core_new()` (or [`Core::new`]), write the configuration (see
/// [`Options::from_lines`]) and call [`Core::configure`], which reports with its result whether
/// the core can be used.
/// Then, after every input ([`Core::handle`]), ask `query(POLL)` until it answers 0, reading
/// each action's operands (the other questions of [`Core::query`]) before polling the next.
pub struct Core {
    machine: Option<Machine>,
    polled: Option<Action>,
    input: Vec<u8>,
    output: Vec<u8>,
}

impl Default for Core {
    fn default() -> Self {
        Self::new()
    }
}

impl Core {
    /// A core with no options yet.
    pub fn new() -> Core {
        Core {
            machine: None,
            polled: None,
            input: Vec::new(),
            output: Vec::new(),
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
        let options = Options::from_lines(self.written(len), refresh_leeway_ms, timeout_ms);
        self.machine = options.map(Machine::new);
        self.machine.is_some()
    }

    /// Reports one input to the core (see [`event`] for what `subject`, `a` and `b` carry).
    pub fn handle(&mut self, event: u32, subject: f64, a: i32, b: i32, now_ms: f64) {
        let Core { machine, input, .. } = self;
        let Some(machine) = machine.as_mut() else {
            return;
        };
        let id = subject as u64;
        let ticket = RefreshTicket::from_number(id);
        let status = u16::try_from(a).unwrap_or(0);
        let written = |len: i32| usize::try_from(len).ok().and_then(|len| input.get(..len));
        match event {
            event::BEGIN => {
                let url = written(a);
                let replay = match b & 6 {
                    0 => Replay::Never,
                    2 => Replay::AfterAnswer,
                    _ => Replay::Anytime,
                };
                machine.begin(id, url.unwrap_or_default(), b & 1 != 0, replay, now_ms);
            }
            event::RESPONSE => machine.response(id, status),
            event::FAILED => machine.failed(id, failure_of(a), endpoint_of(b)),
            event::FORGET => machine.forget(id),
            event::REFRESH => machine.refresh(id),
            event::RESTORE => machine.restore(id),
            event::REFRESH_PERMITTED => machine.refresh_permitted(ticket),
            event::REFRESH_ANSWERED => machine.refresh_answered(ticket, status, written(b), now_ms),
            event::REFRESH_FAILED => machine.refresh_failed(ticket, failure_of(a)),
            event::LOGIN_ANSWERED => machine.login_answered(id, status, written(b), now_ms),
            event::SIGN_OUT => machine.sign_out(),
            event::LOGOUT_ANSWERED => machine.logout_answered(id, status),
            event::HEARD => {
                let message = written(a).and_then(Message::parse);
                if let Some(message) = message {
                    machine.heard(message);
                }
            }
            event::REVISIT => machine.revisit(now_ms),
            event::CLOSE => machine.close(),
            _ => {}
        }
        // What came in (perhaps an answer with a token in it) does not stay, and a large input
        // does not keep its memory (nor make every later wipe long).
        input.fill(0);
        if input.capacity() > 4096 {
            *input = Vec::new();
        }
    }

    /// A number about the polled action or the client, or the next action, or the length of a
    /// text written to the output (see [`query`]). One export for all of these: each export
    /// costs the module bytes.
    pub fn query(&mut self, which: u32) -> f64 {
        match which {
            query::POLL => f64::from(self.poll()),
            query::TEXT_POLLED..=query::TEXT_STATE => f64::from(self.text(which)),
            _ => self.read(which),
        }
    }
}

impl Core {
    /// The number `query(which)` answers.
    fn read(&self, which: u32) -> f64 {
        let token = self.polled_token();
        let machine = self.machine.as_ref();
        match (which, &self.polled) {
            (
                query::SUBJECT,
                Some(
                    Action::Send { id, .. }
                    | Action::PassThrough { id }
                    | Action::Recall { id }
                    | Action::Deliver { id }
                    | Action::Fail { id, .. }
                    | Action::Resolve { id, .. },
                ),
            ) => *id as f64,
            (query::SUBJECT, Some(Action::StartRefresh(ticket) | Action::CallRefresh(ticket))) => {
                ticket.number() as f64
            }
            (query::SESSION, Some(Action::Resolve { session, .. })) => {
                f64::from(u8::from(*session))
            }
            (query::TOKEN_AT, _) => token.map_or(0, |token| token.as_ptr() as usize) as f64,
            (query::TOKEN_LEN, _) => token.map_or(0, <[u8]>::len) as f64,
            (query::OUTPUT_AT, _) => self.output.as_ptr() as usize as f64,
            (query::AUTHENTICATED, _) => {
                f64::from(u8::from(machine.is_some_and(Machine::is_authenticated)))
            }
            (query::EXPIRES_AT, _) => machine.and_then(Machine::expires_at).unwrap_or(f64::NAN),
            (query::ENDPOINT, Some(Action::Fail { error, .. })) => match error.endpoint {
                Some(Endpoint::Api) => 0.0,
                Some(Endpoint::Login) => 1.0,
                Some(Endpoint::Logout) => 2.0,
                Some(Endpoint::Refresh) => 3.0,
                None => -1.0,
            },
            (query::ENDPOINT, _) => -1.0,
            _ => 0.0,
        }
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
            Some(Action::Recall { .. }) => kind::RECALL,
        }
    }

    /// Writes text `which` (`query::TEXT_*`) to the output buffer; returns its length.
    pub fn text(&mut self, which: u32) -> u32 {
        let words: &[u8] = match (which, &self.polled) {
            (query::TEXT_POLLED, Some(Action::Fail { error, .. })) => error.message_bytes(),
            (query::TEXT_POLLED, Some(Action::Emit(state))) => state.as_str().as_bytes(),
            (query::TEXT_POLLED, Some(Action::Broadcast(message))) => message.as_str().as_bytes(),
            (query::TEXT_CODE, Some(Action::Fail { error, .. })) => error.code.as_str().as_bytes(),
            (query::TEXT_STATE, _) => self
                .machine
                .as_ref()
                .and_then(Machine::state)
                .map_or("unknown", State::as_str)
                .as_bytes(),
            _ => b"",
        };
        self.output.clear();
        self.output.extend_from_slice(words);
        self.output.len() as u32
    }

    fn written(&self, len: u32) -> &[u8] {
        self.input.get(..len as usize).unwrap_or(&[])
    }

    fn polled_token(&self) -> Option<&[u8]> {
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

fn failure_of(code: i32) -> Failure {
    match code {
        1 => Failure::Timeout,
        2 => Failure::LockNotGranted,
        _ => Failure::Network,
    }
}

fn endpoint_of(code: i32) -> Endpoint {
    match code {
        1 => Endpoint::Login,
        2 => Endpoint::Logout,
        _ => Endpoint::Api,
    }
}

/// Every client's core, by number (`core_new` hands out 1, 2, … and never the same number twice,
/// so a number kept after `core_free` reaches no other client's core). A lock because a
/// `static` must be `Sync`; it is never contended: the module runs on one thread and no export
/// calls out. It is held only to take a core out and put it back, never while a core works,
/// so were a core ever to trap (only an allocation failure could), that core alone would be
/// lost and the others would go on.
static CORES: spin::Mutex<Vec<Option<Box<Core>>>> = spin::Mutex::new(Vec::new());

fn with<R: Default>(core: u32, work: impl FnOnce(&mut Core) -> R) -> R {
    let Some(mut taken) = take(core) else {
        return R::default();
    };
    let result = work(&mut taken);
    put_back(core, taken);
    result
}

/// Core `core` out of the table (`None`: no such core). Not inlined into every export: one
/// copy of the table's bookkeeping is enough.
#[inline(never)]
fn take(core: u32) -> Option<Box<Core>> {
    let mut cores = CORES.try_lock()?;
    cores.get_mut((core as usize).wrapping_sub(1))?.take()
}

#[inline(never)]
fn put_back(core: u32, taken: Box<Core>) {
    if let Some(slot) = CORES
        .try_lock()
        .as_mut()
        .and_then(|cores| cores.get_mut((core as usize).wrapping_sub(1)))
    {
        *slot = Some(taken);
    }
}

/// A new core; its number (0: none could be made).
#[wasm_bindgen]
pub fn core_new() -> u32 {
    let Some(mut cores) = CORES.try_lock() else {
        return 0;
    };
    cores.push(Some(Box::new(Core::new())));
    cores.len() as u32
}

/// Drops core `core` (its token is overwritten as it goes).
#[wasm_bindgen]
pub fn core_free(core: u32) {
    drop(take(core));
}

/// [`Core::input`].
#[wasm_bindgen]
pub fn core_input(core: u32, capacity: u32) -> usize {
    with(core, |c| c.input(capacity))
}

/// [`Core::configure`].
#[wasm_bindgen]
pub fn core_configure(core: u32, len: u32, refresh_leeway_ms: f64, timeout_ms: u32) -> bool {
    with(core, |c| c.configure(len, refresh_leeway_ms, timeout_ms))
}

/// [`Core::handle`].
#[wasm_bindgen]
pub fn core_handle(core: u32, event: u32, subject: f64, a: i32, b: i32, now_ms: f64) {
    with(core, |c| c.handle(event, subject, a, b, now_ms));
}

/// [`Core::query`].
#[wasm_bindgen]
pub fn core_query(core: u32, which: u32) -> f64 {
    with(core, |c| c.query(which))
}
