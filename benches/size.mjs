// Prints what the npm package ships, raw, gzip -9 and brotli (quality 11): the wasm, and the
// JavaScript a bundle includes (generated glue, inline snippets, the hand-written entry).
// Run after ./scripts/build-package:  node benches/size.mjs
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const root = new URL("../", import.meta.url).pathname;

function jsFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return jsFiles(path);
    return name.endsWith(".js") ? [path] : [];
  });
}

function measure(paths) {
  const bytes = Buffer.concat(paths.map((path) => readFileSync(path)));
  return {
    raw: bytes.length,
    gzip: gzipSync(bytes, { level: 9 }).length,
    brotli: brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
}

const rows = [];
for (const flavour of ["web", "bundler"]) {
  const dir = join(root, "pkg", flavour);
  const wasm = measure([join(dir, "authfetch_bg.wasm")]);
  const js = measure(jsFiles(dir));
  rows.push({ flavour, part: ".wasm", ...wasm });
  rows.push({ flavour, part: "JS (glue + entry)", ...js });
  rows.push({ flavour, part: "total", raw: wasm.raw + js.raw, gzip: wasm.gzip + js.gzip, brotli: wasm.brotli + js.brotli });
}
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log("flavour  part               raw        gzip -9    brotli");
for (const r of rows) {
  console.log(`${r.flavour.padEnd(8)} ${r.part.padEnd(18)} ${kb(r.raw).padStart(9)}  ${kb(r.gzip).padStart(9)}  ${kb(r.brotli).padStart(9)}`);
}
