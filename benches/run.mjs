// Benchmarks authfetch against the alternatives in one run, in Debian's Chromium against the
// reference server on 127.0.0.1. Prints figures; never passes or fails on time.
// Run after ./scripts/build-package:  node benches/run.mjs [--quick]
import { mkdirSync, cpSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { launchChromium, startServer } from "../tests/e2e/support.mjs";

const root = new URL("../", import.meta.url).pathname;
const quick = process.argv.includes("--quick");
const CLIENTS = ["native", "authfetch", "axios", "ky"];
const LABELS = { native: "fetch, header by hand (floor)", authfetch: "authfetch", axios: "axios + axios-auth-refresh", ky: "ky with a refresh hook" };

const www = join(root, "target/bench-www");
mkdirSync(www, { recursive: true });
cpSync(join(root, "benches/page"), www, { recursive: true });
await build({ entryPoints: [join(root, "benches/page/libs.js")], outfile: join(www, "libs.bundle.js"), bundle: true, minify: true, format: "esm", logLevel: "silent" });

// Tokens outlive the run: the floor client has no refresh logic; storms invalidate tokens
// with rotate-secret instead.
const server = await startServer(["--test-mode", "--access-ttl", "86400", "--www-dir", www, "--pkg-dir", join(root, "pkg/web")]);
const browser = await launchChromium();
const { control, stats } = server;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function freshPage() {
  await browser.context.clearCookies();
  const page = await browser.context.newPage();
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => window.ready === true);
  return page;
}

// ---- per-request overhead --------------------------------------------------------------
const REQUESTS = quick ? 300 : 2000;
const ROUNDS = quick ? 3 : 7;
const perRequest = Object.fromEntries(CLIENTS.map((c) => [c, []]));
{
  await control("/auth/test/reset");
  const page = await freshPage();
  await page.evaluate(async (names) => {
    window.made = {};
    for (const name of names) window.made[name] = await window.clients[name]();
  }, CLIENTS);
  for (let round = 0; round < ROUNDS; round++) {
    // Interleaved, in a rotating order, so drift in the machine affects every client alike.
    const order = CLIENTS.map((_, i) => CLIENTS[(i + round) % CLIENTS.length]);
    for (const name of order) {
      const micros = await page.evaluate(async ({ name, count }) => {
        const client = window.made[name];
        for (let i = 0; i < 20; i++) await client.get("/api/ping"); // warm up
        const started = performance.now();
        for (let i = 0; i < count; i++) {
          const status = await client.get("/api/ping");
          if (status !== 200) throw new Error(`${name}: ${status}`);
        }
        return ((performance.now() - started) * 1000) / count;
      }, { name, count: REQUESTS });
      perRequest[name].push(micros);
    }
  }
  await page.close();
}
const floor = median(perRequest.native);
console.log(`\nPer-request time, ${REQUESTS} sequential GET /api/ping, median of ${ROUNDS} interleaved rounds`);
console.log("client                              µs/request   ratio to the floor");
for (const name of CLIENTS) {
  const m = median(perRequest[name]);
  console.log(`${LABELS[name].padEnd(36)}${m.toFixed(0).padStart(10)}   ${(m / floor).toFixed(3)}`);
}

// ---- refresh storms ----------------------------------------------------------------------
const STORMS = quick ? [1, 10, 100] : [1, 10, 100, 1000];
console.log("\nRefresh storm: N concurrent calls after every held token was invalidated (401s)");
console.log("client                              N      refreshes  reuse detections  answered 200  ms to settle");
for (const n of STORMS) {
  for (const name of CLIENTS.filter((c) => c !== "native")) {
    await control("/auth/test/reset");
    const page = await freshPage();
    await page.evaluate(async (name) => { window.client = await window.clients[name](); }, name);
    await control("/auth/test/rotate-secret");
    const before = await stats();
    const result = await page.evaluate(async (n) => {
      const started = performance.now();
      const statuses = await Promise.all(Array.from({ length: n }, () => window.client.get("/api/ping").catch(() => 0)));
      return { ms: performance.now() - started, ok: statuses.filter((s) => s === 200).length };
    }, n);
    const after = await stats();
    const refreshes = after.refresh_calls - before.refresh_calls;
    const reuse = after.reuse_detections - before.reuse_detections;
    console.log(`${LABELS[name].padEnd(36)}${String(n).padStart(4)}  ${String(refreshes).padStart(9)}  ${String(reuse).padStart(16)}  ${String(result.ok).padStart(12)}  ${result.ms.toFixed(0).padStart(12)}`);
    await page.close();
  }
}

// ---- start-up ---------------------------------------------------------------------------
const LOADS = quick ? 10 : 50;
const startups = [];
for (let i = 0; i < LOADS; i++) {
  const page = await browser.context.newPage();
  await page.goto(`${server.url}/blank`); // a page without the benchmark's own imports
  startups.push(await page.evaluate(async () => {
    const started = performance.now();
    const module = await import("/pkg/index.js");
    await module.default();
    new module.AuthClient();
    return performance.now() - started;
  }));
  await page.close();
}
console.log(`\nStart-up, import to a usable client (wasm fetched from the HTTP cache after the first load), median of ${LOADS} fresh pages: ${median(startups).toFixed(1)} ms (first load ${startups[0].toFixed(1)} ms)`);

await browser.close();
await server.stop();
