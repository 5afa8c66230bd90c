// Bundles the driver (js/) and the core's wasm into one module:
//   node scripts/bundle-driver.mjs <core.wasm> <out.js>
// The wasm travels inside the module as a string, one character per byte, so the package is a
// single file: no second fetch at start-up (the core is compiled and instantiated while the
// module evaluates) and no .wasm asset for a bundler to find, copy or lose.
//
// Each byte b is written as the character (b * sign + shift) mod 256, sign being 1 or -1. The
// pair is chosen here, per build, for the smallest gzip of what an app ships: the module
// minified, the string as a minifier prints it. It moves the wasm's most frequent bytes (0x00,
// 0x01, 0x20, 0x41, 0x7f…) onto characters that need no escape, and is scored together with the
// driver's code because gzip's blocks mix the two (apart, the parts come to some 340 bytes
// less). The string costs about 700 bytes gzip over the .wasm file served alone; base64 costs
// 2.8 KB.
//
// While the module evaluates, a wasm unpacker of about 100 bytes (UNPACKER below), fed the
// string's UTF-8 by the platform's TextEncoder, turns it back into the core's bytes: a
// JavaScript loop over the characters took about 1 ms of Chromium's start-up, the unpacker
// about 0.3 ms.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import binaryen from "binaryen";
import { build, transformSync } from "esbuild";

const [wasmPath, outfile] = process.argv.slice(2);
if (!wasmPath || !outfile) {
  console.error("usage: node scripts/bundle-driver.mjs <core.wasm> <out.js>");
  process.exit(2);
}
const wasm = readFileSync(wasmPath);
const root = fileURLToPath(new URL("../", import.meta.url));

// How esbuild prints each character in a string (checked against its output when this was
// written); anything else it prints as itself. (It writes U+0000 as "\0" where no digit
// follows, and a long string with line breaks as a template literal; only the scoring below
// depends on how close this is. "\x00" is always safe.)
const ESCAPES = { 0x00: "\\x00", 0x07: "\\x07", 0x08: "\\b", 0x0a: "\\n", 0x0b: "\\v", 0x0c: "\\f", 0x0d: "\\r", 0x1b: "\\x1B", 0x22: '\\"', 0x5c: "\\\\" };
const printed = Array.from({ length: 256 }, (_, code) => ESCAPES[code] ?? (code < 0x7f ? String.fromCharCode(code) : "\\x" + code.toString(16).toUpperCase()));

/** A JavaScript string literal of `bytes`, each byte b as (b * sign + shift) mod 256. */
function literal(bytes, sign, shift) {
  const parts = new Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) parts[i] = printed[(bytes[i] * sign + shift) & 255];
  return '"' + parts.join("") + '"';
}

// UTF-8 of a string of characters U+0000-U+00FF at [0, n), each character back to its byte
// (c - shift) * sign, written from 0 on (never ahead of what is read). It returns a hash of the
// bytes (h * 31 + byte, as i32), which js/core.js compares with the wasm's: a text that a
// minifier re-printed wrongly, or a bundle decoded with the wrong charset, would otherwise give
// a core that may still compile and then act on altered constants. Its memory holds the UTF-8:
// at most two bytes per character. Every byte of the unpacker is below 0x80 (no constant over
// 63; the mapping comes as parameters), so its own text turns into its bytes through
// TextEncoder as it is.
const UNPACKER = `(module
  (memory (export "m") ${Math.ceil((2 * wasm.length) / 65536)})
  (func (export "d") (param $n i32) (param $sign i32) (param $shift i32) (result i32)
    (local $i i32) (local $o i32) (local $c i32) (local $h i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $c (i32.load8_u (local.get $i)))
        (if (i32.shr_u (local.get $c) (i32.const 7))
          (then
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (local.set $c (i32.or
              (i32.shl (i32.and (local.get $c) (i32.const 31)) (i32.const 6))
              (i32.and (i32.load8_u (local.get $i)) (i32.const 63))))))
        (i32.store8 (local.get $o) (i32.mul (i32.sub (local.get $c) (local.get $shift)) (local.get $sign)))
        (local.set $h (i32.add (i32.mul (local.get $h) (i32.const 31)) (i32.load8_u (local.get $o))))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $h)))`;
const assembled = binaryen.parseText(UNPACKER);
binaryen.setOptimizeLevel(2);
binaryen.setShrinkLevel(2);
assembled.optimize();
if (!assembled.validate()) throw new Error("the unpacker does not validate");
const unpacker = Buffer.from(assembled.emitBinary());
if (unpacker.some((byte) => byte >= 0x80)) throw new Error("the unpacker has a byte over 0x7f: js/core.js reads it as UTF-8");

/** The hash the unpacker returns for `bytes`. */
const hash = (bytes) => bytes.reduce((h, byte) => (Math.imul(h, 31) + byte) | 0, 0);

/** The package's module, the core's text mapped with `sign` and `shift`. */
async function bundle(text, { sign, shift }) {
  const core = `export const unpacker = ${literal(unpacker, 1, 0)}, sign = ${sign}, shift = ${shift}, size = ${wasm.length}, check = ${hash(wasm)};\nexport default ${text};\n`;
  const result = await build({
    entryPoints: [`${root}js/index.js`],
    write: false,
    bundle: true,
    format: "esm",
    target: "es2022",
    platform: "browser",
    // Folds the driver's constants (the core's event and action numbers) into where they are
    // used: left as top-level bindings in the package, an app's minifier keeps every one.
    minifySyntax: true,
    logLevel: "warning",
    plugins: [{
      name: "core-wasm",
      setup(on) {
        on.onResolve({ filter: /^authfetch:core-wasm$/ }, () => ({ path: "core-wasm", namespace: "core-wasm" }));
        on.onLoad({ filter: /.*/, namespace: "core-wasm" }, () => ({ contents: core, loader: "js" }));
      },
    }],
  });
  return result.outputFiles[0].text;
}

// Scored as the core's text shipped after the minified driver (where js/index.js's imports
// put it).
const shipped = transformSync(await bundle('""', { sign: 1, shift: 0 }), { minify: true, format: "esm" }).code;
let best = { size: Infinity };
for (const sign of [1, -1]) {
  for (let shift = 0; shift < 256; shift++) {
    const size = gzipSync(`${shipped}var q=${literal(wasm, sign, shift)};`, { level: 9 }).length;
    if (size < best.size) best = { size, sign, shift };
  }
}
const { sign, shift } = best;

// The literal as JavaScript reads it, through the unpacker as js/core.js runs it, gives the
// wasm back (this checks the escapes above too).
const { m: memory, d: unpack } = new WebAssembly.Instance(new WebAssembly.Module(unpacker)).exports;
const text = new Function(`return ${literal(wasm, sign, shift)};`)();
const { written } = new TextEncoder().encodeInto(text, new Uint8Array(memory.buffer));
if (unpack(written, sign, shift) !== hash(wasm) || !Buffer.from(memory.buffer, 0, wasm.length).equals(wasm)) {
  throw new Error("the unpacker does not give the wasm back");
}

writeFileSync(outfile, await bundle(literal(wasm, sign, shift), { sign, shift }));
// The same module with an empty core text beside the wasm, for benches/size.mjs to tell the
// driver's bytes from the core's.
writeFileSync(join(dirname(wasmPath), "driver-only.js"), await bundle('""', { sign, shift }));
