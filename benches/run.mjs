// Benchmarks authfetch against the alternatives in one run, in each browser engine against the
// reference server (release build) on 127.0.0.1. Prints figures and writes them to
// target/bench-results/run.json (Chromium, for benches/chart.mjs) and run-<engine>.json; never
// passes or fails on time. Chromium runs every measurement; Firefox and WebKit run per-request
// overhead, the 401 path and start-up, each against its own native-fetch floor.
// Run after ./scripts/build-package:  node benches/run.mjs [--quick] [--engines=chromium,firefox,webkit]
// AUTHFETCH_PKG=<dir> measures another build of the web flavour (before/after comparisons).
import { spawnSync } from "node:child_process";
import { mkdirSync, cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = new URL("../", import.meta.url).pathname;
const quick = process.argv.includes("--quick");

// One process per engine (the engine is fixed when tests/e2e/support.mjs loads), then the
// figures side by side.
if (!process.env.AUTHFETCH_BENCH_ENGINE) {
  const named = process.argv.find((arg) => arg.startsWith("--engines="));
  const engines = (named ? named.slice("--engines=".length) : "chromium,firefox,webkit").split(",");
  const rows = [];
  for (const engine of engines) {
    console.log(`\n======== ${engine} ========`);
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
      stdio: "inherit",
      env: { ...process.env, AUTHFETCH_ENGINE: engine, AUTHFETCH_BENCH_ENGINE: engine },
    });
    if (child.status !== 0) process.exit(child.status ?? 1);
    const file = engine === "chromium" ? "run" : `run-${engine}`;
    const out = process.env.AUTHFETCH_PKG ? `${file}-other-package.json` : `${file}.json`;
    rows.push({ engine, ...JSON.parse(readFileSync(join(root, "target/bench-results", out), "utf8")) });
  }
  console.log("\nPer engine, each against its own floor in the same run");
  console.log("engine     browser               floor µs  authfetch µs  ratio   401 path adds ms  start-up ms");
  for (const { engine, browserVersion, perRequest, refreshPath, startup } of rows) {
    const floor = perRequest.micros.native;
    const own = perRequest.micros.authfetch;
    console.log(`${engine.padEnd(11)}${String(browserVersion).padEnd(22)}${floor.toFixed(0).padStart(8)}  ${own.toFixed(0).padStart(12)}  ${(own / floor).toFixed(3)}  ${refreshPath.ms.authfetch.added.toFixed(1).padStart(16)}  ${startup.ms.total.toFixed(1).padStart(11)}`);
  }
  process.exit(0);
}
const engine = process.env.AUTHFETCH_BENCH_ENGINE;
// Storms and tabs are about the logic, which is the same in every engine: Chromium only.
const everything = engine === "chromium";
const CLIENTS = ["native", "authfetch", "axios", "ky"];
const REFRESHING = CLIENTS.filter((c) => c !== "native");
const LABELS = { native: "fetch, header by hand (floor)", authfetch: "authfetch", axios: "axios + axios-auth-refresh", ky: "ky with a refresh hook" };

// The server an app would deploy: the release build.
const cargo = spawnSync("cargo", ["build", "-p", "authfetch-server", "--release", "--locked", "--quiet"], { cwd: root, stdio: "inherit" });
if (cargo.status !== 0) process.exit(1);
process.env.AUTHFETCH_SERVER_BIN ??= join(root, "target/release/authfetch-server");
const { launchBrowser, startServer } = await import("../tests/e2e/support.mjs");

const pkg = process.env.AUTHFETCH_PKG ?? join(root, "pkg");
const www = join(root, "target/bench-www");
mkdirSync(join(www, "startup"), { recursive: true });
cpSync(join(root, "benches/page"), www, { recursive: true });
await build({ entryPoints: [join(root, "benches/page/libs.js")], outfile: join(www, "libs.bundle.js"), bundle: true, minify: true, format: "esm", logLevel: "silent" });
// For start-up, authfetch as an app ships it: bundled into one minified module beside its wasm.
await build({ entryPoints: [join(pkg, "index.js")], outfile: join(www, "startup/authfetch.js"), bundle: true, minify: true, format: "esm", logLevel: "silent" });
cpSync(join(pkg, "authfetch_bg.wasm"), join(www, "startup/authfetch_bg.wasm"));
writeFileSync(join(www, "startup/empty.js"), "export default 1;\n");

// Tokens outlive the run: the floor client has no refresh logic; the 401 rows, storms and tabs
// invalidate tokens with rotate-secret instead. Static files are cached as a deployment with
// content-hashed assets would have them.
const server = await startServer(["--test-mode", "--access-ttl", "86400", "--static-max-age", "3600", "--www-dir", www, "--pkg-dir", pkg]);
const browser = await launchBrowser();
const { control, stats } = server;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = { quick, date: new Date().toISOString(), labels: LABELS, engine };

async function freshPage() {
  const page = await browser.context.newPage();
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => window.ready === true);
  return page;
}

async function counted(work) {
  const before = await stats();
  const result = await work();
  const after = await stats();
  const delta = (field) => after[field] - before[field];
  return { ...result, refreshes: delta("refresh_calls"), reuse: delta("reuse_detections"), unauthorized: delta("unauthorized_served") };
}

try {
  // ---- per-request overhead ------------------------------------------------------------
  const REQUESTS = quick ? 300 : 2000;
  const ROUNDS = quick ? 3 : 7;
  const perRequest = Object.fromEntries(CLIENTS.map((c) => [c, []]));
  await control("/auth/test/reset");
  await browser.context.clearCookies();
  const page = await freshPage();
  results.browserVersion = await page.evaluate(() => /(Chrome|Firefox|Version)\/[\d.]+/.exec(navigator.userAgent)?.[0]);
  await page.evaluate(async (names) => {
    window.made = {};
    for (const name of names) window.made[name] = await window.clients[name]();
  }, CLIENTS);
  for (let round = 0; round < ROUNDS; round++) {
    // Interleaved request by request, in a rotating order, so drift in the machine (other
    // processes, the browser's own housekeeping) affects every client alike.
    const micros = await page.evaluate(async ({ names, count }) => {
      const spent = Object.fromEntries(names.map((name) => [name, 0]));
      for (const name of names) for (let i = 0; i < 20; i++) await window.made[name].get("/api/ping"); // warm up
      for (let i = 0; i < count; i++) {
        for (let j = 0; j < names.length; j++) {
          const name = names[(i + j) % names.length];
          const started = performance.now();
          const status = await window.made[name].get("/api/ping");
          spent[name] += performance.now() - started;
          if (status !== 200) throw new Error(`${name}: ${status}`);
        }
      }
      return Object.fromEntries(names.map((name) => [name, (spent[name] * 1000) / count]));
    }, { names: CLIENTS, count: REQUESTS });
    for (const name of CLIENTS) perRequest[name].push(micros[name]);
  }
  const floor = median(perRequest.native);
  results.perRequest = { requests: REQUESTS, rounds: ROUNDS, micros: {}, ratio: {} };
  console.log(`\nPer-request time, ${REQUESTS} sequential GET /api/ping per client and round (interleaved), median of ${ROUNDS} rounds`);
  console.log("client                              µs/request   ratio to the floor");
  for (const name of CLIENTS) {
    const m = median(perRequest[name]);
    results.perRequest.micros[name] = m;
    results.perRequest.ratio[name] = m / floor;
    console.log(`${LABELS[name].padEnd(36)}${m.toFixed(0).padStart(10)}   ${(m / floor).toFixed(3)}`);
  }

  // ---- the 401 path ----------------------------------------------------------------------
  // One call whose token the server no longer accepts: 401, refresh, retry. Against the same
  // client's call with a valid token, interleaved; the difference is what the 401 path adds.
  const REPS = quick ? 7 : 31;
  const times = Object.fromEntries(REFRESHING.map((c) => [c, { valid: [], expired: [] }]));
  for (let rep = 0; rep < REPS; rep++) {
    for (const name of REFRESHING) {
      const time = () => page.evaluate(async (name) => {
        const started = performance.now();
        const status = await window.made[name].get("/api/ping");
        if (status !== 200) throw new Error(`${name}: ${status}`);
        return performance.now() - started;
      }, name);
      await control("/auth/test/rotate-secret");
      times[name].expired.push(await time());
      times[name].valid.push(await time()); // the token the 401 path just brought
    }
  }
  await page.close();
  // Proactive: authfetch knows the token is about to expire and refreshes before sending, so
  // the API never answers 401. Tokens live 2 s here; authfetch's leeway (at most half a
  // token's life) makes it refresh first once 1 s has passed.
  const proactive = [];
  {
    await control("/auth/test/reset");
    await control("/auth/test/config", { access_ttl: 2 });
    await browser.context.clearCookies();
    const ahead = await freshPage();
    await ahead.evaluate(async () => { window.client = await window.clients.authfetch(); });
    for (let rep = 0; rep < REPS; rep++) {
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const { ms, refreshes, unauthorized } = await counted(async () => ({
        ms: await ahead.evaluate(async () => {
          const started = performance.now();
          const status = await window.client.get("/api/ping");
          if (status !== 200) throw new Error(`proactive: ${status}`);
          return performance.now() - started;
        }),
      }));
      if (refreshes !== 1 || unauthorized !== 0) throw new Error(`proactive: ${refreshes} refreshes, ${unauthorized} 401s`);
      proactive.push(ms);
    }
    await ahead.close();
    await control("/auth/test/reset");
  }
  results.refreshPath = { reps: REPS, ms: {} };
  console.log(`\nThe refresh path, one call, median of ${REPS} (ms)`);
  console.log("client                              valid token   401, refresh, retry   added by the 401 path");
  for (const name of REFRESHING) {
    const valid = median(times[name].valid);
    const expired = median(times[name].expired);
    results.refreshPath.ms[name] = { valid, expired, added: expired - valid };
    console.log(`${LABELS[name].padEnd(36)}${valid.toFixed(1).padStart(11)}   ${expired.toFixed(1).padStart(19)}   ${(expired - valid).toFixed(1).padStart(21)}`);
  }
  results.refreshPath.ms.proactive = median(proactive);
  console.log(`authfetch, proactive (refresh first, no 401): ${median(proactive).toFixed(1)} ms; the others only refresh on a 401`);

  if (everything) {
    // ---- refresh storms --------------------------------------------------------------------
    const STORMS = quick ? [1, 10, 100] : [1, 10, 100, 1000];
    results.storms = [];
    console.log("\nRefresh storm: N concurrent calls after every held token was invalidated (401s)");
    console.log("client                              N      refreshes  reuse detections  answered 200  ms to settle");
    for (const n of STORMS) {
      for (const name of REFRESHING) {
        await control("/auth/test/reset");
        await browser.context.clearCookies();
        const stormPage = await freshPage();
        await stormPage.evaluate(async (name) => { window.client = await window.clients[name](); }, name);
        await control("/auth/test/rotate-secret");
        const row = await counted(() => stormPage.evaluate(async (n) => {
          const started = performance.now();
          const statuses = await Promise.all(Array.from({ length: n }, () => window.client.get("/api/ping").catch(() => 0)));
          return { ms: performance.now() - started, ok: statuses.filter((s) => s === 200).length };
        }, n));
        results.storms.push({ client: name, n, ...row });
        console.log(`${LABELS[name].padEnd(36)}${String(n).padStart(4)}  ${String(row.refreshes).padStart(9)}  ${String(row.reuse).padStart(16)}  ${String(row.ok).padStart(12)}  ${row.ms.toFixed(0).padStart(12)}`);
        await stormPage.close();
      }
    }

    // ---- across tabs -----------------------------------------------------------------------
    // One session, five tabs: the first signs in, the others start from the refresh cookie as a
    // tab opened later does. Every held token is invalidated, then each tab makes one call at
    // the same moment, each racing the others to the same rotating refresh cookie. The race is
    // decided by timing, so it is run several times, each with a new session.
    const TABS = 5;
    const TAB_ROUNDS = quick ? 3 : 10;
    results.tabs = [];
    console.log(`\nAcross tabs: ${TABS} tabs of one session, every token invalidated, one call in each at once; ${TAB_ROUNDS} rounds`);
    console.log("client                              refreshes  reuse detections  calls answered 200  rounds that lost the session");
    for (const name of REFRESHING) {
      const total = { refreshes: 0, reuse: 0, ok: 0, lost: 0 };
      for (let round = 0; round < TAB_ROUNDS; round++) {
        await control("/auth/test/reset");
        await browser.context.clearCookies();
        const tabs = [];
        for (let i = 0; i < TABS; i++) {
          const tab = await freshPage();
          await tab.evaluate(async ({ name, session }) => { window.client = await window.clients[name]({ session }); }, { name, session: i === 0 ? "login" : "refresh" });
          tabs.push(tab);
        }
        await control("/auth/test/rotate-secret");
        const row = await counted(async () => {
          const go = Date.now() + 300;
          const statuses = await Promise.all(tabs.map((tab) => tab.evaluate(async (go) => {
            await new Promise((resolve) => setTimeout(resolve, go - Date.now()));
            return window.client.get("/api/ping").catch(() => 0);
          }, go)));
          return { ok: statuses.filter((s) => s === 200).length };
        });
        total.refreshes += row.refreshes;
        total.reuse += row.reuse;
        total.ok += row.ok;
        total.lost += row.reuse > 0 ? 1 : 0;
        for (const tab of tabs) await tab.close();
      }
      results.tabs.push({ client: name, tabs: TABS, rounds: TAB_ROUNDS, ...total });
      console.log(`${LABELS[name].padEnd(36)}${String(total.refreshes).padStart(9)}  ${String(total.reuse).padStart(16)}  ${`${total.ok}/${TABS * TAB_ROUNDS}`.padStart(18)}  ${`${total.lost}/${TAB_ROUNDS}`.padStart(28)}`);
    }

  }

  // ---- start-up --------------------------------------------------------------------------
  // From `import` to a usable client, in fresh pages, beside the import of an empty module
  // (what any import costs here), with the breakdown.
  const LOADS = quick ? 10 : 50;
  const startup = { empty: [], total: [], importMs: [], initMs: [], constructMs: [] };
  for (let i = 0; i < LOADS; i++) {
    const blank = await browser.context.newPage();
    await blank.goto(`${server.url}/blank.html`); // a page without the benchmark's own imports
    const row = await blank.evaluate(async () => {
      const t0 = performance.now();
      await import("/startup/empty.js");
      const t1 = performance.now();
      const module = await import("/startup/authfetch.js");
      const t2 = performance.now();
      await module.default();
      const t3 = performance.now();
      new module.AuthClient();
      const t4 = performance.now();
      return { empty: t1 - t0, total: t4 - t1, importMs: t2 - t1, initMs: t3 - t2, constructMs: t4 - t3 };
    });
    for (const key of Object.keys(startup)) startup[key].push(row[key]);
    await blank.close();
  }
  results.startup = { loads: LOADS, ms: Object.fromEntries(Object.entries(startup).map(([k, v]) => [k, median(v)])) };
  const s = results.startup.ms;
  console.log(`\nStart-up, import to a usable client, median of ${LOADS} fresh pages (files from the HTTP cache): ${s.total.toFixed(1)} ms`);
  console.log(`  import ${s.importMs.toFixed(1)} ms, init() (wasm compile + instantiate) ${s.initMs.toFixed(1)} ms, new AuthClient() ${s.constructMs.toFixed(1)} ms; importing an empty module: ${s.empty.toFixed(1)} ms`);

  mkdirSync(join(root, "target/bench-results"), { recursive: true });
  // The chart draws run.json: the package as built here, not another build.
  const file = engine === "chromium" ? "run" : `run-${engine}`;
  const out = process.env.AUTHFETCH_PKG ? `${file}-other-package.json` : `${file}.json`;
  writeFileSync(join(root, "target/bench-results", out), JSON.stringify({ ...results, pkg }, null, 2));
  console.log(`\nwritten: target/bench-results/${out}`);
} finally {
  await browser.close();
  await server.stop();
}
