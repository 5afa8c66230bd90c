// Where authfetch's time per call goes, without the network: fetch is replaced by one that
// answers at once from memory (before authfetch captures it), so only the client's own work
// is timed. Prints µs per call against the same stub called with the header set by hand, then
// the functions with the most self time in a DevTools CPU profile of authfetch's loop.
// A profiling aid, not a benchmark of the product: the network is what apps wait on.
// Run after ./scripts/build-package:  node benches/profile.mjs [--names]
//   --names: profile the same wasm with its function names kept (wasm-bindgen without
//            --remove-name-section, no wasm-opt), so the profile names Rust functions.
//   AUTHFETCH_PKG=<dir>: profile another build of the package.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { launchChromium, startServer } from "../tests/e2e/support.mjs";

const root = new URL("../", import.meta.url).pathname;
const www = join(root, "target/bench-www");
mkdirSync(www, { recursive: true });
cpSync(join(root, "benches/page"), www, { recursive: true });
let pkg = process.env.AUTHFETCH_PKG ?? join(root, "pkg");
if (process.argv.includes("--names")) {
  const named = join(root, "target/bench-named-pkg");
  // The same driver bundled with a named wasm: wasm-bindgen keeps the name section, and the
  // unused runtime is cut as scripts/build-package cuts it (the driver provides no import).
  execFileSync("wasm-bindgen", ["--target", "web", "--out-dir", named, "--out-name", "authfetch", join(root, "target/wasm32-unknown-unknown/release/authfetch.wasm")]);
  execFileSync(process.execPath, [join(root, "scripts/cut-runtime.mjs"), join(named, "authfetch_bg.wasm"), join(named, "core.wasm")]);
  execFileSync(process.execPath, [join(root, "scripts/bundle-driver.mjs"), join(named, "core.wasm"), join(named, "index.js")]);
  pkg = named;
}

const server = await startServer(["--test-mode", "--www-dir", www, "--pkg-dir", pkg]);
const browser = await launchChromium();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
try {
  const page = await browser.context.newPage();
  page.on("pageerror", (error) => console.log("page error:", error.message));
  await page.goto(`${server.url}/overhead.html`);
  await page.waitForFunction(() => window.ready === true);
  const CALLS = 20000;
  const ROUNDS = 7;
  const times = { native: [], authfetch: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of round % 2 ? ["authfetch", "native"] : ["native", "authfetch"]) {
      times[name].push(await page.evaluate(async ({ name, calls }) => {
        const call = window.clients[name];
        for (let i = 0; i < 200; i++) await call();
        const started = performance.now();
        for (let i = 0; i < calls; i++) await call();
        return ((performance.now() - started) * 1000) / calls;
      }, { name, calls: CALLS }));
    }
  }
  const floor = median(times.native);
  const ours = median(times.authfetch);
  console.log(`Without the network, ${CALLS} sequential calls, median of ${ROUNDS} rounds:`);
  console.log(`  stubbed fetch, header by hand  ${floor.toFixed(2).padStart(7)} µs/call`);
  console.log(`  authfetch                      ${ours.toFixed(2).padStart(7)} µs/call  (+${(ours - floor).toFixed(2)} µs)`);

  const cdp = await browser.context.newCDPSession(page);
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 50 });
  await cdp.send("Profiler.start");
  await page.evaluate(async (calls) => {
    for (let i = 0; i < calls; i++) await window.clients.authfetch();
  }, CALLS);
  const { profile } = await cdp.send("Profiler.stop");
  const self = new Map();
  const dt = new Map();
  profile.samples.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  let total = 0;
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || "(anonymous)"} ${url.split("/").pop()}:${lineNumber + 1}`;
    const micros = dt.get(node.id) ?? 0;
    total += micros;
    self.set(key, (self.get(key) ?? 0) + micros);
  }
  console.log(`\nSelf time in authfetch's loop (CPU profile, ${(total / 1000).toFixed(0)} ms sampled):`);
  for (const [key, micros] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.log(`  ${((100 * micros) / total).toFixed(1).padStart(5)}%  ${key}`);
  }
} finally {
  await browser.close();
  await server.stop();
}
