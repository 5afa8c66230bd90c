// What a bundle ships, raw, gzip -9 and brotli (quality 11), measured in one run:
//  - authfetch's package as built (the wasm, and the JavaScript glue + entry), both flavours;
//  - side by side with the alternatives a team would otherwise pick, each bundled with
//    `esbuild --bundle --minify` from an entry that imports what an app uses (authfetch's own
//    JavaScript minified the same way, plus its wasm).
// Run after ./scripts/build-package:  node benches/size.mjs
// Also writes target/bench-results/size.json for benches/chart.mjs.
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
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

console.log("The package as built                raw        gzip -9    brotli");
for (const flavour of ["web", "bundler"]) {
  const dir = join(root, "pkg", flavour);
  const wasm = measure(readFileSync(join(dir, "authfetch_bg.wasm")));
  const js = measure(Buffer.concat(jsFiles(dir).map((path) => readFileSync(path))));
  console.log(row(`${flavour}: .wasm`, wasm));
  console.log(row(`${flavour}: JS (glue + entry)`, js));
  console.log(row(`${flavour}: total`, sum(wasm, js)));
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

const authfetchJs = measure(await bundle(`import init, { AuthClient, AuthError } from "./pkg/index.js"; globalThis.x = [init, AuthClient, AuthError];`));
const authfetchWasm = measure(readFileSync(join(root, "pkg/authfetch_bg.wasm")));
const authfetch = sum(authfetchJs, authfetchWasm);

console.log("\nSide by side, minified bundles      raw        gzip -9    brotli     gzip vs authfetch");
console.log(row("authfetch (wasm + minified JS)", authfetch, "     1.00"));
const bundles = { authfetch };
for (const [name, entry] of alternatives) {
  const m = measure(await bundle(entry));
  bundles[name] = m;
  console.log(row(name, m, `     ${(m.gzip / authfetch.gzip).toFixed(2)}`));
}
mkdirSync(join(root, "target/bench-results"), { recursive: true });
writeFileSync(join(root, "target/bench-results/size.json"), JSON.stringify({ date: new Date().toISOString(), bundles }, null, 2));
