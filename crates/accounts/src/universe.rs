//! The company universe in memory: every company's domain and name keys,
//! indexed for matching a whole account list (or a CRM's accounts) without
//! a query per row. Each instance keeps one copy, loaded on first use and
//! again whenever an import has changed the universe since: every import
//! that adds or changes a company gives `company_universe.generation` a new
//! random value, which one cheap query compares with the copy's. (Random, not
//! a counter: two databases, as in the tests, never share a generation.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::PgConnection;
use uuid::Uuid;

use crate::names;

/// A company's place in a [`Universe`].
pub type CompanyIdx = u32;

/// The universe as of one generation.
#[derive(Debug, Default)]
pub struct Universe {
    generation: Uuid,
    domains: Vec<Box<str>>,
    by_domain: HashMap<Box<str>, CompanyIdx>,
    /// Name key (of a name or an alias) to the companies it names, sorted
    /// and without repeats.
    by_name: HashMap<Box<str>, Vec<CompanyIdx>>,
}

/// The copy this instance holds.
static CURRENT: Mutex<Option<Arc<Universe>>> = Mutex::new(None);

impl Universe {
    /// The universe as `conn` sees it: this instance's copy when it is
    /// current, else a new one loaded through `conn`.
    pub async fn current(conn: &mut PgConnection) -> Result<Arc<Universe>, sqlx::Error> {
        let generation = sqlx::query_scalar!("SELECT generation FROM company_universe")
            .fetch_one(&mut *conn)
            .await?;
        let held = CURRENT.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(u) = held.filter(|u| u.generation == generation) {
            return Ok(u);
        }
        let rows = sqlx::query!("SELECT domain, name, aliases FROM companies ORDER BY domain")
            .fetch_all(&mut *conn)
            .await?;
        let universe = Arc::new(Universe::build(
            generation,
            rows.into_iter().map(|r| (r.domain, r.name, r.aliases)),
        ));
        *CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = Some(universe.clone());
        Ok(universe)
    }

    /// A universe of `companies` (domain, name, aliases).
    pub fn build(
        generation: Uuid,
        companies: impl IntoIterator<Item = (String, String, Vec<String>)>,
    ) -> Universe {
        let mut u = Universe {
            generation,
            ..Universe::default()
        };
        for (domain, name, aliases) in companies {
            let idx = u.domains.len() as CompanyIdx;
            let domain: Box<str> = domain.into();
            u.by_domain.insert(domain.clone(), idx);
            u.domains.push(domain);
            for key in std::iter::once(&name)
                .chain(&aliases)
                .filter_map(|n| names::key(n))
            {
                let hits = u.by_name.entry(key.into()).or_default();
                if hits.last() != Some(&idx) {
                    hits.push(idx);
                }
            }
        }
        u
    }

    /// The company whose registrable domain is `domain`.
    pub fn by_domain(&self, domain: &str) -> Option<CompanyIdx> {
        self.by_domain.get(domain).copied()
    }

    /// The companies a name key names (by their name or an alias).
    pub fn by_name_key(&self, key: &str) -> &[CompanyIdx] {
        self.by_name.get(key).map_or(&[], Vec::as_slice)
    }

    /// The domain of the company at `idx`.
    pub fn domain(&self, idx: CompanyIdx) -> &str {
        &self.domains[idx as usize]
    }

    pub fn len(&self) -> usize {
        self.domains.len()
    }

    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }
}

/// Give the universe a new generation: every instance's copy is stale.
pub async fn changed(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE company_universe SET generation = gen_random_uuid()")
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_find_their_companies() {
        let u = Universe::build(
            Uuid::nil(),
            [
                ("acme.com".into(), "Acme Inc.".into(), vec!["ACME".into()]),
                ("acme.co.uk".into(), "Acme Ltd".into(), vec![]),
                (
                    "globex.example".into(),
                    "Globex Corporation".into(),
                    vec!["Globex Corp".into(), "Initrode".into()],
                ),
            ],
        );
        assert_eq!(u.len(), 3);
        assert_eq!(
            u.by_domain("acme.co.uk").map(|i| u.domain(i)),
            Some("acme.co.uk")
        );
        assert_eq!(u.by_domain("initech.example"), None);
        // Two companies share a key: both are named, once each.
        let acme: Vec<&str> = u.by_name_key("acme").iter().map(|i| u.domain(*i)).collect();
        assert_eq!(acme, ["acme.com", "acme.co.uk"]);
        assert_eq!(u.by_name_key("globex").len(), 1);
        assert_eq!(u.by_name_key("initrode").len(), 1);
        assert!(u.by_name_key("hooli").is_empty());
    }
}
