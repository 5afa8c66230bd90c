//! The browser shell: carries out what the core decides with `fetch`, abort signals and
//! timers, and exports `AuthClient` to JavaScript.

#[allow(unused_imports)]
use crate::prelude::*;

mod convert;
mod net;
mod tabs;
mod wait;

use alloc::rc::Rc;
use core::cell::{Cell, RefCell};

use core::future::Future;
use core::pin::Pin;
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

use wasm_bindgen_futures::spawn_local;
use web_sys::{AbortSignal, Headers, Request, RequestCredentials, RequestInit};

use crate::core::grant::{classify_login, classify_logout, classify_refresh};
use crate::core::machine::RefreshTicket;
use crate::core::{
    Action, AuthError, Bearer, Begin, Destination, ErrorCode, Machine, Options, RefreshOutcome,
    Reply, RequestId, State,
};
use convert::{auth_error, to_value};
use net::{Deadline, Failure};

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = include_str!("authfetch.d.ts");

#[wasm_bindgen(inline_js = "export function whenAborted(signal) {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}")]
extern "C" {
    /// Resolves once `signal` aborts (at once if it already has). Written in JavaScript so
    /// no wasm closure is left behind for the many signals that never abort.
    #[wasm_bindgen(js_name = whenAborted)]
    fn when_aborted(signal: &AbortSignal) -> Promise;
}

#[wasm_bindgen]
extern "C" {
    /// The options object, typed by `AuthClientOptions` in the declarations.
    #[wasm_bindgen(typescript_type = "AuthClientOptions")]
    pub type AuthClientOptions;
    /// What `fetch` accepts as its first argument.
    #[wasm_bindgen(typescript_type = "RequestInfo | URL")]
    pub type FetchInput;
    /// What `fetch` accepts as its second argument.
    #[wasm_bindgen(typescript_type = "RequestInit")]
    pub type FetchInit;
    /// What `login` posts as JSON.
    #[wasm_bindgen(typescript_type = "Record<string, unknown>")]
    pub type Credentials;
    /// The result of `auth.fetch`.
    #[wasm_bindgen(typescript_type = "Promise<Response>")]
    pub type ResponsePromise;
    /// The result of `login`, `logout` and `refresh`.
    #[wasm_bindgen(typescript_type = "Promise<void>")]
    pub type VoidPromise;
    /// An `onChange` listener.
    #[wasm_bindgen(typescript_type = "(state: AuthState) => void")]
    pub type ChangeListener;
    /// What `onChange` returns.
    #[wasm_bindgen(typescript_type = "() => void")]
    pub type Unsubscribe;
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str, error: &JsValue);
}

/// How a parked call is let go.
enum Resume {
    Send(Option<Bearer>),
    Deliver,
    Fail(AuthError),
    Done,
}

/// Resolved endpoint URLs (absolute).
struct Endpoints {
    refresh: String,
    login: String,
    logout: String,
}

struct Inner {
    machine: RefCell<Machine>,
    endpoints: Endpoints,
    tabs: tabs::Tabs,
    listeners: RefCell<Vec<(u32, Function)>>,
    next_listener: Cell<u32>,
    next_call: Cell<RequestId>,
    parked: RefCell<Vec<(RequestId, wait::Sender<Resume>)>>,
    freed: Cell<bool>,
}

/// Fetch with silent, single-flight access-token refresh. See the README for the contract.
#[wasm_bindgen]
pub struct AuthClient {
    inner: Rc<Inner>,
}

#[wasm_bindgen]
impl AuthClient {
    /// Validates `options` and creates a client that holds no token yet.
    #[wasm_bindgen(constructor)]
    pub fn new(options: Option<AuthClientOptions>) -> Result<AuthClient, JsValue> {
        let options = options.map_or(JsValue::UNDEFINED, Into::into);
        let page_origin = net::page_origin().unwrap_or_else(|| "null".to_owned());
        let options = Options::from_value(&to_value(&options, 3), &page_origin)
            .map_err(|e| auth_error(&e, None))?;
        let resolve = |name: &str, url: &str| {
            net::resolve_url(url).ok_or_else(|| {
                let message = [name, " is not a valid URL: \"", url, "\""].concat();
                auth_error(&AuthError::new(ErrorCode::InvalidConfig, message), None)
            })
        };
        let endpoints = Endpoints {
            refresh: resolve("refreshUrl", &options.refresh_url)?,
            login: resolve("loginUrl", &options.login_url)?,
            logout: resolve("logoutUrl", &options.logout_url)?,
        };
        let tabs = tabs::Tabs::new(&endpoints.refresh, options.cross_tab);
        let inner = Rc::new(Inner {
            machine: RefCell::new(Machine::new(options)),
            endpoints,
            tabs,
            listeners: RefCell::default(),
            next_listener: Cell::new(0),
            next_call: Cell::new(0),
            parked: RefCell::default(),
            freed: Cell::new(false),
        });
        let weak = Rc::downgrade(&inner);
        inner.tabs.listen(move |message| {
            if let Some(inner) = weak.upgrade() {
                inner.machine.borrow_mut().heard(message);
                inner.pump();
            }
        });
        let weak = Rc::downgrade(&inner);
        inner.tabs.on_wake(move || {
            if let Some(inner) = weak.upgrade() {
                inner.machine.borrow_mut().revisit(js_sys::Date::now());
                inner.pump();
            }
        });
        Ok(AuthClient { inner })
    }

    /// `fetch`, with the bearer token attached to requests for the API origins and a silent
    /// refresh and one retry on 401.
    pub fn fetch(&self, input: FetchInput, init: Option<FetchInit>) -> ResponsePromise {
        let inner = Rc::clone(&self.inner);
        let init = init.map_or(JsValue::UNDEFINED, Into::into);
        promise(async move { inner.fetch(input.into(), init).await }).unchecked_into()
    }

    /// Posts `credentials` as JSON to the login endpoint and holds the token it answers with.
    pub fn login(&self, credentials: Credentials) -> VoidPromise {
        let inner = Rc::clone(&self.inner);
        promise(async move { inner.login(credentials.into()).await }).unchecked_into()
    }

    /// Forgets the token, tells other tabs, and asks the server to end the session.
    pub fn logout(&self) -> VoidPromise {
        let inner = Rc::clone(&self.inner);
        promise(async move { inner.logout().await }).unchecked_into()
    }

    /// Refreshes now, or joins the refresh already running.
    pub fn refresh(&self) -> VoidPromise {
        let inner = Rc::clone(&self.inner);
        promise(async move {
            let id = inner.next_id();
            inner.machine.borrow_mut().refresh(id);
            inner.settle(id).await
        })
        .unchecked_into()
    }

    /// Whether a token is held.
    #[wasm_bindgen(getter, js_name = isAuthenticated)]
    pub fn is_authenticated(&self) -> bool {
        self.inner.machine.borrow().is_authenticated()
    }

    /// When the held token expires (milliseconds since the epoch), if known.
    #[wasm_bindgen(getter, js_name = expiresAt)]
    pub fn expires_at(&self) -> Option<f64> {
        self.inner.machine.borrow().expires_at()
    }

    /// Calls `listener` with the new state on every change; returns a function that stops it.
    #[wasm_bindgen(js_name = onChange)]
    pub fn on_change(&self, listener: ChangeListener) -> Unsubscribe {
        let id = self.inner.next_listener.get().wrapping_add(1);
        self.inner.next_listener.set(id);
        self.inner
            .listeners
            .borrow_mut()
            .push((id, listener.unchecked_into()));
        let weak = Rc::downgrade(&self.inner);
        let unsubscribe = Closure::<dyn Fn()>::new(move || {
            if let Some(inner) = weak.upgrade() {
                inner
                    .listeners
                    .borrow_mut()
                    .retain(|(listener, _)| *listener != id);
            }
        });
        unsubscribe.into_js_value().unchecked_into()
    }
}

impl Drop for AuthClient {
    /// `free()`: calls still waiting are rejected with `aborted`; the rest finish quietly.
    fn drop(&mut self) {
        self.inner.freed.set(true);
        self.inner.tabs.close();
        self.inner.listeners.borrow_mut().clear();
        let parked = core::mem::take(&mut *self.inner.parked.borrow_mut());
        for (_, sender) in parked {
            sender.send(Resume::Fail(AuthError::new(
                ErrorCode::Aborted,
                "the AuthClient was freed",
            )));
        }
    }
}

impl Inner {
    fn next_id(&self) -> RequestId {
        let id = self.next_call.get().wrapping_add(1);
        self.next_call.set(id);
        id
    }

    fn timeout_ms(&self) -> u32 {
        self.machine.borrow().options().timeout_ms
    }

    /// Carries out every action the core has queued. Borrows end before any action runs, so
    /// listeners may call back into the client.
    fn pump(self: &Rc<Self>) {
        loop {
            let action = self.machine.borrow_mut().poll_action();
            let Some(action) = action else { break };
            match action {
                Action::StartRefresh(ticket) => spawn_local(Rc::clone(self).run_refresh(ticket)),
                Action::Send { id, bearer } => self.resume(id, Resume::Send(bearer)),
                Action::Deliver { id } => self.resume(id, Resume::Deliver),
                Action::Fail { id, error } => self.resume(id, Resume::Fail(error)),
                Action::Resolve { id } => self.resume(id, Resume::Done),
                Action::Emit(state) => self.emit(state),
                Action::Broadcast(message) => self.tabs.broadcast(message),
            }
        }
    }

    fn resume(&self, id: RequestId, how: Resume) {
        let sender = {
            let mut parked = self.parked.borrow_mut();
            let index = parked.iter().position(|(parked, _)| *parked == id);
            index.map(|i| parked.swap_remove(i).1)
        };
        if let Some(sender) = sender {
            sender.send(how);
        }
    }

    fn emit(&self, state: State) {
        if self.freed.get() {
            return;
        }
        let listeners: Vec<Function> = self
            .listeners
            .borrow()
            .iter()
            .map(|(_, f)| f.clone())
            .collect();
        let state = JsValue::from_str(state.as_str());
        for listener in listeners {
            // One listener's exception must not keep the others from hearing the change.
            if let Err(error) = listener.call1(&JsValue::UNDEFINED, &state) {
                console_error("authfetch: an onChange listener threw", &error);
            }
        }
    }

    /// Parks call `id` until the core lets it go, or its caller aborts through `signal`.
    async fn park(
        self: &Rc<Self>,
        id: RequestId,
        signal: Option<&AbortSignal>,
    ) -> Result<Resume, JsValue> {
        let (sender, receiver) = wait::channel();
        self.parked.borrow_mut().push((id, sender));
        self.pump();
        let outcome = match signal {
            None => Ok(receiver.await),
            Some(signal) => {
                wait::race(async { Ok(receiver.await) }, async {
                    let _ = wasm_bindgen_futures::JsFuture::from(when_aborted(signal)).await;
                    Err(net::abort_reason(signal))
                })
                .await
            }
        };
        if outcome.is_err() {
            // Aborted: the refresh goes on for the others.
            self.parked.borrow_mut().retain(|(parked, _)| *parked != id);
            self.machine.borrow_mut().forget(id);
        }
        outcome
    }

    /// Parks a `refresh()` or `login()` call until the core settles it.
    async fn settle(self: &Rc<Self>, id: RequestId) -> Result<JsValue, JsValue> {
        match self.park(id, None).await? {
            Resume::Fail(error) => Err(auth_error(&error, None)),
            Resume::Done | Resume::Send(_) | Resume::Deliver => Ok(JsValue::UNDEFINED),
        }
    }

    async fn fetch(self: Rc<Self>, input: JsValue, init: JsValue) -> Result<JsValue, JsValue> {
        let origin = net::request_origin(&input);
        let for_api = origin
            .as_deref()
            .is_some_and(|o| self.machine.borrow().options().api_origins.admits(o));
        if !for_api {
            return net::pass_through(&input, &init).await;
        }
        let base = net::new_request(&input, &init)?;
        let has_authorization = net::has_authorization(&base);
        let replayable = !net::body_is_stream(&init);
        let caller_signal = net::caller_signal(&input, &init);
        let id = self.next_id();
        let destination = Destination {
            origin: origin.as_deref().unwrap_or("null"),
            has_authorization,
        };
        let begin = self
            .machine
            .borrow_mut()
            .begin(id, destination, js_sys::Date::now());
        let mut bearer = match begin {
            Begin::PassThrough => {
                return net::pass_through(&base.into(), &JsValue::UNDEFINED).await;
            }
            Begin::Send(bearer) => {
                self.pump();
                bearer
            }
            Begin::Wait => match self.park(id, caller_signal.as_ref()).await? {
                Resume::Send(bearer) => bearer,
                Resume::Fail(error) => return Err(auth_error(&error, None)),
                // The core lets a call that was never sent go with a bearer or none; a bare
                // delivery would be a bug, and sending without a token is the safe reading.
                Resume::Deliver | Resume::Done => None,
            },
        };
        loop {
            let response = match self.send_api(&base, bearer, caller_signal.as_ref()).await {
                Ok(response) => response,
                Err(failure) => {
                    self.machine.borrow_mut().forget(id);
                    return Err(failure.into_js("the API", self.timeout_ms()));
                }
            };
            let reply =
                self.machine
                    .borrow_mut()
                    .response(id, response.status(), bearer, replayable);
            bearer = match reply {
                Reply::Deliver => return Ok(response.into()),
                Reply::Retry(newer) => Some(newer),
                Reply::Wait => match self.park(id, caller_signal.as_ref()).await? {
                    Resume::Send(newer) => newer,
                    Resume::Deliver | Resume::Done => return Ok(response.into()),
                    Resume::Fail(error) => return Err(auth_error(&error, None)),
                },
            };
        }
    }

    /// One attempt of an API call: `base` under the caller's signal and the timeout, with the
    /// bearer attached by the captured primitives (see `net`).
    async fn send_api(
        &self,
        base: &Request,
        bearer: Option<Bearer>,
        caller: Option<&AbortSignal>,
    ) -> Result<web_sys::Response, Failure> {
        let deadline = Deadline::new(caller.cloned(), self.timeout_ms());
        let sent = {
            let machine = self.machine.borrow();
            let token = bearer.and_then(|bearer| machine.token(bearer));
            net::send(base, token.map(|token| token.expose()), &deadline)
        };
        sent.await
    }

    /// A call to one of our own endpoints (refresh, login, logout), with cookies.
    async fn call_endpoint(
        &self,
        url: &str,
        method: &str,
        headers: &Headers,
        body: Option<&JsValue>,
        want_body: bool,
        deadline: &Deadline,
    ) -> Result<net::Answer, Failure> {
        let init = RequestInit::new();
        init.set_method(method);
        init.set_credentials(RequestCredentials::Include);
        init.set_headers(headers);
        init.set_signal(Some(deadline.signal()));
        if let Some(body) = body {
            init.set_body(body);
        }
        let request = Request::new_with_str_and_init(url, &init).map_err(Failure::Network)?;
        net::exchange(&request, want_body, deadline).await
    }

    /// The headers for refresh and logout: `refreshHeaders`, plus the CSRF double-submit.
    fn session_headers(&self) -> Result<Headers, JsValue> {
        let headers = Headers::new()?;
        let machine = self.machine.borrow();
        let options = machine.options();
        for (name, value) in &options.refresh_headers {
            headers.set(name, value)?;
        }
        if let Some(csrf) = &options.csrf
            && let Some(value) = net::read_cookie(&csrf.cookie)
        {
            headers.set(&csrf.header, &value)?;
        }
        Ok(headers)
    }

    async fn run_refresh(self: Rc<Self>, ticket: RefreshTicket) {
        let outcome = match self.tabs.lock_name() {
            Some(lock) => Rc::clone(&self).refresh_under_lock(lock, ticket).await,
            None => self.call_refresh().await,
        };
        // The lock is released by now: listeners run outside it, so one that awaits
        // `auth.fetch` cannot deadlock the next refresh.
        self.machine
            .borrow_mut()
            .refresh_finished(ticket, outcome, js_sys::Date::now());
        self.pump();
    }

    /// One refresh while holding the cross-tab lock, so no other tab presents the same rotated
    /// cookie at the same time. The wait for the lock is bounded by `timeoutMs`.
    async fn refresh_under_lock(
        self: Rc<Self>,
        lock: &str,
        ticket: RefreshTicket,
    ) -> RefreshOutcome {
        let timeout_ms = self.timeout_ms();
        let outcome: Rc<RefCell<Option<RefreshOutcome>>> = Rc::default();
        let (inner, slot) = (Rc::clone(&self), Rc::clone(&outcome));
        let work = Closure::once_into_js(move || {
            promise(async move {
                // While this tab waited, another may have signed out (or this one logged in or
                // out): then the cookie must not be presented; the stale ticket settles the
                // waiting calls from the new session state, whatever is reported here.
                let current = inner.machine.borrow().ticket_is_current(ticket);
                let result = if current {
                    inner.call_refresh().await
                } else {
                    RefreshOutcome::SessionOver
                };
                *slot.borrow_mut() = Some(result);
                Ok(JsValue::UNDEFINED)
            })
        });
        let granted = wasm_bindgen_futures::JsFuture::from(tabs::request_lock(
            lock,
            &net::timeout_signal(timeout_ms),
            work.unchecked_ref(),
        ))
        .await;
        let reported = outcome.borrow_mut().take();
        match (granted, reported) {
            (Ok(_), Some(result)) => result,
            _ => RefreshOutcome::Failed(AuthError::new(
                ErrorCode::Timeout,
                [
                    "the cross-tab refresh lock was not granted within ",
                    &crate::core::error::decimal(u64::from(timeout_ms)),
                    " ms",
                ]
                .concat(),
            )),
        }
    }

    async fn call_refresh(&self) -> RefreshOutcome {
        const WHAT: &str = "the refresh endpoint";
        let timeout_ms = self.timeout_ms();
        let (method, token_field, expires_in_field) = {
            let machine = self.machine.borrow();
            let options = machine.options();
            (
                options.refresh_method.as_str(),
                options.token_field.clone(),
                options.expires_in_field.clone(),
            )
        };
        let Ok(headers) = self.session_headers() else {
            return RefreshOutcome::Failed(AuthError::new(
                ErrorCode::InvalidConfig,
                "refreshHeaders could not be set",
            ));
        };
        let deadline = Deadline::new(None, timeout_ms);
        match self
            .call_endpoint(
                &self.endpoints.refresh,
                method,
                &headers,
                None,
                true,
                &deadline,
            )
            .await
        {
            Ok(answer) => classify_refresh(
                answer.status,
                answer.body.as_ref(),
                &token_field,
                &expires_in_field,
            ),
            Err(failure) => RefreshOutcome::Failed(failure.to_auth_error(WHAT, timeout_ms)),
        }
    }

    async fn login(self: Rc<Self>, credentials: JsValue) -> Result<JsValue, JsValue> {
        const WHAT: &str = "the login endpoint";
        let timeout_ms = self.timeout_ms();
        let body = js_sys::JSON::stringify(&credentials)
            .ok()
            .and_then(|json| json.as_string())
            .filter(|json| json.starts_with('{'))
            .ok_or_else(|| {
                auth_error(
                    &AuthError::new(
                        ErrorCode::InvalidConfig,
                        "login() takes an object to send as JSON",
                    ),
                    None,
                )
            })?;
        let headers = Headers::new()?;
        headers.set("content-type", "application/json")?;
        let (token_field, expires_in_field) = {
            let machine = self.machine.borrow();
            let options = machine.options();
            (
                options.login_token_field.clone(),
                options.expires_in_field.clone(),
            )
        };
        let deadline = Deadline::new(None, timeout_ms);
        let answer = self
            .call_endpoint(
                &self.endpoints.login,
                "POST",
                &headers,
                Some(&body.into()),
                token_field.is_some(),
                &deadline,
            )
            .await
            .map_err(|failure| failure.into_js(WHAT, timeout_ms))?;
        let grant = classify_login(
            answer.status,
            answer.body.as_ref(),
            token_field.as_deref(),
            &expires_in_field,
        )
        .map_err(|error| auth_error(&error, None))?;
        let id = self.next_id();
        self.machine
            .borrow_mut()
            .login_succeeded(id, grant, js_sys::Date::now());
        self.settle(id).await
    }

    async fn logout(self: Rc<Self>) -> Result<JsValue, JsValue> {
        const WHAT: &str = "the logout endpoint";
        let timeout_ms = self.timeout_ms();
        // Local state first and whatever the server says: the user asked to be signed out.
        self.machine.borrow_mut().sign_out();
        self.pump();
        let headers = self.session_headers()?;
        let deadline = Deadline::new(None, timeout_ms);
        let answer = self
            .call_endpoint(
                &self.endpoints.logout,
                "POST",
                &headers,
                None,
                false,
                &deadline,
            )
            .await
            .map_err(|failure| failure.into_js(WHAT, timeout_ms))?;
        classify_logout(answer.status)
            .map(|()| JsValue::UNDEFINED)
            .map_err(|error| auth_error(&error, None))
    }
}

/// A promise for `work`. Boxed so every exported method shares one instantiation of the
/// executor glue instead of each carrying its own copy.
fn promise(work: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    let work: Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>> = Box::pin(work);
    wasm_bindgen_futures::future_to_promise(work)
}
