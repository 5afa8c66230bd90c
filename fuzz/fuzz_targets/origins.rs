#![no_main]
// Origin parsing and matching: a parsed origin always matches its own serialisation.
use authfetch::core::origin::{ApiOrigins, Origin};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (configured, requested) = text.split_at(text.len() / 2);
    if let Ok(origin) = Origin::parse(configured) {
        let serialized = origin.serialize();
        let origins = ApiOrigins::new(vec![origin]);
        assert!(origins.admits(&serialized), "{configured:?} does not admit its own {serialized:?}");
        let _ = origins.admits(requested);
    }
    let _ = Origin::parse(text);
});
