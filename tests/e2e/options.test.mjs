// `new AuthClient(options)`: the validation in js/options.js, through the built package in a
// real page of each engine. It replaces the native tests/core_config.rs (the Rust validation it
// tested is gone): every case of its `every_validation_message_names_the_option` throws here an
// `AuthError` (`instanceof` the package's class) with code "invalid_config" and exactly the
// message js/options.js gives; where that message or verdict differs from the Rust one on
// purpose, the case says so. Then what only a browser has: getters and Proxies in the options,
// built-ins a later script replaced before `new AuthClient`, origin normalisation by the URL
// parser, the defaults, and the options the old `every_option_is_read` covered that
// tests/e2e/client.test.mjs does not (refreshUrl, refreshMethod and tokenField are there).
//
// One reference server in test mode serves the page, the package and the API, so the page's
// own origin is the default API origin and the server's journal shows which calls carried the
// bearer. "Evil" is a small Node server on another port that records every request it gets
// (preflights too) and lets any origin call it with credentials, so a leaked bearer arrives.
//
// The package is pkg, or the directory named by AUTHFETCH_TEST_PKG.
import { after, afterEach, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { serverAndBrowser, startAll, startForeign, startServer } from "./support.mjs";

const root = new URL("../../", import.meta.url).pathname;
const pkg = process.env.AUTHFETCH_TEST_PKG ?? join(root, "pkg");

const fixture = serverAndBrowser(() => startAll({
  site: () => startServer(["--test-mode", "--www-dir", join(root, "tests/e2e/fixtures/page"), "--pkg-dir", pkg]),
  evil: () => startForeign(),
}));

const site = () => fixture.server.site;
const evil = () => fixture.server.evil;

let pages = [];
let shared;

beforeEach(async () => {
  await fixture.browser.context.clearCookies();
  await site().control("/auth/test/reset");
  evil().clear();
});

afterEach(async () => {
  await Promise.all(pages.map((page) => page.close().catch(() => {})));
  pages = [];
});

after(async () => {
  await shared?.close().catch(() => {});
});

/**
 * Runs in the page: loads the package (`await init()`) and defines `window.t`, the helpers the
 * tests use there, with the built-ins they need taken before any test replaces one.
 */
async function setUpPage(evil) {
  const { default: init, AuthClient, AuthError } = await import("/pkg/index.js");
  await init();
  const nativeFetch = window.fetch;
  const apply = Reflect.apply;
  const statusOf = Object.getOwnPropertyDescriptor(Response.prototype, "status").get;
  const indirectEval = eval;
  const describe = (error) => {
    let isAuthError = false;
    try { isAuthError = error instanceof AuthError; } catch {}
    return {
      isError: error instanceof Error,
      isAuthError,
      brand: error?.[Symbol.for("authfetch.AuthError")] === true,
      name: error?.name,
      code: error?.code,
      message: error?.message,
    };
  };
  window.t = {
    AuthClient,
    AuthError,
    evil,
    describe,
    /** The value of the JavaScript expression `source`, evaluated in the page. */
    value: (source) => indirectEval(`(${source})`),
    /** What `new AuthClient(options)` threw, described; null when it did not throw. */
    refused(options) {
      try {
        new AuthClient(options).free();
      } catch (error) {
        return describe(error);
      }
      return null;
    },
    login: (auth) => auth.login({ username: "demo", password: "demo" }),
    /** The status `auth.fetch(url)` resolved with, or what it rejected with. */
    async status(auth, url, init) {
      try {
        return apply(statusOf, await auth.fetch(url, init), []);
      } catch (error) {
        return `rejected ${error?.name}: ${error?.message}`;
      }
    },
    /** What `promise` rejected with, described; null when it resolved. */
    async failure(promise) {
      try {
        await promise;
      } catch (error) {
        return describe(error);
      }
      return null;
    },
    /** The server's journal, read without the client. */
    async journal() {
      return (await apply(nativeFetch, window, ["/auth/test/requests"])).json();
    },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}

/** A fresh page of the site with the package loaded and `window.t` defined. */
async function openPage() {
  const page = await fixture.browser.context.newPage();
  pages.push(page);
  await page.goto(`${site().url}/`);
  await page.evaluate(setUpPage, evil().url);
  return page;
}

/** One page for the cases that only construct (and are refused): nothing is left behind. */
async function sharedPage() {
  if (!shared) {
    shared = await fixture.browser.context.newPage();
    await shared.goto(`${site().url}/`);
    await shared.evaluate(setUpPage, evil().url);
  }
  return shared;
}

const journal = () => site().journal();
/** Whether each call to `path` (exactly, query included) carried a bearer, in order. */
const bearers = async (path) => (await journal()).filter((e) => e.path === path).map((e) => e.authorization?.startsWith("Bearer ") ?? false);
/** The requests the evil origin got with an Authorization header. */
const leaked = () => evil().requests.filter((r) => r.authorization !== null).map((r) => `${r.method} ${r.path}`);

/** `error` (as `t.describe` gives it) is the package's AuthError invalid_config with `message`. */
function assertInvalidConfig(error, message, context) {
  assert.ok(error, `${context}: refused`);
  assert.equal(error.isError, true, `${context}: an Error: ${JSON.stringify(error)}`);
  assert.equal(error.isAuthError, true, `${context}: instanceof the package's AuthError: ${JSON.stringify(error)}`);
  assert.equal(error.brand, true, `${context}: branded`);
  assert.equal(error.name, "AuthError", context);
  assert.equal(error.code, "invalid_config", `${context}: ${error.message}`);
  assert.equal(error.message, message, context);
}

/** Refuses `source` (a JavaScript expression for the options) in the shared page. */
async function refusal(source) {
  const page = await sharedPage();
  return page.evaluate((source) => t.refused(t.value(source)), source);
}

// ---- every case of the Rust `every_validation_message_names_the_option` ------------------
// [the options as JavaScript source, the message]. Each message is the Rust one, unchanged.

const ORIGIN_HINT = 'apiOrigins must be a non-empty array of origins like "https://api.example.com"';
const RUST_CASES = [
  ['"https://api.example"', "options must be an object, got a string"],
  ["[]", "options must be an object, got an array"],
  ['{ apiOrigin: ["https://api.example"] }', 'unknown option "apiOrigin" (check its spelling)'],
  ['{ apiOrigins: "https://api.example" }', ORIGIN_HINT],
  ["{ apiOrigins: [] }", ORIGIN_HINT],
  ["{ apiOrigins: [1] }", "apiOrigins must hold origin strings, got a number"],
  ['{ apiOrigins: ["https://api.example/v1"] }', 'apiOrigins: "https://api.example/v1" is not an origin: an origin has no path, query, fragment or credentials'],
  ['{ apiOrigins: ["null"] }', 'apiOrigins: "null" is not an origin: "null" (an opaque origin) can never match'],
  // Now the browser's URL parser's verdict; the same words as Rust's.
  ['{ apiOrigins: ["api.example"] }', 'apiOrigins: "api.example" is not an origin: expected scheme://host[:port]'],
  ['{ refreshUrl: "  " }', "refreshUrl must be a non-empty string, got a string"],
  ["{ refreshUrl: null }", "refreshUrl must be a non-empty string, got null"],
  ["{ loginUrl: 1 }", "loginUrl must be a non-empty string, got a number"],
  ["{ logoutUrl: true }", "logoutUrl must be a non-empty string, got a boolean"],
  ['{ tokenField: "" }', "tokenField must be a non-empty string, got a string"],
  ['{ loginTokenField: "" }', "loginTokenField must be a non-empty string, got a string"],
  ["{ refreshLeewaySeconds: null }", "refreshLeewaySeconds must be a number of seconds, 0 or more"],
  ["{ timeoutMs: null }", "timeoutMs must be a number of milliseconds from 1 to 2147483647"],
  ["{ crossTab: null }", "crossTab must be true or false"],
  ['{ expiresInField: () => "expires_in" }', "expiresInField must be a non-empty string, got a function"],
  ['{ refreshMethod: "PUT" }', 'refreshMethod must be "POST" or "GET"'],
  ["{ refreshLeewaySeconds: -1 }", "refreshLeewaySeconds must be a number of seconds, 0 or more"],
  ["{ refreshLeewaySeconds: NaN }", "refreshLeewaySeconds must be a number of seconds, 0 or more"],
  ['{ refreshLeewaySeconds: "30" }', "refreshLeewaySeconds must be a number of seconds, 0 or more"],
  ["{ refreshHeaders: [] }", "refreshHeaders must be an object of header names to strings, got an array"],
  ['{ refreshHeaders: { "Bad Header": "x" } }', 'refreshHeaders: "Bad Header" is not a valid header name'],
  ['{ refreshHeaders: { "X-A": "a\\r\\nb" } }', 'refreshHeaders: the value of "X-A" has characters not allowed in a header'],
  ['{ refreshHeaders: { "X-A": 1 } }', 'refreshHeaders: the value of "X-A" must be a string, got a number'],
  ["{ csrf: true }", "csrf must be { cookie, header } or null"],
  ['{ csrf: { header: "X-CSRF-TOKEN" } }', "csrf.cookie must be a cookie name"],
  ['{ csrf: { cookie: "c", header: "X CSRF" } }', "csrf.header must be a header name"],
  ["{ timeoutMs: 0 }", "timeoutMs must be a number of milliseconds from 1 to 2147483647"],
  ["{ timeoutMs: 3e9 }", "timeoutMs must be a number of milliseconds from 1 to 2147483647"],
  ["{ timeoutMs: Infinity }", "timeoutMs must be a number of milliseconds from 1 to 2147483647"],
  ['{ crossTab: "true" }', "crossTab must be true or false"],
];

for (const [source, message] of RUST_CASES) {
  test(`rust case: new AuthClient(${source}) is refused: ${message}`, async () => {
    assertInvalidConfig(await refusal(source), message, source);
  });
}

// ---- refusals the Rust test had no case for ------------------------------------------------
// [source, message, why]. "Rust: ..." marks where the Rust validation answered otherwise.

const JS_CASES = [
  ['{ debug: "yes" }', "debug must be true or false", "an option the Rust validation never had"],
  ["{ debug: 1 }", "debug must be true or false", "an option the Rust validation never had"],
  // Origins are parsed by the browser's URL parser now.
  ['{ apiOrigins: ["ftp://x"] }', 'apiOrigins: "ftp://x" is not an origin: only http and https origins can receive the token', "Rust accepted any scheme"],
  ['{ apiOrigins: ["wss://api.example"] }', 'apiOrigins: "wss://api.example" is not an origin: only http and https origins can receive the token', "Rust accepted any scheme"],
  ['{ apiOrigins: ["file:///srv"] }', 'apiOrigins: "file:///srv" is not an origin: only http and https origins can receive the token', "Rust: an origin has no path, ..."],
  ['{ apiOrigins: ["https://"] }', 'apiOrigins: "https://" is not an origin: expected scheme://host[:port]', "Rust: the host is missing"],
  ['{ apiOrigins: ["https://api.example:99999"] }', 'apiOrigins: "https://api.example:99999" is not an origin: expected scheme://host[:port]', "Rust: the port is not a number from 0 to 65535"],
  // (Not "https://api example": Chromium's URL parser takes it, as "https://api%20example".)
  ['{ apiOrigins: ["https://api<example"] }', 'apiOrigins: "https://api<example" is not an origin: expected scheme://host[:port]', "Rust: the host has characters not allowed in an origin (...)"],
  ['{ apiOrigins: ["https://[::1"] }', 'apiOrigins: "https://[::1" is not an origin: expected scheme://host[:port]', "Rust: the host has characters not allowed in an origin (...)"],
  ['{ apiOrigins: ["https://user:pw@api.example"] }', 'apiOrigins: "https://user:pw@api.example" is not an origin: an origin has no path, query, fragment or credentials', "as Rust"],
  ['{ apiOrigins: ["https://api.example?x=1"] }', 'apiOrigins: "https://api.example?x=1" is not an origin: an origin has no path, query, fragment or credentials', "as Rust"],
  ['{ apiOrigins: ["https://api.example#top"] }', 'apiOrigins: "https://api.example#top" is not an origin: an origin has no path, query, fragment or credentials', "as Rust"],
  ['{ apiOrigins: ["https://api.example?"] }', 'apiOrigins: "https://api.example?" is not an origin: an origin has no path, query, fragment or credentials', "an empty query"],
  ['{ apiOrigins: ["https://api.example/#"] }', 'apiOrigins: "https://api.example/#" is not an origin: an origin has no path, query, fragment or credentials', "an empty fragment"],
  ['{ apiOrigins: ["https://api.example//"] }', 'apiOrigins: "https://api.example//" is not an origin: an origin has no path, query, fragment or credentials', "as Rust"],
  ['{ apiOrigins: [" null "] }', 'apiOrigins: " null " is not an origin: "null" (an opaque origin) can never match', "as Rust"],
  ['{ apiOrigins: ["https://api.example", 2] }', "apiOrigins must hold origin strings, got a number", "every item is checked"],
  ['{ apiOrigins: [, "https://api.example"] }', "apiOrigins must hold origin strings, got undefined", "a hole"],
  ['{ apiOrigins: [new String("https://api.example")] }', "apiOrigins must hold origin strings, got an object", "as Rust"],
  ['{ apiOrigins: [{ toString() { return "https://api.example"; } }] }', "apiOrigins must hold origin strings, got an object", "as Rust"],
  ["{ apiOrigins: null }", ORIGIN_HINT, "as Rust"],
  ['{ apiOrigins: { 0: "https://api.example", length: 1 } }', ORIGIN_HINT, "an array-like is no array"],
  // Kinds.
  ['Symbol("options")', "options must be an object, got a symbol", "Rust: got a symbol or bigint"],
  ["10n", "options must be an object, got a bigint", "Rust: got a symbol or bigint"],
  ["() => ({})", "options must be an object, got a function", "as Rust"],
  ["true", "options must be an object, got a boolean", "as Rust"],
  ["{ tokenField: Symbol() }", "tokenField must be a non-empty string, got a symbol", "Rust: got a symbol or bigint"],
  ['{ tokenField: new String("token") }', "tokenField must be a non-empty string, got an object", "as Rust"],
  // Spelling: checked before any value, and case-sensitive.
  ['{ apiOrigins: "not even an array", timeOut: 5 }', 'unknown option "timeOut" (check its spelling)', "as Rust"],
  ['{ apiorigins: ["https://api.example"] }', 'unknown option "apiorigins" (check its spelling)', "as Rust"],
  // A newline would split the core's configuration text.
  ['{ tokenField: "access\\ntoken" }', "tokenField must not contain a line break", "Rust accepted it"],
  ['{ loginTokenField: "a\\nb" }', "loginTokenField must not contain a line break", "Rust accepted it"],
  ['{ expiresInField: "a\\nb" }', "expiresInField must not contain a line break", "Rust accepted it"],
  ['{ refreshUrl: "/auth/\\nrefresh" }', "refreshUrl must not contain a line break", "Rust accepted it"],
  // Endpoints are resolved against the page when the client is made.
  ['{ refreshUrl: "http://[" }', 'refreshUrl is not a valid URL: "http://["', "as Rust"],
  ['{ loginUrl: "https://a<b/" }', 'loginUrl is not a valid URL: "https://a<b/"', "as Rust"],
  ['{ logoutUrl: "http://:80/" }', 'logoutUrl is not a valid URL: "http://:80/"', "as Rust"],
  // The rest, one by one.
  ['{ refreshMethod: "" }', 'refreshMethod must be "POST" or "GET"', "as Rust"],
  ["{ refreshMethod: 1 }", 'refreshMethod must be "POST" or "GET"', "as Rust"],
  ['{ refreshMethod: "PATCH" }', 'refreshMethod must be "POST" or "GET"', "as Rust"],
  ["{ refreshLeewaySeconds: Infinity }", "refreshLeewaySeconds must be a number of seconds, 0 or more", "as Rust"],
  ["{ refreshLeewaySeconds: 30n }", "refreshLeewaySeconds must be a number of seconds, 0 or more", "as Rust"],
  ["{ refreshHeaders: null }", "refreshHeaders must be an object of header names to strings, got null", "as Rust"],
  ['{ refreshHeaders: "X-A: 1" }', "refreshHeaders must be an object of header names to strings, got a string", "as Rust"],
  ['{ refreshHeaders: { "": "x" } }', 'refreshHeaders: "" is not a valid header name', "as Rust"],
  ['{ refreshHeaders: { "X-A": "caf\\u00e9" } }', 'refreshHeaders: the value of "X-A" has characters not allowed in a header', "as Rust"],
  ['{ refreshHeaders: { "X-A": "a\\u0000b" } }', 'refreshHeaders: the value of "X-A" has characters not allowed in a header', "as Rust"],
  ['{ refreshHeaders: { "X-A": null } }', 'refreshHeaders: the value of "X-A" must be a string, got null', "as Rust"],
  ["{ csrf: [] }", "csrf must be { cookie, header } or null", "as Rust"],
  ['{ csrf: "csrf_refresh_token" }', "csrf must be { cookie, header } or null", "as Rust"],
  ['{ csrf: () => ({ cookie: "c", header: "h" }) }', "csrf must be { cookie, header } or null", "as Rust"],
  ['{ csrf: { cookie: "a b", header: "X-CSRF-TOKEN" } }', "csrf.cookie must be a cookie name", "as Rust"],
  ['{ csrf: { cookie: "c" } }', "csrf.header must be a header name", "as Rust"],
  ['{ csrf: Object.create({ cookie: "c", header: "X-CSRF-TOKEN" }) }', "csrf.cookie must be a cookie name", "inherited names do not count (as Rust)"],
  ["{ timeoutMs: 0.5 }", "timeoutMs must be a number of milliseconds from 1 to 2147483647", "as Rust"],
  ["{ timeoutMs: 2147483648 }", "timeoutMs must be a number of milliseconds from 1 to 2147483647", "as Rust"],
  ['{ timeoutMs: "1000" }', "timeoutMs must be a number of milliseconds from 1 to 2147483647", "as Rust"],
  ["{ timeoutMs: NaN }", "timeoutMs must be a number of milliseconds from 1 to 2147483647", "as Rust"],
  ["{ crossTab: 1 }", "crossTab must be true or false", "as Rust"],
  // Getters and Proxies: what throws while the options object is read.
  ['{ get apiOrigins() { throw new Error("boom"); } }', "options could not be read (a getter or Proxy threw)", "Rust: options must be an object, got an unreadable object"],
  ['{ get crossTab() { throw "not even an Error"; } }', "options could not be read (a getter or Proxy threw)", "Rust: options must be an object, got an unreadable object"],
  ["(() => { const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); return proxy; })()", "options could not be read (a getter or Proxy threw)", "Rust: options must be an object, got an unreadable object"],
  ['new Proxy({}, { ownKeys() { throw new Error("trap"); } })', "options could not be read (a getter or Proxy threw)", "Rust: options must be an object, got an unreadable object"],
  ['new Proxy({ apiOrigins: [location.origin] }, { get() { throw new Error("trap"); } })', "options could not be read (a getter or Proxy threw)", "Rust: options must be an object, got an unreadable object"],
];

for (const [source, message, why] of JS_CASES) {
  test(`js case (${why}): new AuthClient(${source}) is refused: ${message}`, async () => {
    assertInvalidConfig(await refusal(source), message, source);
  });
}

test("what is accepted: the contract's values and their spellings", async () => {
  const page = await sharedPage();
  const accepted = [
    "undefined",
    "null",
    "{}",
    "Object.create(null)",
    '{ apiOrigins: ["https://api.example.com"] }',
    '{ apiOrigins: ["HTTPS://API.Example:443/"] }',
    '{ apiOrigins: ["  https://api.example  "] }', // trimmed, as by Rust
    '{ apiOrigins: ["https://api.example:"] }', // an empty port is the default one, as in Rust
    '{ apiOrigins: ["http://[::1]:8080", "https://127.0.0.1"] }',
    '{ apiOrigins: new Proxy(["https://api.example"], {}) }', // a Proxy of an array is an array
    '{ refreshMethod: "get" }',
    '{ refreshMethod: "Post" }',
    "{ loginTokenField: null }",
    "{ csrf: null }",
    '{ csrf: { cookie: "csrf_refresh_token", header: "X-CSRF-TOKEN" } }',
    "{ refreshHeaders: {} }",
    '{ refreshHeaders: { "X-Requested-With": "authfetch", "X-Tab": "a\\tb ~" } }',
    "{ refreshLeewaySeconds: 0 }",
    "{ refreshLeewaySeconds: 2.5 }",
    "{ timeoutMs: 1 }",
    "{ timeoutMs: 1.5 }",
    "{ timeoutMs: 2147483647 }",
    "{ crossTab: false }",
    "{ debug: true }",
    "{ debug: false }",
    // Non-enumerable and symbol-keyed own properties are not options (as in Rust).
    '(() => { const o = {}; Object.defineProperty(o, "apiOrigin", { value: 1 }); o[Symbol("x")] = 1; return o; })()',
  ];
  const outcomes = await page.evaluate((accepted) => accepted.map((source) => [source, t.refused(t.value(source))]), accepted);
  assert.deepEqual(outcomes.filter(([, error]) => error !== null), [], "none refused");
});

// ---- the defaults ---------------------------------------------------------------------------

test("defaults: the page's own origin gets the bearer, and the endpoints are the page's /auth/*", async () => {
  const page = await openPage();
  const result = await page.evaluate(async () => {
    const results = {};
    for (const [name, options] of [["undefined", undefined], ["null", null], ["{}", {}]]) {
      const auth = new t.AuthClient(options);
      results[name] = {
        login: await t.failure(t.login(auth)),
        own: await t.status(auth, `/api/me?defaults=${name}`),
        evil: await t.status(auth, `${t.evil}/api/me?defaults=${name}`),
      };
      auth.free();
    }
    const auth = new t.AuthClient();
    await t.login(auth);
    results.refresh = await t.failure(auth.refresh());
    results.logout = await t.failure(auth.logout());
    return results;
  });
  for (const name of ["undefined", "null", "{}"]) {
    assert.deepEqual(result[name], { login: null, own: 200, evil: 200 }, name);
    assert.deepEqual(await bearers(`/api/me?defaults=${name}`), [true], `${name}: the page's origin got the bearer`);
  }
  assert.deepEqual(leaked(), [], "the evil origin got no bearer");
  assert.equal(evil().requests.filter((r) => r.method === "GET").length, 3, "the evil calls arrived (without one)");
  assert.equal(result.refresh, null);
  assert.equal(result.logout, null);
  const auth = (await journal()).filter((e) => e.path.startsWith("/auth/")).map((e) => `${e.method} ${e.path}`);
  assert.deepEqual(auth, [
    "POST /auth/login", "POST /auth/login", "POST /auth/login", "POST /auth/login",
    "POST /auth/refresh", "POST /auth/logout",
  ], "default loginUrl, refreshUrl (POST) and logoutUrl, on the page's origin");
});

test("defaults: loginTokenField follows tokenField; null means the login answer carries no token", async () => {
  const page = await openPage();
  const result = await page.evaluate(async () => {
    // The server's login answer has `access_token`, not `jwt`: a login field that followed
    // `tokenField` finds nothing.
    const follows = new t.AuthClient({ tokenField: "jwt" });
    const followsLogin = await t.failure(t.login(follows));
    const followsAuthenticated = follows.isAuthenticated;
    follows.free();
    // The login answer's token is ignored: the client refreshes right after the login.
    const none = new t.AuthClient({ loginTokenField: null });
    const states = [];
    none.onChange((state) => states.push(state));
    const noneLogin = await t.failure(t.login(none));
    const noneJournal = (await t.journal()).filter((e) => e.path.startsWith("/auth/")).map((e) => `${e.method} ${e.path}`);
    const noneStatus = await t.status(none, "/api/me?login-token-field=null");
    return { followsLogin, followsAuthenticated, noneLogin, noneJournal, noneAuthenticated: none.isAuthenticated, noneStatus, states };
  });
  assert.equal(result.followsLogin?.code, "bad_response", `tokenField "jwt" is looked for in the login answer: ${JSON.stringify(result.followsLogin)}`);
  assert.equal(result.followsAuthenticated, false);
  assert.equal(result.noneLogin, null, "the login resolved");
  assert.deepEqual(result.noneJournal, ["POST /auth/login", "POST /auth/login", "POST /auth/refresh"], "loginTokenField null: a refresh right after the login");
  assert.equal(result.noneAuthenticated, true);
  assert.equal(result.noneStatus, 200);
  assert.deepEqual(await bearers("/api/me?login-token-field=null"), [true]);
  assert.deepEqual(result.states, ["refreshing", "signed-in"]);
});

// ---- origins, normalised by the URL parser --------------------------------------------------

test("apiOrigins are normalised: the page's origin written differently still gets the bearer", async () => {
  const page = await openPage();
  const spellings = await page.evaluate(async () => {
    const spellings = [
      location.origin.toUpperCase() + "/",
      `  ${location.origin}  `,
      location.origin.replace("127.0.0.1", "127.1"), // IPv4 shorthand, as the URL parser reads it
      location.origin.replace("http://", "HtTp://").replace("127.0.0.1", "0x7f.0.0.1"),
    ];
    const out = [];
    for (let i = 0; i < spellings.length; i++) {
      const auth = new t.AuthClient({ apiOrigins: [spellings[i]] });
      await t.login(auth);
      out.push({ spelling: spellings[i], status: await t.status(auth, `/api/me?spelling=${i}`) });
      auth.free();
    }
    return out;
  });
  for (let i = 0; i < spellings.length; i++) {
    assert.equal(spellings[i].status, 200, JSON.stringify(spellings[i]));
    assert.deepEqual(await bearers(`/api/me?spelling=${i}`), [true], `${JSON.stringify(spellings[i].spelling)} matched the page's origin`);
  }
});

test('"HTTPS://API.Example:443/" is accepted and admits https://api.example requests, not other ports', async () => {
  // No request reaches api.example here; what shows the match is that a client with no token
  // and an unknown state refreshes first for an API request (POST /auth/refresh on the page's
  // origin, the default refreshUrl) and passes any other request through untouched.
  const page = await openPage();
  const result = await page.evaluate(async () => {
    const attempt = async (url) => {
      const auth = new t.AuthClient({ apiOrigins: ["HTTPS://API.Example:443/"] });
      await Promise.race([auth.fetch(url).catch(() => {}), t.sleep(3000)]);
      const state = auth.state;
      auth.free();
      const refreshes = (await t.journal()).filter((e) => e.path === "/auth/refresh").length;
      await fetch("/auth/test/reset", { method: "POST" });
      return { state, refreshes };
    };
    return {
      plain: await attempt("https://api.example/me"),
      shouted: await attempt("HTTPS://API.EXAMPLE:443/me"),
      otherPort: await attempt("https://api.example:8443/me"),
      otherScheme: await attempt("http://api.example/me"),
    };
  });
  assert.deepEqual(result.plain, { state: "signed-out", refreshes: 1 }, "https://api.example is an API origin");
  assert.deepEqual(result.shouted, { state: "signed-out", refreshes: 1 }, "and so is its upper-case spelling");
  assert.deepEqual(result.otherPort, { state: "unknown", refreshes: 0 }, "another port is not");
  assert.deepEqual(result.otherScheme, { state: "unknown", refreshes: 0 }, "http is not");
});

test("every apiOrigins entry is read, with a trailing slash, and the page's origin is then not one", async () => {
  const page = await openPage();
  const result = await page.evaluate(async () => {
    const auth = new t.AuthClient({ apiOrigins: ["https://api.example", `${t.evil}/`] });
    await t.login(auth);
    return { evil: await t.status(auth, `${t.evil}/api/listed`), own: await t.status(auth, "/api/me?not-listed") };
  });
  assert.deepEqual(result, { evil: 200, own: 401 });
  assert.deepEqual(leaked(), ["GET /api/listed"], "the listed origin got the bearer");
  assert.deepEqual(await bearers("/api/me?not-listed"), [false], "the page's origin did not");
});

// ---- a later script's Object.prototype getters, and replaced built-ins -----------------------

test("Object.prototype getters added by a later script add no option", async () => {
  const page = await openPage();
  const result = await page.evaluate(async () => {
    const evil = t.evil;
    const planted = {
      apiOrigins: ["https://evil.example", evil],
      refreshUrl: `${evil}/auth/refresh`,
      refreshMethod: "GET",
      loginUrl: `${evil}/auth/login`,
      logoutUrl: `${evil}/auth/logout`,
      tokenField: "planted",
      loginTokenField: "planted",
      expiresInField: "planted",
      refreshLeewaySeconds: 1e6,
      refreshHeaders: { "X-Planted": "1" },
      csrf: { cookie: "planted", header: "X-Planted" },
      timeoutMs: 1,
      crossTab: "planted",
      debug: true,
    };
    const reads = [];
    for (const [name, value] of Object.entries(planted)) {
      Object.defineProperty(Object.prototype, name, { configurable: true, get() { reads.push(name); return value; } });
    }
    const out = {};
    try {
      for (const [name, make] of [["{}", () => ({})], ["{ timeoutMs: 5000 }", () => ({ timeoutMs: 5000 })], ["undefined", () => undefined]]) {
        const auth = new t.AuthClient(make());
        out[name] = {
          login: await t.failure(t.login(auth)),
          own: await t.status(auth, `/api/me?planted=${encodeURIComponent(name)}`),
          evil: await t.status(auth, `${evil}/api/me?planted=${encodeURIComponent(name)}`),
          logout: await t.failure(auth.logout()),
        };
        auth.free();
      }
    } finally {
      for (const name of Object.keys(planted)) delete Object.prototype[name];
    }
    out.reads = reads;
    out.cleanedUp = Object.keys(planted).filter((name) => name in {});
    return out;
  });
  for (const name of ["{}", "{ timeoutMs: 5000 }", "undefined"]) {
    assert.deepEqual(result[name], { login: null, own: 200, evil: 200, logout: null }, name);
    assert.deepEqual(await bearers(`/api/me?planted=${encodeURIComponent(name)}`), [true], `${name}: the page's origin got the bearer`);
  }
  assert.deepEqual(leaked(), [], "nothing with a bearer went to the evil origin");
  assert.deepEqual(evil().requests.map((r) => `${r.method} ${r.path.replace(/\?.*/, "")}`), ["GET /api/me", "GET /api/me", "GET /api/me"],
    "the evil origin saw only the page's own calls to it: no login, refresh or logout");
  assert.deepEqual(result.reads, [], "no planted getter was read");
  assert.deepEqual(result.cleanedUp, [], "the prototype is clean again");
});

// Installed after the module loaded and before `new AuthClient`, removed right after it.
// Each is the source of a function `(evil) => undo`.
const HOOKS = {
  "Array.prototype[Symbol.iterator]": `(evil) => {
    const original = Array.prototype[Symbol.iterator];
    Array.prototype[Symbol.iterator] = function* () { yield "https://evil.example"; yield evil; };
    return () => { Array.prototype[Symbol.iterator] = original; };
  }`,
  "String.prototype.trim": `(evil) => {
    const original = String.prototype.trim;
    String.prototype.trim = function () { return evil; };
    return () => { String.prototype.trim = original; };
  }`,
  "RegExp.prototype.exec": `(evil) => {
    const original = RegExp.prototype.exec;
    RegExp.prototype.exec = function () { const m = [evil]; m.index = 0; m.input = evil; return m; };
    return () => { RegExp.prototype.exec = original; };
  }`,
  "URL and URL.prototype.origin": `(evil) => {
    const Original = URL;
    const origin = Object.getOwnPropertyDescriptor(URL.prototype, "origin");
    Object.defineProperty(URL.prototype, "origin", { configurable: true, get() { return evil; } });
    window.URL = class extends Original { get origin() { return evil; } };
    return () => { window.URL = Original; Object.defineProperty(URL.prototype, "origin", origin); };
  }`,
  "Object.keys, Array.isArray, hasOwnProperty": `(evil) => {
    const { keys } = Object, { isArray } = Array, { hasOwnProperty } = Object.prototype;
    Object.keys = () => ["apiOrigins"];
    Array.isArray = () => true;
    Object.prototype.hasOwnProperty = () => true;
    Object.defineProperty(Object.prototype, "apiOrigins", { configurable: true, get() { return [evil]; } });
    return () => {
      Object.keys = keys; Array.isArray = isArray; Object.prototype.hasOwnProperty = hasOwnProperty;
      delete Object.prototype.apiOrigins;
    };
  }`,
  "Reflect.apply, Function.prototype.call and apply": `(evil) => {
    const { apply } = Reflect, { call, apply: fnApply } = Function.prototype;
    const lie = function () { return evil; };
    Reflect.apply = lie;
    Function.prototype.call = lie;
    Function.prototype.apply = lie;
    return () => { Function.prototype.call = call; Function.prototype.apply = fnApply; Reflect.apply = apply; };
  }`,
  "String.prototype.toLowerCase, toUpperCase, indexOf": `(evil) => {
    const { toLowerCase, toUpperCase, indexOf } = String.prototype;
    String.prototype.toLowerCase = String.prototype.toUpperCase = function () { return evil; };
    String.prototype.indexOf = () => -1;
    return () => Object.assign(String.prototype, { toLowerCase, toUpperCase, indexOf });
  }`,
};

for (const [hook, install] of Object.entries(HOOKS)) {
  test(`a replaced ${hook} before new AuthClient lets no other origin into apiOrigins`, async () => {
    const page = await openPage();
    const result = await page.evaluate(async (install) => {
      // No iteration, destructuring or spread while the hook is in place: the hook may be
      // the array iterator.
      const made = {};
      const names = ["listed", "default"];
      const options = [{ apiOrigins: [location.origin] }, {}];
      const undo = t.value(install)(t.evil);
      try {
        for (let i = 0; i < names.length; i++) {
          try {
            made[names[i]] = new t.AuthClient(options[i]);
          } catch (error) {
            made[names[i]] = t.describe(error);
          }
        }
      } finally {
        undo();
      }
      const out = {};
      for (const [name, auth] of Object.entries(made)) {
        if (!(auth instanceof t.AuthClient)) {
          out[name] = { refused: auth };
          continue;
        }
        out[name] = {
          login: await t.failure(t.login(auth)),
          own: await t.status(auth, `/api/me?hook=${name}`),
          evil: await t.status(auth, `${t.evil}/api/me?hook=${name}`),
        };
        auth.free();
      }
      return out;
    }, install);
    for (const name of ["listed", "default"]) {
      assert.deepEqual(result[name], { login: null, own: 200, evil: 200 }, `${name}: ${JSON.stringify(result[name])}`);
      assert.deepEqual(await bearers(`/api/me?hook=${name}`), [true], `${name}: the page's origin got the bearer`);
    }
    assert.deepEqual(leaked(), [], "no bearer went to the evil origin");
  });
}

// ---- each option is read once; later changes change nothing -------------------------------

test("each option is read once: a getter that answers differently later, a mutated array, a Proxy", async () => {
  const page = await openPage();
  const result = await page.evaluate(async () => {
    const evil = t.evil;
    let getterReads = 0;
    const flipping = { get apiOrigins() { getterReads++; return getterReads === 1 ? [location.origin] : [evil]; } };
    let proxyReads = 0;
    const proxy = new Proxy([location.origin], {
      get(target, key, receiver) {
        if (key === "0") return proxyReads++ === 0 ? location.origin : evil;
        return Reflect.get(target, key, receiver);
      },
    });
    const list = [location.origin];
    const clients = {
      getter: new t.AuthClient(flipping),
      proxy: new t.AuthClient({ apiOrigins: proxy }),
      mutated: new t.AuthClient({ apiOrigins: list }),
    };
    list[0] = evil;
    list.push(evil);
    const out = { getterReads, proxyReads };
    for (const [name, auth] of Object.entries(clients)) {
      await t.login(auth);
      out[name] = { own: await t.status(auth, `/api/me?once=${name}`), evil: await t.status(auth, `${evil}/api/me?once=${name}`) };
      auth.free();
    }
    return out;
  });
  assert.equal(result.getterReads, 1, "the getter was read once");
  assert.equal(result.proxyReads, 1, "the Proxy's item was read once");
  for (const name of ["getter", "proxy", "mutated"]) {
    assert.deepEqual(result[name], { own: 200, evil: 200 }, name);
    assert.deepEqual(await bearers(`/api/me?once=${name}`), [true], `${name}: the page's origin got the bearer`);
  }
  assert.deepEqual(leaked(), [], "no bearer went to the evil origin");
});

test("a throwing getter or Proxy inside an option is an AuthError invalid_config", async () => {
  const page = await sharedPage();
  const sources = [
    '{ apiOrigins: Object.defineProperty([], 0, { get() { throw new Error("boom"); }, enumerable: true }) }',
    "{ apiOrigins: (() => { const { proxy, revoke } = Proxy.revocable([], {}); revoke(); return proxy; })() }",
    '{ refreshHeaders: { get "X-A"() { throw new Error("boom"); } } }',
    '{ refreshHeaders: new Proxy({}, { ownKeys() { throw new Error("trap"); } }) }',
    '{ csrf: { get cookie() { throw new Error("boom"); }, header: "X-CSRF-TOKEN" } }',
    '{ csrf: (() => { const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); return proxy; })() }',
  ];
  const outcomes = await page.evaluate((sources) => sources.map((source) => t.refused(t.value(source))), sources);
  sources.forEach((source, i) => {
    assert.ok(outcomes[i], `${source}: refused`);
    assert.equal(outcomes[i].isAuthError, true, `${source}: ${JSON.stringify(outcomes[i])}`);
    assert.equal(outcomes[i].code, "invalid_config", `${source}: ${JSON.stringify(outcomes[i])}`);
  });
});

// ---- bugs: these assert the behaviour the contract asks for -----------------------------------

test("bug: a throwing getter or Proxy inside an option gets a message that names that option", async () => {
  // The contract: invalid_config "the options object is wrong (the message names the option)".
  // js/options.js reads refreshHeaders, csrf and the apiOrigins items outside the try that
  // names nothing but "options", and the constructor turns whatever they throw into
  // "options could not be read (a getter or Proxy threw)".
  const page = await sharedPage();
  const cases = [
    ['{ apiOrigins: Object.defineProperty([], 0, { get() { throw new Error("boom"); }, enumerable: true }) }', "apiOrigins"],
    ["{ apiOrigins: (() => { const { proxy, revoke } = Proxy.revocable([], {}); revoke(); return proxy; })() }", "apiOrigins"],
    ['{ refreshHeaders: { get "X-A"() { throw new Error("boom"); } } }', "refreshHeaders"],
    ['{ refreshHeaders: new Proxy({}, { ownKeys() { throw new Error("trap"); } }) }', "refreshHeaders"],
    ['{ csrf: { get cookie() { throw new Error("boom"); }, header: "X-CSRF-TOKEN" } }', "csrf"],
    ['{ csrf: (() => { const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); return proxy; })() }', "csrf"],
  ];
  const outcomes = await page.evaluate((cases) => cases.map(([source]) => t.refused(t.value(source))), cases);
  const unnamed = cases
    .map(([source, option], i) => ({ source, option, error: outcomes[i] }))
    .filter(({ option, error }) => !(error?.code === "invalid_config" && error.message.includes(option)))
    .map(({ source, error }) => `${source} -> ${error?.message}`);
  assert.deepEqual(unnamed, [], "every message names the option that could not be read");
});

test("bug: a replaced RegExp.prototype.exec before new AuthClient does not let bad header names or values through", async () => {
  // js/options.js checks header names and values with the RegExp.prototype.test it captured,
  // but `test` itself looks up `this.exec` on every call (ECMAScript RegExpExec), so a script
  // that replaced RegExp.prototype.exec decides what passes.
  const page = await sharedPage();
  const cases = [
    ['{ refreshHeaders: { "Bad Header": "x" } }', 'refreshHeaders: "Bad Header" is not a valid header name'],
    ['{ refreshHeaders: { "X-A": "a\\r\\nb" } }', 'refreshHeaders: the value of "X-A" has characters not allowed in a header'],
    ['{ csrf: { cookie: "a=b; c", header: "X-CSRF-TOKEN" } }', "csrf.cookie must be a cookie name"],
    ['{ csrf: { cookie: "c", header: "X CSRF" } }', "csrf.header must be a header name"],
  ];
  const outcomes = await page.evaluate((cases) => {
    const original = RegExp.prototype.exec;
    const options = cases.map(([source]) => t.value(source));
    RegExp.prototype.exec = function () { const m = [""]; m.index = 0; m.input = ""; return m; };
    try {
      return options.map((o) => t.refused(o));
    } finally {
      RegExp.prototype.exec = original;
    }
  }, cases);
  const wrong = cases
    .map(([source, message], i) => ({ source, message, error: outcomes[i] }))
    .filter(({ message, error }) => !(error?.isAuthError && error.code === "invalid_config" && error.message === message))
    .map(({ source, error }) => `${source} -> ${error === null ? "accepted" : error.message}`);
  assert.deepEqual(wrong, [], "refused as without the replaced exec");
});

test("bug: index accessors on Array.prototype or Object.prototype let no other origin into apiOrigins", async () => {
  // js/options.js collects the parsed origins by assignment (`origins[i] = parsed`) into a
  // plain array: an accessor for "0" on Array.prototype (or on Object.prototype, which arrays
  // inherit from) takes the assignment, and the core is then handed `apiOrigins[0]` as the
  // accessor's getter answers it. With two origins the first is replaced by the script's;
  // with one, the list comes out empty and the client cannot be made.
  const summary = {};
  for (const owner of ["Array.prototype", "Object.prototype"]) {
    for (const [name, list] of [["two origins", '["https://api.example.com", location.origin]'], ["one origin", "[location.origin]"]]) {
      const page = await openPage();
      evil().clear();
      const key = `${owner}, ${name}`;
      const tag = encodeURIComponent(key);
      const outcome = await page.evaluate(async ({ owner, list, tag }) => {
        const target = t.value(owner);
        const apiOrigins = t.value(list);
        let auth;
        Object.defineProperty(target, "0", { configurable: true, get() { return t.evil; }, set() {} });
        try {
          auth = new t.AuthClient({ apiOrigins });
        } catch (error) {
          return { refused: t.describe(error) };
        } finally {
          delete target[0];
        }
        await t.login(auth);
        return { own: await t.status(auth, `/api/me?index=${tag}`), evil: await t.status(auth, `${t.evil}/api/me?index=${tag}`) };
      }, { owner, list, tag });
      summary[key] = outcome.refused
        ? `refused: ${outcome.refused.code}: ${outcome.refused.message}`
        : `page origin ${outcome.own} with bearer ${await bearers(`/api/me?index=${tag}`)}; bearer leaked to evil: ${leaked().length > 0}`;
      await page.close().catch(() => {});
    }
  }
  const expected = "page origin 200 with bearer true; bearer leaked to evil: false";
  assert.deepEqual(summary, Object.fromEntries(Object.keys(summary).map((key) => [key, expected])),
    "the page's origin got the bearer and the evil origin none");
});

test("bug: an index setter on Array.prototype neither sees nor drops refreshHeaders", async () => {
  // The same assignment in refreshHeaders (`pairs[i] = [header, text]`): the setter is handed
  // each [name, value] pair the app configured, and the pair is not kept.
  const page = await openPage();
  const result = await page.evaluate(async () => {
    let seen = "";
    Object.defineProperty(Array.prototype, "0", { configurable: true, get: undefined, set(value) { seen += JSON.stringify(value); } });
    let auth;
    try {
      auth = new t.AuthClient({ refreshHeaders: { "X-CSRF-TOKEN": "app-secret" } });
    } finally {
      delete Array.prototype[0];
    }
    await t.login(auth);
    return { seen, refresh: await t.failure(auth.refresh()) };
  });
  const sent = (await journal()).filter((e) => e.path === "/auth/refresh").map((e) => e.csrf_header);
  assert.deepEqual({ seen: result.seen, refresh: result.refresh, sent }, { seen: "", refresh: null, sent: ["app-secret"] },
    "the setter saw no header, and the refresh carried it");
});

// ---- what every_option_is_read read, where a browser shows it --------------------------------
// (refreshUrl, refreshMethod and tokenField: tests/e2e/client.test.mjs.)

test("loginUrl, logoutUrl and refreshHeaders are the ones given", async () => {
  const page = await openPage();
  const result = await page.evaluate(async () => {
    const auth = new t.AuthClient({
      loginUrl: "/auth/login?from=options",
      logoutUrl: `${location.origin}/auth/logout?from=options`,
      refreshHeaders: { "X-CSRF-TOKEN": "from-refresh-headers" },
    });
    return { login: await t.failure(t.login(auth)), refresh: await t.failure(auth.refresh()), logout: await t.failure(auth.logout()) };
  });
  assert.deepEqual(result, { login: null, refresh: null, logout: null });
  const calls = (await journal()).filter((e) => e.path.startsWith("/auth/")).map((e) => [`${e.method} ${e.path}`, e.csrf_header]);
  assert.deepEqual(calls, [
    ["POST /auth/login?from=options", null],
    ["POST /auth/refresh", "from-refresh-headers"],
    ["POST /auth/logout?from=options", "from-refresh-headers"],
  ], "refreshHeaders on refresh and logout, not on login");
});

test("expiresInField is the field given: a login answer whose field is not a number is refused", async () => {
  const page = await openPage();
  const result = await page.evaluate(async () => {
    // The server answers { access_token, token_type: "Bearer", expires_in }.
    const wrong = new t.AuthClient({ expiresInField: "token_type" });
    const error = await t.failure(t.login(wrong));
    const authenticated = wrong.isAuthenticated;
    const right = new t.AuthClient({ expiresInField: "expires_in" });
    await t.login(right);
    return { error, authenticated, expiresAt: typeof right.expiresAt };
  });
  assert.equal(result.error?.code, "bad_response", JSON.stringify(result.error));
  assert.equal(result.authenticated, false);
  assert.equal(result.expiresAt, "number");
});

test("refreshLeewaySeconds is the leeway given: 0 sends a token that is about to expire as it is", async () => {
  // With the default leeway (capped at half of a 2 s lifetime) a call 1.1 s after the login
  // refreshes first: tests/e2e/client.test.mjs, "a known expiry refreshes before sending".
  await site().control("/auth/test/config", { access_ttl: 2 });
  const page = await openPage();
  const status = await page.evaluate(async () => {
    const auth = new t.AuthClient({ refreshLeewaySeconds: 0 });
    await t.login(auth);
    await t.sleep(1100);
    return t.status(auth, "/api/me?leeway=0");
  });
  assert.equal(status, 200);
  assert.deepEqual(await bearers("/api/me?leeway=0"), [true]);
  assert.equal((await site().stats()).refresh_calls, 0, "no refresh before sending");
});
