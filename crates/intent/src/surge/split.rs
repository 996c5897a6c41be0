//! A line of the surge file cut at its commas, for the parallel reader
//! ([`super::parallel`]). Most rows are read after their company's columns
//! (the same bytes as the row before) and only three of the eight columns
//! left are used (category, topic, score): those are kept, the others only
//! counted, so a row with a column too many or too few still steps aside.
//!
//! Commas and quotes are found as bit masks over the line, 64 bytes at a
//! time with AVX2 where the CPU has it (found once, at run time), eight at a
//! time in a general-purpose register elsewhere; a line in the middle of its
//! block is read in place, past its end where the block goes on (the bits
//! beyond the line are dropped), so no line is copied.

use std::ops::Index;

/// The most columns a line may have on the fast path.
pub(super) const MAX_COLUMNS: usize = 32;

/// A line's fields, split at its commas: the first [`Fields::kept`] of them
/// (the others empty), and how many there are.
pub(super) struct Fields<'a> {
    pub(super) at: [&'a [u8]; MAX_COLUMNS],
    pub(super) n: usize,
}

impl Default for Fields<'_> {
    fn default() -> Self {
        Fields {
            at: [&[]; MAX_COLUMNS],
            n: 0,
        }
    }
}

impl Index<usize> for Fields<'_> {
    type Output = [u8];
    fn index(&self, i: usize) -> &[u8] {
        self.at[i]
    }
}

pub(super) enum Split {
    /// The fields are in the `Fields` given.
    Fields,
    /// A quoted field holds an escaped quote (`""`).
    Escaped,
    /// A quote left open (perhaps around a line break), text after a
    /// closing quote, or too many columns.
    Unusual,
}

/// How a scan finds commas and quotes: in `WIDTH` bytes at once, as one
/// bit per byte (`STRIDE` bits apart).
pub(super) trait Scan {
    const WIDTH: usize;
    /// log2 of the bits per byte in a mask.
    const SHIFT: u32;
    /// The commas and the quotes of `bytes` (`WIDTH` long).
    fn masks(bytes: &[u8]) -> (u64, u64);
}

/// Eight bytes in a `u64`; a byte's bit is its high bit.
pub(super) struct Swar;

impl Scan for Swar {
    const WIDTH: usize = 8;
    const SHIFT: u32 = 3;
    #[inline(always)]
    fn masks(bytes: &[u8]) -> (u64, u64) {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        // The high bit of each byte of `x` that is zero (exactly: no carries).
        let zeros = |x: u64| !(((x & LOW7) + LOW7) | x | LOW7);
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[..8]);
        let word = u64::from_le_bytes(w);
        (
            zeros(word ^ (ONES * u64::from(b','))),
            zeros(word ^ (ONES * u64::from(b'"'))),
        )
    }
}

/// 64 bytes in two AVX2 registers. Only to be used where
/// [`avx2`] said yes, from code compiled with the feature (its functions
/// inline into such code).
#[cfg(target_arch = "x86_64")]
pub(super) struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Scan for Avx2 {
    const WIDTH: usize = 64;
    const SHIFT: u32 = 0;
    #[inline(always)]
    fn masks(bytes: &[u8]) -> (u64, u64) {
        use std::arch::x86_64::{
            __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8,
        };
        assert!(bytes.len() >= 64);
        // SAFETY: the 64 bytes read are in `bytes` (asserted), loads are
        // unaligned; the caller runs only where the CPU has AVX2.
        unsafe {
            let lo = _mm256_loadu_si256(bytes.as_ptr().cast::<__m256i>());
            let hi = _mm256_loadu_si256(bytes.as_ptr().add(32).cast::<__m256i>());
            let mask = |b: u8| {
                let b = _mm256_set1_epi8(b as i8);
                let l = _mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, b)) as u32;
                let h = _mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, b)) as u32;
                u64::from(l) | (u64::from(h) << 32)
            };
            (mask(b','), mask(b'"'))
        }
    }
}

/// Whether this CPU has AVX2 (the standard library asks it once).
#[cfg(target_arch = "x86_64")]
pub(super) fn avx2() -> bool {
    std::is_x86_feature_detected!("avx2")
}

/// The line `text[start..end]` cut at its commas into `f`, keeping the
/// first `keep` fields and counting the rest; `text` may go on past the
/// line (the scan reads on in place, without using what it sees there). A
/// line with a quote is cut by [`split`] (all its fields kept).
#[inline(always)]
pub(super) fn split_fast<'a, S: Scan>(
    text: &'a [u8],
    start: usize,
    end: usize,
    f: &mut Fields<'a>,
    keep: usize,
) -> Split {
    if keep > MAX_COLUMNS {
        return Split::Unusual;
    }
    f.n = 0;
    let mut field = start;
    let mut at = start;
    let mut pad = [0u8; 64];
    while at < end {
        let bytes = match text.get(at..at + S::WIDTH) {
            Some(b) => b,
            None => {
                // The end of the block: the rest of the line, padded.
                pad[..end - at].copy_from_slice(&text[at..end]);
                &pad[..S::WIDTH]
            }
        };
        let (mut commas, quotes) = S::masks(bytes);
        // Only the bytes of the line.
        let within = end - at;
        if within < S::WIDTH {
            let bits = (within as u32) << S::SHIFT;
            let live = (1u64 << bits) - 1;
            commas &= live;
            if quotes & live != 0 {
                return split(&text[start..end], f);
            }
        } else if quotes != 0 {
            return split(&text[start..end], f);
        }
        while commas != 0 && f.n + 1 < keep {
            let comma = at + (commas.trailing_zeros() >> S::SHIFT) as usize;
            f.at[f.n] = &text[field..comma];
            f.n += 1;
            field = comma + 1;
            commas &= commas - 1;
        }
        if commas != 0 && f.n + 1 == keep {
            // The last field kept ends at the next comma; the others are
            // only counted.
            let comma = at + (commas.trailing_zeros() >> S::SHIFT) as usize;
            f.at[f.n] = &text[field..comma];
            f.n += 1;
            field = end;
            commas &= commas - 1;
        }
        f.n += commas.count_ones() as usize;
        at += S::WIDTH;
    }
    if f.n < keep {
        f.at[f.n] = &text[field..end];
    }
    f.n += 1;
    Split::Fields
}

/// A line's fields: split at commas, a field in quotes taken without them
/// (so `"Large (1,000 - 4,999 Employees)"` is one field).
pub(super) fn split<'a>(line: &'a [u8], f: &mut Fields<'a>) -> Split {
    f.n = 0;
    let mut i = 0;
    loop {
        if f.n == MAX_COLUMNS {
            return Split::Unusual;
        }
        if line.get(i) == Some(&b'"') {
            let Some(close) = memchr::memchr(b'"', &line[i + 1..]).map(|c| i + 1 + c) else {
                return Split::Unusual;
            };
            match line.get(close + 1) {
                None => {
                    f.at[f.n] = &line[i + 1..close];
                    f.n += 1;
                    return Split::Fields;
                }
                Some(b',') => {
                    f.at[f.n] = &line[i + 1..close];
                    f.n += 1;
                    i = close + 2;
                }
                Some(b'"') => return Split::Escaped,
                Some(_) => return Split::Unusual,
            }
        } else {
            match memchr::memchr(b',', &line[i..]) {
                Some(c) => {
                    f.at[f.n] = &line[i..i + c];
                    f.n += 1;
                    i += c + 1;
                }
                None => {
                    f.at[f.n] = &line[i..];
                    f.n += 1;
                    return Split::Fields;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a scan makes of `text[start..end]`: the kind, the count and
    /// the fields kept.
    fn cut<S: Scan>(text: &[u8], start: usize, end: usize, keep: usize) -> String {
        let mut f = Fields::default();
        match split_fast::<S>(text, start, end, &mut f, keep) {
            Split::Fields => {
                let kept: Vec<String> = (0..f.n.min(keep))
                    .map(|i| String::from_utf8_lossy(&f[i]).into_owned())
                    .collect();
                format!("{} fields, kept {kept:?}", f.n)
            }
            Split::Escaped => "escaped".into(),
            Split::Unusual => "unusual".into(),
        }
    }

    /// The same from the plain splitter (every field) and a count of
    /// commas past its limit.
    fn expected(line: &[u8], keep: usize) -> String {
        let mut f = Fields::default();
        let quoted = line.contains(&b'"');
        match split(line, &mut f) {
            Split::Fields => {
                let kept: Vec<String> = (0..f.n.min(keep))
                    .map(|i| String::from_utf8_lossy(&f[i]).into_owned())
                    .collect();
                format!("{} fields, kept {kept:?}", f.n)
            }
            Split::Unusual if !quoted => {
                // Too many columns to keep them all: only counted.
                let n = line.iter().filter(|b| **b == b',').count() + 1;
                let mut kept: Vec<String> = line
                    .split(|b| *b == b',')
                    .take(keep)
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect();
                kept.truncate(n.min(keep));
                format!("{n} fields, kept {kept:?}")
            }
            Split::Escaped => "escaped".into(),
            Split::Unusual => "unusual".into(),
        }
    }

    #[test]
    fn the_scans_cut_lines_as_the_plain_splitter_does() {
        // Lines of every length to 150 bytes, commas dense or sparse, some
        // with quotes; each read in place with more text after it (commas
        // and quotes that are not the line's) and at the very end.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let after = b",\",x,\"\",,,\"";
        for len in 0..150 {
            for kind in 0..4 {
                let line: Vec<u8> = (0..len)
                    .map(|_| match (kind, next() % 16) {
                        (0, _) => b'a',
                        (1, 0..=5) | (3, 0..=3) => b',',
                        (2, 0) => b',',
                        (3, 4) if len % 3 == 0 => b'"',
                        _ => b'a' + (next() % 26) as u8,
                    })
                    .collect();
                let mut text = b"xy,\"".to_vec();
                let start = text.len();
                text.extend_from_slice(&line);
                let end = text.len();
                for keep in [0, 1, 3, 12, 32] {
                    let want = expected(&line, keep);
                    let mut more = text.clone();
                    more.extend(after.iter().cycle().take(80));
                    for t in [&text, &more] {
                        assert_eq!(cut::<Swar>(t, start, end, keep), want, "{line:?} {keep}");
                        #[cfg(target_arch = "x86_64")]
                        if avx2() {
                            assert_eq!(cut::<Avx2>(t, start, end, keep), want, "{line:?} {keep}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn more_columns_than_it_keeps_are_unusual_only_past_the_limit() {
        let mut f = Fields::default();
        let line = b"a,b";
        assert!(matches!(
            split_fast::<Swar>(line, 0, 3, &mut f, MAX_COLUMNS + 1),
            Split::Unusual
        ));
    }
}
