// `new AuthClient(options)`: the one list of option names, their defaults and their checks.
// Read once, through own properties only (a later script's Object.prototype getters add no
// option), into a prototype-less object. Every refusal is an AuthError `invalid_config` whose
// message names the option.
import { AuthError } from "./auth-error.js";
import {
  bag, charCodeAt, hasOwn, isArray, keys, list, push, stringIndexOf, stringTrim, toUpperCase, URL,
  urlHref, urlOrigin, urlProtocol,
} from "./captured.js";

const DEFAULTS = {
  __proto__: null,
  apiOrigins: undefined, // the page's own origin
  refreshUrl: "/auth/refresh",
  refreshMethod: "POST",
  loginUrl: "/auth/login",
  logoutUrl: "/auth/logout",
  tokenField: "access_token",
  loginTokenField: undefined, // tokenField
  expiresInField: "expires_in",
  refreshLeewaySeconds: 30,
  refreshHeaders: undefined,
  csrf: undefined,
  timeoutMs: 30000,
  crossTab: true,
  debug: false,
};

/** What kind of value this is, in the words of the messages. */
function kind(value) {
  if (value === null) return "null";
  if (isArray(value)) return "an array";
  const type = typeof value;
  return type === "undefined" ? "undefined" : (type === "object" ? "an " : "a ") + type;
}

// The refusals this module raised, told apart from what an app's getter might throw.
let refusal;
const invalid = (message) => (refusal = new AuthError("invalid_config", message));

// Checked character by character with a captured charCodeAt: a regular expression would
// consult `RegExp.prototype.exec`, which a later script may replace.
const every = (text, allowed) => {
  for (let i = 0; i < text.length; i++) if (!allowed(charCodeAt(text, i))) return false;
  return true;
};
// RFC 9110 token characters: what header and cookie names are made of.
const TOKEN_SIGNS = bag();
for (const sign of "!#$%&'*+-.^_`|~") TOKEN_SIGNS[charCodeAt(sign, 0)] = true;
const isTokenChar = (c) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
  || TOKEN_SIGNS[c] === true;
const isToken = (text) => typeof text === "string" && text.length > 0 && every(text, isTokenChar);
const isHeaderValue = (text) => every(text, (c) => c === 9 || (c >= 32 && c <= 126));

const name = (function name(options, key) {
  const value = options[key];
  if (value === undefined && DEFAULTS[key] !== undefined) return DEFAULTS[key];
  if (typeof value !== "string" || stringTrim(value) === "") {
    throw invalid(key + " must be a non-empty string, got " + kind(value));
  }
  // A line break would split the core's configuration text; no field or URL has one.
  if (stringIndexOf(value, "\n") >= 0) throw invalid(key + " must not contain a line break");
  return value;
});

/** `text` as a serialised origin (scheme://host[:port], normalised by the URL parser as
 *  `Request.url` is), or `undefined` and why not in `out.why`. */
const origin = (function origin(text, out) {
  if (stringTrim(text) === "null") {
    out.why = '"null" (an opaque origin) can never match';
    return undefined;
  }
  let url;
  try {
    url = new URL(text);
  } catch {
    out.why = "expected scheme://host[:port]";
    return undefined;
  }
  const part = (getter) => getter(url);
  const protocol = part(urlProtocol);
  if (protocol !== "http:" && protocol !== "https:") {
    out.why = "only http and https origins can receive the token";
    return undefined;
  }
  // Nothing but the origin: no credentials, path, query or fragment (not even an empty one).
  if (part(urlHref) !== part(urlOrigin) + "/") {
    out.why = "an origin has no path, query, fragment or credentials";
    return undefined;
  }
  return part(urlOrigin);
});

/** Validates `options` for a page at `pageOrigin`; returns the configuration. */
export const validate = (function validate(options, pageOrigin) {
  if (options === undefined || options === null) options = bag();
  else if (typeof options !== "object" || isArray(options)) throw invalid("options must be an object, got " + kind(options));
  let own;
  let unknown;
  try {
    // Own enumerable properties, each read once.
    own = bag();
    const names = keys(options);
    for (let i = 0; i < names.length; i++) {
      if (!hasOwn(DEFAULTS, names[i])) {
        unknown = names[i];
        break;
      }
      own[names[i]] = options[names[i]];
    }
  } catch {
    throw invalid("options could not be read (a getter or Proxy threw)");
  }
  if (unknown !== undefined) throw invalid('unknown option "' + unknown + '" (check its spelling)');
  const config = bag();
  // Each option's own getters (an array item, a header value) are the app's: what they throw
  // is reported against the option.
  const read = (key, check) => {
    try {
      return check();
    } catch (error) {
      if (error === refusal) throw error;
      throw invalid(key + " could not be read (a getter or Proxy threw)");
    }
  };
  config.apiOrigins = read("apiOrigins", () => apiOrigins(own.apiOrigins, pageOrigin));
  config.refreshUrl = name(own, "refreshUrl");
  const method = own.refreshMethod === undefined ? "POST" : typeof own.refreshMethod === "string" ? toUpperCase(own.refreshMethod) : "";
  if (method !== "POST" && method !== "GET") throw invalid('refreshMethod must be "POST" or "GET"');
  config.refreshMethod = method;
  config.loginUrl = name(own, "loginUrl");
  config.logoutUrl = name(own, "logoutUrl");
  config.tokenField = name(own, "tokenField");
  config.loginTokenField = own.loginTokenField === undefined ? config.tokenField
    : own.loginTokenField === null ? null : name(own, "loginTokenField");
  config.expiresInField = name(own, "expiresInField");
  const leeway = own.refreshLeewaySeconds === undefined ? DEFAULTS.refreshLeewaySeconds : own.refreshLeewaySeconds;
  if (typeof leeway !== "number" || !(leeway >= 0) || leeway === Infinity) {
    throw invalid("refreshLeewaySeconds must be a number of seconds, 0 or more");
  }
  config.refreshLeewayMs = leeway * 1000;
  config.refreshHeaders = read("refreshHeaders", () => refreshHeaders(own.refreshHeaders));
  config.csrf = read("csrf", () => csrf(own.csrf));
  const timeout = own.timeoutMs === undefined ? DEFAULTS.timeoutMs : own.timeoutMs;
  // setTimeout treats longer delays as 0.
  if (typeof timeout !== "number" || !(timeout >= 1 && timeout <= 2147483647)) {
    throw invalid("timeoutMs must be a number of milliseconds from 1 to 2147483647");
  }
  config.timeoutMs = timeout - (timeout % 1);
  const crossTab = own.crossTab === undefined ? true : own.crossTab;
  if (typeof crossTab !== "boolean") throw invalid("crossTab must be true or false");
  config.crossTab = crossTab;
  const debug = own.debug === undefined ? false : own.debug;
  if (typeof debug !== "boolean") throw invalid("debug must be true or false");
  config.debug = debug;
  return config;
});

const apiOrigins = (function apiOrigins(value, pageOrigin) {
  if (value === undefined) {
    const page = origin(pageOrigin, bag());
    if (page === undefined) throw invalid("apiOrigins is required: this page has no origin to default to (" + pageOrigin + ")");
    const origins = list();
    push(origins, page);
    return origins;
  }
  if (!isArray(value) || value.length === 0) {
    throw invalid('apiOrigins must be a non-empty array of origins like "https://api.example.com"');
  }
  const origins = list();
  for (let i = 0; i < value.length; i++) {
    const item = hasOwn(value, i) ? value[i] : undefined;
    if (typeof item !== "string") throw invalid("apiOrigins must hold origin strings, got " + kind(item));
    const out = bag();
    const parsed = origin(item, out);
    if (parsed === undefined) throw invalid('apiOrigins: "' + item + '" is not an origin: ' + out.why);
    push(origins, parsed);
  }
  return origins;
});

const refreshHeaders = (function refreshHeaders(value) {
  const pairs = list();
  if (value === undefined) return pairs;
  if (value === null || typeof value !== "object" || isArray(value)) {
    throw invalid("refreshHeaders must be an object of header names to strings, got " + kind(value));
  }
  const names = keys(value);
  for (let i = 0; i < names.length; i++) {
    const header = names[i];
    const text = value[header];
    if (!isToken(header)) throw invalid('refreshHeaders: "' + header + '" is not a valid header name');
    if (typeof text !== "string") throw invalid('refreshHeaders: the value of "' + header + '" must be a string, got ' + kind(text));
    if (!isHeaderValue(text)) throw invalid('refreshHeaders: the value of "' + header + '" has characters not allowed in a header');
    const pair = bag();
    pair.name = header;
    pair.value = text;
    push(pairs, pair);
  }
  return pairs;
});

const csrf = (function csrf(value) {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object" || isArray(value)) throw invalid("csrf must be { cookie, header } or null");
  const cookie = hasOwn(value, "cookie") ? value.cookie : undefined;
  const header = hasOwn(value, "header") ? value.header : undefined;
  if (!isToken(cookie)) throw invalid("csrf.cookie must be a cookie name");
  if (!isToken(header)) throw invalid("csrf.header must be a header name");
  return { __proto__: null, cookie, header };
});
