// Every error the client raises itself. It carries a registered-symbol brand, and
// `instanceof AuthError` checks the brand, which also works across realms and duplicate copies
// of the package. Its fields are defined, not assigned: a setter a later script put on
// `Object.prototype` or `Error.prototype` neither sees the error being built nor, by throwing,
// stops the client from settling a call.
import { defineProperty } from "./captured.js";

const brand = Symbol.for("authfetch.AuthError");
const field = (value) => ({ __proto__: null, value, writable: true, enumerable: true, configurable: true });

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
    return value instanceof Error && value[brand] === true;
  }
}
