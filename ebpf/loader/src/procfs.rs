//! What /proc and /sys say about processes: whether they are alive, their
//! name, their process id from a thread id, and cgroup paths by id.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

/// Whether process (or thread) `id` exists.
pub fn alive(id: u32) -> bool {
    Path::new(&format!("/proc/{id}")).exists()
}

/// The process id of thread `tid` (thread ids are valid /proc entries even
/// when not listed), if it is alive.
pub fn tgid_of(tid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// A `comm` as text: up to the first NUL, invalid UTF-8 replaced.
pub fn comm_str(comm: &[u8]) -> String {
    let end = comm.iter().position(|b| *b == 0).unwrap_or(comm.len());
    String::from_utf8_lossy(&comm[..end]).into_owned()
}

/// Paths of cgroup (v2) directories by their id (the directory's inode
/// number, what `bpf_get_current_cgroup_id` returns), found by walking the
/// cgroup2 hierarchy; rebuilt when an unknown id shows up.
#[derive(Debug, Default)]
pub struct Cgroups {
    paths: HashMap<u64, String>,
    root: Option<std::path::PathBuf>,
    scanned: bool,
}

impl Cgroups {
    /// An empty cache (the hierarchy is walked on first use).
    pub fn new() -> Self {
        Self::default()
    }

    /// The path of cgroup `id` relative to the cgroup2 root (`/` for the
    /// root), if it still exists.
    pub fn path(&mut self, id: u64) -> Option<&str> {
        if id == 0 {
            return None;
        }
        if !self.paths.contains_key(&id) {
            self.rescan();
        }
        self.paths.get(&id).map(String::as_str)
    }

    fn rescan(&mut self) {
        if self.root.is_none() && !self.scanned {
            self.root = cgroup2_root();
        }
        self.scanned = true;
        let Some(root) = self.root.clone() else {
            return;
        };
        self.paths.clear();
        let mut stack = vec![root.clone()];
        // Bounded: at most this many directories per walk.
        let mut budget = 100_000;
        while let Some(dir) = stack.pop() {
            budget -= 1;
            if budget == 0 {
                break;
            }
            let Ok(meta) = std::fs::metadata(&dir) else {
                continue;
            };
            let rel = dir
                .strip_prefix(&root)
                .map_or_else(|_| "/".to_string(), |p| format!("/{}", p.display()));
            let _ = self.paths.insert(meta.ino(), rel);
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for e in entries.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        stack.push(e.path());
                    }
                }
            }
        }
    }
}

/// Where the cgroup2 hierarchy is mounted.
fn cgroup2_root() -> Option<std::path::PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let (_dev, dir, fstype) = (f.next()?, f.next()?, f.next()?);
        (fstype == "cgroup2").then(|| std::path::PathBuf::from(dir))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_known() {
        let me = std::process::id();
        assert!(alive(me));
        assert_eq!(tgid_of(me), Some(me));
        assert!(!alive(u32::MAX - 1));
        assert_eq!(comm_str(b"sleep\0\0garbage"), "sleep");
        assert_eq!(comm_str(b"0123456789abcdef"), "0123456789abcdef");
    }
}
