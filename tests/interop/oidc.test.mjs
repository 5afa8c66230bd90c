// authfetch against oidc-provider behind a token-mediating backend (tests/interop/oidc_bff.mjs),
// in Debian's Chromium: sign-in through the provider's own login and consent forms, the first
// token from the session cookie, API calls with the provider's JWTs, silent refresh after
// expiry with the provider rotating its refresh token, a burst of 20 after expiry, the
// provider's reuse revocation after a thief redeemed the refresh token, and sign-out.
import { beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openPage, serverAndBrowser, startProcess } from "./support.mjs";

const root = new URL("../../", import.meta.url).pathname;

const fixture = serverAndBrowser(() => startProcess("oidc", process.execPath, [
  join(root, "tests/interop/oidc_bff.mjs"), join(root, "pkg"), join(root, "tests/interop"),
]));
let page;
let problems;

beforeEach(async () => {
  await page?.close();
  await fixture.browser.context.clearCookies();
  page = undefined;
});

const stats = async () => (await fetch(`${fixture.server.url}/test/stats`)).json();

/** Signs in through the provider's forms, then holds a client as `window.auth`. */
async function signIn() {
  const opened = await fixture.browser.context.newPage();
  await opened.goto(`${fixture.server.url}/auth/login`);
  await opened.fill("input[name=login]", "alice");
  await opened.fill("input[name=password]", "any password");
  await opened.click("button[type=submit]");
  await opened.click("button[type=submit]"); // the consent form
  await opened.waitForURL(`${fixture.server.url}/`);
  await opened.close();
  ({ page, problems } = await openPage(fixture.browser, `${fixture.server.url}/`));
  return page.evaluate(async () => {
    // A tab that starts with only the session cookie: the first call refreshes first.
    window.auth = new AuthClient();
    window.states = [];
    window.auth.onChange((state) => window.states.push(state));
    const response = await window.auth.fetch("/api/me");
    return { status: response.status, body: await response.json(), expiresAt: window.auth.expiresAt };
  });
}

async function waitForExpiry() {
  const expiresAt = await page.evaluate(() => window.auth.expiresAt);
  await page.waitForFunction((at) => Date.now() > at + 100, expiresAt, { timeout: 15_000 });
}

const introspect = async (token) =>
  (await (await fetch(`${fixture.server.url}/test/introspect`, { method: "POST", body: JSON.stringify({ token }) })).json()).active;

/** The refresh token the backend holds for the page's session (a test-only route). */
const sessionRefreshToken = () => page.evaluate(async () => (await (await fetch("/test/session")).json()).refresh_token);

test("signs in at the provider, calls the API, and after expiry a burst of 20 makes one refresh", async () => {
  const before = await stats();
  const first = await signIn();
  assert.equal(first.status, 200);
  assert.equal(first.body.sub, "alice", "the provider's JWT, verified against its keys");
  assert.ok(first.expiresAt > Date.now(), "expires_in from the provider");
  const rotatedFrom = await sessionRefreshToken();

  await waitForExpiry();
  const mid = await stats();
  const statuses = await page.evaluate(() =>
    Promise.all(Array.from({ length: 20 }, () => window.auth.fetch("/api/me").then((r) => r.status))));
  const end = await stats();
  assert.equal(mid.refresh_ok - before.refresh_ok, 1, "the first call fetched the first token");
  assert.deepEqual(statuses, Array(20).fill(200));
  assert.equal(end.refresh_calls - mid.refresh_calls, 1, "one refresh for the burst");
  assert.equal(end.refresh_ok - mid.refresh_ok, 1);
  assert.equal(await introspect(rotatedFrom), false, "the provider rotated the refresh token");
  assert.equal(await introspect(await sessionRefreshToken()), true);
  assert.deepEqual(problems, []);
});

test("after a thief redeemed the refresh token, the provider revokes the grant and the tab signs out", async () => {
  await signIn();
  const thief = await page.evaluate(async () => (await fetch("/test/steal", { method: "POST" })).json());
  assert.equal(thief.thief_status, 200, "the thief's refresh worked first");
  assert.equal(await introspect(thief.thief_refresh_token), true);

  await waitForExpiry();
  const before = await stats();
  const result = await page.evaluate(async () => {
    const statuses = await Promise.all([1, 2, 3].map(() => window.auth.fetch("/api/me").then((r) => r.status)));
    return { statuses, authenticated: window.auth.isAuthenticated, states: window.states };
  });
  const end = await stats();
  assert.equal(end.refresh_calls - before.refresh_calls, 1, "one refresh presented the spent token");
  assert.equal(end.refresh_refused - before.refresh_refused, 1);
  assert.deepEqual(result.statuses, [401, 401, 401], "callers get the API's own 401");
  assert.equal(result.authenticated, false);
  assert.equal(result.states.at(-1), "expired");
  assert.equal(await introspect(thief.thief_refresh_token), false, "the reuse revoked the thief's token too");
  assert.deepEqual(problems, []);
});

test("sign-out revokes the refresh token at the provider", async () => {
  await signIn();
  const token = await sessionRefreshToken();
  assert.equal(await introspect(token), true);
  const result = await page.evaluate(async () => {
    await window.auth.logout();
    const refresh = await window.auth.refresh().then(() => "resolved", (error) => error.code);
    return { authenticated: window.auth.isAuthenticated, states: window.states, refresh };
  });
  assert.equal(result.authenticated, false);
  assert.equal(result.states.at(-1), "signed-out");
  assert.equal(await introspect(token), false, "revoked at the provider");
  assert.equal(result.refresh, "session_expired", "the cleared cookie starts no session");
  assert.deepEqual(problems, []);
});
