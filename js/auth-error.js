// wasm-bindgen cannot export an Error subclass, so the class lives here. Errors the wasm side
// builds are plain Errors carrying a registered-symbol brand; `instanceof AuthError` checks the
// brand, which also works across realms and duplicate copies of the package.
const brand = Symbol.for("authfetch.AuthError");

export class AuthError extends Error {
  /**
   * @param {import("./auth-error.js").AuthErrorCode} code
   * @param {string} message
   * @param {{ cause?: unknown }} [options]
   */
  constructor(code, message, options) {
    super(message, options);
    this.name = "AuthError";
    this.code = code;
    this[brand] = true;
  }

  static [Symbol.hasInstance](value) {
    return value instanceof Error && value[brand] === true;
  }
}
