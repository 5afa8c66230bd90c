// authfetch against flask-jwt-extended (tests/interop/flask_app.py), in Debian's Chromium:
// sign-in, API calls, silent refresh through the CSRF double-submit, a burst after expiry,
// the revoked-token 401 after a stolen refresh token was used, and sign-out.
// The venv comes from scripts/setup.sh (ensure_interop_venv), as ./scripts/test runs it.
import { beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { cookiesFor, openPage, serverAndBrowser, startProcess } from "./support.mjs";

const root = new URL("../../", import.meta.url).pathname;
const python = join(root, "target/interop-venv/bin/python");

// The options a flask-jwt-extended server needs (README, "Use with your server").
const OPTIONS = { csrf: { cookie: "csrf_refresh_token", header: "X-CSRF-TOKEN" } };

const fixture = serverAndBrowser(() => startProcess("flask", python, [
  join(root, "tests/interop/flask_app.py"), "0", join(root, "pkg"), join(root, "tests/interop"),
]));
let page;
let problems;

beforeEach(async () => {
  await page?.close();
  await fixture.browser.context.clearCookies();
  ({ page, problems } = await openPage(fixture.browser, `${fixture.server.url}/`));
});

const stats = async () => (await fetch(`${fixture.server.url}/test/stats`)).json();

/** Signs in on the page as `window.auth`, recording its states in `window.states`. */
async function signIn() {
  await page.evaluate(async (options) => {
    window.auth = new AuthClient(options);
    window.states = [];
    window.auth.onChange((state) => window.states.push(state));
    await window.auth.login({ username: "demo", password: "demo" });
  }, OPTIONS);
}

/** Waits until the page's access token has expired by the page's own clock. */
async function waitForExpiry() {
  const expiresAt = await page.evaluate(() => window.auth.expiresAt);
  assert.ok(expiresAt > Date.now(), "the login answer gave an expiry");
  await page.waitForFunction((at) => Date.now() > at + 100, expiresAt, { timeout: 10_000 });
}

/** The session cookies as the browser holds them (httpOnly included), for a thief to replay. */
async function sessionCookies() {
  const cookies = await cookiesFor(fixture.browser.context, `${fixture.server.url}/`);
  const value = (name) => cookies.find((c) => c.name === name)?.value;
  return { refresh: value("refresh_token_cookie"), csrf: value("csrf_refresh_token") };
}

/** POSTs /auth/refresh from outside the browser with `cookies`, as a thief would. */
function replay({ refresh, csrf }) {
  return fetch(`${fixture.server.url}/auth/refresh`, {
    method: "POST",
    headers: { cookie: `refresh_token_cookie=${refresh}; csrf_refresh_token=${csrf}`, "x-csrf-token": csrf },
  });
}

test("signs in, calls the API, and after expiry a burst of 20 makes one refresh with the CSRF header", async () => {
  await signIn();
  const me = await page.evaluate(async () => (await window.auth.fetch("/api/me")).json());
  assert.deepEqual(me, { user: "demo" });
  const cookies = await sessionCookies();
  assert.ok(cookies.refresh && cookies.csrf, "flask-jwt-extended set both refresh cookies");

  await waitForExpiry();
  const before = await stats();
  const statuses = await page.evaluate(() =>
    Promise.all(Array.from({ length: 20 }, () => window.auth.fetch("/api/me").then((r) => r.status))));
  const afterBurst = await stats();
  assert.deepEqual(statuses, Array(20).fill(200));
  assert.equal(afterBurst.refresh_calls - before.refresh_calls, 1, "one refresh for the burst");
  // flask-jwt-extended refuses a refresh without the CSRF header, so this success shows it
  // was read from the readable cookie and sent.
  assert.equal(afterBurst.refresh_ok - before.refresh_ok, 1);
  assert.equal(afterBurst.api_calls - before.api_calls, 20);
  assert.notEqual((await sessionCookies()).refresh, cookies.refresh, "the refresh token rotated");

  // Rotation: the spent refresh token is refused from now on.
  assert.equal((await replay(cookies)).status, 401);
  assert.deepEqual(problems, []);
});

test("a refresh token used by a thief is revoked for the tab too: the tab signs out cleanly", async () => {
  await signIn();
  const thief = await replay(await sessionCookies());
  assert.equal(thief.status, 200, "the thief's refresh worked, revoking the tab's refresh token");

  await waitForExpiry();
  const before = await stats();
  const result = await page.evaluate(async () => {
    const statuses = await Promise.all([1, 2, 3].map(() => window.auth.fetch("/api/me").then((r) => r.status)));
    return { statuses, authenticated: window.auth.isAuthenticated, states: window.states };
  });
  const afterCalls = await stats();
  assert.equal(afterCalls.revoked_presented - before.revoked_presented, 1, "one refresh presented the revoked token");
  assert.equal(afterCalls.refresh_calls - before.refresh_calls, 1, "and nothing retried it");
  assert.deepEqual(result.statuses, [401, 401, 401], "callers get the API's own 401");
  assert.equal(result.authenticated, false);
  assert.equal(result.states.at(-1), "expired");
  assert.deepEqual(problems, []);
});

test("sign-out ends the session on the server and clears the refresh cookie", async () => {
  await signIn();
  const cookies = await sessionCookies();
  const result = await page.evaluate(async () => {
    await window.auth.logout();
    const call = await window.auth.fetch("/api/me");
    return { authenticated: window.auth.isAuthenticated, states: window.states, status: call.status };
  });
  assert.equal(result.authenticated, false);
  assert.equal(result.states.at(-1), "signed-out");
  assert.equal(result.status, 401, "no token is sent after sign-out");
  assert.equal((await sessionCookies()).refresh, undefined, "flask-jwt-extended unset the cookie");
  const replayed = await replay(cookies);
  assert.equal(replayed.status, 401, "the signed-out refresh token is revoked");
  assert.equal((await replayed.json()).msg, "Token has been revoked");
  assert.deepEqual(problems, []);
});
