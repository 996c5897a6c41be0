//! `p360 migrate up|down|status|plan`: the database's migrations, with a
//! human summary on stdout.

use anyhow::{Result, bail};
use clap::Subcommand;
use p360::Config;
use platform::cli::{Outcome, with_database};
use platform::db;
use platform::shutdown::Shutdown;

#[derive(Subcommand, Debug)]
pub enum MigrateCommand {
    /// Apply every pending migration.
    Up,
    /// Revert the most recently applied migration.
    Down,
    /// List applied and pending migrations.
    Status,
    /// List pending migrations by class: expand (safe while the running
    /// version serves) or contract (only once it is gone).
    Plan,
}

pub async fn run(config: Config, action: MigrateCommand, shutdown: Shutdown) -> Result<Outcome> {
    with_database(&config.platform, &shutdown, |database| async move {
        let pool = &database.owner;
        match action {
            MigrateCommand::Up => {
                let applied = db::migrate_up(pool).await?;
                if applied.is_empty() {
                    println!("nothing to apply: the database is up to date");
                }
                for v in applied {
                    println!("applied {v}");
                }
            }
            MigrateCommand::Down => match db::migrate_down(pool).await? {
                Some(v) => println!("reverted {v}"),
                None => println!("nothing to revert: no migration is applied"),
            },
            MigrateCommand::Status => {
                for m in db::migration_status(pool).await? {
                    let state = match (&m.applied_at, m.unknown) {
                        (Some(at), false) => format!("applied {}", at.format("%Y-%m-%dT%H:%M:%SZ")),
                        (Some(at), true) => format!(
                            "applied {} (unknown to this binary: applied by a newer version)",
                            at.format("%Y-%m-%dT%H:%M:%SZ")
                        ),
                        (None, _) => "pending".to_string(),
                    };
                    println!("{:<16} {:<40} {state}", m.version, m.description);
                }
            }
            MigrateCommand::Plan => plan(pool).await?,
        }
        Ok(())
    })
    .await
}

/// `p360 migrate plan`: pending migrations by class.
async fn plan(pool: &sqlx::PgPool) -> Result<()> {
    let pending = db::pending_migrations(pool).await?;
    if pending.is_empty() {
        println!("nothing pending: the database is up to date");
        return Ok(());
    }
    let undeclared: Vec<String> = pending
        .iter()
        .filter(|m| m.class.is_none())
        .map(|m| m.version.to_string())
        .collect();
    if !undeclared.is_empty() {
        bail!(
            "migration(s) {} declare no class (expand or contract) in platform::db::MIGRATION_CLASSES",
            undeclared.join(", ")
        );
    }
    for m in &pending {
        println!(
            "{:<16} {:<40} {:<9} {}",
            m.version,
            m.description,
            m.class.map(|c| c.to_string()).unwrap_or_default(),
            m.class_reason.unwrap_or_default()
        );
    }
    let contract = pending
        .iter()
        .filter(|m| m.class == Some(db::MigrationClass::Contract))
        .count();
    println!(
        "{} pending: {} expand (safe while the running version serves; before the new version starts), \
         {contract} contract (only once the old version is gone)",
        pending.len(),
        pending.len() - contract
    );
    Ok(())
}
