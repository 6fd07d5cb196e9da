//! Writes the C bindings of weir's plugin world (`wit/`, world `plugin`)
//! to `sdk/c/generated/`: `plugin.h`, `plugin.c` and
//! `plugin_component_type.o` (the component type a linker keeps in the
//! module, so the module can be made into a component).

use std::path::PathBuf;

use wit_bindgen_core::wit_parser::Resolve;
use wit_bindgen_core::{Files, WorldGenerator};

fn main() -> anyhow::Result<()> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let wit = here.join("../../../wit");
    let out = here.join("../generated");
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve.push_path(&wit)?;
    let world = resolve.select_world(&[pkg], Some("plugin"))?;
    let mut files = Files::default();
    // Borrowed handles an export receives (the batch) are dropped by the
    // generated glue when the export returns, so plugin code never has to.
    let opts = wit_bindgen_c::Opts {
        autodrop_borrows: wit_bindgen_c::Enabled::Yes,
        ..Default::default()
    };
    opts.build().generate(&mut resolve, world, &mut files)?;
    std::fs::create_dir_all(&out)?;
    for (name, bytes) in files.iter() {
        std::fs::write(out.join(name), bytes)?;
        println!("wrote {}", out.join(name).display());
    }
    Ok(())
}
