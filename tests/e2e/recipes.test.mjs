// The README's recipes, as written there, in each engine against the reference server: ky,
// axios (fetch adapter) and ofetch handed `auth.fetch`; the React hook; the Vue composable;
// and server-side rendering (the module imported and rendered in Node, then hydrated in the
// browser). The sources are tests/e2e/fixtures/recipes, bundled here with esbuild, the package
// taken from pkg/ (package.test.mjs installs it from its tarball into each bundler).
// Needs ./scripts/build-package to have run (scripts/test does).
import { after, before, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { launchBrowser, startServer } from "./support.mjs";

const root = new URL("../../", import.meta.url).pathname;
const fixtures = join(root, "tests/e2e/fixtures/recipes");
const out = join(root, "target/recipes");
const esbuild = (entry, outfile, extra) => execFileSync(join(root, "node_modules/.bin/esbuild"), [
  join(fixtures, entry), "--bundle", "--jsx=automatic", `--outfile=${outfile}`,
  `--alias:authfetch=${join(root, "pkg/index.js")}`, "--define:process.env.NODE_ENV=\"production\"",
  "--log-level=warning", ...extra,
], { cwd: root, stdio: "pipe" });

let server;
let browser;

before(async () => {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, "www"), { recursive: true });
  esbuild("main.js", join(out, "www/main.js"), ["--format=esm"]);
  writeFileSync(join(out, "www/index.html"), `<!doctype html>
<meta charset="utf-8">
<title>authfetch recipes</title>
<div id="react"></div><div id="vue"></div>
<script type="module" src="./main.js"></script>
`);
  server = await startServer(["--test-mode", "--www-dir", join(out, "www")]);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

beforeEach(async () => {
  await browser.context.clearCookies();
  await server.control("/auth/test/reset");
});

async function openPage(path = "/") {
  const page = await browser.context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  await page.goto(`${server.url}${path}`);
  await page.waitForFunction(() => window.recipes !== undefined);
  return { page, errors };
}

test("ky, axios (fetch adapter) and ofetch with auth.fetch: the token, and one refresh on 401", async () => {
  const { page, errors } = await openPage();
  await page.evaluate(() => recipes.auth.login({ username: "demo", password: "demo" }));
  for (const name of ["ky", "axios", "ofetch"]) {
    // The token is refused from now on: the library's call gets a 401, a refresh, the retry.
    await server.control("/auth/test/rotate-secret");
    const before = (await server.stats()).refresh_calls;
    const me = await page.evaluate((name) => recipes.clients[name](), name);
    assert.equal(me.username, "demo", name);
    assert.equal((await server.stats()).refresh_calls - before, 1, `${name}: one refresh`);
  }
  assert.deepEqual(errors, []);
  await page.close();
});

/** Mounts a recipe's component (`mount` names it in `recipes`) into `#id`, and checks that the
 *  text of `#stateId` follows the client: `first`, then a login, then a logout. */
async function assertFollowsStates(mount, id, stateId, first) {
  const { page, errors } = await openPage();
  const text = (expected) => page.waitForFunction(({ stateId, expected }) => document.getElementById(stateId)?.textContent === expected, { stateId, expected });
  await page.evaluate(({ mount, id }) => { recipes[mount](document.getElementById(id)); }, { mount, id });
  await text(first);
  await page.evaluate(() => recipes.auth.login({ username: "demo", password: "demo" }));
  await text("signed-in");
  await page.evaluate(() => recipes.auth.logout());
  await text("signed-out");
  assert.deepEqual(errors, []);
  await page.close();
}

test("React: restore() at boot, and the hook re-renders on every change of state", async () => {
  // No session yet: restore() finds none.
  await assertFollowsStates("mountReact", "react", "react-state", "signed-out");
});

test("Vue: the composable's state follows every change", async () => {
  await assertFollowsStates("mountVue", "vue", "vue-state", "unknown");
});

test("server-side rendering: rendered in Node with the package imported, hydrated in the browser, restored there", async () => {
  // The server's side: the same module, bundled for Node, rendered to a string.
  const ssr = join(out, "ssr.cjs");
  esbuild("ssr-server.jsx", ssr, ["--platform=node", "--format=cjs"]);
  const script = `console.log(require(${JSON.stringify(ssr)}).render());`;
  const html = execFileSync(process.execPath, ["-e", script], { cwd: root, encoding: "utf8" }).trim();
  assert.equal(html, '<p id="ssr-state">unknown</p>', "the server renders the state of its own");
  writeFileSync(join(out, "www/ssr.html"), `<!doctype html>
<meta charset="utf-8">
<title>authfetch, server-rendered</title>
<div id="ssr">${html}</div>
<script type="module" src="./main.js"></script>
`);
  // A session from an earlier visit: hydration starts from "unknown", restore() finds it.
  const { page, errors } = await openPage("/");
  await page.evaluate(() => recipes.auth.login({ username: "demo", password: "demo" }));
  await page.close();
  const { page: rendered, errors: later } = await openPage("/ssr.html");
  await rendered.evaluate(() => recipes.hydrateSsr(document.getElementById("ssr")));
  await rendered.waitForFunction(() => document.getElementById("ssr-state").textContent === "signed-in");
  assert.deepEqual([...errors, ...later], []);
  await rendered.close();
});
