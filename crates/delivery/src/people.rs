//! People reached: distinct TDIDs (TTD's user ids), counted exactly where a
//! group holds few and estimated where it holds many.
//!
//! Each rollup row keeps a K-minimum-values sketch of its TDIDs: the
//! [`K`] smallest distinct 32-bit hashes of them, sorted (an `int4[]` in
//! PostgreSQL, each hash shifted into `i32`'s range so that the signed
//! order is the unsigned one). Sketches merge by union — the K smallest of
//! both — so rows add up across files, hours, days, companies or
//! campaigns, as sums do; they cannot be taken apart, so a replaced file's
//! rows are rebuilt from the files that remain ([`crate::merge`]).
//!
//! A group of fewer than K distinct people is counted exactly (up to hash
//! collisions: one in 2³² per pair, negligible at these sizes); above K the
//! count is estimated as (K − 1) / (the K-th smallest hash as a fraction of
//! 2³²), with a relative standard error of about 1/√(K − 2): 9 % at
//! K = 128. Exact counts over a campaign's whole audience would mean
//! keeping every TDID of every cell: hundreds of megabytes an hour.

/// Hashes a sketch keeps.
pub const K: usize = 128;

/// The sketch's hash of a TDID, or `None` for none: empty, or TTD's
/// all-zero id for a user it does not identify. FNV-1a then MurmurHash3's
/// 64-bit finaliser: a stable, documented function (sketches are stored,
/// so it must never change), and fast (a TDID is 36 bytes).
pub fn hash(tdid: &[u8]) -> Option<i32> {
    if tdid.iter().all(|b| matches!(b, b'0' | b'-')) {
        return None;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in tdid {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    Some(((h >> 32) as u32 ^ 0x8000_0000) as i32)
}

/// A sketch being filled: hashes pushed as they come, compacted to the K
/// smallest distinct whenever it holds 4 K (memory stays bounded per row).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sketch(Vec<i32>);

impl Sketch {
    pub fn push(&mut self, h: i32) {
        self.0.push(h);
        if self.0.len() >= 4 * K {
            self.compact();
        }
    }

    /// Add `other`'s people.
    pub fn union(&mut self, other: &[i32]) {
        self.0.extend_from_slice(other);
        self.compact();
    }

    fn compact(&mut self) {
        self.0.sort_unstable();
        self.0.dedup();
        self.0.truncate(K);
    }

    /// The K smallest distinct hashes, sorted.
    pub fn finish(&mut self) -> &[i32] {
        self.compact();
        &self.0
    }

    /// The hashes held (as [`Sketch::finish`] left them).
    pub fn hashes(&self) -> &[i32] {
        &self.0
    }

    /// An `int4[]` literal of the hashes held (`{-5,17}`).
    pub fn literal(&self) -> String {
        use std::fmt::Write;
        let mut out = String::with_capacity(2 + 12 * self.0.len());
        out.push('{');
        for (i, h) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{h}");
        }
        out.push('}');
        out
    }
}

/// The people a finished sketch counts: exact below K, estimated above.
pub fn count(sketch: &[i32]) -> i64 {
    if sketch.len() < K {
        return sketch.len() as i64;
    }
    let kth = sketch[K - 1];
    // The K-th smallest hash as a fraction of the whole range, in (0, 1].
    let unsigned = (i64::from(kth) - i64::from(i32::MIN)) as f64;
    let fraction = (unsigned + 1.0) / 4_294_967_296.0;
    ((K - 1) as f64 / fraction).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tdid(n: u64) -> String {
        format!("{:08x}-{:04x}-4000-8000-{:012x}", n >> 16, n & 0xffff, n)
    }

    fn sketch(range: std::ops::Range<u64>) -> Sketch {
        let mut s = Sketch::default();
        for n in range {
            s.push(hash(tdid(n).as_bytes()).unwrap());
        }
        s
    }

    #[test]
    fn few_people_are_counted_exactly_and_repeats_once() {
        let mut s = sketch(0..100);
        s.union(sketch(50..120).finish());
        assert_eq!(count(s.finish()), 120);
        assert_eq!(hash(b"00000000-0000-0000-0000-000000000000"), None);
        assert_eq!(hash(b""), None);
        let mut two = sketch(0..2);
        two.finish();
        let text = two.literal();
        assert!(text.starts_with('{') && text.ends_with('}') && text.contains(','));
    }

    #[test]
    fn many_people_are_estimated_within_a_few_standard_errors() {
        for (n, seed) in [(1_000u64, 0u64), (50_000, 1_000_000), (400_000, 9_000_000)] {
            let got = count(sketch(seed..seed + n).finish()) as f64;
            let error = (got - n as f64).abs() / n as f64;
            // 3 standard errors of K = 128.
            assert!(error < 0.27, "{n}: {got} ({error})");
        }
    }

    #[test]
    fn union_is_the_sketch_of_the_union_whatever_the_order() {
        let mut a = sketch(0..30_000);
        let mut b = sketch(20_000..60_000);
        let whole = sketch(0..60_000).finish().to_vec();
        let mut ab = a.clone();
        ab.union(b.finish());
        let mut ba = b.clone();
        ba.union(a.finish());
        assert_eq!(ab.finish(), whole.as_slice());
        assert_eq!(ba.finish(), whole.as_slice());
        assert!(whole.windows(2).all(|w| w[0] < w[1]));
    }
}
