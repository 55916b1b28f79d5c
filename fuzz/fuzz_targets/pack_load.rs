//! Fuzzes the scene-pack reader: any input must give a pack or a `PackError`, never a
//! panic, an out-of-bounds read or an allocation larger than the input allows.
//!
//! `cargo +nightly fuzz run pack_load /tmp/pack-corpus fuzz/corpus/pack_load`
//! (new inputs go to the first directory; the committed seed corpus stays small).

#![no_main]

use candlefish_renderer::assets::pack;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(loaded) = pack::load(data) {
        // Whatever loads, writes and loads back to the same content.
        let again = pack::load(&pack::write(&loaded));
        assert!(again.as_ref() == Ok(&loaded), "re-written pack differs");
    }
});
