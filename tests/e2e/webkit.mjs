// WebKit for the end-to-end tests: WebKitGTK's MiniBrowser under Xvfb, driven through
// WebKitWebDriver (WebDriver classic over plain HTTP). Playwright cannot drive it (it needs its
// own patched WebKit, which cannot be downloaded here), so this file gives the tests the small
// part of Playwright's page and context API they use, with the same meaning:
//
// - `page.evaluate(fn, arg)` runs `fn` in the page and resolves with its (awaited) result;
//   `undefined`, NaN, ±Infinity and -0 survive the trip, as with Playwright. Each call is
//   started and then polled, so calls in several tabs run at the same time, as they do there.
// - `page.on("console" | "pageerror")` sees what the page logged and threw, from the moment a
//   navigation finished; `addInitScript` scripts run at that moment too (WebDriver classic has
//   no way to run a script before the page's own): earlier than any `evaluate`.
// - Cookies are read and cleared per origin by visiting it in a scratch window.
//
// One WebKitWebDriver (and one MiniBrowser) per launch: its windows share cookies, Web Locks
// and BroadcastChannel, like the pages of one Playwright context.
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";

const MINIBROWSER = process.env.WEBKIT_MINIBROWSER ?? "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";
const DRIVER = process.env.WEBKIT_WEBDRIVER ?? "/usr/bin/WebKitWebDriver";
const KEYS = { Enter: "\uE007", Tab: "\uE004", Escape: "\uE00C", Backspace: "\uE003" };
const POLL_MS = 15;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Values cross the WebDriver wire as JSON; this tagging keeps what JSON would lose.
const CODEC = String.raw`
const encode = (value) => {
  if (value === undefined) return { t: "u" };
  if (typeof value === "number") {
    if (Number.isNaN(value)) return { t: "n", v: "NaN" };
    if (!Number.isFinite(value)) return { t: "n", v: value > 0 ? "Infinity" : "-Infinity" };
    if (Object.is(value, -0)) return { t: "n", v: "-0" };
    return { t: "v", v: value };
  }
  if (value === null || typeof value === "string" || typeof value === "boolean") return { t: "v", v: value };
  if (typeof value === "bigint") return { t: "v", v: String(value) };
  if (Array.isArray(value)) return { t: "a", v: value.map(encode) };
  if (typeof value === "object") {
    if (value instanceof Error) return { t: "v", v: String(value) };
    const out = {};
    for (const key of Object.keys(value)) out[key] = encode(value[key]);
    return { t: "o", v: out };
  }
  return { t: "v", v: String(value) };
};
const decode = (node) => {
  switch (node.t) {
    case "u": return undefined;
    case "n": return Number(node.v);
    case "a": return node.v.map(decode);
    case "o": return Object.fromEntries(Object.entries(node.v).map(([k, v]) => [k, decode(v)]));
    default: return node.v;
  }
};`;
const { encode, decode } = new Function(`${CODEC}; return { encode, decode };`)();

// Installed in every page after each navigation: the console and uncaught errors, queued for
// the harness to collect.
const HOOKS = `
if (!window.__wk) {
  const events = [];
  // Ids unique across documents, so a caller still polling after a navigation cannot take the
  // result of a call made in the new document.
  window.__wk = { events, results: new Map(), pending: new Set(), next: Date.now() * 1000 + Math.floor(Math.random() * 1000),
    // The harness's own promise plumbing, taken before any test script runs: the attacker
    // tests replace Promise.resolve and Promise.prototype.then and count or fail their calls.
    resolve: Promise.resolve.bind(Promise), then: Promise.prototype.then, apply: Reflect.apply };
  for (const level of ["log", "info", "warn", "error", "debug"]) {
    const original = console[level];
    console[level] = function (...args) {
      events.push({ kind: "console", type: level === "warn" ? "warning" : level, text: args.map(String).join(" ") });
      return original.apply(this, args);
    };
  }
  window.addEventListener("error", (event) => events.push({ kind: "pageerror", message: String(event.error?.message ?? event.message) }));
  window.addEventListener("unhandledrejection", (event) => events.push({ kind: "pageerror", message: String(event.reason?.message ?? event.reason) }));
}`;

class Driver {
  constructor(base, process, xvfb) {
    this.base = base;
    this.process = process;
    this.xvfb = xvfb;
    this.queue = Promise.resolve();
    this.current = undefined;
  }

  async http(method, path, body) {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = await response.json();
    if (answer.value?.error) {
      const error = new Error(`WebKitWebDriver ${method} ${path}: ${answer.value.error}: ${answer.value.message}`);
      error.webdriver = answer.value.error;
      throw error;
    }
    return answer.value;
  }

  /** Runs `work(send)` alone on the session, in window `handle` (when given). */
  run(handle, work) {
    const turn = this.queue.then(async () => {
      if (handle !== undefined && this.current !== handle) {
        await this.http("POST", `/session/${this.session}/window`, { handle });
        this.current = handle;
      }
      return work((method, path, body) => this.http(method, `/session/${this.session}${path}`, body));
    });
    this.queue = turn.catch(() => {});
    return turn;
  }
}

class Page {
  constructor(context, handle) {
    this.context = context;
    this.handle = handle;
    this.listeners = { console: [], pageerror: [] };
    this.initScripts = [];
    this.closed = false;
    this.keyboard = { press: (key) => this.press(key) };
  }

  send(work) {
    if (this.closed) return Promise.reject(new Error("the page is closed"));
    return this.context.driver.run(this.handle, work);
  }

  on(kind, listener) {
    (this.listeners[kind] ??= []).push(listener);
  }

  async addInitScript(fn) {
    this.initScripts.push(typeof fn === "function" ? `(${fn})()` : String(fn));
  }

  async afterNavigation(url) {
    this.context.origins.add(new URL(url).origin);
    await this.send(async (send) => {
      await send("POST", "/execute/sync", { script: HOOKS, args: [] });
      for (const script of this.initScripts) await send("POST", "/execute/sync", { script, args: [] });
    });
  }

  async goto(url) {
    await this.send((send) => send("POST", "/url", { url }));
    await this.afterNavigation(url);
  }

  async reload() {
    const url = await this.send(async (send) => {
      await send("POST", "/refresh", {});
      return send("GET", "/url");
    });
    await this.afterNavigation(url);
  }

  /** Hands queued console messages and page errors to the listeners. */
  async drain(send) {
    const events = await send("POST", "/execute/sync", {
      script: "return window.__wk ? window.__wk.events.splice(0) : [];",
      args: [],
    });
    for (const event of events ?? []) {
      if (event.kind === "console") {
        const message = { type: () => event.type, text: () => event.text };
        for (const listener of this.listeners.console) listener(message);
      } else {
        for (const listener of this.listeners.pageerror) listener(new Error(event.message));
      }
    }
  }

  evaluate(fn, arg) {
    return this.evaluateSource(typeof fn === "function" ? `(${fn})` : `(() => (${fn}))`, arg);
  }

  /** Like `evaluate`, with the function given as the text of a function expression. */
  async evaluateSource(source, arg) {
    const id = await this.send((send) => send("POST", "/execute/sync", {
      script: `${CODEC}
        ${HOOKS}
        const id = window.__wk.next++;
        const run = ${source};
        window.__wk.pending.add(id);
        const settle = (outcome) => { window.__wk.pending.delete(id); window.__wk.results.set(id, outcome); };
        try {
          const wk = window.__wk;
          wk.apply(wk.then, wk.resolve(run(decode(arguments[0]))), [
            (value) => { try { settle({ ok: encode(value) }); } catch (error) { settle({ error: "the result cannot be sent back: " + error }); } },
            (error) => settle({ error: String(error?.stack ? error.message : error) })]);
        } catch (error) {
          settle({ error: String(error?.message ?? error) });
        }
        return id;`,
      args: [encode(arg)],
    }));
    for (;;) {
      const outcome = await this.send(async (send) => {
        const found = await send("POST", "/execute/sync", {
          // A page that navigated away took the call with it, as in Playwright.
          script: `const wk = window.__wk, id = arguments[0];
            if (!wk || !(wk.pending.has(id) || wk.results.has(id))) return { error: "the page navigated while the call ran" };
            const r = wk.results.get(id); if (r) wk.results.delete(id); return r ?? null;`,
          args: [id],
        });
        await this.drain(send);
        return found;
      });
      if (outcome) {
        // What the other pages logged meanwhile, too: a test may read it next.
        await this.context.drainOthers(this);
        if ("error" in outcome) throw new Error(`page.evaluate: ${outcome.error}`);
        return decode(outcome.ok);
      }
      await sleep(POLL_MS);
    }
  }

  async waitForFunction(fn, arg, { timeout = 30000 } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const value = await this.evaluate(fn, arg);
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`page.waitForFunction: timed out after ${timeout} ms: ${fn}`);
      await sleep(50);
    }
  }

  isVisible(selector) {
    return this.evaluate((selector) => {
      const element = document.querySelector(selector);
      if (!element) return false;
      const box = element.getBoundingClientRect();
      return box.width > 0 && box.height > 0 && getComputedStyle(element).visibility !== "hidden";
    }, selector);
  }

  async waitForSelector(selector, { timeout = 30000 } = {}) {
    const deadline = Date.now() + timeout;
    while (!(await this.isVisible(selector))) {
      if (Date.now() > deadline) throw new Error(`page.waitForSelector: ${selector} not visible after ${timeout} ms`);
      await sleep(50);
    }
  }

  textContent(selector) {
    return this.evaluate((selector) => document.querySelector(selector)?.textContent ?? null, selector);
  }

  $$eval(selector, fn) {
    return this.evaluateSource(`((selector) => (${fn})([...document.querySelectorAll(selector)]))`, selector);
  }

  focus(selector) {
    return this.evaluate((selector) => document.querySelector(selector).focus(), selector);
  }

  /** A real click (trusted events), once the element is visible, as Playwright waits. */
  async click(selector) {
    await this.waitForSelector(selector);
    await this.send(async (send) => {
      const found = await send("POST", "/element", { using: "css selector", value: selector });
      const id = Object.values(found)[0];
      await send("POST", `/element/${id}/click`, {});
      await this.drain(send);
    });
  }

  /** Types `value` into the field, replacing what it held, as Playwright's `fill`. */
  async fill(selector, value) {
    await this.waitForSelector(selector);
    await this.send(async (send) => {
      const found = await send("POST", "/element", { using: "css selector", value: selector });
      const id = Object.values(found)[0];
      await send("POST", `/element/${id}/clear`, {});
      await send("POST", `/element/${id}/value`, { text: value });
    });
  }

  url() {
    return this.send((send) => send("GET", "/url"));
  }

  async waitForURL(url, { timeout = 30000 } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const current = await this.url();
      if (current === String(url)) break;
      if (Date.now() > deadline) throw new Error(`page.waitForURL: still at ${current} after ${timeout} ms`);
      await sleep(50);
    }
    await this.afterNavigation(String(url));
  }

  async press(key) {
    const value = KEYS[key] ?? key;
    await this.send((send) => send("POST", "/actions", {
      actions: [{ type: "key", id: "keyboard", actions: [{ type: "keyDown", value }, { type: "keyUp", value }] }],
    }));
  }

  async setViewportSize({ width, height }) {
    // The window's outer size: close to the viewport in MiniBrowser, whose chrome is thin.
    await this.send((send) => send("POST", "/window/rect", { width, height }));
  }

  async screenshot({ path }) {
    const png = await this.send((send) => send("GET", "/screenshot"));
    await writeFile(path, Buffer.from(png, "base64"));
  }

  async close() {
    if (this.closed) return;
    await this.send(async (send) => {
      await this.drain(send).catch(() => {});
      await send("DELETE", "/window");
    });
    this.closed = true;
    this.context.driver.current = undefined;
    this.context.pages.delete(this);
  }
}

class Context {
  constructor(driver, home) {
    this.driver = driver;
    this.home = home; // never closed: closing a session's last window ends the session
    this.pages = new Set();
    this.origins = new Set();
  }

  async newPage() {
    // From the home window: WebDriver needs a current window to open another from.
    const handle = await this.driver.run(this.home, (send) => send("POST", "/window/new", { type: "window" }));
    const page = new Page(this, handle.handle);
    this.pages.add(page);
    return page;
  }

  /** Hands every other open page's queued console messages and errors to its listeners. */
  async drainOthers(except) {
    for (const page of this.pages) {
      if (page !== except && !page.closed) await page.send((send) => page.drain(send)).catch(() => {});
    }
  }

  /** Runs `work(send)` in the home window after navigating it to `url`. */
  visit(url, work) {
    return this.driver.run(this.home, async (send) => {
      await send("POST", "/url", { url });
      return work(send);
    });
  }

  /** The cookies the browser would send to `url`, in Playwright's shape. */
  async cookies(url) {
    this.origins.add(new URL(url).origin);
    const cookies = await this.visit(url, (send) => send("GET", "/cookie"));
    await this.visit("about:blank", async () => {});
    return cookies.map((c) => ({ name: c.name, value: c.value, domain: c.domain, path: c.path, secure: c.secure, httpOnly: c.httpOnly }));
  }

  /** Deletes the cookies of every origin the pages of this context have visited. */
  async clearCookies() {
    // Paths no app serves (404s), so no page script runs in the home window; then a blank page.
    for (const origin of this.origins) {
      for (const path of ["/auth/__webkit-harness", "/__webkit-harness"]) {
        await this.visit(`${origin}${path}`, (send) => send("DELETE", "/cookie"));
      }
    }
    await this.visit("about:blank", async () => {});
  }
}

async function freePort() {
  const { createServer } = await import("node:net");
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** An X server on a free display number: one whose display is taken exits at once. */
async function startXvfb() {
  for (let display = 90 + Math.floor(Math.random() * 400); ; display++) {
    const xvfb = spawn("Xvfb", [`:${display}`, "-screen", "0", "1280x900x24", "-nolisten", "tcp"], { stdio: "ignore" });
    const exited = new Promise((resolve) => xvfb.once("exit", () => resolve(true)));
    if (await Promise.race([exited, sleep(400).then(() => false)])) continue; // display taken
    return { xvfb, display: `:${display}` };
  }
}

/** MiniBrowser under its own Xvfb and WebKitWebDriver; `close()` stops all three. */
export async function launchWebKit() {
  const { xvfb, display } = await startXvfb();
  const port = await freePort();
  const child = spawn(DRIVER, [`--port=${port}`], { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, DISPLAY: display } });
  const driver = new Driver(`http://127.0.0.1:${port}`, child, xvfb);
  const stop = async () => {
    for (const proc of [child, xvfb]) {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((resolve) => proc.once("exit", resolve));
        proc.kill("SIGTERM");
        await exited;
      }
    }
  };
  // Whatever happens to the test file, neither process outlives it.
  const killOnExit = () => { child.kill("SIGKILL"); xvfb.kill("SIGKILL"); };
  process.once("exit", killOnExit);
  try {
    return await startSession(driver, stop);
  } catch (error) {
    await stop();
    throw error;
  }
}

async function startSession(driver, stop) {
  for (let attempt = 0; ; attempt++) {
    try {
      await driver.http("GET", "/status");
      break;
    } catch (error) {
      if (attempt > 100) throw new Error(`WebKitWebDriver did not start: ${error.message}`);
      await sleep(100);
    }
  }
  const session = await driver.http("POST", "/session", {
    capabilities: { alwaysMatch: { "webkitgtk:browserOptions": { binary: MINIBROWSER, args: ["--automation"] } } },
  });
  driver.session = session.sessionId;
  const home = await driver.http("GET", `/session/${driver.session}/window`);
  driver.current = home;
  const context = new Context(driver, home);
  return {
    context,
    async close() {
      await driver.http("DELETE", `/session/${driver.session}`).catch(() => {});
      await stop();
    },
  };
}
