//! The TTD sandbox's delivery feed: REDS files, hour by hour, for the
//! campaigns synced to a TTD (the sandbox), so that the whole flow — sync,
//! delivery, ingest, reports, pacing, alerts — runs on a laptop and in the
//! demo. What a campaign delivers follows what was synced:
//! - its spend per hour is its budget spread evenly over its flight, times
//!   `delivery_rate` (1: on plan; below 1 it under-delivers), shared by its
//!   enabled ad groups, each impression costing about the ad group's base
//!   bid CPM / 1000 (80–100 % of it, as auctions clear);
//! - `inside_percent` of an ad group's impressions come from the IP blocks
//!   of the first-party segments its TTD audience includes (through its
//!   data groups: the companies P360 sent), the rest from shared address
//!   space no company has;
//! - clicks at 0.4 % of the targeted impressions and 0.1 % of the others,
//!   within two minutes of their impression.
//!
//! The state is read through TTD's API as P360 wrote it (advertisers of
//! the partner, their campaigns, ad groups, audiences, data groups and
//! first-party segments) and the sandbox's view of a segment's entries.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use accounts::generate::Rng;
use activation::ttd::client::TtdClient;
use activation::ttd::model::{AdGroup, Advertiser, Campaign, DataGroup, TtdAudience};
use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use std::io::Write as _;

use crate::generate::{Impression, Written, click_line, impression_line};

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Options {
    /// The first hour.
    pub from: NaiveDateTime,
    pub hours: u32,
    /// Share of each campaign's plan delivered.
    pub delivery_rate: f64,
    /// Percent of impressions from the targeted companies' blocks.
    pub inside_percent: u64,
    pub seed: u64,
}

/// What an enabled ad group delivers per hour.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub advertiser: String,
    pub campaign: String,
    pub ad_group: String,
    pub creatives: Vec<String>,
    /// The base bid, micro-dollars per 1,000 impressions.
    pub cpm_micros: i64,
    /// The spend planned per hour, micro-dollars.
    pub hourly_micros: f64,
    /// The flight: first hour and the hour after the last.
    pub flight: (NaiveDateTime, NaiveDateTime),
    /// The blocks of the companies its audience includes (CIDR).
    pub blocks: Vec<ipnet::IpNet>,
}

fn day(s: &str) -> Option<NaiveDateTime> {
    let d = s.get(..10)?;
    NaiveDate::parse_from_str(d, "%Y-%m-%d")
        .ok()?
        .and_hms_opt(0, 0, 0)
}

/// The synced state of `partner` on the TTD at `client` (the sandbox at
/// `sandbox`, its base URL, for the segments' entries), as lines.
pub async fn lines(
    client: &TtdClient,
    http: &reqwest::Client,
    sandbox: &str,
    partner: &str,
) -> anyhow::Result<Vec<Line>> {
    let mut out = Vec::new();
    for a in client.query_all::<Advertiser>(partner).await? {
        let Some(adv) = a.advertiser_id else { continue };
        let segments = client.first_party_segments(&adv).await?;
        for c in client.query_all::<Campaign>(&adv).await? {
            let Some(cid) = c.campaign_id else { continue };
            let (Some(start), Some(end)) =
                (day(&c.start_date), c.end_date.as_deref().and_then(day))
            else {
                continue;
            };
            let end = end + TimeDelta::days(1);
            let groups: Vec<AdGroup> = client
                .query_all::<AdGroup>(&cid)
                .await?
                .into_iter()
                .filter(|g| g.is_enabled)
                .collect();
            let hours = (end - start).num_hours().max(1) as f64;
            let per_group = c.budget.amount * 1e6 / hours / groups.len().max(1) as f64;
            for g in groups {
                let Some(gid) = g.ad_group_id.clone() else {
                    continue;
                };
                let mut blocks = Vec::new();
                if let Some(aid) = g
                    .rtb_attributes
                    .audience_targeting
                    .as_ref()
                    .and_then(|t| t.audience_id.clone())
                {
                    let audience: TtdAudience = client.get(&aid).await?;
                    for dg in &audience.included_data_group_ids {
                        let group: DataGroup = client.get(dg).await?;
                        for id in &group.first_party_data_ids {
                            let Some(seg) = segments.iter().find(|s| s.first_party_data_id == *id)
                            else {
                                continue;
                            };
                            let url = format!(
                                "{}/_sandbox/data/firstparty/{adv}/{}",
                                sandbox.trim_end_matches('/'),
                                seg.name
                            );
                            let res = http.get(url).send().await?.error_for_status()?;
                            let v: serde_json::Value = res.json().await?;
                            for e in v["Entries"].as_array().into_iter().flatten() {
                                if let Some(net) = e.as_str().and_then(|s| s.parse().ok()) {
                                    blocks.push(net);
                                }
                            }
                        }
                    }
                }
                out.push(Line {
                    advertiser: adv.clone(),
                    campaign: cid.clone(),
                    ad_group: gid,
                    creatives: g.rtb_attributes.creative_ids.clone(),
                    cpm_micros: (g.rtb_attributes.base_bid_cpm.amount * 1e6).round() as i64,
                    hourly_micros: per_group,
                    flight: (start, end),
                    blocks,
                });
            }
        }
    }
    Ok(out)
}

/// A random address of `net`.
fn inside(rng: &mut Rng, net: &ipnet::IpNet) -> IpAddr {
    match net {
        ipnet::IpNet::V4(n) => {
            let first = u32::from(n.network());
            let span = u64::from(u32::from(n.broadcast()) - first) + 1;
            IpAddr::V4(Ipv4Addr::from(first + rng.below(span) as u32))
        }
        ipnet::IpNet::V6(n) => {
            let bits = 128 - u32::from(n.prefix_len());
            let offset = if bits >= 20 {
                rng.below(1 << 20)
            } else {
                rng.below(1 << bits)
            };
            IpAddr::V6((u128::from(n.network()) + u128::from(offset)).into())
        }
    }
}

/// Write `opts.hours` hours of REDS for `lines` into `out`
/// (`impressions_<hour>.log.gz`, `clicks_<hour>.log.gz`); what was written.
pub fn write(lines: &[Line], opts: &Options, out: &Path) -> std::io::Result<Written> {
    std::fs::create_dir_all(out)?;
    let mut rng = Rng::new(opts.seed ^ 0x005e_eded);
    let mut written = Written::default();
    let (mut line, mut click) = (String::with_capacity(1024), String::with_capacity(512));
    for h in 0..opts.hours {
        let hour = opts.from + TimeDelta::hours(i64::from(h));
        let gz = |kind: &str| -> std::io::Result<_> {
            let file = std::fs::File::create(
                out.join(format!("{kind}_{}.log.gz", hour.format("%Y-%m-%dT%H"))),
            )?;
            Ok(flate2::write::GzEncoder::new(
                std::io::BufWriter::new(file),
                flate2::Compression::fast(),
            ))
        };
        let (mut imps, mut clicks) = (gz("impressions")?, gz("clicks")?);
        for (n, l) in lines.iter().enumerate() {
            if hour < l.flight.0 || hour >= l.flight.1 || l.cpm_micros <= 0 {
                continue;
            }
            let jitter = 0.9 + rng.below(21) as f64 / 100.0;
            let budget = l.hourly_micros * opts.delivery_rate * jitter;
            let mut spent = 0i64;
            let mut k = 0u64;
            while (spent as f64) < budget {
                let cost = l.cpm_micros * (80 + rng.below(21) as i64) / 100 / 1_000;
                let at = hour + TimeDelta::milliseconds(rng.below(3_600_000) as i64);
                let targeted = !l.blocks.is_empty() && rng.chance(opts.inside_percent);
                let (ip, user) = if targeted {
                    let net = *rng.pick(&l.blocks);
                    (inside(&mut rng, &net), (n as u64) << 32 | rng.below(3_000))
                } else {
                    let ip = 0x6440_0000u32 + rng.below(1 << 22) as u32;
                    (
                        IpAddr::V4(Ipv4Addr::from(ip)),
                        (1 << 40) | rng.below(5_000_000),
                    )
                };
                let creative = if l.creatives.is_empty() {
                    "none".to_string()
                } else {
                    rng.pick(&l.creatives).clone()
                };
                let id = format!("{:016x}{:08x}{:08x}", rng.next_u64(), h, k);
                let tdid = impression_line(
                    &mut line,
                    &mut rng,
                    &Impression {
                        at,
                        id: &id,
                        advertiser: &l.advertiser,
                        campaign: &l.campaign,
                        ad_group: &l.ad_group,
                        creative: &creative,
                        ip,
                        user,
                        advertiser_cost: cost.max(1),
                    },
                );
                imps.write_all(line.as_bytes())?;
                written.impressions += 1;
                written.inside += u64::from(targeted);
                written.advertiser_cost_micros += cost.max(1);
                spent += cost.max(1);
                k += 1;
                if rng.below(1000) < if targeted { 4 } else { 1 } {
                    click_line(
                        &mut click,
                        &mut rng,
                        at,
                        ip,
                        (&l.campaign, &l.advertiser),
                        &id,
                        &tdid,
                    );
                    clicks.write_all(click.as_bytes())?;
                    written.clicks += 1;
                }
            }
        }
        imps.finish()?.flush()?;
        clicks.finish()?.flush()?;
    }
    Ok(written)
}
