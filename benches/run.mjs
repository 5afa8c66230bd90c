// Benchmarks authfetch against the alternatives in one run, in each browser engine against the
// reference server (release build) on 127.0.0.1. Prints figures and writes them to
// target/bench-results/run.json (Chromium, for benches/chart.mjs) and run-<engine>.json; never
// passes or fails on time. Chromium runs every measurement; Firefox and WebKit run per-request
// overhead, the 401 path and start-up, each against its own native-fetch floor.
// Run after ./scripts/build-package:  node benches/run.mjs [--quick] [--startup-only] [--engines=chromium,firefox,webkit]
// AUTHFETCH_PKG=<dir> measures another build of the package (before/after comparisons).
// AUTHFETCH_BASELINE_PKG=<dir> is the build start-up is compared with in the same run (default:
// target/baseline/web when it exists; without one, start-up is measured alone).
import { spawnSync } from "node:child_process";
import { mkdirSync, cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = new URL("../", import.meta.url).pathname;
const quick = process.argv.includes("--quick");
// Start-up alone, for a quick before/after of what the module costs to load.
const startupOnly = process.argv.includes("--startup-only");

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
    const file = (engine === "chromium" ? "run" : `run-${engine}`) + (startupOnly ? "-startup" : "");
    const out = process.env.AUTHFETCH_PKG ? `${file}-other-package.json` : `${file}.json`;
    rows.push({ engine, ...JSON.parse(readFileSync(join(root, "target/bench-results", out), "utf8")) });
  }
  console.log("\nPer engine, each against its own floor in the same run");
  console.log("engine     browser               floor µs  authfetch µs  ratio   401 path adds ms  start-up ms  vs baseline");
  for (const { engine, browserVersion, perRequest, refreshPath, startup } of rows) {
    if (!perRequest) {
      console.log(`${engine.padEnd(11)}${String(browserVersion).padEnd(22)}${"start-up only".padStart(38)}${startup.ms.total.toFixed(1).padStart(27)}  ${(startup.ratio ? `${startup.ratio.total.toFixed(2)}x` : "-").padStart(11)}`);
      continue;
    }
    const floor = perRequest.micros.native;
    const own = perRequest.micros.authfetch;
    const versus = startup.ratio ? `${startup.ratio.total.toFixed(2)}x` : "-";
    console.log(`${engine.padEnd(11)}${String(browserVersion).padEnd(22)}${floor.toFixed(0).padStart(8)}  ${own.toFixed(0).padStart(12)}  ${(own / floor).toFixed(3)}  ${refreshPath.ms.authfetch.added.toFixed(1).padStart(16)}  ${startup.ms.total.toFixed(1).padStart(11)}  ${versus.padStart(11)}`);
  }
  process.exit(0);
}
const engine = process.env.AUTHFETCH_BENCH_ENGINE;
// Storms and tabs are about the logic, which is the same in every engine: Chromium only.
const everything = engine === "chromium";
// "steps" is a reference, not a client: per request only.
const CLIENTS = ["native", "steps", "authfetch", "axios", "ky"];
const REFRESHING = CLIENTS.filter((c) => c !== "native" && c !== "steps");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// The lifetime tokens get outside the expiry storms (the server's --access-ttl).
const LONG_TTL = 86400;
const LABELS = { native: "fetch, header by hand (floor)", steps: "fetch, authfetch's platform steps", authfetch: "authfetch", axios: "axios + axios-auth-refresh", ky: "ky with a refresh hook" };

// The server an app would deploy: the release build.
const cargo = spawnSync("cargo", ["build", "-p", "authfetch-server", "--release", "--locked", "--quiet"], { cwd: root, stdio: "inherit" });
if (cargo.status !== 0) process.exit(1);
process.env.AUTHFETCH_SERVER_BIN ??= join(root, "target/release/authfetch-server");
const { launchBrowser, startServer } = await import("../tests/e2e/support.mjs");

const pkg = process.env.AUTHFETCH_PKG ?? join(root, "pkg");
// A build elsewhere may be replacing pkg/ this moment: give it a little while.
for (let waited = 0; !existsSync(join(pkg, "index.js")); waited += 10) {
  if (waited >= 180) throw new Error(`no package in ${pkg}: run ./scripts/build-package`);
  console.log(`waiting for ${pkg} ...`);
  await sleep(10_000);
}
const defaultBaseline = join(root, "target/baseline/web");
const baselinePkg = process.env.AUTHFETCH_BASELINE_PKG ?? (existsSync(defaultBaseline) ? defaultBaseline : undefined);
const baseline = baselinePkg && existsSync(join(baselinePkg, "index.js")) ? baselinePkg : undefined;
const www = join(root, "target/bench-www");
rmSync(www, { recursive: true, force: true });
mkdirSync(join(www, "startup"), { recursive: true });
cpSync(join(root, "benches/page"), www, { recursive: true });
// The package as it is now, copied, so a rebuild of pkg/ during the run changes nothing here.
const served = join(root, "target/bench-pkg");
rmSync(served, { recursive: true, force: true });
cpSync(pkg, served, { recursive: true });
await build({ entryPoints: [join(root, "benches/page/libs.js")], outfile: join(www, "libs.bundle.js"), bundle: true, minify: true, format: "esm", logLevel: "silent" });
// For start-up, authfetch as an app ships it: an app entry bundled with the package into one
// minified module (the wasm inside it; a baseline build's beside it). The entry first imports a marker that records when the
// bundle's own code starts evaluating, so what the browser spends getting a module (the same
// for any module; the empty-module import shows it) is left out of the breakdown.
const startupPackages = [{ key: "pkg", dir: served }];
if (baseline) startupPackages.push({ key: "baseline", dir: baseline });
writeFileSync(join(www, "startup/mark.js"), "globalThis.startupT0 = performance.now();\n");
for (const { key, dir } of startupPackages) {
  mkdirSync(join(www, "startup", key), { recursive: true });
  const entry = [
    `import "./mark.js";`,
    `import init, { AuthClient } from ${JSON.stringify(join(dir, "index.js"))};`,
    `const t1 = performance.now();`,
    `await init();`,
    `const t2 = performance.now();`,
    `globalThis.startupClient = new AuthClient();`,
    `const t3 = performance.now();`,
    `globalThis.startupTimes = { t0: globalThis.startupT0, t1, t2, t3 };`,
  ].join("\n");
  await build({
    stdin: { contents: entry, resolveDir: join(www, "startup"), loader: "js" },
    outfile: join(www, "startup", key, "app.js"),
    bundle: true, minify: true, format: "esm", platform: "browser", logLevel: "silent",
  });
  // A build from before the core was bundled into the module loads it from a file beside it.
  const wasm = join(dir, "authfetch_bg.wasm");
  if (existsSync(wasm)) cpSync(wasm, join(www, "startup", key, "authfetch_bg.wasm"));
}
writeFileSync(join(www, "startup/empty.js"), "export default 1;\n");

// Tokens outlive the run: the floor client has no refresh logic; the 401 rows, storms and tabs
// invalidate tokens with rotate-secret instead. Static files are cached as a deployment with
// content-hashed assets would have them.
const server = await startServer(["--test-mode", "--access-ttl", String(LONG_TTL), "--static-max-age", "3600", "--www-dir", www, "--pkg-dir", served]);
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
  if (!startupOnly) {
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
      // N concurrent calls, each cell on a fresh page and session: (a) with a valid token; (b)
      // after the token expired by its lifetime (signed in while tokens lived 1 s, then waited
      // past its expiry at the client and the server, so the client knows it must refresh before
      // sending; the refresh brings a long-lived token); (c) after every held token was
      // invalidated server-side (rotate-secret: 401s). (b) is authfetch's alone: the others only
      // notice a token's end by its 401. Each cell runs a few times, interleaved; medians.
      const STORMS = quick ? [10, 100] : [10, 100, 1000];
      const STORM_RUNS = 3;
      const KINDS = ["valid", "expired", "401"];
      const KIND_LABELS = { valid: "a valid token", expired: "b expired by lifetime", 401: "c invalidated (401s)" };
      const kindsOf = (name) => (name === "authfetch" ? KINDS : KINDS.filter((k) => k !== "expired"));
      const cells = new Map();
      const cellKey = (name, n, kind) => `${name} ${n} ${kind}`;
      for (let run = 0; run < STORM_RUNS; run++) {
        for (const n of STORMS) {
          for (const name of REFRESHING) {
            for (const kind of kindsOf(name)) {
              await control("/auth/test/reset");
              if (kind === "expired") await control("/auth/test/config", { access_ttl: 1 });
              await browser.context.clearCookies();
              const stormPage = await freshPage();
              await stormPage.evaluate(async (name) => { window.client = await window.clients[name](); }, name);
              const signedIn = Date.now();
              if (kind === "expired") {
                await control("/auth/test/config", { access_ttl: LONG_TTL });
                // The token's exp is in whole seconds, issued before signedIn: 1 s of life is
                // over at the client, and at the server (exp = floor(now) + 1), within 2 s.
                await sleep(signedIn + 2100 - Date.now());
              }
              if (kind === "401") await control("/auth/test/rotate-secret");
              const row = await counted(() => stormPage.evaluate(async (n) => {
                const started = performance.now();
                const statuses = await Promise.all(Array.from({ length: n }, () => window.client.get("/api/ping").catch(() => 0)));
                return { ms: performance.now() - started, ok: statuses.filter((s) => s === 200).length };
              }, n));
              await stormPage.close();
              const key = cellKey(name, n, kind);
              if (!cells.has(key)) cells.set(key, []);
              cells.get(key).push(row);
            }
          }
        }
      }
      // A count that differs between runs is shown run by run.
      const runsOf = (rows, field) => {
        const values = rows.map((r) => r[field]);
        return values.every((v) => v === values[0]) ? String(values[0]) : values.join("/");
      };
      results.storms = [];
      results.stormRatios = [];
      console.log(`\nStorms: N concurrent calls (a) with a valid token, (b) after the token expired by its lifetime, (c) after every held token was invalidated (401s); fresh page and session each, median of ${STORM_RUNS} runs (ms), counts run by run where they differ`);
      console.log("client                              N     calls after              ms  (min-max)       vs (a)  refreshes  reuse  401s served  answered 200");
      for (const n of STORMS) {
        for (const name of REFRESHING) {
          let valid;
          for (const kind of kindsOf(name)) {
            const rows = cells.get(cellKey(name, n, kind));
            const times = rows.map((r) => r.ms);
            const ms = median(times);
            if (kind === "valid") valid = ms;
            results.storms.push({
              client: name, n, kind, ms, runs: rows,
              // For the chart: the worst of the runs.
              refreshes: Math.max(...rows.map((r) => r.refreshes)),
              reuse: Math.max(...rows.map((r) => r.reuse)),
              unauthorized: Math.max(...rows.map((r) => r.unauthorized)),
              ok: Math.min(...rows.map((r) => r.ok)),
            });
            const spread = `(${Math.min(...times).toFixed(0)}-${Math.max(...times).toFixed(0)})`;
            const first = kind === "valid" ? `${LABELS[name].padEnd(36)}${String(n).padStart(4)}` : " ".repeat(40);
            console.log(`${first}  ${KIND_LABELS[kind].padEnd(21)}${ms.toFixed(1).padStart(8)}  ${spread.padEnd(13)}  ${(ms / valid).toFixed(2).padStart(6)}  ${runsOf(rows, "refreshes").padStart(9)}  ${runsOf(rows, "reuse").padStart(5)}  ${runsOf(rows, "unauthorized").padStart(11)}  ${runsOf(rows, "ok").padStart(12)}`);
          }
          const of = (kind) => results.storms.find((r) => r.client === name && r.n === n && r.kind === kind)?.ms;
          results.stormRatios.push({
            client: name, n, valid,
            ...(of("expired") !== undefined ? { expired: of("expired"), expiredRatio: of("expired") / valid } : {}),
            unauthorized: of("401"), unauthorizedRatio: of("401") / valid,
          });
        }
      }
      const ours = results.stormRatios.filter((r) => r.client === "authfetch");
      console.log(`authfetch, after expiry / valid token (the issue's target: at most 1.5): ${ours.map((r) => `N=${r.n} ${r.expiredRatio.toFixed(2)}`).join(", ")}`);
      console.log(`authfetch, after 401s / valid token: ${ours.map((r) => `N=${r.n} ${r.unauthorizedRatio.toFixed(2)}`).join(", ")}`);

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

  }

  // ---- start-up --------------------------------------------------------------------------
  // Each package bundled into an app (see the top), in fresh pages, all files from the HTTP
  // cache, the package under test and the baseline build interleaved load by load (the order
  // alternating). Times from the bundle's first statement: the SDK's evaluation, init() (the
  // wasm from the cache, compiled, instantiated), new AuthClient(). Also, as before, from
  // `import()` to a usable client, beside the import of an empty module (what any import
  // costs here). performance.now() is coarsened to 0.1 ms in these pages: medians of many.
  const LOADS = quick ? 15 : 50;
  const FIELDS = ["sdk", "init", "construct", "total", "importToClient", "empty"];
  if (!baseline) {
    console.log(`\nnote: no baseline build at ${baselinePkg ?? defaultBaseline} (AUTHFETCH_BASELINE_PKG): start-up is measured without a comparison`);
  }
  const loaded = Object.fromEntries(startupPackages.map(({ key }) => [key, Object.fromEntries(FIELDS.map((f) => [f, []]))]));
  const load = async (key) => {
    const blank = await browser.context.newPage();
    await blank.goto(`${server.url}/blank.html`); // a page without the benchmark's own imports
    const row = await blank.evaluate(async (key) => {
      const a = performance.now();
      await import("/startup/empty.js");
      const b = performance.now();
      await import(`/startup/${key}/app.js`);
      const { t0, t1, t2, t3 } = globalThis.startupTimes;
      return { empty: b - a, importToClient: t3 - b, sdk: t1 - t0, init: t2 - t1, construct: t3 - t2, total: t3 - t0 };
    }, key);
    await blank.close();
    return row;
  };
  for (const { key } of startupPackages) await load(key); // into the HTTP cache
  for (let i = 0; i < LOADS; i++) {
    const order = i % 2 === 0 ? startupPackages : [...startupPackages].reverse();
    for (const { key } of order) {
      const row = await load(key);
      for (const field of FIELDS) loaded[key][field].push(row[field]);
    }
  }
  const medians = (key) => Object.fromEntries(FIELDS.map((f) => [f, median(loaded[key][f])]));
  const s = medians("pkg");
  results.startup = { loads: LOADS, ms: s };
  if (baseline) {
    const b = medians("baseline");
    results.startup.baseline = { pkg: baseline, ms: b };
    results.startup.ratio = Object.fromEntries(FIELDS.map((f) => [f, b[f] > 0 ? s[f] / b[f] : null]));
  }
  const base = results.startup.baseline?.ms;
  const ratio = results.startup.ratio;
  console.log(`\nStart-up, bundled, files from the HTTP cache, median of ${LOADS} fresh pages per package${baseline ? " (interleaved)" : ""} (ms)`);
  console.log(`                                        this build${baseline ? "   baseline   this / baseline" : ""}`);
  const startupRows = [
    ["sdk", "SDK evaluation"],
    ["init", "init(): wasm from cache, compile, inst."],
    ["construct", "new AuthClient()"],
    ["total", "total, bundle's first statement to client"],
    ["importToClient", "import() to a usable client"],
    ["empty", "import() of an empty module"],
  ];
  for (const [field, label] of startupRows) {
    const versus = baseline ? `${base[field].toFixed(1).padStart(11)}   ${ratio[field] === null ? "-" : ratio[field].toFixed(2)}` : "";
    console.log(`${label.padEnd(42)}${s[field].toFixed(1).padStart(8)}${versus}`);
  }
  if (baseline) console.log(`baseline: ${baseline}; the issue's target for the total: at most 0.3 of the baseline`);

  mkdirSync(join(root, "target/bench-results"), { recursive: true });
  // The chart draws run.json: the package as built here, not another build.
  // A start-up-only run leaves the full run's figures (which benches/chart.mjs draws) alone.
  const file = (engine === "chromium" ? "run" : `run-${engine}`) + (startupOnly ? "-startup" : "");
  const out = process.env.AUTHFETCH_PKG ? `${file}-other-package.json` : `${file}.json`;
  writeFileSync(join(root, "target/bench-results", out), JSON.stringify({ ...results, pkg, baselinePkg: baseline ?? null }, null, 2));
  console.log(`\nwritten: target/bench-results/${out}`);
} finally {
  await browser.close();
  await server.stop();
}
