//! authfetch: `fetch` with silent, single-flight access-token refresh for single-page apps.
//!
//! [`core`] is the pure state machine; the browser shell that drives it with web APIs and the
//! wasm-bindgen exports are compiled for `wasm32` only.

pub mod core;
#[cfg(target_arch = "wasm32")]
mod shell;
#[cfg(target_arch = "wasm32")]
pub use shell::AuthClient;
