// Every error the client raises itself. It carries a registered-symbol brand, and
// `instanceof AuthError` checks the brand, which also works across realms and duplicate copies
// of the package. Its fields are defined, not assigned: a setter a later script put on
// `Object.prototype` or `Error.prototype` neither sees the error being built nor, by throwing,
// stops the client from settling a call. The class and its prototype are frozen: `super()`
// finds its parent through the class's prototype when it runs, so a later script that could
// swap it would make every error of the client throw instead.
import { defineProperty, Error, field, freeze, hasOwn, isA } from "./captured.js";

const brand = Symbol.for("authfetch.AuthError");

export class AuthError extends Error {
  /**
   * @param {import("./auth-error.js").AuthErrorCode} code
   * @param {string} message
   * @param {{ cause?: unknown }} [options]
   */
  constructor(code, message, options) {
    super(message, options);
    defineProperty(this, "name", field("AuthError"));
    defineProperty(this, "code", field(code));
    defineProperty(this, brand, field(true));
  }

  static [Symbol.hasInstance](value) {
    return isA(value, Error) && hasOwn(value, brand) && value[brand] === true;
  }
}
freeze(AuthError);
freeze(AuthError.prototype);
