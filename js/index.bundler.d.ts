export { AuthClient } from "./authfetch.js";
export type { AuthClientOptions, AuthState, AuthErrorCode } from "./authfetch.js";
export { AuthError } from "./auth-error.js";
