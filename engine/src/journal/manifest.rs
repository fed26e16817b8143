//! The manifest: the list of every segment of a journal, so that a missing
//! segment (the first, the last, or any between) is found, and an
//! archived one is found where it was moved.
//!
//! `MANIFEST` in the journal directory is a text file of blocks, each
//! ending in a checksum line. A writer writes it whole, atomically
//! (written to `MANIFEST.tmp`, synced, renamed, the directory synced),
//! when it starts, when it stops cleanly and when segments are archived;
//! each segment it starts in between is appended as a block of its own
//! and synced (`ManifestLog`), so that a segment's start costs the same
//! however many segments the journal has had:
//!
//! ```text
//! cetx-journal-manifest 3
//! archive ../archive
//! segment 00000000000000000001 first 5d0e44a1 archived
//! segment 00000000000000041873
//! crc32c XXXXXXXX
//! first 00000000000000041873 1a2b3c4d
//! segment 00000000000000083746
//! crc32c XXXXXXXX
//! ```
//!
//! The `archive` line (optional) names the directory archived segments
//! were moved to, relative to the journal directory unless absolute. Each
//! `segment` line is a segment's first sequence number, in order, then
//! (version 2) `first` and the `header_crc` of its first record once the
//! writer has moved on from it (listed at the next segment or the clean
//! stop), and `archived` when the file lives in the archive directory; a
//! `first` line in a later block notes it for a segment listed before.
//! The `first` ties each file to this journal: a segment of another
//! journal copied in under the same name is refused before any of its
//! records is read as this journal's. A `closed`
//! line (optional, after the segments) says the writer stopped cleanly
//! and the sequence number of the journal's last record then. Each
//! block's last line is the CRC32C (hex) of every byte of the file before
//! it; a block's lines count once it checks out. Lines after the last
//! checksum line (or a last checksum line cut short) are a block whose
//! writing a crash cut short: not read. Versions 1 and 2 are one block.
//!
//! The writer lists a segment before it writes a record into it, so a
//! segment file that the manifest does not list may only be the newest,
//! holding no record (a crash between creating it and listing it); any
//! other is refused. Listing a segment drops the `closed` line, so a
//! journal that says it was closed has had nothing written since: its
//! records must end at that very number, and a last record that fails its
//! checks, or zeros where records were, is damage, not a write cut short
//! (see [`super::JournalReader`]).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::format::{list_segments, segment_file_name, HEADER_LEN};
use super::segment::{Header, Raw, SegmentFile};
use super::sync_dir;
use super::JournalError;

/// The manifest's file name in the journal directory.
pub const MANIFEST_FILE: &str = "MANIFEST";

const FIRST_LINE: &str = "cetx-journal-manifest 3";

/// Version 2's first line: one block, written whole each time.
const FIRST_LINE_2: &str = "cetx-journal-manifest 2";

/// Version 1's first line: no `first` on its segment lines.
const FIRST_LINE_1: &str = "cetx-journal-manifest 1";

/// One segment the manifest lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListedSegment {
    /// Its first sequence number (and so its file name).
    pub first_seq: u64,
    /// Whether it was moved to the archive directory.
    pub archived: bool,
    /// The `header_crc` of its first record, once the writer has moved on
    /// from it (none in a version 1 manifest).
    pub first_crc: Option<u32>,
}

impl ListedSegment {
    /// A segment just started: live, its first record not noted yet.
    fn new(first_seq: u64) -> Self {
        Self {
            first_seq,
            archived: false,
            first_crc: None,
        }
    }

    /// Its `segment` line.
    fn line(&self) -> String {
        let archived = if self.archived { " archived" } else { "" };
        let first = self
            .first_crc
            .map_or_else(String::new, |crc| format!(" first {crc:08x}"));
        format!("segment {:020}{first}{archived}\n", self.first_seq)
    }
}

/// Every segment of a journal, in order; see the module docs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Where archived segments are, as written (relative to the journal
    /// directory unless absolute).
    pub archive_dir: Option<PathBuf>,
    /// The segments, oldest first.
    pub segments: Vec<ListedSegment>,
    /// The last sequence number when the writer stopped cleanly (0 for a
    /// journal without records); `None` while a writer may be writing, or
    /// after one that did not stop cleanly.
    pub closed: Option<u64>,
    /// The first line (counting from 1) of an appended block that was not
    /// read: its checksum does not hold, or it has none (a write cut
    /// short, or damage to the manifest); `None` when every line was read.
    pub unread_from_line: Option<usize>,
}

impl Manifest {
    /// Reads `dir/MANIFEST`; `None` when there is none.
    ///
    /// # Errors
    /// [`JournalError::Corrupt`] for a manifest that does not parse or
    /// check out; [`JournalError::Io`] when it cannot be read.
    pub fn read(dir: &Path) -> Result<Option<Self>, JournalError> {
        let path = dir.join(MANIFEST_FILE);
        let bytes = match super::private::read_regular(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(JournalError::io(&path, "reading the journal manifest", e)),
        };
        // Not text where a write was cut short is not read, as any bytes
        // there; in a block that is read, no checksum matches it.
        Self::parse(&String::from_utf8_lossy(&bytes))
            .map(Some)
            .map_err(|reason| JournalError::BadManifest { file: path, reason })
    }

    fn parse(text: &str) -> Result<Self, String> {
        let version = match text.lines().next() {
            Some(FIRST_LINE) => 3,
            Some(FIRST_LINE_2) => 2,
            Some(FIRST_LINE_1) => 1,
            _ => {
                return Err(format!(
                    "the manifest does not start with `{FIRST_LINE}` (or an older version's)"
                ))
            }
        };
        // Versions 1 and 2 were always read with the end of the file
        // trimmed: blank lines or spaces after a hand-edited file's
        // checksum line are not damage there. (Version 3 appends blocks:
        // what follows its last checksum line is a write cut short.)
        let trimmed;
        let text = if version < 3 {
            trimmed = format!("{}\n", text.trim_end());
            &trimmed
        } else {
            text
        };
        let mut manifest = Self::default();
        // The lines since the last checksum line, the CRC32C of every
        // byte before the next line, and how many blocks checked out.
        let (mut block, mut crc, mut blocks) = (Vec::new(), 0, 0);
        let mut block_from = 1;
        for (number, line) in (1..).zip(text.split_inclusive('\n')) {
            // Eight hex digits, as written: a line cut inside them is no
            // checksum line.
            let checksum = line
                .trim_end_matches('\n')
                .strip_prefix("crc32c ")
                .filter(|hex| hex.len() == 8)
                .and_then(parse_crc);
            match checksum {
                // A version 3 block appended after the whole file was
                // written, and everything after it: a write cut short (a
                // power cut may leave any part of it unwritten), not read.
                // Damage there is found by the segments it would list.
                Some(stored) if stored != crc && version >= 3 && blocks > 0 => {
                    manifest.unread_from_line = Some(block_from);
                    break;
                }
                Some(stored) if stored != crc => {
                    return Err(format!(
                        "manifest checksum {stored:08x} does not match {crc:08x}"
                    ))
                }
                Some(_) => {
                    if blocks > 0 && version < 3 {
                        return Err("lines follow the manifest's checksum line".into());
                    }
                    // The first line names the version, read above.
                    let mut lines = block.drain(..).skip(usize::from(blocks == 0));
                    lines.try_for_each(|line: &str| manifest.apply(line.trim_end_matches('\n')))?;
                    blocks += 1;
                    block_from = number + 1;
                }
                None => block.push(line),
            }
            crc = crc32c::crc32c_append(crc, line.as_bytes());
        }
        // Lines after the last checksum line are a block whose writing was
        // cut short (version 3 appends): not written yet, so not read.
        if blocks == 0 || (!block.is_empty() && version < 3) {
            return Err("the manifest does not end in its checksum line".into());
        }
        if !block.is_empty() {
            manifest.unread_from_line.get_or_insert(block_from);
        }
        Ok(manifest)
    }

    /// Takes one line of a block that checked out.
    fn apply(&mut self, line: &str) -> Result<(), String> {
        let words: Vec<&str> = line.split(' ').collect();
        match words.as_slice() {
            ["archive", _, ..] => {
                self.archive_dir = Some(PathBuf::from(&line["archive ".len()..]));
            }
            ["segment", seq, rest @ ..] => {
                let bad = || format!("bad segment line `{line}`");
                let first_seq = seq.parse().map_err(|_| bad())?;
                let (first_crc, archived) = match rest {
                    [] => (None, false),
                    ["archived"] => (None, true),
                    ["first", hex] | ["first", hex, "archived"] => {
                        (Some(parse_crc(hex).ok_or_else(bad)?), rest.len() == 3)
                    }
                    _ => return Err(bad()),
                };
                if self
                    .segments
                    .last()
                    .is_some_and(|s| s.first_seq >= first_seq)
                {
                    return Err(format!("segment {first_seq} is out of order"));
                }
                if self.closed.is_some() {
                    return Err(format!("segment {first_seq} is listed after `closed`"));
                }
                self.segments.push(ListedSegment {
                    first_seq,
                    archived,
                    first_crc,
                });
            }
            ["first", seq, hex] => {
                let bad = || format!("bad first line `{line}`");
                let first_seq: u64 = seq.parse().map_err(|_| bad())?;
                let crc = parse_crc(hex).ok_or_else(bad)?;
                let listed = self
                    .segments
                    .iter_mut()
                    .rev()
                    .find(|s| s.first_seq == first_seq)
                    .ok_or_else(|| format!("`{line}` names a segment not listed before it"))?;
                listed.first_crc = Some(crc);
            }
            ["closed", seq] if self.closed.is_none() => {
                let seq = seq
                    .parse()
                    .map_err(|_| format!("bad closed line `{line}`"))?;
                self.closed = Some(seq);
            }
            _ => return Err(format!("unknown manifest line `{line}`")),
        }
        Ok(())
    }

    fn render(&self) -> String {
        let mut text = format!("{FIRST_LINE}\n");
        if let Some(archive) = &self.archive_dir {
            text.push_str(&format!("archive {}\n", archive.display()));
        }
        for segment in &self.segments {
            text.push_str(&segment.line());
        }
        if let Some(seq) = self.closed {
            text.push_str(&format!("closed {seq:020}\n"));
        }
        let crc = crc32c::crc32c(text.as_bytes());
        text.push_str(&format!("crc32c {crc:08x}\n"));
        text
    }

    /// Writes `dir/MANIFEST` atomically and durably: a temporary file,
    /// synced, renamed over the old one, and the directory synced.
    ///
    /// # Errors
    /// [`JournalError::Io`] when any step fails.
    pub fn write(&self, dir: &Path) -> Result<(), JournalError> {
        self.write_open(dir).map(drop)
    }

    /// [`Self::write`], giving back the file, open to append to, and the
    /// CRC32C of its bytes.
    fn write_open(&self, dir: &Path) -> Result<(fs::File, u32), JournalError> {
        let path = dir.join(MANIFEST_FILE);
        let temporary = dir.join(format!("{MANIFEST_FILE}.tmp"));
        let mut file = super::private::create_temporary(&temporary)
            .map_err(|e| JournalError::io(&temporary, "creating the journal manifest", e))?;
        let text = self.render();
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| JournalError::io(&temporary, "writing the journal manifest", e))?;
        fs::rename(&temporary, &path)
            .map_err(|e| JournalError::io(&path, "renaming the journal manifest to", e))?;
        sync_dir(dir)?;
        Ok((file, crc32c::crc32c(text.as_bytes())))
    }

    /// Whether it lists the segment from `first_seq` (the segments are in
    /// order: a manifest out of order does not read).
    fn lists(&self, first_seq: u64) -> bool {
        self.segments
            .binary_search_by_key(&first_seq, |s| s.first_seq)
            .is_ok()
    }

    /// Checks that a writer may list the segment from `first_seq`: none
    /// listed after it (a writer of another server took this journal on).
    fn check_next(&self, dir: &Path, first_seq: u64) -> Result<(), JournalError> {
        match self.segments.last() {
            Some(&last) if last.first_seq > first_seq => Err(JournalError::Occupied {
                file: self.path_of(dir, last),
                next_seq: first_seq,
            }),
            _ => Ok(()),
        }
    }

    /// The archive directory as a path to open from here.
    #[must_use]
    pub fn archive_path(&self, dir: &Path) -> Option<PathBuf> {
        self.archive_dir.as_ref().map(|a| dir.join(a))
    }

    /// Where the file of a listed segment is.
    #[must_use]
    pub fn path_of(&self, dir: &Path, segment: ListedSegment) -> PathBuf {
        let name = segment_file_name(segment.first_seq);
        match (segment.archived, self.archive_path(dir)) {
            (true, Some(archive)) => archive.join(name),
            _ => dir.join(name),
        }
    }

    /// Every listed segment, oldest first: its first sequence number and
    /// where its file should be.
    pub(crate) fn listed(&self, dir: &Path) -> Vec<(u64, PathBuf)> {
        self.segments
            .iter()
            .map(|&s| (s.first_seq, self.path_of(dir, s)))
            .collect()
    }
}

/// The segments of the journal in `dir`, oldest first, each where its
/// file should be (archived ones in the archive directory), as the
/// manifest lists them. A segment file the manifest does not list may only
/// be a newest one that holds no record (it is left out). A directory
/// without a manifest may hold only such empty segments. Whether each
/// listed file is there is checked when it is opened
/// ([`JournalError::MissingSegment`]), so that recovery from a snapshot
/// needs only the segments after it.
///
/// A live writer may start a segment and write into it between the
/// reading of the directory and of the manifest. It lists a segment before
/// its first record, so a segment that holds records and was not listed is
/// looked up once more in a manifest read after its records were seen:
/// only a segment missing from that one is refused.
///
/// # Errors
/// [`JournalError::Corrupt`] for a segment with records that the
/// manifest does not list, a manifest that does not check out, or
/// segments with records and no manifest; [`JournalError::Io`].
pub fn journal_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, JournalError> {
    checked_manifest(dir).map(|manifest| manifest.listed(dir))
}

/// The manifest of `dir` (empty when there is none), once the segments on
/// disk have been checked against it as [`journal_segments`] describes.
///
/// # Errors
/// As [`journal_segments`].
pub(crate) fn checked_manifest(dir: &Path) -> Result<Manifest, JournalError> {
    let on_disk = list_segments(dir)?;
    let manifest = Manifest::read(dir)?.unwrap_or_default();
    match unlisted_with_records(&manifest, &on_disk)? {
        None => Ok(manifest),
        Some(_) => {
            let manifest = Manifest::read(dir)?.unwrap_or_default();
            match unlisted_with_records(&manifest, &on_disk)? {
                None => Ok(manifest),
                // A listed segment that is missing is said first: with a
                // segment renamed, both are true, and the missing one is
                // what a start says too (an outside tester's case).
                Some(refused) => Err(missing_listed(&manifest, dir).unwrap_or(refused)),
            }
        }
    }
}

/// The first live segment `manifest` lists whose file is not where it
/// should be, as the error that refuses the journal (an archived one is
/// missing while its archive is away, which is no renaming).
fn missing_listed(manifest: &Manifest, dir: &Path) -> Option<JournalError> {
    manifest
        .segments
        .iter()
        .filter(|s| !s.archived)
        .find_map(|&s| {
            let file = manifest.path_of(dir, s);
            (!file.exists()).then_some(JournalError::MissingSegment {
                file,
                first_seq: s.first_seq,
            })
        })
}

/// The first segment on disk that `manifest` should list and does not, as
/// the error that refuses the journal.
fn unlisted_with_records(
    manifest: &Manifest,
    on_disk: &[(u64, PathBuf)],
) -> Result<Option<JournalError>, JournalError> {
    let newest = manifest.segments.last().map(|s| s.first_seq);
    for (first_seq, path) in on_disk {
        let first_seq = *first_seq;
        // One that holds no record holds nothing to lose: a start cut
        // short, or one a later recovery passed (a torn last record cut
        // off below its name); the next writer removes it.
        if manifest.lists(first_seq) || !has_records(path, first_seq)? {
            continue;
        }
        let reason = if newest.is_some_and(|n| first_seq < n) {
            "the segment is not listed in the MANIFEST"
        } else if newest.is_none() {
            "the journal has segments with records but no MANIFEST (a journal of format 1, or its MANIFEST was lost)"
        } else {
            "the segment holds records but is not listed in the MANIFEST"
        };
        // The block that listed it may be the damage (an outside tester's
        // flipped bit in one was told as the segment's, whose copy
        // restored nothing).
        let reason = match manifest.unread_from_line {
            Some(line) => format!(
                "{reason}; the MANIFEST's lines from line {line} on were not read (their checksum does not hold, or they have none): a write cut short, or damage to the MANIFEST, which a copy of it holding those lines (one taken since they were written) restores"
            ),
            None => reason.to_owned(),
        };
        return Ok(Some(JournalError::Corrupt {
            file: path.clone(),
            offset: 0,
            seq: first_seq,
            reason,
        }));
    }
    Ok(None)
}

/// Whether the segment file at `path` holds a record (or anything but a
/// header and zeros).
pub(crate) fn has_records(path: &Path, first_seq: u64) -> Result<bool, JournalError> {
    Ok(match start_of(path, first_seq)? {
        Start::Written => true,
        Start::Zeros(mut segment, offset) => !segment.rest_is_zero(offset)?,
        Start::Empty => false,
    })
}

/// Whether the writer has written to the segment file at `path`: a record
/// where its first goes (whole or not), or a header that is neither short
/// nor torn-like (damage, not a start). Unlike [`has_records`], zeros
/// after the header (a file written ahead: a start a crash may have cut
/// short) are not read through.
pub(crate) fn written_to(path: &Path, first_seq: u64) -> Result<bool, JournalError> {
    Ok(matches!(start_of(path, first_seq)?, Start::Written))
}

/// What a segment file holds where its first record goes.
enum Start {
    /// Nothing: no file (a writer starting removed it since the directory
    /// was listed), not a regular file, a header alone or cut short, or a
    /// torn-like header.
    Empty,
    /// Zeros, from this offset.
    Zeros(SegmentFile, u64),
    /// A record, whole or not, or a damaged header.
    Written,
}

fn start_of(path: &Path, first_seq: u64) -> Result<Start, JournalError> {
    let meta = match fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Start::Empty),
        meta => meta.map_err(|e| JournalError::io(path, "reading the size of", e))?,
    };
    if !meta.is_file() || meta.len() <= HEADER_LEN as u64 {
        return Ok(Start::Empty);
    }
    let mut segment = match SegmentFile::open(path, first_seq) {
        Ok(segment) => segment,
        Err(_) if !path.exists() => return Ok(Start::Empty),
        Err(e) => return Err(e),
    };
    match segment.read_header()? {
        Header::Good => {}
        Header::Short
        | Header::Bad {
            torn_like: true, ..
        } => return Ok(Start::Empty),
        Header::Bad { .. } => return Ok(Start::Written),
    }
    Ok(match segment.read_record()? {
        Raw::End => Start::Empty,
        Raw::Zero { offset } => Start::Zeros(segment, offset),
        Raw::Record { .. } | Raw::Bad { .. } => Start::Written,
    })
}

/// A writer's manifest, kept in memory: written whole when the writer
/// lists its first segment, then each segment it starts appended as a
/// block of its own (a `first` line for the segment it moves on from, the
/// `segment` line, the checksum line) and synced. So starting a segment
/// costs one small write and one sync however many segments the journal
/// has had: rewriting the whole file each time cost in proportion to them
/// (1.8 ms a segment with 3,853 listed, 8.1 ms with 20,000, on the commit
/// path). The clean
/// stop writes it whole again ([`mark_closed`]).
pub(crate) struct ManifestLog {
    manifest: Manifest,
    /// `MANIFEST`, its end where the next block goes.
    file: fs::File,
    /// The CRC32C of every byte of the file.
    crc: u32,
    path: PathBuf,
}

impl ManifestLog {
    /// Adds the segment from `first_seq` to the manifest of `dir`
    /// (creating it if need be), drops its `closed` line (records are
    /// about to be written), writes it whole and keeps it for
    /// [`Self::list`].
    ///
    /// # Errors
    /// [`JournalError::Occupied`] when the manifest lists a later segment;
    /// as [`Manifest::read`] and [`Manifest::write`].
    pub(crate) fn start(dir: &Path, first_seq: u64) -> Result<Self, JournalError> {
        let mut manifest = Manifest::read(dir)?.unwrap_or_default();
        manifest.closed = None;
        manifest.check_next(dir, first_seq)?;
        note_first_records(dir, &mut manifest)?;
        if manifest.segments.last().map(|s| s.first_seq) != Some(first_seq) {
            manifest.segments.push(ListedSegment::new(first_seq));
        }
        remove_unlisted_empty(dir, &manifest)?;
        let (file, crc) = manifest.write_open(dir)?;
        Ok(Self {
            manifest,
            file,
            crc,
            path: dir.join(MANIFEST_FILE),
        })
    }

    /// Adds the segment from `first_seq`, after the last one listed, and
    /// notes the first record of the one the writer moves on from.
    ///
    /// # Errors
    /// [`JournalError::Occupied`] for a segment before the last;
    /// [`JournalError::Io`] when the block cannot be written or synced (a
    /// block cut short is not read: the segment is not listed; the writer
    /// stops).
    pub(crate) fn list(&mut self, dir: &Path, first_seq: u64) -> Result<(), JournalError> {
        self.manifest.check_next(dir, first_seq)?;
        if self.manifest.segments.last().map(|s| s.first_seq) == Some(first_seq) {
            return Ok(());
        }
        let mut block = String::new();
        if let Some(last) = self.manifest.segments.last_mut() {
            if last.first_crc.is_none() && !last.archived {
                let path = dir.join(segment_file_name(last.first_seq));
                last.first_crc = first_record_crc(&path, last.first_seq)?;
                if let Some(crc) = last.first_crc {
                    block.push_str(&format!("first {:020} {crc:08x}\n", last.first_seq));
                }
            }
        }
        let segment = ListedSegment::new(first_seq);
        block.push_str(&segment.line());
        self.manifest.segments.push(segment);
        let crc = crc32c::crc32c_append(self.crc, block.as_bytes());
        block.push_str(&format!("crc32c {crc:08x}\n"));
        self.file
            .write_all(block.as_bytes())
            .and_then(|()| self.file.sync_data())
            .map_err(|e| JournalError::io(&self.path, "appending to the journal manifest", e))?;
        self.crc = crc32c::crc32c_append(self.crc, block.as_bytes());
        Ok(())
    }
}

/// Removes the segment files in `dir` that `manifest` does not list and
/// that hold no record: a start a crash cut short, whose name a later
/// recovery passed when it cut a torn last record off below it (with
/// `os` durability and an OS crash, or a copy taken so), which would
/// otherwise sit between listed segments. The directory is synced after
/// (by the manifest's write).
///
/// # Errors
/// [`JournalError::Io`] when one cannot be read or removed.
fn remove_unlisted_empty(dir: &Path, manifest: &Manifest) -> Result<(), JournalError> {
    for (first_seq, path) in list_segments(dir)? {
        // A regular file only: anything else in a segment's place (a
        // link, say) is left for the writer to refuse if it gets there.
        let regular = fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file());
        if !manifest.lists(first_seq) && regular && !has_records(&path, first_seq)? {
            fs::remove_file(&path)
                .map_err(|e| JournalError::io(&path, "removing the empty unlisted segment", e))?;
        }
    }
    Ok(())
}

/// The CRC in a `first` field, in hex.
fn parse_crc(hex: &str) -> Option<u32> {
    u32::from_str_radix(hex, 16).ok()
}

/// Notes in `manifest` the first record's `header_crc` of each live
/// segment that holds one and has none noted yet: the one the writer is
/// moving on from, or every one of a version 1 manifest (once).
fn note_first_records(dir: &Path, manifest: &mut Manifest) -> Result<(), JournalError> {
    for i in 0..manifest.segments.len() {
        let segment = manifest.segments[i];
        if segment.archived || segment.first_crc.is_some() {
            continue;
        }
        let path = manifest.path_of(dir, segment);
        manifest.segments[i].first_crc = first_record_crc(&path, segment.first_seq)?;
    }
    Ok(())
}

/// The `header_crc` of the first record of the segment file at `path`;
/// none when it holds no good record (a file missing or damaged is left
/// to the readers, which name it).
fn first_record_crc(path: &Path, first_seq: u64) -> Result<Option<u32>, JournalError> {
    if !path.is_file() {
        return Ok(None);
    }
    let mut segment = SegmentFile::open(path, first_seq)?;
    if !matches!(segment.read_header()?, Header::Good) {
        return Ok(None);
    }
    Ok(match segment.read_record()? {
        Raw::Record { header_crc, .. } => Some(header_crc),
        _ => None,
    })
}

/// Checks that the first record of `segment`, at `path`, is the one the
/// manifest noted (when it noted one): a segment of another journal, or
/// of another copy of this one, copied in under its name, is refused
/// before any of its records is taken for this journal's.
///
/// # Errors
/// [`JournalError::Corrupt`] when they differ.
pub(crate) fn check_first_record(
    path: &Path,
    segment: ListedSegment,
    header_crc: u32,
) -> Result<(), JournalError> {
    match segment.first_crc {
        Some(noted) if noted != header_crc => Err(JournalError::Corrupt {
            file: path.to_owned(),
            offset: HEADER_LEN as u64,
            seq: segment.first_seq,
            reason: format!(
                "its first record is not the one the MANIFEST lists for this segment (header_crc {header_crc:08x}, listed {noted:08x}): a segment of another journal, or of another copy of this one"
            ),
        }),
        _ => Ok(()),
    }
}

/// Writes in the manifest of `dir`, if it has one, that the writer stopped
/// cleanly with `last_seq` the journal's last record (everything up to it
/// is synced).
///
/// # Errors
/// As [`Manifest::read`] and [`Manifest::write`].
pub(crate) fn mark_closed(dir: &Path, last_seq: u64) -> Result<(), JournalError> {
    match Manifest::read(dir)? {
        Some(mut manifest) if manifest.closed != Some(last_seq) => {
            note_first_records(dir, &mut manifest)?;
            manifest.closed = Some(last_seq);
            manifest.write(dir)
        }
        _ => Ok(()),
    }
}
