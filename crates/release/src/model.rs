//! The release process's vocabulary, with no database and no I/O: the
//! phases of a deployment in the order they run, how a deployment ended,
//! its stored status, and what an operator may ask of it.
//!
//! `preflight` (the migration plan) -> `backup` (a restore point: pgBackRest
//! or `pg_dump`) -> `expand` (migrations safe under the running version) -> `start`
//! (`deploy.start_command` for the new slot) -> `smoke` (readiness, then the
//! smoke suite against the new slot directly) -> `shift` (the rollout
//! controller: 5 -> 25 -> 50 -> 100 % with the rollback triggers) -> `drain`
//! (keep the old slot warm, then `deploy.stop_command`) -> `contract` (the
//! migrations the old version could not survive).

use std::fmt;

use anyhow::{Result, bail};

/// A phase of a deployment, stored in `deployments.phase`; ordered as they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    Preflight,
    Backup,
    Expand,
    Start,
    Smoke,
    Shift,
    Drain,
    Contract,
}

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 8] = [
        Phase::Preflight,
        Phase::Backup,
        Phase::Expand,
        Phase::Start,
        Phase::Smoke,
        Phase::Shift,
        Phase::Drain,
        Phase::Contract,
    ];

    /// The name stored in `deployments.phase` and shown to operators.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Preflight => "preflight",
            Phase::Backup => "backup",
            Phase::Expand => "expand",
            Phase::Start => "start",
            Phase::Smoke => "smoke",
            Phase::Shift => "shift",
            Phase::Drain => "drain",
            Phase::Contract => "contract",
        }
    }

    pub fn parse(s: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The phase of a stored deployment. The column has no CHECK constraint:
    /// a name this binary does not know counts as the first phase, as it
    /// always has.
    pub fn from_stored(s: &str) -> Phase {
        Phase::parse(s).unwrap_or(Phase::Preflight)
    }

    /// This phase and every one after it, in order.
    pub fn and_after(self) -> impl Iterator<Item = Phase> {
        Phase::ALL.into_iter().filter(move |p| *p >= self)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`: a width in a table (`{:<11}`) applies as to the stored text.
        f.pad(self.as_str())
    }
}

impl serde::Serialize for Phase {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// How a deployment ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Finished {
    Promoted,
    RolledBack { trigger: String, detail: String },
    Failed(String),
}

/// `deployments.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    Promoted,
    RolledBack,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Promoted => "promoted",
            Status::RolledBack => "rolled_back",
            Status::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Result<Status> {
        Ok(match s {
            "running" => Status::Running,
            "promoted" => Status::Promoted,
            "rolled_back" => Status::RolledBack,
            "failed" => Status::Failed,
            other => bail!("unknown deployment status `{other}`"),
        })
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`: a width in a table (`{:<11}`) applies as to the stored text.
        f.pad(self.as_str())
    }
}

/// What an operator asked of a running deployment (`deployments.requested`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Promote,
    Rollback,
}

impl Request {
    pub fn as_str(self) -> &'static str {
        match self {
            Request::Promote => "promote",
            Request::Rollback => "rollback",
        }
    }

    pub fn parse(s: &str) -> Result<Request> {
        Ok(match s {
            "promote" => Request::Promote,
            "rollback" => Request::Rollback,
            other => bail!("unknown deployment request `{other}`"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Phase;

    #[test]
    fn stored_names_round_trip_in_order() {
        let names: Vec<&str> = Phase::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(
            names,
            [
                "preflight",
                "backup",
                "expand",
                "start",
                "smoke",
                "shift",
                "drain",
                "contract"
            ]
        );
        for p in Phase::ALL {
            assert_eq!(Phase::parse(p.as_str()), Some(p));
        }
        assert!(Phase::ALL.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(Phase::from_stored("unknown"), Phase::Preflight);
        assert_eq!(
            Phase::Shift.and_after().collect::<Vec<_>>(),
            [Phase::Shift, Phase::Drain, Phase::Contract]
        );
    }
}
