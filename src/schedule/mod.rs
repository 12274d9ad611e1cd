//! What happens to a contact after an attempt: its next state and, for a retry, when it is due.
//! Pure functions of the attempt result and time, so they are tested without a database.
//! Calling windows (`window`) and cron rounds build on this module.

pub mod gate;
pub mod holidays;
pub mod regions;
pub mod rounds;
pub mod state;
pub mod window;
pub mod zones;

use std::time::Duration;

pub use state::{ContactState, Outcome};

/// How an attempt ended, from the provider's point of view (apivoice.md section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    /// The callee answered; the flow outcome decides the contact's state.
    Answered,
    Busy,
    NoAnswer,
    /// `CHANUNAVAIL`: the number does not exist or the phone is off.
    Unreachable,
    /// `CONGESTION`, `UNKNOW`: network failure.
    Congestion,
    /// The provider refused this request for good (103, 406).
    Failed,
    /// Launched, but neither a control request nor a report line ever told how it ended.
    Lost,
}

impl AttemptResult {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptResult::Answered => "answered",
            AttemptResult::Busy => "busy",
            AttemptResult::NoAnswer => "no_answer",
            AttemptResult::Unreachable => "unreachable",
            AttemptResult::Congestion => "congestion",
            AttemptResult::Failed => "failed",
            AttemptResult::Lost => "lost",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "answered" => AttemptResult::Answered,
            "busy" => AttemptResult::Busy,
            "no_answer" => AttemptResult::NoAnswer,
            "unreachable" => AttemptResult::Unreachable,
            "congestion" => AttemptResult::Congestion,
            "failed" => AttemptResult::Failed,
            "lost" => AttemptResult::Lost,
            _ => return None,
        })
    }

    /// Maps a provider call status (`statuscall` or a report line's `status`, any case).
    /// `answered` tells whether the call had been answered (a start request was seen, or
    /// answered seconds are known), which turns a `CANCEL` into the callee hanging up.
    pub fn from_provider(status: &str, answered: bool) -> Option<Self> {
        Some(match status.trim().to_ascii_uppercase().as_str() {
            "ANSWER" | "ANSWERED" => AttemptResult::Answered,
            "BUSY" => AttemptResult::Busy,
            "NOANSWER" | "NO_ANSWER" => AttemptResult::NoAnswer,
            "CHANUNAVAIL" => AttemptResult::Unreachable,
            "CONGESTION" | "UNKNOW" | "UNKNOWN" | "FAILED" => AttemptResult::Congestion,
            "CANCEL" | "HANGUP" => {
                if answered {
                    AttemptResult::Answered
                } else {
                    AttemptResult::NoAnswer
                }
            }
            _ => return None,
        })
    }
}

/// Retry delays per attempt result (`retry = { busy = "10m", … }`).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryDelays {
    pub busy: Duration,
    pub no_answer: Duration,
    pub failed: Duration,
    pub unreachable: Duration,
}

impl Default for RetryDelays {
    fn default() -> Self {
        Self {
            busy: Duration::from_secs(600),
            no_answer: Duration::from_secs(3600),
            failed: Duration::from_secs(1800),
            unreachable: Duration::from_secs(3600),
        }
    }
}

/// The retry policy of a campaign.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// One cap across all outcomes.
    pub max_attempts: u32,
    pub delays: RetryDelays,
    /// No attempt after this instant (ms): the campaign's end.
    pub end_at: Option<i64>,
    /// The state of an answered call whose flow reached no outcome: one of the kind's own
    /// outcomes (`Kind::answered_without_outcome`).
    pub answered_without_outcome: ContactState,
}

/// How many times a repeated outcome can double its retry delay (×2, ×4, ×8).
const MAX_GROWTH_STEPS: u32 = 3;

/// What the contact becomes after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextState {
    pub state: ContactState,
    /// Due time (ms) of the next attempt when `state` is `scheduled`.
    pub next_at: Option<i64>,
}

/// What is known about a contact when one of its attempts ends.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptFacts {
    /// Attempts placed so far, this one included.
    pub attempts: u32,
    pub result: AttemptResult,
    /// The result of the attempt before this one.
    pub previous: Option<AttemptResult>,
    /// How many attempts in a row (this one included) ended with this same result.
    pub streak: u32,
    /// The flow outcome of an answered call.
    pub outcome: Option<ContactState>,
    /// The contact's own deadline (ms), e.g. its appointment.
    pub deadline: Option<i64>,
}

/// Decides a contact's state after an attempt ended.
///
/// The outcome of an answered call comes from its flow; an answered call that reached no outcome
/// takes the kind's `answered_without_outcome` (`no_response` for reminders and announcements;
/// there is no answering-machine detection). A retry waits the delay of its
/// result, doubled each time the same result repeats (up to ×8); `max_attempts` caps all results
/// together; a retry that would fall after a deadline ends the contact as `expired` instead.
pub fn after_attempt(policy: &RetryPolicy, facts: &AttemptFacts, now_ms: i64) -> NextState {
    let done = |state: ContactState| NextState {
        state,
        next_at: None,
    };
    let retry = |delay: std::time::Duration, final_state: ContactState| {
        if facts.attempts >= policy.max_attempts {
            return done(final_state);
        }
        let growth = 1u32 << facts.streak.saturating_sub(1).min(MAX_GROWTH_STEPS);
        let at = now_ms + (delay.as_millis() as i64).saturating_mul(growth as i64);
        let deadline = [policy.end_at, facts.deadline].into_iter().flatten().min();
        match deadline {
            Some(d) if at >= d => done(ContactState::Expired),
            _ => NextState {
                state: ContactState::Scheduled,
                next_at: Some(at),
            },
        }
    };
    match facts.result {
        AttemptResult::Answered => done(facts.outcome.unwrap_or(policy.answered_without_outcome)),
        AttemptResult::Failed => done(ContactState::Failed),
        AttemptResult::Busy => retry(policy.delays.busy, ContactState::Unreachable),
        AttemptResult::NoAnswer | AttemptResult::Lost => {
            retry(policy.delays.no_answer, ContactState::Unreachable)
        }
        AttemptResult::Congestion => retry(policy.delays.failed, ContactState::Unreachable),
        // CHANUNAVAIL: once more, then the number is taken as invalid.
        AttemptResult::Unreachable => {
            if facts.previous == Some(AttemptResult::Unreachable) {
                done(ContactState::InvalidNumber)
            } else {
                retry(policy.delays.unreachable, ContactState::InvalidNumber)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts: max,
            delays: RetryDelays::default(),
            end_at: None,
            answered_without_outcome: ContactState::NoResponse,
        }
    }

    fn facts(attempts: u32, result: AttemptResult) -> AttemptFacts {
        AttemptFacts {
            attempts,
            result,
            previous: None,
            streak: 1,
            outcome: None,
            deadline: None,
        }
    }

    #[test]
    fn busy_retries_until_attempts_are_spent() {
        let s = after_attempt(&policy(3), &facts(1, AttemptResult::Busy), 0);
        assert_eq!(s.state, "scheduled");
        assert_eq!(s.next_at, Some(600_000));
        let s = after_attempt(&policy(3), &facts(3, AttemptResult::Busy), 0);
        assert_eq!(s.state, "unreachable");
    }

    #[test]
    fn repeated_results_wait_longer_up_to_eight_times() {
        let p = policy(10);
        let at = |streak| {
            let f = AttemptFacts {
                streak,
                ..facts(1, AttemptResult::Busy)
            };
            after_attempt(&p, &f, 0).next_at.unwrap()
        };
        assert_eq!(
            [at(1), at(2), at(3), at(4), at(9)],
            [600_000, 1_200_000, 2_400_000, 4_800_000, 4_800_000]
        );
    }

    #[test]
    fn a_retry_never_lands_past_a_deadline() {
        let f = AttemptFacts {
            deadline: Some(500_000),
            ..facts(1, AttemptResult::Busy)
        };
        assert_eq!(after_attempt(&policy(3), &f, 0).state, "expired");
        let p = RetryPolicy {
            end_at: Some(599_999),
            ..policy(3)
        };
        assert_eq!(
            after_attempt(&p, &facts(1, AttemptResult::NoAnswer), 0).state,
            "expired"
        );
    }

    #[test]
    fn answered_without_an_outcome_takes_the_kind_own_outcome() {
        use crate::campaign::Kind;
        for (kind, state) in [
            (Kind::Reminder, "no_response"),
            (Kind::Announcement, "no_response"),
            (Kind::Promotion, "not_interested"),
            (Kind::Survey, "partial"),
            (Kind::Sales, "abandoned"),
        ] {
            let p = RetryPolicy {
                answered_without_outcome: kind.answered_without_outcome(),
                ..policy(3)
            };
            let s = after_attempt(&p, &facts(1, AttemptResult::Answered), 0).state;
            assert_eq!(s, state, "{kind:?}");
            assert!(kind.outcomes().contains(&s), "{kind:?}: {s}");
        }
    }

    #[test]
    fn answered_takes_the_flow_outcome_or_no_response() {
        let p = policy(3);
        let f = AttemptFacts {
            outcome: Some(ContactState::Delivered),
            ..facts(1, AttemptResult::Answered)
        };
        assert_eq!(after_attempt(&p, &f, 0).state, "delivered");
        assert_eq!(
            after_attempt(&p, &facts(1, AttemptResult::Answered), 0).state,
            "no_response"
        );
    }

    #[test]
    fn chanunavail_twice_is_an_invalid_number() {
        let p = policy(5);
        assert_eq!(
            after_attempt(&p, &facts(1, AttemptResult::Unreachable), 0).state,
            "scheduled"
        );
        let f = AttemptFacts {
            previous: Some(AttemptResult::Unreachable),
            streak: 2,
            ..facts(2, AttemptResult::Unreachable)
        };
        assert_eq!(after_attempt(&p, &f, 0).state, "invalid_number");
    }

    #[test]
    fn provider_statuses_map() {
        assert_eq!(
            AttemptResult::from_provider("noanswer", false),
            Some(AttemptResult::NoAnswer)
        );
        assert_eq!(
            AttemptResult::from_provider("CANCEL", true),
            Some(AttemptResult::Answered)
        );
        assert_eq!(
            AttemptResult::from_provider("CANCEL", false),
            Some(AttemptResult::NoAnswer)
        );
        assert_eq!(
            AttemptResult::from_provider("UNKNOW", false),
            Some(AttemptResult::Congestion)
        );
        assert_eq!(AttemptResult::from_provider("??", false), None);
    }
}
