// Static guarantees about what the package ships: nothing in the JavaScript can reach browser
// storage or write a cookie, and nothing evaluates code from strings (so the package works under
// a strict Content-Security-Policy). That the wasm module imports nothing, so it cannot reach
// either, is checked on the module as compiled in a page (package.test.mjs).
// Needs ./scripts/build-package to have run (scripts/test does).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const root = new URL("../../", import.meta.url).pathname;

function files(dir, suffix) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path, suffix);
    return name.endsWith(suffix) ? [path] : [];
  });
}

const STORAGE = /localStorage|sessionStorage|indexedDB|IDBFactory|\bcaches\b|CacheStorage|cookieStore/i;
const COOKIE_WRITE = /\.cookie\s*=[^=]|set_cookie|setCookie/i;
const EVAL = /\beval\s*\(|new\s+Function\s*\(/;

const dir = join(root, "pkg");

test("the JavaScript never touches storage, writes a cookie, or evaluates strings", () => {
  const scripts = files(dir, ".js");
  assert.deepEqual(scripts.map((path) => path.slice(dir.length + 1)), ["index.js"], "one module: nothing else a page could import");
  for (const path of scripts) {
    // The core's wasm travels in the module as text (scripts/bundle-driver.mjs): data, which a
    // pattern could match by chance. The code is the rest: the module up to esbuild's section
    // for that text, and after it.
    const source = readFileSync(path, "utf8");
    const from = source.indexOf("// core-wasm:core-wasm");
    const to = source.indexOf("// js/index.js", from);
    assert.ok(from > 0 && to > from, "the core's text stands where bundle-driver.mjs puts it");
    const code = source.slice(0, from) + source.slice(to);
    for (const [what, pattern] of [["storage", STORAGE], ["cookie write", COOKIE_WRITE], ["eval", EVAL]]) {
      const match = code.match(pattern);
      assert.equal(match, null, `${what} in ${path}: ${match?.[0]}`);
    }
  }
});

