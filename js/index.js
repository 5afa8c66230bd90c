// The package entry: AuthClient and AuthError, and init(). The core is compiled and started
// while this module evaluates (js/core.js), so clients can be made and used at once.
import { Promise } from "./captured.js";
import { failure } from "./core.js";

export { AuthClient } from "./client.js";
export { AuthError } from "./auth-error.js";

/**
 * Kept from the versions that loaded the core from a separate .wasm file, so code that awaits
 * it still runs: the core is in this module now, and `source` is ignored. Resolves with
 * nothing, or rejects with why the core could not be started in this page.
 */
export default function init() {
  return new Promise((resolve, reject) => (failure === undefined ? resolve() : reject(failure)));
}
