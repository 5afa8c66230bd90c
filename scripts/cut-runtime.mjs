// Cuts wasm-bindgen's runtime out of the core:  node scripts/cut-runtime.mjs <in.wasm> <out.wasm>
// The core's exports take and return numbers only, so the runtime's externref table, the
// import and start function that fill it, and its abort flags serve nothing; wasm-metadce
// keeps what the driver calls (the memory and the core_* exports) and what they reach.
// scripts/build-package checks first that wasm-bindgen's glue passes nothing but numbers.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error("usage: node scripts/cut-runtime.mjs <in.wasm> <out.wasm>");
  process.exit(2);
}
const kept = WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(input)))
  .map(({ name }) => name)
  .filter((name) => name === "memory" || name.startsWith("core_"));
const dir = mkdtempSync(join(tmpdir(), "authfetch-cut-"));
try {
  const graph = join(dir, "graph.json");
  writeFileSync(graph, JSON.stringify(kept.map((name) => ({ name, export: name, root: true }))));
  const features = ["bulk-memory", "sign-ext", "reference-types", "nontrapping-float-to-int", "mutable-globals", "multivalue"];
  execFileSync(new URL("../node_modules/.bin/wasm-metadce", import.meta.url).pathname,
    [...features.map((feature) => `--enable-${feature}`), "--graph-file", graph, input, "-o", output], { stdio: ["ignore", "ignore", "inherit"] });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
