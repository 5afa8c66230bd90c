//! authfetch: `fetch` with silent, single-flight access-token refresh for single-page apps.
//!
//! The SDK itself lands with issue 3; this crate is the workspace root and the package the
//! npm build will compile to WebAssembly.
