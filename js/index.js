// The package entry: AuthClient and AuthError, and init(). The core is compiled and started
// while this module evaluates, so clients can be made and used at once.
import { Promise } from "./captured.js";
import { failure, start } from "./core.js";

export { AuthClient } from "./client.js";
export { AuthError } from "./auth-error.js";

// The core's text is imported last, so that the bundle places it after all of the driver's
// code (gzip then finds the driver's repeats within one stretch of text), and it is a
// top-level string, which the engine reads once (in a function it would be read again when the
// function first runs). See scripts/bundle-driver.mjs.
import core, { shift, sign, unpacker } from "authfetch:core-wasm";

start(core, unpacker, sign, shift);

/**
 * Kept from the versions that loaded the core from a separate .wasm file, so code that awaits
 * it still runs: the core is in this module now, and `source` is ignored. Resolves with
 * nothing, or rejects with why the core could not be started in this page.
 */
export default function init() {
  return new Promise((resolve, reject) => (failure === undefined ? resolve() : reject(failure)));
}
