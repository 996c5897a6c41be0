//! The attribution benchmark's world (`scripts/bench-attribution`): 20,000
//! accounts matched to companies, 1,000,000 account-day touches of 40
//! campaigns over 270 days, 100,000 opportunities created over the last 180
//! days (30 % won), written as CSV for PostgreSQL to load; the pipeline
//! run's Markov journeys for ChannelAttribution; and the time of the
//! in-memory run (both kinds, every model) on the same data.
//!
//! Usage: bench_attribution OUT_DIR TENANT_ID TODAY (YYYY-MM-DD)

use std::collections::{HashMap, HashSet};
use std::io::{BufWriter, Write};
use std::time::Instant;

use attribution::models::Touch;
use attribution::run::{Kind, Opp, Rules, Touches, journeys_of, run};
use chrono::{Duration, NaiveDate};
use uuid::Uuid;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const ACCOUNTS: u64 = 20_000;
const TOUCHES_PER_ACCOUNT: usize = 50;
const CAMPAIGNS: u128 = 40;
const OPPORTUNITIES: u64 = 100_000;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, out, tenant, today] = &args[..] else {
        eprintln!("usage: bench_attribution OUT_DIR TENANT_ID TODAY");
        std::process::exit(2);
    };
    let out = std::path::Path::new(out);
    let today = NaiveDate::parse_from_str(today, "%Y-%m-%d").expect("TODAY as YYYY-MM-DD");
    let mut rng = Rng(0x5EED_A77B_0000_0001);
    let campaign = |n: u128| Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + n);
    let company = |i: u64| format!("co{i}.example");
    let account = |i: u64| format!("001B{i:011}");

    // Touches: campaigns pulled unevenly (some reach more), 50 distinct
    // (day, campaign) pairs per account.
    let mut touches: HashMap<String, Vec<Touch>> = HashMap::new();
    let mut delivery = BufWriter::new(std::fs::File::create(out.join("delivery.csv"))?);
    for i in 0..ACCOUNTS {
        let mut seen = HashSet::new();
        let mut t = Vec::with_capacity(TOUCHES_PER_ACCOUNT);
        while t.len() < TOUCHES_PER_ACCOUNT {
            let c = (rng.below(CAMPAIGNS as u64) * rng.below(CAMPAIGNS as u64) / CAMPAIGNS as u64)
                as u128;
            let day = today - Duration::days(rng.below(270) as i64);
            if seen.insert((day, c)) {
                let impressions = 1 + rng.below(40) as i64;
                let clicks = i64::from(rng.below(50) == 0);
                writeln!(
                    delivery,
                    "{day},{tenant},{},{},{impressions},{clicks},{},{}",
                    campaign(c),
                    company(i),
                    impressions * 6000,
                    impressions * 4500
                )?;
                t.push(Touch {
                    campaign_id: campaign(c),
                    day,
                    impressions,
                    clicks,
                });
            }
        }
        t.sort_unstable_by_key(|x| (x.day, x.campaign_id));
        touches.insert(company(i), t);
    }
    delivery.flush()?;

    let stamp = "2026-12-01 00:00:00+00";
    let mut accounts = BufWriter::new(std::fs::File::create(out.join("accounts.csv"))?);
    for i in 0..ACCOUNTS {
        writeln!(
            accounts,
            "{tenant},{},Account {i},https://{},{stamp},matched,domain,{}",
            account(i),
            company(i),
            company(i)
        )?;
    }
    accounts.flush()?;

    let mut opps = Vec::with_capacity(OPPORTUNITIES as usize);
    let mut file = BufWriter::new(std::fs::File::create(out.join("opportunities.csv"))?);
    for n in 0..OPPORTUNITIES {
        let i = rng.below(ACCOUNTS);
        let created = today - Duration::days(rng.below(180) as i64);
        let amount =
            (1_000 + rng.below(500_000)) as i64 * 1_000_000 + rng.below(100) as i64 * 10_000;
        let won = rng.below(10) < 3;
        let close = (created + Duration::days(5 + rng.below(55) as i64)).min(today);
        let id = format!("006B{n:011}");
        writeln!(
            file,
            "{tenant},{id},{},Deal {n},{amount},USD,{},{close},{won},{won},{created} 09:00:00+00,{stamp}",
            account(i),
            if won { "Closed Won" } else { "Prospecting" }
        )?;
        opps.push(Opp {
            id,
            company: Some(company(i)),
            amount: Some(amount),
            created,
            won: won.then_some(close),
        });
    }
    file.flush()?;

    let rules = Rules {
        from: today - Duration::days(180),
        to: today,
        lookback_days: 90,
        half_life_days: 7.0,
    };
    // As the server keeps them (built once per window and delivery version).
    let touches = Touches::new(
        touches
            .into_iter()
            .flat_map(|(c, t)| t.into_iter().map(move |t| (c.clone(), t))),
    );
    let started = Instant::now();
    let pipeline = run(&opps, &touches, Kind::Pipeline, rules);
    let revenue = run(&opps, &touches, Kind::Revenue, rules);
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "in memory: {} + {} opportunities attributed under 7 models in {secs:.3} s",
        pipeline.attributed, revenue.attributed
    );

    // The pipeline chain's journeys, aggregated by path, for ChannelAttribution.
    let mut by_path: HashMap<String, (u64, u64)> = HashMap::new();
    for p in journeys_of(&opps, &touches, Kind::Pipeline, rules) {
        let mut steps: Vec<String> = Vec::new();
        for s in &p.steps {
            let name = format!("c{}", s.as_u128() & 0xffff);
            if steps.last() != Some(&name) {
                steps.push(name);
            }
        }
        let e = by_path.entry(steps.join(">")).or_default();
        e.0 += p.conversions;
        e.1 += p.nulls;
    }
    let mut paths = BufWriter::new(std::fs::File::create(out.join("paths.csv"))?);
    writeln!(paths, "path;total_conversions;total_null")?;
    for (p, (c, n)) in &by_path {
        writeln!(paths, "{p};{c};{n}")?;
    }
    paths.flush()?;
    println!("{secs:.3}");
    Ok(())
}
