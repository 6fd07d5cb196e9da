//! tracefs: where it is (mounting it when it is not), and the field
//! offsets of tracepoint records from their `format` files.

#![allow(unsafe_code)] // libc::mount

use std::ffi::CString;
use std::io;
use std::path::{Path, PathBuf};

use crate::Error;

const CANDIDATES: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// The tracefs mount point, mounting tracefs at `/sys/kernel/tracing` if
/// neither usual place has it (weir runs as root for eBPF anyway).
pub(crate) fn ensure() -> Result<PathBuf, Error> {
    if let Some(p) = CANDIDATES
        .iter()
        .map(Path::new)
        .find(|p| p.join("events").is_dir())
    {
        return Ok(p.to_path_buf());
    }
    let target = CANDIDATES[0];
    let c = |s: &str| CString::new(s).map_err(|e| Error::Tracefs(io::Error::other(e)));
    let (source, dir, fstype) = (c("nodev")?, c(target)?, c("tracefs")?);
    // SAFETY: valid NUL-terminated strings; no data argument.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            dir.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(Error::Tracefs(io::Error::last_os_error()));
    }
    Ok(PathBuf::from(target))
}

/// The offsets of `fields` in the record of tracepoint `category/name`.
pub(crate) fn offsets(
    tracefs: &Path,
    category: &str,
    name: &str,
    fields: &[&'static str],
) -> Result<Vec<u32>, Error> {
    let path = tracefs
        .join("events")
        .join(category)
        .join(name)
        .join("format");
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    fields
        .iter()
        .map(|f| {
            field_offset(&text, f).ok_or_else(|| Error::TracepointField {
                event: format!("{category}/{name}"),
                field: f,
            })
        })
        .collect()
}

/// The offset of `field` in a `format` file: lines like
/// `field:pid_t prev_pid;<TAB>offset:24;<TAB>size:4;<TAB>signed:1;`.
fn field_offset(format: &str, field: &str) -> Option<u32> {
    format.lines().find_map(|line| {
        let decl = line.trim().strip_prefix("field:")?;
        let (decl, rest) = decl.split_once(';')?;
        let name = decl.trim().rsplit([' ', '*']).next()?;
        let name = name.split('[').next()?;
        if name != field {
            return None;
        }
        let off = rest.trim().strip_prefix("offset:")?;
        off.split(';').next()?.trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::field_offset;

    const SWITCH: &str = "name: sched_switch
ID: 318
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:char prev_comm[16];	offset:8;	size:16;	signed:0;
	field:pid_t prev_pid;	offset:24;	size:4;	signed:1;
	field:long prev_state;	offset:32;	size:8;	signed:1;
	field:const void * skaddr;	offset:40;	size:8;	signed:0;
";

    #[test]
    fn finds_fields_of_every_shape() {
        assert_eq!(field_offset(SWITCH, "prev_comm"), Some(8));
        assert_eq!(field_offset(SWITCH, "prev_pid"), Some(24));
        assert_eq!(field_offset(SWITCH, "prev_state"), Some(32));
        assert_eq!(field_offset(SWITCH, "skaddr"), Some(40));
        assert_eq!(field_offset(SWITCH, "prev"), None);
        assert_eq!(field_offset(SWITCH, "common_type"), Some(0));
    }
}
