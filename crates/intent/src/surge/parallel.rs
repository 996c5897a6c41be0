//! The fast path for a plain (not gzip) file, in memory or on disk. The
//! text is cut into blocks of 4 MiB, and two threads take them in turn (the
//! next block to whichever is free, so neither waits on the other). A block
//! is read once for everything: it is hashed as a BLAKE3 subtree (the
//! file's checksum is put together from the blocks' chaining values at the
//! end, the way BLAKE3 builds its tree, so it equals `b3sum` of the file),
//! copied to the archive when there is one (in the kernel, page cache to
//! page cache, while the block is fresh there: the original may be written
//! again later, the archive keeps what was read), and
//! the lines that start in it are cut at their commas ([`super::split`]:
//! bit masks, with AVX2 where the CPU has it; a line with an escaped quote
//! goes through the `csv` crate).
//! The two threads' companies and topics are merged at the end; a company
//! both read is described as the earlier block described it.
//!
//! It only takes files that read cleanly: anything unusual (a gzip file, a
//! short or long row, a bad score or topic, a quote left open, which may
//! hide a line break) makes it step aside, and the sequential reader
//! ([`super::parse`]) reads the file and says exactly where it broke.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use blake3::hazmat::{ChainingValue, HasherExt};

use super::blocks::{Hashed, copy_range, root};

use super::Week;
use super::parse::{Builder, Columns, Counts, columns};
use super::split::{self, Fields, Scan, Split, split_fast};

/// Where the text is.
#[derive(Clone, Copy)]
pub enum Text<'a> {
    Bytes(&'a [u8]),
    File(&'a File),
}

/// What a thread reads and hashes at once: a whole BLAKE3 subtree (a power
/// of two of its 1 KiB chunks).
const BLOCK: u64 = 4 << 20;
/// The longest line the fast path reads past the end of a block.
const MAX_LINE: usize = 1 << 20;

/// A file read whole.
#[derive(Debug, PartialEq, Eq)]
pub struct Read {
    pub week: Week,
    pub counts: Counts,
    /// The BLAKE3 of the file's bytes.
    pub checksum: blake3::Hash,
}

/// The week in `text` (its bytes also written to `copy`, at the same
/// offsets): `None` when the file needs the sequential reader, an error
/// when writing the copy failed.
pub fn read(
    week: chrono::NaiveDate,
    text: Text,
    copy: Option<&File>,
) -> std::io::Result<Option<Read>> {
    read_blocks(week, text, copy, BLOCK)
}

/// As [`read`], in blocks of `block` bytes (a power of two, 1 KiB or more).
pub(super) fn read_blocks(
    week: chrono::NaiveDate,
    text: Text,
    copy: Option<&File>,
    block: u64,
) -> std::io::Result<Option<Read>> {
    debug_assert!(block.is_power_of_two() && block >= blake3::CHUNK_LEN as u64);
    let Some((start, cols)) = header(text) else {
        return Ok(None);
    };
    let len = match text {
        Text::Bytes(b) => b.len() as u64,
        Text::File(f) => match f.metadata() {
            Ok(m) => m.len(),
            Err(_) => return Ok(None),
        },
    };
    let plan = Plan {
        text,
        copy,
        len,
        start,
        block,
        blocks: len.div_ceil(block),
        next: AtomicU64::new(0),
        given_up: AtomicBool::new(false),
        copy_failed: Mutex::new(None),
        no_copy_range: AtomicBool::new(false),
        cols: &cols,
    };
    let (first, second) = std::thread::scope(|s| {
        let second = s.spawn(|| plan.work());
        let first = plan.work();
        (
            first,
            second
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p)),
        )
    });
    if let Some(e) = plan
        .copy_failed
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    {
        return Err(e);
    }
    let (Some((builder, mut counts, mut hashes)), Some((other, more, theirs))) = (first, second)
    else {
        return Ok(None);
    };
    counts.rows += more.rows;
    counts.unusable_domains += more.unusable_domains;
    hashes.extend(theirs);
    hashes.sort_unstable_by_key(|(k, _)| *k);
    let checksum = match hashes.as_slice() {
        [(_, Hashed::Root(h))] => *h,
        [_, _, ..] => {
            let cvs: Option<Vec<ChainingValue>> = hashes
                .iter()
                .map(|(_, h)| match h {
                    Hashed::Subtree(cv) => Some(*cv),
                    Hashed::Root(_) => None,
                })
                .collect();
            let Some(cvs) = cvs else { return Ok(None) };
            root(&cvs)
        }
        _ => return Ok(None),
    };
    let Ok((week, duplicates)) = builder.finish(Some(other), week) else {
        return Ok(None);
    };
    counts.duplicates = duplicates;
    Ok(Some(Read {
        week,
        counts,
        checksum,
    }))
}

/// Where the data rows start (after the header line) and the columns the
/// header names; `None` for gzip or a header the fast path does not read.
fn header(text: Text) -> Option<(u64, Columns)> {
    let head = window(text, 0, 64 << 10)?;
    if head.starts_with(&[0x1f, 0x8b]) {
        return None; // gzip
    }
    let bom = if head.starts_with(b"\xef\xbb\xbf") {
        3
    } else {
        0
    };
    let eol = memchr::memchr(b'\n', &head[bom..])?;
    let header = record(trim_cr(&head[bom..bom + eol]))?;
    let cols = columns(&header).ok()?;
    Some(((bom + eol + 1) as u64, cols))
}

/// What one thread read: its companies and topics, its counts, and the
/// hash of each block it took, by the block's number.
type Taken = (Builder, Counts, Vec<(u64, Hashed)>);

/// Up to `n` bytes of the text from `at`.
fn window(text: Text, at: u64, n: usize) -> Option<Vec<u8>> {
    match text {
        Text::Bytes(b) => {
            let from = (at as usize).min(b.len());
            Some(b[from..(from + n).min(b.len())].to_vec())
        }
        Text::File(f) => {
            let mut buf = vec![0u8; n];
            let mut got = 0;
            while got < n {
                match f.read_at(&mut buf[got..], at + got as u64) {
                    Ok(0) => break,
                    Ok(k) => got += k,
                    Err(_) => return None,
                }
            }
            buf.truncate(got);
            Some(buf)
        }
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// One line as the `csv` crate reads it (quotes and all).
fn record(line: &[u8]) -> Option<csv::ByteRecord> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line);
    let mut r = csv::ByteRecord::new();
    reader.read_byte_record(&mut r).ok()?.then_some(r)
}

/// The file cut into blocks, shared by the threads.
struct Plan<'a> {
    text: Text<'a>,
    /// Where the bytes are copied to (the archive being written), if
    /// anywhere.
    copy: Option<&'a File>,
    len: u64,
    /// Where the data rows start (after the header).
    start: u64,
    block: u64,
    blocks: u64,
    /// The next block nobody has taken.
    next: AtomicU64,
    /// A thread met what the fast path does not read: the other stops too.
    given_up: AtomicBool,
    /// Why writing the copy failed.
    copy_failed: Mutex<Option<std::io::Error>>,
    /// The kernel cannot copy between these files: blocks are written from
    /// the buffer.
    no_copy_range: AtomicBool,
    cols: &'a Columns,
}

impl Plan<'_> {
    /// Take blocks until none is left: what their lines held, and each
    /// block's hash by its number. `None`: the fast path gave up.
    fn work(&self) -> Option<Taken> {
        let done = self.blocks_taken();
        if done.is_none() {
            self.given_up.store(true, Ordering::Relaxed);
        }
        done
    }

    fn blocks_taken(&self) -> Option<Taken> {
        let skip = self.cols.company_prefix();
        let tail = self.cols.after(skip);
        let mut reader = Reader {
            builder: Builder::default(),
            counts: Counts::default(),
            cols: self.cols,
            keep: self.cols.used(),
            skip,
            tail_keep: tail.used(),
            tail,
            prefix: Vec::new(),
        };
        let mut hashes = Vec::new();
        let mut buf = Vec::new();
        loop {
            let k = self.next.fetch_add(1, Ordering::Relaxed);
            if k >= self.blocks || self.given_up.load(Ordering::Relaxed) {
                break;
            }
            let lo = k * self.block;
            let hi = (lo + self.block).min(self.len);
            // From the byte before the block (a line starts at `lo` if it
            // is a line break) to the end of the line the block ends in.
            let from = lo.saturating_sub(1);
            let bytes = self.bytes(from, hi, &mut buf)?;
            let own = &bytes[(lo - from) as usize..(hi - from) as usize];
            if let Some(copy) = self.copy
                && let Err(e) = self.copy_block(copy, own, lo)
            {
                *self.copy_failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                return None;
            }
            hashes.push((
                k,
                if self.blocks == 1 {
                    Hashed::Root(blake3::hash(own))
                } else {
                    Hashed::Subtree(
                        blake3::Hasher::new()
                            .set_input_offset(lo)
                            .update(own)
                            .finalize_non_root(),
                    )
                },
            ));
            // The first line that starts in the block.
            let first = if lo <= self.start {
                self.start
            } else {
                match memchr::memchr(b'\n', &bytes[..(hi - from) as usize]) {
                    Some(i) => from + i as u64 + 1,
                    None => continue, // inside a line longer than a block
                }
            };
            if first >= hi {
                continue;
            }
            reader.builder.block = k as u32;
            reader.lines(&bytes[(first - from) as usize..])?;
        }
        Some((reader.builder, reader.counts, hashes))
    }

    /// Copy block `own`, at `lo` in the text, to the same place in `copy`.
    fn copy_block(&self, copy: &File, own: &[u8], lo: u64) -> std::io::Result<()> {
        if let Text::File(from) = self.text
            && !self.no_copy_range.load(Ordering::Relaxed)
        {
            match copy_range(from, copy, lo, own.len()) {
                Ok(()) => return Ok(()),
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EXDEV | libc::ENOSYS | libc::EOPNOTSUPP | libc::EINVAL)
                    ) =>
                {
                    self.no_copy_range.store(true, Ordering::Relaxed);
                }
                Err(e) => return Err(e),
            }
        }
        copy.write_all_at(own, lo)
    }

    /// The bytes of `[from, hi)` and on to the end of the line byte
    /// `hi - 1` is in (a line break, or the end of the text).
    fn bytes<'b>(&'b self, from: u64, hi: u64, buf: &'b mut Vec<u8>) -> Option<&'b [u8]> {
        let (from_, hi_) = (from as usize, hi as usize);
        match self.text {
            Text::Bytes(b) => {
                let end = if hi_ == 0 || b[hi_ - 1] == b'\n' {
                    hi_
                } else {
                    memchr::memchr(b'\n', &b[hi_..]).map_or(b.len(), |i| hi_ + i + 1)
                };
                Some(&b[from_..end])
            }
            Text::File(f) => {
                // The buffer keeps its length (zeroed once); `filled` says
                // how much of it is this block's.
                let mut filled = hi_ - from_;
                if buf.len() < filled {
                    buf.resize(filled, 0);
                }
                f.read_exact_at(&mut buf[..filled], from).ok()?;
                let mut at = hi;
                while buf[filled - 1] != b'\n' && at < self.len {
                    if filled - (hi_ - from_) > MAX_LINE {
                        return None;
                    }
                    let piece = ((self.len - at) as usize).min(4096);
                    if buf.len() < filled + piece {
                        buf.resize(filled + piece, 0);
                    }
                    let n = f.read_at(&mut buf[filled..filled + piece], at).ok()?;
                    if n == 0 {
                        return None; // the file shrank
                    }
                    let got = &buf[filled..filled + n];
                    let keep = memchr::memchr(b'\n', got).map_or(n, |i| i + 1);
                    filled += keep;
                    at += keep as u64;
                }
                Some(&buf[..filled])
            }
        }
    }
}

/// Lines of the file as the threads read them.
struct Reader<'a> {
    builder: Builder,
    counts: Counts,
    cols: &'a Columns,
    /// The fields of a row that are used ([`Columns::used`]).
    keep: usize,
    /// How many leading columns are the company's ([`Columns::company_prefix`]).
    skip: usize,
    /// The per-row columns as seen from there, and how many are used.
    tail: Columns,
    tail_keep: usize,
    /// The previous row up to and including the comma after its company
    /// columns (empty: none to compare with).
    prefix: Vec<u8>,
}

impl Reader<'_> {
    /// Every line of `text` (the last may end without a line break).
    fn lines(&mut self, text: &[u8]) -> Option<()> {
        #[cfg(target_arch = "x86_64")]
        if split::avx2() {
            // SAFETY: the CPU has AVX2.
            return unsafe { self.lines_avx2(text) };
        }
        self.lines_with::<split::Swar>(text)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn lines_avx2(&mut self, text: &[u8]) -> Option<()> {
        self.lines_with::<split::Avx2>(text)
    }

    #[inline(always)]
    fn lines_with<S: Scan>(&mut self, text: &[u8]) -> Option<()> {
        let mut f = Fields::default();
        let mut start = 0;
        let line_end = |start: usize, end: usize| {
            if end > start && text[end - 1] == b'\r' {
                end - 1
            } else {
                end
            }
        };
        for end in memchr::memchr_iter(b'\n', text) {
            self.line::<S>(text, start, line_end(start, end), &mut f)?;
            start = end + 1;
        }
        if start < text.len() {
            self.line::<S>(text, start, line_end(start, text.len()), &mut f)?;
        }
        Some(())
    }

    /// The line `text[start..end]` (`text` goes on after it).
    #[inline(always)]
    fn line<'t, S: Scan>(
        &mut self,
        text: &'t [u8],
        start: usize,
        end: usize,
        f: &mut Fields<'t>,
    ) -> Option<()> {
        let line = &text[start..end];
        if line.is_empty() {
            return Some(());
        }
        self.counts.rows += 1;
        // Another row of the company before: its company columns are the
        // same bytes, and only the rest is split.
        if !self.prefix.is_empty() && line.starts_with(&self.prefix) {
            let rest = start + self.prefix.len();
            let usable = match split_fast::<S>(text, rest, end, f, self.tail_keep) {
                Split::Fields if f.n == self.tail.count => {
                    self.builder.row_again(f, &self.tail).ok()?
                }
                Split::Fields => return None,
                Split::Escaped => {
                    let r = record(&text[rest..end])?;
                    if r.len() != self.tail.count {
                        return None;
                    }
                    self.builder.row_again(&r, &self.tail).ok()?
                }
                Split::Unusual => return None,
            };
            if !usable {
                self.counts.unusable_domains += 1;
            }
            return Some(());
        }
        self.prefix.clear();
        let usable = match split_fast::<S>(text, start, end, f, self.keep) {
            Split::Fields if f.n == self.cols.count => {
                let usable = self.builder.row(f, self.cols).ok()?;
                if let Some(end) = company_end(line, f, self.skip) {
                    self.prefix.extend_from_slice(&line[..end]);
                }
                usable
            }
            Split::Fields => return None,
            Split::Escaped => {
                // A quote written twice inside quotes: the csv crate unescapes.
                let r = record(line)?;
                if r.len() != self.cols.count {
                    return None;
                }
                self.builder.row(&r, self.cols).ok()?
            }
            Split::Unusual => return None,
        };
        if !usable {
            self.counts.unusable_domains += 1;
        }
        Some(())
    }
}

/// Where the company columns of `line` end (after the comma that follows
/// them), from its fields as [`split_fast`] gave them: `None` without any.
fn company_end(line: &[u8], f: &Fields, skip: usize) -> Option<usize> {
    let last = f.at[..f.n].get(skip.checked_sub(1)?)?;
    // The field is a part of the line (without its quotes, if quoted).
    let mut end = (last.as_ptr() as usize).checked_sub(line.as_ptr() as usize)? + last.len();
    if line.get(end) == Some(&b'"') {
        end += 1;
    }
    (line.get(end) == Some(&b',')).then_some(end + 1)
}
