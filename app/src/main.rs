//! `candlefish`: the native entry points of the Candlefish runtime.
//!
//! - `candlefish render` renders one frame headless to a PNG;
//! - `candlefish view` opens a window with orbit/zoom controls for profiling;
//! - `candlefish bench` runs the frame-budget harness;
//! - `candlefish pack` builds a scene pack from `assets/scene.toml`.
//!
//! The browser entry point lives in the library target (`lib.rs`, wasm32 only).

#[cfg(not(target_arch = "wasm32"))]
mod assets;
#[cfg(not(target_arch = "wasm32"))]
mod bench;
#[cfg(not(target_arch = "wasm32"))]
mod cli;
#[cfg(not(target_arch = "wasm32"))]
mod headless;
#[cfg(not(target_arch = "wasm32"))]
mod telemetry;
#[cfg(not(target_arch = "wasm32"))]
mod telemetry_feed;
#[cfg(not(target_arch = "wasm32"))]
mod trace;
#[cfg(not(target_arch = "wasm32"))]
mod view;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    match cli::run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line: the error and its causes.
            eprintln!("candlefish: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}
