// What a bundle ships, raw, gzip -9 and brotli (quality 11), measured in one run:
//  - authfetch's package as built, pkg/: one module, the driver with the core's wasm inside it
//    (scripts/bundle-driver.mjs), and each part alone for where the bytes go;
//  - side by side with the alternatives a team would otherwise pick, each bundled with
//    `esbuild --bundle --minify` from an entry that imports what an app uses (authfetch's own
//    JavaScript minified the same way, plus its wasm);
//  - the same two figures for a baseline build when there is one (AUTHFETCH_BASELINE_PKG, by
//    default target/baseline/web), for before/after comparisons.
// Run after ./scripts/build-package:  node benches/size.mjs
// Also writes target/bench-results/size.json for benches/chart.mjs.
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = new URL("../", import.meta.url).pathname;

function jsFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return jsFiles(path);
    return name.endsWith(".js") ? [path] : [];
  });
}

function measure(bytes) {
  return {
    raw: bytes.length,
    gzip: gzipSync(bytes, { level: 9 }).length,
    brotli: brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
}

const sum = (a, b) => ({ raw: a.raw + b.raw, gzip: a.gzip + b.gzip, brotli: a.brotli + b.brotli });
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const row = (label, m, extra = "") =>
  `${label.padEnd(34)} ${kb(m.raw).padStart(9)}  ${kb(m.gzip).padStart(9)}  ${kb(m.brotli).padStart(9)}${extra}`;

const pkg = join(root, "pkg");
const defaultBaseline = join(root, "target/baseline/web");
const baselinePkg = process.env.AUTHFETCH_BASELINE_PKG ?? (existsSync(defaultBaseline) ? defaultBaseline : undefined);
const baseline = baselinePkg && existsSync(join(baselinePkg, "index.js")) ? baselinePkg : undefined;

// Written by scripts/bundle-driver.mjs beside the wasm it bundled.
const coreWasm = join(root, "target/package/core.wasm");
const driverOnly = join(root, "target/package/driver-only.js");

/** The package directory as built: its JavaScript and the wasm beside it (a build from before
 *  the core travelled inside the module), or the module with its parts measured alone. */
function asBuilt(dir) {
  const js = measure(Buffer.concat(jsFiles(dir).map((path) => readFileSync(path))));
  const beside = join(dir, "authfetch_bg.wasm");
  if (existsSync(beside)) {
    const wasm = measure(readFileSync(beside));
    return { wasm, js, total: sum(wasm, js) };
  }
  return { wasm: measure(readFileSync(coreWasm)), js: measure(readFileSync(driverOnly)), total: js };
}

console.log("The package as built                raw        gzip -9    brotli");
const built = asBuilt(pkg);
console.log(row("pkg/index.js (driver + core)", built.total));
console.log(row("  the core's .wasm alone", built.wasm));
console.log(row("  the driver alone", built.js));
const builtBaseline = baseline ? asBuilt(baseline) : undefined;
if (builtBaseline) {
  console.log(row("baseline: .wasm", builtBaseline.wasm));
  console.log(row("baseline: JS (glue + entry)", builtBaseline.js));
  console.log(row("baseline: total", builtBaseline.total));
} else {
  console.log(`(no baseline build at ${baselinePkg ?? defaultBaseline}: AUTHFETCH_BASELINE_PKG)`);
}

async function bundle(contents) {
  const result = await build({
    stdin: { contents, resolveDir: root, loader: "js" },
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent",
    // The wasm is measured on its own below; keep esbuild from trying to inline it.
    external: ["*.wasm"],
  });
  return Buffer.from(result.outputFiles[0].contents);
}

const alternatives = [
  ["@auth0/auth0-spa-js", `import { Auth0Client } from "@auth0/auth0-spa-js"; globalThis.x = Auth0Client;`],
  ["oidc-client-ts", `import { UserManager } from "oidc-client-ts"; globalThis.x = UserManager;`],
  ["@supabase/auth-js", `import { GoTrueClient } from "@supabase/auth-js"; globalThis.x = GoTrueClient;`],
  ["@azure/msal-browser", `import { PublicClientApplication } from "@azure/msal-browser"; globalThis.x = PublicClientApplication;`],
  ["axios + axios-auth-refresh", `import axios from "axios"; import refresh from "axios-auth-refresh"; globalThis.x = [axios, refresh];`],
  ["ky", `import ky from "ky"; globalThis.x = ky;`],
];

/** authfetch as an app ships it: the package's index.js bundled and minified (with the core in
 *  it), plus the wasm beside it for a build from before. */
async function shipped(dir, module = join(dir, "index.js")) {
  const entry = `import init, { AuthClient, AuthError } from ${JSON.stringify(module)}; globalThis.x = [init, AuthClient, AuthError];`;
  const beside = join(dir, "authfetch_bg.wasm");
  const js = measure(await bundle(entry));
  return existsSync(beside) ? sum(js, measure(readFileSync(beside))) : js;
}
const authfetch = await shipped(pkg);

console.log("\nSide by side, minified bundles      raw        gzip -9    brotli     gzip vs authfetch");
console.log(row("authfetch (minified, core inside)", authfetch, "     1.00"));
// Where its bytes go: the driver with an empty core text, and the core's .wasm gzipped alone
// (the rest is what the core costs as text beside the driver).
const shippedDriver = existsSync(driverOnly) ? await shipped(pkg, driverOnly) : undefined;
if (shippedDriver) {
  console.log(row("  of which the driver alone", shippedDriver));
  console.log(row("  and the core's .wasm, alone", built.wasm));
}
const bundles = { authfetch };
const shippedBaseline = baseline ? await shipped(baseline) : undefined;
if (shippedBaseline) console.log(row("authfetch, baseline build", shippedBaseline, `     ${(shippedBaseline.gzip / authfetch.gzip).toFixed(2)}`));
for (const [name, entry] of alternatives) {
  const m = measure(await bundle(entry));
  bundles[name] = m;
  console.log(row(name, m, `     ${(m.gzip / authfetch.gzip).toFixed(2)}`));
}
mkdirSync(join(root, "target/bench-results"), { recursive: true });
// The chart draws `bundles`; the baseline build is kept beside them, not among them.
const baselineFigures = baseline ? { pkg: baseline, asBuilt: builtBaseline, bundle: shippedBaseline } : null;
writeFileSync(join(root, "target/bench-results/size.json"), JSON.stringify({ date: new Date().toISOString(), asBuilt: built, bundles, driver: shippedDriver ?? null, baseline: baselineFigures }, null, 2));
