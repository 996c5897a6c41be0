//! Audience rebuild from a loaded surge week (docs/benchmarks.md,
//! `scripts/bench-audiences`): the universe and week of `p360 generate`
//! (200,000 companies × 5-40 of 2,000 topics, seed 1) built in memory as an
//! instance holds them, then the 8-topic rule with firmographic filters
//! (the one `scripts/bench-intent` gives DuckDB) rebuilt 100 times with a
//! diff against the previous build. Prints p50, p99 and max in ms.

use std::collections::HashSet;
use std::time::Instant;

use accounts::companies::SizeBand;
use audiences::build::{Inputs, build, diff};
use audiences::rule::{Firmographics, IntentRule, Rule, Threshold};

fn main() -> anyhow::Result<()> {
    let n: u64 = std::env::args().nth(1).map_or(Ok(200_000), |a| a.parse())?;
    let mut companies = Vec::new();
    accounts::generate::companies(n, 1, &mut companies)?;
    let parsed = accounts::companies::import::companies(&companies)?;
    let universe = accounts::universe::Universe::build(
        uuid::Uuid::nil(),
        parsed.companies.into_iter().map(|(_, c)| c),
    );
    let mut file = Vec::new();
    intent::generate::surge_week(n, 2_000, 1, &mut file)?;
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default();
    let (week, counts) = intent::surge::parse::read(day, file.as_slice())?;
    drop(file);
    let topics: Vec<String> = (0..8).map(|k| intent::generate::topic(k * 29).0).collect();
    let rule = Rule {
        intent: Some(IntentRule {
            topics,
            min_score: 60,
            threshold: Threshold::Percent(25),
        }),
        firmographics: Firmographics {
            sizes: vec![SizeBand::Medium, SizeBand::MediumLarge, SizeBand::Large],
            industries: [
                "Software",
                "Financial Services",
                "Healthcare",
                "Manufacturing",
                "Retail",
            ]
            .map(String::from)
            .to_vec(),
            countries: vec![],
        },
        cap: None,
        holdout_percent: 10,
    };
    let excluded = HashSet::new();
    let inputs = Inputs {
        audience: [9; 16],
        rule: &rule,
        week: Some(&week),
        universe: &universe,
        included: &[],
        excluded: &excluded,
    };
    let mut previous: Vec<String> = Vec::new();
    let mut times = Vec::with_capacity(100);
    let mut members = 0;
    for _ in 0..100 {
        let t = Instant::now();
        let built = build(&inputs);
        let changes = diff(&inputs, &previous, &built);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        members = built.members.len();
        std::hint::black_box(changes);
        previous = built.members.into_iter().map(|m| m.domain).collect();
    }
    times.sort_by(f64::total_cmp);
    println!(
        "week: {} rows, {} companies, {} topics; audience: {members} members",
        counts.rows,
        week.profiles.len(),
        week.topics.len()
    );
    println!(
        "rebuild (build + diff) over 100 runs: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        times[49], times[98], times[99]
    );
    Ok(())
}
