//! The campaign's rules, with no database and no HTTP: its closed sets of
//! values, the maker-checker workflow, which changes need approval again,
//! and how budgets and flights must fit the insertion order.
//!
//! `draft` -> `pending_approval` (submit) -> `approved` (approve; not by the
//! submitter) or back to `draft` (reject, with a reason); `approved`/`active`
//! -> `paused` (pause) -> `active` (resume); `archived` (archive) from draft,
//! approved, paused or completed.
//!
//! An approved, active or paused campaign is live: what TTD spends by
//! (budget, flight, daily cap, pacing) changes only through a pending change
//! that waits beside the live version, which keeps running, until someone
//! other than its maker approves it (it becomes the live version) or rejects
//! it (it is dropped). Changes to what it runs join that pending change:
//! its ad groups' changes (each waiting in its ad group), a new click URL of
//! a creative it runs (waiting in the creative), its insertion order's new
//! pricing (a reason to sign off). Nothing a live campaign runs changes
//! without a second person.

use chrono::NaiveDate;
use platform::http::problem::FieldError;
use tenancy::roles::Permission;

use crate::validate::format;

platform::text_enum! {
    /// Where a campaign is in its workflow.
    pub enum CampaignStatus {
        Draft = "draft",
        PendingApproval = "pending_approval",
        Approved = "approved",
        Active = "active",
        Paused = "paused",
        Completed = "completed",
        Archived = "archived",
    }
}

platform::text_enum! {
    /// What the campaign is for.
    pub enum Objective {
        Awareness = "awareness",
        Engagement = "engagement",
        Pipeline = "pipeline",
    }
}

platform::text_enum! {
    /// How the budget is spent over the flight.
    pub enum Pacing {
        Even = "even",
        Ahead = "ahead",
        Asap = "asap",
    }
}

platform::text_enum! {
    /// A step of the workflow.
    pub enum Action {
        Submit = "submit",
        Approve = "approve",
        Reject = "reject",
        Pause = "pause",
        Resume = "resume",
        Archive = "archive",
    }
}

impl CampaignStatus {
    /// Approved to spend: changes to what spends need approval again.
    pub fn is_cleared_to_spend(self) -> bool {
        matches!(
            self,
            CampaignStatus::Approved | CampaignStatus::Active | CampaignStatus::Paused
        )
    }

    /// Over: nothing about it changes any more.
    pub fn is_closed(self) -> bool {
        matches!(self, CampaignStatus::Completed | CampaignStatus::Archived)
    }

    /// The actions allowed from this status.
    pub fn allowed_actions(self) -> Vec<Action> {
        Action::ALL
            .iter()
            .copied()
            .filter(|a| a.from().contains(&self))
            .collect()
    }
}

impl Action {
    /// The statuses this action may start from.
    pub fn from(self) -> &'static [CampaignStatus] {
        use CampaignStatus::*;
        match self {
            Action::Submit => &[Draft],
            Action::Approve | Action::Reject => &[PendingApproval],
            Action::Pause => &[Approved, Active],
            Action::Resume => &[Paused],
            Action::Archive => &[Draft, Approved, Paused, Completed],
        }
    }

    /// The status it leads to.
    pub fn to(self) -> CampaignStatus {
        match self {
            Action::Submit => CampaignStatus::PendingApproval,
            Action::Approve => CampaignStatus::Approved,
            Action::Reject => CampaignStatus::Draft,
            Action::Pause => CampaignStatus::Paused,
            Action::Resume => CampaignStatus::Active,
            Action::Archive => CampaignStatus::Archived,
        }
    }

    /// Who may take it: approving and rejecting is the checker's part.
    pub fn permission(self) -> Permission {
        match self {
            Action::Approve | Action::Reject => Permission::CampaignsApprove,
            _ => Permission::CampaignsWrite,
        }
    }

    /// The domain event announcing it.
    pub fn event(self) -> &'static str {
        match self {
            Action::Submit => "campaign.submitted",
            Action::Approve => "campaign.approved",
            Action::Reject => "campaign.rejected",
            Action::Pause => "campaign.paused",
            Action::Resume => "campaign.resumed",
            Action::Archive => "campaign.archived",
        }
    }
}

/// Why a workflow step is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Not from this status; the allowed actions are named.
    InvalidTransition {
        action: Action,
        status: CampaignStatus,
        allowed: Vec<Action>,
    },
    /// The maker may not check their own submission.
    OwnSubmission,
    /// Only a person approves: not a key that acts for no user.
    NoPerson,
    /// Rejecting needs a reason.
    ReasonRequired,
}

/// Check a workflow step: `submitted_by` is who submitted the current
/// version, `me` who acts.
pub fn check_transition(
    status: CampaignStatus,
    action: Action,
    submitted_by: Option<&str>,
    me: &str,
) -> Result<CampaignStatus, Refused> {
    if !action.from().contains(&status) {
        return Err(Refused::InvalidTransition {
            action,
            status,
            allowed: status.allowed_actions(),
        });
    }
    if action == Action::Approve && submitted_by == Some(me) {
        return Err(Refused::OwnSubmission);
    }
    Ok(action.to())
}

/// A campaign's flight: the days it runs, both included.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Flight {
    pub start: NaiveDate,
    /// After `start`; within the insertion order's dates.
    pub end: NaiveDate,
}

/// What a campaign must fit: its insertion order's budget and dates.
#[derive(Debug, Clone)]
pub struct IoTerms {
    pub budget_micros: i64,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
}

/// The flight inside the IO's dates, and the budget within what is left of
/// the IO's after its other campaigns' (`committed`).
pub fn check_against_io(
    io: &IoTerms,
    flight: &Flight,
    budget: Option<i64>,
    committed: i64,
    errors: &mut Vec<FieldError>,
) {
    if flight.end <= flight.start {
        errors.push(FieldError::new(
            "flight.end",
            "before_start",
            "must be after flight.start",
        ));
    }
    if flight.start < io.start_date || flight.end > io.end_date {
        errors.push(FieldError::new(
            "flight",
            "outside_insertion_order",
            format!(
                "must lie within the insertion order's dates ({} to {})",
                io.start_date, io.end_date
            ),
        ));
    }
    if let Some(b) = budget
        && committed
            .checked_add(b)
            .is_none_or(|total| total > io.budget_micros)
    {
        errors.push(FieldError::new(
            "budget.amount",
            "exceeds_insertion_order",
            format!(
                "only {} of the insertion order's {} is left",
                format(io.budget_micros - committed),
                format(io.budget_micros)
            ),
        ));
    }
}

/// A campaign budget may not go below what its ad groups already hold.
pub fn check_against_ad_groups(budget: i64, ad_groups: i64, errors: &mut Vec<FieldError>) {
    if budget < ad_groups {
        errors.push(FieldError::new(
            "budget.amount",
            "below_ad_groups",
            format!("its ad groups already hold {}", format(ad_groups)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn status() -> impl Strategy<Value = CampaignStatus> {
        proptest::sample::select(CampaignStatus::ALL)
    }

    fn action() -> impl Strategy<Value = Action> {
        proptest::sample::select(Action::ALL)
    }

    #[test]
    fn the_transition_table() {
        use Action::*;
        use CampaignStatus::*;
        assert_eq!(Draft.allowed_actions(), [Submit, Archive]);
        assert_eq!(PendingApproval.allowed_actions(), [Approve, Reject]);
        assert_eq!(Approved.allowed_actions(), [Pause, Archive]);
        assert_eq!(Active.allowed_actions(), [Pause]);
        assert_eq!(Paused.allowed_actions(), [Resume, Archive]);
        assert_eq!(Completed.allowed_actions(), [Archive]);
        assert!(Archived.allowed_actions().is_empty());
    }

    #[test]
    fn the_maker_cannot_check() {
        assert_eq!(
            check_transition(
                CampaignStatus::PendingApproval,
                Action::Approve,
                Some("user:a"),
                "user:a"
            ),
            Err(Refused::OwnSubmission)
        );
        assert_eq!(
            check_transition(
                CampaignStatus::PendingApproval,
                Action::Approve,
                Some("user:a"),
                "user:b"
            ),
            Ok(CampaignStatus::Approved)
        );
    }

    proptest! {
        #[test]
        fn a_step_is_allowed_exactly_from_its_statuses(s in status(), a in action()) {
            let result = check_transition(s, a, None, "user:x");
            prop_assert_eq!(result.is_ok(), a.from().contains(&s));
            if let Ok(to) = result {
                prop_assert_eq!(to, a.to());
                // Nothing leaves `archived`, and nothing is approved but by approving.
                prop_assert_ne!(s, CampaignStatus::Archived);
                if to == CampaignStatus::Approved {
                    prop_assert_eq!(a, Action::Approve);
                }
            } else if let Err(Refused::InvalidTransition { allowed, .. }) = result {
                prop_assert!(!allowed.contains(&a));
                prop_assert_eq!(allowed, s.allowed_actions());
            }
        }

        #[test]
        fn an_accepted_budget_never_overdraws_the_insertion_order(
            // Over the whole range (two 5e18-micro campaigns under a 9e18 IO
            // once fitted, by wrapping): the sum is never taken unchecked.
            io_budget in prop_oneof![1i64..1_000_000_000_000, 1i64..=i64::MAX],
            committed in prop_oneof![0i64..1_000_000_000_000, 0i64..=i64::MAX],
            budget in prop_oneof![1i64..1_000_000_000_000, 1i64..=i64::MAX],
        ) {
            let io = IoTerms {
                budget_micros: io_budget,
                start_date: NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
                end_date: NaiveDate::from_ymd_opt(2027, 12, 31).unwrap(),
            };
            let flight = Flight { start: io.start_date, end: io.end_date };
            let mut errors = Vec::new();
            check_against_io(&io, &flight, Some(budget), committed, &mut errors);
            let fits = committed as i128 + budget as i128 <= io_budget as i128;
            prop_assert_eq!(errors.is_empty(), fits);
        }
    }
}
