// Cuts wasm-bindgen's runtime out of the core:  node scripts/cut-runtime.mjs <in.wasm> <out.wasm>
// The core's exports take and return numbers only, so the runtime's externref table, the
// import and start function that fill it, and its abort flags serve nothing; wasm-metadce
// keeps what the driver calls (the memory and the core_* exports) and what they reach.
// scripts/build-package checks first that wasm-bindgen's glue passes nothing but numbers.
//
// Data is not cut with the code that read it: wasm-metadce and wasm-opt keep every data segment
// whole. What the runtime's code took with it includes core::fmt's integer printing, whose
// 200-byte digit table ("000102…99") then lies unread in the core's read-only data (about 220
// bytes of the gzipped module). It is zeroed here once nothing is left that could point into
// it (no constant, half of a 64-bit constant, load or store offset, nor data word), and
// wasm-opt's memory packing then drops the zeros.
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
/** core::fmt's table of two-digit decimals. */
const DIGIT_TABLE = Array.from({ length: 100 }, (_, n) => String(n).padStart(2, "0")).join("");
const dir = mkdtempSync(join(tmpdir(), "authfetch-cut-"));
try {
  const graph = join(dir, "graph.json");
  writeFileSync(graph, JSON.stringify(kept.map((name) => ({ name, export: name, root: true }))));
  const features = ["bulk-memory", "sign-ext", "reference-types", "nontrapping-float-to-int", "mutable-globals", "multivalue"];
  const tool = (name) => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));
  execFileSync(tool("wasm-metadce"),
    [...features.map((feature) => `--enable-${feature}`), "--graph-file", graph, input, "-o", output], { stdio: ["ignore", "ignore", "inherit"] });
  // Latin-1: wasm-dis escapes every byte outside printable ASCII, and nothing may shift.
  const text = execFileSync(tool("wasm-dis"), [...features.map((feature) => `--enable-${feature}`), output], { maxBuffer: 1 << 26 }).toString("latin1");
  zeroUnread(output, text, Buffer.from(DIGIT_TABLE));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** Zeroes `bytes` in the module at `path` (`text`: its wasm-dis text) where they occur once,
 *  in one active data segment, and nothing in the module can point into them. */
function zeroUnread(path, text, bytes) {
  const module = readFileSync(path);
  const at = module.indexOf(bytes);
  const skip = (why) => console.error(`cut-runtime: the digit table is kept: ${why}`);
  if (at < 0) return; // not linked in
  if (module.indexOf(bytes, at + 1) >= 0) return skip("it occurs twice");
  // Its address in memory: the segment (a `(data $name (i32.const base) "…")` line) holding it.
  const segments = [...text.matchAll(/^ *\(data \$\S+ \(i32\.const (\d+)\) "((?:[^"\\]|\\.)*)"\)$/gm)]
    .map(([line, base, quoted]) => ({ line, base: Number(base), data: unquote(quoted) }));
  if (segments.length !== text.match(/^ *\(data /gm)?.length) return skip("a data segment has a form not read here");
  const holding = segments.find(({ data }) => data.indexOf(bytes) >= 0);
  if (!holding) return skip("it is not in an active data segment");
  const within = holding.data.indexOf(bytes);
  if (!module.subarray(at - within, at - within + holding.data.length).equals(holding.data)) {
    return skip("its segment as read from the text is not the one in the module");
  }
  const start = holding.base + within;
  // Not one past its end: that is where the next item starts, which the code does point to.
  const into = (value) => value >= start && value < start + bytes.length;
  // Words stored in data could be pointers into it; constants and offsets in the code could
  // (both halves of a 64-bit constant: two pointers stored at once).
  for (const { line, data } of segments) {
    for (let i = 0; i + 4 <= data.length; i++) if (into(data.readUInt32LE(i))) return skip("data points into it");
    text = text.replace(line, "");
  }
  for (const [, value] of text.matchAll(/(?:i32\.const |offset=)(-?\d+)/g)) {
    if (into(Number(value) >>> 0)) return skip("the code points into it");
  }
  for (const [, value] of text.matchAll(/i64\.const (-?\d+)/g)) {
    const word = BigInt.asUintN(64, BigInt(value));
    if (into(Number(word & 0xffffffffn)) || into(Number(word >> 32n))) return skip("the code points into it");
  }
  module.fill(0, at, at + bytes.length);
  writeFileSync(path, module);
}

/** The bytes of a wasm text string literal. */
function unquote(quoted) {
  const bytes = [];
  for (let i = 0; i < quoted.length; i++) {
    if (quoted[i] !== "\\") {
      bytes.push(quoted.charCodeAt(i));
      continue;
    }
    const next = quoted[i + 1];
    const named = { t: 9, n: 10, r: 13, '"': 34, "'": 39, "\\": 92 }[next];
    if (named !== undefined) {
      bytes.push(named);
      i += 1;
    } else {
      bytes.push(parseInt(quoted.slice(i + 1, i + 3), 16));
      i += 2;
    }
  }
  return Buffer.from(bytes);
}
