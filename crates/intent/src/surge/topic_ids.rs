//! The topics a reader has met, found by the bytes of a row's topic field:
//! the lookup every row makes. A field of 8 to 32 bytes (Bombora's topic
//! names) is held in an open-addressed table as its length and four
//! eight-byte words (overlapping for the shorter ones, so equal words and
//! length mean equal bytes): a lookup is a few loads and compares, with no
//! call to hash bytes or compare memory. Other lengths go to a map.

use rustc_hash::FxHashMap as HashMap;

#[derive(Clone, Copy, Default)]
struct Slot {
    /// 0: empty.
    len: u8,
    id: u16,
    words: [u64; 4],
}

#[derive(Default)]
pub(super) struct TopicIds {
    /// A power of two long, never more than half full.
    slots: Vec<Slot>,
    used: usize,
    other: HashMap<Vec<u8>, u16>,
}

/// `field` as a length and four words, when 8 to 32 bytes long.
#[inline(always)]
fn key(field: &[u8]) -> Option<(u8, [u64; 4])> {
    let n = field.len();
    if !(8..=32).contains(&n) {
        return None;
    }
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&field[at..at + 8]);
        u64::from_le_bytes(w)
    };
    // Bytes 0-8, 8-16, 16-24 and the last eight, each start pulled back
    // to stay inside the field: together they cover it.
    Some((
        n as u8,
        [
            word(0),
            word(8.min(n - 8)),
            word(16.min(n - 8)),
            word(n - 8),
        ],
    ))
}

#[inline(always)]
fn slot_of(len: u8, words: &[u64; 4], mask: usize) -> usize {
    let h = (words[0] ^ words[3].rotate_left(29) ^ words[1].rotate_left(41) ^ u64::from(len))
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> 32) as usize & mask
}

impl TopicIds {
    pub(super) fn get(&self, field: &[u8]) -> Option<u16> {
        let Some((len, words)) = key(field) else {
            return self.other.get(field).copied();
        };
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = slot_of(len, &words, mask);
        loop {
            let s = &self.slots[i];
            if s.len == 0 {
                return None;
            }
            if s.len == len && s.words == words {
                return Some(s.id);
            }
            i = (i + 1) & mask;
        }
    }

    /// Add `field` (not there yet) as topic `id`.
    pub(super) fn insert(&mut self, field: &[u8], id: u16) {
        let Some((len, words)) = key(field) else {
            self.other.insert(field.to_vec(), id);
            return;
        };
        if (self.used + 1) * 2 > self.slots.len() {
            let size = (self.slots.len() * 2).max(4096);
            let old = std::mem::replace(&mut self.slots, vec![Slot::default(); size]);
            self.used = 0;
            for s in old.into_iter().filter(|s| s.len != 0) {
                self.place(s);
            }
        }
        self.place(Slot { len, id, words });
    }

    fn place(&mut self, slot: Slot) {
        let mask = self.slots.len() - 1;
        let mut i = slot_of(slot.len, &slot.words, mask);
        while self.slots[i].len != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = slot;
        self.used += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_length_finds_its_own_topic_and_no_other() {
        // Names of every length from 1 to 40 bytes that differ in a single
        // byte, at every place: each is found as itself.
        let mut names: Vec<Vec<u8>> = Vec::new();
        for n in 1..=40 {
            let base: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            names.push(base.clone());
            for at in 0..n {
                let mut v = base.clone();
                v[at] = b'Z';
                names.push(v);
            }
        }
        // Enough to grow the table twice.
        names.extend((0..5000).map(|i| format!("Topic number {i}").into_bytes()));
        let mut ids = TopicIds::default();
        for (i, name) in names.iter().enumerate() {
            assert_eq!(ids.get(name), None, "{}", String::from_utf8_lossy(name));
            ids.insert(name, i as u16);
        }
        for (i, name) in names.iter().enumerate() {
            assert_eq!(ids.get(name), Some(i as u16));
        }
        assert_eq!(ids.get(b"not a topic at all"), None);
        assert_eq!(ids.get(b""), None);
    }
}
