// Static guarantees about what the package ships: nothing in the JavaScript or among the
// wasm module's imports can reach browser storage or write a cookie, and nothing evaluates code
// from strings (so the package works under a strict Content-Security-Policy).
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

for (const flavour of ["web", "bundler"]) {
  const dir = join(root, "pkg", flavour);

  test(`${flavour}: the JavaScript never touches storage, writes a cookie, or evaluates strings`, () => {
    const scripts = files(dir, ".js");
    assert.ok(scripts.length >= 3, `glue, snippets and entry found: ${scripts}`);
    for (const path of scripts) {
      const source = readFileSync(path, "utf8");
      for (const [what, pattern] of [["storage", STORAGE], ["cookie write", COOKIE_WRITE], ["eval", EVAL]]) {
        const match = source.match(pattern);
        assert.equal(match, null, `${what} in ${path}: ${match?.[0]}`);
      }
    }
  });

  test(`${flavour}: the wasm imports nothing that reaches storage or writes a cookie`, () => {
    const module = new WebAssembly.Module(readFileSync(join(dir, "authfetch_bg.wasm")));
    const imports = WebAssembly.Module.imports(module).map((i) => i.name);
    assert.ok(imports.length > 10, "the module's imports were read");
    assert.deepEqual(imports.filter((name) => STORAGE.test(name) || COOKIE_WRITE.test(name)), []);
  });
}
