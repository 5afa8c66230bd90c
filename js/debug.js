// What the client tells the console with `debug: true`, and where a call went and why it most
// likely got no answer, for error messages: built from states, statuses, methods and URLs (without their query and fragment)
// only. The token is never among what this module is handed.
import {
  console, consoleInfo, locationOrigin, requestMethod, requestUrl, stringIndexOf, URL, urlOrigin,
  urlPathname, urlProtocol,
} from "./captured.js";
import {
  BROADCAST, CALL_REFRESH, CLOSE, DELIVER, EMIT, FAILED, HEARD, LOCK_NOT_GRANTED,
  LOGIN_ANSWERED, LOGOUT_ANSWERED, PASS_THROUGH, RECALL, REFRESH, REFRESH_ANSWERED, REFRESH_FAILED,
  RESOLVE, RESPONSE, RESTORE, REVISIT, SEND, SIGN_OUT, START_REFRESH, TIMEOUT,
} from "./protocol.js";

/** `method url` with the URL cut to its origin and path: a query or fragment may hold what is
 *  not ours to print. */
export function where(method, url) {
  try {
    const parsed = new URL(url);
    const protocol = urlProtocol(parsed);
    // A data:, blob: or about: URL's path is its content, not a place.
    if (protocol !== "http:" && protocol !== "https:") return method + " " + protocol;
    return method + " " + urlOrigin(parsed) + urlPathname(parsed);
  } catch {
    return method;
  }
}

/**
 * Why a call to `url` most likely got no answer, where it went to another origin than the
 * page's: the browser's CORS check (or mixed content), which fetch reports as a bare TypeError.
 * `api`: an API call, `signed` when it carried the token (its preflight must allow the
 * Authorization header); the endpoints' calls carry cookies (the answer must allow
 * credentials, for this origin by name).
 */
export function elsewhere(url, api, signed) {
  const page = locationOrigin();
  let target;
  try {
    target = urlOrigin(new URL(url));
  } catch {
    return "";
  }
  if (target === page) return "";
  if (stringIndexOf(page, "https:") === 0 && stringIndexOf(target, "http:") === 0) {
    return "; this https page cannot call an http URL (mixed content)";
  }
  return "; it is on another origin than this page (" + page + "), so the browser most likely refused it on CORS: the answers there must allow this origin"
    + (!api ? " by name, not *, with Access-Control-Allow-Credentials: true"
      : signed ? " and the Authorization header (Access-Control-Allow-Origin, Access-Control-Allow-Headers)"
        : " (Access-Control-Allow-Origin)");
}

/** A call, as lines name it: an API request by where it goes, the others by their method. */
export function callName(call) {
  return call === undefined ? "a call" : call.request === undefined ? call.name
    : where(requestMethod(call.request), requestUrl(call.request));
}

/** Writes one line (console.info, which every browser shows by default). */
export function say(text) {
  try {
    if (consoleInfo) consoleInfo(console, "authfetch: " + text);
  } catch {
    // A console that throws is no reason to fail a call.
  }
}

const noAnswer = (failure) => (failure === TIMEOUT ? "no answer in time" : failure === LOCK_NOT_GRANTED
  ? "the cross-tab lock was not granted in time" : "no answer (network or CORS)");

/** The line for input `event` about `call` (or a refresh), with its operand `a`. */
export function inputLine(event, call, a) {
  switch (event) {
    case RESPONSE: return callName(call) + ": answered " + a;
    case FAILED: return callName(call) + ": " + noAnswer(a);
    case REFRESH: return "refresh() was called";
    case RESTORE: return "restore() was called";
    case REFRESH_ANSWERED: return "the refresh endpoint answered " + a + (a === 401 || a === 403 ? ": the session is over" : "");
    case REFRESH_FAILED: return "the refresh: " + noAnswer(a);
    case LOGIN_ANSWERED: return "the login endpoint answered " + a;
    case SIGN_OUT: return "logout(): the token is forgotten";
    case LOGOUT_ANSWERED: return "the logout endpoint answered " + a;
    case HEARD: return "another tab says: " + (a === "signed-in" || a === "signed-out" ? a : "(a message not understood)");
    case REVISIT: return "the page is visible or online again (a token due is refreshed now)";
    case CLOSE: return "free() was called";
  }
  return undefined;
}

/** The line for action `kind` about `call`; `detail`: whether a `SEND` carries the token, a
 *  `DELIVER`'s status, an `EMIT`'s state, a `BROADCAST`'s message, a `CALL_REFRESH`'s target. */
export function actionLine(kind, call, detail) {
  switch (kind) {
    case SEND: return callName(call) + ": " + (call?.attempts > 0 ? "sent again" : "sent") + (detail ? " with the token" : " without a token (signed out)");
    case PASS_THROUGH: return callName(call) + ": passed to fetch untouched (" + (call?.authorized ? "it carries its own Authorization" : "its origin is not in apiOrigins") + ")";
    case RECALL: return callName(call) + ": withdrawn, its token was refused meanwhile";
    case DELIVER: return callName(call) + ": its response (" + detail + ") goes to the caller";
    case RESOLVE: return callName(call) + ": done";
    case START_REFRESH: return "a refresh is needed" + (detail ? ": waiting for the cross-tab lock" : "");
    case CALL_REFRESH: return detail + ": refreshing, with the cookie";
    case EMIT: return "state: " + detail;
    case BROADCAST: return "told the other tabs: " + detail;
  }
  return undefined;
}

/** After `BEGIN`: the call neither went nor passed through, so it waits for a refresh. */
export const waits = (call) => callName(call) + ": waits for the refresh";
