#![no_main]
// Options validation on arbitrary option objects and page origins.
use authfetch::core::Options;
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

mod value;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(page) = u.arbitrary::<String>() else { return };
    let Ok(options) = value::value(&mut u, 4) else { return };
    if let Ok(valid) = Options::from_value(&options, &page) {
        // Whatever was accepted is usable: a state machine can be built from it.
        let _ = authfetch::core::Machine::new(valid);
    }
});
