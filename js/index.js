// The package entry: AuthClient and AuthError, and init(). The core is compiled and started
// while this module evaluates, so clients can be made and used at once.
import { Promise, settled } from "./captured.js";
import { failure, pending, start } from "./core.js";

export { AuthClient } from "./client.js";
export { AuthError } from "./auth-error.js";

// The core's text is imported last, so that the bundle places it after all of the driver's
// code (gzip then finds the driver's repeats within one stretch of text), and it is a
// top-level string, which the engine reads once (in a function it would be read again when the
// function first runs). See scripts/bundle-driver.mjs.
import core, { check, shift, sign, size, unpacker } from "authfetch:core-wasm";

start(core, unpacker, sign, shift, size, check);

/**
 * Resolves with nothing once the core runs (at once, but where it is compiled asynchronously),
 * or rejects with why it could not be started in this page. Clients wait for the core
 * themselves; `source` (from the versions that loaded a separate .wasm file) is ignored.
 */
export default function init() {
  return new Promise((resolve, reject) => {
    const settle = () => (failure === undefined ? resolve() : reject(failure));
    if (pending) settled(pending, settle, settle);
    else settle();
  });
}
