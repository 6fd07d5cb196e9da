//! Reading and pruning the probes' maps.
//!
//! Reads copy each entry out of the kernel (one `bpf(MAP_LOOKUP_ELEM)` per
//! key) while the probes keep writing: a read is a consistent value per
//! entry, not a snapshot of the whole map. Counts are cumulative; the
//! caller deletes the entries of processes that are gone. Profile counts
//! are the exception: [`Probes::take_profile`] reads and deletes them, so
//! each call returns the samples since the previous one.

use aya::maps::{HashMap, MapData, PerCpuArray, StackTraceMap};
use weir_ebpf_common::{RunqStats, StackKey, SyscallKey, SyscallStats, TcpKey, TcpStats, counter};

use crate::{Error, Probes};

/// Sample counts of one profile window and the stacks they reference.
#[derive(Debug, Default)]
pub struct ProfileSample {
    /// (process, thread, stacks) -> samples.
    pub counts: Vec<(StackKey, u64)>,
    /// The stacks referenced by `counts`.
    pub stacks: Stacks,
}

/// Stacks by id: instruction pointers, innermost first.
#[derive(Debug, Default)]
pub struct Stacks(pub std::collections::HashMap<i32, Vec<u64>>);

impl Stacks {
    /// The frames of stack `id` (empty for a negative or unknown id).
    pub fn get(&self, id: i32) -> &[u64] {
        self.0.get(&id).map_or(&[], Vec::as_slice)
    }
}

fn read_all<K: aya::Pod + Copy, V: aya::Pod + Copy>(
    probes: &Probes,
    name: &'static str,
) -> Result<Vec<(K, V)>, Error> {
    let map = probes.bpf.map(name).ok_or(Error::map(
        name,
        aya::maps::MapError::InvalidName { name: name.into() },
    ))?;
    let map: HashMap<&MapData, K, V> = HashMap::try_from(map).map_err(|e| Error::map(name, e))?;
    let mut out = Vec::new();
    for entry in map.iter() {
        match entry {
            Ok(kv) => out.push(kv),
            // Deleted between listing the key and reading it.
            Err(aya::maps::MapError::KeyNotFound) => {}
            Err(e) => return Err(Error::map(name, e)),
        }
    }
    Ok(out)
}

fn remove_all<K: aya::Pod + Copy, V: aya::Pod>(
    probes: &mut Probes,
    name: &'static str,
    keys: &[K],
) -> Result<(), Error> {
    let map = probes.bpf.map_mut(name).ok_or(Error::map(
        name,
        aya::maps::MapError::InvalidName { name: name.into() },
    ))?;
    let mut map: HashMap<&mut MapData, K, V> =
        HashMap::try_from(map).map_err(|e| Error::map(name, e))?;
    for k in keys {
        match map.remove(k) {
            Ok(()) | Err(aya::maps::MapError::KeyNotFound) => {}
            Err(e) => return Err(Error::map(name, e)),
        }
    }
    Ok(())
}

impl Probes {
    /// Every (process, system call) entry.
    ///
    /// # Errors
    /// [`Error::Map`] when the kernel refuses a read.
    pub fn syscalls(&self) -> Result<Vec<(SyscallKey, SyscallStats)>, Error> {
        read_all(self, "SYSCALLS")
    }

    /// Deletes system call entries (of exited processes).
    ///
    /// # Errors
    /// [`Error::Map`].
    pub fn remove_syscalls(&mut self, keys: &[SyscallKey]) -> Result<(), Error> {
        remove_all::<_, SyscallStats>(self, "SYSCALLS", keys)
    }

    /// Every thread's run-queue latency, by thread id.
    ///
    /// # Errors
    /// [`Error::Map`].
    pub fn runq(&self) -> Result<Vec<(u32, RunqStats)>, Error> {
        read_all(self, "RUNQ")
    }

    /// Deletes run-queue entries (of exited threads).
    ///
    /// # Errors
    /// [`Error::Map`].
    pub fn remove_runq(&mut self, tids: &[u32]) -> Result<(), Error> {
        remove_all::<_, RunqStats>(self, "RUNQ", tids)
    }

    /// Every (process, direction, peer) TCP entry.
    ///
    /// # Errors
    /// [`Error::Map`].
    pub fn tcp(&self) -> Result<Vec<(TcpKey, TcpStats)>, Error> {
        read_all(self, "TCP")
    }

    /// Deletes TCP entries (of exited processes).
    ///
    /// # Errors
    /// [`Error::Map`].
    pub fn remove_tcp(&mut self, keys: &[TcpKey]) -> Result<(), Error> {
        remove_all::<_, TcpStats>(self, "TCP", keys)
    }

    /// The samples since the previous call, with their stacks; both maps
    /// are emptied (samples taken while this runs may be lost: a stack
    /// deleted after its count was read, counted again next time).
    ///
    /// # Errors
    /// [`Error::Map`].
    pub fn take_profile(&mut self) -> Result<ProfileSample, Error> {
        let counts: Vec<(StackKey, u64)> = read_all(self, "PROFILE_COUNTS")?;
        let keys: Vec<StackKey> = counts.iter().map(|(k, _)| *k).collect();
        remove_all::<_, u64>(self, "PROFILE_COUNTS", &keys)?;
        let mut stacks = Stacks::default();
        let name = "STACKS";
        let map = self.bpf.map_mut(name).ok_or(Error::map(
            name,
            aya::maps::MapError::InvalidName { name: name.into() },
        ))?;
        let mut map = StackTraceMap::try_from(map).map_err(|e| Error::map(name, e))?;
        let ids: Vec<u32> = map.stack_ids().filter_map(Result::ok).collect();
        for id in ids {
            if let Ok(trace) = map.get(&id, 0) {
                let frames = trace.frames().iter().map(|f| f.ip).collect();
                let _ = stacks.0.insert(id as i32, frames);
            }
            let _ = map.remove(&id);
        }
        Ok(ProfileSample { counts, stacks })
    }

    /// Events the probes dropped because a map was full, per
    /// [`counter`] index, summed over CPUs.
    ///
    /// # Errors
    /// [`Error::Map`].
    pub fn dropped(&self) -> Result<[u64; counter::LEN as usize], Error> {
        let name = "COUNTERS";
        let map = self.bpf.map(name).ok_or(Error::map(
            name,
            aya::maps::MapError::InvalidName { name: name.into() },
        ))?;
        let map: PerCpuArray<&MapData, u64> =
            PerCpuArray::try_from(map).map_err(|e| Error::map(name, e))?;
        let mut out = [0u64; counter::LEN as usize];
        for (i, slot) in out.iter_mut().enumerate() {
            let values = map.get(&(i as u32), 0).map_err(|e| Error::map(name, e))?;
            *slot = values.iter().sum();
        }
        Ok(out)
    }
}
