// The attacker's view: a script injected into the page after the app signed in tries to get
// the access token by every route it has. The real tokens come from the server's journal of
// what it received, so the test knows exactly what to look for.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { freePort, serverAndBrowser, startServer } from "./support.mjs";

const root = new URL("../../", import.meta.url).pathname;
const fixture = serverAndBrowser(() => startServer([
  "--test-mode",
  "--www-dir", join(root, "tests/e2e/fixtures/page"),
  "--pkg-dir", join(root, "pkg"),
]));

/** Every bearer token the server saw, from its journal. */
async function tokensSeenByServer() {
  const entries = await fixture.server.journal();
  return [...new Set(entries.map((e) => e.authorization).filter((a) => a?.startsWith("Bearer ")).map((a) => a.slice(7)))];
}

test("an injected script cannot get the access token through the page's JavaScript", async () => {
  const page = await fixture.browser.context.newPage();
  await page.goto(`${fixture.server.url}/`);

  // The app: signs in and makes an authenticated call.
  await page.evaluate(async () => {
    const { default: init, AuthClient } = await import("/pkg/index.js");
    await init();
    window.app = { auth: new AuthClient(), states: [] };
    window.app.auth.onChange((state) => window.app.states.push(state));
    await window.app.auth.login({ username: "demo", password: "demo" });
    await window.app.auth.fetch("/api/me");
  });

  // The attacker, from here on. Everything it can observe goes into `loot`.
  const findings = await page.evaluate(async () => {
    const loot = {};
    const grab = (route, value) => {
      let text;
      try { text = typeof value === "string" ? value : JSON.stringify(value, (k, v) => (typeof v === "bigint" ? String(v) : v)); } catch { text = String(value); }
      loot[route] = (loot[route] ?? "") + "\n" + text;
    };
    const consoleLines = [];
    for (const level of ["log", "info", "warn", "error", "debug"]) {
      const original = console[level];
      console[level] = (...args) => { consoleLines.push(args.map(String).join(" ")); original.apply(console, args); };
    }
    const { auth } = window.app;

    // 1. The client object and its prototype.
    const proto = Object.getPrototypeOf(auth);
    grab("client object", Object.fromEntries(Reflect.ownKeys(auth).map((k) => [String(k), String(auth[k])])));
    grab("client prototype", Reflect.ownKeys(proto).map((k) => {
      const d = Object.getOwnPropertyDescriptor(proto, k);
      let v; try { v = d.get ? d.get.call(auth) : typeof d.value; } catch (e) { v = String(e); }
      return `${String(k)}=${String(v)}`;
    }));
    grab("client as text", [String(auth), JSON.stringify(auth)]);

    // 2. Errors and events.
    const { AuthClient, AuthError } = await import("/pkg/index.js");
    for (const attempt of [
      () => new AuthClient({ bogus: 1 }),
      () => auth.login({ username: "demo", password: "wrong" }),
      // A timeout from a refresh endpoint that is slow to answer. (Not the real one: a refresh
      // the server completes after the client gave up rotates the cookie without the browser
      // hearing of it, and the next refresh is reuse.)
      () => new AuthClient({ timeoutMs: 50, refreshMethod: "GET", refreshUrl: "/auth/test/slow?ms=1000", crossTab: false }).fetch("/api/me"),
    ]) {
      try { await attempt(); } catch (error) { grab("errors", { name: error.name, code: error.code, message: error.message, stack: error.stack, cause: String(error.cause), own: Object.getOwnPropertyNames(error) }); }
    }
    grab("events", window.app.states);

    // 3. The module's exports, and init() called again (it resolves with nothing).
    const module = await import("/pkg/index.js");
    grab("module exports", Object.keys(module));
    grab("init() result", String(await module.default()));

    // 4. Network entries visible to the page.
    grab("resource timing", performance.getEntriesByType("resource").map((e) => e.toJSON()));

    // 5. Prototype poisoning after the client was created, then authenticated calls and a refresh.
    const seen = [];
    const record = (label) => (...args) => seen.push(`${label}: ${args.map((a) => {
      try {
        if (a instanceof Headers) return JSON.stringify([...a]);
        if (a instanceof Request) return `${a.url} ${JSON.stringify([...a.headers])}`;
        return JSON.stringify(a);
      } catch { return String(a); }
    }).join(" ")}`);
    const poison = (target, name, label) => {
      const original = target[name];
      const spy = record(label);
      target[name] = function (...args) { spy(...args); return original.apply(this, args); };
    };
    poison(window, "fetch", "window.fetch");
    poison(Headers.prototype, "set", "Headers.set");
    poison(Headers.prototype, "append", "Headers.append");
    poison(Response.prototype, "json", "Response.json");
    poison(Response.prototype, "text", "Response.text");
    const OriginalRequest = window.Request;
    window.Request = function (...args) { record("new Request")(...args); return new OriginalRequest(...args); };
    window.Request.prototype = OriginalRequest.prototype;
    // Promise.prototype.then sees what anything awaits; a Response seen there is cloned and read.
    const originalThen = Promise.prototype.then;
    Promise.prototype.then = function (onFulfilled, onRejected) {
      return originalThen.call(this, (value) => {
        if (value instanceof Response) {
          try { originalThen.call(value.clone().text(), (body) => seen.push(`then/Response body: ${body}`)); } catch {}
        } else if (value !== undefined) {
          try { seen.push(`then value: ${JSON.stringify(value)}`); } catch {}
        }
        return typeof onFulfilled === "function" ? onFulfilled(value) : value;
      }, onRejected);
    };
    const headersGetter = Object.getOwnPropertyDescriptor(Request.prototype, "headers").get;
    Object.defineProperty(Request.prototype, "headers", { configurable: true, get() { const h = headersGetter.call(this); seen.push(`Request.headers getter: ${JSON.stringify([...h])}`); return h; } });
    await fetch("/auth/test/rotate-secret", { method: "POST" }); // forces a 401 and a refresh
    await auth.fetch("/api/me");
    await auth.fetch("/api/items");
    await auth.fetch("/api/echo", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    await new Promise((resolve) => setTimeout(resolve, 200)); // let cloned bodies arrive
    Promise.prototype.then = originalThen;
    grab("poisoned prototypes", seen);
    grab("console", consoleLines);

    return loot;
  });

  const tokens = await tokensSeenByServer();
  assert.ok(tokens.length >= 2, `the login token and the refreshed one were used (${tokens.length})`);
  const leaks = (route) => tokens.some((token) => findings[route]?.includes(token));
  assert.deepEqual(Object.keys(findings).filter(leaks), [], "no JavaScript-visible route reveals a token");
  assert.ok(findings["poisoned prototypes"].includes("window.fetch"), "the spies were active (the test can see calls)");
  assert.equal(findings["init() result"], "\nundefined", "init() hands out nothing (no instance, no memory)");
  assert.deepEqual(findings["module exports"], '\n["AuthClient","AuthError","default"]');
  await page.close();
});

test("a replaced URL or Request.url cannot make another origin look like the API", async () => {
  // Its own server: the page's origin may call it with credentials, so a leaked token would
  // arrive on the actual request (not stop at a refused preflight) and show in the journal.
  const port = await freePort();
  const own = await startServer([
    "--test-mode",
    "--www-dir", join(root, "tests/e2e/fixtures/page"),
    "--pkg-dir", join(root, "pkg"),
    "--cors-origin", `http://127.0.0.1:${port}`,
  ], { port });
  try {
    const foreign = own.url.replace("127.0.0.1", "localhost");
    const page = await fixture.browser.context.newPage();
    await page.goto(`${own.url}/`);
    const statuses = await page.evaluate(async (foreign) => {
      const { default: init, AuthClient } = await import("/pkg/index.js");
      await init();
      const auth = new AuthClient();
      await auth.login({ username: "demo", password: "demo" });
      // The attacker: every URL now claims the page's origin, and so does every Request.
      const RealURL = window.URL;
      window.URL = class extends RealURL { get origin() { return location.origin; } };
      Object.defineProperty(Request.prototype, "url", { configurable: true, get() { return location.href; } });
      const direct = await auth.fetch(`${foreign}/api/ping`);
      const request = await auth.fetch(new Request(`${foreign}/api/me`));
      return [direct.status, request.status];
    }, foreign);
    const toForeign = (await own.journal()).filter((e) => e.host === new URL(foreign).host && e.method === "GET");
    assert.equal(toForeign.length, 2, "both calls reached the other origin");
    assert.deepEqual(toForeign.map((e) => e.authorization ?? null), [null, null], "without the token");
    assert.deepEqual(statuses, [401, 401]);
    await page.close();
  } finally {
    await own.stop();
  }
});

test("a replaced array iterator cannot stretch a call past timeoutMs", async () => {
  const page = await fixture.browser.context.newPage();
  await page.goto(`${fixture.server.url}/`);
  const outcome = await page.evaluate(async () => {
    const { default: init, AuthClient } = await import("/pkg/index.js");
    await init();
    const auth = new AuthClient({ timeoutMs: 500 });
    await auth.login({ username: "demo", password: "demo" });
    // The attacker: an array of abort signals now iterates as two signals that never abort,
    // which is what AbortSignal.any would see if it were handed an array.
    const original = Array.prototype[Symbol.iterator];
    const never = () => new AbortController().signal;
    Array.prototype[Symbol.iterator] = function () {
      if (this[0] instanceof AbortSignal) return original.call([never(), never()]);
      return original.call(this);
    };
    const started = Date.now();
    let result;
    try {
      const response = await auth.fetch("/auth/test/slow?ms=3000", { signal: never() });
      result = response.status;
    } catch (error) {
      result = error.name === "AuthError" ? `AuthError ${error.code}` : error.name;
    } finally {
      Array.prototype[Symbol.iterator] = original;
    }
    return { result, inTime: Date.now() - started < 2000 };
  });
  assert.deepEqual(outcome, { result: "AuthError timeout", inTime: true });
  await page.close();
});
