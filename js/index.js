// The package entry: AuthClient and AuthError, and init() for preloading the core. The core
// starts loading as soon as this module is imported in a browser, from the .wasm file beside
// it, so a script that runs later finds nothing to hook on the way.
import { inBrowser } from "./captured.js";
import { load } from "./core.js";

export { AuthClient } from "./client.js";
export { AuthError } from "./auth-error.js";

const beside = inBrowser ? new URL("authfetch_bg.wasm", import.meta.url) : undefined;
if (beside) load(beside).catch(() => {});

/**
 * Loads the core now (optional: clients wait for it themselves), from `source` when given (a
 * URL, Response, bytes or WebAssembly.Module) instead of the .wasm file beside this module.
 * Resolves with nothing.
 */
export default function init(source) {
  if (!inBrowser && source === undefined) return Promise.resolve();
  return load(source ?? beside);
}
