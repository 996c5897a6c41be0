//! P360's models against ChannelAttribution (PyPI), an independent
//! implementation: first, last and linear touch give the same conversions
//! per channel, and the Markov model's removal-effect shares — exact here,
//! simulated there — agree within 2 percentage points per channel, on a
//! set of 20,000 journeys.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;

use attribution::markov::{Path, removal_effects};
use attribution::models::{Model, Moment, Touch, weights};
use chrono::NaiveDate;
use serde_json::Value;
use uuid::Uuid;

/// xorshift64*.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// 20,000 journeys over 8 channels of different pull and effect, no
/// channel twice in a row; (path, conversions, nulls) aggregated by path.
fn journeys() -> Vec<(Vec<String>, u64, u64)> {
    let pull = [0.25, 0.2, 0.15, 0.12, 0.1, 0.08, 0.06, 0.04];
    let effect = [0.02, 0.05, 0.01, 0.08, 0.03, 0.12, 0.0, 0.06];
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let mut by_path: BTreeMap<Vec<String>, (u64, u64)> = BTreeMap::new();
    for _ in 0..20_000 {
        let len = 1 + (rng.next() % 5) as usize;
        let mut steps: Vec<usize> = Vec::with_capacity(len);
        while steps.len() < len {
            let mut u = rng.unit();
            let mut c = 0;
            while c < pull.len() - 1 && u >= pull[c] {
                u -= pull[c];
                c += 1;
            }
            if steps.last() != Some(&c) {
                steps.push(c);
            }
        }
        let p: f64 = 0.02 + steps.iter().map(|c| effect[*c]).sum::<f64>();
        let converted = rng.unit() < p.min(0.9);
        let key = steps.iter().map(|c| format!("C{}", c + 1)).collect();
        let e = by_path.entry(key).or_default();
        if converted {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    by_path.into_iter().map(|(k, (c, n))| (k, c, n)).collect()
}

fn channel_id(name: &str) -> Uuid {
    Uuid::from_u128(name.trim_start_matches('C').parse::<u128>().unwrap())
}

#[test]
fn heuristics_equal_and_markov_shares_agree_with_channel_attribution() {
    let paths = journeys();
    let total: u64 = paths.iter().map(|(_, c, n)| c + n).sum();
    assert_eq!(total, 20_000);
    let dir = std::env::temp_dir().join(format!("p360-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("paths.csv");
    {
        let mut f = std::fs::File::create(&csv).unwrap();
        writeln!(f, "path;total_conversions;total_null").unwrap();
        for (p, c, n) in &paths {
            writeln!(f, "{};{c};{n}", p.join(">")).unwrap();
        }
    }
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/channel_attribution_check.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(&csv)
        .output()
        .expect("python3 with ChannelAttribution (scripts/lib.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Value = serde_json::from_slice(&out.stdout).unwrap();

    // Heuristics: each converting path's conversions by the model's weights.
    let mut ours: HashMap<(Model, String), f64> = HashMap::new();
    let day = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    for (p, conversions, _) in &paths {
        if *conversions == 0 {
            continue;
        }
        let touches: Vec<Touch> = p
            .iter()
            .enumerate()
            .map(|(i, c)| Touch {
                campaign_id: channel_id(c),
                day: day + chrono::Duration::days(i as i64),
                impressions: 1,
                clicks: 0,
            })
            .collect();
        let at = Moment {
            converted: day + chrono::Duration::days(30),
            created: day,
            half_life_days: 7.0,
        };
        for model in [Model::FirstTouch, Model::LastTouch, Model::Linear] {
            for (w, c) in weights(model, &touches, at).iter().zip(p) {
                *ours.entry((model, c.clone())).or_default() += w * *conversions as f64;
            }
        }
    }
    let heuristic = theirs["heuristic"].as_object().unwrap();
    assert_eq!(heuristic.len(), 8);
    for (channel, v) in heuristic {
        for (model, key) in [
            (Model::FirstTouch, "first_touch"),
            (Model::LastTouch, "last_touch"),
            (Model::Linear, "linear"),
        ] {
            let mine = ours.get(&(model, channel.clone())).copied().unwrap_or(0.0);
            let other = v[key].as_f64().unwrap();
            assert!(
                (mine - other).abs() < 1e-6,
                "{channel} {key}: {mine} against {other}"
            );
        }
    }

    // Markov: removal-effect shares.
    let started = std::time::Instant::now();
    let re = removal_effects(
        &paths
            .iter()
            .map(|(p, c, n)| Path {
                steps: p.clone(),
                conversions: *c,
                nulls: *n,
            })
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let ours_secs = started.elapsed().as_secs_f64();
    let their_effects = theirs["removal_effect"].as_object().unwrap();
    let their_total: f64 = their_effects.values().map(|v| v.as_f64().unwrap()).sum();
    let mut worst = 0f64;
    for (channel, e) in their_effects {
        let their_share = e.as_f64().unwrap() / their_total;
        let mine = re.share[channel];
        worst = worst.max((mine - their_share).abs());
        assert!(
            (mine - their_share).abs() < 0.02,
            "{channel}: share {mine:.4} exact against {their_share:.4} simulated"
        );
    }
    eprintln!(
        "Markov removal-effect shares: largest difference {:.2} percentage points; \
         exact {ours_secs:.4} s, ChannelAttribution {:.3} s",
        worst * 100.0,
        theirs["markov_secs"].as_f64().unwrap()
    );
    std::fs::remove_dir_all(&dir).ok();
}
