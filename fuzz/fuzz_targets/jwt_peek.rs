#![no_main]
// The JWT peek on arbitrary bytes, and on arbitrary payloads wrapped as a well-formed token.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = authfetch::core::jwt::peek(data);
    let payload = base64url(data);
    let _ = authfetch::core::jwt::peek(
        ["eyJhbGciOiJIUzI1NiJ9.", &payload, ".c2ln"]
            .concat()
            .as_bytes(),
    );
});

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}
