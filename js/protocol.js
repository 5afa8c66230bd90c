// The numbers the driver and the core speak in: src/exports.rs defines each (its `kind`,
// `event` and `query` modules, and the codes its inputs take). A module of constants alone, with
// no imports, so that esbuild folds each into where it is used.

/** The polled action kinds (`Core::poll` in src/exports.rs). */
export const SEND = 1, PASS_THROUGH = 2, DELIVER = 3, FAIL = 4, RESOLVE = 5,
  START_REFRESH = 6, CALL_REFRESH = 7, UNLOCK = 8, EMIT = 9, BROADCAST = 10, RECALL = 11;
/** How a request may be sent again (`Replay` in src/core/machine.rs). */
export const NEVER = 0, AFTER_ANSWER = 2, ANYTIME = 6;
/** The texts `text()` reads (`Core::query` writes them to the output). */
export const POLLED = 8, POLLED_CODE = 9, STATE = 10;
/** `b` of a `REFRESH_ANSWERED` or `LOGIN_ANSWERED` whose body was not read. */
export const UNREAD = -1;
/** `failure` of `Core::failed` and `Core::refresh_failed`. */
export const NETWORK = 0, TIMEOUT = 1, LOCK_NOT_GRANTED = 2;
/** `endpoint` of `Core::failed`, and what `ENDPOINT` answers (also `REFRESH_ENDPOINT`; -1: none). */
export const API = 0, LOGIN = 1, LOGOUT = 2, REFRESH_ENDPOINT = 3;

/** `Core::handle` inputs (src/exports.rs). */
export const BEGIN = 1, RESPONSE = 2, FAILED = 3, FORGET = 4, REFRESH = 5, RESTORE = 6,
  REFRESH_PERMITTED = 7, REFRESH_ANSWERED = 8, REFRESH_FAILED = 9, LOGIN_ANSWERED = 10,
  SIGN_OUT = 11, LOGOUT_ANSWERED = 12, HEARD = 13, REVISIT = 14, CLOSE = 15;
/** `Core::query` questions. */
export const SUBJECT = 0, SESSION = 1, AUTHENTICATED = 5, EXPIRES_AT = 6, ENDPOINT = 11;
/** Questions only js/core.js asks. */
export const TOKEN_AT = 2, TOKEN_LEN = 3, OUTPUT_AT = 4, POLL = 7;
