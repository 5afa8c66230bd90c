// Shared by the end-to-end tests: the real reference server as a child process, and the
// browser engine named by AUTHFETCH_ENGINE (chromium, the default; firefox; webkit): Debian's
// Chromium and Firefox ESR driven by playwright-core, WebKitGTK through ./webkit.mjs. No
// browser is downloaded.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { createServer as createHttpServer } from "node:http";
import { createInterface } from "node:readline";
import { after, before } from "node:test";
import { chromium } from "playwright-core";
// Firefox ESR 153 speaks the WebDriver BiDi that playwright-core 1.60 knows; later versions
// ask it for commands it lacks.
import { firefox } from "playwright-core-ff";
import { launchWebKit } from "./webkit.mjs";

/** The engine these tests run in. */
export const engine = process.env.AUTHFETCH_ENGINE ?? "chromium";
if (!["chromium", "firefox", "webkit"].includes(engine)) {
  throw new Error(`AUTHFETCH_ENGINE must be chromium, firefox or webkit, not ${engine}`);
}

const root = new URL("../../", import.meta.url).pathname;
const serverBin = process.env.AUTHFETCH_SERVER_BIN ?? join(root, "target/debug/authfetch-server");

/** A loopback port that was free a moment ago. */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The reference server's flags every test server gets in this engine: WebKit drops `Secure`
 * cookies on http://127.0.0.1 (see the README), so there the server leaves `Secure` off for
 * loopback hosts, as `./scripts/demo` does.
 */
export const engineServerArgs = engine === "webkit" ? ["--loopback-http-cookies"] : [];

/** Starts authfetch-server (on `port`, or a free one); resolves once it is listening. */
export async function startServer(args = [], { port = 0, engineArgs = engineServerArgs } = {}) {
  const child = spawn(serverBin, ["--port", String(port), "--db", ":memory:", ...engineArgs, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`authfetch-server exited with ${code}`)));
    lines.once("line", (line) => {
      const match = /listening on (http:\/\/\S+)/.exec(line);
      match ? resolve(match[1]) : reject(new Error(`unexpected first line: ${line}`));
    });
  });
  child.removeAllListeners("exit");
  return {
    url,
    port: new URL(url).port,
    /** POSTs a test-mode control (`/auth/test/...`), failing unless it answers 2xx. */
    async control(path, body = {}) {
      const response = await fetch(`${url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      if (!response.ok) throw new Error(`${path} answered ${response.status}`);
    },
    /** The test-mode counters. */
    async stats() {
      return (await fetch(`${url}/auth/stats`)).json();
    },
    /** The test-mode journal of requests received, oldest first. */
    async journal() {
      return (await fetch(`${url}/auth/test/requests`)).json();
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/**
 * The engine's browser with a fresh profile, as `{ context, close() }`: `context` has
 * Playwright's BrowserContext API (for WebKit, the part ./webkit.mjs provides).
 */
export async function launchBrowser() {
  if (engine === "webkit") return launchWebKit();
  if (engine === "firefox") return launchFirefox();
  return launchChromium();
}

async function launchFirefox() {
  const browser = await firefox.launch({
    channel: "moz-firefox",
    executablePath: process.env.FIREFOX ?? "/usr/bin/firefox-esr",
    headless: true,
  });
  const context = await browser.newContext();
  return {
    context,
    async close() {
      await context.close();
      await browser.close();
    },
  };
}

/** Headless Chromium with a fresh profile; `close()` removes the profile too. */
export async function launchChromium() {
  const profile = await mkdtemp(join(tmpdir(), "authfetch-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/**
 * For a test file: `start()` (resolving to a server with `stop()`) and the engine's browser
 * before its tests, both stopped after them. Returns an object whose `server` and `browser` are
 * set by then.
 */
export function serverAndBrowser(start) {
  const fixture = {};
  before(async () => {
    fixture.server = await start();
    fixture.browser = await launchBrowser();
  });
  after(async () => {
    await fixture.browser?.close();
    await fixture.server?.stop();
  });
  return fixture;
}

/**
 * Starts the servers `starters` names, in order: each `(started) => server` is handed the ones
 * already up (an API that allows the site's origin needs the site's URL). If one fails, those
 * already up are stopped. Resolves with the servers by name, and `stop()` for all of them.
 */
export async function startAll(starters) {
  const started = {};
  const stop = async () => {
    for (const name of Object.keys(started).reverse()) await started[name].stop();
  };
  try {
    for (const [name, start] of Object.entries(starters)) started[name] = await start(started);
  } catch (error) {
    await stop();
    throw error;
  }
  return { ...started, stop };
}

/**
 * The cookies `context` holds for `url`, httpOnly ones included. Filtered here, not by
 * Playwright: playwright-core 1.60 (the Firefox driver) leaves Secure cookies of
 * http://127.0.0.1 out of a URL-filtered answer although Firefox stores and sends them. The
 * WebKit harness reads them at the URL itself.
 */
export async function cookiesFor(context, url) {
  if (engine === "webkit") return context.cookies(url);
  const { hostname, pathname } = new URL(url);
  return (await context.cookies()).filter((c) => c.domain === hostname && pathname.startsWith(c.path));
}

/**
 * Another origin: a Node server on 127.0.0.1 that records every request (preflights too) and
 * answers any origin's CORS, credentials and all. `answer(entry)` gives `{ status, json }`.
 */
export async function startForeign(answer = () => ({ status: 200, json: { ok: true } })) {
  const requests = [];
  const server = createHttpServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      const entry = {
        method: req.method,
        path: req.url,
        authorization: req.headers.authorization ?? null,
        origin: req.headers.origin ?? null,
        cookie: req.headers.cookie ?? null,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      requests.push(entry);
      const cors = {
        "access-control-allow-origin": req.headers.origin ?? "*",
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": req.headers["access-control-request-method"] ?? "GET, POST, PUT, DELETE",
        "access-control-allow-headers": req.headers["access-control-request-headers"] ?? "*",
        "access-control-allow-private-network": "true",
        "access-control-max-age": "0",
        "cache-control": "no-store",
        vary: "origin",
      };
      if (req.method === "OPTIONS") {
        res.writeHead(204, cors);
        res.end();
        return;
      }
      const { status = 200, json = { ok: true } } = answer(entry) ?? {};
      res.writeHead(status, { ...cors, "content-type": "application/json" });
      res.end(JSON.stringify(json));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    requests,
    /** The requests that were not preflights. */
    sent: () => requests.filter((r) => r.method !== "OPTIONS"),
    /** The requests that carried an Authorization header (a leaked bearer). */
    withAuthorization: () => requests.filter((r) => r.authorization !== null),
    clear: () => { requests.length = 0; },
    async stop() {
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
