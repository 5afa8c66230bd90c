// Shared by the interop tests: a third-party server as a child process on 127.0.0.1, and a page
// of it opened in the engine's browser with the package loaded.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

import { engine } from "../e2e/support.mjs";

export { cookiesFor, serverAndBrowser } from "../e2e/support.mjs";

// What the fixtures' cookies carry: WebKit drops Secure cookies from http://127.0.0.1.
const fixtureEnv = { INTEROP_SECURE_COOKIES: engine === "webkit" ? "0" : "1" };

/**
 * Starts `command args` and resolves once it prints "listening on <url>"; `stop()` ends it.
 * Everything else it prints goes to stderr, prefixed with `name`.
 */
export async function startProcess(name, command, args, { env } = {}) {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...fixtureEnv, ...env } });
  const relay = (stream) => createInterface({ input: stream }).on("line", (line) => {
    if (!/listening on/.test(line)) process.stderr.write(`[${name}] ${line}\n`);
  });
  relay(child.stderr);
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code} before listening`)));
    lines.on("line", (line) => {
      const match = /listening on (http:\/\/\S+)/.exec(line);
      if (match) resolve(match[1]);
      else process.stderr.write(`[${name}] ${line}\n`);
    });
  });
  child.removeAllListeners("exit");
  return {
    url,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** A page of `url` with the package loaded (tests/interop/page.html). */
export async function openPage(browser, url) {
  const page = await browser.context.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(error.message));
  await page.goto(url);
  await page.waitForFunction(() => window.ready === true);
  return { page, problems };
}
