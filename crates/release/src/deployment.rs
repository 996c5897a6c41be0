//! `p360 deploy start|resume|promote|rollback|status|history`: the
//! operations on a blue-green deployment, each a whole command.
//!
//! The load balancer has two fixed slots, `blue` and `green`; whichever
//! serves when a deployment starts is its blue, the other its green. `start`
//! stores a deployment and drives its phases (see [`crate::model::Phase`]) with a
//! controller that beats a heartbeat into its row; a deployment whose
//! controller fell silent is shown as such by `status` and taken over by
//! `resume` (which carries on from the stored phase and the load balancer's
//! actual weights) or `rollback`. `promote` and `rollback` are otherwise
//! requests the live controller reads at every reading. Every event goes to
//! `deployment_events`, the audit log (the platform chain) and, when
//! configured, the notification webhook.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use deploy::TrafficBackend;
use platform::db::Database;
use platform::shutdown::Shutdown;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::backend::{Balancer, http_client, release_of, serving};
use crate::config::ReleaseConfig as Config;
use crate::controller::Controller;
use crate::heartbeat::{Heartbeat, controller_name, stale_after, take_over};
use crate::migrations::{create_tables, migration_class};
pub use crate::model::Finished;
use crate::model::Phase;
use crate::model::{Request, Status};
use crate::notify::{Journal, deliver, notifier};
use crate::render;
use crate::store::{self, NewDeployment};

/// `p360 deploy start --version V`.
pub async fn start(
    config: Arc<Config>,
    database: Arc<Database>,
    version: String,
    first: bool,
    shutdown: Shutdown,
) -> Result<Finished> {
    if !platform::config::is_release_label(&version) {
        bail!("--version `{version}` is not a release label (letters, digits and . _ + -)");
    }
    let pool = database.owner.clone();
    if let Some(d) = store::running(&pool).await? {
        let who = if d.silent_ms > stale_after(&config.deploy) {
            format!(
                "its controller {} has been silent for {:.0} s: `p360 deploy resume` or `p360 deploy rollback`",
                d.controller,
                d.silent_ms as f64 / 1000.0
            )
        } else {
            format!("controlled by {}", d.controller)
        };
        bail!(
            "deployment {} of {} is in progress (phase {}, {} % on the {} slot); {who}",
            d.id,
            d.version,
            d.phase,
            d.weight,
            d.to_slot
        );
    }
    let balancer = Balancer::from_config(&config.deploy).await?;
    let from = serving(&balancer).await?;
    let http = http_client();
    if !first {
        let live = release_of(&http, &from.url(&config.deploy))
            .await
            .with_context(|| {
                format!(
                    "the serving {} slot does not answer at {} (use --first when nothing runs yet)",
                    from.name(),
                    from.url(&config.deploy)
                )
            })?;
        if live == version {
            bail!("{version} is already serving on the {} slot", from.name());
        }
    }
    // A database from before the deployment tables (migration 12, expand):
    // check the plan, take the backup, and create them first, so that
    // everything after is recorded.
    let mut bootstrap = None;
    if !store::has_tables(&pool).await? {
        bootstrap = Some(create_tables(&config, &database, first).await?);
    }
    let id = Uuid::now_v7();
    let me = controller_name();
    store::insert(
        &pool,
        &NewDeployment {
            id,
            version: &version,
            from,
            to: from.other(),
            steps: config.deploy.steps.iter().map(|&s| i64::from(s)).collect(),
            dwell_ms: config.deploy.dwell_ms as i64,
            controller: &me,
        },
    )
    .await?;
    let lost = Arc::new(AtomicBool::new(false));
    let (notices, sender) = notifier(&config.deploy);
    let _beat = Heartbeat::start(
        pool.clone(),
        id,
        me.clone(),
        Duration::from_millis(config.deploy.heartbeat_ms),
        lost.clone(),
    );
    let c = Controller {
        journal: Journal::new(pool.clone(), id, &version, from, from.other(), notices),
        database,
        config,
        balancer,
        id,
        version: version.clone(),
        from,
        to: from.other(),
        shutdown,
        http,
        started: Instant::now(),
        lost,
    };
    c.record(
        "deployment.started",
        json!({"controller": me, "first": first}),
        Some(format!(
            "deployment {id} of {version} started: {} slot serving, deploying to the {} slot",
            from.name(),
            from.other().name()
        )),
        tenancy::audit::Outcome::Success,
    )
    .await;
    if let Some((backup, applied)) = bootstrap {
        if let Some((key, size)) = backup {
            store::set_backup_key(&c.database.owner, id, &key).await?;
            c.record(
                "deployment.backup_taken",
                json!({"key": key, "bytes": size}),
                Some(format!(
                    "backup {key} ({size} bytes), before the deployment tables were created"
                )),
                tenancy::audit::Outcome::Success,
            )
            .await;
        }
        c.record(
            "deployment.migrated",
            json!({"class": migration_class(first), "versions": applied}),
            Some(format!(
                "{} migrations applied first, up to the deployment tables: {applied:?}",
                migration_class(first)
            )),
            tenancy::audit::Outcome::Success,
        )
        .await;
    }
    let finished = c.drive(Phase::Preflight, first).await;
    drop(c);
    deliver(sender).await;
    finished
}

/// `p360 deploy resume`: take over a deployment whose controller is gone.
pub async fn resume(
    config: Arc<Config>,
    database: Arc<Database>,
    shutdown: Shutdown,
) -> Result<Finished> {
    let pool = database.owner.clone();
    let Some(d) = store::running(&pool).await? else {
        bail!("no deployment is in progress");
    };
    let me = controller_name();
    let taken = take_over(&pool, &d, &me, stale_after(&config.deploy)).await?;
    let lost = Arc::new(AtomicBool::new(false));
    let _beat = Heartbeat::start(
        pool.clone(),
        d.id,
        me.clone(),
        Duration::from_millis(config.deploy.heartbeat_ms),
        lost.clone(),
    );
    let (notices, sender) = notifier(&config.deploy);
    let c = Controller::taking_over(&d, config, database, shutdown, lost, notices).await?;
    c.record(
        "deployment.resumed",
        json!({"controller": me, "previous": taken, "phase": d.phase}),
        Some(format!(
            "deployment {} of {} resumed in phase {} (its controller {taken} was silent)",
            d.id, d.version, d.phase
        )),
        tenancy::audit::Outcome::Success,
    )
    .await;
    let finished = c.drive(d.phase, false).await;
    drop(c);
    deliver(sender).await;
    finished
}

/// `p360 deploy promote`: ask the controller to skip the remaining dwell.
pub async fn promote(config: &Config, pool: &PgPool) -> Result<String> {
    let Some(d) = store::running(pool).await? else {
        bail!("no deployment is in progress");
    };
    if d.silent_ms > stale_after(&config.deploy) {
        bail!(
            "deployment {} has no live controller ({} silent for {:.0} s): run `p360 deploy resume` first",
            d.id,
            d.controller,
            d.silent_ms as f64 / 1000.0
        );
    }
    if d.phase > Phase::Shift {
        bail!(
            "deployment {} is past the shift (phase {}): all traffic is already on the {} slot",
            d.id,
            d.phase,
            d.to_slot
        );
    }
    store::request(pool, d.id, Request::Promote).await?;
    Ok(format!(
        "asked {} to promote deployment {} of {} (phase {}, {} % on the {} slot)",
        d.controller, d.id, d.version, d.phase, d.weight, d.to_slot
    ))
}

/// `p360 deploy rollback`: ask the live controller to roll back, or, when
/// it is gone, do it here.
pub async fn rollback(
    config: Arc<Config>,
    database: Arc<Database>,
    shutdown: Shutdown,
) -> Result<String> {
    let pool = database.owner.clone();
    let Some(d) = store::running(&pool).await? else {
        let last = if store::has_tables(&pool).await? {
            store::latest(&pool).await?
        } else {
            None
        };
        return Err(match last {
            Some(l) if l.status == Status::Promoted => anyhow::anyhow!(
                "no deployment is in progress: {} was promoted and its old slot stopped; deploy the previous version to go back",
                l.version
            ),
            _ => anyhow::anyhow!("no deployment is in progress"),
        });
    };
    if d.phase > Phase::Shift {
        bail!(
            "deployment {} of {} is past the shift (phase {}): the old slot is being stopped; deploy the previous version to go back",
            d.id,
            d.version,
            d.phase
        );
    }
    if d.silent_ms <= stale_after(&config.deploy) {
        store::request(&pool, d.id, Request::Rollback).await?;
        // Wait for the controller to act (it reads the request at every reading).
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let status = store::status(&pool, d.id).await?;
            if status != Status::Running {
                return Ok(format!(
                    "deployment {} of {} {}: all traffic on the {} slot",
                    d.id,
                    d.version,
                    status.as_str().replace('_', " "),
                    d.from_slot
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        bail!(
            "asked {} to roll back deployment {}, but it has not done so in 60 s",
            d.controller,
            d.id
        );
    }
    // The controller is gone: roll back here.
    let me = controller_name();
    take_over(&pool, &d, &me, stale_after(&config.deploy)).await?;
    let (notices, sender) = notifier(&config.deploy);
    let c =
        Controller::taking_over(&d, config, database, shutdown, Arc::default(), notices).await?;
    let fired = Instant::now();
    c.all_blue().await?;
    let ms = fired.elapsed().as_secs_f64() * 1000.0;
    c.rolled_back(
        "manual",
        &format!(
            "rolled back by an operator after its controller {} fell silent",
            d.controller
        ),
    )
    .await?;
    drop(c);
    deliver(sender).await;
    Ok(format!(
        "deployment {} of {} rolled back: all traffic on the {} slot ({ms:.0} ms)",
        d.id, d.version, d.from_slot
    ))
}

/// `p360 deploy status`: the running deployment (else the latest), its
/// controller's liveness, the load balancer's weights and recent events.
pub async fn status(config: &Config, pool: &PgPool) -> Result<String> {
    if !store::has_tables(pool).await? {
        return Ok(render::NO_DEPLOYMENTS.into());
    }
    let d = match store::running(pool).await? {
        Some(d) => d,
        None => match store::latest(pool).await? {
            Some(d) => d,
            None => return Ok(render::NO_DEPLOYMENTS.into()),
        },
    };
    let weights = match Balancer::from_config(&config.deploy).await {
        Ok(b) => b.weights().await,
        Err(e) => Err(e),
    };
    let events = store::recent_events(pool, d.id).await?;
    Ok(render::status(
        &d,
        &weights,
        stale_after(&config.deploy),
        &events,
    )?)
}

/// `p360 deploy history`: deployments, newest first.
pub async fn history(pool: &PgPool, limit: i64) -> Result<String> {
    if !store::has_tables(pool).await? {
        return Ok(render::NO_DEPLOYMENTS.into());
    }
    let rows = store::history(pool, limit).await?;
    Ok(render::history(&rows)?)
}
