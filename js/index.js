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
import core, { check, shift, sign, size, unpacker } from "authfetch:core-wasm";

start(core, unpacker, sign, shift, size, check);

/**
 * Resolves with nothing when the core runs, or rejects with why it could not be started in
 * this page: it was started while this module evaluated, so this only reports. `source` (from
 * the versions that loaded a separate .wasm file) is ignored.
 */
const init = (function init() {
  return new Promise((resolve, reject) => (failure === undefined ? resolve() : reject(failure)));
});
export default init;
