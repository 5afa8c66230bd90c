//! The exported core (`authfetch::Core`, src/exports.rs) in each browser engine: the calling
//! protocol as the driver uses it, and what the token leaves behind in wasm memory. The
//! driver and the core together are tested through the package in tests/e2e/.
#![cfg(target_arch = "wasm32")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use authfetch::Core;
use authfetch::exports::kind::{
    BROADCAST, CALL_REFRESH, EMIT, FAIL, PASS_THROUGH, RESOLVE, SEND, START_REFRESH, UNLOCK,
};
use authfetch::exports::{event, query};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
// Kept in JavaScript, outside wasm memory, so searching for it does not plant a copy.
let secrets = [];
export function makeSecret(label) {
  const text = label + "." + Array.from(crypto.getRandomValues(new Uint8Array(24)), (b) => b.toString(16).padStart(2, "0")).join("");
  secrets.push(text);
  return secrets.length - 1;
}
export function secretLength(index) { return secrets[index].length; }
// Writes `before + secret + after` at `at` in memory; returns the number of bytes written.
export function writeWith(memory, at, before, index, after) {
  const bytes = new TextEncoder().encode(before + secrets[index] + after);
  new Uint8Array(memory.buffer, at, bytes.length).set(bytes);
  return bytes.length;
}
export function writeText(memory, at, text) {
  const bytes = new TextEncoder().encode(text);
  new Uint8Array(memory.buffer, at, bytes.length).set(bytes);
  return bytes.length;
}
export function readText(memory, at, length) {
  return new TextDecoder().decode(new Uint8Array(memory.buffer, at, length));
}
export function isSecret(memory, at, length, index) {
  return new TextDecoder().decode(new Uint8Array(memory.buffer, at, length)) === secrets[index];
}
// How many times the secret's bytes occur anywhere in the module's memory.
export function copies(memory, index) {
  const all = new Uint8Array(memory.buffer);
  const needle = new TextEncoder().encode(secrets[index]);
  let count = 0;
  outer: for (let i = 0; i + needle.length <= all.length; i++) {
    for (let j = 0; j < needle.length; j++) if (all[i + j] !== needle[j]) continue outer;
    count++;
  }
  return count;
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = makeSecret)]
    fn make_secret(label: &str) -> u32;
    #[wasm_bindgen(js_name = secretLength)]
    fn secret_length(index: u32) -> u32;
    #[wasm_bindgen(js_name = writeWith)]
    fn write_with(memory: &JsValue, at: usize, before: &str, index: u32, after: &str) -> u32;
    #[wasm_bindgen(js_name = writeText)]
    fn write_text(memory: &JsValue, at: usize, text: &str) -> u32;
    #[wasm_bindgen(js_name = readText)]
    fn read_text(memory: &JsValue, at: usize, length: u32) -> String;
    #[wasm_bindgen(js_name = isSecret)]
    fn is_secret(memory: &JsValue, at: usize, length: u32, index: u32) -> bool;
    fn copies(memory: &JsValue, index: u32) -> u32;
}

const API: &str = "https://api.example";
const T0: f64 = 1_800_000_000_000.0;

fn memory() -> JsValue {
    wasm_bindgen::memory()
}

fn configured(lines: &str) -> Core {
    let mut core = Core::new();
    let at = core.input(lines.len() as u32 * 3);
    let len = write_text(&memory(), at, lines);
    assert!(core.configure(len, 30_000.0, 30_000), "configured");
    core
}

fn api_core() -> Core {
    configured(&["access_token\naccess_token\nexpires_in\n", API].concat())
}

/// Every action until none is left: (kind, subject, detail).
fn drain(core: &mut Core) -> Vec<(u32, f64, f64)> {
    let mut actions = Vec::new();
    loop {
        let kind = core.poll();
        if kind == 0 {
            return actions;
        }
        actions.push((kind, core.query(query::SUBJECT), core.query(query::SESSION)));
    }
}

fn kinds(actions: &[(u32, f64, f64)]) -> Vec<u32> {
    actions.iter().map(|a| a.0).collect()
}

/// Login call `id` answered 200 with token `secret`.
fn log_in(core: &mut Core, id: f64, secret: u32) {
    answer(core, event::LOGIN_ANSWERED, id, secret);
}

/// `event` (a login or refresh answer) for `subject`: 200 with token `secret`, living an hour.
fn answer(core: &mut Core, event: u32, subject: f64, secret: u32) {
    let at = core.input(secret_length(secret) + 64);
    let len = write_with(
        &memory(),
        at,
        r#"{"access_token":""#,
        secret,
        r#"","expires_in":3600}"#,
    );
    core.handle(event, subject, 200, len as i32, T0);
}

fn token_at(core: &mut Core) -> usize {
    core.query(query::TOKEN_AT) as usize
}

fn token_len(core: &mut Core) -> u32 {
    core.query(query::TOKEN_LEN) as u32
}

fn output_at(core: &mut Core) -> usize {
    core.query(query::OUTPUT_AT) as usize
}

fn write_url(core: &mut Core, url: &str) -> u32 {
    let at = core.input(url.len() as u32 * 3);
    write_text(&memory(), at, url)
}

#[wasm_bindgen_test]
fn the_core_is_the_only_store_of_the_token_and_hands_out_where_it_lies() {
    let mut core = api_core();
    let token = make_secret("login");
    log_in(&mut core, 1.0, token);
    let actions = drain(&mut core);
    assert_eq!(kinds(&actions), vec![BROADCAST, EMIT, RESOLVE]);
    assert_eq!(core.query(query::AUTHENTICATED), 1.0);
    assert_eq!(core.query(query::EXPIRES_AT), T0 + 3_600_000.0);

    let len = write_url(&mut core, "https://api.example/api/me");
    core.handle(event::BEGIN, 2.0, len as i32, 2, T0 + 1.0);
    assert_eq!(core.poll(), SEND);
    assert_eq!(core.query(query::SUBJECT), 2.0);
    assert!(
        is_secret(&memory(), token_at(&mut core), token_len(&mut core), token),
        "TOKEN_AT and TOKEN_LEN name the held token"
    );
    assert_eq!(core.poll(), 0);

    let len = write_url(&mut core, "https://api.example.evil.example/api/me");
    core.handle(event::BEGIN, 3.0, len as i32, 2, T0 + 1.0);
    assert_eq!(core.poll(), PASS_THROUGH);
    assert_eq!(token_len(&mut core), 0, "no token for a pass-through");
    assert_eq!(token_at(&mut core), 0);
}

#[wasm_bindgen_test]
fn a_replaced_token_and_the_answers_it_came_in_leave_no_copy_in_memory() {
    let mut core = api_core();
    let first = make_secret("first");
    log_in(&mut core, 1.0, first);
    drain(&mut core);
    assert_eq!(copies(&memory(), first), 1, "the held token, once");

    // A 401 for it: one refresh, answered with a new token.
    let len = write_url(&mut core, "https://api.example/api/me");
    core.handle(event::BEGIN, 2.0, len as i32, 2, T0);
    assert_eq!(kinds(&drain(&mut core)), vec![SEND]);
    core.handle(event::RESPONSE, 2.0, 401, 0, 0.0);
    let actions = drain(&mut core);
    assert_eq!(kinds(&actions), vec![EMIT, START_REFRESH]);
    let ticket = actions[1].1;
    core.handle(event::REFRESH_PERMITTED, ticket, 0, 0, 0.0);
    assert_eq!(kinds(&drain(&mut core)), vec![CALL_REFRESH]);
    let second = make_secret("second");
    answer(&mut core, event::REFRESH_ANSWERED, ticket, second);
    let actions = drain(&mut core);
    assert_eq!(kinds(&actions), vec![UNLOCK, EMIT, SEND]);
    assert_eq!(
        copies(&memory(), first),
        0,
        "the replaced token was overwritten"
    );
    assert_eq!(
        copies(&memory(), second),
        1,
        "the new one is held once: the answer was wiped"
    );

    core.handle(event::SIGN_OUT, 0.0, 0, 0, 0.0);
    drain(&mut core);
    assert_eq!(copies(&memory(), second), 0, "signing out overwrites it");
}

#[wasm_bindgen_test]
fn the_state_and_the_words_of_actions_cross_as_text() {
    let mut core = api_core();
    let state = |core: &mut Core| {
        let len = core.text(query::TEXT_STATE);
        read_text(&memory(), output_at(core), len)
    };
    assert_eq!(state(&mut core), "unknown");
    core.handle(event::RESTORE, 1.0, 0, 0, 0.0);
    let actions = drain(&mut core);
    assert_eq!(kinds(&actions), vec![EMIT, START_REFRESH]);
    assert_eq!(state(&mut core), "refreshing");
    core.handle(event::REFRESH_PERMITTED, actions[1].1, 0, 0, 0.0);
    drain(&mut core);
    core.handle(event::REFRESH_ANSWERED, actions[1].1, 401, -1, T0);
    let mut resolved = None;
    let mut words = Vec::new();
    loop {
        match core.poll() {
            0 => break,
            RESOLVE => resolved = Some(core.query(query::SESSION)),
            EMIT => {
                let len = core.text(query::TEXT_POLLED);
                words.push(read_text(&memory(), output_at(&mut core), len));
            }
            _ => {}
        }
    }
    assert_eq!(resolved, Some(0.0), "restore() resolves false: no session");
    assert_eq!(words, vec!["signed-out"]);
    assert_eq!(state(&mut core), "signed-out");

    core.handle(event::REFRESH, 2.0, 0, 0, 0.0);
    let actions = drain(&mut core);
    core.handle(event::REFRESH_PERMITTED, actions[1].1, 0, 0, 0.0);
    drain(&mut core);
    core.handle(event::REFRESH_ANSWERED, actions[1].1, 503, -1, T0);
    loop {
        match core.poll() {
            0 => panic!("no Fail"),
            FAIL => break,
            _ => {}
        }
    }
    let len = core.text(query::TEXT_CODE);
    assert_eq!(
        read_text(&memory(), output_at(&mut core), len),
        "refresh_failed"
    );
    let len = core.text(query::TEXT_POLLED);
    assert_eq!(
        read_text(&memory(), output_at(&mut core), len),
        "the refresh endpoint answered 503"
    );
}

#[wasm_bindgen_test]
fn close_fails_every_waiting_call_with_aborted_and_later_ones_too() {
    let mut core = api_core();
    let len = write_url(&mut core, "https://api.example/api/me");
    core.handle(event::BEGIN, 1.0, len as i32, 2, T0);
    assert_eq!(kinds(&drain(&mut core)), vec![EMIT, START_REFRESH]);
    core.handle(event::CLOSE, 0.0, 0, 0, 0.0);
    let actions = drain(&mut core);
    assert_eq!(kinds(&actions), vec![FAIL, UNLOCK]);
    let len = write_url(&mut core, "https://api.example/api/me");
    core.handle(event::BEGIN, 2.0, len as i32, 2, T0);
    assert_eq!(core.poll(), FAIL);
    let len = core.text(query::TEXT_CODE);
    assert_eq!(read_text(&memory(), output_at(&mut core), len), "aborted");
    assert_eq!(core.query(query::AUTHENTICATED), 0.0);
}

#[wasm_bindgen_test]
fn a_malformed_configuration_is_refused() {
    for lines in [
        "",
        "access_token",
        "access_token\n\nexpires_in",
        "\naccess_token\nexpires_in\nhttps://a.example",
    ] {
        let mut core = Core::new();
        let at = core.input(64);
        let len = write_text(&memory(), at, lines);
        assert!(!core.configure(len, 30_000.0, 30_000), "{lines:?}");
        assert_eq!(core.poll(), 0, "an unconfigured core decides nothing");
    }
    let mut core = configured("access_token\n\nexpires_in\nhttps://a.example");
    let len = write_url(&mut core, "https://a.example/");
    core.handle(event::BEGIN, 1.0, len as i32, 2, T0);
    assert_eq!(
        core.poll(),
        EMIT,
        "configured: login answers carry no token"
    );
    assert_eq!(core.poll(), START_REFRESH);
}

#[wasm_bindgen_test]
fn the_exported_functions_number_their_cores_and_a_freed_number_reaches_no_core() {
    use authfetch::exports::{
        core_configure, core_free, core_handle, core_input, core_new, core_query,
    };
    let lines = ["access_token\naccess_token\nexpires_in\n", API].concat();
    let configure = |core: u32| {
        let at = core_input(core, lines.len() as u32 * 3);
        let len = if at == 0 {
            0
        } else {
            write_text(&memory(), at, &lines)
        };
        core_configure(core, len, 30_000.0, 30_000)
    };
    let (first, second) = (core_new(), core_new());
    assert!(
        first != 0 && second != 0 && first != second,
        "{first} {second}"
    );
    assert!(configure(first) && configure(second));
    core_handle(second, event::REFRESH, 7.0, 0, 0, T0);
    assert_eq!(core_query(second, query::POLL), f64::from(EMIT));
    assert_eq!(core_query(second, query::POLL), f64::from(START_REFRESH));
    assert_eq!(core_query(second, query::POLL), 0.0);
    assert_eq!(
        core_query(first, query::POLL),
        0.0,
        "the other core decided nothing"
    );

    core_free(second);
    core_handle(second, event::REFRESH, 8.0, 0, 0, T0);
    assert_eq!(
        core_query(second, query::POLL),
        0.0,
        "a freed number decides nothing"
    );
    assert_eq!(core_input(second, 16), 0, "and offers no input");
    assert!(!configure(second), "and cannot be configured");
    for unknown in [0, 9_999, u32::MAX] {
        assert_eq!(core_query(unknown, query::POLL), 0.0, "{unknown}");
    }
    let third = core_new();
    assert!(
        third > second,
        "a freed number is never handed out again: {third}"
    );
    assert!(configure(third));
    core_handle(second, event::REFRESH, 9.0, 0, 0, T0);
    assert_eq!(
        core_query(third, query::POLL),
        0.0,
        "the freed number reaches no other core"
    );
    assert_eq!(core_query(first, query::AUTHENTICATED), 0.0);
    core_free(first);
    core_free(third);
    core_free(third);
    assert_eq!(core_input(third, 16), 0, "freed twice: still nothing");
}

/// The core's stack is 64 KB (.cargo/config.toml): the deepest answers the JSON reader accepts,
/// in the body and in the JWT payload it peeks into, are read within it (in this unoptimised
/// build, whose frames are larger than the package's), and deeper ones are refused.
#[wasm_bindgen_test]
fn the_deepest_answers_the_reader_accepts_fit_the_core_stack() {
    use base64::Engine as _;
    let nested = |levels: usize| {
        let mut text = String::from("1");
        for level in 0..levels {
            text = if level % 2 == 0 {
                format!("[{text}]")
            } else {
                format!(r#"{{"a":{text}}}"#)
            };
        }
        text
    };
    let jwt = |payload: &str| {
        let part = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
        format!("{}.{}.sig", part(r#"{"alg":"HS256"}"#), part(payload))
    };
    let login = |core: &mut Core, body: &str| {
        let at = core.input(body.len() as u32 * 3);
        let len = write_text(&memory(), at, body);
        core.handle(event::LOGIN_ANSWERED, 1.0, 200, len as i32, T0);
        kinds(&drain(core))
    };
    // A value 32 levels below the top-level object, the deepest it reads; the lifetime comes
    // from the JWT.
    let token = jwt(&format!(r#"{{"iat":1,"exp":61,"x":{}}}"#, nested(31)));
    let mut core = api_core();
    let body = format!(r#"{{"x":{},"access_token":"{token}"}}"#, nested(31));
    assert_eq!(login(&mut core, &body), vec![BROADCAST, EMIT, RESOLVE]);
    assert_eq!(core.query(query::EXPIRES_AT), T0 + 60_000.0);
    // One level deeper in the payload: the token is still taken, its lifetime unknown.
    let mut core = api_core();
    let deeper = jwt(&format!(r#"{{"iat":1,"exp":61,"x":{}}}"#, nested(32)));
    let body = format!(r#"{{"access_token":"{deeper}"}}"#);
    assert_eq!(login(&mut core, &body), vec![BROADCAST, EMIT, RESOLVE]);
    assert!(core.query(query::EXPIRES_AT).is_nan());
    // Far deeper in the body: refused, not a trap.
    let mut core = api_core();
    let body = format!(r#"{{"x":{},"access_token":"{token}"}}"#, nested(100_000));
    assert_eq!(login(&mut core, &body), vec![FAIL]);
}
