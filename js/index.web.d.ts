export { default, initSync, AuthClient } from "./authfetch.js";
export type { AuthClientOptions, AuthState, AuthErrorCode, InitInput, InitOutput } from "./authfetch.js";
export { AuthError } from "./auth-error.js";
