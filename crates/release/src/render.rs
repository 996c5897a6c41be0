//! `p360 deploy status` and `history` as text: the stored deployments, the
//! load balancer's weights and recent events, formatted for operators.
//! Nothing here reads or writes anything.

use std::fmt::{self, Write};

use deploy::Weights;

use crate::model::Status;
use crate::store::{Deployment, Event};

/// What `status` and `history` print before the first deployment.
pub const NO_DEPLOYMENTS: &str = "no deployments yet\n";

/// `p360 deploy status` for `d`: `weights` as read off the load balancer
/// now, `stale_ms` the silence after which its controller counts as gone,
/// `events` its recent ones (oldest first).
pub fn status(
    d: &Deployment,
    weights: &anyhow::Result<Weights>,
    stale_ms: i64,
    events: &[Event],
) -> Result<String, fmt::Error> {
    let mut out = String::new();
    writeln!(
        out,
        "deployment {} of {}: {} (phase {}), {} -> {} slot, {} % on the {} slot",
        d.id, d.version, d.status, d.phase, d.from_slot, d.to_slot, d.weight, d.to_slot
    )?;
    writeln!(
        out,
        "started {}{}",
        d.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        d.finished_at
            .map(|f| format!(
                ", finished {} ({:.1} s)",
                f.format("%H:%M:%S"),
                (f - d.started_at).num_milliseconds() as f64 / 1000.0
            ))
            .unwrap_or_default()
    )?;
    if let Some(reason) = &d.reason {
        writeln!(
            out,
            "{}: {reason}",
            d.trigger.as_deref().unwrap_or("reason")
        )?;
    }
    if let Some(key) = &d.backup_key {
        writeln!(out, "backup: {key}")?;
    }
    match weights {
        Ok(w) => writeln!(
            out,
            "load balancer now: blue {} / green {}",
            w.blue, w.green
        )?,
        Err(e) => writeln!(out, "load balancer: unreadable ({e:#})")?,
    }
    if d.status == Status::Running {
        if d.silent_ms > stale_ms {
            writeln!(
                out,
                "WARNING: controller {} silent for {:.0} s; the deployment is stopped in phase {} \
                 with {} % on the {} slot: run `p360 deploy resume` to continue it or \
                 `p360 deploy rollback` to put all traffic back on the {} slot",
                d.controller,
                d.silent_ms as f64 / 1000.0,
                d.phase,
                d.weight,
                d.to_slot,
                d.from_slot
            )?;
        } else {
            writeln!(
                out,
                "controller {} (heard from {:.1} s ago)",
                d.controller,
                d.silent_ms as f64 / 1000.0
            )?;
        }
    }
    writeln!(out, "events:")?;
    for e in events {
        let detail = e.detail.to_string();
        let detail: String = detail.chars().take(160).collect();
        writeln!(
            out,
            "  {} {:<30} {detail}",
            e.at.format("%H:%M:%S%.3f"),
            e.kind.trim_start_matches("deployment.")
        )?;
    }
    Ok(out)
}

/// `p360 deploy history`: `rows` (newest first) as a table.
pub fn history(rows: &[Deployment]) -> Result<String, fmt::Error> {
    let mut out = String::new();
    writeln!(
        out,
        "{:<20}  {:<36}  {:<16}  {:<11}  {:<12}  {:>7}  reason",
        "started (UTC)", "id", "version", "status", "slots", "seconds"
    )?;
    for d in rows {
        let took = d
            .finished_at
            .map(|f| {
                format!(
                    "{:.1}",
                    (f - d.started_at).num_milliseconds() as f64 / 1000.0
                )
            })
            .unwrap_or_else(|| "-".into());
        let reason = match (&d.trigger, &d.reason) {
            (Some(t), Some(r)) => format!("{t}: {r}"),
            (None, Some(r)) => r.clone(),
            _ => String::new(),
        };
        writeln!(
            out,
            "{:<20}  {:<36}  {:<16}  {:<11}  {:<12}  {:>7}  {}",
            d.started_at.format("%Y-%m-%d %H:%M:%S"),
            d.id,
            d.version,
            d.status,
            format!("{}->{}", d.from_slot, d.to_slot),
            took,
            reason.chars().take(120).collect::<String>()
        )?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use uuid::Uuid;

    use super::*;
    use crate::backend::Slot;
    use crate::model::Phase;

    fn deployment(status: Status, phase: Phase) -> Deployment {
        let started_at = Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap();
        Deployment {
            id: Uuid::nil(),
            version: "2.0.0".into(),
            status,
            phase,
            from_slot: Slot::Blue,
            to_slot: Slot::Green,
            weight: 25,
            requested: None,
            trigger: Some("error_rate".into()),
            reason: Some("12 % errors".into()),
            backup_key: None,
            controller: "host:1".into(),
            started_at,
            finished_at: Some(started_at + chrono::Duration::milliseconds(61_500)),
            silent_ms: 100,
        }
    }

    /// The typed columns print, and pad in the table, as the stored text did.
    #[test]
    fn history_is_a_table_of_the_stored_text() {
        let out = history(&[deployment(Status::Failed, Phase::Shift)]).unwrap();
        assert_eq!(
            out,
            "started (UTC)         id                                    version           status       slots         seconds  reason\n\
             2026-11-27 10:00:00   00000000-0000-0000-0000-000000000000  2.0.0             failed       blue->green      61.5  error_rate: 12 % errors\n"
        );
    }

    #[test]
    fn status_names_phase_slots_and_a_silent_controller() {
        let mut d = deployment(Status::Running, Phase::Shift);
        d.finished_at = None;
        d.silent_ms = 30_000;
        let out = status(
            &d,
            &Ok(Weights {
                blue: 75,
                green: 25,
            }),
            6_000,
            &[],
        )
        .unwrap();
        assert!(
            out.starts_with(
                "deployment 00000000-0000-0000-0000-000000000000 of 2.0.0: running (phase shift), \
                 blue -> green slot, 25 % on the green slot\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("WARNING: controller host:1 silent for 30 s; the deployment is stopped in phase shift"),
            "{out}"
        );
        assert!(
            out.contains("load balancer now: blue 75 / green 25\n"),
            "{out}"
        );
    }
}
