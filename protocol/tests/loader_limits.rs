//! The browser loader (`www/loader.js`) repeats a few of the protocol's limits, for the
//! messages it builds or trims itself (errors before any runtime runs, the dropped
//! count): they must be the crate's, or the server refuses what the page sends.

use candlefish_protocol::limits::{
    MAX_DROPPED_BATCHES, MAX_ERROR_CHARS, MAX_ERRORS, MAX_RELEASE_LEN,
};

fn loader() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../www/loader.js");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_loader_uses_the_protocols_limits() {
    let js = loader();
    for (name, value) in [
        ("MAX_ERRORS", MAX_ERRORS as u64),
        ("MAX_ERROR_CHARS", MAX_ERROR_CHARS as u64),
        ("MAX_DROPPED_BATCHES", u64::from(MAX_DROPPED_BATCHES)),
    ] {
        let line = format!("const {name} = {value};");
        assert!(js.contains(&line), "www/loader.js must say `{line}`");
    }
    // The release id's pattern: a first character, then up to MAX_RELEASE_LEN - 1.
    let pattern = format!("{{0,{}}}$/", MAX_RELEASE_LEN - 1);
    assert!(
        js.contains(&pattern),
        "www/loader.js's release pattern must allow {MAX_RELEASE_LEN} characters"
    );
}
