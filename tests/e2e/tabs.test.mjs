// Across tabs: several pages of one browser context (one cookie jar), each with its own
// AuthClient, against the reference server with refresh-token rotation and reuse detection.
import { afterEach, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { serverAndBrowser, startServer } from "./support.mjs";

const root = new URL("../../", import.meta.url).pathname;
const fixture = serverAndBrowser(() => startServer([
  "--test-mode",
  "--www-dir", join(root, "tests/e2e/fixtures/page"),
  "--pkg-dir", join(root, "pkg"),
]));
let pages = [];

beforeEach(async () => {
  await fixture.browser.context.clearCookies();
  await fixture.server.control("/auth/test/reset");
});

afterEach(async () => {
  await Promise.all(pages.map((page) => page.close().catch(() => {})));
  pages = [];
});

async function journal(path) {
  return (await fixture.server.journal()).filter((entry) => entry.path === path);
}

/** A new tab with a client (`window.auth`) and the states it reported (`window.states`). */
async function openTab(options = {}, { beforeLoad } = {}) {
  const page = await fixture.browser.context.newPage();
  pages.push(page);
  page.messages = [];
  page.on("console", (message) => page.messages.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => page.messages.push(`pageerror: ${error}`));
  if (beforeLoad) await page.addInitScript(beforeLoad);
  await page.goto(`${fixture.server.url}/`);
  await page.evaluate(async (options) => {
    const { default: init, AuthClient } = await import("/pkg/index.js");
    await init();
    window.AuthClient = AuthClient;
    window.states = [];
    window.auth = new AuthClient(options);
    window.auth.onChange((state) => window.states.push(state));
  }, options);
  return page;
}

const login = (page) => page.evaluate(() => auth.login({ username: "demo", password: "demo" }));
const status = (page, path = "/api/me") => page.evaluate((p) => auth.fetch(p).then((r) => r.status), path);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every tab fires `perTab` calls at the same wall-clock instant; returns their statuses. */
function fireTogether(tabs, perTab) {
  const at = Date.now() + 250;
  return Promise.all(
    tabs.map((page) =>
      page.evaluate(
        ({ at, perTab }) =>
          new Promise((resolve) => setTimeout(resolve, at - Date.now())).then(() =>
            Promise.all(Array.from({ length: perTab }, () => auth.fetch("/api/ping").then((r) => r.status, (e) => e.code))),
          ),
        { at, perTab },
      ),
    ),
  );
}

test("five tabs whose tokens expired together, twenty rounds: no reuse detection, every call succeeds", async () => {
  await fixture.server.control("/auth/test/config", { access_ttl: 1 });
  const tabs = [];
  for (let i = 0; i < 5; i++) tabs.push(await openTab());
  await login(tabs[0]);
  for (const tab of tabs) assert.equal(await status(tab), 200);
  for (let round = 1; round <= 20; round++) {
    await sleep(1100); // every tab's token is now due
    const statuses = await fireTogether(tabs, 3);
    assert.deepEqual(statuses.flat(), Array(15).fill(200), `round ${round}`);
  }
  const counts = await fixture.server.stats();
  assert.equal(counts.reuse_detections, 0, "no tab ever presented a used refresh token");
  assert.equal(counts.refresh_ok, counts.refresh_calls, "every refresh succeeded");
  assert.ok(counts.refresh_calls >= 100, `each tab refreshed in each round (${counts.refresh_calls})`);
});

test("control: without the cross-tab lock the same race trips reuse detection", async () => {
  await fixture.server.control("/auth/test/config", { access_ttl: 1 });
  const tabs = [];
  for (let i = 0; i < 5; i++) tabs.push(await openTab({ crossTab: false }));
  await login(tabs[0]);
  for (const tab of tabs) assert.equal(await status(tab), 200);
  for (let round = 1; round <= 3 && (await fixture.server.stats()).reuse_detections === 0; round++) {
    await sleep(1100);
    await fireTogether(tabs, 1);
  }
  assert.ok((await fixture.server.stats()).reuse_detections > 0, "the race is real, so the test above can fail");
});

test("signing out in one tab signs out the others within a second", async () => {
  const [a, b] = [await openTab(), await openTab()];
  await login(a);
  assert.equal(await status(b), 200, "b picked up the session with its own refresh");
  await a.evaluate(() => auth.logout());
  await b.waitForFunction(() => states.at(-1) === "signed-out", null, { timeout: 1000 });
  assert.equal(await b.evaluate(() => auth.isAuthenticated), false);
  assert.equal(await status(b), 401);
  const calls = await journal("/api/me");
  assert.equal(calls.at(-1).authorization, null, "b's next call carries no bearer");
});

test("an expired session in one tab signs out the others", async () => {
  const [a, b] = [await openTab(), await openTab()];
  await login(a);
  assert.equal(await status(b), 200);
  await fixture.server.control("/auth/test/rotate-secret");
  await fixture.server.control("/auth/test/revoke-all");
  assert.equal(await status(a), 401);
  assert.deepEqual(await a.evaluate(() => states.slice(-2)), ["refreshing", "expired"]);
  await b.waitForFunction(() => states.at(-1) === "signed-out", null, { timeout: 1000 });
});

test("signing in in one tab lets the others refresh lazily on their next call", async () => {
  const [a, b] = [await openTab(), await openTab()];
  assert.equal(await status(b), 401, "no session yet");
  assert.equal(await b.evaluate(() => states.at(-1)), "signed-out");
  await login(a);
  await sleep(200); // the message crosses
  assert.equal(await b.evaluate(() => auth.isAuthenticated), false, "no token was sent over");
  assert.equal(await status(b), 200);
  assert.equal(await b.evaluate(() => states.at(-1)), "signed-in");
});

test("a lock held by a tab that is closed is released; a lock wait never exceeds timeoutMs", async () => {
  const lockName = `authfetch:refresh:${fixture.server.url}/auth/refresh`;
  const [holder, waiter] = [await openTab(), await openTab()];
  await login(waiter);
  await fixture.server.control("/auth/test/rotate-secret"); // waiter's next call gets a 401 and must refresh
  await holder.evaluate((name) => {
    navigator.locks.request(name, () => new Promise(() => {})); // held until the tab dies
  }, lockName);
  // A second client in the waiter's tab with a short timeout gives up on the lock in time.
  const quick = await waiter.evaluate(() =>
    new AuthClient({ timeoutMs: 400 }).refresh().then(() => "refreshed", (e) => `${e.name} ${e.code}`),
  );
  assert.equal(quick, "AuthError timeout");
  let settled = false;
  const pending = status(waiter).then((s) => { settled = true; return s; });
  await sleep(400);
  assert.equal(settled, false, "waiting for the lock");
  await holder.close();
  assert.equal(await pending, 200, "the browser released the closed tab's lock");
  assert.equal((await fixture.server.stats()).reuse_detections, 0);
});

test("without Web Locks: single flight within the tab, said once on the console", async () => {
  const hideLocks = () => Object.defineProperty(Navigator.prototype, "locks", { get: () => undefined, configurable: true });
  const tab = await openTab({}, { beforeLoad: hideLocks });
  await tab.evaluate(() => new AuthClient()); // a second client: still said only once
  await login(tab);
  await fixture.server.control("/auth/test/reset");
  await fixture.server.control("/auth/test/rotate-secret");
  const statuses = await tab.evaluate(() => Promise.all(Array.from({ length: 10 }, () => auth.fetch("/api/ping").then((r) => r.status))));
  assert.deepEqual(statuses, Array(10).fill(200));
  assert.equal((await fixture.server.stats()).refresh_calls, 1);
  const notes = tab.messages.filter((m) => m.includes("Web Locks API is not available"));
  assert.deepEqual(notes, ["info: authfetch: the Web Locks API is not available, so refresh is single-flight within each tab only"]);
});

test("crossTab: false keeps tabs independent", async () => {
  const [a, b] = [await openTab({ crossTab: false }), await openTab({ crossTab: false })];
  await login(a);
  assert.equal(await status(b), 200);
  await a.evaluate(() => auth.logout());
  await sleep(500);
  assert.equal(await b.evaluate(() => states.at(-1)), "signed-in", "b heard nothing");
  assert.equal(await b.evaluate(() => auth.isAuthenticated), true);
});

test("a listener that awaits auth.fetch while a refresh runs does not deadlock it", async () => {
  const tab = await openTab();
  await login(tab);
  await fixture.server.control("/auth/test/rotate-secret");
  const result = await tab.evaluate(async () => {
    let fromListener;
    const off = auth.onChange((state) => {
      if (state === "refreshing") fromListener = auth.fetch("/api/items").then((r) => r.status);
    });
    const direct = await auth.fetch("/api/me").then((r) => r.status);
    off();
    return { direct, fromListener: await fromListener };
  });
  assert.deepEqual(result, { direct: 200, fromListener: 200 });
  assert.equal((await fixture.server.stats()).refresh_calls, 1);
});

test("coming back online with a token that expired meanwhile refreshes once, before any call", async () => {
  await fixture.server.control("/auth/test/config", { access_ttl: 1 });
  const tab = await openTab();
  await login(tab);
  await sleep(700); // past the leeway (half of one second)
  await fixture.server.control("/auth/test/reset");
  await tab.evaluate(() => {
    window.dispatchEvent(new Event("online"));
    window.dispatchEvent(new Event("online"));
  });
  await tab.waitForFunction(() => states.at(-1) === "signed-in" && states.at(-2) === "refreshing");
  const counts = await fixture.server.stats();
  assert.equal(counts.refresh_calls, 1, "once, for both events");
  assert.equal(counts.api_calls, 0, "before any API call");
});

// Bounded: a build without the fallbacks never settles the calls (they throw inside wasm).
test("without AbortSignal.timeout, .any and .reason: timeouts and aborts still work", { timeout: 20_000 }, async () => {
  const hideSignalHelpers = () => {
    delete AbortSignal.timeout;
    delete AbortSignal.any;
    delete AbortSignal.prototype.reason;
  };
  const tab = await openTab({ timeoutMs: 1000 }, { beforeLoad: hideSignalHelpers });
  await login(tab);
  const outcome = await tab.evaluate(async () => {
    const settle = (call) => call.then((r) => r.status, (e) => (e.name === "AuthError" ? `AuthError ${e.code}` : e.name));
    const started = Date.now();
    const timedOut = await settle(auth.fetch("/auth/test/slow?ms=3000"));
    const timeoutMs = Date.now() - started;
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const aborted = await settle(auth.fetch("/auth/test/slow?ms=3000", { signal: controller.signal }));
    const alreadyAborted = await settle(auth.fetch("/api/ping", { signal: AbortSignal.abort ? AbortSignal.abort() : controller.signal }));
    await fetch("/auth/test/rotate-secret", { method: "POST" }); // a 401, then a refresh under the lock
    const refreshed = await settle(auth.fetch("/api/me"));
    return { helpersHidden: AbortSignal.timeout === undefined && AbortSignal.any === undefined && !("reason" in AbortSignal.prototype), timedOut, inTime: timeoutMs < 2500, aborted, alreadyAborted, refreshed };
  });
  assert.deepEqual(outcome, {
    helpersHidden: true,
    timedOut: "AuthError timeout",
    inTime: true,
    aborted: "AbortError",
    alreadyAborted: "AbortError",
    refreshed: 200,
  });
  assert.deepEqual(tab.messages.filter((m) => m.startsWith("pageerror")), []);
});

test("without BroadcastChannel: each tab works on its own, and says nothing is wrong", async () => {
  const hideChannel = () => { delete window.BroadcastChannel; };
  const [a, b] = [await openTab({}, { beforeLoad: hideChannel }), await openTab({}, { beforeLoad: hideChannel })];
  await login(a);
  assert.equal(await a.evaluate(() => typeof BroadcastChannel), "undefined");
  assert.equal(await status(a), 200);
  assert.equal(await status(b), 200, "b refreshed on its own");
  await a.evaluate(() => auth.logout());
  await sleep(300);
  assert.equal(await b.evaluate(() => states.at(-1)), "signed-in", "no message reached b");
  assert.equal(await b.evaluate(() => auth.refresh().then(() => "refreshed", (e) => e.code)), "session_expired", "b's own refresh finds the session revoked");
  assert.equal(await b.evaluate(() => states.at(-1)), "expired");
  assert.deepEqual([...a.messages, ...b.messages].filter((m) => m.startsWith("pageerror")), []);
});
