//! The write-ahead log: segment files of checksummed records, a commit
//! cursor, and recovery.
//!
//! # Layout
//! A queue directory holds segment files `<20-digit id>.wal` and a `cursor`
//! file. Each record is
//!
//! ```text
//! magic  u32 LE  0x31515257 ("WRQ1")
//! len    u32 LE  payload length
//! crc    u32 LE  CRC-32 (IEEE) of the signal byte, the items and the payload
//! signal u8      0 traces, 1 metrics, 2 logs
//! items  u32 LE  items in the batch
//! payload        the batch's OTLP protobuf bytes (an Export*ServiceRequest)
//! ```
//!
//! The payload is the OTLP encoding rather than Arrow IPC: it is the form
//! a batch already has when it arrives (a pass-through pipeline writes
//! the client's bytes without encoding anything), it is lossless, and it
//! is what most exporters send.
//!
//! `cursor` holds `<segment id> <offset>`, the first record not yet
//! delivered, and a CRC of that text. It is rewritten (to a temporary file,
//! then renamed) at most every [`CURSOR_INTERVAL`] while records are
//! delivered, and when the queue stops. A crash sends again what was
//! delivered since the last rewrite: the queue is at-least-once.
//!
//! # Corruption
//! A record whose magic, length or CRC is wrong is reported (logged and
//! counted) and skipped: the reader scans forward for the next magic
//! whose record checks, so only the damaged record is lost. A record cut
//! short at the end of the last segment (a crash during a write) is
//! reported and cut off when the queue opens.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use bytes::Bytes;
use weir_pdata::Signal;

use super::config::{Fsync, QueueConfig};

/// The record marker.
pub const MAGIC: u32 = 0x3151_5257;
/// Bytes before a record's payload.
pub const HEADER: usize = 17;
/// How often, at most, the cursor file is rewritten while records are
/// delivered: a crash sends again what was delivered in the last interval.
pub const CURSOR_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);
/// The largest payload accepted (a record is one batch).
pub const MAX_PAYLOAD: u32 = 1 << 30;

/// A position in the log: a segment and a byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    /// The segment id.
    pub segment: u64,
    /// The byte offset in the segment.
    pub offset: u64,
}

/// One record read back.
#[derive(Debug, Clone)]
pub struct Record {
    /// The batch's signal.
    pub signal: Signal,
    /// Items in the batch.
    pub items: u32,
    /// The OTLP bytes.
    pub payload: Bytes,
    /// Where the next record starts (what to commit once delivered).
    pub next: Position,
}

/// What opening found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Records waiting to be delivered.
    pub records: u64,
    /// Items in them.
    pub items: u64,
    /// Damaged records found (and skipped).
    pub corrupted: u64,
    /// Bytes of a record cut short at the end of the last segment.
    pub truncated_bytes: u64,
}

/// Why a batch could not be appended.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The queue holds `max-size` bytes.
    #[error("the queue is full")]
    Full,
    /// The disk failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

#[derive(Debug)]
struct Segment {
    id: u64,
    bytes: u64,
}

/// Counters of damage, for the queue's metrics.
#[derive(Debug, Default, Clone, Copy)]
pub struct Damage {
    /// Damaged records skipped.
    pub corrupted: u64,
}

/// The log of one queue. Not synchronised: the queue wraps it in a mutex.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    segment_size: u64,
    max_size: u64,
    fsync: Fsync,
    segments: VecDeque<Segment>,
    writer: File,
    /// Bytes written since the last fsync.
    dirty: bool,
    last_sync: Instant,
    read: Position,
    reader: Option<(u64, File)>,
    commit: Position,
    damage: Damage,
    /// When the cursor file was last written, and whether it is behind.
    cursor_written: Instant,
    cursor_stale: bool,
    /// Everything before this was checked (and its damage counted) when
    /// the queue opened.
    checked: Position,
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> AppendError + 'a {
    move |source| AppendError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.wal"))
}

fn signal_code(s: Signal) -> Option<u8> {
    match s {
        Signal::Traces => Some(0),
        Signal::Metrics => Some(1),
        Signal::Logs => Some(2),
        _ => None,
    }
}

fn signal_of(code: u8) -> Option<Signal> {
    match code {
        0 => Some(Signal::Traces),
        1 => Some(Signal::Metrics),
        2 => Some(Signal::Logs),
        _ => None,
    }
}

fn checksum(signal: u8, items: u32, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&[signal]);
    h.update(&items.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// Encodes one record (header and payload).
pub fn encode(signal: Signal, items: u32, payload: &[u8]) -> Option<Vec<u8>> {
    let code = signal_code(signal)?;
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|l| *l <= MAX_PAYLOAD)?;
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&checksum(code, items, payload).to_le_bytes());
    out.push(code);
    out.extend_from_slice(&items.to_le_bytes());
    out.extend_from_slice(payload);
    Some(out)
}

/// The record at the start of `buf`, if it is whole and checks: its
/// signal, items, payload range and total length.
fn parse(buf: &[u8]) -> Parsed {
    if buf.len() < HEADER {
        return Parsed::Short;
    }
    let u32_at = |i: usize| u32::from_le_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
    if u32_at(0) != MAGIC {
        return Parsed::Bad;
    }
    let len = u32_at(4);
    if len > MAX_PAYLOAD {
        return Parsed::Bad;
    }
    let total = HEADER + len as usize;
    if buf.len() < total {
        return Parsed::Short;
    }
    let crc = u32_at(8);
    let code = buf[12];
    let items = u32_at(13);
    let payload = &buf[HEADER..total];
    match signal_of(code) {
        Some(signal) if checksum(code, items, payload) == crc => Parsed::Ok {
            signal,
            items,
            total,
        },
        _ => Parsed::Bad,
    }
}

enum Parsed {
    Ok {
        signal: Signal,
        items: u32,
        total: usize,
    },
    /// Not enough bytes for the record its header announces.
    Short,
    /// Wrong magic, length or checksum.
    Bad,
}

/// Walks a segment's bytes from `from`: calls `on_record` for each good
/// record, skips damage. Returns the damaged records found and the offset
/// of a record cut short at the end (if any).
fn walk(
    buf: &[u8],
    from: usize,
    mut on_record: impl FnMut(usize, Signal, u32, usize),
) -> (u64, Option<usize>) {
    let mut at = from;
    let mut corrupted = 0;
    while at < buf.len() {
        match parse(&buf[at..]) {
            Parsed::Ok {
                signal,
                items,
                total,
            } => {
                on_record(at, signal, items, total);
                at += total;
            }
            Parsed::Short => {
                // A record announcing more bytes than are left: a torn
                // write if nothing good follows, else a damaged length.
                let next = resync(buf, at + 1);
                if next >= buf.len() {
                    return (corrupted, Some(at));
                }
                corrupted += 1;
                at = next;
            }
            Parsed::Bad => {
                corrupted += 1;
                at = resync(buf, at + 1);
            }
        }
    }
    (corrupted, None)
}

/// The offset of the next record that checks at or after `from` (or the
/// end of `buf`).
fn resync(buf: &[u8], from: usize) -> usize {
    let magic = MAGIC.to_le_bytes();
    let mut at = from;
    while at + 4 <= buf.len() {
        match memchr_magic(&buf[at..], &magic) {
            None => return buf.len(),
            Some(i) => {
                let cand = at + i;
                match parse(&buf[cand..]) {
                    Parsed::Ok { .. } => return cand,
                    Parsed::Short | Parsed::Bad => at = cand + 1,
                }
            }
        }
    }
    buf.len()
}

fn memchr_magic(hay: &[u8], magic: &[u8; 4]) -> Option<usize> {
    hay.windows(4).position(|w| w == magic)
}

impl Wal {
    /// Opens (or creates) the queue in `dir`: finds the segments, reads
    /// the cursor, checks every record after it, and cuts off a record cut
    /// short at the end of the last segment.
    ///
    /// # Errors
    /// The directory or a file cannot be created, read or written.
    pub fn open(dir: &Path, config: &QueueConfig) -> Result<(Wal, Recovery), AppendError> {
        fs::create_dir_all(dir).map_err(io_err("create", dir))?;
        let mut ids: Vec<u64> = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
            let entry = entry.map_err(io_err("list", dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(stem) = name.strip_suffix(".wal")
                && let Ok(id) = stem.parse::<u64>()
            {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        let cursor = read_cursor(dir);
        let mut recovery = Recovery::default();
        // Segments wholly before the cursor were delivered: delete them.
        let start = match cursor {
            Some(c) if ids.contains(&c.segment) => c,
            _ => Position {
                segment: ids.first().copied().unwrap_or(0),
                offset: 0,
            },
        };
        let mut segments = VecDeque::new();
        let last = ids.last().copied();
        for id in ids {
            let path = segment_path(dir, id);
            if id < start.segment {
                fs::remove_file(&path).map_err(io_err("remove", &path))?;
                continue;
            }
            let buf = fs::read(&path).map_err(io_err("read", &path))?;
            let from = if id == start.segment {
                usize::try_from(start.offset)
                    .unwrap_or(usize::MAX)
                    .min(buf.len())
            } else {
                0
            };
            let (corrupted, short) = walk(&buf, from, |_, _, items, _| {
                recovery.records += 1;
                recovery.items += u64::from(items);
            });
            recovery.corrupted += corrupted;
            let mut len = buf.len() as u64;
            if let Some(at) = short {
                recovery.truncated_bytes += (buf.len() - at) as u64;
                if Some(id) == last {
                    // A torn write at the tail: cut it off so appends
                    // follow the last whole record.
                    let f = OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(io_err("open", &path))?;
                    f.set_len(at as u64).map_err(io_err("truncate", &path))?;
                    f.sync_all().map_err(io_err("sync", &path))?;
                    len = at as u64;
                } else {
                    recovery.corrupted += 1;
                }
            }
            segments.push_back(Segment { id, bytes: len });
        }
        let write_id = match segments.back() {
            Some(s) => s.id,
            None => {
                segments.push_back(Segment {
                    id: start.segment,
                    bytes: 0,
                });
                start.segment
            }
        };
        let path = segment_path(dir, write_id);
        let writer = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err("open", &path))?;
        let checked = Position {
            segment: write_id,
            offset: segments.back().map_or(0, |s| s.bytes),
        };
        let wal = Wal {
            dir: dir.to_path_buf(),
            segment_size: config.effective_segment_size(),
            max_size: config.max_size,
            fsync: config.fsync,
            segments,
            writer,
            dirty: false,
            last_sync: Instant::now(),
            read: start,
            reader: None,
            commit: start,
            damage: Damage {
                corrupted: recovery.corrupted + u64::from(recovery.truncated_bytes > 0),
            },
            checked,
            cursor_written: Instant::now(),
            cursor_stale: false,
        };
        Ok((wal, recovery))
    }

    /// Bytes on disk (every segment not yet deleted).
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// Damage found so far.
    pub fn damage(&self) -> Damage {
        self.damage
    }

    /// Whether a record of `len` payload bytes fits under `max-size`.
    pub fn fits(&self, len: usize) -> bool {
        self.bytes() == 0 || self.bytes() + (HEADER + len) as u64 <= self.max_size
    }

    /// Appends an encoded record (from [`encode`]) and syncs as configured.
    ///
    /// # Errors
    /// [`AppendError::Full`] when it does not fit; I/O errors.
    pub fn append(&mut self, record: &[u8]) -> Result<(), AppendError> {
        if self.bytes() > 0 && self.bytes() + record.len() as u64 > self.max_size {
            return Err(AppendError::Full);
        }
        let back = self.segments.back().map_or(0, |s| s.bytes);
        if back > 0 && back + record.len() as u64 > self.segment_size {
            self.rotate()?;
        }
        let id = self.segments.back().map_or(0, |s| s.id);
        let path = segment_path(&self.dir, id);
        self.writer
            .write_all(record)
            .map_err(io_err("write", &path))?;
        if let Some(s) = self.segments.back_mut() {
            s.bytes += record.len() as u64;
        }
        self.dirty = true;
        match self.fsync {
            Fsync::Always => self.sync()?,
            Fsync::Every(d) if self.last_sync.elapsed() >= d => self.sync()?,
            _ => {}
        }
        Ok(())
    }

    /// Syncs written data to disk if any is pending.
    ///
    /// # Errors
    /// The sync failed.
    pub fn sync(&mut self) -> Result<(), AppendError> {
        if self.dirty {
            let id = self.segments.back().map_or(0, |s| s.id);
            self.writer
                .sync_data()
                .map_err(io_err("sync", &segment_path(&self.dir, id)))?;
            self.dirty = false;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    fn rotate(&mut self) -> Result<(), AppendError> {
        self.sync()?;
        let id = self.segments.back().map_or(0, |s| s.id + 1);
        let path = segment_path(&self.dir, id);
        self.writer = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err("create", &path))?;
        if self.fsync != Fsync::Never
            && let Ok(d) = File::open(&self.dir)
        {
            let _ = d.sync_all();
        }
        self.segments.push_back(Segment { id, bytes: 0 });
        Ok(())
    }

    /// The next record after the read position, if one is written. Damaged
    /// records are skipped (and counted in [`Wal::damage`]).
    ///
    /// # Errors
    /// A segment cannot be read.
    pub fn next_record(&mut self) -> Result<Option<Record>, AppendError> {
        loop {
            let Some(seg) = self.segments.iter().find(|s| s.id >= self.read.segment) else {
                return Ok(None);
            };
            let (id, end) = (seg.id, seg.bytes);
            if id != self.read.segment {
                self.read = Position {
                    segment: id,
                    offset: 0,
                };
            }
            let is_last = self.segments.back().is_some_and(|s| s.id == id);
            if self.read.offset >= end {
                if is_last {
                    return Ok(None);
                }
                self.read = Position {
                    segment: id + 1,
                    offset: 0,
                };
                continue;
            }
            let path = segment_path(&self.dir, id);
            if self.reader.as_ref().map(|(rid, _)| *rid) != Some(id) {
                let f = File::open(&path).map_err(io_err("open", &path))?;
                self.reader = Some((id, f));
            }
            let Some((_, f)) = self.reader.as_mut() else {
                return Ok(None);
            };
            // Read what is left of the segment's written part; records are
            // far smaller than segments, and the common case reads one.
            let want = usize::try_from(end - self.read.offset).unwrap_or(usize::MAX);
            let mut head = [0u8; HEADER];
            f.seek(SeekFrom::Start(self.read.offset))
                .map_err(io_err("seek", &path))?;
            let got = read_up_to(f, &mut head).map_err(io_err("read", &path))?;
            let mut buf = head[..got].to_vec();
            if got == HEADER && u32::from_le_bytes([head[0], head[1], head[2], head[3]]) == MAGIC {
                let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
                let total = (HEADER + len.min(MAX_PAYLOAD as usize)).min(want);
                buf.resize(total, 0);
                f.read_exact(&mut buf[HEADER..])
                    .map_err(io_err("read", &path))?;
            }
            match parse(&buf) {
                Parsed::Ok {
                    signal,
                    items,
                    total,
                } => {
                    let payload = Bytes::from(buf).slice(HEADER..total);
                    self.read.offset += total as u64;
                    return Ok(Some(Record {
                        signal,
                        items,
                        payload,
                        next: self.read,
                    }));
                }
                Parsed::Short | Parsed::Bad => {
                    // Damage: scan the rest of the segment for the next
                    // record that checks. (Damage in what was on disk at
                    // open was counted then.)
                    if self.read >= self.checked {
                        self.damage.corrupted += 1;
                    }
                    let mut rest = Vec::with_capacity(want);
                    f.seek(SeekFrom::Start(self.read.offset))
                        .map_err(io_err("seek", &path))?;
                    let _ = f
                        .take(want as u64)
                        .read_to_end(&mut rest)
                        .map_err(io_err("read", &path))?;
                    let skip = resync(&rest, 1);
                    tracing::error!(
                        segment = %path.display(),
                        offset = self.read.offset,
                        skipped_bytes = skip,
                        "Damaged record in the persistent queue; skipping it."
                    );
                    self.read.offset += skip as u64;
                }
            }
        }
    }

    /// Marks everything before `pos` delivered: rewrites the cursor and
    /// deletes segments wholly before it.
    ///
    /// # Errors
    /// The cursor or a segment cannot be written or removed.
    pub fn commit(&mut self, pos: Position) -> Result<(), AppendError> {
        let first = self.segments.front().map_or(pos.segment, |s| s.id);
        let pos = if pos.segment < first {
            Position {
                segment: first,
                offset: 0,
            }
        } else {
            pos
        };
        if pos <= self.commit {
            return Ok(());
        }
        self.commit = pos;
        while self.segments.len() > 1 && self.segments.front().is_some_and(|s| s.id < pos.segment) {
            if let Some(s) = self.segments.pop_front() {
                let path = segment_path(&self.dir, s.id);
                fs::remove_file(&path).map_err(io_err("remove", &path))?;
            }
        }
        // A segment fully read and not the one being written is done too.
        if self.segments.len() > 1
            && let Some(front) = self.segments.front()
            && front.id == pos.segment
            && pos.offset >= front.bytes
        {
            let path = segment_path(&self.dir, front.id);
            let next = front.id + 1;
            let _ = self.segments.pop_front();
            fs::remove_file(&path).map_err(io_err("remove", &path))?;
            self.commit = Position {
                segment: next,
                offset: 0,
            };
        }
        self.cursor_stale = true;
        if self.cursor_written.elapsed() >= CURSOR_INTERVAL {
            self.flush_cursor()?;
        }
        Ok(())
    }

    /// Writes the cursor file if deliveries happened since it was last
    /// written.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn flush_cursor(&mut self) -> Result<(), AppendError> {
        if self.cursor_stale {
            write_cursor(&self.dir, self.commit)?;
            self.cursor_stale = false;
        }
        self.cursor_written = Instant::now();
        Ok(())
    }

    /// Deletes the oldest segment to make room (`when-full
    /// "drop-oldest"`); returns the items of the records dropped, or
    /// `None` when only the segment being written is left.
    ///
    /// # Errors
    /// The segment cannot be read or removed.
    pub fn drop_oldest(&mut self) -> Result<Option<u64>, AppendError> {
        if self.segments.len() < 2 {
            // Start a new segment so that the old one can go.
            if self.segments.back().is_some_and(|s| s.bytes > 0) {
                self.rotate()?;
            } else {
                return Ok(None);
            }
        }
        let Some(s) = self.segments.pop_front() else {
            return Ok(None);
        };
        let path = segment_path(&self.dir, s.id);
        let from = if self.read.segment == s.id {
            usize::try_from(self.read.offset).unwrap_or(usize::MAX)
        } else if self.read.segment > s.id {
            usize::MAX
        } else {
            0
        };
        let mut items = 0u64;
        if from != usize::MAX {
            let buf = fs::read(&path).map_err(io_err("read", &path))?;
            let _ = walk(&buf, from.min(buf.len()), |_, _, i, _| {
                items += u64::from(i)
            });
        }
        fs::remove_file(&path).map_err(io_err("remove", &path))?;
        if self.reader.as_ref().is_some_and(|(id, _)| *id == s.id) {
            self.reader = None;
        }
        let next = self.segments.front().map_or(s.id + 1, |f| f.id);
        if self.read.segment <= s.id {
            self.read = Position {
                segment: next,
                offset: 0,
            };
        }
        if self.commit.segment <= s.id {
            self.commit = Position {
                segment: next,
                offset: 0,
            };
            write_cursor(&self.dir, self.commit)?;
        }
        Ok(Some(items))
    }
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match f.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

fn read_cursor(dir: &Path) -> Option<Position> {
    let text = fs::read_to_string(dir.join("cursor")).ok()?;
    let mut parts = text.split_whitespace();
    let segment: u64 = parts.next()?.parse().ok()?;
    let offset: u64 = parts.next()?.parse().ok()?;
    let crc: u32 = parts.next()?.parse().ok()?;
    (crc32fast::hash(format!("{segment} {offset}").as_bytes()) == crc)
        .then_some(Position { segment, offset })
}

fn write_cursor(dir: &Path, pos: Position) -> Result<(), AppendError> {
    let body = format!("{} {}", pos.segment, pos.offset);
    let crc = crc32fast::hash(body.as_bytes());
    let tmp = dir.join("cursor.tmp");
    fs::write(&tmp, format!("{body} {crc}\n")).map_err(io_err("write", &tmp))?;
    let path = dir.join("cursor");
    fs::rename(&tmp, &path).map_err(io_err("rename", &path))
}

impl Drop for Wal {
    fn drop(&mut self) {
        // A clean stop records every delivery; a crash does not get here.
        let _ = self.flush_cursor();
    }
}
