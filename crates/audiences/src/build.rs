//! Building an audience: who is in it and why, computed in memory from the
//! loaded surge week and the company universe — a walk over the chosen
//! topics' score arrays, then filters on the few candidates — and the diff
//! from the previous build, each change with its reason.

use std::collections::{HashMap, HashSet};

use accounts::universe::{CompanyIdx, Universe};
use intent::surge::{TopicScores, Week};

use crate::rule::Rule;

/// What a build works from.
pub struct Inputs<'a> {
    /// The audience's id (its bytes seed the holdout hash).
    pub audience: [u8; 16],
    pub rule: &'a Rule,
    /// The latest surge week (none yet: the intent rule selects no one).
    pub week: Option<&'a Week>,
    pub universe: &'a Universe,
    /// Domains of the companies matched in the included lists.
    pub included: &'a [String],
    /// Domains of the companies matched in the excluded lists.
    pub excluded: &'a HashSet<String>,
}

/// A member and why it is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub domain: String,
    /// In the control group: never activated.
    pub holdout: bool,
    /// In an included list.
    pub in_list: bool,
    /// The chosen topics it scored at or above the minimum, highest first.
    pub topics: Vec<(String, u8)>,
}

/// Counts of who fell out at each step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Companies the intent rule selected (before any other step).
    pub intent_qualified: usize,
    /// Selected companies the universe does not have (cannot be targeted).
    pub not_in_universe: usize,
    pub excluded: usize,
    pub filtered_out: usize,
    pub over_cap: usize,
}

/// A build's result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Built {
    /// By domain.
    pub members: Vec<Member>,
    /// Chosen topics the week does not have.
    pub unknown_topics: Vec<String>,
    pub stats: Stats,
}

/// Whether company `domain` is held out of audience `audience` with
/// `percent` % held out: a stable hash (FNV-1a over the audience id and the
/// domain), so a company stays in or out of the control group build after
/// build.
pub fn held_out(audience: &[u8; 16], domain: &str, percent: u8) -> bool {
    let h = audience
        .iter()
        .chain(domain.as_bytes())
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        });
    // Mixed so that nearby domains spread.
    let h = (h ^ (h >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (h >> 11) % 10_000 < u64::from(percent) * 100
}

struct Intent<'a> {
    topics: Vec<&'a TopicScores>,
    min: u8,
    /// Per week company: chosen topics at or above `min`.
    counts: Vec<u8>,
}

impl Intent<'_> {
    /// The chosen topics company `c` of the week scored at or above the
    /// minimum, highest first, and their sum.
    fn details(&self, c: u32) -> (Vec<(String, u8)>, u32) {
        let mut topics: Vec<(String, u8)> = self
            .topics
            .iter()
            .filter_map(|t| {
                t.score(c)
                    .filter(|s| *s >= self.min)
                    .map(|s| (t.name.clone(), s))
            })
            .collect();
        topics.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let sum = topics.iter().map(|t| u32::from(t.1)).sum();
        (topics, sum)
    }
}

fn intent<'a>(inputs: &Inputs<'a>, unknown: &mut Vec<String>) -> Option<Intent<'a>> {
    let (rule, week) = (inputs.rule.intent.as_ref()?, inputs.week?);
    let mut topics = Vec::with_capacity(rule.topics.len());
    for name in &rule.topics {
        match week.topic(name) {
            Some(t) => topics.push(t),
            None => unknown.push(name.clone()),
        }
    }
    let mut counts = vec![0u8; week.profiles.len()];
    for t in &topics {
        for (c, s) in t.companies.iter().zip(&t.scores) {
            if *s >= rule.min_score {
                let n = &mut counts[*c as usize];
                *n = n.saturating_add(1);
            }
        }
    }
    Some(Intent {
        topics,
        min: rule.min_score,
        counts,
    })
}

/// Who is in the audience.
pub fn build(inputs: &Inputs) -> Built {
    let mut out = Built::default();
    let needed = inputs.rule.topics_needed();
    let intent = intent(inputs, &mut out.unknown_topics);
    let week = inputs.week;
    // Candidates: universe company -> (week company, in a list).
    let mut candidates: HashMap<CompanyIdx, (Option<u32>, bool)> = HashMap::new();
    if let (Some(i), Some(week)) = (&intent, week) {
        for (c, n) in i.counts.iter().enumerate() {
            if usize::from(*n) < needed || *n == 0 {
                continue;
            }
            out.stats.intent_qualified += 1;
            match inputs.universe.by_domain(&week.profiles[c].domain) {
                Some(u) => {
                    candidates.insert(u, (Some(c as u32), false));
                }
                None => out.stats.not_in_universe += 1,
            }
        }
    }
    for domain in inputs.included {
        if let Some(u) = inputs.universe.by_domain(domain) {
            candidates.entry(u).or_insert((None, false)).1 = true;
        }
    }
    let filter = Filter::new(inputs);
    let mut ranked: Vec<(Member, usize, u32)> = Vec::with_capacity(candidates.len());
    for (u, (in_week, in_list)) in candidates {
        let domain = inputs.universe.domain(u);
        if inputs.excluded.contains(domain) {
            out.stats.excluded += 1;
            continue;
        }
        if !filter.passes(inputs.universe, u) {
            out.stats.filtered_out += 1;
            continue;
        }
        // A listed company's intent counts too, even when it came by list.
        let week_idx = in_week.or_else(|| week.and_then(|w| w.company(domain)));
        let (topics, sum) = match (&intent, week_idx) {
            (Some(i), Some(c)) => i.details(c),
            _ => (Vec::new(), 0),
        };
        let surging = topics.len();
        ranked.push((
            Member {
                domain: domain.to_string(),
                holdout: false,
                in_list,
                topics,
            },
            surging,
            sum,
        ));
    }
    if let Some(cap) = inputs.rule.cap.map(|c| c as usize)
        && ranked.len() > cap
    {
        ranked.sort_unstable_by(|a, b| {
            b.1.cmp(&a.1)
                .then(b.2.cmp(&a.2))
                .then_with(|| a.0.domain.cmp(&b.0.domain))
        });
        out.stats.over_cap = ranked.len() - cap;
        ranked.truncate(cap);
    }
    out.members = ranked
        .into_iter()
        .map(|(mut m, _, _)| {
            m.holdout = held_out(&inputs.audience, &m.domain, inputs.rule.holdout_percent);
            m
        })
        .collect();
    out.members.sort_unstable_by(|a, b| a.domain.cmp(&b.domain));
    out
}

/// The firmographic filters, resolved against the universe once per build.
struct Filter {
    sizes: Vec<accounts::companies::SizeBand>,
    industries: Option<Vec<u16>>,
    countries: Option<Vec<u16>>,
}

impl Filter {
    fn new(inputs: &Inputs) -> Filter {
        let f = &inputs.rule.firmographics;
        let resolve = |names: &[String], find: &dyn Fn(&str) -> Option<u16>| {
            (!names.is_empty()).then(|| names.iter().filter_map(|n| find(n)).collect())
        };
        Filter {
            sizes: f.sizes.clone(),
            industries: resolve(&f.industries, &|n| inputs.universe.industry_id(n)),
            countries: resolve(&f.countries, &|n| inputs.universe.country_id(n)),
        }
    }

    fn passes(&self, universe: &Universe, u: CompanyIdx) -> bool {
        let f = universe.firmographics(u);
        (self.sizes.is_empty() || f.size.is_some_and(|s| self.sizes.contains(&s)))
            && self
                .industries
                .as_ref()
                .is_none_or(|ids| f.industry.is_some_and(|i| ids.contains(&i)))
            && self
                .countries
                .as_ref()
                .is_none_or(|ids| f.country.is_some_and(|c| ids.contains(&c)))
    }
}

/// A change between two builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub domain: String,
    pub added: bool,
    pub reason: String,
}

/// Why `m` is a member, in words.
pub fn why_in(m: &Member) -> String {
    let mut parts = Vec::new();
    if m.in_list {
        parts.push("in an included account list".to_string());
    }
    if !m.topics.is_empty() {
        let topics: Vec<String> = m.topics.iter().map(|(t, s)| format!("{t} ({s})")).collect();
        parts.push(format!("surging on {}", topics.join(", ")));
    }
    parts.join("; ")
}

/// Why `domain` is not a member of `built` any more (`filter` resolved
/// from `inputs` once per diff).
fn why_out(inputs: &Inputs, filter: &Filter, built: &Built, domain: &str) -> String {
    let Some(u) = inputs.universe.by_domain(domain) else {
        return "no longer in the company universe".into();
    };
    if inputs.excluded.contains(domain) {
        return "in an excluded account list".into();
    }
    if !filter.passes(inputs.universe, u) {
        return "its firmographics no longer pass the filters".into();
    }
    let listed = inputs.included.iter().any(|d| d == domain);
    let needed = inputs.rule.topics_needed();
    let surging = inputs
        .week
        .zip(inputs.rule.intent.as_ref())
        .and_then(|(w, rule)| {
            let c = w.company(domain)?;
            Some(
                rule.topics
                    .iter()
                    .filter_map(|t| w.topic(t)?.score(c))
                    .filter(|s| *s >= rule.min_score)
                    .count(),
            )
        })
        .unwrap_or(0);
    if !listed && surging < needed.max(1) {
        return format!(
            "surging on {surging} of the {needed} chosen topics required, and in no included list"
        );
    }
    match inputs.rule.cap {
        Some(cap) if built.stats.over_cap > 0 => format!("over the cap of {cap}"),
        _ => "no longer selected".into(),
    }
}

/// The changes from the members `previous` (domains) to `built`.
pub fn diff(inputs: &Inputs, previous: &[String], built: &Built) -> Vec<Change> {
    let before: HashSet<&str> = previous.iter().map(String::as_str).collect();
    let now: HashSet<&str> = built.members.iter().map(|m| m.domain.as_str()).collect();
    let filter = Filter::new(inputs);
    let mut changes: Vec<Change> = built
        .members
        .iter()
        .filter(|m| !before.contains(m.domain.as_str()))
        .map(|m| Change {
            domain: m.domain.clone(),
            added: true,
            reason: why_in(m),
        })
        .collect();
    changes.extend(
        previous
            .iter()
            .filter(|d| !now.contains(d.as_str()))
            .map(|d| Change {
                domain: d.clone(),
                added: false,
                reason: why_out(inputs, &filter, built, d),
            }),
    );
    changes.sort_by(|a, b| a.domain.cmp(&b.domain));
    changes
}

#[cfg(test)]
mod tests;
