// The package entry: AuthClient and AuthError, and init() for preloading the core. The core
// starts loading as soon as this module is imported in a browser, from the .wasm file beside
// it, so a script that runs later finds nothing to hook on the way.
import { apply, inBrowser, Promise, settled, then } from "./captured.js";
import { load } from "./core.js";

export { AuthClient } from "./client.js";
export { AuthError } from "./auth-error.js";

// In the microtask right after this module is evaluated (still before any later script):
// started during the evaluation itself, WebKit took some 40 ms longer to answer the fetch.
if (inBrowser) apply(then, Promise.resolve(), [() => settled(load(), () => {}, () => {})]);

/**
 * Loads the core now (optional: clients wait for it themselves). The core starts loading from
 * the .wasm file beside this module as soon as it is imported; `source` (a URL, Response,
 * bytes or WebAssembly.Module) is where to load it from when that fails, for a bundler that
 * moved the file. Resolves with nothing.
 */
export default function init(source) {
  if (!inBrowser && source === undefined) return Promise.resolve();
  if (source === undefined) return load();
  return new Promise((resolve, reject) => {
    settled(load(), () => resolve(), () => settled(load(source), () => resolve(), reject));
  });
}
