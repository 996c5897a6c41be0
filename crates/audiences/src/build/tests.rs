use std::collections::HashSet;

use accounts::companies::NewCompany;
use accounts::companies::SizeBand;
use accounts::universe::Universe;
use chrono::NaiveDate;
use intent::surge::parse::read;

use super::*;
use crate::rule::{Firmographics, IntentRule, Threshold};

const HEADER: &str = "Company Name,Domain,Size,Industry,Category,Topic,Composite Score,\
    Bucket Code,Metro Area,Metro Composite Score,Metro Bucket Code,Domain Origin Country\n";

fn universe() -> Universe {
    let row = |d: &str, size, industry: &str, country: &str| NewCompany {
        domain: d.into(),
        name: d.into(),
        size: Some(size),
        industry: Some(industry.into()),
        country: Some(country.into()),
        ..NewCompany::default()
    };
    Universe::build(
        uuid::Uuid::nil(),
        [
            row("acme.example", SizeBand::Large, "Software", "Germany"),
            row("globex.example", SizeBand::Small, "Energy", "France"),
            row(
                "initech.example",
                SizeBand::Large,
                "Software",
                "United States",
            ),
            row("hooli.example", SizeBand::Medium, "Software", "Germany"),
            row("listed.example", SizeBand::Micro, "Retail", "Spain"),
        ],
    )
}

/// acme surges on 3 topics, globex and initech on 2, hooli on 1; an
/// unknown company on 3.
fn week() -> Week {
    let mut f = HEADER.to_string();
    for (d, t, s) in [
        ("acme.example", "Firewalls", 90),
        ("acme.example", "Zero Trust", 75),
        ("acme.example", "SIEM", 61),
        ("globex.example", "Firewalls", 70),
        ("globex.example", "SIEM", 65),
        ("globex.example", "Zero Trust", 40),
        ("initech.example", "Zero Trust", 99),
        ("initech.example", "SIEM", 60),
        ("hooli.example", "Firewalls", 88),
        ("unknown.example", "Firewalls", 95),
        ("unknown.example", "SIEM", 95),
        ("unknown.example", "Zero Trust", 95),
        ("listed.example", "Kubernetes", 80),
    ] {
        f.push_str(&format!("{d},{d},,,Security,{t},{s},,,,,\n"));
    }
    read(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(), f.as_bytes())
        .unwrap()
        .0
}

fn rule(needed: u16) -> Rule {
    Rule {
        intent: Some(IntentRule {
            topics: vec![
                "Firewalls".into(),
                "Zero Trust".into(),
                "SIEM".into(),
                "Nope".into(),
            ],
            min_score: 60,
            threshold: Threshold::Topics(needed),
        }),
        ..Rule::default()
    }
}

fn run(rule: &Rule, included: &[String], excluded: &[&str]) -> Built {
    let (u, w) = (universe(), week());
    let excluded: HashSet<String> = excluded.iter().map(|s| s.to_string()).collect();
    build(&Inputs {
        audience: [7; 16],
        rule,
        week: Some(&w),
        universe: &u,
        included,
        excluded: &excluded,
    })
}

fn domains(b: &Built) -> Vec<&str> {
    b.members.iter().map(|m| m.domain.as_str()).collect()
}

#[test]
fn the_intent_rule_selects_companies_surging_on_enough_topics() {
    let b = run(&rule(2), &[], &[]);
    assert_eq!(
        domains(&b),
        ["acme.example", "globex.example", "initech.example"]
    );
    assert_eq!(b.unknown_topics, ["Nope"]);
    assert_eq!((b.stats.intent_qualified, b.stats.not_in_universe), (4, 1));
    let acme = &b.members[0];
    assert_eq!(
        acme.topics,
        [
            ("Firewalls".to_string(), 90),
            ("Zero Trust".into(), 75),
            ("SIEM".into(), 61)
        ]
    );
    assert_eq!(
        why_in(acme),
        "surging on Firewalls (90), Zero Trust (75), SIEM (61)"
    );
    // 25 % of 4 topics is 1 topic.
    let mut r = rule(1);
    r.intent.as_mut().unwrap().threshold = Threshold::Percent(25);
    assert_eq!(r.topics_needed(), 1);
    assert_eq!(run(&r, &[], &[]).members.len(), 4);
    assert_eq!(run(&rule(3), &[], &[]).members.len(), 1);
}

#[test]
fn lists_add_exclusions_remove_firmographics_filter_and_the_cap_keeps_the_highest() {
    let listed = vec!["listed.example".to_string()];
    let b = run(&rule(2), &listed, &["globex.example"]);
    assert_eq!(
        domains(&b),
        ["acme.example", "initech.example", "listed.example"]
    );
    assert!(b.members[2].in_list && b.members[2].topics.is_empty());
    assert_eq!(b.stats.excluded, 1);
    let mut r = rule(2);
    r.firmographics = Firmographics {
        sizes: vec![SizeBand::Large],
        industries: vec!["SOFTWARE".into()],
        countries: vec![],
    };
    let b = run(&r, &listed, &[]);
    assert_eq!(domains(&b), ["acme.example", "initech.example"]);
    assert_eq!(b.stats.filtered_out, 2);
    // An industry no company has selects no one.
    r.firmographics.industries = vec!["Mining".into()];
    assert!(run(&r, &listed, &[]).members.is_empty());
    // The cap keeps the most surging topics, then the highest scores.
    let mut r = rule(2);
    r.cap = Some(2);
    let b = run(&r, &[], &[]);
    assert_eq!(domains(&b), ["acme.example", "initech.example"]);
    assert_eq!(b.stats.over_cap, 1);
}

#[test]
fn the_holdout_is_stable_and_near_its_share() {
    let audience = [3u8; 16];
    let held = (0..10_000)
        .filter(|i| held_out(&audience, &format!("c{i}.example"), 10))
        .count();
    assert!((900..1100).contains(&held), "{held}");
    for i in 0..100 {
        let d = format!("c{i}.example");
        assert_eq!(held_out(&audience, &d, 10), held_out(&audience, &d, 10));
        assert!(!held_out(&audience, &d, 0));
    }
    // Another audience holds out other companies.
    let other = (0..10_000)
        .filter(|i| {
            let d = format!("c{i}.example");
            held_out(&audience, &d, 10) && held_out(&[4u8; 16], &d, 10)
        })
        .count();
    assert!(other < 200, "{other}");
}

#[test]
fn a_diff_says_who_came_and_went_and_why() {
    let (u, w) = (universe(), week());
    let excluded = HashSet::from(["globex.example".to_string()]);
    let r = rule(2);
    let inputs = Inputs {
        audience: [7; 16],
        rule: &r,
        week: Some(&w),
        universe: &u,
        included: &[],
        excluded: &excluded,
    };
    let now = build(&inputs);
    let before = vec![
        "acme.example".to_string(),
        "globex.example".into(),
        "hooli.example".into(),
        "gone.example".into(),
    ];
    let changes: Vec<(String, bool, String)> = diff(&inputs, &before, &now)
        .into_iter()
        .map(|c| (c.domain, c.added, c.reason))
        .collect();
    assert_eq!(
        changes,
        [
            (
                "globex.example".into(),
                false,
                "in an excluded account list".into()
            ),
            (
                "gone.example".into(),
                false,
                "no longer in the company universe".into()
            ),
            (
                "hooli.example".into(),
                false,
                "surging on 1 of the 2 chosen topics required, and in no included list".into()
            ),
            (
                "initech.example".into(),
                true,
                "surging on Zero Trust (99), SIEM (60)".into()
            ),
        ]
    );
}
