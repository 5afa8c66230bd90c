// Bundles the driver (js/) and the core's wasm into one module:
//   node scripts/bundle-driver.mjs <core.wasm> <out.js>
// The wasm travels inside the module as a string, one character per byte, so the package is a
// single file: no second fetch at start-up (the core is compiled and instantiated while the
// module evaluates) and no .wasm asset for a bundler to find, copy or lose.
//
// Each byte b is written as the character (b * sign + shift) mod 256, sign being 1 or -1: the
// pair is chosen here, per build, for the smallest gzip of the string as esbuild prints it
// (which is what an app ships), by moving the wasm's most frequent bytes (0x00, 0x01, 0x20,
// 0x41, 0x7f…) onto characters that need no escape. That costs about 300 bytes over the gzipped
// .wasm itself, where base64 costs 2.8 KB.
import { appendFileSync, readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const [wasmPath, outfile] = process.argv.slice(2);
if (!wasmPath || !outfile) {
  console.error("usage: node scripts/bundle-driver.mjs <core.wasm> <out.js>");
  process.exit(2);
}
const wasm = readFileSync(wasmPath);
const root = new URL("../", import.meta.url).pathname;

// How esbuild prints each character in a string (checked against its output when this was
// written); anything else it prints as itself.
const ESCAPES = { 0x00: "\\x00", 0x07: "\\x07", 0x08: "\\b", 0x0a: "\\n", 0x0b: "\\v", 0x0c: "\\f", 0x0d: "\\r", 0x1b: "\\x1B", 0x22: '\\"', 0x5c: "\\\\" };
const printed = Array.from({ length: 256 }, (_, code) => ESCAPES[code] ?? (code < 0x7f ? String.fromCharCode(code) : "\\x" + code.toString(16).toUpperCase()));

/** A JavaScript string literal of `wasm`, each byte b as (b * sign + shift) mod 256. */
function literal(sign, shift) {
  const parts = new Array(wasm.length);
  for (let i = 0; i < wasm.length; i++) parts[i] = printed[(wasm[i] * sign + shift) & 255];
  return '"' + parts.join("") + '"';
}

let best = { size: Infinity };
for (const sign of [1, -1]) {
  for (let shift = 0; shift < 256; shift++) {
    const size = gzipSync(literal(sign, shift), { level: 9 }).length;
    if (size < best.size) best = { size, sign, shift };
  }
}
const { sign, shift } = best;

// The text goes last in the module, in a function declaration (hoisted, so js/core.js can call
// it while the module evaluates): placed before the driver's code, it would stand between
// parts of the driver that gzip could otherwise match against each other (32 KB window).
const core = `export const sign = ${sign}, shift = ${shift};\nexport default authfetchCoreWasm;\n`;
await build({
  entryPoints: [`${root}js/index.js`],
  outfile,
  bundle: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  logLevel: "warning",
  plugins: [{
    name: "core-wasm",
    setup(on) {
      on.onResolve({ filter: /^authfetch:core-wasm$/ }, () => ({ path: "core-wasm", namespace: "core-wasm" }));
      on.onLoad({ filter: /.*/, namespace: "core-wasm" }, () => ({ contents: core, loader: "js" }));
    },
  }],
});
appendFileSync(outfile, `function authfetchCoreWasm() {\n  return ${literal(sign, shift)};\n}\n`);
