//! The company universe in memory: every company's domain and name keys,
//! indexed for matching a whole account list (or a CRM's accounts) without
//! a query per row. Each instance keeps one copy, loaded on first use and
//! again whenever an import has changed the universe since: every import
//! that adds or changes a company gives `company_universe.generation` a new
//! random value (`companies::store::universe_changed`), which one cheap
//! query compares with the copy's. (Random, not a counter: two databases, as
//! in the tests, never share a generation.)

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex};

use sqlx::PgConnection;
use uuid::Uuid;

use crate::companies::{NewCompany, SizeBand};
use crate::names;

/// A company's place in a [`Universe`].
pub type CompanyIdx = u32;

/// A company's firmographics: industry and country as numbers the
/// universe gives them (`industry_id`, `country_id`), compared without
/// text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Firmographics {
    pub size: Option<SizeBand>,
    pub industry: Option<u16>,
    pub country: Option<u16>,
}

const NONE: u16 = u16::MAX;

/// Names (any case) to numbers.
#[derive(Debug, Default)]
struct Interned(HashMap<Box<str>, u16>);

impl Interned {
    fn id(&mut self, name: Option<String>) -> u16 {
        let Some(name) = name else { return NONE };
        let key: Box<str> = name.trim().to_lowercase().into();
        let next = self.0.len().min(usize::from(NONE) - 1) as u16;
        *self.0.entry(key).or_insert(next)
    }

    fn get(&self, name: &str) -> Option<u16> {
        self.0.get(name.trim().to_lowercase().as_str()).copied()
    }
}

/// The universe as of one generation.
#[derive(Debug, Default)]
pub struct Universe {
    generation: Uuid,
    domains: Vec<Box<str>>,
    /// FxHash (not SipHash: a third of the time it takes to index 200,000
    /// companies): the keys are the universe's own, loaded by staff, not
    /// chosen by a tenant.
    by_domain: FxHashMap<Box<str>, CompanyIdx>,
    /// Name key (of a name or an alias) to the companies it names, in
    /// domain order and without repeats.
    by_name: FxHashMap<Box<str>, Hits>,
    sizes: Vec<Option<SizeBand>>,
    industries: Vec<u16>,
    countries: Vec<u16>,
    industry_ids: Interned,
    country_ids: Interned,
}

/// The companies a name key names: almost always one, kept without a
/// vector of its own (200,000 fewer allocations to index a universe).
#[derive(Debug)]
enum Hits {
    One(CompanyIdx),
    Many(Vec<CompanyIdx>),
}

impl Hits {
    fn as_slice(&self) -> &[CompanyIdx] {
        match self {
            Hits::One(idx) => std::slice::from_ref(idx),
            Hits::Many(v) => v,
        }
    }
}

/// The copy this instance holds.
static CURRENT: Mutex<Option<Arc<Universe>>> = Mutex::new(None);

/// Companies handed to the indexing thread at a time.
const BATCH: usize = 2048;

impl Universe {
    /// The universe as `conn` sees it: this instance's copy when it is
    /// current, else a new one loaded through `conn`.
    ///
    /// Loading streams the companies to a blocking thread that indexes
    /// them while PostgreSQL is still sending the rest (working out 200,000
    /// name keys costs about as much as the query).
    pub async fn current(conn: &mut PgConnection) -> Result<Arc<Universe>, sqlx::Error> {
        use futures_util::TryStreamExt;

        let generation = sqlx::query_scalar!("SELECT generation FROM company_universe")
            .fetch_one(&mut *conn)
            .await?;
        let held = CURRENT.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(u) = held.filter(|u| u.generation == generation) {
            return Ok(u);
        }
        let started = std::time::Instant::now();
        let (send, mut batches) = tokio::sync::mpsc::channel::<Vec<NewCompany>>(8);
        let builder = tokio::task::spawn_blocking(move || {
            let mut u = Universe::new(generation);
            while let Some(batch) = batches.blocking_recv() {
                batch.into_iter().for_each(|c| u.push(c));
            }
            u.finish()
        });
        let mut rows = sqlx::query!(
            r#"SELECT domain, name, aliases, size AS "size: SizeBand", industry, country
               FROM companies"#
        )
        .fetch(&mut *conn);
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(r) = rows.try_next().await? {
            batch.push(NewCompany {
                domain: r.domain,
                name: r.name,
                aliases: r.aliases,
                size: r.size,
                industry: r.industry,
                country: r.country,
            });
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                // The builder only stops early by panicking, seen below.
                let _ = send.send(full).await;
            }
        }
        let _ = send.send(batch).await;
        drop(send);
        let universe = Arc::new(builder.await.map_err(|e| {
            sqlx::Error::Protocol(format!("indexing the company universe failed: {e}"))
        })?);
        tracing::info!(
            companies = universe.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "loaded the company universe"
        );
        *CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = Some(universe.clone());
        Ok(universe)
    }

    fn new(generation: Uuid) -> Universe {
        Universe {
            generation,
            ..Universe::default()
        }
    }

    /// A universe of `companies`.
    pub fn build(generation: Uuid, companies: impl IntoIterator<Item = NewCompany>) -> Universe {
        let mut u = Universe::new(generation);
        companies.into_iter().for_each(|c| u.push(c));
        u.finish()
    }

    /// Put the companies a name key names in domain order (they come in
    /// any order: the load does not ask PostgreSQL to sort 200,000 rows).
    fn finish(mut self) -> Universe {
        let domains = &self.domains;
        for hits in self.by_name.values_mut() {
            if let Hits::Many(v) = hits {
                v.sort_unstable_by(|a, b| domains[*a as usize].cmp(&domains[*b as usize]));
            }
        }
        self
    }

    /// Index one more company.
    fn push(&mut self, c: NewCompany) {
        let NewCompany {
            domain,
            name,
            aliases,
            ..
        } = c;
        let idx = self.domains.len() as CompanyIdx;
        self.sizes.push(c.size);
        self.industries.push(self.industry_ids.id(c.industry));
        self.countries.push(self.country_ids.id(c.country));
        let domain: Box<str> = domain.into();
        self.by_domain.insert(domain.clone(), idx);
        self.domains.push(domain);
        for key in std::iter::once(&name)
            .chain(&aliases)
            .filter_map(|n| names::key(n))
        {
            match self.by_name.get_mut(key.as_str()) {
                None => {
                    self.by_name.insert(key.into(), Hits::One(idx));
                }
                Some(hits) => match hits {
                    // A name and an alias of one company with the same key.
                    Hits::One(one) if *one == idx => {}
                    Hits::One(one) => {
                        let first = *one;
                        *hits = Hits::Many(vec![first, idx]);
                    }
                    Hits::Many(v) => {
                        if v.last() != Some(&idx) {
                            v.push(idx);
                        }
                    }
                },
            }
        }
    }

    /// The company whose registrable domain is `domain`.
    pub fn by_domain(&self, domain: &str) -> Option<CompanyIdx> {
        self.by_domain.get(domain).copied()
    }

    /// The companies a name key names (by their name or an alias).
    pub fn by_name_key(&self, key: &str) -> &[CompanyIdx] {
        self.by_name.get(key).map_or(&[], Hits::as_slice)
    }

    /// The domain of the company at `idx`.
    pub fn domain(&self, idx: CompanyIdx) -> &str {
        &self.domains[idx as usize]
    }

    /// The firmographics of the company at `idx`.
    pub fn firmographics(&self, idx: CompanyIdx) -> Firmographics {
        let some = |v: u16| (v != NONE).then_some(v);
        Firmographics {
            size: self.sizes[idx as usize],
            industry: some(self.industries[idx as usize]),
            country: some(self.countries[idx as usize]),
        }
    }

    /// The number of an industry (any case), if a company has it.
    pub fn industry_id(&self, name: &str) -> Option<u16> {
        self.industry_ids.get(name)
    }

    /// The number of a country (any case), if a company has it.
    pub fn country_id(&self, name: &str) -> Option<u16> {
        self.country_ids.get(name)
    }

    pub fn len(&self) -> usize {
        self.domains.len()
    }

    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_find_their_companies() {
        let row = |d: &str, n: &str, a: &[&str]| NewCompany {
            domain: d.into(),
            name: n.into(),
            aliases: a.iter().map(|s| s.to_string()).collect(),
            ..NewCompany::default()
        };
        let u = Universe::build(
            Uuid::nil(),
            [
                row("acme.com", "Acme Inc.", &["ACME"]),
                row("acme.co.uk", "Acme Ltd", &[]),
                row(
                    "globex.example",
                    "Globex Corporation",
                    &["Globex Corp", "Initrode"],
                ),
            ],
        );
        assert_eq!(u.len(), 3);
        assert_eq!(
            u.by_domain("acme.co.uk").map(|i| u.domain(i)),
            Some("acme.co.uk")
        );
        assert_eq!(u.by_domain("initech.example"), None);
        // Two companies share a key: both are named, once each, in domain
        // order whatever order they came in.
        let acme: Vec<&str> = u.by_name_key("acme").iter().map(|i| u.domain(*i)).collect();
        assert_eq!(acme, ["acme.co.uk", "acme.com"]);
        assert_eq!(u.by_name_key("globex").len(), 1);
        assert_eq!(u.by_name_key("initrode").len(), 1);
        assert!(u.by_name_key("hooli").is_empty());
    }
}
