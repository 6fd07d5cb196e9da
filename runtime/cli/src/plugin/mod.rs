//! `weir plugin`: the plugin author's tools.
//!
//! - `new`: scaffolds a plugin in Rust, Python, JavaScript or C that
//!   builds and passes its own test out of the box;
//! - `test`: runs a plugin through weir's real plugin host on an OTLP/JSON
//!   request and prints (or checks) what comes out;
//! - `componentize`: makes a WASI preview1 reactor module (what clang
//!   builds from C) into a component, with the adapter of weir's wasmtime.

mod componentize;
mod scaffold;
mod test;

use std::process::ExitCode;

use crate::cli::PluginCommand;

/// `weir plugin ...`
pub fn run(command: PluginCommand) -> ExitCode {
    let result = match command {
        PluginCommand::New(a) => scaffold::new(&a),
        PluginCommand::Test(a) => test::run(&a),
        PluginCommand::Componentize(a) => componentize::run(&a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
