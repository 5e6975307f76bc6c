//! The message journal: where a message is made durable before it is acknowledged.
//!
//! New messages are appended to a file and `fdatasync`ed, a batch at a time; SQLite's
//! `messages` table is written behind, in larger transactions ([`super::message_log`]).
//! Storing a message straight into SQLite dirtied about two B-tree pages per message
//! (its row and two index entries, each in a leaf of its own), each written twice (to
//! the WAL, then by the checkpoint); appending it here writes its 200-odd bytes once.
//!
//! The journal is a directory of segments, `DIR/journal/<first seq>.log`, each a run of
//! records: `u32` payload length, `u32` CRC-32 of the payload (both little-endian), the
//! payload ([`encode`]). A segment is deleted once every record in it is committed to
//! SQLite. At open, the records of every remaining segment are handed back to be stored
//! (storing one twice is harmless: rows are keyed by sequence number). A record cut off
//! by a crash can only be at the end of the last segment: it was never acknowledged, so
//! it is dropped. Damage anywhere else is reported, not skipped.
//!
//! Ownership: [`Journal`] owns the lock file (one process per data directory) and the
//! open segment; its methods block and are called from blocking threads.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use haurach_proto::{Feeling, MessageKind};
use uuid::Uuid;

use crate::{AccountId, BondId, MessageRecord, StoreError, StoreResult};

/// A segment is closed and a new one begun once it holds this many bytes.
const SEGMENT_BYTES: u64 = 16 << 20;
/// How long opening waits for another store on the same directory to let go.
const LOCK_WAIT: Duration = Duration::from_secs(10);
/// A record's header: payload length and CRC-32.
const HEADER: usize = 8;
/// The largest payload a record may claim (a message's body is far below it); a larger
/// claim is damage.
const MAX_PAYLOAD: u32 = 16 << 20;

/// The journal of one data directory.
#[derive(Debug)]
pub(super) struct Journal {
    dir: PathBuf,
    /// A segment is closed once it holds this many bytes ([`SEGMENT_BYTES`]).
    segment_bytes: u64,
    segments: Mutex<Segments>,
    _lock: File,
}

#[derive(Debug)]
struct Segments {
    /// The segment being appended to.
    current: File,
    current_len: u64,
    /// The first sequence number each segment holds (or would hold next), oldest first;
    /// the last is `current`'s.
    firsts: VecDeque<i64>,
    /// An append failed and its bytes could not be cut off again: nothing more may be
    /// appended until the server restarts (and reads the journal back).
    broken: bool,
}

/// A journal read back at open, not yet appended to.
pub(super) struct Recovery {
    dir: PathBuf,
    lock: File,
    segment_bytes: u64,
    /// Every record the journal held, oldest first: each must be committed to SQLite
    /// before [`Recovery::begin`].
    pub(super) records: Vec<MessageRecord>,
}

impl Recovery {
    /// Starts appending at sequence number `next`, once the records read back are
    /// committed to SQLite: deletes the old segments and begins a new one.
    pub(super) fn begin(self, next: i64) -> StoreResult<Journal> {
        for (_, path) in segment_paths(&self.dir)? {
            fs::remove_file(&path).map_err(|e| io_error(&path, "delete", e))?;
        }
        let current = create_segment(&self.dir, next)?;
        Ok(Journal {
            dir: self.dir,
            segment_bytes: self.segment_bytes,
            segments: Mutex::new(Segments {
                current,
                current_len: 0,
                firsts: VecDeque::from([next]),
                broken: false,
            }),
            _lock: self.lock,
        })
    }
}

impl Journal {
    /// Locks `DIR/journal` (creating it) and reads back every record in it.
    pub(super) fn open(data: &Path) -> StoreResult<Recovery> {
        let dir = data.join("journal");
        crate::private::create_dir_all(&dir).map_err(|e| io_error(&dir, "create", e))?;
        // The directory's own name must be durable before anything in it is.
        File::open(data)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_error(data, "sync", e))?;
        let lock = lock(&dir.join("lock"))?;
        let mut records = Vec::new();
        let paths = segment_paths(&dir)?;
        for (i, (_, path)) in paths.iter().enumerate() {
            read_segment(path, i + 1 == paths.len(), &mut records)?;
        }
        Ok(Recovery {
            dir,
            lock,
            segment_bytes: SEGMENT_BYTES,
            records,
        })
    }

    /// Appends `records` (numbered in order, after everything appended before) and
    /// returns once they are on disk. On an error nothing of them remains.
    pub(super) fn append(&self, records: &[MessageRecord]) -> StoreResult<()> {
        let Some(last) = records.last() else {
            return Ok(());
        };
        let mut bytes = Vec::with_capacity(records.len() * 256);
        for record in records {
            encode(record, &mut bytes);
        }
        let mut segments = self.segments.lock().expect("journal lock");
        if segments.broken {
            return Err(StoreError::Corrupt(
                "the message journal could not be written; restart the server".into(),
            ));
        }
        let written = segments
            .current
            .write_all(&bytes)
            .and_then(|()| segments.current.sync_data());
        if let Err(e) = written {
            // Cut the batch off again, so a record that was never acknowledged cannot
            // come back at the next start. If even that fails, stop appending.
            let len = segments.current_len;
            let cut = segments
                .current
                .set_len(len)
                .and_then(|()| segments.current.sync_data());
            if cut.is_err() {
                segments.broken = true;
            }
            return Err(io_error(&self.dir, "append to", e));
        }
        segments.current_len += bytes.len() as u64;
        if segments.current_len >= self.segment_bytes {
            // The records are on disk: failing to begin a new segment only means this one
            // grows until a later append manages it.
            let next = last.seq + 1;
            match create_segment(&self.dir, next) {
                Ok(file) => {
                    segments.current = file;
                    segments.current_len = 0;
                    segments.firsts.push_back(next);
                }
                Err(e) => tracing::warn!(error = %e, "cannot begin a new journal segment"),
            }
        }
        Ok(())
    }

    /// Every record up to `seq` is committed to SQLite: deletes the segments holding
    /// nothing newer.
    pub(super) fn stored_through(&self, seq: i64) -> StoreResult<()> {
        let mut segments = self.segments.lock().expect("journal lock");
        // A segment's records end where the next segment's begin.
        while segments.firsts.len() > 1 && segments.firsts[1] <= seq + 1 {
            let first = segments.firsts.pop_front().expect("two segments");
            let path = segment_path(&self.dir, first);
            fs::remove_file(&path).map_err(|e| io_error(&path, "delete", e))?;
        }
        Ok(())
    }
}

/// Creates the segment beginning at `first` and makes its name durable.
fn create_segment(dir: &Path, first: i64) -> StoreResult<File> {
    let path = segment_path(dir, first);
    let file = crate::private::options()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| io_error(&path, "create", e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, "sync", e))?;
    Ok(file)
}

fn io_error(path: &Path, what: &str, e: io::Error) -> StoreError {
    StoreError::Corrupt(format!("cannot {what} {}: {e}", path.display()))
}

/// Takes the directory's lock, waiting a while for a store that is closing, and writes
/// this process's id in the lock file, so a second server can say which one holds it.
fn lock(path: &Path) -> StoreResult<File> {
    let mut file = crate::private::options()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| crate::private::unusable(path, e))?;
    let start = Instant::now();
    let holder = || {
        let pid = fs::read_to_string(path)
            .ok()
            .and_then(|pid| pid.trim().parse::<u32>().ok())
            .map_or_else(String::new, |pid| format!(" (pid {pid})"));
        let data = path.parent().and_then(Path::parent).unwrap_or(path);
        format!("another haurach server holds {}{pid}", data.display())
    };
    let mut said = false;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(fs::TryLockError::WouldBlock) if start.elapsed() < LOCK_WAIT => {
                // Said at once, so nobody wonders what the wait is for.
                if !said {
                    tracing::warn!(
                        "{}: waiting up to {} s for it to stop",
                        holder(),
                        LOCK_WAIT.as_secs()
                    );
                    said = true;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Unusable(format!(
                    "{}: stop it first, or give this one another data directory (--data)",
                    holder()
                )));
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_error(path, "lock", e)),
        }
    }
    file.set_len(0)
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .map_err(|e| io_error(path, "write", e))?;
    Ok(file)
}

fn segment_path(dir: &Path, first: i64) -> PathBuf {
    dir.join(format!("{first:020}.log"))
}

/// The segments in `dir`, oldest first.
fn segment_paths(dir: &Path) -> StoreResult<Vec<(i64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io_error(dir, "read", e))? {
        let path = entry.map_err(|e| io_error(dir, "read", e))?.path();
        let first = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse::<i64>().ok());
        if let Some(first) = first {
            found.push((first, path));
        }
    }
    found.sort();
    Ok(found)
}

/// Reads a segment's records into `out`. A damaged or cut-off record ends the last
/// segment (it was never acknowledged; the segment is deleted once the records before
/// it are stored); anywhere else it is an error.
fn read_segment(path: &Path, last: bool, out: &mut Vec<MessageRecord>) -> StoreResult<()> {
    let bytes = fs::read(path).map_err(|e| io_error(path, "read", e))?;
    let mut at = 0;
    while at < bytes.len() {
        match record_at(&bytes[at..]) {
            Ok((record, len)) => {
                out.push(record);
                at += len;
            }
            Err(why) if last => {
                tracing::warn!(
                    path = %path.display(),
                    offset = at,
                    why,
                    "the message journal ends in a record cut off by a crash; it was never \
                     acknowledged and is dropped"
                );
                break;
            }
            Err(why) => {
                return Err(StoreError::Corrupt(format!(
                    "the message journal {} is damaged at byte {at} ({why}); it holds \
                     acknowledged messages, so the server will not start without them",
                    path.display()
                )));
            }
        }
    }
    Ok(())
}

/// The record at the start of `bytes` and its length in bytes.
fn record_at(bytes: &[u8]) -> Result<(MessageRecord, usize), &'static str> {
    let header = bytes.get(..HEADER).ok_or("a header cut short")?;
    let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
    let crc = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
    if len > MAX_PAYLOAD {
        return Err("an impossible length");
    }
    let payload = bytes
        .get(HEADER..HEADER + len as usize)
        .ok_or("a payload cut short")?;
    if crc32fast::hash(payload) != crc {
        return Err("a checksum that does not match");
    }
    Ok((decode(payload)?, HEADER + len as usize))
}

/// Appends `record` to `out` as one journal record.
pub(super) fn encode(record: &MessageRecord, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    out.extend_from_slice(&record.seq.to_le_bytes());
    out.extend_from_slice(record.bond.0.as_bytes());
    out.extend_from_slice(record.sender.0.as_bytes());
    out.extend_from_slice(&record.sent_at.to_le_bytes());
    put_text(out, Some(record.kind.key()));
    put_text(out, record.feeling.map(Feeling::key));
    put_text(out, Some(&record.client_id));
    put_text(out, record.body.as_deref());
    let payload = &out[start + HEADER..];
    let len = u32::try_from(payload.len()).expect("a message is far below 4 GiB");
    let crc = crc32fast::hash(payload);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + HEADER].copy_from_slice(&crc.to_le_bytes());
}

/// A text as `u32` length and bytes; `None` as length `u32::MAX`.
fn put_text(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(t) => {
            let len = u32::try_from(t.len()).expect("a text is far below 4 GiB");
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(t.as_bytes());
        }
        None => out.extend_from_slice(&u32::MAX.to_le_bytes()),
    }
}

fn decode(payload: &[u8]) -> Result<MessageRecord, &'static str> {
    let mut r = Reader(payload);
    let seq = i64::from_le_bytes(r.take()?);
    let bond = BondId(Uuid::from_bytes(r.take()?));
    let sender = AccountId(Uuid::from_bytes(r.take()?));
    let sent_at = i64::from_le_bytes(r.take()?);
    let kind = r.text()?.ok_or("no kind")?;
    let kind = MessageKind::from_key(&kind).ok_or("an unknown kind")?;
    let feeling = match r.text()? {
        Some(f) => Some(Feeling::from_key(&f).ok_or("an unknown feeling")?),
        None => None,
    };
    let client_id = r.text()?.ok_or("no client id")?;
    let body = r.text()?;
    if !r.0.is_empty() {
        return Err("bytes after the record");
    }
    Ok(MessageRecord {
        seq,
        bond,
        sender,
        client_id,
        kind,
        body,
        feeling,
        sent_at,
        acknowledged_at: None,
    })
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], &'static str> {
        let (head, rest) = self.0.split_at_checked(N).ok_or("a field cut short")?;
        self.0 = rest;
        Ok(head.try_into().expect("N bytes"))
    }

    fn text(&mut self) -> Result<Option<String>, &'static str> {
        let len = u32::from_le_bytes(self.take()?);
        if len == u32::MAX {
            return Ok(None);
        }
        let (head, rest) = self
            .0
            .split_at_checked(len as usize)
            .ok_or("a text cut short")?;
        self.0 = rest;
        let text = std::str::from_utf8(head).map_err(|_| "a text that is not UTF-8")?;
        Ok(Some(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: i64, body: Option<&str>, feeling: Option<Feeling>) -> MessageRecord {
        MessageRecord {
            seq,
            bond: BondId(Uuid::from_u128(7)),
            sender: AccountId(Uuid::from_u128(seq as u128)),
            client_id: format!("ü-{seq}"),
            kind: if feeling.is_some() {
                MessageKind::Feeling
            } else {
                MessageKind::Voice
            },
            body: body.map(str::to_owned),
            feeling,
            sent_at: 1_700_000_000_000 + seq,
            acknowledged_at: None,
        }
    }

    /// The sequence numbers a fresh open reads back.
    fn read_back(data: &Path) -> Vec<i64> {
        let recovery = Journal::open(data).unwrap();
        recovery.records.iter().map(|r| r.seq).collect()
    }

    fn segments(data: &Path) -> Vec<PathBuf> {
        segment_paths(&data.join("journal"))
            .unwrap()
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    #[test]
    fn records_come_back_whole_and_in_order_across_segments() {
        let data = tempfile::tempdir().unwrap();
        let recovery = Journal::open(data.path()).unwrap();
        assert!(recovery.records.is_empty());
        let mut recovery = recovery;
        recovery.segment_bytes = 300;
        let journal = recovery.begin(1).unwrap();
        let written: Vec<MessageRecord> = (1..=9)
            .map(|seq| match seq % 3 {
                0 => record(seq, None, Some(Feeling::Joy)),
                1 => record(seq, Some("ünïcode ✓ and a long enough body to fill"), None),
                _ => record(seq, Some(""), None),
            })
            .collect();
        for pair in written.chunks(2) {
            journal.append(pair).unwrap();
        }
        assert!(
            segments(data.path()).len() > 2,
            "small segments were closed"
        );
        drop(journal);

        let recovery = Journal::open(data.path()).unwrap();
        assert_eq!(recovery.records, written);
    }

    #[test]
    fn stored_segments_are_deleted_and_the_rest_kept() {
        let data = tempfile::tempdir().unwrap();
        let mut recovery = Journal::open(data.path()).unwrap();
        recovery.segment_bytes = 1;
        let journal = recovery.begin(10).unwrap();
        for seq in 10..15 {
            journal.append(&[record(seq, Some("x"), None)]).unwrap();
        }
        // Segments begin at 10, 11, ..., 15 (the empty current one).
        assert_eq!(segments(data.path()).len(), 6);
        journal.stored_through(12).unwrap();
        assert_eq!(segments(data.path()).len(), 3);
        drop(journal);
        assert_eq!(read_back(data.path()), [13, 14]);
    }

    #[test]
    fn a_record_cut_off_at_the_end_is_dropped_and_damage_before_it_is_refused() {
        let data = tempfile::tempdir().unwrap();
        let mut recovery = Journal::open(data.path()).unwrap();
        recovery.segment_bytes = 1;
        let journal = recovery.begin(1).unwrap();
        journal.append(&[record(1, Some("kept"), None)]).unwrap();
        journal
            .append(&[record(2, Some("kept too"), None)])
            .unwrap();
        drop(journal);
        let paths = segments(data.path());
        // A crash in the middle of the next append: half a record in the last segment.
        let mut torn = Vec::new();
        encode(&record(3, Some("never acknowledged"), None), &mut torn);
        let last = paths.last().unwrap();
        let mut file = fs::OpenOptions::new().append(true).open(last).unwrap();
        file.write_all(&torn[..torn.len() / 2]).unwrap();
        drop(file);
        assert_eq!(read_back(data.path()), [1, 2]);

        // A flipped byte in an earlier segment is damage to acknowledged messages.
        let mut bytes = fs::read(&paths[0]).unwrap();
        let end = bytes.len() - 1;
        bytes[end] ^= 0x20;
        fs::write(&paths[0], bytes).unwrap();
        let err = Journal::open(data.path()).err().expect("damage is refused");
        assert!(err.to_string().contains("damaged"), "{err}");
    }

    #[test]
    fn a_second_store_on_the_directory_is_refused_while_the_first_holds_it() {
        let data = tempfile::tempdir().unwrap();
        let _first = Journal::open(data.path()).unwrap();
        let start = Instant::now();
        let err = Journal::open(data.path()).err().expect("locked");
        assert!(err.to_string().contains("another haurach server"), "{err}");
        assert!(start.elapsed() >= LOCK_WAIT);
    }
}
