//! Coordination between tabs of the same origin (`crossTab`): every refresh runs under the Web
//! Lock `"authfetch:refresh:" + refreshUrl`, so two tabs never present the same rotated refresh
//! cookie at once, and the BroadcastChannel `"authfetch:" + refreshUrl` carries "signed-in" and
//! "signed-out" (never a token).

#[allow(unused_imports)]
use crate::prelude::*;

use core::cell::RefCell;
use core::sync::atomic::{AtomicBool, Ordering};

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use web_sys::{AbortSignal, BroadcastChannel, MessageEvent};

use crate::core::Message;

#[wasm_bindgen(inline_js = "
export function locksAvailable() {
  return typeof navigator !== 'undefined' && !!navigator.locks && typeof navigator.locks.request === 'function';
}
export function requestLock(name, signal, work) {
  return navigator.locks.request(name, { signal }, () => work());
}
export function onWake(callback) {
  const visible = () => { if (document.visibilityState === 'visible') callback(); };
  globalThis.document?.addEventListener('visibilitychange', visible);
  globalThis.addEventListener?.('online', callback);
  return () => {
    globalThis.document?.removeEventListener('visibilitychange', visible);
    globalThis.removeEventListener?.('online', callback);
  };
}")]
extern "C" {
    #[wasm_bindgen(js_name = locksAvailable)]
    fn locks_available() -> bool;
    /// Runs `work` (a function returning a promise) while holding lock `name`, waiting for it
    /// until `signal` aborts; rejects if the lock was not granted by then.
    #[wasm_bindgen(js_name = requestLock)]
    pub(crate) fn request_lock(name: &str, signal: &AbortSignal, work: &Function) -> Promise;
    /// Calls `callback` when the page becomes visible or the network comes back; returns a
    /// function that stops it.
    #[wasm_bindgen(js_name = onWake)]
    fn on_wake(callback: &Function) -> Function;
}

// A block of its own: everything in the block above is imported from the inline module.
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = info)]
    fn console_info(message: &str);
}

type MessageHandler = Closure<dyn Fn(MessageEvent)>;

/// Said once per page, not once per client.
static SAID_NO_LOCKS: AtomicBool = AtomicBool::new(false);

/// The cross-tab side of one client, and its wake-up listeners.
pub(crate) struct Tabs {
    lock_name: Option<String>,
    channel: Option<BroadcastChannel>,
    listeners: RefCell<Vec<Closure<dyn Fn()>>>,
    on_message: RefCell<Option<MessageHandler>>,
    stop_wake: RefCell<Option<Function>>,
}

impl Tabs {
    /// Coordination for the refresh endpoint at `refresh_url` (absolute), if `enabled`.
    pub(crate) fn new(refresh_url: &str, enabled: bool) -> Self {
        let lock_name =
            (enabled && locks_available()).then(|| ["authfetch:refresh:", refresh_url].concat());
        if enabled && lock_name.is_none() && !SAID_NO_LOCKS.swap(true, Ordering::Relaxed) {
            console_info(
                "authfetch: the Web Locks API is not available, so refresh is single-flight within each tab only",
            );
        }
        let channel = if enabled {
            BroadcastChannel::new(&["authfetch:", refresh_url].concat()).ok()
        } else {
            None
        };
        Self {
            lock_name,
            channel,
            listeners: RefCell::default(),
            on_message: RefCell::default(),
            stop_wake: RefCell::default(),
        }
    }

    /// The Web Lock to refresh under, when tabs coordinate and the browser has Web Locks.
    pub(crate) fn lock_name(&self) -> Option<&str> {
        self.lock_name.as_deref()
    }

    /// Calls `hear` with every message another tab sends.
    pub(crate) fn listen(&self, hear: impl Fn(Message) + 'static) {
        let Some(channel) = &self.channel else { return };
        let handler = MessageHandler::new(move |event: MessageEvent| {
            if let Some(message) = event.data().as_string().as_deref().and_then(Message::parse) {
                hear(message);
            }
        });
        channel.set_onmessage(Some(handler.as_ref().unchecked_ref()));
        *self.on_message.borrow_mut() = Some(handler);
    }

    /// Calls `wake` when the page becomes visible again or the network comes back.
    pub(crate) fn on_wake(&self, wake: impl Fn() + 'static) {
        let callback = Closure::<dyn Fn()>::new(wake);
        *self.stop_wake.borrow_mut() = Some(on_wake(callback.as_ref().unchecked_ref()));
        self.listeners.borrow_mut().push(callback);
    }

    /// Tells the other tabs `message`.
    pub(crate) fn broadcast(&self, message: Message) {
        if let Some(channel) = &self.channel {
            // A closed channel (after free) just drops the message.
            let _ = channel.post_message(&JsValue::from_str(message.as_str()));
        }
    }

    /// Stops listening and closes the channel (the client was freed).
    pub(crate) fn close(&self) {
        if let Some(channel) = &self.channel {
            channel.set_onmessage(None);
            channel.close();
        }
        if let Some(stop) = self.stop_wake.borrow_mut().take() {
            let _ = stop.call0(&JsValue::UNDEFINED);
        }
        self.on_message.borrow_mut().take();
        self.listeners.borrow_mut().clear();
    }
}
