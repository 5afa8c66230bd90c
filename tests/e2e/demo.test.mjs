// The demo page driven as a person would use it: Debian's Chromium through playwright-core,
// against the reference server serving www/ and the built package (as ./scripts/demo does,
// plus --test-mode for its counters and a 3-second access lifetime so expiry comes quickly).
// Each test saves a screenshot under target/e2e-artifacts/.
import { afterEach, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { freePort, serverAndBrowser, startServer } from "./support.mjs";

const root = new URL("../../", import.meta.url).pathname;
const artifacts = join(root, "target/e2e-artifacts");
const ACCESS_TTL_S = 3;

let page;
let problems; // console errors and page errors seen by the current test

// Runs before any page script: records every touch of browser storage.
function instrumentStorage() {
  const touches = (window.__storageTouches = []);
  for (const method of ["setItem", "getItem", "removeItem", "clear", "key"]) {
    const original = Storage.prototype[method];
    Storage.prototype[method] = function (...args) {
      touches.push(`Storage.${method}`);
      return original.apply(this, args);
    };
  }
  const open = IDBFactory.prototype.open;
  IDBFactory.prototype.open = function (...args) {
    touches.push("indexedDB.open");
    return open.apply(this, args);
  };
  const cookie = Object.getOwnPropertyDescriptor(Document.prototype, "cookie");
  Object.defineProperty(Document.prototype, "cookie", {
    configurable: true,
    get() { return cookie.get.call(this); },
    set(value) { touches.push("document.cookie="); cookie.set.call(this, value); },
  });
}

const fixture = serverAndBrowser(async () => {
  mkdirSync(artifacts, { recursive: true });
  const port = await freePort();
  return startServer(
    [
      "--test-mode", "--demo", "--access-ttl", String(ACCESS_TTL_S),
      "--www-dir", join(root, "www"), "--pkg-dir", join(root, "pkg"),
      "--cors-origin", `http://127.0.0.1:${port}`, "--cors-origin", `http://localhost:${port}`,
    ],
    { port },
  );
});

beforeEach(async () => {
  await fixture.browser.context.clearCookies();
  await fixture.server.control("/auth/test/reset");
  problems = [];
  page = await fixture.browser.context.newPage();
  await page.addInitScript(instrumentStorage);
  await page.setViewportSize({ width: 1200, height: 900 });
  page.on("pageerror", (error) => problems.push(`page error: ${error}`));
  page.on("console", (message) => {
    // Chromium logs every 4xx response as "Failed to load resource"; a signed-out visitor's
    // refresh answers 401 by design. Anything else at error level is a defect.
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  await page.goto(`${fixture.server.url}/`);
  await expectState("signed-out");
});

afterEach(async (context) => {
  const name = context.name.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  const storage = await page.evaluate(() => ({
    touches: window.__storageTouches,
    local: localStorage.length,
    session: sessionStorage.length,
  }));
  assert.deepEqual(storage, { touches: [], local: 0, session: 0 }, "browser storage never touched");
  assert.deepEqual(problems, [], "no console errors, no page errors");
  await page.close();
});

async function expectState(state) {
  await page.waitForFunction((s) => document.getElementById("state").dataset.state === s, state, { timeout: 10000 });
}

async function result() {
  return page.textContent("#result");
}

async function waitForResult(fragment) {
  await page.waitForFunction((f) => document.getElementById("result").textContent.includes(f), fragment, { timeout: 10000 });
  return result();
}

async function signIn() {
  await page.click("#sign-in button");
  await expectState("signed-in");
  await page.waitForFunction(() => document.getElementById("user").textContent === "demo");
}

async function timelineTags() {
  return page.$$eval("#timeline .tag", (tags) => tags.map((t) => t.textContent));
}

const pastExpiry = () => new Promise((resolve) => setTimeout(resolve, ACCESS_TTL_S * 1000 + 300));

test("sign in, wait past expiry, and the next click shows data without a sign-in prompt", async () => {
  assert.ok(await page.isVisible("#sign-in"), "signed out at first: the form is shown");
  assert.match(await page.textContent("#sign-in"), /Demo user: demo/);
  await signIn();
  assert.ok(!(await page.isVisible("#sign-in")), "the form is gone once signed in");
  await page.waitForFunction(() => /^in \d+\.\d s$/.test(document.getElementById("countdown").textContent));
  await pastExpiry();
  await page.click("[data-action=me]");
  const shown = await waitForResult("200");
  assert.match(shown, /"username":"demo"/);
  assert.ok(!(await page.isVisible("#sign-in")), "no sign-in prompt");
  await page.waitForFunction(() => [...document.querySelectorAll("#timeline .tag")].some((t) => t.textContent === "proactive refresh"));
  const counts = await fixture.server.stats();
  assert.equal(counts.refresh_ok, 1, "one silent refresh");
});

test("twenty requests at once after expiry make exactly one refresh", async () => {
  await signIn();
  await pastExpiry();
  await fixture.server.control("/auth/test/reset");
  await page.click("[data-action=burst]");
  const shown = await waitForResult("20 requests at once");
  assert.match(shown, /20 × 200/);
  assert.match(shown, /Refresh calls they caused: 1\./);
  const counts = await fixture.server.stats();
  assert.equal(counts.refresh_calls, 1);
  assert.equal(counts.api_calls, 20);
  assert.equal(counts.unauthorized_served, 0, "refreshed before sending: no 401 round trip");
});

test("a reload keeps the user signed in: the cookie brings the session back", async () => {
  await signIn();
  await page.reload();
  await expectState("signed-in");
  await page.waitForFunction(() => document.getElementById("user").textContent === "demo");
  assert.ok(!(await page.isVisible("#sign-in")));
});

test("sign out ends the session, also after a reload", async () => {
  await signIn();
  await page.click("#sign-out");
  await expectState("signed-out");
  assert.ok(await page.isVisible("#sign-in"));
  await page.waitForFunction(() => document.getElementById("countdown").textContent === "—");
  assert.equal((await fixture.server.stats()).logout_calls, 1);
  await page.reload();
  await expectState("signed-out");
  assert.ok(await page.isVisible("#sign-in"));
});

test("a stolen refresh token ends the session with a clear message", async () => {
  await signIn();
  await page.click("[data-action=steal]");
  await expectState("expired");
  await page.waitForSelector("#banner:not([hidden])");
  assert.match(await page.textContent("#banner"), /same refresh token twice \(reuse detection\)/);
  assert.match(await result(), /revoked the session/);
  assert.ok(await page.isVisible("#sign-in"), "invited to sign in again");
  assert.equal((await fixture.server.stats()).reuse_detections, 1);
  assert.ok((await timelineTags()).includes("refresh refused"));
});

test("another origin never receives the token, and a JSON body goes through", async () => {
  await signIn();
  await page.click("[data-action=foreign]");
  assert.match(await waitForResult("received Authorization"), /received Authorization: none/);
  await page.click("[data-action=echo]");
  assert.match(await waitForResult("hello from the demo"), /^200 \{"message":"hello from the demo"/);
});

test("usable with the keyboard alone, and at phone width", async () => {
  await page.focus("input[name=password]");
  await page.keyboard.press("Enter");
  await expectState("signed-in");
  let reached = false;
  for (let i = 0; i < 20 && !reached; i++) {
    await page.keyboard.press("Tab");
    reached = await page.evaluate(() => document.activeElement?.dataset.action === "me");
  }
  assert.ok(reached, "Tab reaches the buttons");
  await page.keyboard.press("Enter");
  await waitForResult("200");
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling at 390 px (${overflow} px over)`);
});
