// What the README says about Secure cookies over plain http on loopback, checked in the real
// browser on every run: if Chromium changes its rules, this fails and the README gets updated.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { launchChromium, startServer } from "./support.mjs";

let pageServer;
let browser;

before(async () => {
  pageServer = await startServer();
  browser = await launchChromium();
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
async function loginThenRefresh(pageHost, apiHost) {
  const pageOrigin = `http://${pageHost}:${pageServer.port}`;
  const api = await startServer(["--cors-origin", pageOrigin]);
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
    const stored = await browser.context.cookies(`${apiOrigin}/auth/refresh`);
    return { ...statuses, stored: stored.map((c) => `${c.name};secure=${c.secure};httpOnly=${c.httpOnly}`) };
  } finally {
    await page.close();
    await api.stop();
    await browser.context.clearCookies();
  }
}

const kept = ["refresh_token;secure=true;httpOnly=true"];

test("http://127.0.0.1 is a secure context: the Secure cookie is stored and sent back", async () => {
  assert.deepEqual(await loginThenRefresh("127.0.0.1", "127.0.0.1"), {
    login: 200, refresh: 200, secureContext: true, stored: kept,
  });
});

test("http://localhost is a secure context: the Secure cookie is stored and sent back", async () => {
  assert.deepEqual(await loginThenRefresh("localhost", "localhost"), {
    login: 200, refresh: 200, secureContext: true, stored: kept,
  });
});

test("localhost and 127.0.0.1 are different sites: the SameSite=Strict cookie never arrives", async () => {
  for (const [pageHost, apiHost] of [["localhost", "127.0.0.1"], ["127.0.0.1", "localhost"]]) {
    assert.deepEqual(
      await loginThenRefresh(pageHost, apiHost),
      { login: 200, refresh: 401, secureContext: true, stored: [] },
      `page on ${pageHost}, API on ${apiHost}`,
    );
  }
});
