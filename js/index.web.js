export { default, initSync, AuthClient } from "./authfetch.js";
export { AuthError } from "./auth-error.js";
