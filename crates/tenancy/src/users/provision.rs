//! Sign-in: a verified token to a [`Principal`], provisioning the user the
//! first time (staff from the issuer's roles claim; customers from the
//! token's tenant and role or an invitation for their address).

use platform::http::problem::{ApiError, Problem};
use sqlx::{PgConnection, PgPool};

use super::{UserStatus, store};
use crate::audit::{self, NewEvent, Outcome};
use crate::config::IssuerKind;
use crate::credentials::jwt::VerifiedToken;
use crate::credentials::kind_allowed;
use crate::principal::{Actor, AuthRejection, Principal, RequestMeta, UserId, forbidden};
use crate::roles::{Role, UserKind};
use crate::scope::{AllTenants, ScopedTx, TenantId};

/// Resolve a verified token to a principal, provisioning the user on first sign-in.
pub async fn resolve(
    pool: &PgPool,
    token: &VerifiedToken,
    meta: RequestMeta,
    invitation_ttl_days: u32,
) -> Result<Principal, AuthRejection> {
    match resolve_once(pool, token, meta.clone(), invitation_ttl_days).await {
        // Two first requests of the same user at once: the loser finds the
        // account the winner made.
        Err(AuthRejection::Api(ApiError::Problem(p)))
            if p.detail.as_deref() == Some(PROVISION_RACE) =>
        {
            resolve_once(pool, token, meta, invitation_ttl_days).await
        }
        other => other,
    }
}

const PROVISION_RACE: &str = "the account was provisioned by a concurrent request; retry";

async fn resolve_once(
    pool: &PgPool,
    token: &VerifiedToken,
    meta: RequestMeta,
    invitation_ttl_days: u32,
) -> Result<Principal, AuthRejection> {
    // Sign-in comes before any tenant is known: a system path.
    let mut tx = ScopedTx::all(pool, AllTenants::system()).await?;
    // A claim the issuer's map does not hold.
    if let (Some(_), Some(claimed), None) =
        (&token.bound_tenants, &token.claimed_tenant, &token.tenant)
    {
        let target = crate::scope::tenant_by_slug(&mut *tx, claimed).await?;
        drop(tx);
        return Err(refuse_tenant(pool, token, target, &meta).await);
    }
    let found = store::by_subject(&mut tx, &token.issuer, &token.subject).await?;
    let (id, tenant, role, email) = match found {
        Some(known) => {
            if known.status == UserStatus::Deactivated {
                return Err(forbidden("this account is deactivated").into());
            }
            let mut role = Role::parse(&known.role).ok_or_else(|| forbidden("unknown role"))?;
            // Staff roles come from the identity provider at every sign-in:
            // a token without one removes access, another one changes it.
            if role.kind() == UserKind::Staff {
                match token_role(token).filter(|c| c.kind() == UserKind::Staff) {
                    Some(claimed) if claimed != role => {
                        store::set_role(&mut tx, known.id, claimed.as_str()).await?;
                        record_staff(
                            &mut tx,
                            known.id,
                            "user.role_changed",
                            role,
                            Some(claimed),
                            &meta,
                        )
                        .await?;
                        role = claimed;
                    }
                    Some(_) => {}
                    None => {
                        record_staff(&mut tx, known.id, "user.access_refused", role, None, &meta)
                            .await?;
                        tx.commit().await?;
                        return Err(forbidden(
                            "the token carries no P360 staff role: staff access is granted by the identity provider at every sign-in",
                        )
                        .into());
                    }
                }
            }
            (known.id, known.tenant_id, role, known.email)
        }
        None => provision(&mut tx, token, &meta, invitation_ttl_days).await?,
    };
    if let (Some(t), Some(bound)) = (tenant, &token.bound_tenants) {
        let slug = crate::scope::tenant_slug(&mut *tx, t).await?;
        if !slug.is_some_and(|s| bound.contains(&s)) {
            // Nothing this sign-in provisioned is kept.
            drop(tx);
            return Err(refuse_tenant(pool, token, Some(t), &meta).await);
        }
    }
    if let Some(t) = tenant
        && !crate::tenants::store::is_active(&mut tx, t).await?
    {
        return Err(forbidden("this tenant is suspended").into());
    }
    store::seen(&mut tx, id).await?;
    let assigned = if role.kind() == UserKind::Staff {
        store::assigned_tenants(&mut tx, id).await?
    } else {
        Vec::new()
    };
    tx.commit().await?;
    Ok(Principal {
        actor: Actor::User(id),
        person: Some(id),
        role,
        tenant,
        assigned,
        email,
        meta,
    })
}

/// The most privileged recognised role in the token that its issuer may grant.
fn token_role(token: &VerifiedToken) -> Option<Role> {
    Role::ALL.into_iter().find(|r| {
        token.roles.iter().any(|t| t == r.as_str()) && kind_allowed(token.kind, token.dev, *r)
    })
}

async fn provision(
    conn: &mut PgConnection,
    token: &VerifiedToken,
    meta: &RequestMeta,
    invitation_ttl_days: u32,
) -> Result<(UserId, Option<TenantId>, Role, Option<String>), AuthRejection> {
    let role = token_role(token);
    let staff = match role {
        Some(r) => r.kind() == UserKind::Staff,
        None => token.kind == IssuerKind::Internal,
    };
    if staff {
        let role = role.ok_or_else(|| forbidden("no P360 staff role in the token"))?;
        let id = store::insert_from_token(conn, token, None, role.as_str())
            .await
            .map_err(provision_race)?;
        record_provisioned(conn, id, None, role, "user.provisioned", meta).await?;
        return Ok((id, None, role, token.email.clone()));
    }
    let tenant = match &token.tenant {
        Some(slug) => crate::scope::tenant_by_slug(&mut *conn, slug).await?,
        None => None,
    };
    // An invitation for this e-mail address (in the token's tenant, if it
    // names one), accepted only by an address the issuer verified and only
    // while it is open.
    if let Some(email) = &token.email
        && let [(id, tenant, role, age_days)] =
            store::invitations(conn, email, tenant).await?.as_slice()
    {
        if !token.email_verified {
            return Err(forbidden(
                "this invitation can be accepted only with an e-mail address your identity provider has verified",
            )
            .into());
        }
        if *age_days >= i64::from(invitation_ttl_days) {
            return Err(forbidden(format!(
                "this invitation expired after {invitation_ttl_days} days; ask your administrator for a new one"
            ))
            .into());
        }
        let role = Role::parse(role).ok_or_else(|| forbidden("unknown role"))?;
        store::accept_invitation(conn, *id, token)
            .await
            .map_err(provision_race)?;
        record_provisioned(conn, *id, Some(*tenant), role, "user.joined", meta).await?;
        return Ok((*id, Some(*tenant), role, token.email.clone()));
    }
    match (tenant, role) {
        (Some(tenant), Some(role)) => {
            let id = store::insert_from_token(conn, token, Some(tenant), role.as_str())
                .await
                .map_err(provision_race)?;
            record_provisioned(conn, id, Some(tenant), role, "user.provisioned", meta).await?;
            Ok((id, Some(tenant), role, token.email.clone()))
        }
        _ => Err(forbidden(
            "no P360 account: the token names no known tenant and role, and there is no invitation for this address",
        )
        .into()),
    }
}

/// A token whose issuer may not speak for the tenant it names or signs into:
/// 403, and an audit event in that tenant's chain (the platform's when the
/// tenant is unknown).
async fn refuse_tenant(
    pool: &PgPool,
    token: &VerifiedToken,
    target: Option<TenantId>,
    meta: &RequestMeta,
) -> AuthRejection {
    let recorded = async {
        let mut tx = ScopedTx::all(pool, AllTenants::system()).await?;
        audit::record(
            &mut tx,
            &Actor::System,
            meta,
            NewEvent {
                tenant: target,
                action: "user.tenant_refused",
                target_type: "issuer",
                target_id: Some(token.issuer.clone()),
                changes: serde_json::json!({
                    "subject": token.subject,
                    "claimed_tenant": token.claimed_tenant,
                    "reason": "the issuer is not bound to this tenant",
                }),
                outcome: Outcome::Denied,
            },
        )
        .await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = recorded {
        return e.into();
    }
    forbidden("this identity provider may not sign users into that tenant").into()
}

/// Two first requests of the same user at once: the loser retries as a known user.
fn provision_race(e: sqlx::Error) -> AuthRejection {
    if matches!(&e, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505")) {
        Problem::conflict(PROVISION_RACE).into()
    } else {
        e.into()
    }
}

/// A staff member's role as the identity provider last said it, in the
/// platform's audit chain.
async fn record_staff(
    conn: &mut PgConnection,
    id: UserId,
    action: &'static str,
    before: Role,
    after: Option<Role>,
    meta: &RequestMeta,
) -> Result<(), sqlx::Error> {
    audit::record(
        conn,
        &Actor::User(id),
        meta,
        NewEvent {
            tenant: None,
            action,
            target_type: "user",
            target_id: Some(id.to_string()),
            changes: serde_json::json!({
                "before": {"role": before.as_str()},
                "after": {"role": after.map(|r| r.as_str())},
                "reason": "the identity provider's token at sign-in",
            }),
            outcome: if after.is_some() {
                Outcome::Success
            } else {
                Outcome::Denied
            },
        },
    )
    .await?;
    Ok(())
}

async fn record_provisioned(
    conn: &mut PgConnection,
    id: UserId,
    tenant: Option<TenantId>,
    role: Role,
    action: &'static str,
    meta: &RequestMeta,
) -> Result<(), sqlx::Error> {
    audit::record(
        conn,
        &Actor::User(id),
        meta,
        NewEvent {
            tenant,
            action,
            target_type: "user",
            target_id: Some(id.to_string()),
            changes: serde_json::json!({"after": {"role": role.as_str(), "status": "active"}}),
            outcome: Outcome::Success,
        },
    )
    .await?;
    Ok(())
}
