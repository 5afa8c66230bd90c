//! authfetch: `fetch` with silent, single-flight access-token refresh for single-page apps.
//!
//! [`core`] is the pure state machine; the browser shell that drives it with web APIs and the
//! wasm-bindgen exports are compiled for `wasm32` only.

// Without the `std` feature (the npm package build) the crate is no_std: the wasm then
// carries the small panic handler below instead of std's, which formats messages nobody sees.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

/// What `no_std` does not import implicitly. Not every build uses every item (the shell is
/// wasm32 only), hence the allowance.
#[allow(unused_imports)]
mod prelude {
    pub(crate) use alloc::borrow::ToOwned;
    pub(crate) use alloc::boxed::Box;
    pub(crate) use alloc::string::String;
    pub(crate) use alloc::vec;
    pub(crate) use alloc::vec::Vec;
}

pub mod core;
#[cfg(target_arch = "wasm32")]
mod shell;
#[cfg(target_arch = "wasm32")]
pub use shell::AuthClient;

/// Panics cannot happen by design (clippy denies the ways to write one); should one happen
/// anyway, the module traps instead of formatting a message.
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
#[panic_handler]
fn panic(_: &::core::panic::PanicInfo<'_>) -> ! {
    ::core::arch::wasm32::unreachable()
}

/// std's allocator, named explicitly because no_std has no default.
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;
