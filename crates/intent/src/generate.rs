//! A deterministic Company Surge week in Bombora's documented layout, for
//! benchmarks and demos: the companies of `accounts::generate` (so they
//! match a generated universe), each scored on 5 to 40 of `topics` topics,
//! about one score in five at or above 60.

use std::io::Write;

use accounts::generate::{Rng, company, firmographics};

const SIZES: &[&str] = &[
    "Micro (1 - 9 Employees)",
    "Small (10 - 49 Employees)",
    "Medium-Small (50 - 199 Employees)",
    "Medium (200 - 499 Employees)",
    "Medium-Large (500 - 999 Employees)",
    "Large (1,000 - 4,999 Employees)",
    "XLarge (5,000 - 10,000 Employees)",
    "XXLarge (10,000+ Employees)",
];
const CATEGORIES: &[&str] = &[
    "Technology",
    "Security",
    "Cloud",
    "Marketing",
    "Finance",
    "Human Resources",
    "Operations",
    "Legal",
    "Healthcare",
    "Sales",
];
const WORDS: &[&str] = &[
    "Data",
    "Network",
    "Identity",
    "Payroll",
    "Content",
    "Endpoint",
    "Cloud",
    "Customer",
    "Supply Chain",
    "Risk",
    "Analytics",
    "Email",
    "Storage",
    "Compliance",
    "Mobile",
    "Payment",
    "Workforce",
    "Threat",
    "Project",
    "Document",
];
const THINGS: &[&str] = &[
    "Management",
    "Security",
    "Automation",
    "Platforms",
    "Governance",
    "Intelligence",
    "Migration",
    "Monitoring",
    "Planning",
    "Software",
    "Services",
    "Strategy",
];
const METROS: &[&str] = &[
    "New York",
    "London",
    "San Francisco",
    "Berlin",
    "Paris",
    "Sydney",
    "Toronto",
    "Chicago",
];

/// The name and category of topic `t` (unique names).
pub fn topic(t: u64) -> (String, &'static str) {
    let word = WORDS[(t % WORDS.len() as u64) as usize];
    let thing = THINGS[((t / WORDS.len() as u64) % THINGS.len() as u64) as usize];
    let round = t / (WORDS.len() * THINGS.len()) as u64;
    let name = if round == 0 {
        format!("{word} {thing}")
    } else {
        format!("{word} {thing} {}", round + 1)
    };
    (name, CATEGORIES[(t % CATEGORIES.len() as u64) as usize])
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn bucket(score: u64) -> &'static str {
    match score {
        80.. => "A",
        60..=79 => "B",
        _ => "C",
    }
}

/// A surge file for `companies` companies and `topics` topics.
pub fn surge_week(
    companies: u64,
    topics: u64,
    seed: u64,
    out: &mut impl Write,
) -> std::io::Result<()> {
    writeln!(
        out,
        "Company Name,Domain,Size,Industry,Category,Topic,Composite Score,Bucket Code,\
         Metro Area,Metro Composite Score,Metro Bucket Code,Domain Origin Country"
    )?;
    let names: Vec<(String, &str)> = (0..topics).map(topic).collect();
    let mut rng = Rng::new(seed ^ 0x5e);
    let mut line = Vec::with_capacity(256);
    for i in 0..companies {
        let (domain, name) = company(i, seed);
        // The universe's firmographics, in Bombora's size labels.
        let (band, industry, country) = firmographics(i, seed);
        let size = SIZES[accounts::companies::SizeBand::ALL
            .iter()
            .position(|b| *b == band)
            .unwrap_or_default()];
        let metro = METROS[rng.below(METROS.len() as u64) as usize];
        let n = 5 + rng.below(36);
        let first = rng.below(topics.max(1));
        // Distinct topics: a random start and a stride coprime to topics.
        let mut stride = 1 + rng.below(topics);
        while gcd(stride, topics) != 1 {
            stride += 1;
        }
        for k in 0..n.min(topics) {
            let t = (first + k * stride) % topics;
            let (topic, category) = &names[t as usize];
            let score = if rng.chance(20) {
                60 + rng.below(41)
            } else {
                rng.below(60)
            };
            let metro_score = rng.below(101);
            line.clear();
            writeln!(
                line,
                "{name},{domain},\"{size}\",{industry},{category},{topic},{score},{},{metro},\
                 {metro_score},{},{country}",
                bucket(score),
                bucket(metro_score)
            )?;
            out.write_all(&line)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_week_reads_whole_and_matches_its_universe() {
        let mut f = Vec::new();
        surge_week(300, 50, 3, &mut f).unwrap();
        let mut again = Vec::new();
        surge_week(300, 50, 3, &mut again).unwrap();
        assert_eq!(f, again);
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let (week, counts) = crate::surge::parse::read(day, f.as_slice()).unwrap();
        assert_eq!((counts.unusable_domains, counts.duplicates), (0, 0));
        assert_eq!(week.profiles.len(), 300);
        assert_eq!(week.topics.len(), 50);
        assert!((300 * 5..=300 * 40).contains(&(counts.rows as usize)));
        let (d0, _) = company(0, 3);
        assert!(week.company(&d0).is_some());
        let surging = week
            .topics
            .iter()
            .flat_map(|t| &t.scores)
            .filter(|s| **s >= 60)
            .count();
        let share = surging as f64 / counts.rows as f64;
        assert!((0.15..0.25).contains(&share), "{share}");
    }
}
