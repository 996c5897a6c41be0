//! What a pgBackRest repository holds (its `info --output=json`), and
//! which backup the schedule wants next.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// One backup in the repository.
#[derive(Debug, Clone)]
pub struct Backup {
    pub label: String,
    /// `full`, `diff` or `incr`.
    pub kind: String,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    /// The cluster's size, and what the backup added to the repository.
    pub size_bytes: u64,
    pub repo_bytes: u64,
    /// The WAL segments needed to make it consistent.
    pub wal_start: String,
    pub wal_stop: String,
}

/// The repository's backups (oldest first) and archived WAL range.
#[derive(Debug, Clone, Default)]
pub struct Info {
    pub backups: Vec<Backup>,
    pub wal_min: Option<String>,
    pub wal_max: Option<String>,
}

impl Info {
    pub fn newest(&self) -> Option<&Backup> {
        self.backups.last()
    }

    pub fn newest_full(&self) -> Option<&Backup> {
        self.backups.iter().rev().find(|b| b.kind == "full")
    }
}

/// The kind of backup the schedule wants next, if any.
pub fn due(
    info: &Info,
    now: DateTime<Utc>,
    full_every_days: u32,
    diff_every_hours: u32,
) -> Option<bool> {
    match info.newest_full() {
        None => Some(true),
        Some(full) if now - full.started >= chrono::Duration::days(full_every_days.into()) => {
            Some(true)
        }
        Some(_) => {
            let newest = info.newest().expect("a full backup is a backup");
            (now - newest.started >= chrono::Duration::hours(diff_every_hours.into()))
                .then_some(false)
        }
    }
}

#[derive(Deserialize)]
struct StanzaJson {
    #[serde(default)]
    backup: Vec<BackupJson>,
    #[serde(default)]
    archive: Vec<ArchiveJson>,
}

#[derive(Deserialize)]
struct BackupJson {
    label: String,
    #[serde(rename = "type")]
    kind: String,
    timestamp: Span,
    info: SizeJson,
    archive: Option<WalRange>,
}

#[derive(Deserialize)]
struct Span {
    start: i64,
    stop: i64,
}

#[derive(Deserialize)]
struct SizeJson {
    size: u64,
    repository: RepoSize,
}

#[derive(Deserialize)]
struct RepoSize {
    #[serde(default)]
    delta: u64,
}

#[derive(Deserialize)]
struct WalRange {
    start: Option<String>,
    stop: Option<String>,
}

#[derive(Deserialize)]
struct ArchiveJson {
    min: Option<String>,
    max: Option<String>,
}

pub(super) fn parse_info(json: &str) -> Result<Info> {
    let stanzas: Vec<StanzaJson> =
        serde_json::from_str(json).context("pgbackrest info printed no JSON it documents")?;
    let Some(s) = stanzas.into_iter().next() else {
        return Ok(Info::default());
    };
    let time = |secs: i64| DateTime::from_timestamp(secs, 0).unwrap_or_default();
    let backups = s
        .backup
        .into_iter()
        .map(|b| {
            let (wal_start, wal_stop) = b
                .archive
                .map(|a| (a.start.unwrap_or_default(), a.stop.unwrap_or_default()))
                .unwrap_or_default();
            Backup {
                label: b.label,
                kind: b.kind,
                started: time(b.timestamp.start),
                finished: time(b.timestamp.stop),
                size_bytes: b.info.size,
                repo_bytes: b.info.repository.delta,
                wal_start,
                wal_stop,
            }
        })
        .collect();
    let wal_min = s.archive.iter().filter_map(|a| a.min.clone()).min();
    let wal_max = s.archive.iter().filter_map(|a| a.max.clone()).max();
    Ok(Info {
        backups,
        wal_min,
        wal_max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backup(kind: &str, started: DateTime<Utc>) -> Backup {
        Backup {
            label: String::new(),
            kind: kind.into(),
            started,
            finished: started,
            size_bytes: 0,
            repo_bytes: 0,
            wal_start: String::new(),
            wal_stop: String::new(),
        }
    }

    #[test]
    fn the_schedule_takes_a_full_backup_weekly_and_a_differential_one_daily() {
        let now = DateTime::parse_from_rfc3339("2026-12-06T12:00:00Z")
            .unwrap()
            .to_utc();
        let h = |n: i64| now - chrono::Duration::hours(n);
        let info = |b: Vec<Backup>| Info {
            backups: b,
            ..Info::default()
        };
        assert_eq!(due(&info(vec![]), now, 7, 24), Some(true));
        assert_eq!(due(&info(vec![backup("full", h(1))]), now, 7, 24), None);
        assert_eq!(
            due(&info(vec![backup("full", h(24))]), now, 7, 24),
            Some(false)
        );
        assert_eq!(
            due(
                &info(vec![backup("full", h(30)), backup("diff", h(5))]),
                now,
                7,
                24
            ),
            None
        );
        assert_eq!(
            due(&info(vec![backup("full", h(7 * 24))]), now, 7, 24),
            Some(true)
        );
        // A newer differential backup does not stand in for the weekly full one.
        assert_eq!(
            due(
                &info(vec![backup("full", h(8 * 24)), backup("diff", h(1))]),
                now,
                7,
                24
            ),
            Some(true)
        );
    }

    #[test]
    fn pgbackrest_info_json_is_read() {
        let json = r#"[{"archive":[{"database":{"id":1,"repo-key":1},"id":"15-1","max":"000000010000000000000003","min":"000000010000000000000001"}],"backup":[{"archive":{"start":"000000010000000000000002","stop":"000000010000000000000003"},"backrest":{"format":5,"version":"2.45"},"database":{"id":1,"repo-key":1},"error":false,"info":{"delta":23213658,"repository":{"delta":2827136,"size":2827136},"size":23213658},"label":"20261206-213052F","lsn":{"start":"0/2000028","stop":"0/3000050"},"prior":null,"reference":null,"timestamp":{"start":1796592652,"stop":1796592654},"type":"full"}],"cipher":"none","name":"p360","status":{"code":0,"message":"ok"}}]"#;
        let info = parse_info(json).unwrap();
        let b = info.newest().unwrap();
        assert_eq!(b.label, "20261206-213052F");
        assert_eq!(b.kind, "full");
        assert_eq!(b.size_bytes, 23_213_658);
        assert_eq!(b.repo_bytes, 2_827_136);
        assert_eq!((b.finished - b.started).num_seconds(), 2);
        assert_eq!(info.wal_max.as_deref(), Some("000000010000000000000003"));
        assert!(parse_info("[]").unwrap().backups.is_empty());
        assert!(parse_info("not json").is_err());
    }
}
