// The npm package as users get it: loaded in each engine, its TypeScript declarations, and
// the tarball build-package makes, installed into a tiny app that each bundler builds (Vite,
// dev and build; webpack; Rollup; esbuild) or that a page loads through an import map.
// Needs ./scripts/build-package to have run (scripts/test does).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { engine, launchBrowser, startServer } from "./support.mjs";

const root = new URL("../../", import.meta.url).pathname;
const bin = (name) => join(root, "node_modules/.bin", name);
let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

/** Opens `url` and returns the page, failing the test on any page error. */
async function open(url) {
  const page = await browser.context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  await page.goto(url);
  return { page, errors };
}

/** The test server with the package and a blank page. */
const FIXTURE = ["--test-mode", "--www-dir", join(root, "tests/e2e/fixtures/page"), "--pkg-dir", join(root, "pkg")];

/** What `script` returns in a page of a server started with `args` (which it stops after),
 *  failing the test on any page error. */
async function inPage(args, script) {
  const server = await startServer(args);
  try {
    const { page, errors } = await open(`${server.url}/`);
    const result = await page.evaluate(script);
    assert.deepEqual(errors, []);
    await page.close();
    return result;
  } finally {
    await server.stop();
  }
}

test("the package: defaults to the page's origin, AuthError is a real class", async () => {
  const result = await inPage(FIXTURE, async () => {
    const { default: init, AuthClient, AuthError } = await import("/pkg/index.js");
    await init();
    const auth = new AuthClient(); // every default: apiOrigins = [location.origin], /auth/*
    await auth.login({ username: "demo", password: "demo" });
    const me = await auth.fetch("/api/me");
    let config;
    try {
      new AuthClient({ apiOrigin: [] });
    } catch (error) {
      config = { isAuthError: error instanceof AuthError, isError: error instanceof Error, name: error.name, code: error.code, message: error.message };
    }
    let login;
    try {
      await auth.login({ username: "demo", password: "wrong" });
    } catch (error) {
      login = { isAuthError: error instanceof AuthError, code: error.code };
    }
    const own = new AuthError("timeout", "slow", { cause: 1 });
    return {
      status: me.status,
      user: (await me.json()).username,
      config,
      login,
      own: { isAuthError: own instanceof AuthError, isError: own instanceof Error, name: own.name, code: own.code, cause: own.cause },
      plainErrorIsNotAuthError: new Error("x") instanceof AuthError,
      tokenGetter: "token" in auth || "accessToken" in auth,
    };
  });
  assert.deepEqual(result, {
    status: 200,
    user: "demo",
    config: { isAuthError: true, isError: true, name: "AuthError", code: "invalid_config", message: 'unknown option "apiOrigin" (check its spelling)' },
    login: { isAuthError: true, code: "login_failed" },
    own: { isAuthError: true, isError: true, name: "AuthError", code: "timeout", cause: 1 },
    plainErrorIsNotAuthError: false,
    tokenGetter: false,
  });
});

test("the TypeScript declarations type-check a usage file (tsc --noEmit)", () => {
  execFileSync(bin("tsc"), ["-p", join(root, "tests/types/tsconfig.json")], { stdio: "pipe" });
});

// ---- the package as users install it, in every way an app loads it ---------------------------

/** The tarball ./scripts/build-package made, installed into a copy of the tiny app
 *  (tests/e2e/fixtures/app) inside the repository, so that the bundlers resolve from its
 *  node_modules while the package itself comes only from the tarball. Made once. */
let installed;
function installedApp() {
  if (installed) return installed;
  const version = JSON.parse(readFileSync(join(root, "pkg/package.json"), "utf8")).version;
  const tarball = join(root, `authfetch-${version}.tgz`);
  assert.ok(existsSync(tarball), `build-package made ${tarball}`);
  const app = join(root, "target/apps/installed");
  rmSync(app, { recursive: true, force: true });
  mkdirSync(app, { recursive: true });
  cpSync(join(root, "tests/e2e/fixtures/app"), app, { recursive: true });
  writeFileSync(join(app, "package.json"), JSON.stringify({ private: true, type: "module", dependencies: { authfetch: `file:${tarball}` } }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: app, stdio: "pipe" });
  installed = app;
  return app;
}

/** A directory `name` of built files: the app's page loading `script` as a module. */
function builtDir(name) {
  const dir = join(installedApp(), name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}
const PAGE = (script, head = "") => `<!doctype html>\n<meta charset="utf-8">\n${head}<pre id="out">loading</pre>\n<script type="module" src="${script}"></script>\n`;

/** The app served from `dir` by the reference server: signs in and calls the API. */
async function assertAppWorks(dir, { fetched } = {}) {
  const server = await startServer(["--www-dir", dir]);
  try {
    await assertPageWorks(`${server.url}/`, { fetched });
  } finally {
    await server.stop();
  }
}

async function assertPageWorks(url, { fetched } = {}) {
  const { page, errors } = await open(url);
  await page.waitForFunction(() => document.getElementById("out").textContent !== "loading");
  const out = await page.textContent("#out");
  assert.deepEqual(JSON.parse(out.startsWith("{") ? out : JSON.stringify(out)), { status: 200, user: "demo", authErrorIsClass: "function" });
  assert.deepEqual(errors, []);
  if (fetched) {
    const paths = await page.evaluate(() => performance.getEntriesByType("resource").map((entry) => new URL(entry.name).pathname));
    assert.ok(!paths.some((path) => path.endsWith(".wasm")), `no .wasm fetched: ${paths}`);
  }
  await page.close();
}

test("build-package makes the tarball, with the package's own README (no link into the repository)", () => {
  const app = installedApp();
  const dir = join(app, "node_modules/authfetch");
  assert.deepEqual(readdirSync(dir).sort(), ["README.md", "auth-error.d.ts", "index.d.ts", "index.js", "package.json"]);
  const readme = readFileSync(join(dir, "README.md"), "utf8");
  for (const section of ["## Install", "## Quick start", "## Options", "## States", "## Errors", "## Debugging", "## Recipes"]) {
    assert.ok(readme.includes(`\n${section}\n`), `the package README has ${section}`);
  }
  const relative = [...readme.matchAll(/\]\(([^)]*)\)/g)].map((m) => m[1]).filter((target) => !/^(https?:|#)/.test(target));
  assert.deepEqual(relative, [], "links that lead nowhere outside the repository");
  for (const anchor of [...readme.matchAll(/\]\(#([^)]*)\)/g)].map((m) => m[1])) {
    const headings = [...readme.matchAll(/^#+ (.*)$/gm)].map((m) => m[1].toLowerCase().replace(/[^a-z0-9 -]/g, "").replace(/ /g, "-"));
    assert.ok(headings.includes(anchor), `#${anchor} is a heading of the package README`);
  }
  assert.ok(readme.length < 20000, `short: ${readme.length} characters`);
});

test("Vite (build), no plugin, no build target", async () => {
  const app = installedApp();
  execFileSync(bin("vite"), ["build", "--logLevel", "warn", "--outDir", join(app, "vite-dist"), "--emptyOutDir"], { cwd: app, stdio: "pipe" });
  const assets = readdirSync(join(app, "vite-dist/assets"));
  assert.ok(!assets.some((name) => name.endsWith(".wasm")), `the core travels inside the module, not as an asset: ${assets}`);
  await assertAppWorks(join(app, "vite-dist"), { fetched: true });
});

test("Vite (dev server), no plugin, with a proxy to the API", async () => {
  const app = installedApp();
  const api = await startServer([]);
  const { createServer } = await import(join(root, "node_modules/vite/dist/node/index.js"));
  const vite = await createServer({
    root: app,
    configFile: false,
    logLevel: "warn",
    server: { host: "127.0.0.1", port: 0, strictPort: false, proxy: { "/auth": api.url, "/api": api.url } },
  });
  try {
    await vite.listen();
    const url = vite.resolvedUrls.local[0];
    await assertPageWorks(url, { fetched: true });
  } finally {
    await vite.close();
    await api.stop();
  }
});

test("webpack 5, no loader or plugin", async () => {
  const dir = builtDir("webpack-dist");
  const { default: webpack } = await import(join(root, "node_modules/webpack/lib/index.js"));
  const stats = await new Promise((resolve, reject) => webpack({
    mode: "production",
    context: installedApp(),
    entry: "./main.js",
    output: { path: dir, filename: "main.js" },
  }, (error, result) => (error ? reject(error) : resolve(result))));
  assert.ok(!stats.hasErrors(), stats.toString("errors-only"));
  writeFileSync(join(dir, "index.html"), PAGE("./main.js"));
  await assertAppWorks(dir, { fetched: true });
});

test("Rollup with node-resolve, no wasm plugin", async () => {
  const dir = builtDir("rollup-dist");
  const { rollup } = await import(join(root, "node_modules/rollup/dist/es/rollup.js"));
  const { default: resolve } = await import(join(root, "node_modules/@rollup/plugin-node-resolve/dist/es/index.js"));
  const bundle = await rollup({ input: join(installedApp(), "main.js"), plugins: [resolve({ browser: true })] });
  await bundle.write({ file: join(dir, "main.js"), format: "es" });
  await bundle.close();
  writeFileSync(join(dir, "index.html"), PAGE("./main.js"));
  await assertAppWorks(dir, { fetched: true });
});

test("esbuild, bundled and minified", async () => {
  const dir = builtDir("esbuild-dist");
  execFileSync(bin("esbuild"), [join(installedApp(), "main.js"), "--bundle", "--minify", "--format=esm", `--outfile=${join(dir, "main.js")}`, "--log-level=warning"], { cwd: installedApp(), stdio: "pipe" });
  writeFileSync(join(dir, "index.html"), PAGE("./main.js"));
  await assertAppWorks(dir, { fetched: true });
});

test("no bundler: a <script type=\"module\"> with an import map", async () => {
  const app = installedApp();
  const map = `<script type="importmap">{ "imports": { "authfetch": "./node_modules/authfetch/index.js" } }</script>\n`;
  writeFileSync(join(app, "importmap.html"), PAGE("./main.js", map));
  const server = await startServer(["--www-dir", app]);
  try {
    await assertPageWorks(`${server.url}/importmap.html`, { fetched: true });
  } finally {
    await server.stop();
  }
});

test("outside a browser (Node, server-side rendering) the import does not throw; a client says a browser is needed", () => {
  const script = `
    const m = await import(${JSON.stringify(join(root, "pkg/index.js"))});
    const loaded = await m.default();
    let error;
    try { new m.AuthClient(); } catch (e) { error = e; }
    console.log(JSON.stringify({ exports: Object.keys(m).sort(), loaded: String(loaded), isAuthError: error instanceof m.AuthError, code: error?.code, message: error?.message }));
  `;
  const out = JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" }));
  assert.deepEqual(out.exports, ["AuthClient", "AuthError", "default"]);
  assert.equal(out.loaded, "undefined");
  assert.equal(out.isAuthError, true);
  assert.equal(out.code, "invalid_config");
  assert.match(out.message, /needs a browser/);
});

test("the package is one module: the core comes with it, nothing else is fetched, init() is optional", async () => {
  const result = await inPage(FIXTURE, async () => {
    // The app's own script, before the SDK: it sees the module the SDK compiles.
    const Module = WebAssembly.Module;
    let compiled;
    WebAssembly.Module = function (bytes) {
      compiled = new Module(bytes);
      return compiled;
    };
    const { AuthClient } = await import("/pkg/index.js");
    WebAssembly.Module = Module;
    const auth = new AuthClient(); // no init()
    await auth.login({ username: "demo", password: "demo" });
    const me = await auth.fetch("/api/me");
    await me.text(); // its resource entry is written when the body has arrived
    return {
      status: me.status,
      imports: WebAssembly.Module.imports(compiled).map((i) => `${i.module} ${i.kind} ${i.name}`),
      fetched: performance.getEntriesByType("resource").map((entry) => new URL(entry.name).pathname)
        .filter((path) => path !== "/favicon.ico"), // the browser's own
    };
  });
  assert.deepEqual(result, {
    status: 200,
    // It imports nothing, so it cannot reach the page: no storage, no cookies, no network.
    imports: [],
    fetched: ["/pkg/index.js", "/auth/login", "/api/me"],
  });
});

test("where the engine compiles no large module synchronously (Chromium before 114), the client refuses to start rather than compile the core where a later script could take it", async () => {
  const result = await inPage(FIXTURE, async () => {
    // The app's page in such an engine: its own script, before the SDK, puts back the limit
    // Chromium had until version 114.
    const Module = WebAssembly.Module;
    WebAssembly.Module = function (bytes) {
      if (bytes.byteLength > 4096) {
        throw new RangeError("WebAssembly.Compile is disallowed on the main thread, if the buffer size is larger than 4KB. Use WebAssembly.compile, or compile on a worker thread.");
      }
      return new Module(bytes);
    };
    const { default: init, AuthClient } = await import("/pkg/index.js");
    WebAssembly.Module = Module;
    // A later script: every promise resolved with an object asks it for `then`, which an
    // asynchronous compilation's result ({ module, instance }) would answer to this getter.
    let stolen = "nothing";
    Object.defineProperty(Object.prototype, "then", {
      configurable: true,
      get() {
        if (this && this.instance instanceof WebAssembly.Instance) stolen = Object.keys(this.instance.exports).join(",");
        return undefined;
      },
    });
    let loaded = "resolved";
    let made;
    try {
      await init();
    } catch (error) {
      loaded = `${error.name}: ${error.message}`;
    }
    try {
      const auth = new AuthClient();
      await auth.login({ username: "demo", password: "demo" });
      made = auth.state;
    } catch (error) {
      made = `${error.code}: ${error.message}`;
    }
    delete Object.prototype.then;
    return { stolen, loaded, made };
  });
  assert.equal(result.stolen, "nothing", "a later script reached the core's exports");
  assert.match(result.loaded, /^RangeError: WebAssembly\.Compile is disallowed/);
  assert.match(result.made, /^invalid_config: the client's WebAssembly core could not be started in this page: WebAssembly\.Compile is disallowed/);
});

test("two copies of the package in one page both start and work", async () => {
  const result = await inPage(FIXTURE, async () => {
    // Two module instances, as two bundles (or micro-frontends) that each carry the package.
    const first = await import("/pkg/index.js");
    const second = await import("/pkg/index.js?copy=2");
    const outcome = {};
    for (const [name, copy] of [["first", first], ["second", second]]) {
      try {
        await copy.default();
        const auth = new copy.AuthClient();
        await auth.login({ username: "demo", password: "demo" });
        outcome[name] = (await auth.fetch("/api/me")).status;
        auth.free();
      } catch (error) {
        outcome[name] = `${error.code ?? error.name}: ${error.message}`;
      }
    }
    return { distinct: first !== second, ...outcome };
  });
  assert.deepEqual(result, { distinct: true, first: 200, second: 200 });
});

test("a core text altered on its way (a minifier, a wrong charset) is refused, not run", async () => {
  const altered = join(root, "target/pkg-altered");
  rmSync(altered, { recursive: true, force: true });
  mkdirSync(altered, { recursive: true });
  const source = readFileSync(join(root, "pkg/index.js"), "utf8");
  // One character in the middle of the core's text (esbuild's section for it), changed.
  const section = source.indexOf("// core-wasm:core-wasm");
  assert.ok(section > 0, "the bundle has the core's text where bundle-driver.mjs puts it");
  const at = source.indexOf("\n", section) + 4000;
  const changed = source[at] === "a" ? "b" : "a";
  assert.ok(/[A-Za-z0-9]/.test(source[at]), `a plain character to change: ${JSON.stringify(source[at])}`);
  writeFileSync(join(altered, "index.js"), source.slice(0, at) + changed + source.slice(at + 1));
  const result = await inPage(["--www-dir", join(root, "tests/e2e/fixtures/page"), "--pkg-dir", altered], async () => {
    const { default: init, AuthClient } = await import("/pkg/index.js");
    let loaded;
    try {
      await init();
      loaded = "resolved";
    } catch (error) {
      loaded = error.message;
    }
    try {
      new AuthClient();
      return { loaded, made: true };
    } catch (error) {
      return { loaded, code: error.code, message: error.message };
    }
  });
  assert.match(result.loaded, /altered/);
  assert.equal(result.code, "invalid_config");
  assert.match(result.message, /could not be started in this page: the core's text was altered/);
});

test("where a Content-Security-Policy forbids WebAssembly, the import does not throw; init() and the constructor say why", async () => {
  const www = join(root, "target/pkg-csp-www");
  rmSync(www, { recursive: true, force: true });
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, "index.html"), `<!doctype html>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="script-src 'self'">
<title>no wasm-unsafe-eval</title>
`);
  const result = await inPage(["--www-dir", www, "--pkg-dir", join(root, "pkg")], async () => {
    const { default: init, AuthClient, AuthError } = await import("/pkg/index.js");
    let loaded;
    try {
      await init();
      loaded = "resolved";
    } catch (error) {
      loaded = error.name;
    }
    let made;
    try {
      new AuthClient();
      made = "made";
    } catch (error) {
      made = { isAuthError: error instanceof AuthError, code: error.code, message: error.message, cause: error.cause?.name };
    }
    return { loaded, made };
  });
  assert.equal(result.loaded, "CompileError");
  assert.equal(result.made.isAuthError, true);
  assert.equal(result.made.code, "invalid_config");
  assert.match(result.made.message, /wasm-unsafe-eval/);
  assert.equal(result.made.cause, "CompileError");
});
