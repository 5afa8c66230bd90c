#![no_main]
// The driver's configuration text (`Options::from_lines`) with any leeway and timeout, and, when
// it is usable, a machine built from it deciding where a request to any URL goes: only an
// origin the configuration lists may get the token.
use authfetch::core::origin::origin_of_url;
use authfetch::core::{Action, Machine, Options, Replay};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let (Ok(text), Ok(leeway), Ok(timeout), Ok(url)) = (
        u.arbitrary::<Vec<u8>>(),
        u.arbitrary::<f64>(),
        u.arbitrary::<u32>(),
        u.arbitrary::<Vec<u8>>(),
    ) else {
        return;
    };
    let Some(options) = Options::from_lines(&text, leeway, timeout) else {
        return;
    };
    assert!(!options.api_origins.is_empty() && leeway >= 0.0 && timeout > 0);
    let admitted = origin_of_url(&url).is_some_and(|origin| options.admits(origin));
    let mut machine = Machine::new(options);
    machine.begin(1, &url, false, Replay::AfterAnswer, 0.0);
    let first = machine.poll_action();
    if admitted {
        assert_ne!(
            first,
            Some(Action::PassThrough { id: 1 }),
            "{url:?} is the API's"
        );
    } else {
        assert_eq!(
            first,
            Some(Action::PassThrough { id: 1 }),
            "{url:?} got past"
        );
    }
    while machine.poll_action().is_some() {}
});
