// Cuts wasm-bindgen's runtime out of the core:  node scripts/cut-runtime.mjs <in.wasm> <out.wasm>
// The core's exports take and return numbers only, so the runtime's externref table, the
// import and start function that fill it, and its abort flags serve nothing; wasm-metadce
// keeps what the driver calls (the memory and the core_* exports) and what they reach.
// scripts/build-package checks first that wasm-bindgen's glue passes nothing but numbers.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error("usage: node scripts/cut-runtime.mjs <in.wasm> <out.wasm>");
  process.exit(2);
}
const exports = WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(input))).map(({ name }) => name);
const kept = exports.filter((name) => name === "memory" || name.startsWith("core_"));
// What wasm-bindgen 0.2.130 adds; anything else (a start function of ours, say) must not be
// dropped unnoticed.
const RUNTIME = ["__wbindgen_start", "__wbindgen_externrefs", "__abort_handler", "__instance_terminated"];
const unknown = exports.filter((name) => !kept.includes(name) && !RUNTIME.includes(name));
if (unknown.length > 0) {
  console.error(`cut-runtime: exports that are neither the core's nor wasm-bindgen's runtime: ${unknown.join(", ")}`);
  process.exit(1);
}
const dir = mkdtempSync(join(tmpdir(), "authfetch-cut-"));
try {
  const graph = join(dir, "graph.json");
  writeFileSync(graph, JSON.stringify(kept.map((name) => ({ name, export: name, root: true }))));
  const features = ["bulk-memory", "sign-ext", "reference-types", "nontrapping-float-to-int", "mutable-globals", "multivalue"];
  execFileSync(fileURLToPath(new URL("../node_modules/.bin/wasm-metadce", import.meta.url)),
    [...features.map((feature) => `--enable-${feature}`), "--graph-file", graph, input, "-o", output], { stdio: ["ignore", "ignore", "inherit"] });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
