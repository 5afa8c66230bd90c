#![no_main]
// Origin parsing and matching: a parsed origin always matches its own serialisation.
use authfetch::core::origin::{ApiOrigins, Origin};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Halve at a character boundary: `split_at` panics inside a multi-byte character (the
    // harness's own bug, found by this target on its first run; the input is in the corpus).
    let middle = (0..=text.len() / 2).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
    let (configured, requested) = text.split_at(middle);
    if let Ok(origin) = Origin::parse(configured) {
        let serialized = origin.serialize();
        let origins = ApiOrigins::new(vec![origin]);
        assert!(origins.admits(&serialized), "{configured:?} does not admit its own {serialized:?}");
        let _ = origins.admits(requested);
    }
    let _ = Origin::parse(text);
});
