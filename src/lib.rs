//! authfetch: `fetch` with silent, single-flight access-token refresh for single-page apps.
//!
//! [`core`] is the pure state machine; `exports` (wasm32 only) hands it to the JavaScript
//! driver in `js/` through wasm-bindgen, which does the fetching, timing and locking.

// Without the `std` feature (the npm package build) the crate is no_std: the wasm then
// carries the small panic handler below instead of std's, which formats messages nobody sees.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

/// What `no_std` does not import implicitly. Not every build uses every item (the exports are
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
pub mod exports;
#[cfg(target_arch = "wasm32")]
pub use exports::Core;

/// Panics cannot happen by design (clippy denies the ways to write one); should one happen
/// anyway, the module traps instead of formatting a message.
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
#[panic_handler]
fn panic(_: &::core::panic::PanicInfo<'_>) -> ! {
    ::core::arch::wasm32::unreachable()
}

/// A free-list allocator of a few hundred bytes in place of std's dlmalloc (about 5 KB of the
/// module): the core allocates little (its calls, a token, an answer being parsed), and the
/// wasm module runs on one thread.
// The one exception to `unsafe_code`: `AssumeSingleThreaded::new` is unsafe because it makes
// the allocator `Sync` without a lock. Sound here: wasm32-unknown-unknown without the atomics
// feature has a single thread, so the allocator is never entered from two at once.
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
#[global_allocator]
#[allow(unsafe_code)]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
