//! The report's rules: who may read it, which campaigns a filter names,
//! and the names that go with the ids.

use std::collections::HashMap;

use chrono::NaiveDate;
use platform::http::problem::{ApiError, FieldError, Problem};
use tenancy::roles::Permission;
use tenancy::{Principal, TenantTx};
use uuid::Uuid;

use super::store::{self, Query};
use super::{DeliveryRow, Dim, KeyPart, Metrics, UNRESOLVED};

/// A checked report request.
#[derive(Debug, Clone)]
pub struct Request {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub group_by: Vec<Dim>,
    pub campaign: Option<Uuid>,
    pub advertiser: Option<Uuid>,
    pub insertion_order: Option<Uuid>,
    pub ad_group: Option<Uuid>,
    pub creative: Option<Uuid>,
    /// A domain, or [`UNRESOLVED`].
    pub company: Option<String>,
    /// Count the people reached (distinct TDIDs) of each row.
    pub people: bool,
}

impl Request {
    /// Check that `company` is a plausible domain (or [`UNRESOLVED`]).
    pub fn company(v: Option<&str>, errors: &mut Vec<FieldError>) -> Option<String> {
        let v = v?.trim().to_ascii_lowercase();
        if v == UNRESOLVED {
            return Some(v);
        }
        if v.is_empty() || v.len() > 253 || v.contains(char::is_whitespace) {
            errors.push(FieldError::new(
                "company",
                "invalid",
                "a company's domain, or (unresolved)",
            ));
            return None;
        }
        Some(v)
    }
}

/// Up to `limit` rows of the report after `after`.
pub async fn page(
    tx: &mut TenantTx,
    by: &Principal,
    req: &Request,
    after: Option<&[KeyPart]>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, ApiError> {
    by.require(Permission::ReportsRead)?;
    let campaigns = campaigns_of(tx, req).await?;
    let company = req
        .company
        .as_deref()
        .map(|c| if c == UNRESOLVED { "" } else { c });
    let query = Query {
        from: req.from,
        to: req.to,
        dims: &req.group_by,
        campaigns: campaigns.as_deref(),
        ad_group: req.ad_group,
        creative: req.creative,
        company,
        after,
        limit,
    };
    let lines = match campaigns.as_deref() {
        // A campaign's accounts: from its days in memory.
        Some(one @ [_])
            if req.group_by == [Dim::Company]
                && req.ad_group.is_none()
                && req.creative.is_none() =>
        {
            by_company(tx, one, req, company, after, limit).await?
        }
        _ => store::lines(tx, &query).await?,
    };
    let mut people = match (req.people, lines.first(), lines.last()) {
        (true, Some(first), Some(last)) => store::people(tx, &query, &first.key, &last.key).await?,
        _ => HashMap::new(),
    };
    // Names of what the page shows.
    let (mut cs, mut gs, mut rs, mut domains) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for l in &lines {
        for (k, d) in l.key.iter().zip(&req.group_by) {
            match (k, d) {
                (KeyPart::Id(id), Dim::Campaign) => cs.push(*id),
                (KeyPart::Text(t), Dim::Company) if !t.is_empty() => domains.push(t.clone()),
                _ => {}
            }
        }
        gs.extend(l.ad_group_id);
        rs.extend(l.creative_id);
    }
    let names = campaigns::read::names(tx, &cs, &gs, &rs).await?;
    let companies: HashMap<String, String> = accounts::read::company_names(tx.conn(), &domains)
        .await?
        .into_iter()
        .collect();
    Ok(lines
        .into_iter()
        .map(|l| {
            let mut row = DeliveryRow {
                day: None,
                campaign_id: None,
                campaign_name: None,
                ttd_ad_group_id: None,
                ad_group_id: l.ad_group_id,
                ad_group_name: l.ad_group_id.and_then(|g| names.ad_groups.get(&g).cloned()),
                ttd_creative_id: None,
                creative_id: l.creative_id,
                creative_name: l.creative_id.and_then(|r| names.creatives.get(&r).cloned()),
                company: None,
                company_name: None,
                metrics: Metrics {
                    people: req.people.then(|| {
                        people
                            .get_mut(&l.key)
                            .map_or(0, |s| crate::people::count(s.finish()))
                    }),
                    ..Metrics::from(l.sums)
                },
                key: Vec::new(),
            };
            for (k, d) in l.key.iter().zip(&req.group_by) {
                match (k, d) {
                    (KeyPart::Day(day), _) => row.day = Some(*day),
                    (KeyPart::Id(id), _) => {
                        row.campaign_id = Some(*id);
                        row.campaign_name = names.campaigns.get(id).cloned();
                    }
                    (KeyPart::Text(t), Dim::AdGroup) => row.ttd_ad_group_id = Some(t.clone()),
                    (KeyPart::Text(t), Dim::Creative) => row.ttd_creative_id = Some(t.clone()),
                    (KeyPart::Text(t), _) if t.is_empty() => {
                        row.company = Some(UNRESOLVED.to_string())
                    }
                    (KeyPart::Text(t), _) => {
                        row.company_name = companies.get(t).cloned();
                        row.company = Some(t.clone());
                    }
                }
            }
            row.key = l.key;
            row
        })
        .collect())
}

/// The report of one campaign by company, from its days in memory: the
/// same rows, in the same order, as the SQL.
async fn by_company(
    tx: &mut TenantTx,
    campaign: &[Uuid],
    req: &Request,
    company: Option<&str>,
    after: Option<&[KeyPart]>,
    limit: i64,
) -> Result<Vec<store::Line>, sqlx::Error> {
    let after = match after {
        Some([KeyPart::Text(t)]) => Some(t.as_str()),
        _ => None,
    };
    Ok(crate::days::by_company(tx, campaign, req.from, req.to)
        .await?
        .into_iter()
        .filter(|(c, _)| company.is_none_or(|want| want == c))
        .filter(|(c, _)| after.is_none_or(|a| c.as_str() > a))
        .take(limit.max(0) as usize)
        .map(|(c, sums)| store::Line {
            key: vec![KeyPart::Text(c)],
            ad_group_id: None,
            creative_id: None,
            sums,
        })
        .collect())
}

/// The campaigns the request's filters name (`None`: no campaign filter).
/// A campaign, advertiser or insertion order that is not the tenant's is a
/// 404, as if it did not exist.
async fn campaigns_of(tx: &mut TenantTx, req: &Request) -> Result<Option<Vec<Uuid>>, ApiError> {
    if req.advertiser.is_none() && req.insertion_order.is_none() {
        let Some(c) = req.campaign else {
            return Ok(None);
        };
        if campaigns::read::campaign(tx, campaigns::ids::CampaignId(c))
            .await?
            .is_none()
        {
            return Err(Problem::not_found().into());
        }
        return Ok(Some(vec![c]));
    }
    let mut ids = campaigns::read::campaign_ids(tx, req.advertiser, req.insertion_order).await?;
    if ids.is_empty()
        && !campaigns::read::owner_exists(tx, req.advertiser, req.insertion_order).await?
    {
        return Err(Problem::not_found().into());
    }
    if let Some(c) = req.campaign {
        ids.retain(|id| *id == c);
    }
    Ok(Some(ids))
}
