//! Matching a list's rows to the company universe: by the registrable
//! domain first; failing that, by the name's key ([`crate::names`]) when it
//! names exactly one company (by its name or an alias). A key naming several
//! companies makes the row ambiguous, with them as candidates; otherwise the
//! row is unmatched with the reason. Pure: the universe is in memory.

use super::parse::InputRow;
use super::{MatchedBy, RowStatus};
use crate::domain::registrable;
use crate::names;
use crate::universe::Universe;

/// At most this many candidates are listed for an ambiguous row.
pub const MAX_CANDIDATES: usize = 10;

/// How one row ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: RowStatus,
    pub matched_by: Option<MatchedBy>,
    pub company: Option<String>,
    pub candidates: Vec<String>,
    pub reason: Option<String>,
}

impl Outcome {
    fn matched(by: MatchedBy, company: &str) -> Outcome {
        Outcome {
            status: RowStatus::Matched,
            matched_by: Some(by),
            company: Some(company.to_string()),
            candidates: Vec::new(),
            reason: None,
        }
    }
}

/// What matching needs of a row, worked out before the universe is at
/// hand (so the two can happen at once): its registrable domain (or why it
/// has none) and its name's key.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub row: InputRow,
    domain: Option<Result<String, &'static str>>,
    key: Option<Option<String>>,
}

impl Prepared {
    pub fn new(row: InputRow) -> Prepared {
        Prepared {
            domain: row.domain.as_deref().map(registrable),
            key: row.name.as_deref().map(names::key),
            row,
        }
    }
}

/// Match one row.
pub fn match_row(universe: &Universe, row: &InputRow) -> Outcome {
    match_prepared(universe, &Prepared::new(row.clone()))
}

/// Match one prepared row.
pub fn match_prepared(universe: &Universe, p: &Prepared) -> Outcome {
    let row = &p.row;
    let mut why = Vec::new();
    if let (Some(given), Some(domain)) = (&row.domain, &p.domain) {
        match domain {
            Ok(d) => match universe.by_domain(d) {
                Some(idx) => return Outcome::matched(MatchedBy::Domain, universe.domain(idx)),
                None => why.push(format!("no company has the domain {d}")),
            },
            Err(e) => why.push(format!("domain {given}: {e}")),
        }
    }
    if let (Some(given), Some(key)) = (&row.name, &p.key) {
        match key {
            None => why.push(format!("the name {given} is only a legal form")),
            Some(key) => match universe.by_name_key(key) {
                [] => why.push(format!("no company is named {given}")),
                [one] => return Outcome::matched(MatchedBy::Name, universe.domain(*one)),
                many => {
                    why.push(format!("{} companies are named {given}", many.len()));
                    return Outcome {
                        status: RowStatus::Ambiguous,
                        matched_by: None,
                        company: None,
                        candidates: many
                            .iter()
                            .take(MAX_CANDIDATES)
                            .map(|i| universe.domain(*i).to_string())
                            .collect(),
                        reason: Some(why.join("; ")),
                    };
                }
            },
        }
    }
    if why.is_empty() {
        why.push("neither a domain nor a name".into());
    }
    Outcome {
        status: RowStatus::Unmatched,
        matched_by: None,
        company: None,
        candidates: Vec::new(),
        reason: Some(why.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn universe() -> Universe {
        Universe::build(
            Uuid::nil(),
            [
                ("acme.com", "Acme Inc.", &["ACME Corporation"][..]),
                ("acme.co.uk", "Acme Ltd", &[]),
                ("globex.example", "Globex Corporation", &["Initrode"]),
                ("société-générale.example", "Société Générale S.A.", &[]),
            ]
            .map(|(d, n, a)| crate::companies::NewCompany {
                domain: registrable(d).unwrap(),
                name: n.into(),
                aliases: a.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            }),
        )
    }

    fn row(domain: Option<&str>, name: Option<&str>) -> InputRow {
        InputRow {
            line: 2,
            domain: domain.map(Into::into),
            name: name.map(Into::into),
            salesforce_id: None,
        }
    }

    #[test]
    fn domain_first_then_a_unique_name() {
        let u = universe();
        let sg = registrable("société-générale.example").unwrap();
        assert!(sg.starts_with("xn--"), "{sg}");
        for (domain, name, by, company) in [
            (
                Some("https://shop.acme.co.uk/"),
                Some("Acme"),
                MatchedBy::Domain,
                "acme.co.uk",
            ),
            (Some("WWW.ACME.COM"), None, MatchedBy::Domain, "acme.com"),
            (
                None,
                Some("GLOBEX, Corp."),
                MatchedBy::Name,
                "globex.example",
            ),
            (None, Some("Initrode"), MatchedBy::Name, "globex.example"),
            (
                Some("unknown.example"),
                Some("Globex"),
                MatchedBy::Name,
                "globex.example",
            ),
            (
                Some("co.uk"),
                Some("Societe Generale"),
                MatchedBy::Name,
                sg.as_str(),
            ),
            (
                Some("société-générale.example"),
                None,
                MatchedBy::Domain,
                sg.as_str(),
            ),
        ] {
            let o = match_row(&u, &row(domain, name));
            assert_eq!(o, Outcome::matched(by, company), "{domain:?} {name:?}");
        }
    }

    #[test]
    fn a_name_of_several_companies_is_ambiguous_with_candidates() {
        let o = match_row(&universe(), &row(Some("acme.de"), Some("ACME Inc")));
        assert_eq!(o.status, RowStatus::Ambiguous);
        assert_eq!(o.candidates, ["acme.co.uk", "acme.com"]);
        assert_eq!(
            o.reason.as_deref(),
            Some("no company has the domain acme.de; 2 companies are named ACME Inc")
        );
    }

    #[test]
    fn unmatched_rows_say_why() {
        let u = universe();
        for (domain, name, why) in [
            (
                Some("hooli.example"),
                None,
                "no company has the domain hooli.example",
            ),
            (
                Some("localhost"),
                Some("Hooli"),
                "domain localhost: not a website domain; no company is named Hooli",
            ),
            (None, Some("Inc."), "the name Inc. is only a legal form"),
            (None, None, "neither a domain nor a name"),
        ] {
            let o = match_row(&u, &row(domain, name));
            assert_eq!(o.status, RowStatus::Unmatched);
            assert_eq!(o.reason.as_deref(), Some(why));
        }
    }
}
