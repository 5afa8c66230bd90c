// The client's behaviour, through the built npm package (web flavour) in a real page of each
// engine, against the reference server in test mode. Every test checks the server's own view:
// its counters (`/auth/stats`) and the journal of requests it received (`/auth/test/requests`).
//
// As in a real deployment with the SPA and the API apart, the page and the API are different
// origins: one server serves the page and the package, another (test mode, credentialed CORS
// for the page's origin) is the API. The API server under another host name (localhost instead
// of 127.0.0.1) is "another origin". Each test starts with a reset server, no cookies and a
// fresh page, and ends by checking that the client never touched browser storage.
//
// The package is pkg, or the directory named by AUTHFETCH_TEST_PKG.
import { afterEach, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { engine, freePort, serverAndBrowser, startAll, startServer } from "./support.mjs";

const root = new URL("../../", import.meta.url).pathname;
const pkg = process.env.AUTHFETCH_TEST_PKG ?? join(root, "pkg");

const fixture = serverAndBrowser(() => startAll({
  site: () => startServer(["--www-dir", join(root, "tests/e2e/fixtures/page"), "--pkg-dir", pkg]),
  api: ({ site }) => startServer(["--test-mode", "--cors-origin", site.url]),
  // An API that allows no other origin: the browser refuses every call of the page to it.
  closed: () => startServer(["--test-mode"]),
}));

const api = () => fixture.server.api;
const API = () => api().url;
/** The same API server under another origin. */
const FOREIGN = () => API().replace("127.0.0.1", "localhost");

let pages = [];

beforeEach(async () => {
  await fixture.browser.context.clearCookies();
  await api().control("/auth/test/reset");
});

afterEach(async () => {
  await Promise.all(pages.map((page) => page.close().catch(() => {})));
  pages = [];
});

/**
 * Runs in the page before the package loads: counts every touch of browser storage, and
 * defines `window.t`, the helpers the tests use in the page.
 */
async function setUpPage({ api, foreign }) {
  const touches = [];
  // What the client writes to the console (with `debug: true`), kept before it loads.
  const logs = [];
  const info = console.info;
  console.info = function (...args) { logs.push(args.map(String).join(" ")); return info.apply(this, args); };
  const wrap = (target, name, label) => {
    const original = target[name];
    target[name] = function (...args) { touches.push(label); return original.apply(this, args); };
  };
  for (const m of ["setItem", "getItem", "removeItem", "clear", "key"]) wrap(Storage.prototype, m, `Storage.${m}`);
  for (const m of ["open", "deleteDatabase"]) wrap(IDBFactory.prototype, m, `indexedDB.${m}`);
  if (globalThis.CacheStorage) for (const m of ["open", "match", "has", "keys", "delete"]) wrap(CacheStorage.prototype, m, `caches.${m}`);
  for (const name of ["localStorage", "sessionStorage", "indexedDB", "caches"]) {
    const owner = [globalThis, Window.prototype].find((o) => Object.getOwnPropertyDescriptor(o, name));
    const descriptor = owner && Object.getOwnPropertyDescriptor(owner, name);
    if (descriptor?.get) {
      Object.defineProperty(owner, name, { configurable: true, get() { touches.push(name); return descriptor.get.call(this); } });
    }
  }
  const cookie = Object.getOwnPropertyDescriptor(Document.prototype, "cookie");
  Object.defineProperty(Document.prototype, "cookie", {
    configurable: true,
    get() { return cookie.get.call(this); },
    set(value) { touches.push("document.cookie="); cookie.set.call(this, value); },
  });

  const { default: init, AuthClient, AuthError } = await import("/pkg/index.js");
  await init();

  /** What the Node side needs to know of a thrown value. */
  const describe = (error) => ({
    isError: error instanceof Error,
    isAuthError: error instanceof AuthError,
    isDomException: error instanceof DOMException,
    brand: error?.[Symbol.for("authfetch.AuthError")] === true,
    name: error?.name,
    code: error?.code,
    message: error?.message,
    cause: error?.cause === undefined ? undefined : { name: error.cause?.name, isError: error.cause instanceof Error },
  });
  window.t = {
    api,
    foreign,
    AuthClient,
    describe,
    /** A client for the test API with `extra` options merged in. */
    client(extra = {}) {
      return new AuthClient({
        apiOrigins: [api],
        refreshUrl: `${api}/auth/refresh`,
        loginUrl: `${api}/auth/login`,
        logoutUrl: `${api}/auth/logout`,
        timeoutMs: 5000,
        ...extra,
      });
    },
    login(auth) {
      return auth.login({ username: "demo", password: "demo" });
    },
    async status(auth, path) {
      return (await auth.fetch(`${api}${path}`)).status;
    },
    /** Fires `count` calls to `path` at once; resolves with their responses. */
    burst(auth, count, path) {
      return Promise.all(Array.from({ length: count }, () => auth.fetch(`${api}${path}`)));
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
    /** Records every state `auth` reports. */
    record(auth) {
      const states = [];
      auth.onChange((state) => states.push(state));
      return states;
    },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    storageTouches: () => touches.join(","),
    logs,
  };
}

/** A fresh page of the site with the package loaded and `window.t` defined. */
async function openPage() {
  const page = await fixture.browser.context.newPage();
  pages.push(page);
  await page.goto(`${fixture.server.site.url}/`);
  await page.evaluate(setUpPage, { api: API(), foreign: FOREIGN() });
  return page;
}

/** Every test ends here: the client never touched browser storage. */
async function finish(page) {
  assert.equal(await page.evaluate(() => t.storageTouches()), "", "browser storage was touched");
}

const control = (path, body) => api().control(path, body);
const stats = () => api().stats();
const journal = () => api().journal();
const requestsTo = async (path) => (await journal()).filter((entry) => entry.path === path);

/** The `code` of an AuthError (as described by `t.describe`), checking it is one. */
function authErrorCode(error, context = "") {
  assert.ok(error, `rejected ${context}`);
  assert.equal(error.isError, true, `an Error ${context}: ${JSON.stringify(error)}`);
  assert.equal(error.name, "AuthError", `${context}: ${JSON.stringify(error)}`);
  assert.equal(error.brand, true, "branded for `instanceof AuthError`");
  assert.equal(error.isAuthError, true, "instanceof the package's AuthError");
  return error.code;
}

// ---- the contract ------------------------------------------------------------------------

test("the bearer token is attached to API calls", async () => {
  const page = await openPage();
  const result = await page.evaluate(async () => {
    const auth = t.client();
    await t.login(auth);
    const authenticated = auth.isAuthenticated;
    return { authenticated, status: await t.status(auth, "/api/me"), origin: location.origin };
  });
  assert.equal(result.authenticated, true);
  assert.equal(result.status, 200);
  const calls = await requestsTo("/api/me");
  assert.equal(calls.length, 1);
  assert.ok(calls[0].authorization?.startsWith("Bearer ey"), String(calls[0].authorization));
  assert.equal(calls[0].origin, result.origin);
  await finish(page);
});

test("a 401 refreshes once and the retry succeeds", async () => {
  const page = await openPage();
  await page.evaluate(async () => {
    window.auth = t.client();
    await t.login(auth);
  });
  await control("/auth/test/rotate-secret");
  assert.equal(await page.evaluate(() => t.status(auth, "/api/me")), 200);
  const counts = await stats();
  assert.deepEqual([counts.refresh_calls, counts.refresh_ok, counts.unauthorized_served], [1, 1, 1]);
  const calls = await requestsTo("/api/me");
  assert.equal(calls.length, 2, "the original and one retry");
  assert.notEqual(calls[0].authorization, calls[1].authorization, "retried with the new token");
  await finish(page);
});

test("fifty concurrent calls with an expired token make one refresh", async () => {
  await control("/auth/test/config", { access_ttl: 1 });
  const page = await openPage();
  const statuses = await page.evaluate(async () => {
    const auth = t.client();
    await t.login(auth);
    await t.sleep(1100);
    return (await t.burst(auth, 50, "/api/ping")).map((r) => r.status);
  });
  assert.deepEqual(statuses, Array(50).fill(200));
  const counts = await stats();
  assert.equal(counts.refresh_calls, 1);
  assert.equal(counts.unauthorized_served, 0, "known expiry: refreshed before sending, no 401 round trip");
  await finish(page);
});

test("fifty concurrent 401s make one refresh", async () => {
  const page = await openPage();
  await page.evaluate(async () => {
    window.auth = t.client();
    await t.login(auth);
  });
  await control("/auth/test/rotate-secret");
  // Each 401 comes 100 ms late, holding its connection: the burst's first 401 comes back while
  // most of it still waits in the browser, whatever the engine's connections per host and the
  // machine's load (fifty fast 401s could all reach the server first).
  await control("/auth/test/config", { refused_delay_ms: 100 });
  const statuses = await page.evaluate(async () => {
    const responses = await t.burst(auth, 50, "/api/ping");
    return responses.map((r) => r.status);
  });
  await control("/auth/test/config", { refused_delay_ms: 0 });
  assert.deepEqual(statuses, Array(50).fill(200));
  const counts = await stats();
  assert.equal(counts.refresh_calls, 1);
  // The first 401 withdraws the GETs still queued with the refused token: they go once, with
  // the new one, instead of each earning a 401 of its own first.
  const pings = await requestsTo("/api/ping");
  const refused = pings.filter((entry) => entry.authorization !== pings.at(-1).authorization).length;
  assert.ok(refused >= 1 && refused < 50, `reached the server with the refused token: ${refused}`);
  assert.ok(counts.unauthorized_served >= 1 && counts.unauthorized_served <= refused, `401s served: ${counts.unauthorized_served}`);
  // Each request reaches the server once with each token at most: all fifty with the new one.
  assert.equal(pings.length - refused, 50, "with the new token");
  assert.equal(counts.api_calls, pings.length);
  await finish(page);
});

test("a POST body is replayed byte for byte", async () => {
  const page = await openPage();
  await page.evaluate(async () => {
    window.auth = t.client();
    await t.login(auth);
  });
  await control("/auth/test/rotate-secret");
  const body = '{ "text": "caf\u00e9 \u{1f600}", "n": [1, 2.50, null] }';
  const response = await page.evaluate(async (body) => {
    const response = await auth.fetch(`${t.api}/api/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    return { status: response.status, text: await response.text() };
  }, body);
  assert.equal(response.status, 200);
  assert.equal(response.text, body);
  const calls = await requestsTo("/api/echo");
  assert.equal(calls.length, 2);
  assert.equal(calls[0].body, body);
  assert.equal(calls[1].body, body);
  assert.equal(calls[1].method, "POST");
  await finish(page);
});

test("requests to other origins never carry the token", async () => {
  const page = await openPage();
  const result = await page.evaluate(async () => {
    const auth = t.client();
    await t.login(auth);
    // The same server under another origin (localhost instead of 127.0.0.1).
    const foreign = (await auth.fetch(`${t.foreign}/api/ping`)).status;
    // A redirect from the API origin to the other origin.
    const target = encodeURIComponent(`${t.foreign}/api/me`);
    const redirected = await t.failure(auth.fetch(`${t.api}/auth/test/redirect?to=${target}`));
    return { foreign, redirected };
  });
  assert.equal(result.foreign, 401, "no bearer, so the server refuses");
  // Chromium and Firefox follow the redirect (the request arrives without the bearer) and then
  // fail the call on CORS, as the redirected request's origin is "null"; WebKit does not follow
  // a cross-origin redirect of a request that needed a preflight (this one carries the bearer),
  // so nothing arrives.
  assert.notEqual(result.redirected, null, `fails as fetch would in ${engine}`);
  const followsRedirect = engine !== "webkit";
  const entries = await journal();
  const foreignHost = new URL(FOREIGN()).host;
  const toForeign = entries.filter((e) => e.host === foreignHost);
  assert.equal(
    toForeign.length,
    followsRedirect ? 2 : 1,
    "the direct call arrived, and the redirected one where the engine follows it",
  );
  for (const entry of toForeign) assert.equal(entry.authorization, null, entry.path);
  const redirect = entries.find((e) => e.path?.startsWith("/auth/test/redirect"));
  assert.ok(redirect, "the redirecting call arrived");
  assert.notEqual(redirect.authorization, null, "the API origin itself did get the token");
  assert.equal((await stats()).refresh_calls, 0, "foreign 401s never trigger a refresh");
  await finish(page);
});

test("paths that the URL parser reads as another host never carry the token", async () => {
  const page = await openPage();
  const foreignHost = new URL(FOREIGN()).host;
  const results = await page.evaluate(async (foreignHost) => {
    // The page's own origin is an API origin here, so plain paths get the token: the spellings
    // below must still be recognised as the other origin's.
    const auth = t.client({ apiOrigins: [t.api, location.origin] });
    await t.login(auth);
    const results = [];
    for (const spelling of ["//", "/\\", "/\t/", "/\n/", "/\r/"]) {
      const url = `${spelling}${foreignHost}/api/ping`;
      results.push({ url, status: (await auth.fetch(url)).status });
    }
    return results;
  }, foreignHost);
  assert.equal(results.length, 5);
  for (const { url, status } of results) assert.equal(status, 401, `${JSON.stringify(url)}: no bearer, so refused`);
  const foreign = (await journal()).filter((e) => e.host === foreignHost);
  assert.equal(foreign.length, 5, "every spelling reached the other origin");
  assert.ok(foreign.every((e) => e.authorization === null));
  await finish(page);
});

test("the caller's referrer policy is kept on the request sent", async () => {
  const page = await openPage();
  const result = await page.evaluate(async () => {
    const auth = t.client();
    await t.login(auth);
    const hidden = (await auth.fetch(`${t.api}/api/ping?hidden`, { referrerPolicy: "no-referrer" })).status;
    const shown = (await auth.fetch(`${t.api}/api/ping?shown`)).status;
    return { hidden, shown, origin: location.origin };
  });
  assert.equal(result.hidden, 200);
  assert.equal(result.shown, 200);
  const entries = await journal();
  const referer = (path) => {
    const entry = entries.find((e) => e.path === path);
    assert.ok(entry, `${path} arrived`);
    return [entry.referer, entry.authorization !== null];
  };
  assert.deepEqual(referer("/api/ping?hidden"), [null, true], "no-referrer kept");
  assert.deepEqual(
    referer("/api/ping?shown"),
    [`${result.origin}/`, true],
    "the default policy sends the page's origin across origins",
  );
  await finish(page);
});

test("a caller's own Authorization header is left alone", async () => {
  const page = await openPage();
  const status = await page.evaluate(async () => {
    const auth = t.client();
    await t.login(auth);
    const response = await auth.fetch(`${t.api}/api/me`, { headers: { Authorization: "Bearer the-callers-own" } });
    return response.status;
  });
  assert.equal(status, 401, "returned as it is");
  const calls = await requestsTo("/api/me");
  assert.equal(calls.length, 1, "no retry");
  assert.equal(calls[0].authorization, "Bearer the-callers-own");
  assert.equal((await stats()).refresh_calls, 0, "no refresh");
  await finish(page);
});

test("a known expiry refreshes before sending", async () => {
  await control("/auth/test/config", { access_ttl: 2 });
  const page = await openPage();
  const result = await page.evaluate(async () => {
    const auth = t.client();
    await t.login(auth);
    const expiresAt = auth.expiresAt;
    const now = Date.now();
    const first = await t.status(auth, "/api/me");
    await t.sleep(1100); // past the leeway (capped at half the lifetime: 1 s)
    const second = await t.status(auth, "/api/me");
    return { expiresAt, now, first, second, expiresAtAfter: auth.expiresAt };
  });
  assert.equal(typeof result.expiresAt, "number");
  assert.ok(Math.abs(result.expiresAt - result.now - 2000) < 1000, `expiresAt is about two seconds away (${result.expiresAt - result.now} ms)`);
  assert.equal(result.first, 200);
  assert.equal(result.second, 200);
  const counts = await stats();
  assert.deepEqual([counts.refresh_calls, counts.unauthorized_served], [1, 0]);
  assert.ok(result.expiresAtAfter > result.expiresAt, "a later expiry after the refresh");
  await finish(page);
});

test("a fresh client with only the cookie refreshes first", async () => {
  const page = await openPage();
  const result = await page.evaluate(async () => {
    await t.login(t.client());
    // A page reload: a new client with no token; the httpOnly cookie is all there is.
    const reloaded = t.client();
    const states = t.record(reloaded);
    const before = reloaded.isAuthenticated;
    const status = await t.status(reloaded, "/api/me");
    return { before, status, after: reloaded.isAuthenticated, states };
  });
  assert.equal(result.before, false);
  assert.equal(result.status, 200);
  assert.equal(result.after, true);
  assert.deepEqual(result.states, ["refreshing", "signed-in"]);
  const counts = await stats();
  assert.deepEqual([counts.refresh_calls, counts.unauthorized_served], [1, 0]);
  await finish(page);
});

test("a fresh client without a session is signed out and public calls work", async () => {
  const page = await openPage();
  await page.evaluate(() => {
    window.auth = t.client();
  });
  await control("/auth/test/revoke-all");
  const result = await page.evaluate(async () => {
    const logout = await t.failure(auth.logout()); // no cookie at all
    const fresh = t.client();
    const states = t.record(fresh);
    const status = await t.status(fresh, "/api/me");
    return { logout, status, states };
  });
  assert.equal(result.logout, null, "logout resolved");
  assert.equal(result.status, 401);
  assert.deepEqual(result.states, ["refreshing", "signed-out"]);
  const calls = await requestsTo("/api/me");
  assert.ok(calls.length > 0, "the call arrived");
  assert.equal(calls.at(-1).authorization, null, "sent without a bearer");
  await finish(page);
});

test("a refused refresh ends the session once and callers get their 401", async () => {
  const page = await openPage();
  await page.evaluate(async () => {
    window.auth = t.client();
    await t.login(auth);
    window.states = t.record(auth);
  });
  await control("/auth/test/rotate-secret");
  await control("/auth/test/revoke-all");
  const result = await page.evaluate(async () => {
    const responses = await t.burst(auth, 3, "/api/me");
    const answers = [];
    for (const response of responses) answers.push({ status: response.status, text: await response.text() });
    return {
      answers,
      states: [...states],
      authenticated: auth.isAuthenticated,
      expiresAt: auth.expiresAt,
      hasExpiresAt: auth.expiresAt !== undefined,
      // Afterwards: sent without a bearer, no further refresh.
      after: await t.status(auth, "/api/me"),
    };
  });
  assert.equal(result.answers.length, 3);
  // One 401 is the API's own answer to the refused token. A GET still on its way with
  // that token was withdrawn before its answer (see "Recall" in the README), so once the
  // session turns out over it goes once more, without a token, and gets the API's 401 for that.
  assert.ok(result.answers.some(({ text }) => text.includes("access token signature invalid")), "the API's own 401 for the refused token");
  for (const { status, text } of result.answers) {
    assert.equal(status, 401);
    assert.ok(/access token signature invalid|missing bearer token/.test(text), `the API's own 401: ${text}`);
  }
  assert.deepEqual(result.states, ["refreshing", "expired"]);
  assert.equal(result.authenticated, false);
  assert.equal(result.hasExpiresAt, false, "expiresAt is undefined");
  assert.equal(result.expiresAt, undefined);
  assert.equal(result.after, 401);
  assert.equal((await stats()).refresh_calls, 1);
  assert.equal((await requestsTo("/api/me")).at(-1).authorization, null);
  const error = await page.evaluate(() => t.failure(auth.refresh()));
  assert.equal(authErrorCode(error, "auth.refresh()"), "session_expired");
  await finish(page);
});

test("refresh failures reject with their code and the client recovers", async () => {
  const cases = [
    [{ kind: "status", status: 500 }, "refresh_failed"],
    [{ kind: "delay", ms: 1500 }, "timeout"],
    [{ kind: "not_json" }, "bad_response"],
    [{ kind: "missing_token" }, "bad_response"],
    [{ kind: "mistyped_token" }, "bad_response"],
  ];
  const page = await openPage();
  await page.evaluate(async () => {
    window.auth = t.client({ timeoutMs: 700 });
    await t.login(auth);
  });
  for (const [fault, code] of cases) {
    const label = JSON.stringify(fault);
    await control("/auth/test/rotate-secret");
    await control("/auth/test/refresh-fault", fault);
    const result = await page.evaluate(async () => {
      const error = await t.failure(auth.fetch(`${t.api}/api/me`));
      const authenticated = auth.isAuthenticated;
      // The fault is used up; the next call refreshes for real.
      const status = await t.status(auth, "/api/me");
      return { error, authenticated, status };
    });
    assert.equal(authErrorCode(result.error, label), code, label);
    assert.equal(result.authenticated, true, `state kept after ${label}`);
    assert.equal(result.status, 200, `recovers after ${label}`);
  }
  assert.equal((await stats()).reuse_detections, 0);
  await finish(page);
});

test("aborting rejects at once while the refresh goes on for the others", async () => {
  const page = await openPage();
  await page.evaluate(async () => {
    window.auth = t.client();
    await t.login(auth);
  });
  await control("/auth/test/rotate-secret");
  await control("/auth/test/refresh-fault", { kind: "slow", ms: 800 });
  const result = await page.evaluate(async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 150);
    const started = Date.now();
    const aborted = t.failure(auth.fetch(`${t.api}/api/me`, { signal: controller.signal }));
    const patient = auth.fetch(`${t.api}/api/me`);
    const error = await aborted;
    const elapsed = Date.now() - started;
    return { error, elapsed, patient: (await patient).status };
  });
  assert.ok(result.error, "the aborted call rejected");
  assert.equal(result.error.name, "AbortError", "the platform's AbortError");
  assert.equal(result.error.isDomException, true, "a DOMException");
  assert.ok(result.elapsed < 700, `rejected while the refresh was still running (${result.elapsed} ms)`);
  assert.equal(result.patient, 200);
  assert.equal((await stats()).refresh_calls, 1);
  await finish(page);
});

test("an API call over the timeout rejects with timeout", async () => {
  const page = await openPage();
  const error = await page.evaluate(async () => {
    const auth = t.client({ timeoutMs: 300 });
    await t.login(auth);
    return t.failure(auth.fetch(`${t.api}/auth/test/slow?ms=2000`));
  });
  assert.equal(authErrorCode(error), "timeout");
  await finish(page);
});

test("a wrong password rejects with login_failed", async () => {
  const page = await openPage();
  const result = await page.evaluate(async () => {
    const auth = t.client();
    const error = await t.failure(auth.login({ username: "demo", password: "nope" }));
    return { error, authenticated: auth.isAuthenticated };
  });
  assert.equal(authErrorCode(result.error), "login_failed");
  assert.equal(result.authenticated, false);
  await finish(page);
});

test("invalid options throw invalid_config naming the option", async () => {
  const page = await openPage();
  const error = await page.evaluate(() => {
    try {
      new t.AuthClient({ apiOrigins: ["https://api.example/v1"] });
    } catch (error) {
      return t.describe(error);
    }
    return null;
  });
  assert.equal(authErrorCode(error, "new AuthClient"), "invalid_config");
  assert.ok(error.message.startsWith("apiOrigins:"), error.message);
  await finish(page);
});

test("GET refresh with another token field", async () => {
  const page = await openPage();
  await page.evaluate(async () => {
    window.auth = t.client({
      refreshUrl: `${t.api}/auth/test/refresh-get`,
      refreshMethod: "GET",
      tokenField: "token",
      loginTokenField: "access_token",
    });
    await t.login(auth);
  });
  await control("/auth/test/rotate-secret");
  assert.equal(await page.evaluate(() => t.status(auth, "/api/me")), 200);
  const refreshes = await requestsTo("/auth/test/refresh-get");
  assert.equal(refreshes.length, 1);
  assert.equal(refreshes[0].method, "GET");
  await finish(page);
});

test("CSRF double submit is sent on refresh and logout", async () => {
  await control("/auth/test/config", { csrf: true });
  const page = await openPage();
  await page.evaluate(async () => {
    window.auth = t.client({
      csrf: { cookie: "csrf_refresh_token", header: "X-CSRF-TOKEN" },
      refreshHeaders: { "X-Requested-With": "authfetch" },
    });
    await t.login(auth);
  });
  await control("/auth/test/rotate-secret");
  assert.equal(await page.evaluate(() => t.status(auth, "/api/me")), 200, "the refresh passed the CSRF check");
  const refresh = await requestsTo("/auth/refresh");
  assert.equal(refresh.length, 1);
  assert.equal(refresh[0].csrf_header?.length, 43, `a CSRF header: ${refresh[0].csrf_header}`);
  assert.equal(await page.evaluate(() => t.failure(auth.logout())), null, "logout resolved");
  const logouts = await requestsTo("/auth/logout");
  assert.ok(logouts.length > 0, "the logout arrived");
  assert.notEqual(logouts[0].csrf_header, null);

  // Without the option the server refuses the refresh (403): the session is over.
  await page.evaluate(async () => {
    window.careless = t.client();
    await t.login(careless);
  });
  await control("/auth/test/rotate-secret");
  assert.equal(await page.evaluate(() => t.status(careless, "/api/me")), 401);
  assert.equal(await page.evaluate(() => careless.isAuthenticated), false);
  await finish(page);
});

test("logout forgets the token and ends the session on the server", async () => {
  const page = await openPage();
  const result = await page.evaluate(async () => {
    const auth = t.client();
    await t.login(auth);
    const states = t.record(auth);
    const logout = await t.failure(auth.logout());
    const authenticated = auth.isAuthenticated;
    const recorded = [...states];
    const status = await t.status(auth, "/api/me");
    return { logout, authenticated, states: recorded, status };
  });
  assert.equal(result.logout, null, "logout resolved");
  assert.equal(result.authenticated, false);
  assert.deepEqual(result.states, ["signed-out"]);
  assert.equal((await stats()).logout_calls, 1);
  assert.equal(result.status, 401);
  assert.equal((await requestsTo("/api/me")).at(-1).authorization, null);
  // The session is really gone: a reloaded page finds none.
  assert.equal(await page.evaluate(() => t.status(t.client(), "/api/me")), 401);
  await finish(page);
});

test("freeing the client rejects waiting calls with aborted", async () => {
  const page = await openPage();
  await page.evaluate(async () => {
    window.auth = t.client();
    await t.login(auth);
  });
  await control("/auth/test/rotate-secret");
  await control("/auth/test/refresh-fault", { kind: "slow", ms: 500 });
  const error = await page.evaluate(async () => {
    // The promise runs from the moment fetch() is called.
    const waiting = t.failure(auth.fetch(`${t.api}/api/me`));
    await t.sleep(100); // the call got its 401 and waits for the slow refresh
    auth.free();
    const error = await waiting;
    // Let the slow refresh land before the next test resets the server's counters.
    await t.sleep(600);
    return error;
  });
  assert.equal(authErrorCode(error), "aborted");
  await finish(page);
});

test("a client freed while a call of it reads the app's values or tells its listeners: the call settles", async () => {
  const page = await openPage();
  const results = await page.evaluate(async () => {
    const settle = (promise) => Promise.race([t.failure(promise), t.sleep(2000).then(() => "still waiting")]);
    // logout(): a listener that hears "signed-out" frees the client before the call goes out.
    const first = t.client();
    await t.login(first);
    first.onChange((state) => state === "signed-out" && first.free());
    const logout = await settle(first.logout());
    // fetch(): a getter of the app's init frees the client while the request is being made.
    const second = t.client();
    await t.login(second);
    const fetched = await settle(second.fetch(`${t.api}/api/me`, { get headers() { second.free(); return {}; } }));
    // login(): a getter of the credentials frees it while they are written.
    const third = t.client();
    const login = await settle(third.login({ username: "demo", get password() { third.free(); return "demo"; } }));
    return [logout, fetched, login];
  });
  assert.deepEqual(results.map(authErrorCode), ["aborted", "aborted", "aborted"]);
  await finish(page);
});

test("a throwing listener does not stop the others", async () => {
  const page = await openPage();
  const states = await page.evaluate(async () => {
    const auth = t.client();
    auth.onChange(() => {
      throw new Error("listener bug");
    });
    const states = t.record(auth);
    await t.login(auth);
    return states;
  });
  assert.deepEqual(states, ["signed-in"]);
  await finish(page);
});

test("a listener that changes the state again: every listener hears the changes in order", async () => {
  const page = await openPage();
  const heard = await page.evaluate(async () => {
    const auth = t.client();
    const first = [];
    auth.onChange((state) => {
      first.push(state);
      if (state === "signed-in") auth.logout();
    });
    const second = t.record(auth);
    await t.login(auth);
    await t.sleep(200);
    return { first, second, state: auth.state };
  });
  assert.deepEqual(heard, { first: ["signed-in", "signed-out"], second: ["signed-in", "signed-out"], state: "signed-out" });
  await finish(page);
});

// ---- the surface additions -----------------------------------------------------------------

test("restore() answers whether a session exists, refreshing only while that is unknown", async () => {
  const page = await openPage();
  const result = await page.evaluate(async () => {
    await t.login(t.client());
    // A reload: only the cookie is left. Two restore() calls at once share one refresh.
    const reloaded = t.client();
    const before = reloaded.state;
    const [first, second] = await Promise.all([reloaded.restore(), reloaded.restore()]);
    const known = await reloaded.restore(); // signed in: answered without a refresh
    const after = reloaded.state;
    await reloaded.logout();
    const signedOut = await reloaded.restore(); // the session is over: no refresh either
    // A page that never had a session: false, not a rejection.
    await fetch(`${t.api}/auth/logout`, { method: "POST", credentials: "include" });
    const stranger = t.client();
    const none = await stranger.restore();
    return { before, first, second, known, after, signedOut, none, strangerState: stranger.state };
  });
  assert.deepEqual(result, {
    before: "unknown", first: true, second: true, known: true, after: "signed-in",
    signedOut: false, none: false, strangerState: "signed-out",
  });
  const counts = await stats();
  assert.equal(counts.refresh_calls, 2, "one for the reloaded client's two restores, one for the stranger's");
  await finish(page);
});

test("restore() rejects for a server fault, never for a missing session", async () => {
  const page = await openPage();
  await control("/auth/test/refresh-fault", { kind: "status", status: 503 });
  const result = await page.evaluate(async () => {
    const auth = t.client();
    const fault = await t.failure(auth.restore());
    const state = auth.state;
    return { fault: fault && fault.code, state, retried: await auth.restore() };
  });
  assert.deepEqual(result, { fault: "refresh_failed", state: "unknown", retried: false });
  await finish(page);
});

test("every method works unbound, as window.fetch does", async () => {
  const page = await openPage();
  const result = await page.evaluate(async () => {
    const auth = t.client();
    const { fetch, login, refresh, restore, logout, onChange } = auth;
    const states = [];
    const off = onChange((state) => states.push(state));
    await login({ username: "demo", password: "demo" });
    const status = (await fetch(`${t.api}/api/me`)).status;
    await refresh();
    const restored = await restore();
    off();
    await logout();
    return { status, restored, states };
  });
  assert.deepEqual(result, { status: 200, restored: true, states: ["signed-in", "refreshing", "signed-in"] });
  const me = await requestsTo("/api/me");
  assert.ok(me[0].authorization?.startsWith("Bearer "), "the unbound fetch attached the token");
  await finish(page);
});

test("a client made right after the import works without init(); init() resolves with nothing", async () => {
  const page = await fixture.browser.context.newPage();
  pages.push(page);
  await page.goto(`${fixture.server.site.url}/`);
  const result = await page.evaluate(async (api) => {
    // A session from an earlier visit: only its cookie.
    await fetch(`${api}/auth/login`, {
      method: "POST", credentials: "include",
      headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "demo", password: "demo" }),
    });
    const module = await import("/pkg/index.js?fresh");
    // No init(): the core started while the module evaluated.
    const auth = new module.AuthClient({ apiOrigins: [api], refreshUrl: `${api}/auth/refresh` });
    const early = auth.state;
    const status = (await auth.fetch(`${api}/api/me`)).status;
    return { early, status, state: auth.state, init: String(await module.default()) };
  }, API());
  assert.deepEqual(result, { early: "unknown", status: 200, state: "signed-in", init: "undefined" });
});

// ---- errors that explain, and the debug log ------------------------------------------------

test("errors name the call that failed and its URL without query, the likely CORS cause, and carry the platform's error", async () => {
  const closed = fixture.server.closed.url;
  const nowhere = `http://127.0.0.1:${await freePort()}`;
  const page = await openPage();
  const result = await page.evaluate(async ({ closed, nowhere }) => {
    const out = {};
    // An API origin whose server allows no other origin: the browser refuses the call.
    let auth = t.client({ apiOrigins: [t.api, closed] });
    await t.login(auth);
    out.cors = await t.failure(auth.fetch(`${closed}/api/me?q=private#part`));
    // The refresh endpoint unreachable: every waiting call gets its error, and its cause.
    auth = t.client({ refreshUrl: `${nowhere}/auth/refresh?q=private` });
    out.refresh = await t.failure(auth.fetch(`${t.api}/api/me`));
    // A login URL that names nothing.
    auth = t.client({ loginUrl: `${t.api}/auth/nope` });
    out.login = await t.failure(t.login(auth));
    // An API call over the timeout.
    auth = t.client({ timeoutMs: 300 });
    await t.login(auth);
    out.timeout = await t.failure(auth.fetch(`${t.api}/auth/test/slow?ms=2000`));
    return out;
  }, { closed, nowhere });

  assert.equal(authErrorCode(result.cors), "network");
  assert.ok(result.cors.message.startsWith(`the API could not be reached (GET ${closed}/api/me)`), result.cors.message);
  assert.match(result.cors.message, /another origin than this page/);
  assert.match(result.cors.message, /Authorization/);
  assert.doesNotMatch(result.cors.message, /private|part/);
  assert.deepEqual(result.cors.cause, { name: "TypeError", isError: true });

  assert.equal(authErrorCode(result.refresh), "network");
  assert.ok(result.refresh.message.startsWith(`the refresh endpoint could not be reached (POST ${nowhere}/auth/refresh)`), result.refresh.message);
  assert.match(result.refresh.message, /Access-Control-Allow-Credentials: true/);
  assert.doesNotMatch(result.refresh.message, /private/);
  assert.deepEqual(result.refresh.cause, { name: "TypeError", isError: true }, "the refresh's own failure");

  assert.equal(authErrorCode(result.login), "login_failed");
  assert.equal(result.login.message,
    `the login endpoint answered 404, not a refusal of the credentials: loginUrl is probably wrong (POST ${API()}/auth/nope)`);

  assert.equal(authErrorCode(result.timeout), "timeout");
  assert.equal(result.timeout.message, `the API did not answer within 300 ms (GET ${API()}/auth/test/slow)`);
  // What fetch rejected with: the timeout's reason (Chromium, Firefox), or an AbortError (WebKit).
  assert.ok(["TimeoutError", "AbortError"].includes(result.timeout.cause?.name), JSON.stringify(result.timeout.cause));
  await finish(page);
});

test("debug: true logs each decision to the console, never the token; without it nothing is logged", async () => {
  const page = await openPage();
  const quiet = await page.evaluate(async () => {
    const auth = t.client();
    await t.login(auth);
    await t.status(auth, "/api/me");
    await auth.logout();
    auth.free();
    return t.logs.length;
  });
  assert.equal(quiet, 0, "nothing is logged without debug");
  await page.evaluate(async () => {
    window.auth = t.client({ debug: true });
    await t.login(auth);
    await t.status(auth, "/api/me");
  });
  // The token is refused from now on: a 401, a refresh and the retry.
  await control("/auth/test/rotate-secret");
  const lines = await page.evaluate(async () => {
    await t.status(auth, "/api/me");
    await auth.fetch(`${t.foreign}/api/ping?q=private`);
    await auth.fetch("data:text/plain,a-payload-not-to-print");
    await auth.logout();
    return t.logs;
  });
  const text = lines.join("\n");
  const me = `GET ${API()}/api/me`;
  for (const expected of [
    `POST ${API()}/auth/login: done`,
    "state: signed-in",
    `${me}: sent with the token`,
    `${me}: its response (200) goes to the caller`,
    `${me}: answered 401`,
    "a refresh is needed: waiting for the cross-tab lock",
    `POST ${API()}/auth/refresh: refreshing, with the cookie`,
    "the refresh endpoint answered 200",
    `${me}: sent again with the token`,
    `GET ${FOREIGN()}/api/ping: passed to fetch untouched (its origin is not in apiOrigins)`,
    "GET data:: passed to fetch untouched (its origin is not in apiOrigins)",
    "told the other tabs: signed-out",
    "state: signed-out",
  ]) assert.ok(lines.includes(`authfetch: ${expected}`), `"${expected}" in:\n${text}`);
  const tokens = [...new Set((await journal()).map((entry) => entry.authorization)
    .filter((value) => value?.startsWith("Bearer ")).map((value) => value.slice(7)))];
  assert.ok(tokens.length >= 2, `the login token and the refreshed one were used (${tokens.length})`);
  for (const token of tokens) assert.ok(!text.includes(token), "a token is in the log");
  assert.doesNotMatch(text, /private|a-payload/, "no query, and no URL's content");
  await finish(page);
});

test("debug: a caller's abort from a listener, between a refresh and the sends it decided, leaves the other calls going", async () => {
  const page = await openPage();
  await page.evaluate(async () => {
    const first = t.client();
    await t.login(first);
    first.free();
  });
  const result = await page.evaluate(async () => {
    // A fresh client with the cookie only: both calls wait for its refresh. The refresh's
    // "signed-in" comes before the sends it decided; the listener aborts the first call then.
    const auth = t.client({ debug: true });
    const controller = new AbortController();
    auth.onChange((state) => { if (state === "signed-in") controller.abort(); });
    const aborted = t.failure(auth.fetch(`${t.api}/api/me`, { signal: controller.signal }));
    const other = auth.fetch(`${t.api}/api/me`).then((response) => response.status);
    const hung = new Promise((resolve) => setTimeout(() => resolve("hung"), 3000));
    return { aborted: (await aborted)?.name, other: await Promise.race([other, hung]) };
  });
  assert.deepEqual(result, { aborted: "AbortError", other: 200 });
  await finish(page);
});
