//! Audience operations: preview, save (and build), rebuild, and reads; the
//! permission check and the audit record in the caller's transaction.

use std::collections::HashSet;
use std::sync::Arc;

use accounts::universe::Universe;
use intent::surge::Week;
use platform::http::pagination::Cursor;
use platform::http::problem::{ApiError, FieldError, Problem, conflict_on};
use platform::storage::Storage;
use tenancy::roles::Permission;
use tenancy::{Principal, TenantTx};
use uuid::Uuid;

use super::store::{self, NewRow, Stored};
use super::{Audience, BuildView, ChangeView, MemberView, NewAudience, Preview, TopicScore};
use crate::build::{Built, Inputs, Member, build, diff, why_in};
use crate::ids::AudienceId;
use crate::rule::Rule;

fn invalid(errors: Vec<(&'static str, String)>) -> ApiError {
    Problem::validation(
        errors
            .into_iter()
            .map(|(f, m)| FieldError::new(f, "invalid", m))
            .collect(),
    )
    .into()
}

/// Check a definition: its fields, and that its lists are the tenant's.
async fn check(tx: &mut TenantTx, new: &NewAudience) -> Result<(), ApiError> {
    let mut errors = new.rule.problems();
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        errors.push(("name", "1 to 200 characters, no control characters".into()));
    }
    let ids: Vec<Uuid> = lists(new).collect();
    if ids.len() > 100 {
        errors.push(("include_lists", "at most 100 lists in all".into()));
    }
    let found = accounts::read::existing_lists(tx, &ids).await?;
    for id in &ids {
        if !found.contains(id) {
            errors.push(("include_lists", format!("no account list {id}")));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(invalid(errors))
    }
}

fn lists(new: &NewAudience) -> impl Iterator<Item = Uuid> + '_ {
    new.include_lists
        .iter()
        .chain(&new.exclude_lists)
        .map(|l| l.0)
}

/// The (included, excluded) list ids of a definition.
fn list_ids(new: &NewAudience) -> (Vec<Uuid>, Vec<Uuid>) {
    let ids = |l: &[accounts::ids::AccountListId]| l.iter().map(|l| l.0).collect();
    (ids(&new.include_lists), ids(&new.exclude_lists))
}

/// What a build needs besides the rule.
struct Loaded {
    universe: Arc<Universe>,
    week: Option<Arc<Week>>,
    included: Vec<String>,
    excluded: HashSet<String>,
}

async fn load(
    tx: &mut TenantTx,
    storage: &Storage,
    include: &[Uuid],
    exclude: &[Uuid],
) -> Result<Loaded, ApiError> {
    let universe = Universe::current(tx.conn()).await?;
    let week = intent::surge::service::latest(tx.conn(), storage).await?;
    let included = accounts::read::matched_companies(tx, include).await?;
    let excluded = accounts::read::matched_companies(tx, exclude)
        .await?
        .into_iter()
        .collect();
    Ok(Loaded {
        universe,
        week,
        included,
        excluded,
    })
}

fn inputs<'a>(id: Uuid, rule: &'a Rule, l: &'a Loaded) -> Inputs<'a> {
    Inputs {
        audience: *id.as_bytes(),
        rule,
        week: l.week.as_deref(),
        universe: &l.universe,
        included: &l.included,
        excluded: &l.excluded,
    }
}

fn view(m: &Member) -> MemberView {
    MemberView {
        domain: m.domain.clone(),
        holdout: m.holdout,
        in_list: m.in_list,
        topics: m
            .topics
            .iter()
            .map(|(topic, score)| TopicScore {
                topic: topic.clone(),
                score: *score,
            })
            .collect(),
        reason: why_in(m),
    }
}

/// What an audience would be, without saving it (its holdout drawn as if
/// it were a new audience with a nil id).
pub async fn preview(
    tx: &mut TenantTx,
    storage: &Storage,
    by: &Principal,
    new: NewAudience,
) -> Result<Preview, ApiError> {
    by.require(Permission::CampaignsRead)?;
    check(tx, &new).await?;
    let (include, exclude) = list_ids(&new);
    let loaded = load(tx, storage, &include, &exclude).await?;
    let built = build(&inputs(Uuid::nil(), &new.rule, &loaded));
    let mut sample: Vec<&Member> = built.members.iter().collect();
    sample.sort_by(|a, b| {
        b.topics
            .len()
            .cmp(&a.topics.len())
            .then_with(|| a.domain.cmp(&b.domain))
    });
    Ok(Preview {
        members: built.members.len(),
        held_out: built.members.iter().filter(|m| m.holdout).count(),
        week: loaded.week.as_ref().map(|w| w.week),
        unknown_topics: built.unknown_topics.clone(),
        sample: sample.into_iter().take(20).map(view).collect(),
    })
}

/// Save an audience and build it.
pub async fn create(
    tx: &mut TenantTx,
    storage: &Storage,
    by: &Principal,
    new: NewAudience,
) -> Result<Audience, ApiError> {
    by.require(Permission::CampaignsWrite)?;
    check(tx, &new).await?;
    let (include, exclude) = list_ids(&new);
    let name = new.name.trim();
    let id = AudienceId::new();
    store::insert(
        tx,
        id,
        NewRow {
            name,
            include_lists: &include,
            exclude_lists: &exclude,
            rule: &new.rule,
            created_by: &by.maker_ref(),
        },
    )
    .await
    .map_err(|e| {
        conflict_on(e, "audiences_tenant_name_key", || {
            format!("an audience named {name} exists")
        })
    })?;
    rebuild(tx, storage, id, "saved").await?;
    let audience: Audience = store::get(tx, id)
        .await?
        .ok_or_else(Problem::not_found)?
        .into();
    tenancy::audit::record_change(
        tx,
        by,
        "audience.created",
        "audience",
        id,
        serde_json::json!({"after": {"name": audience.name, "rule": audience.rule,
            "include_lists": audience.include_lists, "exclude_lists": audience.exclude_lists}}),
    )
    .await?;
    Ok(audience)
}

/// Build audience `id` again (locked) and store the build; the build.
pub async fn rebuild(
    tx: &mut TenantTx,
    storage: &Storage,
    id: AudienceId,
    trigger: &str,
) -> Result<Built, ApiError> {
    let row = store::lock(tx, id).await?.ok_or_else(Problem::not_found)?;
    let loaded = load(tx, storage, &row.include_lists, &row.exclude_lists).await?;
    let previous = store::member_domains(tx, id).await?;
    let rule = row.rule.0.clone();
    let inputs = inputs(id.0, &rule, &loaded);
    let built = build(&inputs);
    let changes = diff(&inputs, &previous, &built);
    store::store_build(
        tx,
        id,
        Stored {
            n: row.builds + 1,
            week: loaded.week.as_ref().map(|w| w.week),
            trigger,
            members: &built.members,
            changes: &changes,
            unknown_topics: &built.unknown_topics,
        },
    )
    .await?;
    // TTD follows: only the difference is sent.
    crate::activate::jobs::ActivateAudience::queue_if_activated(tx, id).await?;
    Ok(built)
}

pub async fn get(tx: &mut TenantTx, by: &Principal, id: AudienceId) -> Result<Audience, ApiError> {
    by.require(Permission::CampaignsRead)?;
    Ok(store::get(tx, id)
        .await?
        .ok_or_else(Problem::not_found)?
        .into())
}

pub async fn list(
    tx: &mut TenantTx,
    by: &Principal,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<Audience>, ApiError> {
    by.require(Permission::CampaignsRead)?;
    Ok(store::list(tx, after.map(|c| (c.at, c.id)), limit)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Members by domain after `after`.
pub async fn members(
    tx: &mut TenantTx,
    by: &Principal,
    id: AudienceId,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<MemberView>, ApiError> {
    get(tx, by, id).await?;
    Ok(store::members(tx, id, after, limit)
        .await?
        .into_iter()
        .map(|r| {
            let topics = r.topics();
            let member = Member {
                domain: r.domain,
                holdout: r.holdout,
                in_list: r.in_list,
                topics: topics.iter().map(|t| (t.topic.clone(), t.score)).collect(),
            };
            MemberView {
                reason: why_in(&member),
                domain: member.domain,
                holdout: member.holdout,
                in_list: member.in_list,
                topics,
            }
        })
        .collect())
}

pub async fn builds(
    tx: &mut TenantTx,
    by: &Principal,
    id: AudienceId,
) -> Result<Vec<BuildView>, ApiError> {
    get(tx, by, id).await?;
    Ok(store::builds(tx, id).await?)
}

pub async fn changes(
    tx: &mut TenantTx,
    by: &Principal,
    id: AudienceId,
    n: i64,
) -> Result<Vec<ChangeView>, ApiError> {
    get(tx, by, id).await?;
    store::changes(tx, id, n).await?.ok_or_else(|| {
        Problem::not_found()
            .with_detail(format!("no build {n}"))
            .into()
    })
}
