// What the README says about Secure cookies over plain http on loopback, checked in each real
// engine on every run: if an engine changes its rules, this fails and the README gets updated.
// Chromium and Firefox keep a Secure cookie set by http://127.0.0.1 or http://localhost (both
// are secure contexts); WebKit drops it, so the server's --loopback-http-cookies leaves Secure
// off for loopback hosts, and every engine keeps that one.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { cookiesFor, engine, launchBrowser, startServer } from "./support.mjs";

let pageServer;
let browser;

before(async () => {
  pageServer = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await pageServer?.stop();
});

/**
 * Opens a page on `pageHost`, logs in and refreshes against a second server on `apiHost`
 * (another port: another origin, with credentialed CORS for the page), and reports what the
 * browser did with the Secure, HttpOnly, SameSite=Strict refresh cookie.
 */
async function loginThenRefresh(pageHost, apiHost, { loopbackHttpCookies }) {
  const pageOrigin = `http://${pageHost}:${pageServer.port}`;
  const api = await startServer(["--cors-origin", pageOrigin], {
    engineArgs: loopbackHttpCookies ? ["--loopback-http-cookies"] : [],
  });
  const apiOrigin = `http://${apiHost}:${api.port}`;
  const page = await browser.context.newPage();
  try {
    await page.goto(`${pageOrigin}/blank`);
    const statuses = await page.evaluate(async (apiOrigin) => {
      const login = await fetch(`${apiOrigin}/auth/login`, {
        method: "POST",
        credentials: "include",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "demo", password: "demo" }),
      });
      const refresh = await fetch(`${apiOrigin}/auth/refresh`, { method: "POST", credentials: "include" });
      return { login: login.status, refresh: refresh.status, secureContext: window.isSecureContext };
    }, apiOrigin);
    const stored = await cookiesFor(browser.context, `${apiOrigin}/auth/refresh`);
    return { ...statuses, stored: stored.map((c) => `${c.name};secure=${c.secure};httpOnly=${c.httpOnly}`) };
  } finally {
    await page.close();
    await api.stop();
    await browser.context.clearCookies();
  }
}

const keptSecure = { login: 200, refresh: 200, secureContext: true, stored: ["refresh_token;secure=true;httpOnly=true"] };
const dropped = { login: 200, refresh: 401, secureContext: true, stored: [] };
const keptPlain = { login: 200, refresh: 200, secureContext: true, stored: ["refresh_token;secure=false;httpOnly=true"] };

for (const host of ["127.0.0.1", "localhost"]) {
  const expected = engine === "webkit" ? dropped : keptSecure;
  test(`http://${host} is a secure context; a Secure cookie is ${expected === dropped ? "dropped" : "stored and sent back"} (${engine})`, async () => {
    assert.deepEqual(await loginThenRefresh(host, host, { loopbackHttpCookies: false }), expected);
  });

  test(`http://${host} with --loopback-http-cookies: the cookie, without Secure, is stored and sent back`, async () => {
    assert.deepEqual(await loginThenRefresh(host, host, { loopbackHttpCookies: true }), keptPlain);
  });
}

test("localhost and 127.0.0.1 are different sites: the SameSite=Strict cookie never arrives", async () => {
  for (const [pageHost, apiHost] of [["localhost", "127.0.0.1"], ["127.0.0.1", "localhost"]]) {
    assert.deepEqual(
      await loginThenRefresh(pageHost, apiHost, { loopbackHttpCookies: true }),
      { login: 200, refresh: 401, secureContext: true, stored: [] },
      `page on ${pageHost}, API on ${apiHost}`,
    );
  }
});
