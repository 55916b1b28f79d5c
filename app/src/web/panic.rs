//! Panics on the wasm side are reported, never silent: the hook hands the message to
//! the page (which shows it in words and sends it to telemetry) before the module
//! traps.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;

thread_local! {
    static HANDLER: RefCell<Option<js_sys::Function>> = const { RefCell::new(None) };
}

/// Installs a panic hook calling `handler(message)`.
#[wasm_bindgen(js_name = installPanicHook)]
pub fn install_panic_hook(handler: js_sys::Function) {
    HANDLER.with(|h| *h.borrow_mut() = Some(handler));
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string();
        HANDLER.with(|h| {
            if let Ok(h) = h.try_borrow()
                && let Some(f) = h.as_ref()
            {
                let _ = f.call1(&JsValue::NULL, &JsValue::from_str(&message));
            }
        });
    }));
}

/// Panics on purpose, so the browser tests can check that a panic is reported.
#[wasm_bindgen(js_name = testPanic)]
pub fn test_panic() {
    panic!("test panic requested by the page");
}
