//! A week put together from what its readers took ([`Builder`]): one, or
//! the two threads of the parallel reader. The companies are sorted by
//! domain (a company's number is its place); then every row is put in its
//! topic's list by visiting the companies in that order, so each list
//! comes out in order with no sorting, a company given a topic twice met
//! twice in a row (the higher score kept). The topics are shared out
//! between two threads, each walking all the rows for its half.

use std::mem::take;

use super::parse::{Builder, Run};
use super::{Profile, TopicScores, Week};

/// A run of rows of one company, in one part's `entries`.
#[derive(Clone, Copy, Default)]
struct Segment {
    from: u32,
    to: u32,
    theirs: bool,
}

impl Builder {
    /// The week: domains sorted (a company's number is its place), topics
    /// by name, each topic's companies in order; with `other` (what another
    /// thread read of the same file) joined in. Returns the duplicates
    /// dropped.
    pub(super) fn finish(
        mut self,
        other: Option<Builder>,
        week: chrono::NaiveDate,
    ) -> Result<(Week, u64), String> {
        let mut other = other.unwrap_or_default();
        drop_later((
            take(&mut self.topic_ids),
            take(&mut self.by_domain),
            take(&mut other.topic_ids),
            take(&mut other.by_domain),
        ));
        let (profiles, renumber, their_renumber) = companies(&mut self, &mut other);

        // The topics by name, each part's numbers mapped to their place.
        let mut named: Vec<(&str, bool, usize)> = self
            .topics
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.as_str(), false, i))
            .chain(
                other
                    .topics
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (t.name.as_str(), true, i)),
            )
            .collect();
        // Ours first for a name both have: its category stands.
        named.sort_unstable();
        let mut ours_at = vec![0u16; self.topics.len()];
        let mut theirs_at = vec![0u16; other.topics.len()];
        let mut topics: Vec<TopicScores> = Vec::new();
        let mut rows: Vec<usize> = Vec::new();
        for (name, theirs, i) in named {
            if topics.last().is_none_or(|t| t.name != name) {
                let from = if theirs { &other.topics } else { &self.topics };
                topics.push(TopicScores {
                    name: name.to_string(),
                    category: from[i].category.clone(),
                    ..TopicScores::default()
                });
                rows.push(0);
            }
            let at = u16::try_from(topics.len() - 1).map_err(|_| "more than 65,535 topics")?;
            let (map, from) = if theirs {
                (&mut theirs_at, &other.topics)
            } else {
                (&mut ours_at, &self.topics)
            };
            map[i] = at;
            rows[usize::from(at)] += from[i].rows as usize;
        }
        for (t, n) in topics.iter_mut().zip(&rows) {
            t.companies.reserve_exact(*n);
            t.scores.reserve_exact(*n);
        }

        // Each company's runs, the companies in their order.
        let n = profiles.len();
        let mut bounds = vec![0u32; n + 1];
        for (runs, map) in [(&self.runs, &renumber), (&other.runs, &their_renumber)] {
            for r in runs {
                bounds[map[r.company as usize] as usize + 1] += 1;
            }
        }
        for i in 0..n {
            bounds[i + 1] += bounds[i];
        }
        let mut next = bounds.clone();
        let mut segments = vec![Segment::default(); bounds[n] as usize];
        for (runs, map, theirs) in [
            (&self.runs, &renumber, false),
            (&other.runs, &their_renumber, true),
        ] {
            let mut from = 0;
            for &Run { company, end } in runs {
                let at = &mut next[map[company as usize] as usize];
                segments[*at as usize] = Segment {
                    from,
                    to: end,
                    theirs,
                };
                *at += 1;
                from = end;
            }
        }

        // The rows into their topics, half the topics on each core.
        let half = topics.len() / 2;
        let (low, high) = topics.split_at_mut(half);
        let walk = Walk {
            bounds: &bounds,
            segments: &segments,
            entries: (&self.entries, &other.entries),
            maps: (&ours_at, &theirs_at),
        };
        let duplicates = std::thread::scope(|s| {
            let other = s.spawn(|| walk.fill(high, half));
            walk.fill(low, 0)
                + other
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))
        });
        drop_later((self, other, segments, bounds));
        Ok((
            Week {
                week,
                profiles,
                topics,
            },
            duplicates,
        ))
    }
}

/// The rows, as [`Builder::finish`] walks them.
struct Walk<'a> {
    /// Company `c`'s segments are `segments[bounds[c]..bounds[c + 1]]`.
    bounds: &'a [u32],
    segments: &'a [Segment],
    entries: (&'a [u32], &'a [u32]),
    /// Each part's topic numbers to the week's.
    maps: (&'a [u16], &'a [u16]),
}

impl Walk<'_> {
    /// Fill `topics` (the week's topics from number `first` on) with the
    /// rows of theirs, company by company; the duplicates dropped.
    fn fill(&self, topics: &mut [TopicScores], first: usize) -> u64 {
        let mut duplicates = 0;
        for (c, w) in self.bounds.windows(2).enumerate() {
            let c = c as u32;
            for s in &self.segments[w[0] as usize..w[1] as usize] {
                let (entries, map) = if s.theirs {
                    (self.entries.1, self.maps.1)
                } else {
                    (self.entries.0, self.maps.0)
                };
                for e in &entries[s.from as usize..s.to as usize] {
                    let t = usize::from(map[(e >> 8) as usize]).wrapping_sub(first);
                    let Some(topic) = topics.get_mut(t) else {
                        continue;
                    };
                    let score = (e & 0xff) as u8;
                    if topic.companies.last() == Some(&c) {
                        // The same company and topic again: the higher score.
                        duplicates += 1;
                        if let Some(last) = topic.scores.last_mut() {
                            *last = (*last).max(score);
                        }
                    } else {
                        topic.companies.push(c);
                        topic.scores.push(score);
                    }
                }
            }
        }
        duplicates
    }
}

/// The companies of both parts by domain, and each part's numbers mapped
/// to their place. A company both read is one, described as the earlier
/// block described it.
fn companies(ours: &mut Builder, theirs: &mut Builder) -> (Vec<Profile>, Vec<u32>, Vec<u32>) {
    let mut mine = take(&mut ours.profiles);
    let mut other = take(&mut theirs.profiles);
    // Each part sorted on a core (a domain is once in a part), then the
    // two lists merged.
    let (our_order, their_order) = std::thread::scope(|s| {
        let other = &other;
        let theirs = s.spawn(move || by_domain(other));
        (
            by_domain(&mine),
            theirs
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p)),
        )
    });
    let mut renumber = vec![0u32; mine.len()];
    let mut their_renumber = vec![0u32; other.len()];
    let mut profiles: Vec<Profile> = Vec::with_capacity(mine.len() + other.len());
    let (mut a, mut b) = (our_order.iter().peekable(), their_order.iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(&&x), Some(&&y)) => {
                match mine[x as usize].domain.cmp(&other[y as usize].domain) {
                    std::cmp::Ordering::Less => (Some(x), None),
                    std::cmp::Ordering::Greater => (None, Some(y)),
                    std::cmp::Ordering::Equal => (Some(x), Some(y)),
                }
            }
            (Some(&&x), None) => (Some(x), None),
            (None, Some(&&y)) => (None, Some(y)),
            (None, None) => break,
        };
        let id = profiles.len() as u32;
        let profile = match next {
            (Some(x), Some(y)) if theirs.first_block[y as usize] < ours.first_block[x as usize] => {
                take(&mut other[y as usize])
            }
            (Some(x), _) => take(&mut mine[x as usize]),
            (None, Some(y)) => take(&mut other[y as usize]),
            (None, None) => break,
        };
        profiles.push(profile);
        if let Some(x) = next.0 {
            a.next();
            renumber[x as usize] = id;
        }
        if let Some(y) = next.1 {
            b.next();
            their_renumber[y as usize] = id;
        }
    }
    drop_later((mine, other));
    (profiles, renumber, their_renumber)
}

/// The companies' numbers in order of their domains: the first eight bytes
/// compared as a number, the whole domain only on a tie (fewer trips to the
/// strings).
fn by_domain(profiles: &[Profile]) -> Vec<u32> {
    let head = |d: &str| {
        let mut b = [0u8; 8];
        let n = d.len().min(8);
        b[..n].copy_from_slice(&d.as_bytes()[..n]);
        u64::from_be_bytes(b)
    };
    let mut keyed: Vec<(u64, u32)> = profiles
        .iter()
        .enumerate()
        .map(|(i, p)| (head(&p.domain), i as u32))
        .collect();
    keyed.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0).then_with(|| {
            profiles[a.1 as usize]
                .domain
                .cmp(&profiles[b.1 as usize].domain)
        })
    });
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// Free `t` on a thread of its own: the readers' maps hold hundreds of
/// thousands of small allocations, and nothing needs to wait for them.
fn drop_later<T: Send + 'static>(t: T) {
    // Should the thread not start, `t` is freed here.
    let _ = std::thread::Builder::new()
        .name("surge-free".into())
        .spawn(move || drop(t));
}
