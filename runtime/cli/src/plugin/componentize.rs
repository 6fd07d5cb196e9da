//! `weir plugin componentize CORE.wasm -o PLUGIN.wasm`

use std::process::ExitCode;

use wit_component::ComponentEncoder;

use crate::cli::ComponentizeArgs;

/// The WASI preview1 reactor adapter matching weir's wasmtime.
const ADAPTER: &[u8] =
    wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER;

pub fn run(a: &ComponentizeArgs) -> Result<ExitCode, String> {
    let core =
        std::fs::read(&a.module).map_err(|e| format!("cannot read {}: {e}", a.module.display()))?;
    let component = ComponentEncoder::default()
        .validate(true)
        .module(&core)
        .and_then(|e| e.adapter("wasi_snapshot_preview1", ADAPTER))
        .and_then(|mut e| e.encode())
        .map_err(|e| {
            format!(
                "{} cannot be made a component: {e:#}\n\
                 (it must be a wasm32-wasi reactor module linked with the generated \
                 plugin_component_type.o; see sdk/c/build.sh)",
                a.module.display()
            )
        })?;
    std::fs::write(&a.out, &component)
        .map_err(|e| format!("cannot write {}: {e}", a.out.display()))?;
    println!(
        "{}: component of {} bytes",
        a.out.display(),
        component.len()
    );
    Ok(ExitCode::SUCCESS)
}
