export { AuthClient } from "./authfetch.js";
export { AuthError } from "./auth-error.js";
