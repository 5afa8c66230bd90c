import type { AuthErrorCode } from "./index.js";

export type { AuthErrorCode };

/** Every error authfetch raises itself. Aborts through the caller's `signal` stay the
 *  platform's `AbortError`; requests passed through to other origins fail as `fetch` does. */
export declare class AuthError extends Error {
  constructor(code: AuthErrorCode, message: string, options?: { cause?: unknown });
  readonly name: "AuthError";
  readonly code: AuthErrorCode;
}
